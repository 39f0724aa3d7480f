#!/bin/sh
# DDP under torchrun (CPU, gloo) under memtrace record: one trace per
# worker with its rank and world size from torchrun's environment, the
# module phases of the DDP-wrapped model in each, and no trace for the
# torchrun agent (it imports torch but captures nothing).
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
if [ -z "$PY" ] || ! "$PY" -c "import torch.distributed as d; assert d.is_available() and d.is_gloo_available()" 2>/dev/null; then
  ok "# SKIP no torch with gloo (python3-torch)"
  done_testing; exit
fi
# --redirects/--tee given explicitly: torch 1.13's torchrun cannot parse its
# own default ("0") on Python 3.11 (enum.Flag iteration changed)
if "$MT" record -o "$TMP/run" -- "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 \
    --redirects 2 --tee 2 "$SRC/tests/python/train_ddp.py" "$TMP/exp" 3 >"$TMP/out" 2>"$TMP/err"; then
  ok "torchrun --nproc_per_node 2 under memtrace record"
else
  not_ok "torchrun failed: $(grep -v '^\*' "$TMP/err" | tail -n 5)"
fi
tap_py "$PY" "$SRC/tests/python/check_ddp.py" "$TMP/run" "$TMP/exp"
n=$(grep -c "events captured" "$TMP/err")
[ "$n" = 2 ] && ok "record lists the two workers' traces" || not_ok "record listed $n traces: $(grep memtrace: "$TMP/err")"
"$MT" report "$TMP/run" > "$TMP/report" 2>&1
grep -q "2 processes" "$TMP/report" && ok "memtrace report sees the run as 2 processes" \
  || not_ok "report: $(head -n 4 "$TMP/report")"
done_testing
