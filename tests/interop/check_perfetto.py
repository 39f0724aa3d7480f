"""Checks a Chrome/Perfetto trace-event JSON written by `memtrace export`.

check_perfetto.py FILE NPROCS
Valid JSON; a traceEvents list; every event has ph/pid; one named process per
rank (NPROCS); every track used has a name; slices on one track never
overlap (times compared in integer ns); memory counters present.
Prints TAP lines numbered from $TAP_START and '#count N FAILED' last."""
import json, os, sys
from decimal import Decimal

from taplib import plan, tap, done  # tests/python (tap_py puts it on PYTHONPATH)

# what the caller asked for, decided before reading the file
want_counters = os.environ.get("WANT_COUNTERS", "1") == "1"
want_cats, want_nz = os.environ.get("WANT_CATEGORIES"), os.environ.get("WANT_NONZERO")
plan(7 + (1 + (1 + bool(want_nz) if want_cats else 0) if want_counters else 0))

try:
    with open(sys.argv[1]) as f:
        doc = json.load(f, parse_float=Decimal)
    tap(True, "valid JSON")
except Exception as e:  # noqa
    tap(False, "valid JSON: %s" % e)
    done()
    sys.exit(0)
ev = doc.get("traceEvents") if isinstance(doc, dict) else None
tap(isinstance(ev, list) and len(ev) > 0, "traceEvents is a non-empty list (%d events)" % (len(ev or [])))
ev = ev or []
tap(all("ph" in e and "pid" in e for e in ev), "every event has ph and pid")
procs = {e["pid"] for e in ev if e["ph"] == "M" and e.get("name") == "process_name"}
tap(len(procs) == int(sys.argv[2]), "one named process per rank (%d)" % len(procs))
named = {(e["pid"], e["tid"]) for e in ev if e["ph"] == "M" and e.get("name") == "thread_name"}
used = {(e["pid"], e["tid"]) for e in ev if e["ph"] in ("X", "i")}
tap(used <= named, "every track with slices is named (%d tracks)" % len(used))
tracks = {}
for e in ev:
    if e["ph"] == "X":
        ts = int(Decimal(e["ts"]) * 1000)
        tracks.setdefault((e["pid"], e["tid"]), []).append((ts, ts + int(Decimal(e["dur"]) * 1000), e["name"]))
bad = []
for k, sl in tracks.items():
    sl.sort()
    for a, b in zip(sl, sl[1:]):
        if b[0] < a[1]:
            bad.append((k, a, b))
tap(not bad, "no overlapping slices on any track (%d slices)%s" %
    (sum(len(v) for v in tracks.values()), "" if not bad else ": %s" % (bad[:2],)))
tap(all(e["dur"] >= 0 for e in ev if e["ph"] == "X"), "durations are not negative")
cnt = [e for e in ev if e["ph"] == "C"]
if want_counters:
    tap(any(e["name"].startswith("memory cuda:") for e in cnt), "memory counters (%d)" % len(cnt))
    if want_cats:
        cats = set()
        for e in cnt:
            if e["name"] == "allocated by category":
                cats |= set(e["args"])
        tap(set(os.environ["WANT_CATEGORIES"].split(",")) <= cats, "category counters: %s" % ",".join(sorted(cats)))
        nz = set()
        for e in cnt:
            if e["name"] == "allocated by category":
                nz |= {k for k, v in e["args"].items() if v > 0}
        if want_nz:
            tap(set(want_nz.split(",")) <= nz, "categories with bytes: %s" % ",".join(sorted(nz)))
done()
