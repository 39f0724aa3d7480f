"""A nanoGPT-style training job (nn.Linear, nn.LayerNorm, causal
F.scaled_dot_product_attention, AdamW) or a small conv net (nn.Conv2d,
nn.BatchNorm2d), in
fp32 or under bf16 autocast, for the simulated GPU (tests/sim: cuBLAS,
cuBLASLt and cuDNN stand-ins under a CUDA 13 build of torch) or a real one.
Kernels compute nothing on the simulated GPU: values are meaningless.

train_nanogpt.py OUT.json STEPS fp32|bf16 [gpt|conv]

Writes torch's own numbers (max_memory_allocated/reserved, the bytes of
parameters, gradients and optimizer state) and, where the simulated
libraries are loaded, what they report: the workspace buffers callers gave
cuBLAS (cublasSetWorkspace), cuBLASLt (cublasLtMatmul) and cuDNN
(cudnnBackendExecute), and the kernels each launched."""
import ctypes
import json
import os
import sys

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
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in self.qkv(x).split(d, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


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
    def __init__(self, vocab=512, ctx=128, d=128, layers=2, heads=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3, padding=1)
        self.n1 = nn.BatchNorm2d(32)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.n2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.n1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.n2(self.c2(x))), 2)
        return self.fc(x.flatten(1))


def sim_truth():
    """What the simulated libraries report, or None on real ones."""
    out = {}
    for lib, pre, n in (("libcublas.so.13", "mt_sim_cublas_user_workspaces", "cublas"),
                        ("libcublasLt.so.13", "mt_sim_cublaslt_workspaces", "cublaslt"),
                        ("libcudnn.so.9", "mt_sim_cudnn_workspaces", "cudnn")):
        try:
            h = ctypes.CDLL(lib, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
            f = getattr(h, pre)
        except (OSError, AttributeError):
            return None
        ptrs, sizes = (ctypes.c_ulonglong * 256)(), (ctypes.c_uint64 * 256)()
        k = min(f(ptrs, sizes, 256), 256)
        out[n + "_workspaces"] = [[ptrs[i], sizes[i]] for i in range(k)]
        cnt = getattr(h, {"cublas": "mt_sim_cublas_launch_count", "cublaslt": "mt_sim_cublaslt_launch_count",
                          "cudnn": "mt_sim_cudnn_launch_count"}[n])
        cnt.restype = ctypes.c_uint64
        out[n + "_launches"] = cnt()
    return out


def main():
    out, steps, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    kind = sys.argv[4] if len(sys.argv) > 4 else "gpt"
    assert torch.cuda.is_available(), "no (simulated) CUDA device"
    torch.manual_seed(0)
    model = (GPT() if kind == "gpt" else ConvNet()).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        if kind == "gpt":
            x = torch.randint(0, 512, (4, 128), device="cuda")
            y = torch.randint(0, 512, (4, 128), device="cuda")
        else:
            x = torch.randn(16, 3, 32, 32, device="cuda")
            y = torch.randint(0, 10, (16,), device="cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            logits = model(x)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)   # gradients stay: every category is live at the peak
    torch.cuda.synchronize()
    params = list(model.parameters())
    groups = {"parameter": params, "gradient": [p.grad for p in params if p.grad is not None],
              "optimizer_state": [v for st in opt.state.values() for v in st.values()
                                  if torch.is_tensor(v) and v.is_cuda and v.numel() > 1]}
    res = {
        "device": torch.cuda.get_device_name(0),
        "max_memory_allocated": torch.cuda.max_memory_allocated(),
        "max_memory_reserved": torch.cuda.max_memory_reserved(),
        "steps": steps,
        "sim": sim_truth(),
    }
    for c, ts in groups.items():
        res[c] = sum(t.numel() * t.element_size() for t in ts)
        # as the caching allocator holds them: each in a block rounded up to 512 B
        res[c + "_blocks"] = sum(-(-t.numel() * t.element_size() // 512) * 512 for t in ts)
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
