#!/bin/sh
# The collector's library-workspace hooks on the simulated cuDNN: its own
# test program (tests/sim/cudnn/test_cudnn, linked against libcudnn.so.9 as
# a framework is) runs an attention-backward plan once without a workspace
# (refused) and once with a buffer it cudaMallocs.  The trace must hold one
# mem_events row op workspace, api cudnnBackendExecute, context dnn: the
# address of that cudaMalloc and the plan's size, which simcudnn.h gives as
# 4 * b * h * s * (d + 1) = 4 * 2 * 4 * 64 * 33 for the test's Q.  (Whether
# test_cudnn itself passes is not the point: under the collector its
# cudnnBackendExecute is the collector's.)
MT_TEST_NAME=libws
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
AB=$(cd "$B" && pwd -P)
PROG=$AB/tests/sim/cudnn/test_cudnn
export MEMTRACE_COLLECTOR="$AB/collector/.libs/libmemtrace-collector.so"
plan 5
if [ ! -x "$PROG" ] || [ ! -e "$AB/tests/sim/cudnn/.libs/libcudnn.so.9" ] || ! command -v python3 >/dev/null; then
  skip_all "the simulated cuDNN, its test program or python3 is missing"
fi
LD_LIBRARY_PATH="$AB/tests/sim/cudnn/.libs:$AB/tests/sim/cuda/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  MT_SIM_DEVICES=1 MT_SIM_DEVICE_MEMORY=256MiB "$MT" record -q -o "$TMP/run" -- "$PROG" >"$TMP/out" 2>&1
set -- "$TMP"/run/*.mtrace
check "memtrace record wrote one trace" test $# -eq 1 -a -f "$1"
r=$(python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ws = db.execute("SELECT m.addr, m.size, c.label, a.label FROM mem_events m "
                "JOIN enum_labels c ON c.enum = 'alloc_context' AND c.value = m.context "
                "JOIN enum_labels a ON a.enum = 'api' AND a.value = m.api "
                "JOIN enum_labels o ON o.enum = 'mem_op' AND o.value = m.op WHERE o.label = 'workspace'").fetchall()
allocs = dict(db.execute("SELECT addr, size FROM mem_events WHERE op = 1 AND result = 0"))
print(len(ws), *(ws[0][2:] if ws else ("-", "-")), ws[0][1] if ws else -1, allocs.get(ws[0][0], -1) if ws else -1)
PY
)
set -- $r
want=$((4 * 2 * 4 * 64 * 33))
check "one workspace row, for the call that had a workspace (got ${1:-none})" test "${1:-0}" = 1
check "its api is cudnnBackendExecute, context dnn (got ${3:-?}, ${2:-?})" test "${3:-}" = cudnnBackendExecute -a "${2:-}" = dnn
check "its size is the plan's workspace, $want B (got ${4:-?})" test "${4:-0}" = "$want"
check "its address is the buffer the program cudaMalloc'd, $want B (got ${5:-?})" test "${5:-0}" = "$want"
done_testing
