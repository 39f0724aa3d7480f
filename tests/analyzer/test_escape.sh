#!/bin/sh
# A trace's strings (labels, range and kernel names, the command line) may
# hold terminal control sequences: every text output shows them escaped
# (\x1b, \u009b, \n), never as the bytes a terminal would act on.
MT_TEST_NAME=escape
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
W=$TMP
V="$B/gui/memtrace-view"
plan 10   # text/md x 2, dump 3, info, viewer 2
"$B/tests/unit/mktrace" basic "$W/e.mtrace"
# OSC (set the window title), CSI clear screen, a C1 CSI (U+009B), a bare
# newline and an invalid byte; in a label, a kernel name, a range name and
# the command line
python3 - "$W/e.mtrace" <<'PY'
import sqlite3, sys
evil = "\x1b]0;owned\x07\x1b[2J\u009b31mred\nnext"
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE strings SET value = ? WHERE value = 'parameter/layer.0.qkv.weight'", ("parameter/" + evil,))
db.execute("UPDATE strings SET value = ? WHERE value = 'ampere_bf16_s16816gemm'", ("gemm" + evil,))
db.execute("UPDATE strings SET value = ? WHERE value = 'step 0'", ("step 0" + evil,))
db.execute("UPDATE process SET command_line = ?", ("simtrain " + evil,))
# a byte that is not UTF-8, through a blob cast to text
db.execute("UPDATE process SET host = CAST(x'686f7374ff1b5b41' AS TEXT)")
db.commit()
PY
# raw: a control byte other than newline (and tab, where the format uses
# tabs), or a C1 control in UTF-8
raw() { python3 -c "
import sys
b = open(sys.argv[1], 'rb').read()
bad = [c for c in b if (c < 0x20 and c not in (10, 9)) or c == 0x7f] + [1 for i in range(len(b) - 1) if b[i] == 0xc2 and 0x80 <= b[i + 1] < 0xa0]
sys.exit(1 if bad else 0)" "$1"; }
for f in text md; do
  "$MT" report -f $f "$W/e.mtrace" >"$W/r.$f"
  check "report -f $f: no raw control characters" raw "$W/r.$f"
  check "report -f $f: the label shown escaped" grep -q 'parameter/\\x1b]0;owned\\x07\\x1b\[2J\\u009b31mred\\nnext' "$W/r.$f"
done
"$MT" dump "$W/e.mtrace" >"$W/dump"
check "dump: no raw control characters" raw "$W/dump"
check "dump: the label, kernel, range and command line escaped" sh -c "
  grep -q 'label=parameter/\\\\x1b' '$W/dump' && grep -q 'gemm\\\\x1b' '$W/dump' &&
  grep -q 'step 0\\\\x1b' '$W/dump' && grep -q '^# command: simtrain \\\\x1b' '$W/dump'"
check "dump: a byte that is not UTF-8 escaped" grep -q 'host host\\xff\\x1b\[A' "$W/dump"
"$MT" info "$W/e.mtrace" >"$W/info"
check "info: no raw control characters" raw "$W/info"
if [ -x "$V" ]; then
  "$V" --list-live 25ns "$W/e.mtrace" >"$W/live" 2>"$W/err"
  check "viewer --list-live: no raw control characters" raw "$W/live"
  check "viewer --list-live: the label escaped" grep -q 'parameter/\\x1b]0;owned' "$W/live"
else
  skip 2 "the viewer is not built (no GTK 4)"
fi
done_testing
