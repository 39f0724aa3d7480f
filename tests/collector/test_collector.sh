#!/bin/sh
# TAP tests of the collector and `memtrace record` / `memtrace info` on the
# simulated CUDA stack (tests/sim/cuda, tests/sim/nccl, tests/sim/cublas):
# simtrain counts equal its truth exactly per rank at world sizes 1, 2, 4;
# the nvcc static-runtime program is captured through cuGetProcAddress;
# 16 threads x 100k pairs lose nothing; fork, exec, _exit, SIGKILL, SIGSEGV;
# exit status and stdout unchanged; `memtrace info` errors.
B=${MT_BUILDDIR:-.}
S=${MT_SRCDIR:-.}
. "$S/tests/unit/tap.sh"
M=$B/memtrace
P=$B/tests/collector/cprog
SIMTRAIN=$B/tests/sim/simtrain/simtrain
STATIC=$B/tests/collector/static_prog
MEMTRACE_COLLECTOR=$B/collector/.libs/libmemtrace-collector.so
export MEMTRACE_COLLECTOR
LD_LIBRARY_PATH=$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if [ ! -e "$B/tests/sim/cuda/.libs/libcudart.so.13" ] || [ ! -x "$P" ] || [ ! -e "$MEMTRACE_COLLECTOR" ] || ! command -v python3 >/dev/null; then
  echo "1..0 # SKIP the simulated CUDA runtime, the test program, the collector or python3 is missing"
  exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/collector-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
