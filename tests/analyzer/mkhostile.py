#!/usr/bin/env python3
"""Writes hostile variants of a good trace, one file per kind, for
tests/analyzer/test_damaged.sh:  mkhostile.py GOOD.mtrace OUTDIR

Every variant is the good trace with one thing a reader must not trust:
  ts-extreme      mem_events times near -5e18 and +5e18 ns (span overflow)
  ts-region       a region event at +4e18 ns
  range-te        a range that ends at 9e18 ns
  kernel-dur      a kernel launch call lasting -1e18 ns
  nccl-bytes      an all-reduce of 2^62 bytes
  size-huge       a tensor of 2^62 bytes
  addr-wrap       a device allocation whose extent wraps the address space
  label-dangling  a region label pointing at a string that is not there
  stack-dangling  allocations whose stack names a missing frame
  config-dangling a kernel launch whose configuration is not there
  start-huge      a process start time near INT64_MAX
  heap-size       an allocator heap of 2^63 - 1 bytes
  heap-wrap       an allocator heap whose extent wraps the address space
The SQL is the only thing changed: the file stays a well-formed SQLite
database, so only memtrace's own checks can refuse it."""
import os
import shutil
import sqlite3
import sys

VARIANTS = {
    "ts-extreme": ["UPDATE mem_events SET ts = -5000000000000000000 WHERE rowid = (SELECT min(rowid) FROM mem_events)",
                   "UPDATE mem_events SET ts = 5000000000000000000 WHERE rowid = (SELECT max(rowid) FROM mem_events)"],
    "ts-region": ["UPDATE region_events SET ts = 4000000000000000000 WHERE rowid = (SELECT min(rowid) FROM region_events)"],
    "range-te": ["UPDATE ranges SET te = 9000000000000000000 WHERE rowid = (SELECT min(rowid) FROM ranges)"],
    "kernel-dur": ["UPDATE kernel_launches SET dur = -1000000000000000000 "
                   "WHERE rowid = (SELECT min(rowid) FROM kernel_launches)"],
    "nccl-bytes": ["INSERT INTO nccl_calls (ts, dur, op, comm, count, dtype, bytes, peer, stream, thread, stack, "
                   "correlation) VALUES (50, 10, 1, 1, 1, 7, 4611686018427387904, -1, 0, 1, 0, 0)"],
    "size-huge": ["UPDATE region_events SET size = 4611686018427387904 WHERE rowid = (SELECT min(rowid) FROM region_events)"],
    "addr-wrap": ["UPDATE mem_events SET addr = -4096, size = 1048576 WHERE rowid = (SELECT min(rowid) FROM mem_events)"],
    "label-dangling": ["UPDATE region_events SET label_id = 987654321 "
                       "WHERE rowid = (SELECT min(rowid) FROM region_events WHERE label_id > 0)"],
    "stack-dangling": ["UPDATE region_events SET stack = 987654321", "UPDATE mem_events SET stack = 987654321"],
    "config-dangling": ["UPDATE kernel_launches SET config = 987654321 "
                        "WHERE rowid = (SELECT min(rowid) FROM kernel_launches)"],
    "start-huge": ["UPDATE process SET start_ns = 9223372036854775000"],
    "heap-size": ["UPDATE heaps SET size = 9223372036854775807 WHERE id = (SELECT min(id) FROM heaps)"],
    "heap-wrap": ["UPDATE heaps SET addr = -1048576, size = 4194304 WHERE id = (SELECT min(id) FROM heaps)"],
}


def main():
    good, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, sql in VARIANTS.items():
        path = os.path.join(out, name + ".mtrace")
        shutil.copyfile(good, path)
        db = sqlite3.connect(path)
        for s in sql:
            if db.execute(s).rowcount < 1:
                sys.exit("mkhostile: %s: '%s' changed no row of %s" % (name, s, good))
        db.commit()
        db.close()


if __name__ == "__main__":
    main()
