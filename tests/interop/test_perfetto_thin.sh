#!/bin/sh
# memtrace export --format perfetto of a simtrain run against simtrain's
# truth: unthinned (--counter-buckets 0), the reserved counter's maximum is
# the truth's peak reserved bytes, and inside each NVTX "step N" slice it is
# that step's reserved peak; so is the allocated counter's, less the outside
# allocations.  Thinned hard (50 buckets over 6 steps) and gzipped: the file
# is gzip and JSON (what Perfetto's UI and trace processor open); every
# bucket keeps each series' max and min as the unthinned export has them;
#   --range over one step keeps that step's peak and no counter outside it;
#   at most 3 samples per series per bucket.
MT_TEST_NAME=perfetto-thin
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  echo "1..0 # SKIP needs memtrace record and simtrain"
  exit 0
fi
# 4 exports, the checker's 10 cases
plan 14
# shellcheck disable=SC2086
"$MT" record -q -o "$TMP/run" -- "$ST" --layers 2 --steps 6 --truth "$TMP/truth.json" >"$TMP/rec.log" 2>&1 ||
  { not_ok "recording failed: $(tail -1 "$TMP/rec.log")"; done_testing; exit 1; }
check "export, every change (--counter-buckets 0)" "$MT" export "$TMP/run" --format perfetto --counter-buckets 0 \
  -o "$TMP/full.json"
check "export, 50 counter buckets, gzip by name" "$MT" export "$TMP/run" --format perfetto --counter-buckets 50 \
  -o "$TMP/t.json.gz"
# the range: step 2's NVTX range in the first export (us from the run's start)
R=$(python3 -c '
import gzip, json, sys
for e in json.loads(gzip.open(sys.argv[1]).read())["traceEvents"]:
    if e["ph"] == "X" and e["name"] == "step 2":
        print("%dus:%dus" % (float(e["ts"]), float(e["ts"]) + float(e["dur"]) + 1))
' "$TMP/t.json.gz" 2>/dev/null)
check "export --range $R --gzip" "$MT" export "$TMP/run" --format perfetto --counter-buckets 50 --gzip \
  --range "$R" -o "$TMP/r.json"
check "export: a bad --range is refused" sh -c "! '$MT' export '$TMP/run' --format perfetto --range 3:1 -o '$TMP/x.json' 2>/dev/null && ! test -e '$TMP/x.json'"
python3 - "$TMP/t.json.gz" "$TMP/truth.json" "$TMP/r.json" "$R" "$TMP/full.json" >"$TMP/py.out" 2>&1 <<'PY'
import gzip, json, sys
def tap(good, desc):
    print(("ok" if good else "not ok") + " - " + desc)
raw = open(sys.argv[1], "rb").read()
tap(raw[:2] == b"\x1f\x8b", "the file is gzip (%d bytes)" % len(raw))
doc = json.loads(gzip.decompress(raw))
truth = json.load(open(sys.argv[2]))["ranks"][0]
ev = doc["traceEvents"]
def series(ev, name, arg):
    return sorted((float(e["ts"]) * 1000, e["args"][arg]) for e in ev
                  if e["ph"] == "C" and e["name"] == name and arg in e["args"])
full = json.load(open(sys.argv[5]))["traceEvents"]
res = series(full, "memory cuda:0", "reserved")
tap(res and max(v for _, v in res) == truth["peak_reserved_bytes"],
    "every change: reserved counter's maximum is the truth's peak reserved (%d)" % truth["peak_reserved_bytes"])
steps = {int(e["name"].split()[1]): (float(e["ts"]) * 1000, (float(e["ts"]) + float(e["dur"])) * 1000)
         for e in ev if e["ph"] == "X" and e["name"].startswith("step ")}
want = {s["step"]: s["reserved"] for s in truth["step_peaks"]}
got = {k: max([v for t, v in res if a <= t <= b] or [None]) for k, (a, b) in steps.items()}
# a step's reserved peak may be the level it entered with: the last sample before it
for k, (a, b) in steps.items():
    before = [v for t, v in res if t < a]
    if before and (got[k] is None or before[-1] > got[k]):
        got[k] = before[-1]
tap(got == want, "every change: per step, the reserved peak inside its NVTX range is the truth's (%s; got %s)" % (want, got))
# allocated (the counter counts tensor blocks, the truth also the outside
# allocations: cuBLAS's workspace, made in step 0 and kept) in steps 1..
al = series(full, "memory cuda:0", "allocated")
outside = sum(x["bytes"] for x in truth["tensors"] if x["outside"] and x["free_ns"] < 0)
wa = {s["step"]: s["allocated"] - outside for s in truth["step_peaks"] if s["step"] >= 1}
ga = {k: max([v for t, v in al if a <= t <= b] or [None]) for k, (a, b) in steps.items() if k >= 1}
tap(ga == wa, "every change: per step, the allocated peak inside its NVTX range is the truth's, less the workspace (%s; got %s)" % (wa, ga))
# thinned: in every bucket, each series' maximum and minimum are those of
# every change (checked against the truth above), at the same instant
allts = [float(e["ts"]) * 1000 for e in full if e["ph"] == "C" and e["name"] != "allocated by category"]
lo_, hi_ = min(allts), max(allts)   # the exporter's span: its first and last memory event
w = int((hi_ - lo_) // 50 + 1)
bad = []
for name, arg in {(e["name"], k) for e in full if e["ph"] == "C" and e["name"] != "allocated by category" for k in e["args"]}:
    f, t = series(full, name, arg), series(ev, name, arg)
    for b in range(51):
        fb = [(v, x) for x, v in f if lo_ + b * w <= x < lo_ + (b + 1) * w]
        tb = [(v, x) for x, v in t if lo_ + b * w <= x < lo_ + (b + 1) * w]
        if fb and (not tb or max(v for v, _ in fb) != max(v for v, _ in tb) or min(v for v, _ in fb) != min(v for v, _ in tb)):
            bad.append((name, arg, b))
tap(not bad, "thinned to 50 buckets: each bucket's max and min as every change has them%s" % (" (wrong: %s)" % bad[:3] if bad else ""))
tap(max(v for _, v in series(ev, "memory cuda:0", "reserved")) == truth["peak_reserved_bytes"],
    "thinned: the reserved peak is the truth's")
counts = {}
for e in ev:
    if e["ph"] == "C" and e["name"] != "allocated by category":
        for k in e["args"]:
            counts[(e["name"], k)] = counts.get((e["name"], k), 0) + 1
tap(counts and max(counts.values()) <= 3 * 50 + 3, "at most 3 samples per series per bucket (largest %d)" % max(counts.values() or [0]))
# the range: step 2
a, b = (float(x[:-2]) * 1000 for x in sys.argv[4].split(":"))
r = json.loads(gzip.decompress(open(sys.argv[3], "rb").read()))["traceEvents"]
rr = series(r, "memory cuda:0", "reserved")
tap(rr and all(a <= t <= b for t, _ in rr), "--range: counters inside step 2 only (%d samples)" % len(rr))
tap(rr and max(v for _, v in rr) == want[2], "--range: step 2's reserved peak, the truth's (%d)" % want[2])
xs = [e for e in r if e["ph"] == "X"]
tap(xs and all(float(e["ts"]) * 1000 + float(e["dur"]) * 1000 >= a and float(e["ts"]) * 1000 <= b for e in xs)
    and len(xs) < len([e for e in ev if e["ph"] == "X"]), "--range: only slices overlapping it (%d)" % len(xs))
PY
tap_from "$TMP/py.out"
done_testing
