#!/bin/sh
# memtrace record --simulate-gpus N with the other launchers: a DDP job
# started by torch.multiprocessing.spawn, checked rank by rank as in
# test_simulate.sh; --no-collect with another device model (A100 40GB):
# the job runs on it, nothing is recorded, NCCL's buffers follow the A100's
# P2P read mode; with the simulated cuBLAS/cuBLASLt/cuDNN built, FSDP2 of
# the model with nn.Linear and SDPA.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# 2 jobs (and check_simulate.py's plan each, when they run), --no-collect
expect_cases 3
. "$SRC/tests/python/simulate_env.sh"
dist ddp spawn
# --no-collect: the same job on the simulated GPUs, nothing recorded or preloaded
d=$TMP/nocollect; mkdir -p "$d.out"
if (cd "$TMP" && "$MT" record --no-collect --simulate-gpus 2 --gpu a100-40gb -- "$py" -m torch.distributed.run \
    --nproc-per-node 2 --master-port 29543 "$DIST" "$d.out" ddp 2) >"$TMP/out" 2>"$TMP/err"; then
  r=$("$py" -c "
import json; d = [json.load(open('$d.out/rank%d.json' % i)) for i in (0, 1)]
print(all('memtrace' not in x['ld_preload'] for x in d), d[0]['device_name'], d[0]['sms'], d[0]['total_memory'],
      d[0]['nccl_buffer_bytes_peak'], d[0]['nccl_buffer_allocs'])")
  traces=$(find "$TMP" -maxdepth 1 -name '*.memtrace' | wc -l)  # record's default run directory
  # A100 (compute capability 8.0): NVLink P2P read mode, so a rank holds per
  # channel two buffers, LL + LL128 received and SIMPLE to send (an H100 one:
  # all three received): 2 x (524288 + 4915200 + 4194304) B in 4 allocations
  [ "$r" = "True NVIDIA A100-SXM4-40GB 108 $((40960 << 20)) $((2 * (524288 + 4915200 + 4194304))) 4" ] && [ "$traces" -eq 0 ] \
    && ok "--no-collect --gpu a100-40gb: the DDP job ran on A100s (108 SMs, 40960 MiB), NCCL in P2P read mode (4 buffers), the collector not loaded, nothing recorded" \
    || not_ok "--no-collect: $r, $traces traces"
else
  not_ok "--no-collect: the job failed: $(grep -v Warning "$TMP/err" | tail -n 5)"
fi
# nn.Linear and SDPA through the simulated cuBLAS, cuBLASLt and cuDNN, when
# this tree has the stand-ins complete enough for torch (tests/sim/cublaslt
# comes with them)
L=$(cd "${MT_BUILDDIR:-.}/tests/sim" && pwd -P)
if [ -f "$L/cublaslt/.libs/libcublasLt.so.13" ] && [ -f "$L/cudnn/.libs/libcudnn.so.9" ]; then
  MT_TEST_LINEAR=1 MEMTRACE_SIM_DIR=$L/cuda/.libs:$L/nccl/.libs:$L/cublas/.libs:$L/cublaslt/.libs:$L/cudnn/.libs \
    dist fsdp torchrun
else
  skip 1 "FSDP2 with nn.Linear: no simulated cuBLASLt/cuDNN in this tree"
fi
done_testing
