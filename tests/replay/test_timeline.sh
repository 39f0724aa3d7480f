#!/bin/sh
# The predicted timeline of `memtrace replay --timeline N` against the
# recorded one: simtrain recorded with no technique (one rank; cuBLAS's
# workspace is an allocation of its own), replayed with no technique
# through the caching model, sampled at 1 ns (N = span + 1), then read at the
# sample times of the report's timeline (libmemtrace-analysis's, made from the
# trace's memory events, not by the replay).  Ground truth: the report.
#  * allocated: equal at every recorded sample;
#  * reserved: equal, or (a known difference) the recording already holds the
#    segment its next allocation needs: the collector records the segment's
#    cudaMalloc before the block is registered, the replay reserves both at
#    the block's allocation; so the recorded value is the replay's state
#    after its next event;
#  * maxima over (t_{i-1}, t_i]: equal where the replay has events there;
#    elsewhere the recording's bucket holds only segment events or none
#    (0 or the state); reserved's may hold the segment of the next
#    allocation, as above;
#  * the peaks: max(allocated_max), max(reserved_max) are the replay's.
# The raw model is not used: its allocated are the requests rounded to 512 B,
# the recording's the caching allocator's blocks.
MT_TEST_NAME=timeline
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
echo "1..5"
if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  for i in 1 2 3 4 5; do echo "ok $i # SKIP needs memtrace record and simtrain"; done
  exit 0
fi
run="$TMP/run"
"$MT" record -o "$run" -- "$ST" --layers 2 --hidden 128 --heads 4 --seq 128 --batch 2 --steps 2 --world 1 \
  >"$TMP/rec.log" 2>&1 || { echo "Bail out! recording failed"; exit 1; }
"$MT" report --format json "$run" >"$TMP/report.json" || { echo "Bail out! report failed"; exit 1; }
span=$("$MT" replay "$run" --timeline 2 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["timeline"]["dt_ns"])')
"$MT" replay "$run" --timeline $((span + 1)) --format json >"$TMP/pred.json" || { echo "Bail out! replay failed"; exit 1; }
python3 - "$TMP/report.json" "$TMP/pred.json" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
pred = json.load(open(sys.argv[2]))
rk = [r for r in rep["ranks"] if r["rank"] == pred["rank"]][0]
R = rk["timeline"]
T0, DT, N = R["t0_ns"] - rk["start_ns"], R["dt_ns"], len(R["allocated"])
P = pred["timeline"]
t0, n = P["t0_ns"], len(P["allocated"])
assert P["dt_ns"] == 1, P["dt_ns"]

def at(k, t):  # the replay's state at relative time t
    return 0 if t < t0 else P[k][min(t - t0, n - 1)]

def bucket(k, j):  # the replay's maximum over (T_{j-1}, T_j], None without events there
    lo = 0 if j == 0 else max(T0 + (j - 1) * DT + 1 - t0, 0)
    hi = min(T0 + j * DT - t0, n - 1)
    v = [x for x in P[k][lo:hi + 1] if x] if hi >= lo else []
    return max(v) if v else None

def after_next(k, t):  # the replay's state after its first event later than t
    i = max(t + 1 - t0, 0)
    while i < n and not P["allocated_max"][i] and not P["reserved_max"][i]:
        i += 1
    return P[k][min(i, n - 1)]

def check(num, what, bad):
    print("%s %d - %s (%d of %d samples differ%s)" % ("not ok" if bad else "ok", num, what, len(bad), N,
          (": first " + str(bad[:3])) if bad else ""))

check(1, "allocated equals the recorded timeline at its samples",
      [(j, at("allocated", T0 + j * DT), R["allocated"][j]) for j in range(N)
       if at("allocated", T0 + j * DT) != R["allocated"][j]])
check(2, "reserved equals the recorded timeline, or its state after its next allocation (segment mapped first)",
      [(j, at("reserved", T0 + j * DT), R["reserved"][j]) for j in range(N)
       if R["reserved"][j] not in (at("reserved", T0 + j * DT), after_next("reserved", T0 + j * DT))])
bad = []
for k in ("allocated", "reserved"):
    for j in range(N):
        b, r = bucket(k + "_max", j), R[k + "_max"][j]
        seg = after_next(k, T0 + j * DT) if k == "reserved" else None  # a segment mapped for the next one
        if (b is not None and r not in (b, seg)) or (b is None and r not in (0, R[k][j], seg)):
            bad.append((k, j, b, r))
check(3, "maxima between samples equal the recorded ones where the replay has events", bad)
pk = pred["predicted"]
check(4, "max(allocated_max) is the predicted peak allocated, max(reserved_max) the peak reserved",
      [x for x in [(max(P["allocated_max"]), pk["peak_allocated_bytes"]), (max(P["reserved_max"]), pk["peak_reserved_bytes"])]
       if x[0] != x[1]])
check(5, "reserved never below allocated", [i for i in range(n) if P["reserved"][i] < P["allocated"][i]])
PY
