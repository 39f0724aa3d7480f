"""DDP or FSDP2 on CPU (gloo), started by torchrun under memtrace record.
train_dist.py EXPECTED_PREFIX STEPS ddp|fsdp2: each worker writes
EXPECTED_PREFIX.<rank> with what its trace must hold, from torch's own view:
its rank, the world size, its pid, the module paths of the model as called
(named_modules of the DDP object or of the fully_shard-ed model, prefixed
"model"), the steps."""
import json, os, sys
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(rank)
m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
if sys.argv[3] == "fsdp2":
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    mesh = init_device_mesh("cpu", (world,))
    for layer in m:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(m, mesh=mesh)
else:
    m = DDP(m)
opt = torch.optim.AdamW(m.parameters(), lr=0.1)
steps = int(sys.argv[2])
for _ in range(steps):
    m(torch.randn(5, 8)).sum().backward()
    opt.step()
    opt.zero_grad()
paths = ["model" + ("." + n if n else "") for n, _ in m.named_modules()]
json.dump({"rank": rank, "world": world, "pid": os.getpid(), "steps": steps,
           "forward": [p + ".forward" for p in paths], "backward": [p + ".backward" for p in paths]},
          open("%s.%d" % (sys.argv[1], rank), "w"))
dist.destroy_process_group()
