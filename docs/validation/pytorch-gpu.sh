#!/bin/sh
# Validation of the PyTorch integration on a machine with a GPU and a CUDA
# build of torch.  NOT RUN YET: written on a machine without a GPU (the
# task that wrote it had none).  Build here, carry the build tree, run there:
#
#   here:   autoreconf -fi && ./configure --disable-gui && make -j
#   there:  sh docs/validation/pytorch-gpu.sh OUTDIR      (from the tree root)
#
# For each configuration it records examples/train_gpt.py under memtrace,
# prints torch's own max_memory_allocated / max_memory_reserved next to
# memtrace's peak (report --json), and keeps the traces in OUTDIR.  What to
# look for is in docs/PYTORCH.md ("Validation on a GPU").
set -u
OUT=${1:-pytorch-gpu-validation}
MT=${MT:-./memtrace}
PY=${PY:-python3}
STEPS=${STEPS:-4}
mkdir -p "$OUT"
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' \
  | tee "$OUT/env.txt" || exit 1

run() {   # name, env assignments..., -- extra args
  name=$1; shift
  envs=""
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs="$envs $1"; shift; done
  [ "${1:-}" = "--" ] && shift
  rm -rf "$OUT/$name.memtrace"
  echo "== $name"
  # shellcheck disable=SC2086
  env $envs "$MT" record -o "$OUT/$name.memtrace" -- "$PY" examples/train_gpt.py --steps "$STEPS" "$@" \
    > "$OUT/$name.log" 2>&1
  echo "exit $?" >> "$OUT/$name.log"
  grep -E "max_memory|exit|memtrace:" "$OUT/$name.log"
  "$MT" report --json "$OUT/$name.memtrace" > "$OUT/$name.report.json" 2> "$OUT/$name.report.err"
  "$PY" - "$OUT/$name.report.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("  report unreadable:", e); sys.exit(0)
def find(o, keys, path=""):
    if isinstance(o, dict):
        for k, v in o.items():
            if any(x in k for x in keys) and isinstance(v, (int, float)):
                print("  %s%s = %s" % (path, k, v))
            find(v, keys, path + k + ".")
    elif isinstance(o, list):
        for i, v in enumerate(o[:4]):
            find(v, keys, path + "%d." % i)
find(r, ("peak", "reserved", "allocated"))
PY
  for q in "SELECT COUNT(*) || ' framework ranges' FROM ranges r JOIN strings s ON s.id = r.domain_id WHERE s.value = 'pytorch'" \
           "SELECT COUNT(*) || ' register rows, ' || SUM(label_id IS NOT NULL) || ' labelled' FROM region_events WHERE op = 1" \
           "SELECT COUNT(*) || ' framework heaps' FROM heaps WHERE usage = 2" \
           "SELECT key || ' = ' || value FROM meta WHERE key LIKE 'torch.%'"; do
    for f in "$OUT/$name.memtrace"/*.mtrace; do sqlite3 "$f" "$q" 2>/dev/null | sed 's/^/  /'; done
  done
}

run default
run expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
run async PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync
run small_seq -- --seq 256
run compile -- --compile
# Python stacks (costly): compare the overhead with `default`
rm -rf "$OUT/pystacks.memtrace"
"$MT" record --python-stacks -o "$OUT/pystacks2.memtrace" -- "$PY" examples/train_gpt.py --steps "$STEPS" > "$OUT/pystacks2.log" 2>&1

# OOM forensics: ask for more than the device has
"$MT" record -o "$OUT/oom.memtrace" -- "$PY" -c '
import torch
x = [torch.empty(1 << 30, dtype=torch.uint8, device="cuda") for _ in range(4)]
try:
    torch.empty(torch.cuda.get_device_properties(0).total_memory, dtype=torch.uint8, device="cuda")
except torch.cuda.OutOfMemoryError as e:
    print("OOM as expected")' > "$OUT/oom.log" 2>&1
for f in "$OUT/oom.memtrace"/*.mtrace; do
  sqlite3 "$f" "SELECT 'ooms: source ' || source || ' requested ' || requested FROM ooms; SELECT key || ' = ' || value FROM meta WHERE key LIKE 'torch.oom%'"
done

# DDP under torchrun (per-rank traces), when there are two GPUs
if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  cat > "$OUT/ddp.py" <<'PY'
import os, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("nccl"); r = dist.get_rank(); torch.cuda.set_device(r)
m = DDP(torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.GELU(), torch.nn.Linear(4096, 4096)).cuda())
o = torch.optim.AdamW(m.parameters())
for _ in range(3):
    m(torch.randn(64, 4096, device="cuda")).sum().backward(); o.step(); o.zero_grad()
print("rank", r, "max_memory_allocated", torch.cuda.max_memory_allocated())
dist.destroy_process_group()
PY
  "$MT" record -o "$OUT/ddp.memtrace" -- torchrun --nproc_per_node 2 "$OUT/ddp.py" > "$OUT/ddp.log" 2>&1
  ls "$OUT/ddp.memtrace"; grep max_memory "$OUT/ddp.log"
fi
# The simulated-GPU checks of tests/python/test_simgpu.sh on the real device:
# peaks, reserved and identity bytes against torch's own numbers, the
# expandable/async/OOM/graph/profiler/checkpointing comparisons (TAP)
MT_TEST_REAL_GPU=1 MT_PYTHON="$PY" MT_BUILDDIR=. MT_SRCDIR=. sh tests/python/test_simgpu.sh > "$OUT/test_simgpu.tap" 2>&1
grep -c '^ok' "$OUT/test_simgpu.tap" | sed 's/$/ ok/'; grep '^not ok' "$OUT/test_simgpu.tap"
# step-time overhead (the issue's <= 3%), side by side, on the device
MT_TEST_REAL_GPU=1 sh bench/torch_overhead.sh "$PY" cuda 200 5 > "$OUT/overhead.txt" 2>&1; cat "$OUT/overhead.txt"
echo "traces and logs in $OUT"
