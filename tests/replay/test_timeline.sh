#!/bin/sh
# The predicted timeline of `memtrace replay --timeline N` against ground
# truth the replay did not compute: simtrain's truth file (its own account
# of every tensor: bytes, allocation and free time; its peaks and the bytes
# held at the end).  simtrain recorded with no technique (one rank; cuBLAS's
# workspace is an allocation of its own), replayed with no technique through
# the caching model, sampled at 1 ns (N = span + 1):
#  1. allocated: the sequence of values it takes (a staircase; the trace's
#     clock and simtrain's differ by the collector's own ns, so the order of
#     the steps is compared, not their times) equals the truth's, the sum of
#     its live tensors after each allocation and free in time order;
#  2-3. max(allocated_max), max(reserved_max) are the truth's peaks;
#  4. the last sample is the truth's bytes held at the end (both);
#  5. reserved never below allocated;
#  6. a cross-check, not ground truth: the report's timeline (the analyzer's,
#     made from the same trace) agrees at its samples (allocated) -- two
#     readers of one trace that must not drift apart.
# The raw model is not used: its allocated are the requests rounded to 512 B,
# the caching allocator's blocks are the truth's bytes.
MT_TEST_NAME=timeline
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
plan 6
if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  skip_all "needs memtrace record and simtrain"
fi
run="$TMP/run"
"$MT" record -o "$run" -- "$ST" --layers 2 --hidden 128 --heads 4 --seq 128 --batch 2 --steps 2 --world 1 \
  --truth-tensors all --truth "$TMP/truth.json" >"$TMP/rec.log" 2>&1 || { echo "Bail out! recording failed"; exit 1; }
"$MT" report --format json "$run" >"$TMP/report.json" || { echo "Bail out! report failed"; exit 1; }
span=$("$MT" replay "$run" --timeline 2 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["timeline"]["dt_ns"])')
"$MT" replay "$run" --timeline $((span + 1)) --format json >"$TMP/pred.json" || { echo "Bail out! replay failed"; exit 1; }
python3 - "$TMP/report.json" "$TMP/pred.json" "$TMP/truth.json" >"$TMP/out" 2>"$TMP/chk.err" <<'PY' ||
import json, sys
rep = json.load(open(sys.argv[1]))
pred = json.load(open(sys.argv[2]))
truth = json.load(open(sys.argv[3]))["ranks"][0]
P = pred["timeline"]
n = len(P["allocated"])
assert P["dt_ns"] == 1, P["dt_ns"]

def check(num, what, bad, detail=""):
    print("%s - %s%s" % ("not ok" if bad else "ok", what, detail if not bad else ": " + str(bad)[:300]))

def steps(v):  # the values a staircase takes, each once per run of equal values
    out = []
    for x in v:
        if not out or out[-1] != x:
            out.append(x)
    return out

# the truth's staircase: every allocation (+) and free (-) in time order
ev = []
for t in truth["tensors"]:
    ev.append((t["alloc_ns"], 1, t["bytes"]))
    if t["free_ns"] >= 0:
        ev.append((t["free_ns"], 0, -t["bytes"]))
ev.sort()
live, want = 0, [0]
for _, _, b in ev:
    live += b
    want.append(live)
want = steps(want)
got = steps([0] + P["allocated"])
first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
check(1, "allocated takes the truth's values, in its order (%d steps)" % len(want),
      [] if got == want else [("first difference at step", first, got[first:first + 3], want[first:first + 3]),
                              ("lengths", len(got), len(want))])
check(2, "max(allocated_max) is the truth's peak allocated",
      [] if max(P["allocated_max"]) == truth["peak_allocated_bytes"] else [(max(P["allocated_max"]), truth["peak_allocated_bytes"])],
      " (%d)" % truth["peak_allocated_bytes"])
check(3, "max(reserved_max) is the truth's peak reserved",
      [] if max(P["reserved_max"]) == truth["peak_reserved_bytes"] else [(max(P["reserved_max"]), truth["peak_reserved_bytes"])],
      " (%d)" % truth["peak_reserved_bytes"])
end = (P["allocated"][-1], P["reserved"][-1])
check(4, "the last sample holds the truth's bytes at the end (allocated, reserved)",
      [] if end == (truth["final_allocated_bytes"], truth["final_reserved_bytes"]) else
      [(end, (truth["final_allocated_bytes"], truth["final_reserved_bytes"]))])
check(5, "reserved never below allocated", [i for i in range(n) if P["reserved"][i] < P["allocated"][i]][:5])
# 6: the report's timeline at its samples (see the header: a cross-check)
rk = [r for r in rep["ranks"] if r["rank"] == pred["rank"]][0]
R = rk["timeline"]
T0, DT, N = R["t0_ns"] - rk["start_ns"], R["dt_ns"], len(R["allocated"])
t0 = P["t0_ns"]
at = lambda k, t: 0 if t < t0 else P[k][min(t - t0, n - 1)]
check(6, "cross-check: allocated equals the report's timeline at its %d samples" % N,
      [(j, at("allocated", T0 + j * DT), R["allocated"][j]) for j in range(N) if at("allocated", T0 + j * DT) != R["allocated"][j]][:3])
PY
  echo "not ok - the checker crashed: $(tail -n 2 "$TMP/chk.err" | tr '\n' ' ')" >>"$TMP/out"
tap_lines <"$TMP/out"
done_testing
