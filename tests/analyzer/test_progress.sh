#!/bin/sh
# Progress on stderr only when it is a terminal (util-linux script(1) gives
# the command one): report, recommend, replay, import, export and diff say what
# they are doing, erase the line when done, and print nothing extra into a
# pipe.
MT_TEST_NAME=progress
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
plan 18   # 6 commands x 3 cases
if [ ! -x "$ST" ] || ! command -v script >/dev/null || ! "$MT" record --help >/dev/null 2>&1; then
  skip_rest "needs simtrain, memtrace record and script(1)"; done_testing; exit
fi
"$MT" record -q -o "$TMP/run" -- "$ST" --layers 2 --world 2 --zero 1 --steps 2 >/dev/null 2>&1
MTA=$(cd "$(dirname "$MT")" && pwd)/memtrace
set -- "$TMP"/run/*.mtrace
"$MT" export -f torch-snapshot -o "$TMP/snap.pickle" "$1"
for c in "report $TMP/run" "recommend $TMP/run --budget 64MiB" "replay $TMP/run --checkpoint all" \
         "import $TMP/snap.pickle -o $TMP/o.mtrace" "export $TMP/run -f perfetto -o $TMP/o.json" \
         "diff $TMP/run $TMP/run"; do
  n=${c%% *}
  rm -f "$TMP/o.mtrace" "$TMP/o.json"
  # script gives the command a terminal on all three descriptors: redirect
  # stdout only, and let stderr reach the terminal
  script -qec "'$MTA' $c >/dev/null" /dev/null >"$TMP/tty" 2>&1
  rm -f "$TMP/o.mtrace" "$TMP/o.json"
  check "$n: progress on a terminal" grep -q "memtrace $n: " "$TMP/tty"
  check "$n: the line is erased when done" sh -c "tail -c 8 '$TMP/tty' | od -c | grep -q '033   \\[   K'"
  "$MTA" $c >/dev/null 2>"$TMP/pipe.err"
  check "$n: nothing on stderr when it is not a terminal" test ! -s "$TMP/pipe.err"
done
done_testing
