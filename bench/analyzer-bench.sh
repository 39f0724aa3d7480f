#!/bin/sh
# Usage: analyzer-bench.sh BUILDDIR [EVENTS]  (default 10000000)
# Prints: trace size, bare sqlite3 scan time, full report time, the ratio,
# and the report's peak RSS against the trace size.
set -eu
B=$1
N=${2:-10000000}
T=${MT_BENCH_DIR:-/tmp}/mt-bench-analyzer-$N.mtrace
[ -s "$T" ] || "$B/bench/analyzer-mktrace" "$T" "$N" >/dev/null
size=$(wc -c <"$T")
now() { date +%s.%N; }
t0=$(now)
sqlite3 "$T" "SELECT * FROM mem_events; SELECT * FROM region_events; SELECT * FROM kernels;
  SELECT * FROM ranges; SELECT * FROM nccl_calls;" >/dev/null
t1=$(now)
/usr/bin/time -f '%M' -o "$T.rss" "$B/memtrace" report --format json "$T" >/dev/null
t2=$(now)
"$B/memtrace" report "$T" >/dev/null
t3=$(now)
rss_kib=$(tail -1 "$T.rss")
events=$(sqlite3 "$T" "SELECT (SELECT count(*) FROM mem_events) + (SELECT count(*) FROM region_events) +
  (SELECT count(*) FROM kernels) + (SELECT count(*) FROM ranges) + (SELECT count(*) FROM nccl_calls)")
awk -v n="$events" -v sz="$size" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v rss="$rss_kib" 'BEGIN {
  s = t1 - t0; r = t2 - t1; tx = t3 - t2
  printf "events               %d\n", n
  printf "trace size           %.1f MiB\n", sz / 1048576
  printf "sqlite3 SELECT scan  %.2f s\n", s
  printf "report --format json %.2f s   (%.2fx the scan)\n", r, r / s
  printf "report (text)        %.2f s   (%.2fx the scan)\n", tx, tx / s
  printf "report peak RSS      %.1f MiB (%.2fx the trace size)\n", rss / 1024, rss * 1024 / sz
}'
