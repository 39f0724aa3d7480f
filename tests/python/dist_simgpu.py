"""A nanoGPT-style job for torchrun on simulated GPUs (memtrace record
--simulate-gpus N): token and position embeddings, pre-norm blocks with
causal attention (F.scaled_dot_product_attention) and an MLP, AdamW, under
DDP or FSDP2 (fully_shard) with backend nccl.  Kernels compute nothing on
the simulated GPU, so values are garbage; no code path may depend on them.

Dense layers and attention are broadcast products and sums (MT_TEST_LINEAR=1:
nn.Linear and F.scaled_dot_product_attention, which need cuBLAS/cuDNN).

dist_simgpu.py OUTDIR ddp|fsdp STEPS [NPROCS [PORT]]: under torchrun (RANK
set); under mpirun (Open MPI's OMPI_COMM_WORLD_* only: the script takes its
rank, world size and local rank from them and sets MASTER_ADDR/MASTER_PORT
itself, as users do -- RANK is never set); or with NPROCS through
torch.multiprocessing.spawn.  Each rank writes
OUTDIR/rank<R>.json with torch's own numbers (max_memory_allocated/reserved,
the device's properties) and what the simulated NCCL says it allocated."""
import ctypes, json, os, sys
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

LINEAR = os.environ.get("MT_TEST_LINEAR") == "1"


class Dense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.w = nn.Parameter(torch.randn(i, o) * 0.02)
        self.b = nn.Parameter(torch.zeros(o))

    def forward(self, x):
        return (x.unsqueeze(-1) * self.w).sum(-2) + self.b


def dense(i, o):
    return nn.Linear(i, o) if LINEAR else Dense(i, o)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = dense(d, 3 * d)
        self.proj = dense(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.up = dense(d, 4 * d)
        self.down = dense(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        if LINEAR:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # causal attention by broadcast products (no batched GEMM)
            att = (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1) / (d // self.heads) ** 0.5
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att.unsqueeze(-1) * v.unsqueeze(-3)).sum(-2)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, d, heads, layers, ctx):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = dense(d, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


def main(rank, world, outdir, mode, steps, local=None):
    if local is None:
        os.environ.setdefault("RANK", str(rank))
        os.environ.setdefault("WORLD_SIZE", str(world))
        local = int(os.environ.get("LOCAL_RANK", rank))
    torch.cuda.set_device(local)
    dev = torch.device("cuda", local)
    dist.init_process_group("nccl", device_id=dev, rank=rank, world_size=world)
    torch.manual_seed(0)
    vocab, d, heads, layers, ctx, batch = 256, 64, 4, 2, 32, 4
    model = GPT(vocab, d, heads, layers, ctx).to(dev)
    if mode == "ddp":
        model = nn.parallel.DistributedDataParallel(model, device_ids=[local])
    elif mode == "fsdp":
        from torch.distributed.fsdp import fully_shard
        for blk in model.blocks:
            fully_shard(blk)
        fully_shard(model)
    else:
        sys.exit("mode must be ddp or fsdp")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, vocab, (batch, ctx), device=dev)
        logits = model(idx)
        F.cross_entropy(logits.view(-1, vocab), idx.view(-1)).backward()
        opt.step()
        opt.zero_grad()
    torch.cuda.synchronize()
    dist.barrier()
    # the simulated NCCL's own account of its device buffers in this process
    sim = ctypes.CDLL("libnccl.so.2", mode=os.RTLD_NOLOAD)
    sim.mt_sim_nccl_process_buffer_bytes.restype = ctypes.c_size_t
    sim.mt_sim_nccl_process_buffer_peak.restype = ctypes.c_size_t
    sim.mt_sim_nccl_process_buffer_allocs.restype = ctypes.c_ulonglong
    props = torch.cuda.get_device_properties(dev)
    res = {
        "rank": rank, "world": world, "local_rank": local, "mode": mode,
        "device_count": torch.cuda.device_count(),
        "device_name": props.name, "sms": props.multi_processor_count,
        "cc": [props.major, props.minor], "total_memory": props.total_memory,
        "max_memory_allocated": torch.cuda.max_memory_allocated(dev),
        "max_memory_reserved": torch.cuda.max_memory_reserved(dev),
        "nccl_buffer_bytes_peak": sim.mt_sim_nccl_process_buffer_peak(),
        "nccl_buffer_bytes_live": sim.mt_sim_nccl_process_buffer_bytes(),
        "nccl_buffer_allocs": sim.mt_sim_nccl_process_buffer_allocs(),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "launcher_local_rank": os.environ.get("LOCAL_RANK", os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK")),
    }
    dist.destroy_process_group()
    json.dump(res, open(os.path.join(outdir, "rank%d.json" % rank), "w"))


if __name__ == "__main__":
    outdir, mode, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if "RANK" in os.environ:  # torchrun, mpirun with the env set
        main(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), outdir, mode, steps)
    elif "OMPI_COMM_WORLD_RANK" in os.environ:  # mpirun
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", sys.argv[4] if len(sys.argv) > 4 else "29534")
        main(int(os.environ["OMPI_COMM_WORLD_RANK"]), int(os.environ["OMPI_COMM_WORLD_SIZE"]), outdir, mode, steps,
             int(os.environ["OMPI_COMM_WORLD_LOCAL_RANK"]))
    else:  # dist_simgpu.py OUTDIR MODE STEPS NPROCS: torch.multiprocessing.spawn
        world = int(sys.argv[4])
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", sys.argv[5] if len(sys.argv) > 5 else "29533")
        import torch.multiprocessing as mp
        mp.spawn(main, args=(world, outdir, mode, steps), nprocs=world)
