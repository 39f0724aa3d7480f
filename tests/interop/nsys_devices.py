#!/usr/bin/env python3
"""The GPUs of each GPU process of an Nsight Systems export, read with
sqlite3 independently of the importer: one line per process (pid order),
"id|name|totalMemory" per device the process's kernels, copies and memsets
ran on, from TARGET_INFO_GPU (an export without it: "id|cuda|0")."""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
acts = [t for t in ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET")
        if t in tables]
pids = sorted({r[0] >> 24 & 0xffffff for r in db.execute("SELECT globalPid FROM CUPTI_ACTIVITY_KIND_KERNEL")})
gpus = {}
if "TARGET_INFO_GPU" in tables:
    gpus = {r[0]: f"{r[0]}|{r[1]}|{r[2]}" for r in db.execute("SELECT id, name, totalMemory FROM TARGET_INFO_GPU")}
for pid in pids:
    used = set()
    for t in acts:
        used |= {r[0] for r in db.execute(f"SELECT deviceId FROM {t} WHERE (globalPid >> 24) & 16777215 = ?", (pid,))}
    print(" ".join(gpus.get(d, f"{d}|cuda|0") for d in sorted(used)))
