#!/bin/sh
# The memtrace command line: help, version, errors, and `memtrace dump` on
# a good trace (against a golden file whose values mktrace wrote), an
# unfinished one, and files that are not traces.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
S=${MT_SRCDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-cli-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 37

check "--help exits 0 and lists dump" sh -c "'$MT' --help | grep -q '^  dump '"
check "--version names the version" sh -c "'$MT' --version | grep -q '^memtrace [0-9]'"
check "help dump shows its usage" sh -c "'$MT' help dump | grep -q '^Usage: memtrace dump'"
check "dump --help shows its usage" sh -c "'$MT' dump --help | grep -q '^Usage: memtrace dump'"
check "help upgrade shows its usage" sh -c "'$MT' help upgrade | grep -q '^Usage: memtrace upgrade'"
# the man page documents every command (scripts/gen-man.sh; `make man`)
missing=""
for c in $("$MT" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do
  grep -q "^\.SS $c\$" "$S/docs/man/memtrace.1" || missing="$missing $c"
done
if [ -z "$missing" ]; then ok "the man page has a section for every command"; else not_ok "man page lacks:$missing (run make man)"; fi
# every command the README documents is built in (commands are ordinary
# symbols: a command file left out of the build fails the link, and this
# catches one dropped from the table in main.c)
readme=$(sed -n '/^```/,/^```/s/^memtrace \([a-z][a-z]*\) .*/\1/p' "$S/README.md" | grep -v '^help$' | sort -u)
built=$("$MT" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u)
if [ -n "$readme" ] && [ "$readme" = "$built" ]; then ok "--help lists exactly the README's commands ($(echo $built | wc -w))"
else not_ok "README's commands [$(echo $readme)] vs --help [$(echo $built)]"; fi
check "the man page names a path, not a shell variable" sh -c "! grep -q '\\\$prefix' '$S/docs/man/memtrace.1'"
# no arguments: the usage (several lines) on stderr, exit 2, nothing on stdout
"$MT" >"$W/out" 2>"$W/err"; rc=$?
if [ $rc -eq 2 ] && [ ! -s "$W/out" ] && head -n 1 "$W/err" | grep -q '^Usage: memtrace '; then
  ok "no arguments is a usage error (exit 2, the usage on stderr)"
else
  not_ok "no arguments: exit $rc, stdout $(wc -c <"$W/out") bytes, stderr starts: $(head -n 1 "$W/err")"
fi
expect_fail 2 "unknown command" "unknown command 'frobnicate'" "$MT" frobnicate
expect_fail 2 "unknown global option" "unknown option '--frobnicate'" "$MT" --frobnicate
expect_fail 2 "unknown dump option" "unknown option '--bogus'" "$MT" dump --bogus x
expect_fail 2 "help for an unknown command" "unknown command 'nope'" "$MT" help nope
expect_fail 2 "dump without a file" "no trace file" "$MT" dump

"$B/tests/unit/mktrace" basic "$W/basic.db"
"$MT" dump "$W/basic.db" >"$W/dump.txt" 2>"$W/err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$W/err" ]; then ok "dump of a good trace exits 0"; else not_ok "dump of a good trace exits 0"; fi
# the golden file names the trace by a placeholder: the path differs per run
sed "s|$W/basic.db|TRACE|" "$W/dump.txt" >"$W/dump.norm"
if diff -u "$S/tests/golden/dump-basic.txt" "$W/dump.norm" >"$W/diff"; then ok "dump matches tests/golden/dump-basic.txt"
else not_ok "dump matches tests/golden/dump-basic.txt"; sed 's/^/#   /' "$W/diff"; fi
# the facts mktrace wrote, checked one by one
check "dump: the 20 MiB cudaMalloc" grep -q ' alloc  *cudaMalloc device dev=0 stream=0 addr=0x200000000000 size=20971520 ' "$W/dump.txt"
check "dump: the failed 100 GiB cudaMalloc with result 2" grep -q 'size=107374182400 .*result=2$' "$W/dump.txt"
check "dump: the kernel with its name, grid and GPU times" grep -q 'kernel  *cudaLaunchKernel ampere_bf16_s16816gemm .*grid=64x2x1 block=128x1x1 smem=4096 .*gpu=40..90' "$W/dump.txt"
check "dump: the NCCL allreduce" grep -q 'nccl  *allreduce comm=1 count=1000 dtype=7 bytes=4000 peer=-1' "$W/dump.txt"
check "dump: the region label" grep -q 'register  *heap=1 addr=0x200000000000 size=1048576 .*label=parameter/layer.0.qkv.weight' "$W/dump.txt"
check "dump: the range with its end" grep -q 'range  *push_pop "step 0" .*end=900' "$W/dump.txt"
check "dump: the drop counters" grep -q '^# dropped events: 3$' "$W/dump.txt"
check "dump: events in time order" sh -c "grep -v '^#' '$W/dump.txt' | awk '{ if (\$1 < last) exit 1; last = \$1 }'"
check "dump --table kernels prints kernels only" sh -c "test \"\$('$MT' dump --no-header --table kernels '$W/basic.db' | wc -l)\" -eq 1"

"$B/tests/unit/mktrace" open "$W/open.db"
check "dump of an unfinished trace says INCOMPLETE" sh -c "'$MT' dump '$W/open.db' | grep -q INCOMPLETE"

: >"$W/empty.db"
expect_fail 2 "empty file: one-line error, exit 2" "$W/empty.db: empty file" "$MT" dump "$W/empty.db"
head -c 65536 /dev/urandom >"$W/random.db"
expect_fail 2 "random file: one-line error, exit 2" "$W/random.db: not a memtrace trace" "$MT" dump "$W/random.db"
printf 'SQLite format 3\000' >"$W/short.db"
expect_fail 2 "16-byte SQLite magic only: one-line error" "$W/short.db" "$MT" dump "$W/short.db"
cp "$W/basic.db" "$W/trunc.db"
size=$(wc -c <"$W/trunc.db")
truncate -s $((size / 2)) "$W/trunc.db"
expect_fail 2 "truncated trace: one-line error, exit 2" "$W/trunc.db: truncated trace" "$MT" dump "$W/trunc.db"
expect_fail 2 "missing file" "$W/none.db: cannot open" "$MT" dump "$W/none.db"
expect_fail 2 "a directory" "$W: is a directory" "$MT" dump "$W"

cp "$W/basic.db" "$W/newer.db"
sqlite3 "$W/newer.db" 'PRAGMA user_version = 99'
expect_fail 2 "newer schema: refused with a message" "newer memtrace (schema version 99" "$MT" dump "$W/newer.db"

cp "$W/basic.db" "$W/older.db"
sqlite3 "$W/older.db" 'DROP TABLE ooms; DROP TABLE gpu_memory; PRAGMA user_version = 1'
expect_fail 2 "older schema: refused, pointing at upgrade" "run 'memtrace upgrade" "$MT" dump "$W/older.db"
check "upgrade brings the older trace forward" sh -c "'$MT' upgrade '$W/older.db' | grep -q 'upgraded from schema version 1 to 2'"
check "the upgraded trace dumps" sh -c "'$MT' dump '$W/older.db' | grep -q 'ampere_bf16_s16816gemm'"

sqlite3 "$W/someone.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1)'
expect_fail 2 "someone else's SQLite file" "without memtrace tables" "$MT" dump "$W/someone.db"

done_testing
