#!/bin/sh
# Real PyTorch (a CUDA 13 build: scripts/install-torch.sh's 2.11) training
# on the simulated GPU (tests/sim/cuda) under memtrace record: the caching
# allocator's history stream, expandable segments, the cudaMallocAsync
# backend and an OOM, each checked against what torch itself reports
# (max_memory_allocated/reserved, the bytes of its parameters, gradients and
# optimizer state, the OOM it raised).  Kernels compute nothing here; the
# allocator runs for real.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
B=${MT_BUILDDIR:-.}
SIM=$(cd "$B/tests/sim/cuda/.libs" && pwd -P)
pys=""
for py in $(torch_pys 2.0); do
  "$py" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && pys="$pys $py"
done
if [ -z "$pys" ]; then
  ok "# SKIP no CUDA 13 build of torch >= 2.0 (sh scripts/install-torch.sh)"
  done_testing; exit
fi
export MT_SIM_DEVICES=1
run_sim() { # PY LABEL ALLOC_CONF [OOM_BYTES]
  py=$1; v=$(torch_version "$py"); d=$TMP/sim-$2
  export TAP_PREFIX="torch $v on the simulated GPU, $2: "
  if LD_LIBRARY_PATH=$SIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} PYTORCH_CUDA_ALLOC_CONF=$3 \
      "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_simgpu.py" "$d.json" 3 ${4:-} >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}training under memtrace record"
  else
    not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_simgpu.py" "$d" "$d.json"
  unset TAP_PREFIX
}
for py in $pys; do
  run_sim "$py" default ""
  run_sim "$py" expandable "expandable_segments:True"
  run_sim "$py" async "backend:cudaMallocAsync"
  MT_SIM_DEVICE_MEMORY=$((256 << 20)) run_sim "$py" oom "" $((1 << 30))
  "$MT" report "$TMP/sim-oom" > "$TMP/oom.txt" 2>&1
  l=$(grep -v '^ *$' "$TMP/oom.txt" | sed -n 3p)
  case $l in *"OUT OF MEMORY on rank 0"*"1.00 GiB requested"*) ok "the report's first finding is the OOM: $l";;
    *) not_ok "report after the title and run line: $l";; esac
done
done_testing
