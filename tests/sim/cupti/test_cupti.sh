#!/bin/sh
# TAP tests of the collector's CUPTI path over the CUPTI stand-in
# (tests/sim/cupti/libcupti.so.13) and the simulated driver.  Ground truth
# is the driver's own schedule (MT_SIM_LOG), checked by check_gpu.py.
B=${MT_BUILDDIR:-.}
S=${MT_SRCDIR:-.}
. "$S/tests/unit/tap.sh"
M=$B/memtrace
SIMTRAIN=$B/tests/sim/simtrain/simtrain
PROG=$B/tests/sim/cupti/cupti_prog
MEMTRACE_COLLECTOR=$B/collector/.libs/libmemtrace-collector.so
export MEMTRACE_COLLECTOR
SIMLIBS=$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
WITH=$B/tests/sim/cupti/.libs:$SIMLIBS
if [ ! -e "$B/tests/sim/cupti/.libs/libcupti.so.13" ] || [ ! -e "$MEMTRACE_COLLECTOR" ] || [ ! -x "$PROG" ] ||
   [ ! -e "$B/tests/sim/cuda/.libs/libcudart.so.13" ] || ! command -v python3 >/dev/null; then
  echo "1..0 # SKIP the CUPTI stand-in, the collector, the test program, the simulated runtime or python3 is missing"
  exit 0
