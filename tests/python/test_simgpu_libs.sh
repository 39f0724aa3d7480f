#!/bin/sh
# Real PyTorch (the CUDA 13 build of scripts/install-torch.sh) on the
# simulated GPU with the simulated cuBLAS, cuBLASLt and cuDNN (tests/sim/
# cublas, cublaslt, cudnn): a nanoGPT-style job (nn.Linear, nn.LayerNorm,
# causal SDPA, AdamW) and a conv net, fp32 and bf16 autocast, 3 steps each,
# under memtrace record.  Checked against torch's own numbers and what the
# simulated libraries report (check_nanogpt.py).
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
B=${MT_BUILDDIR:-.}
SIMLIBS=""
for d in cublas/libcublas.so.13 cublaslt/libcublasLt.so.13 cudnn/libcudnn.so.9 cuda/libcudart.so.13; do
  if [ ! -f "$B/tests/sim/${d%/*}/.libs/${d#*/}" ]; then
    expect_cases 1; skip_all "the simulated ${d#*/} is not built (needs nvcc)"
  fi
  SIMLIBS="$SIMLIBS${SIMLIBS:+:}$(cd "$B/tests/sim/${d%/*}/.libs" && pwd -P)"
done
LDP=$SIMLIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
pys=""
for py in $(torch_pys 2.0); do
  "$py" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && pys="$pys $py"
done
if [ -z "$pys" ]; then
  expect_cases 1; skip_all "no CUDA 13 build of torch >= 2.0 (sh scripts/install-torch.sh)"
fi
export MT_SIM_DEVICES=1
unset CUBLAS_WORKSPACE_CONFIG CUBLASLT_WORKSPACE_SIZE MT_SIM_DEVICE_MEMORY
for py in $pys; do
  v=$(torch_version "$py")
  # 4 training runs (and check_nanogpt's plan each, tap_py), 3 zoo models
  expect_cases 7
  for cfg in "gpt fp32" "gpt bf16" "conv fp32" "conv bf16"; do
    set -- $cfg
    d=$TMP/libs-$1-$2
    export TAP_PREFIX="torch $v on the simulated GPU and libraries, $1 $2: "
    if LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_nanogpt.py" "$d.json" 3 "$2" "$1" \
        >"$TMP/out" 2>"$TMP/err"; then
      ok "${TAP_PREFIX}3 training steps under memtrace record"
      tap_py "$py" "$SRC/tests/python/check_nanogpt.py" "$d" "$d.json"
    else
      not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
    fi
    unset TAP_PREFIX
  done
  # $MT_SHARED/workloads/train_zoo.py (MT_ZOO: another copy): models of other
  # shapes with nn.Linear, its bf16 autocast (cuBLAS, cuBLASLt, cuDNN SDPA)
  zoo=${MT_ZOO:-${MT_SHARED:-$SRC/../shared}/workloads/train_zoo.py}
  if [ ! -f "$zoo" ]; then
    skip 3 "no train_zoo.py at $zoo (set MT_ZOO)"
    continue
  fi
  for m in vit bert pairformer; do
    d=$TMP/zoo-$m
    if LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" "$zoo" --model $m --dtype bf16 --out "$d.json" \
        >"$TMP/out" 2>"$TMP/err"; then
      r=$("$py" - "$d" "$d.json" "$MT" <<'PY'
import json, subprocess, sys
exp = json.load(open(sys.argv[2]))
r = json.loads(subprocess.run([sys.argv[3], "report", "--format", "json", sys.argv[1]], check=True,
                              capture_output=True).stdout)["ranks"][0]
print(r["peak"]["allocated_bytes"], exp["max_memory_allocated"], r["reserved_peak"]["bytes"], exp["max_memory_reserved"])
PY
)
      set -- $r
      [ -n "${1:-}" ] && [ "$1" = "${2:-x}" ] && [ "${3:-x}" = "${4:-y}" ] \
        && ok "torch $v, train_zoo.py --model $m --dtype bf16 on the simulated GPU and libraries: peak allocated $1 and reserved $3 == torch's" \
        || not_ok "train_zoo.py --model $m --dtype bf16: memtrace's peaks vs torch's (allocated, torch's, reserved, torch's): $r"
    else
      not_ok "train_zoo.py --model $m --dtype bf16 failed: $(grep -v Warning "$TMP/err" | tail -n 3)"
    fi
  done
done
done_testing
