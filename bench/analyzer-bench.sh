#!/bin/sh
# Usage: analyzer-bench.sh BUILDDIR [EVENTS]  (default 10000000)
# One run, side by side: a bare sqlite3 SELECT scan of the event tables
# (rows printed to /dev/null) and the full `memtrace report` of the same
# trace; wall and CPU (user+sys) seconds, their ratios, and the report's
# peak RSS against the trace size.  CPU time is the figure to trust on a
# shared machine.
set -eu
B=$1
N=${2:-10000000}
T=${MT_BENCH_DIR:-/tmp}/mt-bench-analyzer-$N.mtrace
[ -s "$T" ] || "$B/bench/analyzer-mktrace" "$T" "$N" >/dev/null
size=$(wc -c <"$T")
/usr/bin/time -f '%e %U %S %M' -o "$T.scan" sqlite3 "$T" "SELECT * FROM mem_events; SELECT * FROM region_events;
  SELECT * FROM kernels; SELECT * FROM ranges; SELECT * FROM nccl_calls;" >/dev/null
/usr/bin/time -f '%e %U %S %M' -o "$T.json" "$B/memtrace" report --format json "$T" >/dev/null
/usr/bin/time -f '%e %U %S %M' -o "$T.text" "$B/memtrace" report "$T" >/dev/null
events=$(sqlite3 "$T" "SELECT (SELECT count(*) FROM mem_events) + (SELECT count(*) FROM region_events) +
  (SELECT count(*) FROM kernels) + (SELECT count(*) FROM ranges) + (SELECT count(*) FROM nccl_calls)")
awk -v n="$events" -v sz="$size" -v s="$(tail -1 "$T.scan")" -v j="$(tail -1 "$T.json")" -v x="$(tail -1 "$T.text")" 'BEGIN {
  split(s, S, " "); split(j, J, " "); split(x, X, " ")
  sc = S[2] + S[3]; jc = J[2] + J[3]; xc = X[2] + X[3]
  printf "events               %d\n", n
  printf "trace size           %.1f MiB\n", sz / 1048576
  printf "%-20s %8s %8s %10s %10s\n", "", "wall s", "CPU s", "wall ratio", "CPU ratio"
  printf "%-20s %8.2f %8.2f %10s %10s\n", "sqlite3 SELECT scan", S[1], sc, "1.00", "1.00"
  printf "%-20s %8.2f %8.2f %10.2f %10.2f\n", "report --format json", J[1], jc, J[1] / S[1], jc / sc
  printf "%-20s %8.2f %8.2f %10.2f %10.2f\n", "report (text)", X[1], xc, X[1] / S[1], xc / sc
  printf "report peak RSS      %.1f MiB (%.3fx the trace size)\n", J[4] / 1024, J[4] * 1024 / sz
}'
rm -f "$T.scan" "$T.json" "$T.text"
