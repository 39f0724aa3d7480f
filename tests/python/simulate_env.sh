# Shared by tests/python/test_simulate*.sh (sourced after common.sh and the
# script's expect_cases, its own cases): a CUDA 13 torch >= 2.4 ($py, else
# the rest of those cases are skipped), and dist MODE LAUNCH, which records a
# 2-rank dist_simgpu.py job on 2 simulated GPUs (one case) and checks every
# rank (check_simulate.py, its own plan).
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
W=$TMP
MT=$(cd "$(dirname "$MT")" && pwd -P)/memtrace
py=""
for p in $(torch_pys 2.4); do
  "$p" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && { py=$p; break; }
done
if [ -z "$py" ]; then
  skip_rest "no CUDA 13 build of torch >= 2.4 (sh scripts/install-torch.sh)"
  done_testing; exit
fi
v=$(torch_version "$py")
DIST=$(cd "$SRC/tests/python" && pwd -P)/dist_simgpu.py
# dist MODE LAUNCH: records the 2-rank job, checks every rank
dist() {
  mode=$1 launch=$2; d=$TMP/$mode-$launch; mkdir -p "$d.out"
  export TAP_PREFIX="torch $v, $mode under $launch on 2 simulated GPUs: "
  case $launch in
    torchrun) set -- "$py" -m torch.distributed.run --nproc-per-node 2 --master-port 29541 "$DIST" "$d.out" "$mode" 2;;
    spawn) set -- "$py" "$DIST" "$d.out" "$mode" 2 2 29542;;
    # Open MPI refuses root unless told; 2 ranks on fewer cores need --oversubscribe
    mpirun) set -- env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
              mpirun --oversubscribe -np 2 "$py" "$DIST" "$d.out" "$mode" 2 29544;;
  esac
  t0=$(date +%s)
  if "$MT" record -q --simulate-gpus 2 -o "$d" -- "$@" >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}the job ran under memtrace record ($(( $(date +%s) - t0 )) s)"
  else
    not_ok "${TAP_PREFIX}the job failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_simulate.py" "$d" "$d.out" 2 2
  unset TAP_PREFIX
}
