#!/bin/sh
# Nsight Systems SQLite exports: pipit's golden CSVs for CloverLeaf list every
# GPU activity and CUDA API call with ns timestamps; the imported trace must
# reproduce each one exactly.  Old (2.9.1) and new (3.x) export schemas.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
plan 19
need_data
P=$DATA/pipit-nsys
N=$DATA/nsys-ai
CL=$TMP/cl.mtrace
# devs TRACE...: each trace's devices table, one line per trace, as
# nsys_devices.py reads them from the export
devs() { for t in "$@"; do q "$t" "SELECT group_concat(line, ' ') FROM (SELECT d.id || '|' || s.value || '|' ||
  d.total_bytes AS line FROM devices d JOIN strings s ON s.id = d.name_id ORDER BY d.id)"; done; }
want_devs() { python3 "${MT_SRCDIR:-.}/tests/interop/nsys_devices.py" "$1"; }
if "$MT" import "$P/hpcgroup__cloverleaf-nsys_perlmutter-cloverleaf-cuda.sqlite" -o "$CL" >/dev/null 2>"$TMP/err"; then
  ok "import CloverLeaf"
else
  not_ok "import CloverLeaf: $(cat "$TMP/err")"
fi

# GPU activities: name, stream, bytes, start, end.
awk -F, 'NR > 1 && $6 == "Enter" { print $1 "," $2 "," $4 "," $7 "," $9 }' \
  "$P/hpcgroup__cloverleaf-nsys_cloverleaf_gpu_trace.csv" | sort > "$TMP/gpu.want"
q "$CL" "SELECT (SELECT value FROM meta WHERE key = 'kernel.' || k.name_id || '.short') || ',' || stream || ',,' ||
           gpu_start || ',' || gpu_end FROM kernels k
         UNION ALL
         SELECT 'CUDA_MEMCPY_KIND_' || CASE kind WHEN 1 THEN 'HTOD' WHEN 2 THEN 'DTOH' WHEN 3 THEN 'DTOD'
                                      WHEN 0 THEN 'HTOH' ELSE 'OTHER' END || ',' || stream || ',' || bytes || ',' ||
           gpu_start || ',' || gpu_end FROM memcpys WHERE kind != 5" | sort > "$TMP/gpu.got"
eq "CloverLeaf: GPU activities in the golden CSV" "$(wc -l < "$TMP/gpu.want" | tr -d ' ')" 1591
if cmp -s "$TMP/gpu.want" "$TMP/gpu.got"; then ok "CloverLeaf: all 1591 GPU activities: names, streams, bytes, ns times"
else not_ok "CloverLeaf: GPU activities differ: $(diff "$TMP/gpu.want" "$TMP/gpu.got" | head -4 | tr '\n' ' ')"; fi

# CUDA API calls: name, process, thread, start, end.
awk -F, 'NR > 1 && $5 == "Enter" { print $1 "," $2 "," $3 "," $6 "," $8 }' \
  "$P/hpcgroup__cloverleaf-nsys_cloverleaf-cuda_api_trace.csv" | sort > "$TMP/api.want"
q "$CL" "SELECT s.value || ',' || (SELECT pid FROM process) || ',' || t.tid || ',' || r.ts || ',' || r.te
         FROM ranges r JOIN strings s ON s.id = r.name_id JOIN threads t ON t.id = r.thread
         WHERE r.domain_id = (SELECT id FROM strings WHERE value = 'cuda_api')" | sort > "$TMP/api.got"
eq "CloverLeaf: CUDA API calls in the golden CSV" "$(wc -l < "$TMP/api.want" | tr -d ' ')" 3048
if cmp -s "$TMP/api.want" "$TMP/api.got"; then ok "CloverLeaf: all 3048 CUDA API calls: names, process, thread, ns times"
else not_ok "CloverLeaf: API calls differ: $(diff "$TMP/api.want" "$TMP/api.got" | head -4 | tr '\n' ' ')"; fi
eq "CloverLeaf: api_calls rows" "$(q "$CL" "SELECT COUNT(*) FROM api_calls")" 3048
# The node has four A100s; the process ran on one: only it is the trace's.
eq "CloverLeaf: the GPU it ran on, from TARGET_INFO_GPU" "$(devs "$CL")" "$(want_devs "$P/hpcgroup__cloverleaf-nsys_perlmutter-cloverleaf-cuda.sqlite")"
# the report's rank header names it (sqlite3's reading of TARGET_INFO_GPU)
eq "CloverLeaf: report header names the GPU" "$("$MT" report "$CL" 2>/dev/null | sed -n 's/^ *GPU: \([^(]*\) (cuda:\([0-9]*\).*/\2|\1/p')" \
   "$(want_devs "$P/hpcgroup__cloverleaf-nsys_perlmutter-cloverleaf-cuda.sqlite" | cut -d'|' -f1,2)"
eq "CloverLeaf: enums read from the file" "$(q "$CL" "SELECT value FROM meta WHERE key = 'import.nsys_enums'")" file

# Old export schema (2.9.1): no ENUM_* tables.
S=$TMP/saxpy.mtrace
"$MT" import "$P/hpcgroup__saxpy-mpi-cuda_nsys_perlmutter0.sqlite" -o "$S" >/dev/null 2>&1
eq "saxpy (schema 2.9.1): kernels / memcpys" "$(q "$S" "SELECT (SELECT COUNT(*) FROM kernels) || '/' ||
   (SELECT COUNT(*) FROM memcpys WHERE kind != 5)")" 5/15
# NVTX_EVENTS has 24 rows: 22 push/pop ranges, one domain creation, one thread name.
eq "saxpy: NVTX push/pop ranges" "$(q "$S" "SELECT COUNT(*) FROM ranges WHERE kind = 1 AND domain_id !=
   (SELECT id FROM strings WHERE value = 'cuda_api')")" 22

# nsys-ai captures (schema 3.25): kernels, NCCL, memcpy, NVTX.
# Two GPU processes each: a run directory, one rank per process; the
# counts over its ranks are the file's.
while read -r f kern nccl cpy nvtx; do
  o=$TMP/$f
  "$MT" import "$N/$f.sqlite" -o "$o" >/dev/null 2>&1
  eq "$f: one trace per GPU process" "$(ls "$o" 2>/dev/null | grep -c '^rank[01]\..*\.mtrace$')" 2
  # no TARGET_INFO_GPU in these exports: each rank still names its GPU's index
  eq "$f: each rank's GPU" "$(devs "$o"/*.mtrace | tr '\n' ' ')" "$(want_devs "$N/$f.sqlite" | tr '\n' ' ')"
  eq "$f: each rank of world size 2" "$(for t in "$o"/*.mtrace; do q "$t" "SELECT rank || ':' || world_size FROM process"; done | tr '\n' ' ')" "0:2 1:2 "
  eq "$f: kernels/NCCL/memcpy/NVTX over the ranks" "$(for t in "$o"/*.mtrace; do q "$t" "SELECT (SELECT COUNT(*) FROM kernels),
     (SELECT COUNT(*) FROM nccl_calls), (SELECT COUNT(*) FROM memcpys WHERE kind != 5),
     (SELECT COUNT(*) FROM ranges WHERE domain_id != (SELECT id FROM strings WHERE value = 'cuda_api'))"; done |
     awk -F'|' '{ k += $1; n += $2; c += $3; v += $4 } END { print k "/" n "/" c "/" v }')" "$kern/$nccl/$cpy/$nvtx"
done <<'EOF2'
GindaChen__mfu_2gpu_before 4010 66 1020 19118
GindaChen__h100_2gpu_1s 3442 0 904 16782
EOF2
done_testing
