#!/bin/sh
# The simulated libnccl.so.2 exports the whole host API of the toolkit's
# nccl.h and everything PyTorch links from NCCL (else `import torch` fails
# with an undefined symbol); the entry points it does not implement answer
# ncclInvalidUsage with one message per name; stubs.c is what gen_stubs.py
# makes of the current nccl.h.  TAP.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
SRC=${MT_SRCDIR:-.}
B=${MT_BUILDDIR:-.}
CUDA_INC=${CUDA_DIR:-/usr/local/cuda}/include
LIB=$B/tests/sim/nccl/.libs/libnccl.so.2
W=$(mktemp -d "${TMPDIR:-/tmp}/mt-stubs.XXXXXX")
trap 'rm -rf "$W"' EXIT
# nccl.h, torch's links, a stub, stubs.c current
plan 4
nm -D --defined-only "$LIB" | awk '{print $3}' | sort -u > "$W/exports"
# every function nccl.h declares (a line "TYPE ncclName(")
sed -n 's/^[A-Za-z_][A-Za-z_ *]*[ *]\(nccl[A-Za-z0-9_]*\)(.*/\1/p' "$CUDA_INC/nccl.h" | sort -u > "$W/header"
missing=$(comm -23 "$W/header" "$W/exports" | tr '\n' ' ')
n=$(wc -l < "$W/header")
[ "$n" -gt 30 ] && [ -z "$missing" ] && ok "all $n functions of nccl.h are exported" \
  || not_ok "functions of nccl.h not exported ($n read): $missing"
# what PyTorch's CUDA library links from NCCL
TORCH_LIB=$(${MT_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/torch-2.11.0}/bin/python -c \
  "import os, torch; print(os.path.dirname(torch.__file__))" 2>/dev/null)/lib/libtorch_cuda.so
if [ -f "$TORCH_LIB" ]; then
  nm -D --undefined-only "$TORCH_LIB" | awk '{print $2}' | sed -n 's/^\(nccl[A-Za-z0-9_]*\).*/\1/p' | sort -u > "$W/torch"
  missing=$(comm -23 "$W/torch" "$W/exports" | tr '\n' ' ')
  [ -s "$W/torch" ] && [ -z "$missing" ] && ok "all $(wc -l < "$W/torch") NCCL symbols libtorch_cuda.so links are exported" \
    || not_ok "NCCL symbols libtorch_cuda.so links and the stand-in lacks: $missing"
else
  skip 1 "no torch 2.11 (sh scripts/install-torch.sh)"
fi
# a stub: its error and one message per name, whatever the number of calls
if python3 - "$LIB" > "$W/out" 2> "$W/err" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
r = [lib.ncclCommShrink(None, None, 0, None, None, 0) for _ in range(3)]
lib.ncclGetLastError.restype = ctypes.c_char_p
print(r, lib.ncclGetLastError(None).decode())
PY
then
  out=$(cat "$W/out"); lines=$(grep -c 'ncclCommShrink is not implemented' "$W/err")
  case "$out" in "[5, 5, 5] ncclCommShrink is not implemented"*)
    [ "$lines" -eq 1 ] && ok "a stub (ncclCommShrink) returns ncclInvalidUsage, says so once in 3 calls, and sets the last error" \
      || not_ok "stub message printed $lines times: $(cat "$W/err")";;
  *) not_ok "stub answered: $out";; esac
else
  not_ok "calling a stub: $(cat "$W/err")"
fi
# stubs.c is current (pycparser needed to regenerate)
if python3 -c "import pycparser" 2>/dev/null; then
  if python3 "$SRC/tests/sim/nccl/gen_stubs.py" "$CUDA_INC" > "$W/stubs.c" 2> "$W/gen.err" && cmp -s "$W/stubs.c" "$SRC/tests/sim/nccl/stubs.c"; then
    ok "stubs.c is what gen_stubs.py makes of $CUDA_INC/nccl.h"
  else
    not_ok "stubs.c is stale: python3 tests/sim/nccl/gen_stubs.py > tests/sim/nccl/stubs.c $(cat "$W/gen.err")"
  fi
else
  skip 1 "no pycparser to regenerate stubs.c"
fi
done_testing
