#!/bin/sh
# memtrace export: Perfetto/Chrome JSON (valid, one process per rank, no
# overlapping slices, memory counters) and PyTorch snapshot pickles (plain
# data, the structure memory_viz reads; rendered by torch's own
# torch.cuda._memory_viz when a torch is installed; round trip of a real
# snapshot: same segments, blocks and entries).
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
# 13 cases here, and each checker's own plan (tap_py adds it)
expect_cases 13
need_data
PY=
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch.cuda._memory_viz' >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || skip_all "no python3"
C=$MT_SRCDIR/tests/interop

# run_py SCRIPT ARGS...: a python checker (taplib) run by tap.sh's tap_py
run_py() { tap_py "$PY" "$@"; }

SNAP=$DATA/cs336-snapshots/bcrafton__memory_snapshot.pickle
"$MT" import "$SNAP" -o "$TMP/b.mtrace" >/dev/null
check "export torch-snapshot" "$MT" export "$TMP/b.mtrace" --format torch-snapshot -o "$TMP/b.pickle"
run_py "$C/check_snapshot.py" "$TMP/b.pickle" "$SNAP"

"$MT" import "$DATA/hta/facebookresearch__df_index_resolver_df_index_resolver.json.gz" -o "$TMP/df.mtrace" >/dev/null
check "export torch-snapshot of a Kineto import" "$MT" export "$TMP/df.mtrace" --format torch-snapshot -o "$TMP/df.pickle"
run_py "$C/check_snapshot.py" "$TMP/df.pickle"

# Perfetto
check "export perfetto (snapshot import)" "$MT" export "$TMP/b.mtrace" --format perfetto -o "$TMP/b.json"
ALL=parameter,gradient,optimizer_state,activation,temporary,workspace,communication,input,other,cache_free
WANT_CATEGORIES=$ALL WANT_NONZERO=parameter,optimizer_state,cache_free run_py "$C/check_perfetto.py" "$TMP/b.json" 1
check "export perfetto (Kineto import)" "$MT" export "$TMP/df.mtrace" --format perfetto -o "$TMP/df.json"
WANT_CATEGORIES=$ALL run_py "$C/check_perfetto.py" "$TMP/df.json" 1
"$MT" import "$DATA/hta/facebookresearch__memory_analysis_memory_timeline.raw.gz" -o "$TMP/tl.mtrace" >/dev/null
check "export perfetto (memory timeline import)" "$MT" export "$TMP/tl.mtrace" --format perfetto -o "$TMP/tl.json"
WANT_CATEGORIES=$ALL WANT_NONZERO=parameter,optimizer_state,input,activation,gradient,other \
  run_py "$C/check_perfetto.py" "$TMP/tl.json" 1
"$MT" import "$DATA"/hta/facebookresearch__trace_filter_sampled_rank-*.json.gz -o "$TMP/run" >/dev/null
check "export perfetto (run directory, 2 ranks)" "$MT" export "$TMP/run" --format perfetto -o "$TMP/run.json"
WANT_COUNTERS=0 run_py "$C/check_perfetto.py" "$TMP/run.json" 2
"$MT" import "$DATA/nsys-ai/GindaChen__mfu_2gpu_before.sqlite" -o "$TMP/nsys" >/dev/null
check "export perfetto (nsys import: 2 GPU processes, 2 ranks)" "$MT" export "$TMP/nsys" --format perfetto -o "$TMP/nsys.json"
WANT_COUNTERS=0 run_py "$C/check_perfetto.py" "$TMP/nsys.json" 2
"${MT_BUILDDIR:-.}/tests/unit/mktrace" basic "$TMP/basic.mtrace" >/dev/null 2>&1
check "export perfetto (collector-format trace)" "$MT" export "$TMP/basic.mtrace" --format perfetto -o "$TMP/basic.json"
run_py "$C/check_perfetto.py" "$TMP/basic.json" 1
check "export torch-snapshot (collector-format trace)" "$MT" export "$TMP/basic.mtrace" --format torch-snapshot -o "$TMP/basic.pickle"
run_py "$C/check_snapshot.py" "$TMP/basic.pickle"

# errors: exit 2, nothing left
"$MT" export "$TMP/missing.mtrace" --format perfetto -o "$TMP/x.json" 2>/dev/null
eq "missing input: exit 2" "$?" 2
"$MT" export "$TMP/run" --format torch-snapshot -o "$TMP/x.pickle" 2>/dev/null
eq "torch-snapshot of several ranks: exit 2" "$?" 2
printf 'not a trace' > "$TMP/junk.mtrace"
"$MT" export "$TMP/junk.mtrace" --format perfetto -o "$TMP/x.json" 2>/dev/null
eq "not a trace: exit 2" "$?" 2
eq "nothing left behind" "$(ls "$TMP" | grep -c '^x\.')" 0
done_testing
