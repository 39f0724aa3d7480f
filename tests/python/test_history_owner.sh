#!/bin/sh
# A program that records torch's allocator history itself
# (torch.cuda.memory._record_memory_history(max_entries=500) after CUDA is
# up, as people do to dump a snapshot), with real torch on the simulated GPU
# (tests/sim/cuda) under memtrace record: torch has one history ring, the one
# memtrace reads.  memtrace's view stays right -- its peaks equal torch's own
# max_memory_allocated/reserved and the identities of its tensors
# (check_simgpu.py) -- and the program's call is in the trace's meta.  The
# ring shrunk where memtrace cannot see it (torch's C binding): the entries
# lost are counted, from torch's own counts, and stated by the report's
# first lines, memtrace info and the export alike.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
B=${MT_BUILDDIR:-.}
# the logic against a stand-in torch (no torch needed): exact counts
export TAP_PREFIX="stand-in torch: "
tap_py "$PLAIN" "$SRC/tests/python/check_history_fake.py" "$MEMTRACE_PYTHON_DIR"
unset TAP_PREFIX
SIM=$(cd "$B/tests/sim/cuda/.libs" && pwd -P)
pys=""
for py in $(torch_pys 2.1); do
  "$py" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && pys="$pys $py"
done
if [ -z "$pys" ]; then
  expect_cases 1
  skip 1 "no CUDA 13 build of torch >= 2.1 (sh scripts/install-torch.sh)"
  done_testing; exit
fi
export MT_SIM_DEVICES=1
for py in $pys; do
  # 5 cases of this script per torch (the C-shrink ones skipped before 2.6),
  # and check_simgpu.py's own plan (tap_py, twice)
  expect_cases 5
  v=$(torch_version "$py"); d=$TMP/user-$v
  export TAP_PREFIX="torch $v, the program's own history ring of 500: "
  if MT_TEST_USER_HISTORY=500 LD_LIBRARY_PATH=$SIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_simgpu.py" "$d.json" 20 >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}training under memtrace record"
  else
    not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_simgpu.py" "$d" "$d.json"
  m=$("$py" -c "import glob, sqlite3, sys
db = sqlite3.connect(glob.glob(sys.argv[1] + '/*.mtrace')[0])
print((db.execute(\"SELECT value FROM meta WHERE key = 'torch.history_user'\").fetchone() or [''])[0])" "$d")
  case $m in *max_entries=500*) ok "${TAP_PREFIX}the trace records the program's call ($m)";;
    *) not_ok "${TAP_PREFIX}the program's call is not in the trace's meta: '$m'";; esac
  # whatever was lost is stated where the numbers are: the report's first
  # lines and memtrace info agree with the trace's drops table
  lost=$("$py" -c "import glob, sqlite3, sys
db = sqlite3.connect(glob.glob(sys.argv[1] + '/*.mtrace')[0])
print(db.execute('SELECT coalesce(sum(count), 0) FROM drops').fetchone()[0])" "$d")
  head=$("$MT" report "$d" 2>&1 | head -n 6 | grep "Dropped events")
  case $head in *"Dropped events: $lost"*) ok "${TAP_PREFIX}the report's first lines state the $lost dropped events";;
    *) not_ok "${TAP_PREFIX}report's first lines: '$head', the trace's drops: $lost";; esac
  # the same through torch's C binding under the allocator's trace tracker
  # (memtrace's default where it can build it): the history ring is not
  # what memtrace reads, so a ring shrunk where memtrace cannot see it loses
  # nothing, and the peaks are torch's
  d=$TMP/ct-$v
  if ! "$py" -c "import sys, torch; sys.exit(tuple(int(x) for x in torch.__version__.split('.')[:2]) < (2, 6))"; then
    skip 2 "torch $v: the C binding's argument list differs before 2.6"
    continue
  fi
  export TAP_PREFIX="torch $v, the ring shrunk to 500 from C, the tracker read: "
  MT_TEST_USER_HISTORY_C=500 LD_LIBRARY_PATH=$SIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_simgpu.py" "$d.json" 20 >"$TMP/out" 2>"$TMP/err" \
    || not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  r=$("$py" -c "import glob, sqlite3, sys
db = sqlite3.connect(glob.glob(sys.argv[1] + '/*.mtrace')[0])
src = (db.execute(\"SELECT value FROM meta WHERE key = 'torch.alloc_source'\").fetchone() or [''])[0]
print(src, db.execute('SELECT coalesce(sum(count), 0) FROM drops').fetchone()[0])" "$d")
  case $r in
    "tracker 0") ok "${TAP_PREFIX}no entry lost ($r)"; tap_py "$py" "$SRC/tests/python/check_simgpu.py" "$d" "$d.json";;
    history*) skip 1 "the tracker was not built here: $r";;
    *) not_ok "${TAP_PREFIX}source and drops: '$r'";;
  esac
  # the ring shrunk through torch's C binding (a C++ extension would) while
  # memtrace reads the ring (MEMTRACE_TORCH_TRACKER=0; Python stacks, no
  # compiler): no Python call to see, the loss shows as the ring wraps.  How
  # many entries were lost must be stated where the numbers are: the
  # report's first lines, memtrace info, the export's metadata -- the same count
  d=$TMP/c-$v
  export TAP_PREFIX="torch $v, the ring shrunk to 500 from C: "
  MEMTRACE_TORCH_TRACKER=0 MT_TEST_USER_HISTORY_C=500 LD_LIBRARY_PATH=$SIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_simgpu.py" "$d.json" 20 >"$TMP/out" 2>"$TMP/err" \
    || not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  "$MT" export --format perfetto -o "$d.perfetto.json" "$d" >/dev/null 2>&1
  r=$("$py" - "$d" "$MT" <<'PY'
import json, subprocess, sys
d, mt = sys.argv[1], sys.argv[2]
info = json.loads(subprocess.run([mt, "info", "--json", d], capture_output=True, text=True).stdout)
n_info = sum(r["dropped"].get("torch", 0) for r in info["ranks"])
head = subprocess.run([mt, "report", d], capture_output=True, text=True).stdout.splitlines()[:6]
n_rep = next((int(l.split("Dropped events:")[1].split(".")[0]) for l in head if "Dropped events:" in l), -1)
n_exp = json.load(open(d + ".perfetto.json"))["otherData"].get("dropped_events", -1)
print(n_info, n_rep, n_exp)
PY
)
  set -- $r
  if [ "${1:-0}" -gt 0 ] 2>/dev/null && [ "$1" = "${2:-}" ] && [ "$1" = "${3:-}" ]; then
    ok "${TAP_PREFIX}$1 lost entries, stated alike by the report's first lines, memtrace info and the export"
  else
    not_ok "${TAP_PREFIX}lost entries (info, report, export): '$r'"
  fi
  unset TAP_PREFIX
done
done_testing
