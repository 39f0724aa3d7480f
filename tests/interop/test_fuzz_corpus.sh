#!/bin/sh
# Replays the checked-in fuzz corpus (fuzz/corpus/NAME) through each
# harness (every NAME there; fuzz/local.mk's FUZZ_TARGETS): every input must
# return (no crash, no hang).  Built with ASan+UBSan (`make
# fuzz-asan-replay`, fuzz/asan-replay-NAME) the replay also fails on memory
# errors and undefined behaviour; CI (CI=true) builds those and requires
# them, elsewhere the plain fuzz/replay-NAME is used when they are absent.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
B=${MT_BUILDDIR:-.}
C=${MT_SRCDIR:-.}/fuzz/corpus
plan "$(ls -d "$C"/*/ | wc -l)"
for d in "$C"/*/; do
  t=$(basename "$d")
  r=$B/fuzz/asan-replay-$t; how="under ASan+UBSan"
  # the trace reader's corpus: its sanitized harness is built by make check
  # (fuzz/san-trace-report, through the whole report; test_sanitized.sh
  # runs all four over more inputs)
  [ "$t" = trace ] && r=$B/fuzz/san-trace-report
  if [ ! -x "$r" ]; then
    if [ "${CI:-}" = true ]; then not_ok "$t: no $r (CI=true: make fuzz-asan-replay)"; continue; fi
    r=$B/fuzz/replay-$t; how="without sanitizers (make fuzz-asan-replay for ASan+UBSan)"
  fi
  if [ ! -x "$r" ]; then not_ok "$t: no replay harness $r (fuzz/local.mk)"; continue; fi
  n=$(ls "$d" | wc -l | tr -d ' ')
  if [ "$n" -eq 0 ]; then not_ok "$t: empty corpus $d"; continue; fi
  if ASAN_OPTIONS=abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1 \
      timeout 300 "$r" "$d"* >/dev/null 2>"$TMP/err"; then
    ok "$t: $n corpus inputs replayed $how"
  else
    not_ok "$t: replay failed $how: $(grep -m 3 -E 'ERROR|runtime error|SUMMARY' "$TMP/err" | tr '\n' ' ') $(tail -2 "$TMP/err" | tr '\n' ' ')"
  fi
done
done_testing
