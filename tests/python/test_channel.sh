#!/bin/sh
# The framework channel (memtrace_fw_*, collector/hooks_framework.c) fed by
# memtrace._alloc: a synthetic allocator feed (labels, relabels, segments,
# expandable segments, OOM; Python stacks with and without --python-stacks),
# then the real allocator histories of the cs336 snapshots replayed through
# the live stream's diffing (bounded ring) and compared with the state each
# dump recorded.  Needs no torch.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# Twice: without Python stacks (stacks stay 0), then with them (the
# entries' frames in the frames trie, the report naming by allocating frame).
if "$MT" record -q -o "$TMP/syn" -- "$PLAIN" "$SRC/tests/python/feed_synthetic.py" feed 2>"$TMP/err"; then
  ok "synthetic feed recorded"
  tap_py "$PLAIN" "$SRC/tests/python/feed_synthetic.py" check "$TMP"/syn/*.mtrace
  "$MT" report "$TMP"/syn/*.mtrace >"$TMP/rep0" 2>&1
  if grep -q 'big_buffer' "$TMP/rep0"; then not_ok "report without stacks names a frame"; else ok "report without stacks names no frame"; fi
else
  not_ok "synthetic feed: $(cat "$TMP/err")"
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
  not_ok "synthetic feed with --python-stacks: $(cat "$TMP/err")"
fi
S=${MT_SHARED:-}/validation/data/cs336-snapshots
if [ -d "$S" ]; then
  for f in "$S"/*.pickle; do
    b=$(basename "$f" .pickle)
    if "$MT" record -q -o "$TMP/$b" -- "$PLAIN" "$SRC/tests/python/feed_snapshot.py" feed "$f" 3000 2>"$TMP/err"; then
      ok "$b: fed through the channel (ring of 3000 entries, polled every 1000)"
      tap_py "$PLAIN" "$SRC/tests/python/feed_snapshot.py" check "$f" "$TMP/$b"/*.mtrace
    else
      not_ok "$b: feed failed: $(cat "$TMP/err")"
    fi
  done
else
  ok "# SKIP no shared data ($S)"
fi
done_testing
