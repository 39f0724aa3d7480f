#!/bin/sh
# torch.multiprocessing.spawn on CPU (gloo) under memtrace record: no
# launcher sets RANK, the rank is what init_process_group was given.  Each
# worker's trace holds the rank and world size torch.distributed reports
# (the PyTorch layer passes them to the collector when the group is made).
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
n=0
for py in $(torch_pys); do
  "$py" -c "import torch.distributed as d; assert d.is_available() and d.is_gloo_available()" 2>/dev/null || continue
  n=$((n + 1))
  expect_cases 2   # per torch with gloo
  v=$(torch_version "$py"); d=$TMP/spawn-$v
  export TAP_PREFIX="torch $v, mp.spawn of 3: "
  if env -u RANK -u WORLD_SIZE -u LOCAL_RANK "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_spawn.py" \
      "$d.exp" 3 >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}the job ran under memtrace record"
  else
    not_ok "${TAP_PREFIX}the job failed: $(tail -n 5 "$TMP/err")"
  fi
  r=$("$MT" info --json "$d" 2>&1 | "$py" -c "
import glob, json, sys
info = json.load(sys.stdin)
got = {r['pid']: (r['rank'], r['world_size']) for r in info.get('ranks', [info])}
exp = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + '.exp.[0-9]'))]
want = {e['pid']: (e['rank'], e['world']) for e in exp}
print('ok' if got == want and len(want) == 3 else 'traces %s, torch %s' % (sorted(got.items()), sorted(want.items())))" "$d" 2>&1)
  [ "$r" = ok ] && ok "${TAP_PREFIX}one trace per worker, each with torch's rank and world size" \
    || not_ok "${TAP_PREFIX}$r"
  unset TAP_PREFIX
done
[ $n -gt 0 ] || { expect_cases 1; skip_all "no torch with gloo"; }
done_testing
