#!/bin/sh
# Output files (-o) of every command that writes one: never an input trace
# (same device and inode, through any name: the path itself, a hard link,
# a trace inside an input run directory), refused with exit 2 and the
# input left byte for byte; and written beside the final name, renamed into
# place: a failure leaves neither a half-written file nor a temporary.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-outputs-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 14   # 8 refusals, import, temporaries, 2 replacements, 2 damaged inputs

"$B/tests/unit/mktrace" basic "$W/a.mtrace"
cp "$W/a.mtrace" "$W/a.orig"
mkdir "$W/run"
"$B/tests/unit/mktrace" basic "$W/run/rank0.mtrace"
cp "$W/run/rank0.mtrace" "$W/run.orig"
ln "$W/a.mtrace" "$W/hardlink.mtrace"

# refuses NAME CMD...: exit 2, one line naming the clash, the inputs intact
refuses() {
  name=$1; shift
  "$@" >"$W/out" 2>"$W/err"; rc=$?
  if [ $rc -eq 2 ] && grep -q "not overwriting" "$W/err" && [ "$(wc -l <"$W/err")" -eq 1 ] && \
     cmp -s "$W/a.mtrace" "$W/a.orig" && cmp -s "$W/run/rank0.mtrace" "$W/run.orig"; then
    ok "$name"
  else
    not_ok "$name"; diag "exit $rc"; sed 's/^/#   /' "$W/err" | head -2
    cp "$W/a.orig" "$W/a.mtrace"; cp "$W/run.orig" "$W/run/rank0.mtrace"
  fi
}
refuses "report -o INPUT INPUT" "$MT" report -o "$W/a.mtrace" "$W/a.mtrace"
refuses "report -f json -o INPUT INPUT" "$MT" report -f json -o "$W/a.mtrace" "$W/a.mtrace"
refuses "report -o (a hard link of the input)" "$MT" report -o "$W/hardlink.mtrace" "$W/a.mtrace"
refuses "report -o (the input through another path)" "$MT" report -o "$W/../$(basename "$W")/a.mtrace" "$W/a.mtrace"
refuses "report -o RUNDIR/rank0.mtrace RUNDIR" "$MT" report -o "$W/run/rank0.mtrace" "$W/run"
refuses "export perfetto -o INPUT INPUT" "$MT" export -f perfetto -o "$W/a.mtrace" "$W/a.mtrace"
refuses "export torch-snapshot -o INPUT INPUT" "$MT" export -f torch-snapshot -o "$W/a.mtrace" "$W/a.mtrace"
refuses "export -o RUNDIR/rank0.mtrace RUNDIR" "$MT" export -f perfetto -o "$W/run/rank0.mtrace" "$W/run"
"$MT" export -f torch-snapshot -o "$W/snap.pickle" "$W/a.mtrace"
cp "$W/snap.pickle" "$W/snap.orig"
"$MT" import -o "$W/snap.pickle" "$W/snap.pickle" >/dev/null 2>"$W/err"; rc=$?
check "import -o INPUT INPUT: refused (exit 2), the input intact" sh -c "[ $rc -eq 2 ] && cmp -s '$W/snap.pickle' '$W/snap.orig'"

check "no temporary left beside the outputs" sh -c "! find '$W' -mindepth 1 -name '*.part*' | grep -q ."

# written beside and renamed: a report -o over an existing file replaces it whole
echo old >"$W/r.txt"
"$MT" report -o "$W/r.txt" "$W/a.mtrace"
check "report -o replaces an existing (non-input) file" sh -c "grep -q 'Dropped events: 3' '$W/r.txt' && ! grep -q '^old' '$W/r.txt'"
check "report -o gives the file the usual mode (0666 less the umask)" \
  sh -c "umask 022; rm -f '$W/m.txt'; '$MT' report -o '$W/m.txt' '$W/a.mtrace' && [ \$(stat -c %a '$W/m.txt') = 644 ]"

# a failure leaves what was there: a damaged input met while writing
cp "$W/a.mtrace" "$W/d.mtrace"
python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute('UPDATE mem_events SET ts = 5000000000000000000 WHERE rowid = 1'); db.commit()" "$W/d.mtrace"
echo previous >"$W/keep.json"
for c in "report -f json" "export -f perfetto"; do
  $MT $c -o "$W/keep.json" "$W/d.mtrace" >/dev/null 2>"$W/err"; rc=$?
  check "$c of a damaged trace: exit 2, the previous output untouched, no temporary" \
    sh -c "[ $rc -eq 2 ] && [ \"\$(cat '$W/keep.json')\" = previous ] && ! find '$W' -mindepth 1 -name '*.part*' | grep -q ."
done
done_testing