CMP="python3 $S/tests/collector/compare_truth.py"
# jq-free JSON field access
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['ranks'][int(sys.argv[2])] if 'ranks' in d else d
for k in sys.argv[3].split('.'): r=r[k]
print(str(r).lower() if isinstance(r, bool) else r)" "$@"; }
ntraces() { ls "$1"/*.mtrace 2>/dev/null | wc -l; }

# ---- simtrain against its truth ------------------------------------------
if [ -x "$SIMTRAIN" ] && [ -e "$B/tests/sim/nccl/.libs/libnccl.so.2" ] && [ -e "$B/tests/sim/cublas/.libs/libcublas.so.13" ]; then
  i=0
  while read -r label args; do
    i=$((i + 1))
    d=$T/st$i
    if timeout 120 "$M" record -q -o "$d" -- "$SIMTRAIN" $args --truth-tensors none --truth "$T/st$i.json" >"$T/st$i.out" 2>&1 &&
       "$M" info --json "$d" >"$T/st$i.info" 2>>"$T/st$i.out" &&
       $CMP "$T/st$i.info" "$T/st$i.json" >>"$T/st$i.out" 2>&1; then
      ok "simtrain $label: info counts = truth per rank, nothing dropped"
    else
      not_ok "simtrain $label: info counts = truth per rank, nothing dropped"
      sed 's/^/# /' "$T/st$i.out" | tail -20
    fi
  done <<'CASES'
world-1 --steps 2
world-1-ckpt-offload --checkpoint all --offload optimizer --steps 2
world-1-selective-microbatch --checkpoint selective --micro-batches 2 --steps 2
world-2-zero2 --world 2 --zero 2 --steps 2
world-2-ulysses --world 2 --sp 2 --sp-kind ulysses --steps 2
world-4-zero3 --world 4 --zero 3 --steps 2
world-4-ddp-flash --world 4 --attention flash --micro-batches 2 --steps 2
CASES
  # torchrun-style: each rank its own process with RANK/WORLD_SIZE, one run
  mkdir -p "$T/rdv"
  if timeout 120 "$M" record -q -o "$T/lm" -- sh -c "
      for r in 0 1; do RANK=\$r WORLD_SIZE=2 LOCAL_RANK=\$r MT_SIM_DEVICES=2 MT_SIM_RENDEZVOUS='$T/rdv' MASTER_PORT=7 \
        '$SIMTRAIN' --zero 1 --steps 2 --truth-tensors none --truth '$T/lm.json' & done; wait" >"$T/lm.out" 2>&1 &&
     "$M" info --json "$T/lm" >"$T/lm.info" && [ "$(field "$T/lm.info" 1 rank_source)" = environment ] &&
     $CMP "$T/lm.info" "$T/lm.json.rank0.json" "$T/lm.json.rank1.json" >>"$T/lm.out" 2>&1; then
    ok "simtrain launcher mode (RANK/WORLD_SIZE), 2 ranks: counts = truth, ranks from the environment"
  else
    not_ok "simtrain launcher mode (RANK/WORLD_SIZE), 2 ranks: counts = truth, ranks from the environment"
    sed 's/^/# /' "$T/lm.out" | tail -20
  fi
  # OOM: simtrain exits 1 with PyTorch's message; the failed cudaMalloc is an oom row
  MT_SIM_DEVICE_MEMORY=256MiB timeout 120 "$M" record -q -o "$T/oom" -- "$SIMTRAIN" --truth-tensors none --truth "$T/oom.json" >"$T/oom.out" 2>&1
  rc=$?
  "$M" info --json "$T/oom" >"$T/oom.info" 2>/dev/null
  if [ $rc -eq 1 ] && [ "$(field "$T/oom.info" 0 events.oom)" -ge 1 ] && [ "$(field "$T/oom.info" 0 events.alloc_failed)" -ge 1 ] &&
     $CMP "$T/oom.info" "$T/oom.json" >>"$T/oom.out" 2>&1; then
    ok "simtrain OOM: exit status 1 kept, failed allocation recorded as an oom, counts = truth"
  else
    not_ok "simtrain OOM: exit status 1 kept, failed allocation recorded as an oom, counts = truth (rc $rc)"
    sed 's/^/# /' "$T/oom.out" | tail -10
  fi
else
  ok "# SKIP simtrain or the simulated NCCL/cuBLAS not built"
fi

# ---- nvcc static runtime: driver only, through cuGetProcAddress -------------
if [ -x "$STATIC" ]; then
  if "$M" record -q -o "$T/static" -- "$STATIC" 25 >"$T/static.out" 2>&1 && "$M" info --json "$T/static" >"$T/static.info" &&
     [ "$(field "$T/static.info" 0 events.alloc)" = 25 ] && [ "$(field "$T/static.info" 0 events.free)" = 25 ] &&
     [ "$(field "$T/static.info" 0 events.kernel)" = 50 ] && [ "$(field "$T/static.info" 0 events.memcpy)" = 25 ] &&
     [ "$(sqlite3 "$T"/static/*.mtrace "SELECT count(DISTINCT s.value) FROM kernels k JOIN strings s ON s.id = k.name_id WHERE s.value LIKE '%mt_static_%'" 2>/dev/null || echo 2)" = 2 ]; then
    ok "nvcc static-runtime program fully captured (25 alloc, 25 free, 50 named kernels, 25 copies)"
  else
    not_ok "nvcc static-runtime program fully captured"
    sed 's/^/# /' "$T/static.out" "$T/static.info" | tail -20
  fi
else
  ok "# SKIP no nvcc: static-runtime program not built"
fi

# ---- threads --------------------------------------------------------------
if timeout 200 "$M" record -q -o "$T/thr" --buffer-size 16MiB -- "$P" threads 16 100000 >"$T/thr.out" 2>&1 &&
   "$M" info --json "$T/thr" >"$T/thr.info" && [ "$(field "$T/thr.info" 0 events.alloc)" = 1600000 ] &&
   [ "$(field "$T/thr.info" 0 events.free)" = 1600000 ] && [ "$(field "$T/thr.info" 0 dropped.total)" = 0 ]; then
  ok "16 threads x 100k alloc/free pairs: 3.2M events, none dropped, no deadlock"
else
  not_ok "16 threads x 100k alloc/free pairs: 3.2M events, none dropped, no deadlock"
  sed 's/^/# /' "$T/thr.out" | tail -5
fi
# a tiny buffer with waiting off (MEMTRACE_FULL_WAIT_MS=0) must drop (and
# count), never block; waiting on is tests/collector/test_backpressure.sh
if MEMTRACE_FULL_WAIT_MS=0 timeout 100 "$M" record -q -o "$T/small" --buffer-size 4KiB -- "$P" threads 4 20000 >"$T/small.out" 2>&1 &&
   "$M" info --json "$T/small" >"$T/small.info" &&
   a=$(field "$T/small.info" 0 events.alloc) && f=$(field "$T/small.info" 0 events.free) && d=$(field "$T/small.info" 0 dropped.total) &&
   [ $((a + f + d)) -eq 160000 ]; then
  ok "4 KiB buffers: captured + dropped = 160000 calls (drops counted, program not blocked)"
else
  not_ok "4 KiB buffers: captured + dropped = 160000 calls"
fi

# ---- process life ----------------------------------------------------------
"$M" record -q -o "$T/fork" -- "$P" fork 50 >"$T/fork.out" 2>&1
if [ "$(ntraces "$T/fork")" = 2 ] && "$M" info --json "$T/fork" >"$T/fork.info" &&
   [ "$(field "$T/fork.info" 0 events.alloc)" = 50 ] && [ "$(field "$T/fork.info" 1 events.alloc)" = 50 ] &&
   [ "$(field "$T/fork.info" 1 complete)" = true ]; then
  ok "fork: parent and child each have their own complete trace (50 allocs each)"
else
  not_ok "fork: parent and child each have their own complete trace"
fi
"$M" record -q -o "$T/exec" -- "$P" exec 30 >"$T/exec.out" 2>&1
if [ "$(ntraces "$T/exec")" = 2 ] && "$M" info --json "$T/exec" >"$T/exec.info" &&
   [ "$(field "$T/exec.info" 0 events.alloc)" = 30 ] && [ "$(field "$T/exec.info" 1 events.alloc)" = 30 ] &&
   grep -q "done pairs" "$T/exec.out"; then
  ok "exec: the trace is flushed before exec, the new image (preload kept) writes a second one"
else
  not_ok "exec: the trace is flushed before exec, the new image writes a second one"
fi
"$M" record -q -o "$T/vfork" -- "$P" vfork 25 >"$T/vfork.out" 2>&1
if [ "$(ntraces "$T/vfork")" = 2 ] && "$M" info --json "$T/vfork" >"$T/vfork.info" &&
   [ "$(field "$T/vfork.info" 0 events.alloc)" = 50 ] && [ "$(field "$T/vfork.info" 0 complete)" = true ] &&
   [ "$(field "$T/vfork.info" 1 events.alloc)" = 25 ] && grep -q "done vfork" "$T/vfork.out"; then
  ok "vfork: children that exec or _exit leave the parent's trace running (50 allocs, complete); a child given its own environment is traced (25 allocs)"
else
  not_ok "vfork: $(ntraces "$T/vfork") traces, $(cat "$T/vfork.out") $(grep -o '"alloc": *[0-9]*' "$T/vfork.info" 2>/dev/null)"
fi
"$M" record -q -o "$T/uexit" -- "$P" _exit 40 >"$T/uexit.out" 2>&1
if "$M" info --json "$T/uexit" >"$T/uexit.info" && [ "$(field "$T/uexit.info" 0 events.alloc)" = 40 ] &&
   [ "$(field "$T/uexit.info" 0 complete)" = true ]; then
  ok "_exit: flushed and finalized without atexit"
else
  not_ok "_exit: flushed and finalized without atexit"
fi
"$M" record -q -o "$T/nocuda" -- "$P" nocuda >"$T/nocuda.out" 2>&1
check "a process that never touches CUDA leaves no trace" test "$(ntraces "$T/nocuda")" = 0

# SIGKILL in mid-run: the periodic commits keep the trace readable
"$M" record -q -o "$T/kill" -- "$P" sleep 500 >"$T/kill.out" 2>&1 &
rec=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do grep -q ready "$T/kill.out" 2>/dev/null && break; sleep 0.2; done
sleep 0.4
child=$(pgrep -P $rec | head -1)
[ -n "$child" ] && kill -9 "$child"
wait $rec
rc=$?
if [ $rc -eq 137 ] && "$M" info --json "$T/kill" >"$T/kill.info" && [ "$(field "$T/kill.info" 0 events.alloc)" = 500 ] &&
   [ "$(field "$T/kill.info" 0 complete)" = false ] && "$M" dump "$T"/kill/*.mtrace 2>/dev/null | grep -q INCOMPLETE; then
  ok "SIGKILL: exit status 137, trace readable with all 500 allocs committed, dump says INCOMPLETE"
else
  not_ok "SIGKILL: exit status 137, trace readable, dump says INCOMPLETE (rc $rc)"
fi
"$M" record -q -o "$T/segv" -- "$P" segv 300 >"$T/segv.out" 2>&1
rc=$?
if [ $rc -eq 139 ] && "$M" info --json "$T/segv" >"$T/segv.info" && [ "$(field "$T/segv.info" 0 events.alloc)" = 300 ]; then
  ok "SIGSEGV: flushed (300 allocs), exit status still 128+11"
else
  not_ok "SIGSEGV: flushed, exit status still 128+11 (rc $rc)"
fi

# ---- the program's behaviour is unchanged -----------------------------------
"$P" exit 3 >"$T/bare.out" 2>&1
bare=$?
"$M" record -q -o "$T/ex" -- "$P" exit 3 >"$T/ex.out" 2>&1
rec=$?
check "exit status unchanged (3)" test $bare = 3 -a $rec = 3
check "stdout unchanged" cmp "$T/bare.out" "$T/ex.out"
"$M" record -q -o "$T/oomp" -- "$P" oom >"$T/oomp.out" 2>&1
if grep -q "oom result 2" "$T/oomp.out" && "$M" info --json "$T/oomp" >"$T/oomp.info" &&
   [ "$(field "$T/oomp.info" 0 events.oom)" = 1 ] && [ "$(field "$T/oomp.info" 0 events.alloc_failed)" = 1 ]; then
  ok "cudaErrorMemoryAllocation passes through; recorded as an oom with the request"
else
  not_ok "cudaErrorMemoryAllocation passes through; recorded as an oom"
fi
"$M" record -q -o "$T/bad" -- /nonexistent/program >"$T/badp.out" 2>&1
check "record: a missing program exits 127" test $? = 127
"$M" record -q -o "$T/stacks" --stacks=none --no-cupti -- "$P" pairs 5 >/dev/null 2>&1
if "$M" info --json "$T/stacks" >"$T/stacks.info" && [ "$(field "$T/stacks.info" 0 stacks)" = none ] &&
   [ "$(field "$T/stacks.info" 0 cupti)" = disabled ]; then
  ok "--stacks=none and --no-cupti are recorded in the process row"
else
  not_ok "--stacks=none and --no-cupti are recorded in the process row"
fi
if [ "$(sqlite3 "$T"/fork/*.mtrace "SELECT count(*) FROM frames" 2>/dev/null | head -1)" != 0 ] 2>/dev/null; then
  ok "native stacks are interned into frames by default"
else
  not_ok "native stacks are interned into frames by default"
fi

# ---- memtrace info / record errors: one line, exit 2 -------------------------
one_line_2() { # description, command...
  d=$1; shift
  "$@" >"$T/e.out" 2>"$T/e.err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$T/e.err")" -eq 1 ] && [ ! -s "$T/e.out" ]; then ok "$d"; else not_ok "$d (rc $rc)"; sed 's/^/# /' "$T/e.err"; fi
}
echo "not a trace" >"$T/text.mtrace"
one_line_2 "info: missing file -> one line, exit 2" "$M" info "$T/missing.mtrace"
one_line_2 "info: not a trace -> one line, exit 2" "$M" info "$T/text.mtrace"
one_line_2 "info: no argument -> one line, exit 2" "$M" info
one_line_2 "info: unknown option -> one line, exit 2" "$M" info --bogus x
mkdir -p "$T/empty"
one_line_2 "info: directory without traces -> one line, exit 2" "$M" info "$T/empty"
one_line_2 "record: no program -> one line, exit 2" "$M" record
one_line_2 "record: bad --stacks -> one line, exit 2" "$M" record --stacks=python -- true
one_line_2 "record: run directory with traces -> one line, exit 2" "$M" record -o "$T/fork" -- true
done_testing
