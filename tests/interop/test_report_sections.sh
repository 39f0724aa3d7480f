#!/bin/sh
# Every report format shows the kernel and NCCL sections of a trace without
# memory events, with the counts the files hold by their upstream READMEs
# (../shared/validation/README.md), and names the memory section it cannot fill.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
# 3 formats x 5, html 1, df_index_resolver 3, nsys 5, kineto-tb 2 x 3, diff 2, steps 1
plan 33
need_data
# unknown_json TRACE WHY: in the JSON report, every rank's largest free block
# at the peak is null and largest_free_block_unknown says WHY
unknown_json() {
  "$MT" report -f json "$1" | python3 -c "
import json, sys
r = json.load(sys.stdin)['ranks']
bad = [(x['peak']['largest_free_block_bytes'], x['peak'].get('largest_free_block_unknown')) for x in r
       if x['peak']['largest_free_block_bytes'] is not None or x['peak'].get('largest_free_block_unknown') != sys.argv[1]]
sys.exit(bool(bad or not r))" "$2"
}
K=$TMP/k.mtrace N=$TMP/n.mtrace
"$MT" import "$DATA/kineto-tb/pytorch__samples_resnet50_num_workers_0_worker0.1623143089861.pt.trace.json.gz" -o "$K" >/dev/null
"$MT" import "$DATA/hta/facebookresearch__nccl_parser_config_nccl_data.json.gz" -o "$N" >/dev/null
for f in text md html; do
  "$MT" report -f $f "$K" >"$TMP/k.$f"
  "$MT" report -f $f "$N" >"$TMP/n.$f"
  # kineto-tb README: 8,772 kernels
  check "$f: kineto-tb resnet50 shows its 8,772 kernels" grep -q 'Kernels (8772 launches)' "$TMP/k.$f"
  check "$f: a trace without memory events names the missing memory sections" grep -q 'no device memory events' "$TMP/n.$f"
  check "$f: no NCCL in a single-GPU trace is said, not silent" grep -q 'NCCL: no collectives' "$TMP/k.$f"
  # HTA asserts 21 NCCL kernels in nccl_data
  calls=$(sed -n 's/^ *\(allreduce\|broadcast\|allgather\|reducescatter\|sendrecv\|send\|recv\|reduce\|alltoall\)  *\([0-9]*\) .*/\2/p; s/^| \(allreduce\|broadcast\|allgather\|reducescatter\|send\|recv\|reduce\) | \([0-9]*\) .*/\2/p; s/.*<tr><td>\(allreduce\|broadcast\|allgather\|reducescatter\|send\|recv\|reduce\)<\/td><td[^>]*>\([0-9]*\)<.*/\2/p' "$TMP/n.$f" | awk '{s+=$1} END {print s+0}')
  eq "$f: HTA nccl_data shows its 21 NCCL kernels" "$calls" 21
  check "$f: and the overlap line" grep -q 'Communication overlapped with computation' "$TMP/n.$f"
done
check "html: no memory chart (of zeros) for a trace without memory events" sh -c "! grep -q '<svg class=timeline' '$TMP/n.html'"
# df_index_resolver: Kineto blocks with addresses but no segments; upstream peak reserved 12,782,141,440 B,
# so no free block can be larger (the synthetic segment range made it 4.00 EiB)
D=$TMP/df.mtrace
"$MT" import "$DATA/hta/facebookresearch__df_index_resolver_df_index_resolver.json.gz" -o "$D" >/dev/null
"$MT" report "$D" >"$TMP/df.txt"
check "df_index_resolver: no free block larger than the reserved peak (no EiB)" sh -c "! grep -q 'EiB' '$TMP/df.txt'"
check "df_index_resolver: the largest free block is said to be unknown, and why" grep -q 'segments at the peak: unknown' "$TMP/df.txt"
check "df_index_resolver: JSON largest free block null (unknown, not 0), with the text's reason" \
  unknown_json "$D" "the trace does not say which segment holds each block"
