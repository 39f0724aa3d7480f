#!/bin/sh
# Kernel names as people read them: report (text, md, html) and dump show
# the demangled name, JSON keeps the mangled one.  The oracle is binutils'
# c++filt, which the code under test does not use.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-names-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 11   # oracle, dump 2, report text/md/html x 2, json, unmangled
if ! command -v c++filt >/dev/null || ! command -v sqlite3 >/dev/null; then
  skip_rest "needs c++filt and sqlite3"; done_testing; exit
fi
M='_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEENS_6detail5ArrayIPcLi1EEEEEviT0_T1_'
"$B/tests/unit/mktrace" basic "$W/t.mtrace"
sqlite3 "$W/t.mtrace" "UPDATE strings SET value = '$M' WHERE id = (SELECT name_id FROM kernels LIMIT 1)"
D=$(c++filt "$M")
check "c++filt demangles the test name (the oracle works)" test "$D" != "$M"
"$MT" dump -t kernels "$W/t.mtrace" >"$W/dump"
check "dump: the demangled name" grep -qF " $D dev=" "$W/dump"
check "dump: not the mangled one" sh -c "! grep -qF '$M' '$W/dump'"
# tables cut long names: compare the first 40 characters
P=$(printf '%s' "$D" | cut -c1-40)
for f in text md html; do
  # Markdown escapes punctuation with backslashes: read it unescaped
  "$MT" report -f $f "$W/t.mtrace" | sed 's/\\//g' >"$W/r.$f"
  check "report $f: the demangled name" grep -qF "$P" "$W/r.$f"
  check "report $f: not the mangled one" sh -c "! grep -qF '_ZN2at6native' '$W/r.$f'"
done
"$MT" report -f json "$W/t.mtrace" >"$W/r.json"
check "report json: keeps the mangled name" grep -qF "\"$M\"" "$W/r.json"
check "a name that is not mangled is left alone" sh -c "cp '$W/t.mtrace' '$W/p.mtrace' && sqlite3 '$W/p.mtrace' \"UPDATE strings SET value = '_Zfoo_not_mangled' WHERE value = '$M'\" && '$MT' report '$W/p.mtrace' | grep -q '_Zfoo_not_mangled'"
done_testing
