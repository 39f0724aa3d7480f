#!/bin/sh
# recommend --maximize batch|seq checked against simtrain: the value it
# gives, applied by simtrain on a device of exactly the budget, fits (exit
# 0, no OOM), and the next value does not.  The recording is simtrain's
# small GPT (it states its shape: NVTX "memtrace.shape batch=B seq=S");
# the Evoformer states no batch, so maximizing it is refused with why.
MT_TEST_NAME=maximize
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
plan 4
need_record_and_simtrain
if ! "$MT" record -q -o "$TMP/gpt" -- "$ST" $SMALL >/dev/null 2>&1 ||
   ! "$MT" record -q -o "$TMP/evo" -- "$ST" $SMALL --arch evoformer >/dev/null 2>&1; then
  not_ok "recording simtrain failed"
  skip_rest "no recording"
  done_testing
  exit 0
fi

# runs NAME BUDGET_MIB WHAT SIMOPT [TECHNIQUES]: one case
runs() {
  name=$1 mib=$2 what=$3 simopt=$4; shift 4
  B=$((mib * 1024 * 1024))
  out=$("$MT" recommend "$TMP/gpt" --budget ${mib}MiB --maximize "$what" "$@" --format json 2>"$TMP/err") ||
    { not_ok "$name: recommend failed: $(head -n 1 "$TMP/err")"; return; }
  v=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
  n=$((v + 1))
  MT_SIM_DEVICE_MEMORY=$B "$ST" $SMALL "$@" $simopt "$v" >/dev/null 2>&1; rv=$?
  MT_SIM_DEVICE_MEMORY=$B "$ST" $SMALL "$@" $simopt "$n" >/dev/null 2>&1; rn=$?
  what="$name: largest $what in ${mib} MiB = $v (simtrain on a device of the budget: $v exits $rv, $n exits $rn)"
  if [ $rv = 0 ] && [ $rn != 0 ]; then ok "$what"; else not_ok "$what"; fi
}
runs "batch" 300 batch --batch
runs "seq" 300 seq --seq
runs "batch at fp32" 300 batch --batch --precision fp32

"$MT" recommend "$TMP/evo" --budget 300MiB --maximize batch >"$TMP/out" 2>"$TMP/err"; rc=$?
if [ $rc != 0 ] && grep -q "batch" "$TMP/err" && [ ! -s "$TMP/out" ]; then
  ok "Evoformer: --maximize batch refused with the reason ($(cat "$TMP/err"))"
else
  not_ok "Evoformer: --maximize batch: exit $rc, $(cat "$TMP/out" "$TMP/err" | head -n 2)"
fi
done_testing
