#!/bin/sh
# The trace reader through report, replay, export and the viewer's loader,
# built with ASan+UBSan (fuzz/san-trace-*: the fuzz harnesses with a plain
# main()), over the checked-in fuzz corpus (fuzz/corpus/trace), fresh real
# recordings (tests/fuzz/mkseeds.sh), their hostile variants
# (tests/analyzer/mkhostile.py) and 8 KiB of garbage at every 4 KiB offset
# of one.  Any sanitizer report fails the harness (-fno-sanitize-recover).
MT_TEST_NAME=sanitized
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
S=${MT_SRCDIR:-.}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1
export MEMTRACE_THREADS=1 TMPDIR="$TMP"
plan 5   # the seeds, then report, replay, export, viewer
check "mkseeds.sh made the seeds" sh "$S/tests/fuzz/mkseeds.sh" "$B" "$TMP/seeds"
python3 "$S/tests/analyzer/mkhostile.py" "$TMP/seeds/simtrain.mtrace" "$TMP/hostile"
mkdir -p "$TMP/garbage"
python3 - "$TMP/seeds/simtrain.mtrace" "$TMP/garbage" <<'PY'
import random, sys
good = open(sys.argv[1], 'rb').read()
for off in range(4096, len(good), 4096):
    random.seed(off)
    b = bytearray(good)
    b[off:off + 8192] = bytes(random.getrandbits(8) for _ in range(8192))
    open('%s/g%06d.mtrace' % (sys.argv[2], off), 'wb').write(bytes(b[:max(len(good), off + 8192)]))
PY
n=$(ls "$S"/fuzz/corpus/trace/* "$TMP"/seeds/* "$TMP"/hostile/* "$TMP"/garbage/* | wc -l)
for t in report replay export viewer; do
  h="$B/fuzz/san-trace-$t"
  if [ ! -x "$h" ]; then ok "$t: sanitized harness # SKIP not built (no GUI)"; continue; fi
  "$h" "$S"/fuzz/corpus/trace/* "$TMP"/seeds/* "$TMP"/hostile/* "$TMP"/garbage/* >"$TMP/log" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then ok "$t: $n traces under ASan+UBSan, no report"
  else not_ok "$t: $n traces under ASan+UBSan (exit $rc)"; grep -m3 -E "ERROR|runtime error|SUMMARY" "$TMP/log" | sed 's/^/#   /'; fi
done
done_testing
