#!/bin/sh
# A long run is summarised: the text report folds steady-state steps (within
# 1% of the step before the run) into one row and keeps the others; JSON keeps
# every step.  Checked against simtrain's own per-step peaks (--truth).
MT_TEST_NAME=fold
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
plan 3
if [ ! -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  skip_rest "needs memtrace record and simtrain"; done_testing; exit
fi
"$MT" record -q -o "$TMP/run" -- "$ST" --layers 2 --steps 40 --truth "$TMP/truth.json" >"$TMP/rec.log" 2>&1
"$MT" report "$TMP/run" >"$TMP/r.txt"
"$MT" report -f json "$TMP/run" >"$TMP/r.json"
check "text: per-step table folded against the truth's 40 steps" python3 - "$TMP/truth.json" "$TMP/r.txt" <<'PY'
import json, re, sys
truth = {p["step"]: p for p in json.load(open(sys.argv[1]))["ranks"][0]["step_peaks"]}
assert len(truth) == 40, len(truth)
txt = open(sys.argv[2]).read().split("Per-step peaks\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
U = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
def size(v, u): return float(v) * U[u]
seen, rows = [], 0
for line in txt:
    m = re.match(r"\s*(\d+)-(\d+) \((\d+) steps\)\s+([\d.]+) (\w+)\s+([\d.]+) (\w+)", line)
    if m:
        a, b, n = int(m[1]), int(m[2]), int(m[3])
        steps = list(range(a, b + 1))
        assert len(steps) == n, line
        big = max(truth[s]["allocated"] for s in steps)
        assert abs(size(m[4], m[5]) - big) <= 0.01 * big, (line, big)
        seen += steps; rows += 1; continue
    m = re.match(r"\s*(\d+)\s+([\d.]+) (\w+)\s+([\d.]+) (\w+)", line)
    if m:
        s = int(m[1]); seen.append(s); rows += 1
        assert abs(size(m[2], m[3]) - truth[s]["allocated"]) <= 0.01 * truth[s]["allocated"], line
assert sorted(seen) == sorted(truth), (seen,)
assert rows <= 6, rows
PY
check "json: every step kept" python3 -c "
import json; r=json.load(open('$TMP/r.json')); t=json.load(open('$TMP/truth.json'))
assert len(r['ranks'][0]['steps']) == len(t['ranks'][0]['step_peaks']) == 40"
check "text: the fold is said" grep -q 'folded into one row' "$TMP/r.txt"
done_testing
