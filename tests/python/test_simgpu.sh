#!/bin/sh
# Real PyTorch (a CUDA 13 build: scripts/install-torch.sh's 2.11) training
# on the simulated GPU (tests/sim/cuda; MT_TEST_REAL_GPU=1: a real one) under memtrace record: the caching
# allocator's history stream, expandable segments, the cudaMallocAsync
# backend and an OOM, each checked against what torch itself reports
# (max_memory_allocated/reserved, the bytes of its parameters, gradients and
# optimizer state, the OOM it raised).  Kernels compute nothing here; the
# allocator runs for real.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
B=${MT_BUILDDIR:-.}
# MT_TEST_REAL_GPU=1: the same checks on a real GPU (docs/validation/pytorch-gpu.sh)
if [ "${MT_TEST_REAL_GPU:-0}" = 1 ]; then
  LDP=${LD_LIBRARY_PATH:-}
  OOMB=$((1 << 40)); OOML="1.00 TiB"
  WHERE="a real GPU"
else
  SIM=$(cd "$B/tests/sim/cuda/.libs" && pwd -P)
  LDP=$SIM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  OOMB=$((1 << 30)); OOML="1.00 GiB"
  WHERE="the simulated GPU"
fi
pys=""
for py in $(torch_pys 2.0); do
  if [ "${MT_TEST_REAL_GPU:-0}" = 1 ]; then
    "$py" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null && pys="$pys $py"
  else
    "$py" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && pys="$pys $py"
  fi
done
if [ -z "$pys" ]; then
  expect_cases 1
  skip_all "no CUDA 13 build of torch >= 2.0 (sh scripts/install-torch.sh)"
