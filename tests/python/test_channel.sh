#!/bin/sh
# The framework channel (memtrace_fw_*, collector/hooks_framework.c) fed by
# memtrace._alloc: a synthetic allocator feed (labels, relabels, segments,
# expandable segments, OOM; Python stacks with and without --python-stacks),
# then the real allocator histories of the cs336 snapshots replayed through
# the live stream's diffing (bounded ring) and compared with the state each
# dump recorded.  Needs no torch.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# 2 cases per synthetic feed, 1 per snapshot, and the checkers' plans (tap_py)
expect_cases 4
# Twice: without Python stacks (stacks stay 0), then with them (the
# entries' frames in the frames trie, the report naming by allocating frame).
if "$MT" record -q -o "$TMP/syn" -- "$PLAIN" "$SRC/tests/python/feed_synthetic.py" feed 2>"$TMP/err"; then
  ok "synthetic feed recorded"
  tap_py "$PLAIN" "$SRC/tests/python/feed_synthetic.py" check "$TMP"/syn/*.mtrace
  "$MT" report "$TMP"/syn/*.mtrace >"$TMP/rep0" 2>&1
  if grep -q 'big_buffer' "$TMP/rep0"; then not_ok "report without stacks names a frame"; else ok "report without stacks names no frame"; fi
else
  not_ok "synthetic feed: $(cat "$TMP/err")"; not_ok "report without stacks: no recording"
fi
if "$MT" record -q --python-stacks -o "$TMP/synst" -- "$PLAIN" "$SRC/tests/python/feed_synthetic.py" feed 2>"$TMP/err"; then
  ok "synthetic feed recorded with --python-stacks"
  tap_py "$PLAIN" "$SRC/tests/python/feed_synthetic.py" check "$TMP"/synst/*.mtrace stacks
  "$MT" report "$TMP"/synst/*.mtrace >"$TMP/rep1" 2>&1
  # the largest allocation (8 MiB, unlabelled) is named by its innermost Python frame
  top=$(sed -n '/Allocations by name/{n;n;p;}' "$TMP/rep1")
  case $top in
    *"8.00 MiB"*"tensor at /w/model.py:77 big_buffer") ok "report: the largest allocation named by its innermost Python frame";;
    *) not_ok "report: largest allocation by name: '$top'";;
  esac
else
  not_ok "synthetic feed with --python-stacks: $(cat "$TMP/err")"; not_ok "report with stacks: no recording"
fi
S=${MT_SHARED:-}/validation/data/cs336-snapshots
if [ -d "$S" ]; then
  expect_cases $(ls "$S"/*.pickle | wc -l)
  for f in "$S"/*.pickle; do
    b=$(basename "$f" .pickle)
    if "$MT" record -q -o "$TMP/$b" -- "$PLAIN" "$SRC/tests/python/feed_snapshot.py" feed "$f" 3000 2>"$TMP/err"; then
      ok "$b: fed through the channel (ring of 3000 entries, polled every 1000)"
      tap_py "$PLAIN" "$SRC/tests/python/feed_snapshot.py" check "$f" "$TMP/$b"/*.mtrace
    else
      not_ok "$b: feed failed: $(cat "$TMP/err")"
    fi
  done
  # torch re-converts time_us at each snapshot: the same entries 1 us apart
  # in two polls are still the ones seen (not a wrap: fed once, no overrun)
  f=$(ls "$S"/*.pickle | head -n 1); b=$(basename "$f" .pickle)
  expect_cases 1
  if "$MT" record -q -o "$TMP/j$b" -- "$PLAIN" "$SRC/tests/python/feed_snapshot.py" feed "$f" 3000 jitter 2>"$TMP/err"; then
    ok "$b: fed with time_us 1 us later in every other poll"
    tap_py "$PLAIN" "$SRC/tests/python/feed_snapshot.py" check "$f" "$TMP/j$b"/*.mtrace
  else
    not_ok "$b: jittered feed failed: $(cat "$TMP/err")"
  fi
elif [ "${CI:-}" = true ]; then
  echo "Bail out! CI=true and the shared validation data is missing: $S (../shared/validation/data)"; exit 1
else
  expect_cases 1; ok "# SKIP no shared validation data at $S (outside CI; CI=true requires it)"
fi
done_testing
