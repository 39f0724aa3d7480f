"""Counts a Kineto file's events the way `memtrace import` maps them, with
Python's own json module: kernels, copies (memcpy + memset), runtime calls,
NCCL kernels, CUDA [memory] events.  Prints 'kernels copies runtime nccl mem'
(check_report_counts.py imports count())."""
import gzip, json, sys


def count(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        doc = json.load(f)
    ev = doc["traceEvents"] if isinstance(doc, dict) else doc
    c = dict(k=0, cp=0, rt=0, nccl=0, mem=0)
    for e in ev:
        if not isinstance(e, dict) or "ts" not in e or "name" not in e:
            continue
        cat = str(e.get("cat", "")).lower()
        if e.get("ph") == "X":
            if cat == "kernel":
                c["k"] += 1
                c["nccl"] += e["name"].startswith("nccl")
            elif cat in ("gpu_memcpy", "memcpy", "gpu_memset", "memset"):
                c["cp"] += 1
            elif cat in ("cuda_runtime", "runtime", "cuda_driver"):
                c["rt"] += 1
        elif e.get("ph") in ("i", "I") and e["name"] == "[memory]":
            a = e.get("args", {})
            c["mem"] += a.get("Device Type") == 1   # with or without Addr (2021 schema)
    return c


if __name__ == "__main__":
    c = count(sys.argv[1])
    print(c["k"], c["cp"], c["rt"], c["nccl"], c["mem"])