fi
export MT_SIM_DEVICES=1
run_sim() { # PY LABEL ALLOC_CONF [OOM_BYTES]
  py=$1; v=$(torch_version "$py"); d=$TMP/sim-$v-$2
  export TAP_PREFIX="torch $v on $WHERE, $2: "
  if LD_LIBRARY_PATH=$LDP PYTORCH_CUDA_ALLOC_CONF=$3 \
      "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/train_simgpu.py" "$d.json" 3 ${4:-} >"$TMP/out" 2>"$TMP/err"; then
    ok "${TAP_PREFIX}training under memtrace record"
  else
    not_ok "${TAP_PREFIX}training failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  tap_py "$py" "$SRC/tests/python/check_simgpu.py" "$d" "$d.json"
  unset TAP_PREFIX
}
for py in $pys; do
  # 19 cases of this script per torch, and its checkers' own plans (tap_py)
  expect_cases 20
  run_sim "$py" default ""
  run_sim "$py" expandable "expandable_segments:True"
  run_sim "$py" async "backend:cudaMallocAsync"
  MT_SIM_DEVICE_MEMORY=$((256 << 20)) run_sim "$py" oom "" $OOMB
  v=$(torch_version "$py")
  "$MT" report "$TMP/sim-$v-oom" > "$TMP/oom.txt" 2>&1
  # the first finding: before the drops line and every section
  l=$(awk '/OUT OF MEMORY|Dropped events|^Rank / { print; exit }' "$TMP/oom.txt")
  case $l in *"OUT OF MEMORY on rank 0"*"$OOML requested"*) ok "the report's first finding is the OOM: $l";;
    *) not_ok "the report's first finding is not the OOM: $l";; esac
  # gradients freed by zero_grad and made again each step (set_to_none, torch's
  # default), several steps between two polls: every one keeps its identity
  d=$TMP/sim-$v-grads
  MT_TEST_SET_TO_NONE=1 LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" \
    "$SRC/tests/python/train_simgpu.py" "$d.json" 6 >"$TMP/out" 2>"$TMP/err" || true
  r=$("$py" - "$d" "$d.json" <<'PY'
import glob, json, sqlite3, sys
exp = json.load(open(sys.argv[2]))
db = sqlite3.connect(glob.glob(sys.argv[1] + "/*.mtrace")[0])
n = db.execute("""SELECT COUNT(*) FROM region_events r JOIN strings s ON s.id = r.label_id
                  WHERE r.op = 1 AND s.value LIKE 'gradient/%'""").fetchone()[0]
print(n, exp["nparams"] * exp["steps"])
PY
)
  set -- $r
  [ -n "${1:-}" ] && [ "$1" = "${2:-x}" ] && ok "torch $v on $WHERE: zero_grad(set_to_none) over 6 steps: each step's $(( $2 / 6 )) gradients labelled ($1 of $2)" \
    || not_ok "gradients labelled with set_to_none over 6 steps: $r $(tail -n 2 "$TMP/err")"
  # a block's stream in the trace is the stream the caching allocator gave
  # it (torch's own snapshot): blocks are never reused across streams, so
  # replay needs it for reserved memory (FSDP2's side streams)
  d=$TMP/sim-$v-streams
  LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/stream_simgpu.py" "$d.json" \
    >"$TMP/out" 2>"$TMP/err" || true
  r=$("$py" - "$d" "$d.json" <<'PY'
import glob, json, sqlite3, sys
exp = json.load(open(sys.argv[2]))
db = sqlite3.connect(glob.glob(sys.argv[1] + "/*.mtrace")[0])
bad = []
for b in exp["blocks"]:
    row = db.execute("""SELECT COALESCE(s.handle, 0) FROM region_events r LEFT JOIN streams s ON s.id = r.stream
                        WHERE r.op = 1 AND r.addr = ? ORDER BY r.ts DESC, r.rowid DESC LIMIT 1""",
                     (b["addr"],)).fetchone()
    if row is None or row[0] != b["stream"]:
        bad.append("%#x: trace %s, torch %#x" % (b["addr"], row and "%#x" % row[0], b["stream"]))
side = sum(1 for b in exp["blocks"] if b["stream"] == exp["side"])
print(len(exp["blocks"]), side, "; ".join(bad) or "-")
PY
)
  case $r in
    "4 2 -") ok "torch $v on $WHERE: each live block's stream in the trace is torch's (2 on a side stream, 2 on the default)";;
    *) not_ok "block streams (blocks, on the side stream, mismatches): $r $(tail -n 2 "$TMP/err")";;
  esac
  # --python-stacks: forward tensors are named by the line that made them
  d=$TMP/sim-$v-stacks
  LD_LIBRARY_PATH=$LDP "$MT" record -q --python-stacks -o "$d" -- "$py" \
    "$SRC/tests/python/train_simgpu.py" "$d.json" 3 >"$TMP/out" 2>"$TMP/err" || true
  line=$(grep -n 'x.unsqueeze(-1) \* self.w' "$SRC/tests/python/train_simgpu.py" | cut -d: -f1)
  r=$("$py" - "$d" "$d.json" "$line" <<'PY'
import glob, json, sqlite3, sys
exp = json.load(open(sys.argv[2]))
db = sqlite3.connect(glob.glob(sys.argv[1] + "/*.mtrace")[0])
n = db.execute("""SELECT COUNT(*) FROM region_events r JOIN frames f ON f.id = r.stack
                  JOIN strings s ON s.id = f.symbol_id
                  WHERE r.op = 1 AND s.value LIKE ?""", ("%%train_simgpu.py:%s forward" % sys.argv[3],)).fetchone()[0]
dense = sum(1 for m in exp["modules"] if m.endswith((".up", ".down")))
print(n, dense * exp["steps"])
PY
)
  set -- $r
  if [ -n "${1:-}" ] && [ "$1" -ge "${2:-1}" ]; then
    ok "torch $(torch_version "$py") on $WHERE, --python-stacks: $1 blocks made at train_simgpu.py:$line (the dense layer's forward line; at least one per dense call, $2)"
  else
    not_ok "--python-stacks: blocks at train_simgpu.py:$line: $r $(tail -n 3 "$TMP/err")"
  fi
  # torch.profiler's memory timeline of the same steps: its category split at the peak
  MT_TEST_PROFILE=$TMP/timeline.raw.json.gz run_sim "$py" profiled ""
  export TAP_PREFIX="torch $(torch_version "$py") on $WHERE, vs torch.profiler: "
  if "$MT" import --format memory-timeline "$TMP/timeline.raw.json.gz" -o "$TMP/timeline.mtrace" >/dev/null 2>"$TMP/err"; then
    ok "${TAP_PREFIX}memory timeline imported"
    tap_py "$py" "$SRC/tests/python/check_profiler.py" "$TMP/sim-$v-profiled" "$TMP/timeline.mtrace"
  else
    not_ok "${TAP_PREFIX}import of the memory timeline: $(cat "$TMP/err")"
  fi
  unset TAP_PREFIX
  # replay and recommend against real torch.utils.checkpoint runs
  d=$TMP/sim-$v-ckpt
  if LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" \
      "$SRC/tests/python/ckpt_simgpu.py" "$d.json" 3 >"$TMP/out" 2>"$TMP/err"; then
    ok "torch $(torch_version "$py") on $WHERE: an 8-block model recorded without checkpointing"
  else
    not_ok "checkpointing model: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  rec=$("$MT" recommend "$d" --budget 70MiB --format json | "$py" -c "
