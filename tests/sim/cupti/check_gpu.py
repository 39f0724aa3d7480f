#!/usr/bin/env python3
"""Checks a trace recorded with the CUPTI stand-in against the simulated
driver's own schedule (MT_SIM_LOG), which the collector never reads.

  check_gpu.py TRACE SIMLOG [--drops]

TRACE is one .mtrace file.  Checked:
  - every kernel launch row (in insert order) is the log's launch of the
    same name, in the same order; it has a correlation id (unique), a GPU
    start and end; gpu_start - log start_ns is one constant K for every
    launch and gpu_end - gpu_start = end_ns - start_ns exactly;
  - memcpys (copies and sets) the same against the log's copy/memset lines,
    with the same K (one GPU clock);
  - per stream, kernels and copies in launch order do not overlap on the GPU;
  - gpu_memory: allocations = the log's allocs (address, size), releases =
    its frees (address); each allocation's time lies inside the alloc call
    that made it (mem_events row of that address), which checks the clock
    calibration;
  - with --drops: rows without GPU times and missing gpu_memory rows add up
    exactly to drops.count of kind 'cupti' (and that count is > 0); the rows
    that have times still satisfy everything above.
"""
import re
import sqlite3
import sys

SLACK_NS = 3000   # calibration error allowed (two clock reads, ns apart)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    if len(sys.argv) < 3:
        fail("usage: check_gpu.py TRACE SIMLOG [--drops]")
    trace, logp = sys.argv[1], sys.argv[2]
    drops_mode = "--drops" in sys.argv[3:]
    db = sqlite3.connect(trace)
    pid = db.execute("SELECT pid FROM process").fetchone()[0]
    lines = [l.split() for l in open(logp) if l.startswith("pid=%d " % pid)]

    def kv(f):
        return dict(x.split("=", 1) for x in f[2:] if "=" in x)

    launches = [kv(f) for f in lines if f[1] == "launch"]
    copies = [kv(f) for f in lines if f[1] in ("copy", "memset")]
    allocs = [kv(f) for f in lines if f[1] == "alloc" and kv(f).get("kind") != "vmm"]
    frees = [kv(f) for f in lines if f[1] == "free" and kv(f).get("kind") != "vmm"]

    names = dict(db.execute("SELECT id, value FROM strings"))
    handle = dict(db.execute("SELECT id, handle FROM streams"))
    handle[0] = 0
    krows = db.execute("SELECT rowid, ts, name_id, stream, correlation, gpu_start, gpu_end FROM kernels "
                       "ORDER BY rowid").fetchall()
    crows = db.execute("SELECT rowid, ts, stream, correlation, gpu_start, gpu_end, bytes FROM memcpys "
                       "ORDER BY rowid").fetchall()
    if len(krows) != len(launches):
        fail("%d kernel rows, %d launches in the driver log" % (len(krows), len(launches)))
    if len(crows) != len(copies):
        fail("%d memcpy rows, %d copies/sets in the driver log" % (len(crows), len(copies)))
    if not krows:
        fail("no kernels")

    # One stream is used by one thread here, so per stream the log's order
    # and the trace's insert order are both the launch order.
    def log_stream(lg):
        v = lg["stream"]
        return 0 if v == "(nil)" else int(v, 16)

    K = None
    missing = 0
    corrs = set()
    timed = []   # (stream, ts, gpu_start, gpu_end)
    for what, rows, log in (("kernel", krows, launches), ("memcpy", crows, copies)):
        per_log, per_rows = {}, {}
        for lg in log:
            per_log.setdefault(log_stream(lg), []).append(lg)
        for row in rows:
            per_rows.setdefault(handle.get(row[3] if what == "kernel" else row[2]), []).append(row)
        if sorted(per_log) != sorted(per_rows):
            fail("%s streams differ: log %s, trace %s" % (what, sorted(per_log), sorted(per_rows)))
        for h in per_log:
            if len(per_log[h]) != len(per_rows[h]):
                fail("stream %#x: %d %s rows, %d in the log" % (h, len(per_rows[h]), what, len(per_log[h])))
            for i, (row, lg) in enumerate(zip(per_rows[h], per_log[h])):
                if what == "kernel":
                    rid, ts, nid, stream, corr, gs, ge = row
                    if names.get(nid) != lg["name"]:
                        fail("kernel row %d is %s, the log's launch %d is %s" % (rid, names.get(nid), i, lg["name"]))
                else:
                    rid, ts, stream, corr, gs, ge, nbytes = row
                    if int(lg["bytes"]) != nbytes:
                        fail("memcpy row %d has %d bytes, the log's copy %d has %s" % (rid, nbytes, i, lg["bytes"]))
                if not corr or corr <= 0:
                    fail("%s row %d has no correlation id" % (what, rid))
                if corr in corrs:
                    fail("%s row %d: correlation id %d used twice" % (what, rid, corr))
                corrs.add(corr)
                if gs is None or ge is None:
                    if drops_mode:
                        missing += 1
                        continue
                    fail("%s row %d has no GPU times" % (what, rid))
                s, e = int(lg["start_ns"]), int(lg["end_ns"])
                if K is None:
                    K = gs - s
                if gs - s != K:
                    fail("%s row %d: gpu_start - schedule start = %d, not %d" % (what, rid, gs - s, K))
                if ge - gs != e - s:
                    fail("%s row %d: GPU duration %d, scheduled %d" % (what, rid, ge - gs, e - s))
                timed.append((stream, ts, gs, ge))

    # one stream: launch order, no overlap
    by_stream = {}
    for st, ts, gs, ge in timed:
        by_stream.setdefault(st, []).append((ts, gs, ge))
    for st, v in by_stream.items():
        v.sort()
        for a, b in zip(v, v[1:]):
            if b[1] < a[2]:
                fail("stream %s: work launched at %d starts at %d, before the previous one ends (%d)"
                     % (st, b[0], b[1], a[2]))

    # gpu_memory against the driver's allocations
    def addr(x):
        return int(x, 16)
    want_a = sorted((addr(a["ptr"]), int(a["size"])) for a in allocs)
    want_f = sorted(addr(f["ptr"]) for f in frees)
    got_a = sorted(db.execute("SELECT addr, size FROM gpu_memory WHERE op = 1").fetchall())
    got_f = sorted(r[0] for r in db.execute("SELECT addr FROM gpu_memory WHERE op = 2"))
    if drops_mode:
        missing += len(want_a) - len(got_a) + len(want_f) - len(got_f)
        if not set(got_a) <= set(want_a) or not set(got_f) <= set(want_f):
            fail("gpu_memory has rows the driver never made")
    else:
        if got_a != want_a:
            fail("gpu_memory allocations %d, driver allocations %d (first differences: %s)" % (
                len(got_a), len(want_a), sorted(set(got_a) ^ set(want_a))[:3]))
        if got_f != want_f:
            fail("gpu_memory releases %d, driver frees %d" % (len(got_f), len(want_f)))
    calls = {}
    for ts, dur, a in db.execute("SELECT ts, dur, addr FROM mem_events WHERE op = 1 AND result = 0"):
        calls.setdefault(a, []).append((ts, dur))
    for ts, a, corr in db.execute("SELECT ts, addr, correlation FROM gpu_memory WHERE op = 1"):
        if corr <= 0:
            fail("gpu_memory row at %#x has no correlation id" % a)
        if a in calls and not any(t - SLACK_NS <= ts <= t + d + SLACK_NS for t, d in calls[a]):
            fail("gpu_memory allocation %#x at %d lies outside its alloc call %s" % (a, ts, calls[a]))

    drops = db.execute("SELECT coalesce(sum(count), 0) FROM drops WHERE kind = 'cupti'").fetchone()[0]
    if drops_mode:
        if drops <= 0:
            fail("no 'cupti' drops recorded")
        if drops != missing:
            fail("drops 'cupti' = %d, rows without GPU times or missing = %d" % (drops, missing))
    elif drops:
        fail("%d 'cupti' drops" % drops)
    print("ok: %d kernels, %d copies/sets, %d allocations, %d frees; GPU clock = schedule + %d ns; "
          "%d streams; %d cupti drops" % (len(krows), len(crows), len(want_a), len(want_f), K or 0,
                                          len(by_stream), drops))


if __name__ == "__main__":
    main()
