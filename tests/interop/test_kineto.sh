#!/bin/sh
# Kineto / torch.profiler traces and memory-timeline raw files: the values
# upstream projects assert on these files (validation/README.md), computed
# here with SQL over the traces `memtrace import` wrote.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
expect_cases 24
need_data
H=$DATA/hta
# and one import per other HTA file, one count and one NCCL-bytes check per
# Kineto file (the data's listing)
expect_cases $(( $(ls "$H"/*.json.gz | grep -v -c -e df_index -e nccl_parser -e trace_filter) +
                 2 * $(ls "$H"/*.json.gz "$DATA"/kineto-tb/*.json.gz | wc -l) ))

imp() {   # imp NAME FILE...: import, report
  n=$1; shift
  if "$MT" import "$@" -o "$TMP/$n" >/dev/null 2>"$TMP/err"; then ok "import $n"
  else not_ok "import $n: $(cat "$TMP/err")"; fi
}

# HTA df_index_resolver: peak 'Total Allocated' on cuda:1, from the events.
imp df.mtrace "$H/facebookresearch__df_index_resolver_df_index_resolver.json.gz"
peak="SELECT MAX(s) FROM (SELECT SUM(CASE r.op WHEN 1 THEN r.size ELSE -r.size END)
  OVER (ORDER BY r.ts, r.rowid) s FROM region_events r JOIN heaps h ON h.id = r.heap WHERE h.device = 1)"
eq "df_index_resolver: peak allocated on cuda:1" "$(q "$TMP/df.mtrace" "$peak")" 6629508096
eq "df_index_resolver: kernels" "$(q "$TMP/df.mtrace" "SELECT COUNT(*) FROM kernels")" 19370
eq "df_index_resolver: allreduce kernels" \
   "$(q "$TMP/df.mtrace" "SELECT COUNT(*) FROM kernels k JOIN strings s ON s.id = k.name_id
                           WHERE s.value LIKE 'ncclKernel_AllReduce_RING_LL_Sum_float%'")" 2020
eq "df_index_resolver: [memory] events on cuda:1" \
   "$(q "$TMP/df.mtrace" "SELECT SUM(op = 1) || '/' || SUM(op = 2) FROM region_events r JOIN heaps h ON h.id = r.heap
                           WHERE h.device = 1 AND r.label_id IS NULL")" 13385/13385
rpeak="SELECT MAX(s) FROM (SELECT SUM(CASE op WHEN 1 THEN size ELSE -size END) OVER (ORDER BY ts, rowid) s
  FROM mem_events WHERE device = 1)"
eq "df_index_resolver: peak reserved on cuda:1" "$(q "$TMP/df.mtrace" "$rpeak")" 12782141440
eq "df_index_resolver: rank from distributedInfo" "$(q "$TMP/df.mtrace" "SELECT rank || '/' || world_size FROM process")" 1/2

# Bounded memory: sorting through temporary runs of 5,000 events gives the
# same trace, row for row, as sorting in memory.
MT_INTEROP_SORT_EVENTS=5000 "$MT" import "$H/facebookresearch__df_index_resolver_df_index_resolver.json.gz" \
  -o "$TMP/df-runs.mtrace" >/dev/null 2>&1
same=yes
for tb in kernels memcpys nccl_calls region_events mem_events ranges api_calls threads streams heaps; do
  [ "$(q "$TMP/df.mtrace" "SELECT * FROM $tb" | cksum)" = "$(q "$TMP/df-runs.mtrace" "SELECT * FROM $tb" | cksum)" ] ||
    same="no ($tb differs)"
done
eq "df_index_resolver: external merge sort gives the same trace" "$same" yes

# HTA nccl_parser_config: 21 NCCL kernels, the longest an allreduce of
# 2,049,000 elements on process group "0" with ranks [0, 1].
imp nccl.mtrace "$H/facebookresearch__nccl_parser_config_nccl_data.json.gz"
eq "nccl_data: NCCL kernels" "$(q "$TMP/nccl.mtrace" "SELECT COUNT(*) FROM nccl_calls")" 21
eq "nccl_data: longest NCCL call" "$(q "$TMP/nccl.mtrace" "SELECT e.label || ' ' || n.count || ' pg=' || c.unique_id ||
  ' ranks=' || (SELECT value FROM meta WHERE key = 'comm.' || c.id || '.ranks')
  FROM nccl_calls n JOIN communicators c ON c.id = n.comm
  JOIN enum_labels e ON e.enum = 'nccl_op' AND e.value = n.op ORDER BY n.dur DESC LIMIT 1")" \
   "allreduce 2049000 pg=0 ranks=[0, 1]"

# kineto-tb (2021 schema): kernel counts and total kernel time.
K=$DATA/kineto-tb
for pair in "1623143089861 8772 591532" "1623212756351 8868 594868"; do
  set -- $pair
  imp "tb$1.mtrace" "$K"/pytorch__samples_resnet50_num_workers_*_worker0.$1.pt.trace.json.gz
  eq "kineto-tb $1: kernels / us" \
     "$(q "$TMP/tb$1.mtrace" "SELECT COUNT(*) || ' ' || (SUM(gpu_end - gpu_start) / 1000) FROM kernels")" "$2 $3"
done

# HTA memory_timeline.raw: cumulative bytes per category at row 744 (one row
# per distinct timestamp).
imp tl.mtrace "$H/facebookresearch__memory_analysis_memory_timeline.raw.gz"
row744="WITH t AS (SELECT ts, ROW_NUMBER() OVER (ORDER BY ts) - 1 AS rn FROM (SELECT DISTINCT ts FROM region_events)),
  at AS (SELECT ts FROM t WHERE rn = 744)
  SELECT group_concat(v, ',') FROM (SELECT SUM(CASE r.op WHEN 1 THEN r.size ELSE -r.size END) v
  FROM region_events r JOIN strings s ON s.id = r.label_id, at WHERE r.ts <= at.ts
  GROUP BY s.value ORDER BY CASE s.value
    WHEN 'parameter/torch.profiler Parameter' THEN 0 WHEN 'optimizer_state/torch.profiler Optimizer state' THEN 1
    WHEN 'input/torch.profiler Input' THEN 2 WHEN 'temporary/torch.profiler Temporary' THEN 3
    WHEN 'activation/torch.profiler Activation' THEN 4 WHEN 'gradient/torch.profiler Gradient' THEN 5
    WHEN 'other/torch.profiler Autograd detail' THEN 6 ELSE 7 END)"
eq "memory_timeline row 744 per category" "$(q "$TMP/tl.mtrace" "$row744")" \
   "102440608,102228128,19395584,0,2618160128,58417152,41811968,25494440"
tlpeak="SELECT MAX(s) FROM (SELECT SUM(CASE op WHEN 1 THEN size ELSE -size END) OVER (ORDER BY ts, rowid) s
  FROM region_events)"
eq "memory_timeline peak total" "$(q "$TMP/tl.mtrace" "$tlpeak")" 3082832104

# Several ranks' files -> one run directory, one trace per rank.
imp run "$H/facebookresearch__trace_filter_sampled_rank-1.json.gz" "$H/facebookresearch__trace_filter_sampled_rank-0.json.gz"
eq "run directory holds one trace per rank" "$(ls "$TMP/run" | tr '\n' ' ')" "rank0.mtrace rank1.mtrace "
eq "rank 0 trace says rank 0" "$(q "$TMP/run/rank0.mtrace" "SELECT rank FROM process")" 0
eq "same run id in both" "$(q "$TMP/run/rank0.mtrace" "SELECT run_id FROM process")" \
   "$(q "$TMP/run/rank1.mtrace" "SELECT run_id FROM process")"
eq "rank 0: NCCL SendRecv kernels" "$(q "$TMP/run/rank0.mtrace" "SELECT COUNT(*) FROM nccl_calls")" 10

# Every other Kineto file imports (AMD, CPU-only, Triton, event sync...).
for f in "$H"/*.json.gz; do
  b=$(basename "$f" .json.gz)
  case $b in *df_index*|*nccl_parser*|*trace_filter*) continue ;; esac
  imp "$b.mtrace" "$f"
done
# Every Kineto file: what Python's json counts, the trace holds.
for f in "$H"/*.json.gz "$DATA"/kineto-tb/*.json.gz; do
    b=$(basename "$f" .json.gz)
    t=$TMP/count.mtrace
    rm -f "$t"
    "$MT" import "$f" -o "$t" >/dev/null 2>&1
    eq "$b: kernels copies runtime NCCL [memory] as python counts them" \
       "$(q "$t" "SELECT (SELECT COUNT(*) FROM kernels) || ' ' || (SELECT COUNT(*) FROM memcpys) || ' ' ||
          (SELECT COUNT(*) FROM api_calls) || ' ' || (SELECT COUNT(*) FROM nccl_calls) || ' ' ||
          (SELECT COUNT(*) FROM region_events WHERE label_id IS NULL)")" \
       "$(python3 "${MT_SRCDIR:-.}/tests/interop/count_kineto.py" "$f")"
    eq "$b: NCCL kernels, those with a size, bytes as python computes them" \
       "$(q "$t" "SELECT COUNT(*) || ' ' || COALESCE(SUM(bytes > 0), 0) || ' ' || COALESCE(SUM(bytes), 0) FROM nccl_calls")" \
       "$(python3 "${MT_SRCDIR:-.}/tests/interop/kineto_nccl_bytes.py" "$f")"
done
eq "ns_resolution: ns timestamps kept" \
   "$(q "$TMP/facebookresearch__ns_resolution_trace_rank-0.Apr_03_18_51_38.1102.pt.trace.mtrace" \
       "SELECT COUNT(*) > 0 FROM kernels WHERE gpu_start % 1000 != 0")" 1
done_testing
