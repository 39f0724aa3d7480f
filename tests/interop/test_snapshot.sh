#!/bin/sh
# PyTorch memory snapshots (validation/data/cs336-snapshots): import, then
# replay the imported events and compare with the state the dump recorded.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
need_data
S=$DATA/cs336-snapshots

# Live segments and blocks at the end of the imported trace, by replaying
# its events in order (last event per address decides).
live_regions="WITH ev AS (SELECT addr, size, op, ROW_NUMBER() OVER (PARTITION BY addr ORDER BY ts DESC, rowid DESC) rn
  FROM region_events) SELECT addr || ' ' || size FROM ev WHERE rn = 1 AND op = 1 ORDER BY addr"
live_segs="WITH ev AS (SELECT addr, size, op, ROW_NUMBER() OVER (PARTITION BY addr ORDER BY ts DESC, rowid DESC) rn
  FROM mem_events WHERE result = 0) SELECT addr || ' ' || size FROM ev WHERE rn = 1 AND op = 1 ORDER BY addr"
min_running="SELECT MIN(s) FROM (SELECT SUM(CASE op WHEN 1 THEN size ELSE -size END)
  OVER (ORDER BY ts, rowid) s FROM region_events)"

# file segments reserved allocated entries pre-recording-frees
while read -r f nseg reserved allocated entries pre; do
  out=$TMP/$f.mtrace
  if ! "$MT" import "$S/$f.pickle" -o "$out" >/dev/null 2>"$TMP/err"; then
    not_ok "$f: import failed: $(cat "$TMP/err")"
    continue
  fi
  ok "$f: imported"
  q "$out" "$live_segs" > "$TMP/segs"
  q "$out" "$live_regions" > "$TMP/blocks"
  eq "$f: live segments after replay" "$(wc -l < "$TMP/segs" | tr -d ' ')" "$nseg"
  eq "$f: reserved bytes after replay" "$(awk '{s+=$2} END {printf "%.0f", s}' "$TMP/segs")" "$reserved"
  eq "$f: allocated bytes after replay" "$(awk '{s+=$2} END {printf "%.0f", s}' "$TMP/blocks")" "$allocated"
  eq "$f: trace entries" "$(q "$out" "SELECT value FROM meta WHERE key='import.entries'")" "$entries"
  eq "$f: frees of blocks allocated before recording" \
     "$(q "$out" "SELECT COUNT(*) FROM region_events r JOIN strings s ON s.id = r.label_id
                  WHERE s.value LIKE '%import/allocated before recording began%'")" "$pre"
  eq "$f: replay never dips below zero" "$(q "$out" "$min_running" | awk '{print ($1 >= 0) ? "yes" : "no"}')" yes
  eq "$f: no replay mismatch with the dump" "$(q "$out" "SELECT value FROM meta WHERE key='import.replay_mismatches'")" 0
  eq "$f: stacks imported" "$(q "$out" "SELECT COUNT(*) > 0 FROM frames")" 1
  # Exact agreement, block by block, with the dump as python3's own pickle
  # module reads it (plain data, trusted test input).
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$S/$f.pickle" > "$TMP/dump" <<'PY'
import pickle, sys
d = pickle.load(open(sys.argv[1], 'rb'))
for a, s in sorted((b['address'], b['size']) for seg in d['segments'] for b in seg['blocks']
                   if b['state'] in ('active_allocated', 'active_pending_free')):
    print(a, s)
PY
    if cmp -s "$TMP/dump" "$TMP/blocks"; then ok "$f: every block at the dump, address and size, after replay"
    else not_ok "$f: blocks differ from the dump: $(diff "$TMP/dump" "$TMP/blocks" | head -3 | tr '\n' ' ')"; fi
  else
    ok "$f: block-by-block check # SKIP no python3"
  fi
done <<'EOF2'
notHanmin__memory_snapshot 999 23842521088 16019091968 19464 329
notHanmin__memory_snapshot_forward 1722 47234154496 44607570432 8948 1
bcrafton__memory_snapshot 96 4238344192 3072871424 6486 222
EOF2
done_testing
