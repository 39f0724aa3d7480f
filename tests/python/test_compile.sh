#!/bin/sh
# torch.compile (torch >= 2.3, CPU, inductor) under memtrace record: the
# bootstrap's module hooks do not break dynamo, the compiled module's steps
# are all in the trace although inductor spawns compilers mid-step.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
pys=$(torch_pys 2.3)
if [ -z "$pys" ]; then
  expect_cases 1
  skip_all "torch.compile needs torch >= 2.3 (sh scripts/install-torch.sh)"
fi
for py in $pys; do
  expect_cases 1   # and check_compile's plan (tap_py)
  v=$(torch_version "$py"); d=$TMP/compile-$v
  export TAP_PREFIX="torch $v compile: "
  if TORCHINDUCTOR_CACHE_DIR=$TMP/inductor "$MT" record -o "$d" -- "$py" "$SRC/tests/python/train_compile.py" \
      "$d.json" 3 >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}training under memtrace record"
  else
    not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_compile.py" "$d" "$d.json"
  unset TAP_PREFIX
done
done_testing
