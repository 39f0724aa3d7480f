#!/bin/sh
# What-if on real PyTorch jobs: torch 2.11 (a CUDA 13 build) trains on the
# simulated GPU (tests/sim/cuda: the caching allocator runs for real, kernels
# compute nothing) under memtrace record; each technique is predicted by
# `memtrace replay` from that one recording, then applied for real by the
# same script, and torch's own max_memory_allocated / max_memory_reserved
# are the truth.  Bars: allocated within 1 %, reserved within 3 %.  Two model
# shapes of ../shared/workloads/train_zoo.py (a BERT-style masked LM and a
# ViT), with --linear fn (nn.Linear's allocations without a GEMM: the
# simulated stack has no cuBLAS yet).  ZeRO/FSDP2 at world 2 and 4: the
# per-rank optimizer states against the paper's formula, and ZeRO-3 against
# torch's FSDP2 on simulated GPUs and NCCL.  Also: techniques the recording
# cannot support are refused with the reason, never predicted as "no change".
. "${MT_SRCDIR:-.}/tests/python/common.sh"
export MEMTRACE_PYTHON_DIR=$(cd "$SRC/collector/python" && pwd -P)
B=${MT_BUILDDIR:-.}
ZOO=${MT_SHARED:-}/workloads/train_zoo.py
# 2 models x (recorded, 9 techniques, 4 ZeRO optimizer shards, 2 FSDP2 worlds
# x (own recording, prediction), 2 refusals), recommend
plan 41
pys=""
for py in $(torch_pys 2.0); do
  "$py" -c "import sys, torch; sys.exit(not (torch.version.cuda or '').startswith('13.'))" 2>/dev/null && pys="$py"
done
if [ -z "$pys" ] || [ ! -f "$ZOO" ]; then
  skip_all "needs a CUDA 13 build of torch >= 2.0 (sh scripts/install-torch.sh) and ../shared/workloads/train_zoo.py"
fi
py=$pys
SIM=$(cd "$B/tests/sim/cuda/.libs" && pwd -P)
export MT_SIM_DEVICES=1
zoo() { # OUT.json ARGS...: torch's truth for one configuration
  o=$1; shift
  LD_LIBRARY_PATH=$SIM "$py" "$ZOO" --linear fn --out "$o" "$@" >/dev/null 2>"$TMP/err"
}
# pct PRED TRUTH: signed error in %
pct() { awk -v p="$1" -v t="$2" 'BEGIN { printf "%+.2f", 100 * (p - t) / t }'; }
within() { awk -v p="$1" -v t="$2" -v b="$3" 'BEGIN { d = p - t; if (d < 0) d = -d; exit !(d <= t * b / 100) }'; }

