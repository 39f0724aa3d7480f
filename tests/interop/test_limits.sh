#!/bin/sh
# Importers refuse hostile nesting with bounded memory: an 8 MB pickle of
# nested lists (through the stack, and through the memo at a constant stack
# depth), and 8 MB of nested JSON arrays for the Kineto and memory-timeline
# readers, each refused with one line naming the file, under a 200 MiB
# address-space limit (ulimit -v; the unbounded pickle reader needed
# ~950 MB to refuse the first).  Real PyTorch snapshots still import.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-limits-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 6
python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
n = 4 * 1024 * 1024
# EMPTY_LIST x n then APPEND x n: n levels, all on the stack
open(w + '/stack.pickle', 'wb').write(b'\x80\x02' + b']' * n + b'a' * (n - 1) + b'.')
# bottom-up through the memo: EMPTY_LIST, BINGET 0, APPEND, BINPUT 0, repeated
open(w + '/memo.pickle', 'wb').write(b'\x80\x02]q\x00' + b']h\x00aq\x00' * (8 * 1024 * 1024 // 6) + b'.')
open(w + '/deep.json', 'w').write('{"traceEvents":' + '[' * (8 * 1024 * 1024) + ']' * (8 * 1024 * 1024) + '}')
PY
# refused_small NAME PATTERN CMD...: exit 2, one stderr line naming the file
# and matching PATTERN, within 200 MiB of address space
refused_small() {
  name=$1 pat=$2; shift 2
  (ulimit -v 204800; "$@") >"$W/out" 2>"$W/err"; rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$W/err")" -eq 1 ] && grep -q "$pat" "$W/err"; then ok "$name"
  else not_ok "$name"; diag "exit $rc"; sed 's/^/#   /' "$W/err" | head -2; fi
}
refused_small "pickle nested on the stack: refused in bounded memory" "stack.pickle: pickle: nested too deeply" \
  "$MT" import -o "$W/a.mtrace" "$W/stack.pickle"
refused_small "pickle nested through the memo: refused in bounded memory" "memo.pickle: pickle: nested deeper than 64" \
  "$MT" import -o "$W/b.mtrace" "$W/memo.pickle"
refused_small "Kineto JSON nested 8M deep: refused in bounded memory" "deep.json" \
  "$MT" import -f kineto -o "$W/c.mtrace" "$W/deep.json"
refused_small "memory-timeline JSON nested 8M deep: refused in bounded memory" "deep.json" \
  "$MT" import -f memory-timeline -o "$W/d.mtrace" "$W/deep.json"
check "no output left by the refusals" sh -c "! ls '$W' | grep -q mtrace"
snap="${MT_SHARED:-}/validation/data/cs336-snapshots/notHanmin__memory_snapshot.pickle"
if [ -n "${MT_SHARED:-}" ] && [ -f "$snap" ]; then
  check "a real 3.7 MB snapshot still imports (same limits)" sh -c "(ulimit -v 204800; '$MT' import -o '$W/real.mtrace' '$snap')"
elif [ "${CI:-}" = true ]; then
  not_ok "a real snapshot still imports: CI=true and the shared validation data is missing: $snap"
else
  skip 1 "a real snapshot still imports: no shared validation data at $snap (outside CI)"
fi
done_testing
