#!/bin/sh
# Benchmark, not a test: step time of a PyTorch training loop with and
# without memtrace record (no Python stacks, then with), runs interleaved
# side by side; prints each median and the ratios.  On the simulated GPU
# (real torch, kernels that take no time) a step is only the CPU work of
# PyTorch, so the ratio is an upper bound of what a real GPU would show.
#   sh bench/torch_overhead.sh [PYTHON] [cuda|cpu] [STEPS] [ROUNDS]
# Run from the build directory; PYTHON: a torch (default: the torch 2.11 of
# scripts/install-torch.sh).
B=${MT_BUILDDIR:-.}
S=$(cd "$(dirname "$0")/.." && pwd -P)
PY=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/torch-2.11.0/bin/python-mt}
DEV=${2:-cuda}
STEPS=${3:-200}
ROUNDS=${4:-5}
export MT_SIM_DEVICES=1 MEMTRACE_PYTHON_DIR="$S/collector/python"
# without a GPU, cuda means the simulated one (MT_TEST_REAL_GPU=1: the real device)
[ "$DEV" = cuda ] && [ "${MT_TEST_REAL_GPU:-0}" != 1 ] && \
  export LD_LIBRARY_PATH="$(cd "$B/tests/sim/cuda/.libs" && pwd -P)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
plain="" rec="" stk="" col=""
for r in $(seq "$ROUNDS"); do
  plain="$plain $("$PY" "$S/bench/torch_overhead.py" "$STEPS" "$DEV")"
  col="$col $(MEMTRACE_TORCH=0 "$B/memtrace" record -q -o "$TMP/c$r" -- "$PY" "$S/bench/torch_overhead.py" "$STEPS" "$DEV")"
  rec="$rec $("$B/memtrace" record -q -o "$TMP/r$r" -- "$PY" "$S/bench/torch_overhead.py" "$STEPS" "$DEV")"
  stk="$stk $("$B/memtrace" record -q --python-stacks -o "$TMP/s$r" -- "$PY" "$S/bench/torch_overhead.py" "$STEPS" "$DEV")"
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(med $plain) c=$(med $col) r=$(med $rec) s=$(med $stk)
echo "device $DEV, $STEPS steps x $ROUNDS rounds, median step time (ms) of each round:"
echo "  without memtrace:               $plain  -> $p"
echo "  collector only (MEMTRACE_TORCH=0): $col  -> $c  ($(echo "scale=3; $c / $p" | bc)x)"
echo "  memtrace record:                $rec  -> $r  ($(echo "scale=3; $r / $p" | bc)x)"
echo "  memtrace record --python-stacks: $stk  -> $s  ($(echo "scale=3; $s / $p" | bc)x)"
