#!/bin/sh
# The framework channel (memtrace_fw_*, collector/hooks_framework.c) fed by
# memtrace._alloc: a synthetic allocator feed (labels, relabels, segments,
# expandable segments, OOM), then the real allocator histories of the cs336
# snapshots replayed through the live stream's diffing (bounded ring) and
# compared with the state each dump recorded.  Needs no torch.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
if "$MT" record -q -o "$TMP/syn" -- "$PLAIN" "$SRC/tests/python/feed_synthetic.py" feed 2>"$TMP/err"; then
  ok "synthetic feed recorded"
  tap_py "$PLAIN" "$SRC/tests/python/feed_synthetic.py" check "$TMP"/syn/*.mtrace
else
  not_ok "synthetic feed: $(cat "$TMP/err")"
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
