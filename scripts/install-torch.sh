#!/bin/sh
# A PyTorch 2.x for the CPU tests of the PyTorch integration (tests/python),
# beside Debian's python3-torch 1.13: PyPI's torch 2.11.0 (CUDA 13 build, the
# version of the GPU machines) in a virtual environment, without the CUDA
# libraries the CUDA toolkit at --with-cuda already has.  Prints the path of
# a python wrapper that finds those libraries.  Idempotent: an environment
# that imports torch is kept.  Fails (non-zero, a message) without network;
# the tests then run on Debian's torch only and say they skipped 2.x.
#   sh scripts/install-torch.sh [CUDA_DIR]
set -eu
CUDA=${1:-/usr/local/cuda}
V=2.11.0
VENV=${MT_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/torch-$V}
PY=$VENV/bin/python-mt
WRAP_V=2   # the wrapper's version: a newer one is written over an older one
wrapper() {
  NV=$(echo "$VENV"/lib/python3*/site-packages/nvidia)
  cat > "$PY.tmp" <<WRAP
#!/bin/sh
# memtrace torch wrapper $WRAP_V: the caller's LD_LIBRARY_PATH first (the tests
# put the simulated libcudart/libcuda there), then the CUDA libraries torch needs
LD_LIBRARY_PATH=\${LD_LIBRARY_PATH:+\$LD_LIBRARY_PATH:}$NV/cusparselt/lib:$NV/cu13/lib:$NV/nvshmem/lib:$CUDA/lib64
export LD_LIBRARY_PATH
exec "$VENV/bin/python" "\$@"
WRAP
  chmod +x "$PY.tmp"
  "$PY.tmp" -c "import torch" >&2 && mv "$PY.tmp" "$PY"
}
# PuLP and pwlf: torch.distributed._tools' SAC MILP (tests/python/test_sac.sh
# compares recommend with it); best effort: without them that comparison skips
sac_deps() { "$VENV/bin/python" -c "import pulp, pwlf" >/dev/null 2>&1 ||
  "$VENV/bin/pip" install -q --disable-pip-version-check pulp pwlf >/dev/null 2>&1 || true; }
if [ -x "$PY" ] && "$PY" -c "import torch" >/dev/null 2>&1; then
  grep -q "memtrace torch wrapper $WRAP_V:" "$PY" || wrapper || exit 1
  sac_deps
  echo "$PY"
  exit 0
fi
echo "memtrace: installing torch $V into $VENV (PyPI, about 600 MB)" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
/usr/bin/python3 -m venv "$VENV" >&2
LOG=$VENV/install.log
trap 'echo "memtrace: torch $V not installed (log: $LOG)" >&2' EXIT
# pip's resolver complains about the CUDA packages left out on purpose: to the log
pip() { "$VENV/bin/pip" install -q --disable-pip-version-check "$@" >>"$LOG" 2>&1; }
# --no-deps: the CUDA runtime libraries come from the toolkit; only the three
# torch links that the toolkit lacks (cuFile, cuSPARSELt, NVSHMEM) from PyPI
pip --no-deps "torch==$V" nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5 nvidia-cufile==1.15.1.6
pip filelock "typing_extensions>=4.10" "sympy>=1.13.3" networkx jinja2 fsspec numpy "setuptools<82"
wrapper || exit 1
sac_deps
trap - EXIT
echo "$PY"
