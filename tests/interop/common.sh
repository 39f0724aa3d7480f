# Shared by the interop shell tests: paths, TAP helpers, the shared data
# (required in CI, skipped with a reason elsewhere: tap.sh need_shared_data).
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
MT=${MT_BUILDDIR:-.}/memtrace
DATA=${MT_SHARED:-}/validation/data
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-interop.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# need_data (after plan/expect_cases): the shared validation data, or all
# planned cases skipped (outside CI), or a failed run (CI=true)
need_data() { need_shared_data "$DATA"; }
# q TRACE SQL: one value
q() { sqlite3 -batch -noheader "$1" "$2"; }
# eq "desc" got want
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else not_ok "$1: got '$2', want '$3'"; fi; }
