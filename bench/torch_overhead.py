"""Step time of a PyTorch training loop, for bench/torch_overhead.sh:
torch_overhead.py STEPS DEVICE -> prints the median step time (ms) of the
steps after the first five.  The model is tests/python/train_simgpu.py's
(dense layers without cuBLAS, so that it also runs on the simulated GPU)."""
import os, statistics, sys, time
import torch
import torch.nn as nn

src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python", "train_simgpu.py")).read()
exec(src[src.index("class Dense"):src.index("out, steps =")])
steps, device = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
model = nn.Sequential(*[Block(128) for _ in range(3)]).to(device)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
times = []
for i in range(steps):
    t = time.perf_counter()
    model(torch.randn(4, 16, 128, device=device)).square().mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    sync()
    times.append(time.perf_counter() - t)
print("%.3f" % (statistics.median(times[5:]) * 1000))
