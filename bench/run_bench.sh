#!/bin/sh
# memtrace collector benchmark (`make bench`): cost per intercepted call and
# sustained capture on the simulated CUDA runtime, and simtrain end to end.
# Every configuration is measured side by side in one run, in interleaved
# rounds (so load on a shared machine hits them alike); the medians of the
# rounds are printed, and ratios to the bare run.
#   bare     the program alone
#   nop      libmemtrace-collector-nop.so: the same hooks, forwarding only
#   nostack  the collector, --stacks=none
#   native   the collector, native stacks (the default)
B=${MT_BUILDDIR:-.}
ROUNDS=${BENCH_ROUNDS:-7}
CALLS=$B/bench/bench_calls
SIMTRAIN=$B/tests/sim/simtrain/simtrain
COL=$B/collector/.libs/libmemtrace-collector.so
NOP=$B/collector/.libs/libmemtrace-collector-nop.so
LD_LIBRARY_PATH=$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
for f in "$CALLS" "$COL" "$NOP"; do
  [ -e "$f" ] || { echo "bench: $f is missing (make bench builds it; nvcc is needed)"; exit 1; }
done

with() { # config, command...: runs the command under a configuration
  cfg=$1; shift
  rm -rf "$T/run"
  case $cfg in
    bare) "$@" ;;
    nop) LD_PRELOAD=$NOP "$@" ;;
    nostack) MEMTRACE_RUN_DIR=$T/run MEMTRACE_RUN_ID=bench MEMTRACE_STACKS=none LD_PRELOAD=$COL NVTX_INJECTION64_PATH=$COL "$@" ;;
    native) MEMTRACE_RUN_DIR=$T/run MEMTRACE_RUN_ID=bench MEMTRACE_STACKS=native LD_PRELOAD=$COL NVTX_INJECTION64_PATH=$COL "$@" ;;
  esac
}
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "memtrace collector benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "1. Cost per intercepted call (median ns; each round = median of 300 batches of 500 calls)"
for r in $(seq "$ROUNDS"); do
  for cfg in bare nop nostack native; do
    with $cfg "$CALLS" calls 300 500 >"$T/c.$cfg.$r" 2>/dev/null
  done
done
printf "%-9s %14s %10s %14s %10s\n" config "malloc+free" "added/ev" "launch" "added/ev"
for cfg in bare nop nostack native; do
  p=$(cat "$T"/c.$cfg.* | awk '$1=="pair"{print $2}' | med)
  l=$(cat "$T"/c.$cfg.* | awk '$1=="launch"{print $2}' | med)
  eval "P_$cfg=$p L_$cfg=$l"
done
for cfg in bare nop nostack native; do
  eval "p=\$P_$cfg l=\$L_$cfg"
  awk -v c=$cfg -v p="$p" -v l="$l" -v pb="$P_bare" -v lb="$L_bare" 'BEGIN {
    printf "%-9s %8.0f ns %5.2fx %6.0f ns %8.0f ns %5.2fx %6.0f ns\n", c, p, p/pb, (p-pb)/2, l, l/lb, l-lb }'
done
echo "(added/ev: ns added per intercepted call against bare; a malloc+free pair is 2 events)"
echo
echo "2. Sustained capture: 2,000,000 cudaLaunchKernel as fast as the thread can, --stacks=none"
for buf in 4MiB 32MiB 512MiB; do
  rm -rf "$T/run"
  s=$(date +%s%N)
  MEMTRACE_BUFFER_SIZE=$buf with nostack "$CALLS" flood 2000000 >"$T/flood" 2>/dev/null
  e=$(date +%s%N)
  f=$(ls "$T"/run/*.mtrace | head -1)
  n=$(sqlite3 "$f" "SELECT count(*) FROM kernels")
  d=$(sqlite3 "$f" "SELECT coalesce(sum(count),0) FROM drops")
  sz=$(stat -c %s "$f")
  sqlite3 "$f" "DROP INDEX IF EXISTS kernel_launches_by_ts; DROP INDEX IF EXISTS mem_events_by_ts; VACUUM" 2>/dev/null
  szn=$(stat -c %s "$f")
  c=$(awk '/flood_calls_ns/{print $2}' "$T/flood")
  awk -v b=$buf -v n=$n -v d=$d -v w=$((e - s)) -v c=$c -v sz=$sz -v szn=$szn 'BEGIN {
    printf "  buffer %-7s captured %8d dropped %8d  calls took %5.0f ms, run incl. drain+finalize %5.0f ms: %4.0fk events/s; %.1f B/event on disk (%.1f without the ts index)\n",
      b, n, d, c/1e6, w/1e6, n/(w/1e9)/1000, sz/(n+d>0?n:1), szn/(n>0?n:1) }'
done
echo
echo "2b. Paced capture: cudaLaunchKernel at a fixed rate for 5 s, default buffer, --stacks=none"
for rate in 250000 500000 1000000; do
  rm -rf "$T/run"
  with nostack "$CALLS" rate $rate 5 >"$T/rate" 2>/dev/null
  f=$(ls "$T"/run/*.mtrace | head -1)
  n=$(sqlite3 "$f" "SELECT count(*) FROM kernels")
  d=$(sqlite3 "$f" "SELECT coalesce(sum(count),0) FROM drops")
  sz=$(stat -c %s "$f")
  ach=$(awk '/rate_achieved_per_s/{print $2}' "$T/rate")
  awk -v r=$rate -v a=$ach -v n=$n -v d=$d -v sz=$sz 'BEGIN {
    printf "  asked %7d/s achieved %7.0f/s: captured %8d dropped %6d (%s); %.1f B/event on disk\n",
      r, a, n, d, d == 0 ? "kept up" : "DROPS", sz / (n > 0 ? n : 1) }'
done
echo
if [ -x "$SIMTRAIN" ]; then
  echo "3. simtrain end to end (--steps 300 --layers 8, wall ms, median of $ROUNDS; includes creating and finalizing the trace)"
  for r in $(seq "$ROUNDS"); do
    for cfg in bare nop nostack native; do
      s=$(date +%s%N)
      with $cfg "$SIMTRAIN" --steps 300 --layers 8 --truth-tensors none >/dev/null 2>&1
      e=$(date +%s%N)
      echo $(((e - s) / 1000)) >>"$T/s.$cfg"
    done
  done
  sb=$(med <"$T/s.bare")
  for cfg in bare nop nostack native; do
    v=$(med <"$T/s.$cfg")
    awk -v c=$cfg -v v=$v -v b=$sb 'BEGIN { printf "  %-9s %8.1f ms  %5.2fx\n", c, v/1000, v/b }'
  done
  rm -rf "$T/run"
  with native "$SIMTRAIN" --steps 300 --layers 8 --truth-tensors none >/dev/null 2>&1
  f=$(ls "$T"/run/*.mtrace | head -1)
  echo "  ($(sqlite3 "$f" "SELECT (SELECT count(*) FROM mem_events)+(SELECT count(*) FROM kernels)+(SELECT count(*) FROM ranges)+(SELECT count(*) FROM region_events)+(SELECT count(*) FROM memcpys)") events per run, $(sqlite3 "$f" "SELECT coalesce(sum(count),0) FROM drops") dropped with native stacks)"
fi
