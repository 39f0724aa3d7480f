#!/bin/sh
# The simulated cuBLAS, cuBLASLt and cuDNN against the toolkit they stand in
# for: (1) the committed generated stubs are what tests/sim/gen_stubs.py
# makes from this toolkit's headers (pycparser); (2) every function the real
# library exports and its headers declare is exported by the stand-in, under
# the real library's symbol version node.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
SRC=${MT_SRCDIR:-.}
B=${MT_BUILDDIR:-.}
CUDA_DIR=$(sed -n 's/^CUDA_DIR = //p' "$B/Makefile" 2>/dev/null)
CUDA_DIR=${CUDA_DIR:-/usr/local/cuda}
W=$(mktemp -d "${TMPDIR:-/tmp}/mt-stubs.XXXXXX")
trap 'rm -rf "$W"' EXIT
plan 9   # 3 per library
PYC=""
for p in python3 /usr/bin/python3; do
  "$p" -c "import pycparser" 2>/dev/null && { PYC=$p; break; }
done
# dir library version-node stubs-file status headers... -- from-headers...
check_lib() {
  dir=$1 lib=$2 node=$3 stubs=$4 status=$5; shift 5
  hdrs="" froms=""; seen=""
  for a in "$@"; do
    if [ "$a" = -- ]; then seen=1; continue; fi
    if [ -z "$seen" ]; then hdrs="$hdrs --header $a"; else froms="$froms --from $a"; fi
  done
  if [ -z "$PYC" ]; then
    ok "# SKIP $stubs: no python with pycparser (apt-get install python3-pycparser)"
  elif "$PYC" "$SRC/tests/sim/gen_stubs.py" --cuda-include "$CUDA_DIR/include" $hdrs $froms --status "$status" \
      -o "$W/stubs.c" 2>"$W/err"; then
    if cmp -s "$W/stubs.c" "$SRC/tests/sim/$dir/$stubs"; then
      ok "tests/sim/$dir/$stubs is gen_stubs.py's output for $CUDA_DIR/include ($(grep -c '^__attribute__((weak))' "$W/stubs.c") entry points)"
    else
      not_ok "tests/sim/$dir/$stubs differs from gen_stubs.py's output for $CUDA_DIR/include (regenerate it)"
    fi
  else
    not_ok "gen_stubs.py failed for $stubs: $(cat "$W/err")"
  fi
  real=$CUDA_DIR/lib64/$lib sim=$B/tests/sim/$dir/.libs/$lib
  if [ ! -f "$real" ] || [ ! -f "$sim" ]; then
    skip 2 "$lib: the real ($real) or the simulated one is missing"
    return
  fi
  # declared: every function name of the headers, as the stubs list them
  grep -o '^__attribute__((weak)) [^(]*(' "$SRC/tests/sim/$dir/$stubs" | sed 's/($//; s/.*[ *]//' | sort -u >"$W/decl"
  nm -D --defined-only "$real" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$W/real"
  nm -D --defined-only "$sim" | awk '{ print $3 }' >"$W/simv"
  sed 's/@.*//' "$W/simv" | sort -u >"$W/sim"
  comm -12 "$W/real" "$W/decl" >"$W/want"
  miss=$(comm -23 "$W/want" "$W/sim" | head -n 5 | tr '\n' ' ')
  [ -s "$W/want" ] && [ -z "$miss" ] \
    && ok "$lib: the stand-in exports all $(wc -l <"$W/want") functions the real one exports and the headers declare" \
    || not_ok "$lib: exported by the real library, declared, missing from the stand-in: $miss"
  bad=$(grep -v "@@$node\$" "$W/simv" | grep -v "^$node\$" | head -n 3 | tr '\n' ' ')
  [ -z "$bad" ] && ok "$lib: every export under version node $node, as the real library" \
    || not_ok "$lib: exports outside version node $node: $bad"
}
check_lib cublas libcublas.so.13 libcublas.so.13 cublas_stubs.c CUBLAS_STATUS_NOT_SUPPORTED cublas_v2.h -- cublas_api.h
check_lib cublaslt libcublasLt.so.13 libcublasLt.so.13 cublaslt_stubs.c CUBLAS_STATUS_NOT_SUPPORTED cublasLt.h -- cublasLt.h
check_lib cudnn libcudnn.so.9 libcudnn.so.9 cudnn_stubs.c CUDNN_STATUS_NOT_SUPPORTED cudnn.h -- \
  cudnn_graph.h cudnn_ops.h cudnn_cnn.h cudnn_adv.h
done_testing
