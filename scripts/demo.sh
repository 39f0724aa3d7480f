#!/bin/sh
# The README's demo: installs dependencies, builds, and runs memtrace's main
# job.  Without a GPU it records `simtrain` — a GPT trained for real steps on
# the simulated CUDA/NCCL/cuBLAS stack, 2 ranks with ZeRO-1 — then prints the
# report and where the HTML report and the traces are.
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
echo
echo "memtrace demo: traces in $out/run/, HTML report at $out/report.html"
echo "memtrace demo: JSON report at $out/report.json; simtrain's own ground truth at $out/simtrain-truth.json"
