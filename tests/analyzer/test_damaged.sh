#!/bin/sh
# Hostile traces through every reader: report (text, json), export
# (perfetto, torch-snapshot), replay, dump and the viewer's --list-live.
# A trace whose content the analysis cannot rely on is refused with
# "TRACE: damaged: <what>" (exit 2, nothing written); it never crashes and
# never yields a result that differs silently from the sound trace's.
# The hostile traces are made here from a real recording (simtrain under
# `memtrace record`): tests/analyzer/mkhostile.py (values) and 8 KiB of
# garbage written over the file at every 4 KiB offset (pages).
MT_TEST_NAME=damaged
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
S=${MT_SRCDIR:-.}
B=$(cd "$B" && pwd)   # the checks below run inside $TMP
MT="$B/memtrace"
V="$B/gui/memtrace-view"
W=$TMP
# the 13 kinds mkhostile.py's docstring lists, each through 5 commands and
# the viewer (skipped when not built); the recording, mkhostile, 3 garbage
NK=13
plan $((2 + NK * 6 + 3))

"$MT" record -o "$TMP/run" -- "$ST" --layers 2 --hidden 128 --heads 4 --seq 64 --batch 2 --steps 2 >/dev/null 2>&1
cp "$TMP"/run/*.mtrace "$TMP/good.mtrace"
# one file: what is damaged is what is read (no WAL beside it)
sqlite3 "$TMP/good.mtrace" "PRAGMA journal_mode=DELETE" >/dev/null
check "the recording reports" sh -c "'$MT' report '$TMP/good.mtrace' >'$TMP/good.txt'"
check "mkhostile.py wrote the hostile traces" python3 "$S/tests/analyzer/mkhostile.py" "$TMP/good.mtrace" "$TMP/h"

# sound_or_refused NAME REF CMD...: CMD exits 2 with one stderr line
# "FILE: damaged: ..." and writes nothing (no -o file, no temporary), or it
# answers exactly what it answers for the sound trace (REF): the value it
# was given to distrust is one it does not read.  Never a crash, never a
# different answer.
sound_or_refused() {
  name=$1 ref=$2; shift 2
  rm -f "$TMP/o.out"
  "$@" >"$TMP/stdout" 2>"$TMP/err"; rc=$?
  [ -e "$TMP/o.out" ] && cp "$TMP/o.out" "$TMP/stdout"
  if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "\.mtrace: damaged: " "$TMP/err" && \
     [ ! -e "$TMP/o.out" ] && [ -z "$(ls -a "$TMP" | grep '\.part')" ]; then
    ok "$name: refused as damaged"
  elif [ "$rc" -eq 0 ] && [ -n "$ref" ] && cmp -s "$TMP/stdout" "$ref"; then
    ok "$name: the sound trace's answer (what was damaged is not read)"
  else
    not_ok "$name"; diag "exit $rc:"; sed 's/^/#   /' "$TMP/err" | head -3
  fi
}
cd "$TMP"
cp good.mtrace g.mtrace
"$MT" report g.mtrace >ref.report
"$MT" report -f json -o ref.json g.mtrace
"$MT" export -f perfetto -o ref.perfetto g.mtrace
"$MT" export -f torch-snapshot -o ref.snapshot g.mtrace
"$MT" replay --checkpoint all g.mtrace >ref.replay
for f in h/*.mtrace; do
  k=$(basename "$f" .mtrace)
  cp "$f" g.mtrace
  sound_or_refused "$k: report" ref.report "$MT" report g.mtrace
  sound_or_refused "$k: report --format json" ref.json "$MT" report -f json -o o.out g.mtrace
  sound_or_refused "$k: export perfetto" ref.perfetto "$MT" export -f perfetto -o o.out g.mtrace
  sound_or_refused "$k: export torch-snapshot" ref.snapshot "$MT" export -f torch-snapshot -o o.out g.mtrace
  sound_or_refused "$k: replay" ref.replay "$MT" replay --checkpoint all g.mtrace
  if [ -x "$V" ]; then
    "$V" --list-live 1ms g.mtrace >/dev/null 2>"$TMP/err"; rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q "damaged: " "$TMP/err"; then ok "$k: the viewer refuses it"
    else not_ok "$k: the viewer refuses it"; diag "exit $rc"; fi
  else
    skip 1 "$k: the viewer is not built (no GTK 4)"
  fi
done

# 8 KiB of garbage at every 4 KiB offset: refused, or the sound trace's
# answer (the garbage fell on pages nothing reads)
size=$(wc -c <good.mtrace)
silent=0 refusals=0 crashes=0 n=0
off=4096
while [ $off -lt "$size" ]; do
  n=$((n + 1))
  cp good.mtrace g.mtrace
  python3 -c "
import random, sys
random.seed($off)
with open(sys.argv[1], 'r+b') as f:
    f.seek($off); f.write(bytes(random.getrandbits(8) for _ in range(8192)))" g.mtrace
  for c in report export replay; do
    rm -f o.out
    case $c in
    report) "$MT" report g.mtrace >o.out 2>err; rc=$?; ref=ref.report ;;
    export) "$MT" export -f perfetto -o o.out g.mtrace 2>err; rc=$?; ref=ref.perfetto ;;
    replay) "$MT" replay --checkpoint all g.mtrace >o.out 2>err; rc=$?; ref=ref.replay ;;
    esac
    if [ $rc -ge 128 ]; then
      crashes=$((crashes + 1)); diag "$c, garbage at $off: exit $rc"
    elif [ $rc -eq 2 ] && grep -q "damaged" err; then
      refusals=$((refusals + 1))
    elif [ $rc -eq 0 ] && cmp -s o.out $ref; then
      :
    else
      silent=$((silent + 1)); diag "$c, garbage at $off: exit $rc, output differs from the sound trace's"
      sed 's/^/#   /' err | head -2
    fi
  done
  off=$((off + 4096))
done
cd /
diag "garbage at $n offsets x 3 commands: $refusals refused as damaged"
check "garbage: no crash" test $crashes -eq 0
check "garbage: never a different answer with exit 0" test $silent -eq 0
check "garbage: most placements are refused" test $refusals -gt $n
done_testing
