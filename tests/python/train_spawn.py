"""torch.multiprocessing.spawn job on CPU (gloo), as people start one
without a launcher: no RANK or WORLD_SIZE in any environment, the rank is
the spawn index given to init_process_group.
train_spawn.py EXPECTED_PREFIX NPROCS: each worker writes
EXPECTED_PREFIX.<rank> with torch's own view (rank, world size, pid)."""
import json, os, sys
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn


def worker(i, n, prefix, store):
    assert "RANK" not in os.environ and "WORLD_SIZE" not in os.environ
    dist.init_process_group("gloo", init_method="file://" + store, rank=i, world_size=n)
    m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    for _ in range(2):
        m(torch.randn(5, 8)).sum().backward()
    t = torch.ones(1)
    dist.all_reduce(t)
    json.dump({"rank": dist.get_rank(), "world": dist.get_world_size(), "pid": os.getpid(),
               "sum": int(t.item())}, open("%s.%d" % (prefix, i), "w"))
    dist.destroy_process_group()


if __name__ == "__main__":
    prefix, n = sys.argv[1], int(sys.argv[2])
    mp.spawn(worker, args=(n, prefix, prefix + ".store"), nprocs=n, join=True)
