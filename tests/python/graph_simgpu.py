"""CUDA graphs on the simulated GPU (run under memtrace record): a forward
pass captured with torch.cuda.graph, replayed inside an NVTX range
"replays".  graph_simgpu.py OUT.json: writes torch's own view — the
segments of its private pools (address, size, pool id) and its count of
allocations before and after the replays."""
import json, sys
import torch
import torch.nn as nn

assert torch.cuda.is_available(), "no (simulated) CUDA device"
model = nn.Sequential(nn.GELU(), nn.LayerNorm(256), nn.GELU()).cuda()
x = torch.randn(64, 256, device="cuda")
side = torch.cuda.Stream()
side.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(side):      # warm-up off the default stream, as torch's docs say
    for _ in range(2):
        model(x)
torch.cuda.current_stream().wait_stream(side)
g = torch.cuda.CUDAGraph()
with torch.cuda.graph(g):
    y = model(x)
torch.cuda.synchronize()
count = lambda: torch.cuda.memory_stats()["allocation.all.allocated"]
before = count()
torch.cuda.nvtx.range_push("replays")
for _ in range(5):
    g.replay()
torch.cuda.synchronize()
torch.cuda.nvtx.range_pop()
after = count()
segs = torch.cuda.memory._snapshot()["segments"]
json.dump({"private": [[s["address"], s["total_size"], list(s["segment_pool_id"])] for s in segs if any(s["segment_pool_id"])],
           "allocations_in_replays": after - before}, open(sys.argv[1], "w"))
