#!/bin/sh
# Replays the checked-in fuzz corpus (fuzz/corpus/NAME) through each
# importer's harness: every input must return (no crash, no hang).
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
for t in pickle kineto memtl nsys; do
  r=${MT_BUILDDIR:-.}/fuzz/replay-$t
  d=${MT_SRCDIR:-.}/fuzz/corpus/$t
  if [ ! -x "$r" ]; then ok "$t # SKIP replay harness not built"; continue; fi
  n=$(ls "$d" | wc -l | tr -d ' ')
  if timeout 120 "$r" "$d"/* >/dev/null 2>"$TMP/err"; then ok "$t: $n corpus inputs replayed"
  else not_ok "$t: replay failed: $(tail -2 "$TMP/err" | tr '\n' ' ')"; fi
done
done_testing
