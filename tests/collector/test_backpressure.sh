#!/bin/sh
# A ring far too small for the job (64 KiB: 1,024 records, against tens of
# thousands of events a step): the recording thread waits for the drain
# instead of dropping, so nothing is lost and the report's peaks are
# simtrain's truth (its --truth file).  With waiting off
# (MEMTRACE_FULL_WAIT_MS=0, the old behaviour) the same run drops events and
# says so -- which shows the small ring really overflows.
MT_TEST_NAME=backpressure
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  echo "1..0 # SKIP needs memtrace record and simtrain"
  exit 0
fi
# 2 on the waiting run, the checker's 2 against the truth, 2 without waiting
plan 6
run() { # name env...
  n=$1; shift
  env "$@" "$MT" record -q --buffer-size 64KiB -o "$TMP/$n" -- "$ST" --layers 2 --steps 6 --truth "$TMP/$n.json" \
    >"$TMP/$n.log" 2>&1
}
run wait MEMTRACE_FULL_WAIT_MS=1000
check "recorded with a 64 KiB ring" test -s "$TMP/wait.json"
d=$("$MT" info "$TMP/wait" | sed -n 's/^ *dropped: \([0-9]*\).*/\1/p')
check "nothing dropped (dropped: $d)" test "$d" = 0
"$MT" report --format json -o "$TMP/wait.rep.json" "$TMP/wait" 2>"$TMP/err"
python3 - "$TMP/wait.rep.json" "$TMP/wait.json" >"$TMP/py.out" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["ranks"][0]
t = json.load(open(sys.argv[2]))["ranks"][0]
ok = r["peak"]["allocated_bytes"] == t["peak_allocated_bytes"] and r["peak"]["reserved_bytes"] == t["peak_reserved_bytes"]
print(("ok" if ok else "not ok") + " - peaks are the truth's (%d/%d, truth %d/%d)" % (
    r["peak"]["allocated_bytes"], r["peak"]["reserved_bytes"], t["peak_allocated_bytes"], t["peak_reserved_bytes"]))
got = {s["step"]: (s["allocated_bytes"], s["reserved_bytes"]) for s in r["steps"]}
want = {s["step"]: (s["allocated"], s["reserved"]) for s in t["step_peaks"]}
print(("ok" if got == want else "not ok") + " - per-step peaks are the truth's (%d steps)" % len(want))
PY
tap_from "$TMP/py.out"
run nowait MEMTRACE_FULL_WAIT_MS=0
d=$("$MT" info "$TMP/nowait" | sed -n 's/^ *dropped: \([0-9]*\).*/\1/p')
check "without waiting the same ring drops events (dropped: $d)" test "${d:-0}" -gt 0
check "... and the report says so" sh -c "'$MT' report '$TMP/nowait' | grep -q 'WARNING: the collector lost events'"
done_testing
