#!/bin/sh
# torchrun on CPU (gloo) under memtrace record, with every torch found
# (common.sh): DDP, and FSDP2 (fully_shard, torch >= 2.6).  One trace per
# worker with its rank and world size from torchrun's environment, the
# module phases in each, and no trace for the torchrun agent (it imports
# torch but captures nothing).
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
run_dist() { # PY MODE
  py=$1; mode=$2; v=$(torch_version "$py"); d=$TMP/$mode-$v
  expect_cases 3   # and check_dist's plan (tap_py)
  export TAP_PREFIX="torch $v $mode: "
  # --redirects/--tee given explicitly: torch 1.13's torchrun cannot parse
  # its own default ("0") on Python 3.11 (enum.Flag iteration changed)
  if "$MT" record -o "$d" -- "$py" -m torch.distributed.run --standalone --nproc_per_node 2 \
      --redirects 2 --tee 2 "$SRC/tests/python/train_dist.py" "$d.exp" 3 "$mode" >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}torchrun --nproc_per_node 2 under memtrace record"
  else
    not_ok "${TAP_PREFIX}torchrun failed: $(grep -v '^\*' "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_dist.py" "$d" "$d.exp"
  n=$(grep -c "events captured" "$TMP/err")
  [ "$n" = 2 ] && ok "${TAP_PREFIX}record lists the two workers' traces" || not_ok "${TAP_PREFIX}record listed $n traces: $(grep memtrace: "$TMP/err")"
  r=$("$MT" report --format json "$d" 2>&1 | "$py" -c "import json, sys; print(sorted(r['rank'] for r in json.load(sys.stdin)['ranks']))" 2>&1)
  [ "$r" = "[0, 1]" ] && ok "${TAP_PREFIX}memtrace report sees ranks 0 and 1" || not_ok "${TAP_PREFIX}report ranks: $r"
  unset TAP_PREFIX
}
n=0
for py in $(torch_pys); do
  "$py" -c "import torch.distributed as d; assert d.is_available() and d.is_gloo_available()" 2>/dev/null || continue
  run_dist "$py" ddp
  n=$((n + 1))
done
[ $n -gt 0 ] || { expect_cases 1; ok "# SKIP no torch with gloo (python3-torch)"; }
if [ -n "$(torch_pys 2.6)" ]; then
  for py in $(torch_pys 2.6); do run_dist "$py" fsdp2; done
else
  expect_cases 1; ok "# SKIP FSDP2 needs torch >= 2.6 (sh scripts/install-torch.sh)"
fi
done_testing