import json, sys
for p in json.load(sys.stdin)['plans']:
    o = p['options'].split()
    if len(o) == 2 and o[0] == '--checkpoint':
        print(o[1]); break")
  for plan in every:2 layers:0 all "${rec:-none}"; do
    pred=$("$MT" replay "$d" --checkpoint "$plan" --format json | "$py" -c "
import json, sys; p = json.load(sys.stdin)['predicted']; print(p['peak_allocated_bytes'], p['peak_reserved_bytes'])")
    arg=$plan; [ "$plan" = every:2 ] && arg=layers:0,2,4,6
    # a fresh measurement per plan: a run that fails must not leave the
    # previous plan's numbers to be compared
    rm -f "$TMP/ck.json"
    LD_LIBRARY_PATH=$LDP "$py" "$SRC/tests/python/ckpt_simgpu.py" "$TMP/ck.json" 3 "$arg" 2>"$TMP/err" ||
      diag "ckpt_simgpu.py $arg failed: $(tail -n 2 "$TMP/err")"
    meas=$("$py" -c "import json; d = json.load(open('$TMP/ck.json')); print(d['max_memory_allocated'], d['max_memory_reserved'])" 2>/dev/null)
    what="predicted with --checkpoint $plan$([ "$plan" = "$rec" ] && echo " (recommend's first checkpoint-only plan for 70 MiB)") vs torch.utils.checkpoint on those blocks: allocated, reserved ($pred vs $meas)"
    # the goal is 1%.  Where the last block is checkpointed (all) the replay
    # keeps one 2 MiB activation longer than torch does, reserved exact
    # (docs/REPLAY.md): that gap exactly is a TODO; any other miss fails.
    verdict=$("$py" -c "
import sys
try:
    p, m = [list(map(int, x.split())) for x in sys.argv[1:3]]
except ValueError:
    p = m = []
if len(p) != 2 or len(m) != 2:
    print('missing')      # no prediction or no measurement: never 'within 1%'
elif all(abs(a - b) <= b // 100 for a, b in zip(p, m)):
    print('within')
elif sys.argv[3] == 'all' and p[0] - m[0] == 2 << 20 and p[1] == m[1]:
    print('gap')
else:
    print('off')" "$pred" "$meas" "$plan")
    case $verdict in
      within) ok "$what within 1%";;
      gap) not_ok "$what # TODO one 2 MiB recomputed activation freed at its last use inside the backward node (torch) vs at the original's free (replay), docs/REPLAY.md";;
      missing) not_ok "$what: no prediction or no measurement";;
      *) not_ok "$what: off by more than 1% (and not the documented 2 MiB gap)";;
    esac
    [ "$plan" = "$rec" ] && rec_meas=$meas
  done
  # once, whatever recommend offered (no plan is a failure, not a missing case)
  set -- ${rec_meas:-}
  if [ -z "$rec" ] || [ -z "${2:-}" ]; then not_ok "recommend offered no checkpoint-only plan for 70 MiB, or it was not measured ($rec)"
  elif [ "$2" -le $((70 << 20)) ]; then ok "the recommended plan ($rec) fits 70 MiB in torch (reserved $2)"
  else not_ok "the recommended plan ($rec) does not fit in torch: reserved $2"; fi
  rec_meas=""
  # a checkpointed run recorded: non-reentrant checkpoint stops its recompute
  # by raising inside the forward (early stop); every range still closes
  d=$TMP/sim-$v-ckpt-all
  LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" "$SRC/tests/python/ckpt_simgpu.py" "$d.json" 3 all \
    >"$TMP/out" 2>"$TMP/err" || true
  r=$("$py" - "$d" <<'PY'
import glob, sqlite3, sys
db = sqlite3.connect(glob.glob(sys.argv[1] + "/*.mtrace")[0])
open_ = db.execute("SELECT COUNT(*) FROM ranges WHERE te IS NULL").fetchone()[0]
rec = [db.execute("SELECT COUNT(*) FROM ranges r JOIN strings s ON s.id = r.name_id WHERE s.value = ?",
                  ("model.blocks.%d.recompute" % i,)).fetchone()[0] for i in range(8)]
print(open_, min(rec), max(rec))
PY
)
  set -- $r
  [ "${1:-x}" = 0 ] && [ "${2:-0}" = 3 ] && [ "${3:-0}" = 3 ] \
    && ok "torch $v on $WHERE: checkpoint on every block recorded: each block's recompute range in each of the 3 steps, no range left open" \
    || not_ok "checkpointed run's ranges (open, min and max recomputes per block): $r $(tail -n 2 "$TMP/err")"
  # CUDA graphs: the private pool's segments named as such, replays allocate nothing
  d=$TMP/sim-$v-graph
  if LD_LIBRARY_PATH=$LDP "$MT" record -q -o "$d" -- "$py" \
      "$SRC/tests/python/graph_simgpu.py" "$d.json" >"$TMP/out" 2>"$TMP/err"; then
    ok "torch $(torch_version "$py") on $WHERE: a CUDA graph captured and replayed under memtrace record"
  else
    not_ok "CUDA graph run failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
  fi
  r=$("$py" - "$d" "$d.json" <<'PY'
import glob, json, sqlite3, sys
db = sqlite3.connect(glob.glob(sys.argv[1] + "/*.mtrace")[0])
exp = json.load(open(sys.argv[2]))
heaps = {(a, n): name for a, n, name in db.execute(
    "SELECT h.addr, h.size, s.value FROM heaps h JOIN strings s ON s.id = h.name_id")}
want = {(a, n): "torch-caching-allocator/private-pool(%s)" % ",".join(map(str, p)) for a, n, p in exp["private"]}
bad = [(k, heaps.get(k), v) for k, v in want.items() if heaps.get(k) != v]
ts, te = db.execute("SELECT r.ts, r.te FROM ranges r JOIN strings s ON s.id = r.name_id WHERE s.value = 'replays'").fetchone()
regs = db.execute("SELECT COUNT(*) FROM region_events WHERE op = 1 AND ts BETWEEN ? AND ?", (ts, te)).fetchone()[0]
print("%d %d %d %d" % (len(want), len(bad), regs, exp["allocations_in_replays"]))
PY
)
  set -- $r
  [ "${1:-0}" -ge 1 ] && [ "${2:-1}" = 0 ] && ok "the $1 segment(s) of torch's private pool are heaps named private-pool(id) (torch's snapshot)" \
    || not_ok "private pool heaps: $r"
  [ "${3:-x}" = "${4:-y}" ] && [ "$3" = 0 ] && ok "graph replays: no allocation in the trace, none in torch's count" \
    || not_ok "graph replays: $3 allocations in the trace, torch counted $4"
done
done_testing
