#!/bin/sh
# Usage: mkseeds.sh BUILDDIR OUTDIR
# Seeds for the trace fuzz targets (fuzz/fuzz_trace.c): small real traces,
# rewritten with 512-byte pages (VACUUM) so that a mutation lands on a
# page's structure or a row as often as on bulk data:
#   basic.mtrace   tests/unit/mktrace basic (every event kind, closed)
#   open.mtrace    tests/unit/mktrace open (never closed, as after a kill)
#   simtrain.mtrace  `memtrace record` of a one-layer, one-step simtrain
set -eu
B=$1
O=$2
mkdir -p "$O"
W=$(mktemp -d "${TMPDIR:-/tmp}/mt-seeds.XXXXXX")
trap 'rm -rf "$W"' EXIT
"$B/tests/unit/mktrace" basic "$W/basic.mtrace"
"$B/tests/unit/mktrace" open "$W/open.mtrace"
LD_LIBRARY_PATH="$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs:$B/tests/sim/cublas/.libs" \
  "$B/memtrace" record -o "$W/run" -- "$B/tests/sim/simtrain/simtrain" --layers 1 --hidden 64 --heads 2 \
  --seq 16 --batch 1 --steps 1 >/dev/null 2>&1
cp "$W"/run/*.mtrace "$W/simtrain.mtrace"
for f in basic open simtrain; do
  # one file, no WAL beside it: the fuzzer hands the harness one file
  sqlite3 "$W/$f.mtrace" "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;" >/dev/null
  cp "$W/$f.mtrace" "$O/$f.mtrace"
done
