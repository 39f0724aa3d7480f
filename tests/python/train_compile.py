"""A torch.compile-d model trained on CPU under memtrace record (inductor
compiles C++ in g++ subprocesses while the first step runs).
train_compile.py EXPECTED.json STEPS: writes the losses' finiteness and the
steps; the compiled module is the root "model" (inside the compiled graph
there are no module calls at run time)."""
import json, math, sys
import torch
import torch.nn as nn

steps = int(sys.argv[2])
torch.manual_seed(0)
m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
cm = torch.compile(m)
opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
losses = []
for _ in range(steps):
    loss = cm(torch.randn(5, 8)).square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    losses.append(loss.item())
json.dump({"steps": steps, "finite": all(math.isfinite(x) for x in losses)}, open(sys.argv[1], "w"))