# a 2-GPU nsys export: two ranks, each with its kernel and NCCL sections; over them the
# README's 4,010 kernels and 66 ncclDevKernel_SendRecv
"$MT" import "$DATA/nsys-ai/GindaChen__mfu_2gpu_before.sqlite" -o "$TMP/nsys" >/dev/null
"$MT" report "$TMP/nsys" >"$TMP/nsys.txt"
eq "nsys 2-GPU: two ranks in the report" "$(grep -c '^Rank [01] ' "$TMP/nsys.txt")" 2
check "nsys 2-GPU: no '0 B' job peak for a run without memory events" sh -c "! grep -q 'Job peak: 0 B' '$TMP/nsys.txt' && grep -q 'no device memory events in any' '$TMP/nsys.txt'"
check "nsys 2-GPU: JSON largest free block null, no device memory events" unknown_json "$TMP/nsys" "no device memory events in the trace"
eq "nsys 2-GPU: kernels over the ranks' sections" "$(sed -n 's/^  Kernels (\([0-9]*\) launches)/\1/p' "$TMP/nsys.txt" | awk '{ s += $1 } END { print s }')" 4010
eq "nsys 2-GPU: SendRecv over the ranks' sections" "$(grep 'ncclDevKernel_SendRecv' "$TMP/nsys.txt" | awk '{ s += $1 } END { print s }')" 66
# kineto-tb: 8,220 / 8,280 CUDA [memory] events without Addr; the peak is the running sum of
# their Bytes in time order (computed here from the file), and the report says how
for kf in pytorch__samples_resnet50_num_workers_0_worker0.1623143089861 pytorch__samples_resnet50_num_workers_4_worker0.1623212756351; do
  "$MT" import "$DATA/kineto-tb/$kf.pt.trace.json.gz" -o "$TMP/$kf.mtrace" >/dev/null
  want=$(python3 -c "
import gzip, json
ev = [e for e in json.load(gzip.open('$DATA/kineto-tb/$kf.pt.trace.json.gz'))['traceEvents']
      if e.get('name') == '[memory]' and e.get('args', {}).get('Device Type') == 1]
ev.sort(key=lambda e: e['ts'])
s = hi = lo = 0
for e in ev:
    s += e['args']['Bytes']; hi = max(hi, s); lo = min(lo, s)
print(hi - lo)")
  got=$("$MT" report -f json "$TMP/$kf.mtrace" | python3 -c "import json,sys; print(json.load(sys.stdin)['ranks'][0]['peak']['allocated_bytes'])")
  eq "kineto-tb ${kf#pytorch__samples_}: peak allocated = running sum of Bytes" "$got" "$want"
  check "kineto-tb ${kf#pytorch__samples_}: the report says how" sh -c "'$MT' report '$TMP/$kf.mtrace' | tr '\n' ' ' | grep -q 'running sum of *Bytes'"
  # no addresses: no gaps to measure (it was printed as 0 B)
  w="the trace does not say which segment holds each block"
  if "$MT" report "$TMP/$kf.mtrace" | tr '\n' ' ' | tr -s ' ' | grep -q "segments at the peak: unknown ($w)" &&
     unknown_json "$TMP/$kf.mtrace" "$w"; then ok "kineto-tb ${kf#pytorch__samples_}: largest free block unknown (text and JSON), not 0 B"
  else not_ok "kineto-tb ${kf#pytorch__samples_}: largest free block unknown (text and JSON), not 0 B"; fi
done
# diff compares kernels and NCCL too: HTA's trace_diff pair holds 8,568 / 9,876 kernels
"$MT" import "$DATA/hta/facebookresearch__trace_diff_control_control.json.gz" -o "$TMP/dc.mtrace" >/dev/null
"$MT" import "$DATA/hta/facebookresearch__trace_diff_test_test.json.gz" -o "$TMP/dt.mtrace" >/dev/null
check "diff: kernel launches of both runs (8,568 / 9,876)" sh -c "'$MT' diff '$TMP/dc.mtrace' '$TMP/dt.mtrace' | grep -q 'kernel launches  *8568  *9876'"
check "diff -f json: the same, and NCCL per operation" python3 -c "
import json, subprocess
r = json.loads(subprocess.run(['$MT', 'diff', '-f', 'json', '$TMP/dc.mtrace', '$TMP/dt.mtrace'], capture_output=True).stdout)['ranks'][0]
assert r['kernels'] == {'a_launches': 8568, 'b_launches': 9876}, r['kernels']
assert r['nccl'] and all('a_calls' in x and 'b_calls' in x for x in r['nccl'])"
# torch.profiler's ProfilerStep#N ranges are steps: the per-step peaks are those the file names
check "df_index_resolver: one step per ProfilerStep#N in the file" python3 -c "
import gzip, json, re, subprocess, sys
want = sorted({int(m) for m in re.findall(r'\"ProfilerStep#(\\d+)\"', gzip.open('$DATA/hta/facebookresearch__df_index_resolver_df_index_resolver.json.gz', 'rt').read())})
got = [s['step'] for s in json.loads(subprocess.run(['$MT', 'report', '-f', 'json', '$D'], capture_output=True).stdout)['ranks'][0]['steps']]
assert want and got == want, (got, want)"
done_testing
