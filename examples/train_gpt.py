"""A small GPT-2-like training script for validating memtrace on a real GPU
(and running anywhere: on CPU it uses a tiny config).

  memtrace record -o gpt.memtrace -- python3 examples/train_gpt.py [--steps 4] [--size small|tiny]
  memtrace report gpt.memtrace

Prints torch.cuda.max_memory_allocated / max_memory_reserved at the end, the
figures memtrace's peak is compared with (docs/validation/pytorch-gpu.sh)."""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, device=x.device, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.wte.weight   # tied, as GPT-2

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


CONFIGS = {   # vocab, ctx, d, layers, heads, batch
    "small": (50257, 1024, 768, 12, 12, 8),    # GPT-2 small
    "tiny": (512, 64, 64, 2, 4, 4),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--size", choices=sorted(CONFIGS), default=None)
    ap.add_argument("--seq", type=int, default=None, help="sequence length (default: the context)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    vocab, ctx, d, layers, heads, batch = CONFIGS[args.size or ("small" if cuda else "tiny")]
    seq = args.seq or ctx
    torch.manual_seed(0)
    model = GPT(vocab, ctx, d, layers, heads).to(dev)
    if args.compile:
        model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    t0 = time.time()
    for step in range(args.steps):
        ids = torch.randint(0, vocab, (batch, seq + 1), device=dev)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        print("step %d loss %.4f" % (step, loss.item()), flush=True)
    if cuda:
        torch.cuda.synchronize()
        print("max_memory_allocated %d" % torch.cuda.max_memory_allocated())
        print("max_memory_reserved %d" % torch.cuda.max_memory_reserved())
    print("params %d, %.1f s" % (sum(p.numel() for p in model.parameters()), time.time() - t0))


if __name__ == "__main__":
    main()
