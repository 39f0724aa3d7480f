# Shared by the interop shell tests: paths, TAP helpers, skip without data.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
MT=${MT_BUILDDIR:-.}/memtrace
DATA=${MT_SHARED:-}/validation/data
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-interop.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# skip_all_without_data: the shared validation data is absent (make distcheck)
need_data() {
  if [ -z "${MT_SHARED:-}" ] || [ ! -d "$DATA" ]; then
    echo "ok 1 # SKIP no shared data"
    echo "1..1"
    exit 0
  fi
}
# q TRACE SQL: one value
q() { sqlite3 -batch -noheader "$1" "$2"; }
# eq "desc" got want
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else not_ok "$1: got '$2', want '$3'"; fi; }
