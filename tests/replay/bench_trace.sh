#!/bin/sh
# Benchmark, not a test: `memtrace replay` and `memtrace recommend` on a
# recorded ~1.2M-event simtrain trace (docs/PERFORMANCE.md, "Replay of a
# recording").  Run from the build directory:
#   sh tests/replay/bench_trace.sh [TRACE]    (records one into a temp dir when none)
# Prints wall seconds (and user CPU seconds) per command; RECOMMEND=0 skips
# recommend (~20-30 s on 2 cores; MEMTRACE_THREADS sets its threads).
B=${MT_BUILDDIR:-.}
MT="$B/memtrace"
export LD_LIBRARY_PATH="$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs:$B/tests/sim/cublas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TRACE=$1
if [ -z "$TRACE" ]; then
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-bench.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  TRACE=$TMP/big
  "$MT" record --buffer-size 1G -o "$TRACE" -- "$B/tests/sim/simtrain/simtrain" --layers 48 --hidden 128 \
    --heads 4 --seq 128 --batch 2 --steps 210 >/dev/null || exit 1
fi
"$MT" info "$TRACE" | grep -E "events|dropped"
wall() { # label, command...: wall seconds (and user CPU seconds with GNU time)
  l=$1; shift
  if [ -x /usr/bin/time ]; then
    tf=$(mktemp "${TMPDIR:-/tmp}/mt-bench-time.XXXXXX")
    /usr/bin/time -f '%e s wall %U s user' -o "$tf" "$@" >/dev/null 2>&1
    printf '%-40s %s\n' "$l" "$(tail -1 "$tf")"
    rm -f "$tf"
    return
  fi
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  e=$(date +%s.%N)
  printf '%-40s %6.2f s\n' "$l" "$(echo "$e - $s" | bc)"
}
wall "replay" "$MT" replay "$TRACE"
wall "replay --checkpoint all" "$MT" replay "$TRACE" --checkpoint all
wall "replay --checkpoint selective" "$MT" replay "$TRACE" --checkpoint selective
if [ "${RECOMMEND:-1}" != 0 ]; then
  # budget: 80% of the recorded peak reserved
  peak=$("$MT" replay "$TRACE" --format json | grep -o "\"peak_reserved_bytes\": *[0-9]*" | head -1 | grep -o '[0-9]*$')
  if [ -n "$peak" ]; then
    out=$(mktemp "${TMPDIR:-/tmp}/mt-bench-rec.XXXXXX")
    wall "recommend --budget 80%" sh -c '"$0" recommend "$1" --budget "$2" >"$3"' "$MT" "$TRACE" $((peak * 8 / 10)) "$out"
    echo "  ($(grep -m1 'plans replayed' "$out"))"
    rm -f "$out"
  fi
fi
