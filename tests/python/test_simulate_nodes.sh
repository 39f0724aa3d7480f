#!/bin/sh
# memtrace record --simulate-gpus 16: a 16-rank FSDP2 (fully_shard) job on
# two simulated nodes of 8 GPUs, launched as on a cluster -- one torchrun per
# node (--nnodes 2 --node-rank K) -- on this one machine.  Every rank sees its
# node's 8 devices; each rank's peaks equal torch's plus the simulated NCCL's
# buffers; a rank whose ring predecessor is on the other node holds NCCL's
# network-receive buffers (SIMPLE + LL128), the others the NVLink ones
# (SIMPLE + LL + LL128).  Prints the wall time and the machine's memory in use.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# the job (and check_simulate.py's plan), NCCL's buffers per rank
expect_cases 2
. "$SRC/tests/python/simulate_env.sh"
d=$TMP/nodes; mkdir -p "$d.out"
export TAP_PREFIX="torch $v, FSDP2 on 16 simulated GPUs in 2 nodes: "
used() { free -m | awk '/^Mem:/ { print $3 }'; }
u0=$(used); peak=$u0
( while sleep 2; do used; done ) > "$TMP/mem" &
mon=$!
t0=$(date +%s)
if "$MT" record -q --simulate-gpus 16 -o "$d" -- sh -c '
  for n in 0 1; do
    "$0" -m torch.distributed.run --nnodes 2 --node-rank $n --nproc-per-node 8 --master-addr 127.0.0.1 \
      --master-port 29545 "$1" "$2" fsdp 2 &
  done
  wait %1 && wait %2' "$py" "$DIST" "$d.out" >"$TMP/out" 2>"$TMP/err"; then
  ok "${TAP_PREFIX}the job ran under memtrace record ($(( $(date +%s) - t0 )) s)"
else
  not_ok "${TAP_PREFIX}the job failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
fi
kill "$mon" 2>/dev/null
peak=$(sort -n "$TMP/mem" | tail -n 1)
diag "wall $(( $(date +%s) - t0 )) s; machine memory in use: ${u0} MiB before, ${peak:-?} MiB at most during the job"
tap_py "$py" "$SRC/tests/python/check_simulate.py" "$d" "$d.out" 16 8
# NCCL's buffers by where each rank's ring predecessor is (2 channels)
r=$("$py" -c "
import json
bad = []
for r in range(16):
    e = json.load(open('$d.out/rank%d.json' % r))
    inter = r % 8 == 0            # ring 0..15: ranks 0 and 8 receive from the other node
    want = 2 * (4194304 + 4915200 + (0 if inter else 524288))
    if e['nccl_buffer_bytes_peak'] != want or e['local_rank'] != r % 8:
        bad.append((r, e['local_rank'], e['nccl_buffer_bytes_peak'], want))
print(bad)" 2>&1)
[ "$r" = "[]" ] && ok "${TAP_PREFIX}ranks 0 and 8 hold network-receive buffers (2 x 9109504 B), the 14 others NVLink ones (2 x 9633792 B); LOCAL_RANK 0..7 on each node" \
  || not_ok "${TAP_PREFIX}NCCL buffers per rank: $r"
done_testing
