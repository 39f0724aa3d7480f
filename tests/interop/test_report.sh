#!/bin/sh
# `memtrace report` and `memtrace replay` on every imported trace that has
# memory events; the analyzer's peaks against the upstream values.  Skipped
# while those commands are not built in.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
expect_cases 0   # per row of the table below, from its columns
need_data
if ! "$MT" help report >/dev/null 2>&1; then
  expect_cases 1; skip_all "memtrace report is not built in"
fi
have_replay=0
"$MT" help replay >/dev/null 2>&1 && have_replay=1
S=$DATA/cs336-snapshots
H=$DATA/hta
# name file expected-peak-allocated expected-peak-reserved ('-' = not checked)
while read -r name file alloc reserved; do
  expect_cases $((2 + have_replay))
  [ "$alloc" = - ] || expect_cases 1
  [ "$reserved" = - ] || expect_cases 1
  t=$TMP/$name.mtrace
  "$MT" import "$DATA/$file" -o "$t" >/dev/null 2>&1 || { not_ok "$name: import"; continue; }
  if "$MT" report "$t" > "$TMP/r.txt" 2>"$TMP/err"; then ok "$name: report runs"
  else not_ok "$name: report exit $?: $(head -1 "$TMP/err")"; fi
  if "$MT" report --format json "$t" > "$TMP/r.json" 2>"$TMP/err"; then
    got=$(sed -n 's/^ *"peak_allocated_bytes":\([0-9]*\).*/\1/p' "$TMP/r.json" | head -1)
    gotr=$(sed -n 's/^ *"peak_reserved_bytes":\([0-9]*\).*/\1/p' "$TMP/r.json" | head -1)
    [ "$alloc" = - ] || eq "$name: report's peak allocated" "$got" "$alloc"
    [ "$reserved" = - ] || eq "$name: report's peak reserved" "$gotr" "$reserved"
  else
    not_ok "$name: report --format json: $(head -1 "$TMP/err")"
  fi
  if grep -qi "import" "$TMP/r.txt" && grep -qi "lack\|not provide\|no stacks\|cannot" "$TMP/r.txt"; then
    ok "$name: the report says what the import could not provide"
  else
    not_ok "$name: the report says what the import could not provide (meta import.lacks)"
  fi
  if [ $have_replay = 1 ]; then
    if "$MT" replay "$t" > "$TMP/p.txt" 2>"$TMP/err"; then ok "$name: replay runs"
    else not_ok "$name: replay exit $?: $(head -1 "$TMP/err")"; fi
  fi
done <<'EOF2'
snap-notHanmin cs336-snapshots/notHanmin__memory_snapshot.pickle - 23842521088
snap-notHanmin-fwd cs336-snapshots/notHanmin__memory_snapshot_forward.pickle - 47234154496
snap-bcrafton cs336-snapshots/bcrafton__memory_snapshot.pickle - 4238344192
df_index_resolver hta/facebookresearch__df_index_resolver_df_index_resolver.json.gz 6629508096 12782141440
memory_timeline hta/facebookresearch__memory_analysis_memory_timeline.raw.gz 3082832104 -
EOF2
done_testing
