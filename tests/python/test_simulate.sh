#!/bin/sh
# memtrace record --simulate-gpus N: real PyTorch 2.11 jobs, unmodified, on
# simulated GPUs (tests/sim/cuda, tests/sim/nccl): a nanoGPT-style model
# under DDP and FSDP2 (fully_shard) with torchrun and
# torch.multiprocessing.spawn, each rank's peaks checked against torch's own
# max_memory_allocated/reserved and the simulated NCCL's account of its
# buffers; the device model; --no-collect; an out-of-memory as a real GPU
# raises it; bad options.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# 4 bad options, 2 jobs (and check_simulate.py's plan each), the device
# model, the OOM and its record
expect_cases 9
# bad options: one line, exit 2, nothing run
expect_fail 2 "--simulate-gpus 0 is refused" "simulate-gpus: '0' is not a number of GPUs" "$MT" record --simulate-gpus 0 -- true
expect_fail 2 "--gpu with an unknown model is refused" "unknown GPU 'v100'" "$MT" record --simulate-gpus 1 --gpu v100 -- true
expect_fail 2 "--gpu-memory without --simulate-gpus is refused" "need --simulate-gpus" "$MT" record --gpu-memory 1GiB -- true
expect_fail 2 "--gpu-memory with a bad size is refused" "gpu-memory: '12parsecs'" "$MT" record --simulate-gpus 1 --gpu-memory 12parsecs -- true
. "$SRC/tests/python/simulate_env.sh"
dist ddp torchrun
dist fsdp torchrun
# the default device model: an 80 GB H100 as torch sees it
r=$("$py" -c "
import json; d = json.load(open('$TMP/ddp-torchrun.out/rank1.json'))
print(d['device_name'], d['sms'], d['cc'][0], d['cc'][1], d['total_memory'])")
[ "$r" = "NVIDIA H100 80GB HBM3 132 9 0 $((81559 << 20))" ] \
  && ok "torch sees the default device as an H100 80GB: name, 132 SMs, compute capability 9.0, 81559 MiB" \
  || not_ok "the default simulated device: $r"
# out of memory on a small device, as on a real GPU
d=$TMP/oom
"$MT" record -q --simulate-gpus 1 --gpu-memory 256MiB -o "$d" -- "$py" -c "
import sys, torch
keep = torch.empty(200 << 20, dtype=torch.uint8, device='cuda')
try:
    torch.empty(100 << 20, dtype=torch.uint8, device='cuda')
except torch.OutOfMemoryError as e:
    print('OOM', torch.cuda.get_device_properties(0).total_memory, str(e).splitlines()[0])
    sys.exit(3)
" >"$TMP/out" 2>"$TMP/err"
rc=$?
case "$rc $(cat "$TMP/out")" in
  "3 OOM $((256 << 20)) CUDA out of memory. Tried to allocate 100.00 MiB."*)
    ok "--gpu-memory 256MiB: torch raises torch.OutOfMemoryError for 100 MiB more beside 200 MiB";;
  *) not_ok "--gpu-memory 256MiB OOM: exit $rc: $(cat "$TMP/out") $(grep -v Warning "$TMP/err" | tail -n 3)";;
esac
n=$("$MT" report --format json "$d" 2>/dev/null | "$py" -c "
import json, sys; r = json.load(sys.stdin)['ranks'][0]
print(sum(1 for o in r['ooms'] if o['requested_bytes'] == 100 << 20))" 2>/dev/null)
[ "${n:-0}" -ge 1 ] && ok "the recorded OOM asks for the 100 MiB torch could not get" || not_ok "recorded OOMs: $n"
done_testing
