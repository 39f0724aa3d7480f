"""A nanoGPT-style job (6 blocks of nn.Linear, nn.LayerNorm, causal
F.scaled_dot_product_attention, GELU MLP; AdamW; fp32) for comparing
memtrace's plans with PyTorch's own selective-activation-checkpointing
optimizer on the simulated GPU (test_sac.sh).

  train_sac.py OUT.json train [memtrace plan options]
      two training steps with the plan applied as PyTorch applies it:
      --checkpoint none|all|every:K|layers:A,Bs,... (N: torch.utils.checkpoint
      around block N; Ns: the same with a selective-checkpoint policy that
      saves the outputs of the operators with FLOPs), --micro-batches N
      (gradient accumulation).  Writes max_memory_allocated/reserved, or the
      OOM.  Exit 2 for an option it cannot apply.
  train_sac.py OUT.json sac CUT_BYTES
      torch.distributed._tools: MemTracker, RuntimeEstimator and SACEstimator
      (operator-level cost model: the device's data sheet) over one step,
      then sac_milp for its own no-checkpoint peak less CUT_BYTES (its
      memory model sees tensors only, not the allocator's cache nor library
      workspaces: asked for the same cut as memtrace, not the same budget).  Writes its decisions (module -> share of
      activation memory discarded), its recomputation time, and the forward
      time of the blocks (what checkpointing all of them recomputes)."""
import functools
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

VOCAB, CTX, D, LAYERS, HEADS, BATCH = 512, 256, 256, 6, 8, 8


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (y.view(b, t, HEADS, d // HEADS).transpose(1, 2) for y in self.qkv(x).split(d, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.attn = Attention()
        self.ln2 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(CTX, D)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, VOCAB, bias=False)
        self.ckpt = {}          # block index -> None (full) or a context_fn (selective)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for i, b in enumerate(self.blocks):
            if i in self.ckpt:
                kw = {"context_fn": self.ckpt[i]} if self.ckpt[i] else {}
                x = checkpoint(b, x, use_reentrant=False, **kw)
            else:
                x = b(x)
        return self.head(self.ln_f(x))


def save_flop_outputs():
    """The policy memtrace's "Ns" layers stand for: keep the outputs of the
    operators that have FLOPs (torch's own flop formulas), recompute the rest."""
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts
    from torch.utils.flop_counter import flop_registry

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if op.overloadpacket in flop_registry else CheckpointPolicy.PREFER_RECOMPUTE
    return functools.partial(create_selective_checkpoint_contexts, policy)


def apply_plan(model, argv):
    micro = 1
    i = 0
    while i < len(argv):
        k, v = argv[i], argv[i + 1] if i + 1 < len(argv) else ""
        i += 2
        if k == "--micro-batches":
            micro = int(v)
        elif k == "--checkpoint":
            if v == "all":
                model.ckpt = {j: None for j in range(LAYERS)}
            elif v.startswith("every:"):
                model.ckpt = {j: None for j in range(0, LAYERS, int(v[6:]))}
            elif v.startswith("layers:"):
                for s in v[7:].split(","):
                    model.ckpt[int(s.rstrip("s"))] = save_flop_outputs() if s.endswith("s") else None
            elif v != "none":
                return None
        else:
            return None
    return micro


def batch():
    ids = torch.randint(0, VOCAB, (BATCH, CTX + 1), device="cuda")
    return ids[:, :-1], ids[:, 1:]


def step(model, opt, micro):
    x, y = batch()
    for xs, ys in zip(x.chunk(micro), y.chunk(micro)):
        logits = model(xs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), ys.reshape(-1)) / micro
        loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def train(out, argv):
    torch.manual_seed(0)
    model = GPT().cuda()
    micro = apply_plan(model, argv)
    if micro is None:
        print("train_sac.py: cannot apply %s" % " ".join(argv), file=sys.stderr)
        sys.exit(2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    res = {"plan": " ".join(argv)}
    try:
        for _ in range(2):
            step(model, opt, micro)
        torch.cuda.synchronize()
        res.update(max_memory_allocated=torch.cuda.max_memory_allocated(),
                   max_memory_reserved=torch.cuda.max_memory_reserved(), oom=False)
    except torch.OutOfMemoryError as e:
        res.update(oom=True, error=str(e).splitlines()[0])
    json.dump(res, open(out, "w"))


def sac(out, budget):
    from torch.distributed._tools.ilp_utils import aggregate_stats, parse_module_info
    from torch.distributed._tools.mem_tracker import MemTracker
    from torch.distributed._tools.runtime_estimator import RuntimeEstimator
    from torch.distributed._tools.sac_estimator import SACEstimator
    from torch.distributed._tools.sac_ilp import sac_milp
    from torch._subclasses.fake_tensor import FakeTensorMode
    # The cost model reads the device's peak FLOP/s and DRAM bandwidth
    # through Triton, absent here: torch's own data sheet for the device
    # (torch._inductor.analysis.device_info) instead, in the unit the model
    # expects (PFLOP/s: it multiplies by 1e15)
    import torch.utils._runtime_estimation as est
    from torch._inductor.analysis import device_info
    name = torch.cuda.get_device_name(0)
    sheet = next(v for k, v in device_info._device_mapping.items() if name.startswith(k))
    est.get_device_tflops = lambda dtype: sheet.tops[dtype] / 1000.0
    est.get_gpu_dram_gbps = lambda: sheet.dram_bw_gbs
    with FakeTensorMode():   # the estimators' mode: shapes and devices, no data
        sac_fake(out, budget, aggregate_stats, parse_module_info, MemTracker, RuntimeEstimator, SACEstimator, sac_milp)


def sac_fake(out, budget, aggregate_stats, parse_module_info, MemTracker, RuntimeEstimator, SACEstimator, sac_milp):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step(model, opt, 1)   # the optimizer's states exist from here
    mt = MemTracker()
    mt.track_external(model, opt)
    with mt:
        step(model, opt, 1)
    rt = RuntimeEstimator()
    with rt("operator-level-cost-model"):
        step(model, opt, 1)
    se = SACEstimator()
    with se("operator-level-cost-model"):
        x, y = batch()
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
    loss.backward()
    info = aggregate_stats(model, mt, rt, se, torch.device("cuda:0"))
    g = parse_module_info(info)
    # its own peak without checkpointing (what its memory model sees: the
    # tensors, not the allocator's cache nor library workspaces), then the
    # same cut memtrace is asked for: `budget` is the bytes to save
    peak0 = max(v.get("Total", 0) for v in mt.get_tracker_snapshot("peak").values())
    dec, rec, peak = sac_milp(g, memory_budget=(peak0 - budget) / 2**30, world_size=1)
    blocks = ["GPT.blocks.%d" % i for i in range(LAYERS)]
    json.dump({"decisions": dec, "recomputation_ms": rec, "peak_bytes": peak, "peak0_bytes": peak0,
               "blocks_fw_ms": sum(rt.mod_runtimes[b]["fw"] for b in blocks if b in rt.mod_runtimes),
               "device": torch.cuda.get_device_name(0)}, open(out, "w"))


if __name__ == "__main__":
    if sys.argv[2] == "train":
        train(sys.argv[1], sys.argv[3:])
    else:
        sac(sys.argv[1], int(sys.argv[3]))
