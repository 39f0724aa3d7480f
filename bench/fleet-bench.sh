#!/bin/sh
# Usage: fleet-bench.sh BUILDDIR [RANKS [EVENTS]]  (default 1024 x 100000)
# The fleet report's bars (issue 22, docs/PERFORMANCE.md): a synthetic run
# of RANKS traces of about EVENTS events (analyzer-mktrace --ranks), then
#   sequential: `report --fleet --jobs 1`, whose time is the sum of the
#               single-rank analyses (one process, one thread);
#   parallel:   `report --fleet` with one thread per CPU;
#   single:     `report` of the largest trace alone (its peak RSS);
# and prints wall time vs (sequential / CPUs) (bar <= 1.3x) and the
# parallel peak RSS vs the single rank's (bar <= 2x).  On a shared machine
# the wall ratio also measures the other load: the CPU seconds are printed.
set -eu
B=$1
N=${2:-1024}
E=${3:-100000}
D=${MT_BENCH_DIR:-/tmp}/mt-bench-fleet-$N-$E
[ -s "$D/truth.json" ] || "$B/bench/analyzer-mktrace" --ranks "$N" "$D" "$E" >/dev/null
cpus=$(nproc)
big=$(ls -S "$D"/*.mtrace | head -n 1)
t() { /usr/bin/time -f '%e %U %S %M' -o "$D.time" "$@" >/dev/null; tail -n 1 "$D.time"; }
seq=$(t "$B/memtrace" report --fleet --jobs 1 "$D")
par=$(t "$B/memtrace" report --fleet "$D")
one=$(t "$B/memtrace" report -f json "$big")
rm -f "$D.time"
awk -v n="$N" -v e="$E" -v c="$cpus" -v s="$seq" -v p="$par" -v o="$one" 'BEGIN {
  split(s, S, " "); split(p, P, " "); split(o, O, " ")
  printf "ranks x events       %d x %d, %d CPUs\n", n, e, c
  printf "%-22s %8s %8s %10s\n", "", "wall s", "CPU s", "peak RSS"
  printf "%-22s %8.2f %8.2f %7.1f MiB\n", "sequential (--jobs 1)", S[1], S[2] + S[3], S[4] / 1024
  printf "%-22s %8.2f %8.2f %7.1f MiB\n", "parallel (--jobs " c ")", P[1], P[2] + P[3], P[4] / 1024
  printf "%-22s %8.2f %8.2f %7.1f MiB\n", "largest rank alone", O[1], O[2] + O[3], O[4] / 1024
  printf "wall / (sequential / CPUs)  %.2fx (bar <= 1.3x)\n", P[1] / (S[1] / c)
  printf "peak RSS / largest rank     %.2fx (bar <= 2x)\n", P[4] / O[4]
}'
