#!/usr/bin/env python3
"""Compares `memtrace info --json RUNDIR` with simtrain truth files.

usage: compare_truth.py INFO.json TRUTH.json [TRUTH.json...]
Every rank of the truth must have a trace whose counts equal the truth's
exactly, and nothing may have been dropped.  Prints the differences."""
import json
import sys

KEYS = ["alloc", "free", "kernel", "nccl", "range", "region_register", "region_unregister",
        "heap_register", "heap_unregister", "host_alloc", "host_free", "marks", "ranges_pushed"]


def truth_ranks(paths):
    out = {}
    for p in paths:
        t = json.load(open(p))
        for r in t.get("ranks", [t]):
            out[r["rank"]] = r
    return out


def main():
    info = json.load(open(sys.argv[1]))
    ranks = info.get("ranks", [info])
    truth = truth_ranks(sys.argv[2:])
    bad = []
    got = {}
    for r in ranks:
        if r["rank"] in got:
            bad.append("two traces claim rank %d" % r["rank"])
        got[r["rank"]] = r
    if sorted(got) != sorted(truth):
        bad.append("ranks traced %s, truth has %s" % (sorted(got), sorted(truth)))
    for rank, t in sorted(truth.items()):
        r = got.get(rank)
        if not r:
            continue
        if r["dropped"]["total"] != 0:
            bad.append("rank %d dropped %d" % (rank, r["dropped"]["total"]))
        for k in KEYS:
            if k in t["events"] and r["events"].get(k) != t["events"][k]:
                bad.append("rank %d %s: trace %s truth %s" % (rank, k, r["events"].get(k), t["events"][k]))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
