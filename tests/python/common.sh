# Shared by tests/python/*.sh: TAP helpers, the memtrace binary, a python
# with torch (MT_PYTHON, else the first of python3, /usr/bin/python3 that
# imports torch), a temporary directory.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
SRC=${MT_SRCDIR:-.}
MT=${MT_BUILDDIR:-.}/memtrace
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-python.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# Every python with a distinct torch: MT_PYTHON (may list several), the
# torch 2.x of scripts/install-torch.sh, then python3 and Debian's
# /usr/bin/python3 (python3-torch 1.13).  PYS: "python<TAB>version" lines;
# PY: the first, for the tests that need one torch only.
TORCH_VENV_PY=${MT_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/torch-2.11.0}/bin/python-mt
PYS=""
for p in ${MT_PYTHON:-} "$TORCH_VENV_PY" python3 /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 || continue
  v=$("$p" -c "import torch; print(torch.__version__)" 2>/dev/null) || continue
  printf '%s\n' "$PYS" | cut -f2 | grep -qxF "$v" && continue
  PYS="$PYS${PYS:+
}$p	$v"
done
PY=$(printf '%s\n' "$PYS" | head -n 1 | cut -f1)
PLAIN=${PY:-python3}     # any python, for what needs no torch
# torch_pys [MIN_MAJOR.MINOR]: the pythons of PYS whose torch is at least that
torch_pys() {
  printf '%s\n' "$PYS" | while IFS='	' read -r p v; do
    [ -n "$p" ] || continue
    if [ -n "${1:-}" ]; then
      "$p" -c "import sys, torch; sys.exit(tuple(int(x) for x in torch.__version__.split('.')[:2]) < tuple(int(x) for x in sys.argv[1].split('.')))" "$1" 2>/dev/null || continue
    fi
    echo "$p"
  done
}
torch_version() { "$1" -c "import torch; print(torch.__version__)"; }
