# Sourced by the shell tests (and benchmarks) that record simtrain: TAP
# helpers, the build's memtrace ($MT) and simtrain ($ST), the simulated
# CUDA/NCCL/cuBLAS libraries on LD_LIBRARY_PATH, a scratch directory $TMP
# (named after $MT_TEST_NAME, removed at exit) and $SMALL, the small GPT the
# accuracy tests record.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT="$B/memtrace"
ST="$B/tests/sim/simtrain/simtrain"
export LD_LIBRARY_PATH="$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs:$B/tests/sim/cublas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-${MT_TEST_NAME:-test}.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SMALL="--layers 4 --hidden 256 --heads 8 --seq 256 --batch 4 --steps 2"
# After plan N: the rest skipped (and the script ends) without memtrace record or simtrain.
need_record_and_simtrain() {
  if [ ! -x "$MT" ] || ! "$MT" record --help >/dev/null 2>&1 || [ ! -x "$ST" ]; then
    skip_rest "needs memtrace record and simtrain"
    done_testing
    exit 0
  fi
}
