# Shared by tests/python/*.sh: TAP helpers, the memtrace binary, a python
# with torch (MT_PYTHON, else the first of python3, /usr/bin/python3 that
# imports torch), a temporary directory.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
SRC=${MT_SRCDIR:-.}
MT=${MT_BUILDDIR:-.}/memtrace
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-python.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PY=""
for p in ${MT_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c "import torch" >/dev/null 2>&1; then PY=$p; break; fi
done
PLAIN=${PY:-python3}     # any python, for what needs no torch
# Runs python SCRIPT... with TAP numbering continued; appends its lines.
tap_py() {
  out=$(TAP_START=$((_tap_n + 1)) "$@" 2>"$TMP/py.err")
  printf '%s\n' "$out" | grep -v '^#count'
  c=$(printf '%s\n' "$out" | sed -n 's/^#count //p')
  if [ -z "$c" ]; then not_ok "python check crashed: $(tail -n 3 "$TMP/py.err" | tr '\n' ' ')"; return; fi
  _tap_n=${c% *}; _tap_failed=$((_tap_failed + ${c#* }))
}
