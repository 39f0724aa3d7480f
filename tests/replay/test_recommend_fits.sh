#!/bin/sh
# Every plan `memtrace recommend` says fits really fits (issue 18's bar):
# simtrain (which writes the truth) records the small GPT on 2 ranks,
# recommend lists its plans for a budget, and each fitting plan is run by
# simtrain on a device of exactly that many bytes: no OOM, no crash, a
# measured peak reserved within the budget.  Plans simtrain cannot run
# (ZeRO-3 with optimizer offload) must be refused with a reason, not listed.
# One budget (100 MiB: ~50 plans, under a minute on 2 cores); MT_FITS_BUDGETS
# (MiB, space-separated) runs others (72 and 140 were checked by hand too).
MT_TEST_NAME=recommend-fits
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
BUDGETS=${MT_FITS_BUDGETS:-100}
expect_cases 1
if [ ! -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  skip_all "needs memtrace record and simtrain"
fi
run="$TMP/run"
if "$MT" record -q -o "$run" -- "$ST" $SMALL --world 2 >"$TMP/rec.log" 2>&1; then
  ok "simtrain recorded on 2 ranks"
else
  not_ok "recording failed: $(tail -n 2 "$TMP/rec.log" | tr '\n' ' ')"
fi
for mib in $BUDGETS; do
  B=$((mib << 20))
  expect_cases 2
  "$MT" recommend "$run" --budget "$B" --top 100000 --format json >"$TMP/rec.$mib.json" 2>"$TMP/rec.$mib.err"
  python3 - "$TMP/rec.$mib.json" >"$TMP/plans.$mib" 2>"$TMP/plans.$mib.err" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["plans"]:
    if p["fits"]:
        print("%s|%d" % (p["options"], p["peak_reserved_bytes"]))
PY
  n=$(wc -l <"$TMP/plans.$mib")
  if [ "$n" -gt 0 ]; then ok "recommend --budget ${mib}MiB lists $n fitting plans"
  else not_ok "recommend --budget ${mib}MiB lists no fitting plan: $(head -n 1 "$TMP/rec.$mib.err" "$TMP/plans.$mib.err")"; fi
  # what simtrain cannot run is refused, with the reason, and not listed
  r=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
bad = [p["options"] for p in d["plans"] if "--zero 3" in p["options"] and "--offload optimizer" in p["options"]]
why = [w for w in d["not_considered"] if w.startswith("--offload optimizer") and "zero 3" in w]
print("ok" if not bad and why else "listed %s, refusals %s" % (bad[:3], d["not_considered"]))' "$TMP/rec.$mib.json" 2>&1)
  [ "$r" = ok ] && ok "${mib}MiB: ZeRO-3 with optimizer offload refused with a reason, not listed" \
    || not_ok "${mib}MiB: ZeRO-3 with optimizer offload: $r"
  expect_cases "$n"
  while IFS='|' read -r plan pred; do
    t="$TMP/truth.json"
    rm -f "$t"
    w="--world 2"
    case "$plan" in *--world*) w="";; esac
    # a hang (a collective that never completes) is a failure too
    MT_SIM_DEVICE_MEMORY=$B timeout 120 "$ST" $SMALL $w $plan --truth "$t" >/dev/null 2>"$TMP/st.err"
    rc=$?
    python3 - "$t" "$B" "$plan" "$rc" "$pred" "$mib" <<'PY'
import json, sys
t, B, plan, rc, pred, mib = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
try:
    d = json.load(open(t)); r = d.get("ranks", [d])
    res = max(x["peak_reserved_bytes"] for x in r); oom = "oom" in d or any("oom" in x for x in r)
except Exception:
    res, oom = -1, True
ok = rc == 0 and not oom and 0 <= res <= B
print("%s - %sMiB: '%s' in simtrain on a %d-byte device: exit %d, peak reserved %d (predicted %d)%s" %
      ("ok" if ok else "not ok", mib, plan, B, rc, res, pred, "" if ok else ", OOM, crash or over the budget"))
PY
  done <"$TMP/plans.$mib" >"$TMP/out.$mib"
  tap_lines <"$TMP/out.$mib"
done
done_testing
