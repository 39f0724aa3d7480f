#!/bin/sh
# 64 ranks on 8 simulated nodes of 8 GPUs, on this one machine:
# `memtrace record --simulate-gpus 64` over 64 simtrain ranks (ZeRO-3, a
# torchrun-style launch: RANK, WORLD_SIZE, LOCAL_RANK = RANK % 8; each
# process sees its node's 8 devices and the simulated NCCL puts it on node
# RANK / 8).  Per rank, memtrace's peaks equal simtrain's ground truth, and
# NCCL's buffers follow the topology: the ring's 8 node-crossing links make
# ranks 0, 8, ..., 56 hold network-receive buffers, the others NVLink ones.
# A rank asking for a ninth device of a node is told how to launch.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$(cd "$B" && pwd -P)/memtrace
ST=$(cd "$B/tests/sim/simtrain" && pwd -P)/simtrain
L=$(cd "$B/tests/sim" && pwd -P)
W=$(mktemp -d "${TMPDIR:-/tmp}/mt-nodes64.XXXXXX")
trap 'rm -rf "$W"' EXIT
# the job, the peaks against the truth, the ninth device's hint
plan 3
t0=$(date +%s)
# simtrain's GEMMs need the simulated cuBLAS (not among --simulate-gpus's own libraries yet)
if MEMTRACE_SIM_DIR=$L/cublas/.libs:$L/cuda/.libs:$L/nccl/.libs MT_SIM_RENDEZVOUS=$W MASTER_ADDR=nodes64 MASTER_PORT=$$ \
    "$MT" record -q --simulate-gpus 64 -o "$W/run" -- sh -c '
  export WORLD_SIZE=64
  for r in $(seq 0 63); do
    RANK=$r LOCAL_RANK=$((r % 8)) "$0" --world 64 --layers 2 --steps 2 --zero 3 --truth "$1/truth.json" &
  done
  wait' "$ST" "$W" >"$W/out" 2>"$W/err"; then
  ok "64 simtrain ranks (ZeRO-3) on 8 simulated nodes ran under memtrace record ($(( $(date +%s) - t0 )) s)"
else
  not_ok "the 64-rank job failed: $(tail -n 5 "$W/err")"
fi
"$MT" report --format json "$W/run" > "$W/rep.json" 2>"$W/err" || not_ok "report: $(cat "$W/err")"
r=$(python3 - "$W/rep.json" "$W/truth.json" <<'PY'
import json, sys
rep = {r["rank"]: r for r in json.load(open(sys.argv[1]))["ranks"]}
truth = {r["rank"]: r for r in json.load(open(sys.argv[2]))["ranks"]}
bad = []
for k in range(64):
    m, t = rep.get(k), truth.get(k)
    # NCCL 2.2x's per-protocol buffer sizes (tests/sim/nccl/README.md), 2 channels
    want = 2 * (4194304 + 4915200 + (0 if k % 8 == 0 else 524288))
    if m is None or t is None or m["peak"]["allocated_bytes"] != t["peak_allocated_bytes"] \
       or m["reserved_peak"]["bytes"] != t["peak_reserved_bytes"] \
       or m["peak"]["by_category"]["communication"] != t["nccl_comm_bytes"] or t["nccl_comm_bytes"] != want:
        bad.append((k, m and m["peak"]["allocated_bytes"], t and t["peak_allocated_bytes"],
                    m and m["peak"]["by_category"]["communication"], t and t["nccl_comm_bytes"], want))
print(len(rep), len(truth), bad[:3])
PY
)
[ "$r" = "64 64 []" ] && ok "on all 64 ranks the peaks equal simtrain's truth and 'communication' is NCCL's buffers by ring position (ranks 8k: 2 x 9109504 B, others 2 x 9633792 B)" \
  || not_ok "per-rank peaks and NCCL buffers: $r"
# one launcher for two nodes' ranks: LOCAL_RANK 8 names no device of an
# 8-GPU node; the simulated runtime says how to launch instead
MEMTRACE_SIM_DIR=$L/cublas/.libs:$L/cuda/.libs:$L/nccl/.libs RANK=0 WORLD_SIZE=1 LOCAL_RANK=8 \
  "$MT" record --no-collect --simulate-gpus 16 -- "$ST" --layers 1 --steps 1 >"$W/out" 2>"$W/err"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "device 8 asked of a simulated node of 8 GPUs (MT_SIM_NODES=2): launch one launcher per node" "$W/err"; then
  ok "LOCAL_RANK 8 on --simulate-gpus 16: the job fails (exit $rc) with a hint to launch one launcher per node"
else
  not_ok "LOCAL_RANK 8 on --simulate-gpus 16: exit $rc: $(cat "$W/err")"
fi
done_testing