fi
plan 13   # 9 of them with simtrain
T=$(mktemp -d "${TMPDIR:-/tmp}/cupti-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
CK="python3 $S/tests/sim/cupti/check_gpu.py"
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['ranks'][int(sys.argv[2])]
for k in sys.argv[3].split('.'): r=r[k]
print(r)" "$@"; }
q() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }
one() { ls "$1"/*.mtrace | head -1; }
say() { sed 's/^/# /' "$1" | tail -15; }

have_simtrain=0
[ -x "$SIMTRAIN" ] && [ -e "$B/tests/sim/cublas/.libs/libcublas.so.13" ] && have_simtrain=1

# ---- simtrain with the stand-in ------------------------------------------
if [ $have_simtrain = 1 ]; then
  LD_LIBRARY_PATH=$WITH MT_SIM_LOG=$T/st.log timeout 120 "$M" record -q -o "$T/st" -- \
    "$SIMTRAIN" --steps 2 --truth-tensors none --truth "$T/st.json" >"$T/st.out" 2>&1
  rc=$?
  "$M" info --json "$T/st" >"$T/st.info" 2>>"$T/st.out"
  c=$(field "$T/st.info" 0 cupti 2>/dev/null)
  check "simtrain: recorded, info says \"cupti\": \"active\"" test "$rc.$c" = "0.active"
  if $CK "$(one "$T/st")" "$T/st.log" >"$T/st.ck" 2>&1; then
    ok "simtrain: every launch and copy has GPU start/end = the driver's schedule (one clock offset), in launch order, no overlap per stream; gpu_memory = the driver's allocations"
    sed 's/^/# /' "$T/st.ck"
  else
    not_ok "simtrain: GPU times and gpu_memory against the driver's schedule"
    say "$T/st.ck"
  fi
  # cuBLAS kernels (launched inside cublasGemmEx) are timed too
  n=$(q "$(one "$T/st")" "SELECT count(*) FROM kernels k JOIN strings s ON s.id = k.name_id WHERE s.value LIKE 'sm90_xmma%' AND k.gpu_start IS NOT NULL")
  check "simtrain: cuBLAS library kernels have GPU times ($n)" test "${n:-0}" -gt 0
  # the analyzer: per-layer and per-kernel GPU time now shown
  "$M" report "$T/st" >"$T/st.rep" 2>&1
  check "memtrace report: kernel table shows GPU times" sh -c "
    awk '/^  Kernels \\(/{k=1; next} k && /GPU time/{h=1; next} k && h && NF>=4 {print; exit}' '$T/st.rep' | grep -Eq '^ +[0-9]+ +[0-9.]+ (ms|us|ns|s) '"
  # JSON: per-kernel GPU time adds up to the trace's kernel GPU durations,
  # compute time of the overlap summary = their union (one stream: the sum),
  # every layer has forward and backward GPU time
  "$M" report --format json "$T/st" >"$T/st.json.rep" 2>>"$T/st.out"
  v=$(python3 -c "
import json, sqlite3, sys
r = json.load(open(sys.argv[1]))['ranks'][0]
tot = sqlite3.connect(sys.argv[2]).execute('SELECT sum(gpu_end - gpu_start) FROM kernels').fetchone()[0]
lay = all((l.get('fwd_gpu_ns') or 0) > 0 and (l.get('bwd_gpu_ns') or 0) > 0 for l in r['layers'])
print(tot == sum(k['gpu_ns'] for k in r['kernels']) == r['overlap']['compute_gpu_ns'] and len(r['layers']) > 0 and lay)
" "$T/st.json.rep" "$(one "$T/st")" 2>&1)
  check "memtrace report --format json: kernel GPU time, overlap compute time and per-layer fwd/bwd GPU time from the GPU times" test "$v" = True
  # no CUPTI: disabled, and no GPU times
  LD_LIBRARY_PATH=$WITH timeout 120 "$M" record -q --no-cupti -o "$T/nc" -- \
    "$SIMTRAIN" --steps 1 --truth-tensors none --truth "$T/nc.json" >"$T/nc.out" 2>&1
  "$M" info --json "$T/nc" >"$T/nc.info" 2>>"$T/nc.out"
  f=$(one "$T/nc")
  v="$(field "$T/nc.info" 0 cupti)|$(q "$f" "SELECT value FROM meta WHERE key = 'cupti.reason'")|$(q "$f" 'SELECT count(gpu_start) + count(gpu_end) FROM kernels')|$(q "$f" 'SELECT count(*) > 0 FROM kernels')|$(q "$f" 'SELECT count(*) FROM gpu_memory')"
  echo "# $v"
  check "--no-cupti: \"cupti\": \"disabled\", reason in meta, no GPU times, no gpu_memory" \
    test "$v" = "disabled|disabled by --no-cupti|0|1|0"
  # the stand-in not on the path: unavailable, with the reason
  LD_LIBRARY_PATH=$SIMLIBS timeout 120 "$M" record -q -o "$T/un" -- \
    "$SIMTRAIN" --steps 1 --truth-tensors none --truth "$T/un.json" >"$T/un.out" 2>&1
  "$M" info --json "$T/un" >"$T/un.info" 2>>"$T/un.out"
  f=$(one "$T/un")
  r=$(q "$f" "SELECT coalesce((SELECT value FROM meta WHERE key = 'cupti.reason'), '')")
  echo "# reason: $r"
  v="$(field "$T/un.info" 0 cupti)|$(q "$f" 'SELECT count(gpu_start) FROM kernels')"
  check "no stand-in on the path: \"cupti\": \"unavailable\", a reason, no GPU times" \
    test "$v" = "unavailable|0" -a -n "$r"
  # dropped records: the stand-in drops every 7th; each one is a row
  # without GPU times (or a missing gpu_memory row), counted as drops 'cupti'
  LD_LIBRARY_PATH=$WITH MT_SIM_CUPTI_DROP_EVERY=7 MT_SIM_LOG=$T/dr.log timeout 120 "$M" record -q -o "$T/dr" -- \
    "$SIMTRAIN" --steps 1 --truth-tensors none --truth "$T/dr.json" >"$T/dr.out" 2>&1
  if $CK "$(one "$T/dr")" "$T/dr.log" --drops >"$T/dr.ck" 2>&1; then
    ok "dropped CUPTI records: drops 'cupti' = rows left without GPU times; the others still exact"
    sed 's/^/# /' "$T/dr.ck"
  else
    not_ok "dropped CUPTI records: drops 'cupti' = rows left without GPU times"
    say "$T/dr.ck"
  fi
  # two ranks (separate processes): each trace active and exact
  LD_LIBRARY_PATH=$WITH MT_SIM_LOG=$T/w2.log timeout 120 "$M" record -q -o "$T/w2" -- \
    "$SIMTRAIN" --world 2 --zero 2 --steps 1 --truth-tensors none --truth "$T/w2.json" >"$T/w2.out" 2>&1
  okc=0
  for f in "$T"/w2/*.mtrace; do
    $CK "$f" "$T/w2.log" >>"$T/w2.ck" 2>&1 && okc=$((okc + 1))
  done
  check "simtrain world 2: both ranks' GPU times and gpu_memory exact" test $okc -eq 2 || say "$T/w2.ck"
else
  skip 9 "simtrain or the simulated cuBLAS not built"
fi

# ---- two threads, five streams, pinned/managed/pool memory, frees --------
LD_LIBRARY_PATH=$WITH MT_SIM_LOG=$T/p.log timeout 60 "$M" record -q -o "$T/p" -- "$PROG" >"$T/p.out" 2>&1
if grep -q '^done 0' "$T/p.out" && $CK "$(one "$T/p")" "$T/p.log" >"$T/p.ck" 2>&1; then
  ok "driver-API program, 2 threads x 2 streams + legacy: GPU times exact per stream, gpu_memory = allocations and frees of every kind"
  sed 's/^/# /' "$T/p.ck"
else
  not_ok "driver-API program: GPU times and gpu_memory"
  say "$T/p.out"
  say "$T/p.ck"
fi
f=$(one "$T/p")
v="$(q "$f" 'SELECT count(DISTINCT kind) FROM gpu_memory WHERE op = 1')|$(q "$f" 'SELECT count(*) FROM gpu_memory WHERE kind = 4 AND pool_addr IS NOT NULL')"
check "gpu_memory kinds: device, managed, pinned, pool (with its base address)" test "$v" = "4|2"
v="$(q "$f" "SELECT (SELECT value FROM meta WHERE key = 'cupti.records') - (SELECT value FROM meta WHERE key = 'cupti.matched') - (SELECT count(*) FROM gpu_memory)")|$(q "$f" "SELECT value FROM meta WHERE key = 'cupti.unmatched'")"
check "nothing left unmatched: cupti.records = cupti.matched + gpu_memory rows" test "$v" = "0|0"
# no device: unavailable with that reason (the collector asks the driver first)
LD_LIBRARY_PATH=$WITH MT_SIM_DEVICES=0 timeout 60 "$M" record -q -o "$T/nd" -- "$PROG" >"$T/nd.out" 2>&1
f=$(ls "$T"/nd/*.mtrace 2>/dev/null | head -1)
if [ -n "$f" ]; then
  v="$(q "$f" 'SELECT cupti FROM process')|$(q "$f" "SELECT value FROM meta WHERE key = 'cupti.reason'")"
  echo "# $v"
  case "$v" in "unavailable|no CUDA device"*) ok "no device: unavailable, reason 'no CUDA device'" ;;
    *) not_ok "no device: unavailable, reason 'no CUDA device'" ;; esac
else
  not_ok "no device: the program left no trace"
fi
done_testing