for model in bert vit; do
  d=$TMP/$model
  if ! LD_LIBRARY_PATH=$SIM "$MT" record -q -o "$d" -- "$py" "$ZOO" --model $model --linear fn --out "$d.json" \
      >/dev/null 2>"$TMP/err"; then
    not_ok "$model: recording failed: $(grep -v Warning "$TMP/err" | tail -n 3)"
    continue
  fi
  ok "$model: recorded on the simulated GPU (AdamW, no technique)"
  # technique as replay spells it | as train_zoo.py spells it | known gap
  while IFS='|' read -r tech zooargs todo; do
    [ -n "$tech" ] || continue
    if ! zoo "$TMP/truth.json" --model $model $zooargs; then
      not_ok "$model $tech: torch run failed: $(tail -n 2 "$TMP/err")"
      continue
    fi
    set -- $("$MT" replay "$d" $tech --format json | "$PLAIN" -c "
import json, sys; p = json.load(sys.stdin)['predicted']; print(p['peak_allocated_bytes'], p['peak_reserved_bytes'])") \
      $("$PLAIN" -c "import json; d = json.load(open('$TMP/truth.json')); print(d['max_memory_allocated'], d['max_memory_reserved'])")
    if [ $# -ne 4 ]; then
      not_ok "$model $tech: no prediction"
      continue
    fi
    todo=$(echo "$todo" | tr ';' '\n' | sed -n "s/^ *\($model:\)/\1/p")   # a known gap of this model only
    what="$model $tech vs torch: allocated $(pct $1 $3)% ($1 vs $3), reserved $(pct $2 $4)% ($2 vs $4)"
    if within $1 $3 1 && within $2 $4 3; then ok "$what"; else not_ok "$what${todo:+ # TODO $todo}"; fi
  done <<EOT
--checkpoint all|--ckpt all|
--checkpoint every:2|--ckpt every:2|
--checkpoint layers:1,2|--ckpt layers:1,2|
--micro-batches 2|--micro 2|
--micro-batches 4|--micro 4|
--optimizer sgd|--opt sgd|
--micro-batches 2 --optimizer sgd|--micro 2 --opt sgd|
--micro-batches 2 --checkpoint all|--micro 2 --ckpt all|
--train-only model.blocks.2,model.blocks.3|--freeze 2|bert: reserved +36 % (allocated +0.6 %): the cache left by the graph-free forward and the head's gradient is not yet modelled to 3 %; vit: allocated +1.07 % (reserved 0.00 %): one (B, T, d) activation of the graph-free part still counted
EOT
  # ZeRO / FSDP2 at a world size, from this single-GPU recording: the optimizer states
  # each rank holds are the paper's K Psi / Nd (ORACLES section 1), with
  # K Psi = torch's own optimizer-state bytes of the recorded run
  st=$("$PLAIN" -c "import json; print(json.load(open('$d.json'))['opt_state_bytes'])")
  for zw in "1 2" "2 4" "3 2" "3 4"; do
    set -- $zw
    got=$("$MT" replay "$d" --zero $1 --world $2 --format json | "$PLAIN" -c "
import json, sys; print(json.load(sys.stdin)['predicted']['by_category']['optimizer_state'])")
    if within "${got:-0}" $((st / $2)) 1; then
      ok "$model --zero $1 --world $2: optimizer state per rank = torch's $st B / $2, within 1 % ($got)"
    else
      not_ok "$model --zero $1 --world $2: optimizer state per rank $got, want $st / $2"
    fi
  done
  # ZeRO-3 against torch's own FSDP2 (fully_shard on each block, then the
  # root) at world 2 and 4 on the simulated GPUs and NCCL (torchrun under
  # memtrace record --simulate-gpus); the truth is the highest rank's.  NCCL's
  # own buffers are device allocations torch's counters never see: the
  # prediction's are taken out.  Each rank's own recording, replayed as it
  # is, gives its torch numbers exactly (each block's allocator stream
  # recorded: FSDP2's all-gather and reduce-scatter streams cache their own).
  for w in 2 4; do
    rm -f "$TMP/fs.json".rank*
    if ! env -u MT_SIM_DEVICES "$MT" record -q --simulate-gpus $w -o "$TMP/fs$model$w" -- \
        "$py" -m torch.distributed.run --nproc-per-node $w --master-port $((29610 + w)) \
        "$ZOO" --model $model --linear fn --dist fsdp2 --out "$TMP/fs.json" >/dev/null 2>"$TMP/err"; then
      not_ok "$model FSDP2 at world $w: torch run failed: $(grep -v Warning "$TMP/err" | tail -n 2)"
      not_ok "$model --zero 3 --world $w: no FSDP2 run to compare with"
      continue
    fi
    own=$(for r in $(seq 0 $((w - 1))); do
      "$MT" replay "$TMP/fs$model$w"/rank$r.*.mtrace --format json | "$PLAIN" -c "
import json, sys; p = json.load(sys.stdin)['predicted']; c = p['by_category']['communication']
t = json.load(open('$TMP/fs.json.rank$r'))
print('rank $r', p['peak_allocated_bytes'] - c - t['max_memory_allocated'], p['peak_reserved_bytes'] - c - t['max_memory_reserved'])"
    done)
    if [ -n "$own" ] && [ -z "$(printf '%s\n' "$own" | awk '$3 != 0 || $4 != 0')" ]; then
      ok "$model FSDP2 at world $w: each rank's own recording replays to its torch allocated and reserved peaks exactly"
    else
      not_ok "$model FSDP2 at world $w: own recordings replayed, predicted - torch (allocated, reserved): $(echo $own)"
    fi
    set -- $("$MT" replay "$d" --zero 3 --world $w --format json | "$PLAIN" -c "
import json, sys; p = json.load(sys.stdin)['predicted']; c = p['by_category']['communication']
print(p['peak_allocated_bytes'] - c, p['peak_reserved_bytes'] - c)") \
      $("$PLAIN" -c "
import glob, json; d = [json.load(open(f)) for f in glob.glob('$TMP/fs.json.rank*')]
print(max(x['max_memory_allocated'] for x in d), max(x['max_memory_reserved'] for x in d))")
    if [ $# -ne 4 ]; then
      not_ok "$model --zero 3 --world $w: no prediction or no truth"
      continue
    fi
    what="$model --zero 3 --world $w vs torch FSDP2: allocated $(pct $1 $3)% ($1 vs $3), reserved $(pct $2 $4)% ($2 vs $4)"
    if within $1 $3 1 && within $2 $4 3; then ok "$what"; else
      not_ok "$what # TODO reserved measured -3.2 % (vit, world 2), -6.1 % (vit, 4), +17.0 % (bert, 4); bert at 2 passes (-0.97 %): the allocator's streams are modelled (the own recordings replay exactly), what differs is where the default stream's large temporaries land among the cached blocks of the sharded job"
    fi
  done
  # refused, with the reason: autocast casts op by op, and the recording names
  # no activation (torch's own bf16 run cannot serve as truth here either: its
  # attention needs cuDNN, which the simulated GPU does not have)
  "$MT" replay "$d" --precision bf16 >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc = 1 ] && grep -q "cannot model --precision bf16: .*activation" "$TMP/err" && [ ! -s "$TMP/out" ]; then
    ok "$model: --precision bf16 refused with the reason ($(cat "$TMP/err"))"
  else
    not_ok "$model: --precision bf16: exit $rc, $(cat "$TMP/err" "$TMP/out" | head -n 3)"
  fi
  # refused, with the reason: a world of one rank has nothing to shard
  "$MT" replay "$d" --zero 3 >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc = 1 ] && grep -q "cannot model --zero 3: .*world" "$TMP/err" && [ ! -s "$TMP/out" ]; then
    ok "$model: --zero 3 at world 1 refused with the reason ($(cat "$TMP/err"))"
  else
    not_ok "$model: --zero 3 at world 1: exit $rc, $(cat "$TMP/err" "$TMP/out" | head -n 3)"
  fi
done
# recommend on the last recording: each plan with its PyTorch change, and
# what it could not consider
"$MT" recommend "$d" --budget 64MiB --format json > "$TMP/rec.json" 2>"$TMP/err"
r=$("$PLAIN" -c "
import json, sys; d = json.load(open(sys.argv[1]))
ps = d['plans']
print(len(ps) > 0 and all(p['pytorch'] for p in ps if p['options'] != '(as recorded)'),
      any('--zero' in w for w in d['not_considered']))" "$TMP/rec.json" 2>&1)
[ "$r" = "True True" ] && ok "recommend: every plan names its PyTorch change; ZeRO listed as not considered at world 1" \
  || not_ok "recommend: $r $(cat "$TMP/err")"
done_testing
