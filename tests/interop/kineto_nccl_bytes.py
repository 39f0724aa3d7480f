#!/usr/bin/env python3
"""NCCL kernels' bytes in a Kineto trace, computed from the JSON alone:
elements x dtype size from the kernel's own args ("In msg nelems", "dtype"),
else from the innermost CPU op around its launch (same thread) that states
them: record_param_comms / nccl:* with "In msg nelems"/"dtype" or, under
record_shapes, the first input's "Input Dims"/"Input type".
Prints: kernels, kernels with a size, total bytes."""
import bisect
import gzip
import json
import math
import sys

SIZE = {"char": 1, "int8": 1, "byte": 1, "uint8": 1, "bool": 1, "int": 4, "int32": 4, "uint32": 4, "long": 8,
        "int64": 8, "uint64": 8, "half": 2, "float16": 2, "float": 4, "float32": 4, "double": 8, "float64": 8,
        "bfloat16": 2}


def size(a):
    n, ty = a.get("In msg nelems"), a.get("dtype")
    if n is None:
        dims, types = a.get("Input Dims") or [], a.get("Input type") or []
        if dims and isinstance(dims[0], list) and dims[0]:
            n = math.prod(dims[0])
        if ty is None and types:
            ty = types[0]
    return int(n or 0) * SIZE.get(str(ty).lower(), 0)


ev = json.load(gzip.open(sys.argv[1]))["traceEvents"]
launch = {e["args"]["correlation"]: e for e in ev if e.get("cat", "").lower() in ("cuda_runtime", "runtime", "cuda_driver")
          and "correlation" in (e.get("args") or {})}
ops = sorted((e["ts"], e["ts"] + e.get("dur", 0), e["tid"], size(e["args"])) for e in ev
             if e.get("ph") == "X" and e.get("cat", "").lower() in ("cpu_op", "operator")
             and (e["name"] == "record_param_comms" or e["name"].startswith("nccl:")) and size(e.get("args") or {}) > 0)
starts = [o[0] for o in ops]
n = sized = total = 0
for k in ev:
    if k.get("cat", "").lower() != "kernel" or not k["name"].startswith("nccl"):
        continue
    n += 1
    b = size(k.get("args") or {})
    r = launch.get((k.get("args") or {}).get("correlation"))
    if b == 0 and r:
        inner = [o for o in ops[:bisect.bisect_right(starts, r["ts"])] if o[2] == r["tid"] and o[1] >= r["ts"]]
        b = max(inner)[3] if inner else 0
    sized += b > 0
    total += b
print(n, sized, total)
