"""Step times of a nanoGPT-style training loop (tests/python/train_nanogpt.py's
GPT: nn.Embedding, nn.Linear, nn.LayerNorm, causal SDPA, AdamW), for
bench/torch_steps.sh:
  torch_steps.py STEPS small|large [history]
prints "MEDIAN_MS MAX_OVER_MEDIAN CPU_MS" of the steps after the first five
(CPU_MS: the process's CPU time, every thread, per step: less sensitive to
other load on the machine than the wall-clock step).
history: torch's own torch.cuda.memory._record_memory_history() is on (the
cost memtrace is compared with)."""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from train_nanogpt import GPT  # noqa: E402

SIZES = {"small": dict(d=128, layers=2, heads=4), "large": dict(d=256, layers=6, heads=8)}
steps, size = int(sys.argv[1]), sys.argv[2]
history = len(sys.argv) > 3 and sys.argv[3] == "history"
torch.manual_seed(0)
model = GPT(**SIZES[size]).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
if history:
    torch.cuda.memory._record_memory_history(max_entries=100000)
times = []
for i in range(steps):
    if i == 5:
        cpu0 = time.process_time()
    t = time.perf_counter()
    x = torch.randint(0, 512, (4, 128), device="cuda")
    y = torch.randint(0, 512, (4, 128), device="cuda")
    loss = F.cross_entropy(model(x).view(-1, 512), y.view(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    torch.cuda.synchronize()
    times.append(time.perf_counter() - t)
med = statistics.median(times[5:])
cpu = (time.process_time() - cpu0) / (steps - 5)
print("%.3f %.2f %.3f" % (med * 1000, max(times[5:]) / med, cpu * 1000))
