#!/bin/sh
# Issue 20's Bar: every held-out Kineto, nsys, snapshot and memory-timeline
# file of the shared data, imported, reported in text, Markdown, HTML and
# JSON: each report shows per rank (one per GPU for nsys exports) the kernel
# and NCCL counts the file holds, counted by check_report_counts.py from the
# file itself (Python's json and sqlite3), or names the section it cannot
# fill.  A case for the listing, then per file of it an import case and
# the checker's 8 (2 per format).
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
C=${MT_SRCDIR:-.}/tests/interop/check_report_counts.py
PY=$(command -v python3)
# the files, one "KIND PATH" a line
list() {
  for f in "$DATA"/hta/*.json.gz "$DATA"/kineto-tb/*.json.gz; do [ -f "$f" ] && echo "kineto $f"; done
  for f in "$DATA"/nsys-ai/*.sqlite "$DATA"/pipit-nsys/*.sqlite; do [ -f "$f" ] && echo "nsys $f"; done
  for f in "$DATA"/cs336-snapshots/*.pickle; do [ -f "$f" ] && echo "snapshot $f"; done
  for f in "$DATA"/hta/*memory_timeline.raw.gz; do [ -f "$f" ] && echo "memory-timeline $f"; done
}
if [ -n "${MT_SHARED:-}" ] && [ -d "$DATA" ]; then
  n=$(list | wc -l)
  # the listing is the ground truth of what is checked: an empty one is a failure
  plan $((1 + n * 9))
  if [ "$n" -gt 0 ]; then ok "the shared data holds $n Kineto, nsys, snapshot and memory-timeline files"
  else not_ok "no Kineto, nsys, snapshot or memory-timeline file under $DATA"; fi
fi
need_data
i=0
list >"$TMP/list"
while read -r kind f; do
  i=$((i + 1))
  t=$TMP/t$i
  if "$MT" import -f "$kind" "$f" -o "$t" >/dev/null 2>"$TMP/err"; then
    ok "import $(basename "$f")"
    tap_py "$PY" "$C" "$kind" "$f" "$t" "$MT"
  else
    not_ok "import $(basename "$f"): $(head -n 1 "$TMP/err")"
    skip 8 "$(basename "$f") not imported"
  fi
done <"$TMP/list"
done_testing
