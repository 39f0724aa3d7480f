"""Activation checkpointing in real PyTorch on the simulated GPU, to check
memtrace replay's prediction against what torch measures.  A deep stack of
blocks whose saved activations dominate memory (elementwise layers and
LayerNorm, no cuBLAS).
ckpt_simgpu.py OUT.json STEPS [none|all|every:K|layers:A,Bs,...]: the blocks named
(their index in model.blocks, as memtrace numbers layers "model.blocks.N") run under
torch.utils.checkpoint ("Ns": with a selective-checkpoint policy that saves
the outputs of the operators with FLOPs, as memtrace's plans mean it); writes torch.cuda.max_memory_allocated/reserved."""
import json, sys
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Scale(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.b = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return x * self.w + self.b


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.a = Scale(d)
        self.act = nn.GELU()
        self.b = Scale(d)

    def forward(self, x):
        return x + self.b(self.act(self.a(self.norm(x))))


class Model(nn.Module):
    """Checkpointing inside the model's forward, as models do it."""

    def __init__(self, d, n, ck):
        super().__init__()
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.ck = ck

    def forward(self, x):
        for i, blk in enumerate(self.blocks):
            if i in self.ck:
                kw = {"context_fn": save_flop_outputs()} if self.ck[i] else {}
                x = checkpoint(blk, x, use_reentrant=False, **kw)
            else:
                x = blk(x)
        return x


def save_flop_outputs():
    import functools
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts
    from torch.utils.flop_counter import flop_registry

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if op.overloadpacket in flop_registry else CheckpointPolicy.PREFER_RECOMPUTE
    return functools.partial(create_selective_checkpoint_contexts, policy)


out, steps = sys.argv[1], int(sys.argv[2])
plan = sys.argv[3] if len(sys.argv) > 3 else "none"
assert torch.cuda.is_available(), "no (simulated) CUDA device"
n = 8
ck = {i: False for i in range(n)} if plan == "all" else \
    {i: False for i in range(0, n, int(plan[6:]))} if plan.startswith("every:") else \
    {int(i.rstrip("s")): i.endswith("s") for i in plan[len("layers:"):].split(",")} if plan.startswith("layers:") else {}
torch.manual_seed(0)
model = Model(256, n, ck).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
forward = model
for _ in range(steps):
    forward(torch.randn(16, 128, 256, device="cuda")).square().mean().backward()
    opt.step()
    opt.zero_grad()
torch.cuda.synchronize()
json.dump({"plan": plan, "max_memory_allocated": torch.cuda.max_memory_allocated(),
           "max_memory_reserved": torch.cuda.max_memory_reserved()}, open(out, "w"))
