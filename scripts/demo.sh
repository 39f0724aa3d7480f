#!/bin/sh
# The README's demo: installs dependencies, builds, and runs memtrace's main
# job.  Without a GPU it records `simtrain` — a GPT trained for real steps on
# the simulated CUDA/NCCL/cuBLAS stack, 2 ranks with ZeRO-1 — then prints the
# report, then what the tool exists for: `recommend` finds the plans that
# fit a smaller GPU (each replayed), and `replay` checks the best one.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh
top=$(pwd)
out=$top/demo-out
rm -rf "$out"
mkdir -p "$out"

if [ -e /dev/nvidiactl ] && [ -z "${MEMTRACE_DEMO_SIMULATE:-}" ]; then
  echo "memtrace demo: a GPU is present; the demo still uses the simulated stack (set up a PyTorch job and run: memtrace -- python train.py)" >&2
fi
# The simulated stack stands in for libcudart/libcuda/libnccl/libcublas.
LD_LIBRARY_PATH=$top/tests/sim/cublas/.libs:$top/tests/sim/cuda/.libs:$top/tests/sim/nccl/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

echo "==> memtrace record -o $out/run -- simtrain --layers 4 --world 2 --zero 1 --steps 3"
./memtrace record -o "$out/run" -- tests/sim/simtrain/simtrain --layers 4 --world 2 --zero 1 --steps 3 \
  --truth "$out/simtrain-truth.json"
echo
./memtrace report "$out/run"
./memtrace report --format html -o "$out/report.html" "$out/run"
./memtrace report --format json -o "$out/report.json" "$out/run"

# What the tool exists for: the same job on a GPU with 30% less memory.
peak=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["peak_reserved_bytes"])' "$out/report.json")
budget=$((peak * 7 / 10))
echo
echo "==> memtrace recommend $out/run --budget $budget   (70% of the recorded peak reserved)"
./memtrace recommend "$out/run" --budget "$budget" --top 5 || true
plan=$(./memtrace recommend "$out/run" --budget "$budget" --top 1 --format json |
  python3 -c 'import json,sys; p=json.load(sys.stdin)["plans"]; print(p[0]["options"] if p and p[0]["fits"] else "")')
if [ -n "$plan" ]; then
  echo
  echo "==> memtrace replay $out/run $plan   (the best plan, checked by replaying the trace)"
  # shellcheck disable=SC2086  # the plan is a list of options
  ./memtrace replay "$out/run" $plan
fi
echo
echo "memtrace demo: traces in $out/run/, HTML report at $out/report.html"
echo "memtrace demo: JSON report at $out/report.json; simtrain's own ground truth at $out/simtrain-truth.json"
