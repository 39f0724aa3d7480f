"""A small model trained on CPU for a few steps (run under memtrace record).
train_small.py EXPECTED.json STEPS: writes what the trace must hold,
computed from the model definition: the module paths (named_modules,
prefixed with the root name "model"), the checkpointed block, the steps."""
import json, sys
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attn = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        return x + self.mlp(self.attn(x))


class Tiny(nn.Module):
    def __init__(self, v=16, d=8, n=3):
        super().__init__()
        self.emb = nn.Embedding(v, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.head = nn.Linear(d, v)

    def forward(self, ids):
        x = self.emb(ids)
        for i, b in enumerate(self.blocks):
            x = checkpoint(b, x) if i == 1 else b(x)
        return self.head(x)


out, steps = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
m = Tiny()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
for _ in range(steps):
    ids = torch.randint(0, 16, (4, 6))
    loss = nn.functional.cross_entropy(m(ids).view(-1, 16), ids.view(-1))
    loss.backward()
    opt.step()
    opt.zero_grad()
# modules that are called (a ModuleList is only a container)
paths = ["model" + ("." + n if n else "") for n, mod in m.named_modules() if not isinstance(mod, nn.ModuleList)]
json.dump({"forward": [p + ".forward" for p in paths],
           # every module's output needs a gradient here, so each has a backward
           # range; the checkpointed block runs its forward without grad and
           # again inside the backward (recompute), where its gradients are
           # part of the enclosing model.backward
           "backward": [p + ".backward" for p in paths if not p.startswith("model.blocks.1")],
"recompute": ["model.blocks.1" + s + ".recompute" for s in ("", ".attn", ".mlp", ".mlp.0", ".mlp.1", ".mlp.2")],
           "steps": steps,
           "memtrace_loaded": "memtrace" in sys.modules,
           "finder_gone": not any(type(f).__name__ == "_MemtraceTorchFinder" for f in sys.meta_path)}, open(out, "w"))
