"""Real PyTorch training on the simulated GPU (tests/sim/cuda: the stand-in
libcudart.so.13 and libcuda.so.1 under a CUDA 13 build of torch): the
caching allocator, expandable segments and the cudaMallocAsync backend run
for real; kernels run on nothing, so values are meaningless and no code
path may depend on them.  Layers avoid cuBLAS (not simulated): a dense layer
is a broadcast product and a sum.
train_simgpu.py OUT.json STEPS [OOM_BYTES]: writes torch's own numbers —
max_memory_allocated/reserved, the bytes of parameters, gradients and
optimizer state (all sized in multiples of 512 B, the allocator's block
granularity) — and, with OOM_BYTES, tries one allocation that size and
writes what torch said."""
import json, os, sys, warnings
import torch
import torch.nn as nn


class Dense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.w = nn.Parameter(torch.randn(i, o) * 0.02)
        self.b = nn.Parameter(torch.zeros(o))

    def forward(self, x):
        return (x.unsqueeze(-1) * self.w).sum(-2) + self.b


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.up = Dense(d, 4 * d)
        self.act = nn.GELU()
        self.down = Dense(4 * d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        return self.norm(x + self.down(self.act(self.up(x))))


out, steps = sys.argv[1], int(sys.argv[2])
oom_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 0
assert torch.cuda.is_available(), "no (simulated) CUDA device"
torch.manual_seed(0)
model = nn.Sequential(*[Block(128) for _ in range(3)]).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
# MT_TEST_USER_HISTORY=N: the program keeps its own allocator history (CUDA
# already initialised), a ring of N entries: another user of the ring
# memtrace reads
if os.environ.get("MT_TEST_USER_HISTORY"):
    torch.cuda.memory._record_memory_history(max_entries=int(os.environ["MT_TEST_USER_HISTORY"]))
# MT_TEST_USER_HISTORY_C=N: the same through torch's C binding (as a C++
# extension would: nothing in Python sees it); torch >= 2.6's argument list
if os.environ.get("MT_TEST_USER_HISTORY_C"):
    torch._C._cuda_record_memory_history("all", None, "python", int(os.environ["MT_TEST_USER_HISTORY_C"]),
                                         False, False, False, [])
# MT_TEST_PROFILE=FILE.raw.json.gz: the steps under torch.profiler, its
# memory timeline (torch's own categories) exported to FILE
profile_to = os.environ.get("MT_TEST_PROFILE")
prof = None
if profile_to:
    from torch.profiler import ProfilerActivity, profile
    prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], profile_memory=True,
                   record_shapes=True, with_stack=True)
    prof.__enter__()
for _ in range(steps):
    x = torch.randn(4, 16, 128, device="cuda")
    model(x).square().mean().backward()
    opt.step()
    # gradients stay (every category is live at the peak), or with
    # MT_TEST_SET_TO_NONE=1 are freed and made again each step (torch's default)
    opt.zero_grad(set_to_none=os.environ.get("MT_TEST_SET_TO_NONE") == "1")
torch.cuda.synchronize()
if prof is not None:
    prof.__exit__(None, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # deprecated in favour of the snapshot, still torch's categories
        prof.export_memory_timeline(profile_to, device="cuda:0")
nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)
params = list(model.parameters())
res = {
    "device": torch.cuda.get_device_name(0),
    "backend": torch.cuda.memory.get_allocator_backend(),
    "max_memory_allocated": torch.cuda.max_memory_allocated(),
    "max_memory_reserved": torch.cuda.max_memory_reserved(),
    "parameter": nbytes(params),
    "gradient": nbytes(p.grad for p in params if p.grad is not None),
    "optimizer_state": nbytes(v for st in opt.state.values() for v in st.values()
                              if torch.is_tensor(v) and v.is_cuda and v.numel() > 1),
    "modules": ["model" + ("." + n if n else "") for n, _ in model.named_modules()],
    "nparams": len(params),
    "steps": steps,
}
if oom_bytes:
    try:
        torch.empty(oom_bytes, dtype=torch.uint8, device="cuda")
        res["oom"] = None
    except torch.OutOfMemoryError as e:
        res["oom"] = str(e).splitlines()[0]
    res["oom_bytes"] = oom_bytes
json.dump(res, open(out, "w"))
