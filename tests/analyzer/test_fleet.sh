#!/bin/sh
# memtrace report on many ranks (the fleet summary, docs/FLEET.md): a
# synthetic run of 24 ranks (bench/analyzer-mktrace --ranks) whose generator
# counted each rank's peaks itself and chose 3 outlier ranks of known kinds
# (truth.json).  Every rank's peaks equal the generator's; the outliers are
# exactly its outliers, each explained by its own category; the thread
# count changes nothing; `report --mpi` under mpirun -np 2 and 3 writes the
# same bytes as one process; bad input is refused in one line.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
plan 12
B=${MT_BUILDDIR:-.}
MT=$(cd "$B" && pwd)/memtrace
W=$(mktemp -d /tmp/mt-fleet-XXXXXX)
trap 'rm -rf "$W"' EXIT
PY=python3
R=$W/run
"$B/bench/analyzer-mktrace" --ranks 24 --outliers 3 --seed 7 "$R" 20000 >/dev/null
"$MT" report -f json --fleet -j 2 "$R" >"$W/f.json" 2>"$W/err" || diag "report failed: $(cat "$W/err")"
cmp_truth() {  # cmp_truth PYTHON-EXPR-PRINTING-ok-OR-WHY
  "$PY" - "$R/truth.json" "$W/f.json" <<PYEOF 2>&1
import json, sys
truth = {t["rank"]: t for t in json.load(open(sys.argv[1]))["ranks"]}
f = json.load(open(sys.argv[2]))["fleet"]
got = {r["rank"]: r for r in f["ranks"]}
$1
PYEOF
}
r=$(cmp_truth "
bad = [(k, got.get(k, {}).get('peak'), t['peak_allocated'], t['peak_reserved']) for k, t in truth.items()
       if k not in got or got[k]['peak']['allocated_bytes'] != t['peak_allocated']
       or got[k]['peak']['reserved_bytes'] != t['peak_reserved']]
print('ok' if not bad and len(got) == 24 else bad[:3] or sorted(got))")
[ "$r" = ok ] && ok "24 ranks: every rank's peak allocated and reserved equal the generator's count" || not_ok "peaks: $r"
r=$(cmp_truth "
want = {k: t['outlier'] for k, t in truth.items() if t['outlier'] != 'none'}
have = {o['rank']: max(o['by_category_vs_median'].items(), key=lambda kv: abs(kv[1]))[0]
        if o['by_category_vs_median'] else None for o in f['outliers']}
print('ok' if want == have and len(want) == 3 else 'want %s, have %s' % (want, have))")
[ "$r" = ok ] && ok "the outlier ranks are the generator's 3, each with its own kind as the category that differs most from the median rank" \
  || not_ok "outliers: $r"
r=$(cmp_truth "
p = sorted(t['peak_allocated'] for t in truth.values())
d = f['peak_allocated']
print('ok' if (d['min'], d['median'], d['max']) == (p[0], p[(len(p) - 1) // 2], p[-1]) else (d, p[0], p[11], p[-1]))")
[ "$r" = ok ] && ok "the distribution's min, median and max are the generator's" || not_ok "distribution: $r"
r=$(cmp_truth "
steps = f.get('imbalance_by_step', [])
ok = steps and all(s['max_bytes'] == max(g['step_peak_allocated'][s['step'] - g['first_step']] for g in got.values())
                   for s in steps)
print('ok' if ok else steps[:2])")
[ "$r" = ok ] && ok "imbalance over steps: each step's max is the largest of the ranks' step peaks" || not_ok "imbalance: $r"
# text: the summary by default above 16 traces; --per-rank gives the full report
"$MT" report "$R" >"$W/t1" 2>&1
"$MT" report --fleet -j 1 "$R" >"$W/t2" 2>&1
out=$("$PY" -c "
import json; t = json.load(open('$R/truth.json'))['ranks']
print(' '.join(str(x['rank']) for x in t if x['outlier'] != 'none'))")
miss=""
for k in $out; do grep -q "^  rank $k " "$W/t1" || miss="$miss $k"; done
grep -q "^24 ranks on 3 hosts" "$W/t1" && [ -z "$miss" ] && [ "$(wc -l <"$W/t1")" -lt 60 ] \
  && ok "report RUN of 24 traces prints the fleet summary (under 60 lines) naming the outlier ranks" \
  || not_ok "text summary: missing outliers '$miss'; $(head -n 3 "$W/t1")"
cmp -s "$W/t1" "$W/t2" && ok "1 thread or one per CPU: the same summary" || not_ok "the summary depends on the thread count"
"$MT" report --per-rank "$R" >"$W/t3" 2>&1
[ "$(grep -c '^  Rank .*, pid' "$W/t3")" -ge 24 ] || [ "$(grep -c 'Rank [0-9]*' "$W/t3")" -ge 24 ] \
  && ok "--per-rank: every rank's full report" || not_ok "--per-rank: $(head -n 3 "$W/t3")"
expect_fail 2 "--fleet on a single trace is refused" "wants a run directory" "$MT" report --fleet "$R/rank0.1000.mtrace"
expect_fail 2 "--per-rank with --fleet is refused" "exclude each other" "$MT" report --fleet --per-rank "$R"
cp -r "$R" "$W/bad"; printf 'not a trace' >"$W/bad/rank99.1.mtrace"
expect_fail 2 "a damaged trace among many: one line naming it" "rank99.1.mtrace" "$MT" report --fleet "$W/bad"
# MPI: the same bytes from 2 and 3 processes
if ! command -v mpirun >/dev/null 2>&1; then
  skip 2 "no mpirun (sh scripts/install-deps.sh)"
elif "$MT" report --mpi "$W/none" 2>&1 | grep -q "built without MPI"; then
  skip 2 "memtrace built without MPI (./configure --with-mpi)"
else
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # Open MPI refuses root unless told
  mpirun --oversubscribe -np 2 "$MT" report --mpi "$R" >"$W/m2" 2>"$W/err"
  cmp -s "$W/t1" "$W/m2" && ok "mpirun -np 2 report --mpi: the single-process summary, byte for byte" \
    || not_ok "MPI 2: $(diff "$W/t1" "$W/m2" | head -n 4) $(head -n 3 "$W/err")"
  mpirun --oversubscribe -np 3 "$MT" report --mpi -f json "$R" >"$W/m3" 2>"$W/err"
  cmp -s "$W/f.json" "$W/m3" && ok "mpirun -np 3 report --mpi -f json: the single-process JSON, byte for byte" \
    || not_ok "MPI 3: $(diff "$W/f.json" "$W/m3" | head -n 4) $(head -n 3 "$W/err")"
fi
done_testing
