#!/bin/sh
# Benchmark, not a test (issue 19): median step time of a nanoGPT-style
# PyTorch loop (bench/torch_steps.py, two model sizes) on the simulated GPU
# in four modes, runs interleaved so that machine load hits each alike:
#   bare       record --simulate-gpus 1 --no-collect (no collector)
#   history    the same, with torch's own _record_memory_history() on
#   memtrace   record --simulate-gpus 1
#   no-python  record --simulate-gpus 1 --no-python (collector only)
# Prints, per size, each mode's median over rounds (the lower of two) of
# the per-run median step (ms), the worst max-step/median of its runs, the
# median CPU ms per step (every thread of the job), and the ratios to bare.
# On the simulated GPU a step is all CPU work: the framework-side cost alone.
#   sh bench/torch_steps.sh [STEPS] [ROUNDS] [SIZES]   (from the build dir)
# MT_BENCH_BASE_PYDIR=DIR adds a mode "base": memtrace with the PyTorch
# layer of DIR (e.g. an older collector/python), for before/after.
B=${MT_BUILDDIR:-.}
S=$(cd "$(dirname "$0")/.." && pwd -P)
PY=${MT_TORCH_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/torch-2.11.0/bin/python-mt}
STEPS=${1:-60}
ROUNDS=${2:-3}
SIZES=${3:-small large}
[ -x "$PY" ] || { echo "torch_steps.sh: $PY: no torch (scripts/install-torch.sh)" >&2; exit 1; }
[ -x "$B/memtrace" ] || { echo "torch_steps.sh: $B/memtrace: not built" >&2; exit 1; }
export MEMTRACE_PYTHON_DIR="$S/collector/python"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-steps.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
P="$S/bench/torch_steps.py"
run() {   # mode size round -> "median max/median cpu"
  case $1 in
    bare) "$B/memtrace" record -q --simulate-gpus 1 --no-collect -- "$PY" "$P" "$STEPS" "$2" ;;
    history) "$B/memtrace" record -q --simulate-gpus 1 --no-collect -- "$PY" "$P" "$STEPS" "$2" history ;;
    memtrace) "$B/memtrace" record -q --simulate-gpus 1 -o "$TMP/m$2$3" -- "$PY" "$P" "$STEPS" "$2" ;;
    base) MEMTRACE_PYTHON_DIR="$MT_BENCH_BASE_PYDIR" "$B/memtrace" record -q --simulate-gpus 1 -o "$TMP/b$2$3" -- "$PY" "$P" "$STEPS" "$2" ;;
    no-python) "$B/memtrace" record -q --simulate-gpus 1 --no-python -o "$TMP/n$2$3" -- "$PY" "$P" "$STEPS" "$2" ;;
  esac | tail -n 1
}
MODES="bare history memtrace no-python${MT_BENCH_BASE_PYDIR:+ base}"
for r in $(seq "$ROUNDS"); do
  for s in $SIZES; do
    for m in $MODES; do
      echo "$s $m $(run "$m" "$s" "$r")" >> "$TMP/all"
    done
  done
done
echo "torch_steps: $STEPS steps x $ROUNDS rounds, interleaved; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
for s in $SIZES; do
  awk -v s="$s" -v modes="$MODES" '
    function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                    return a[int((n + 1) / 2)] }
    $1 == s && NF >= 5 { n[$2]++; v[$2, n[$2]] = $3; c[$2, n[$2]] = $5; if ($4 > w[$2]) w[$2] = $4; runs[$2] = runs[$2] " " $3 }
    END {
      printf "model %s: median step ms (runs), worst max/median, ratio to bare; CPU ms/step, ratio to bare\n", s
      k = split(modes, M, " ")
      for (i = 1; i <= k; i++) { m = M[i]; delete a; for (j = 1; j <= n[m]; j++) a[j] = v[m, j]; md[m] = n[m] ? med(a, n[m]) : 0
                                 delete a; for (j = 1; j <= n[m]; j++) a[j] = c[m, j]; mc[m] = n[m] ? med(a, n[m]) : 0 }
      for (i = 1; i <= k; i++) { m = M[i]
        printf "  %-10s %8.3f  (%s)  max/med %5.2f  x%.3f   cpu %8.3f  x%.3f\n", m, md[m], runs[m], w[m],
               md["bare"] ? md[m] / md["bare"] : 0, mc[m], mc["bare"] ? mc[m] / mc["bare"] : 0 }
      printf "  added per step (wall): history %.3f ms, memtrace %.3f ms (memtrace/history %.2f)\n",
             md["history"] - md["bare"], md["memtrace"] - md["bare"],
             (md["history"] > md["bare"]) ? (md["memtrace"] - md["bare"]) / (md["history"] - md["bare"]) : 0
      printf "  added per step (CPU):  history %.3f ms, memtrace %.3f ms (memtrace/history %.2f)\n",
             mc["history"] - mc["bare"], mc["memtrace"] - mc["bare"],
             (mc["history"] > mc["bare"]) ? (mc["memtrace"] - mc["bare"]) / (mc["history"] - mc["bare"]) : 0
    }' "$TMP/all"
done
