#!/bin/sh
# GNU option order: every command takes its options before or after the
# trace (as perf, nsys and coreutils do); the output is the same either way.
# `record` alone stops at its first operand: what follows is the command.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$(cd "$B" && pwd)/memtrace
W=$(mktemp -d /tmp/mt-options-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 9

"$B/tests/unit/mktrace" basic "$W/t.mtrace"
same() {   # same NAME "options-first command" "options-after command"
  sh -c "$2" >"$W/a" 2>&1; ra=$?
  sh -c "$3" >"$W/b" 2>&1; rb=$?
  if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ -s "$W/a" ] && cmp -s "$W/a" "$W/b"; then ok "$1"
  else not_ok "$1"; diag "exit $ra / $rb"; sed 's/^/#   /' "$W/b" | head -3; fi
}
same "report TRACE --format json" "'$MT' report --format json '$W/t.mtrace'" "'$MT' report '$W/t.mtrace' --format json"
same "report TRACE -f md -r 0" "'$MT' report -f md -r 0 '$W/t.mtrace'" "'$MT' report '$W/t.mtrace' -f md -r 0"
same "info TRACE --json" "'$MT' info --json '$W/t.mtrace'" "'$MT' info '$W/t.mtrace' --json"
same "dump TRACE -t region_events" "'$MT' dump -t region_events '$W/t.mtrace'" "'$MT' dump '$W/t.mtrace' -t region_events"
"$MT" report -f json -o "$W/r.json" "$W/t.mtrace"
same "diff A B -t 3" "'$MT' diff -t 3 '$W/r.json' '$W/t.mtrace'" "'$MT' diff '$W/r.json' '$W/t.mtrace' -t 3"
expect_fail 2 "an unknown option after the trace is still refused" "unknown option '--bogus'" "$MT" report "$W/t.mtrace" --bogus
# record -o creates missing parents, as mkdir -p
check "record -o runs/base creates runs/" sh -c "cd '$W' && '$MT' record -q -o runs/base -- true && test -d runs/base"
: >"$W/plain"
expect_fail 2 "record -o under a regular file: one-line error" "cannot create the run directory" "$MT" record -q -o "$W/plain/x" -- true
check "'--' ends the options: a file named -t is an operand" sh -c "cp '$W/t.mtrace' '$W/-t' && cd '$W' && '$MT' info -- -t >/dev/null"
done_testing
