#!/bin/sh
# memtrace report and memtrace diff on the command line: every format, -o,
# --rank, --budget, --baseline, run directories, and bad input (a clear
# one-line error or an INCOMPLETE report, never a crash).
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
S=${MT_SRCDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-report-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 53

"$B/tests/unit/mktrace" basic "$W/basic.mtrace"
check "help report shows its usage" sh -c "'$MT' help report | grep -q '^Usage: memtrace report'"
check "report --help shows its usage" sh -c "'$MT' report --help | grep -q '^Usage: memtrace report'"
check "--help lists report and diff" sh -c "'$MT' --help | grep -q '^  report ' && '$MT' --help | grep -q '^  diff '"

"$MT" report "$W/basic.mtrace" >"$W/text" 2>"$W/err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$W/err" ]; then ok "text report exits 0, quietly"; else not_ok "text report exits 0, quietly"; fi
check "text: peak allocated 1.00 MiB (the parameter region)" grep -q 'allocated  *1.00 MiB' "$W/text"
check "text: peak reserved 20.0 MiB (the segment)" grep -q 'reserved  *20.0 MiB' "$W/text"
check "text: the parameter by annotation" grep -q 'parameter  *1.00 MiB  *100.0%  *annotation' "$W/text"
check "text: dropped events stated" grep -q 'Dropped events: 3' "$W/text"
check "text: the 100 GiB OOM attempt" grep -q '100 GiB' "$W/text"
check "text: fits 100 columns" sh -c "! awk 'length(\$0) > 100' '$W/text' | grep -q ."

"$MT" report --format json "$W/basic.mtrace" >"$W/r.json"
check "json: parses" python3 -m json.tool "$W/r.json"
check "json: validates against schemas/report.schema.json" python3 "$S/tests/analyzer/check_report.py" "$S/schemas/report.schema.json" "$W/r.json"
check "json: peak allocated, reserved, time (absolute), step, drops" python3 -c "
import json,sys
r=json.load(open('$W/r.json')); p=r['ranks'][0]['peak']
assert r['dropped_events']==3, r['dropped_events']
assert p['allocated_bytes']==1048576 and p['reserved_bytes']==20971520, p
assert p['time_ns']==5000000000+20, p['time_ns']
assert p['step']==0 and p['by_category']['parameter']==1048576
assert r['ranks'][0]['incomplete'] is False
"
check "md: headings and tables" sh -c "'$MT' report -f md '$W/basic.mtrace' | grep -q '^## Rank 0' && '$MT' report -f md '$W/basic.mtrace' | grep -q '^| category'"
"$MT" report -f html -o "$W/r.html" "$W/basic.mtrace"
check "html: svg timeline and tables" sh -c "grep -q '<svg class=timeline' '$W/r.html' && grep -q '<table>' '$W/r.html'"
# no network: no URL but the SVG namespace, no protocol-relative src/href
check "html: no network (no URL but the SVG namespace)" sh -c "! grep -o -E '[a-zA-Z][a-zA-Z0-9+.-]*://[^\"'\'' )<>]*' '$W/r.html' | grep -v -x 'http://www.w3.org/2000/svg' | grep -q . && ! grep -q -E '(src|href)=[\"'\'']?//' '$W/r.html'"
# text is escaped: every tag is one of HTML's or SVG's (the rules' "<category>/" was a tag)
check "html: every tag an HTML or SVG element (text escaped)" python3 -c "
import html.parser, sys
known = set('html head meta title style body h1 h2 h3 h4 p table tr th td section div span i b a ul li code pre br svg g path rect line text polyline circle'.split())
class P(html.parser.HTMLParser):
    tags = set()
    def handle_starttag(self, t, a): self.tags.add(t)
p = P(); p.feed(open(sys.argv[1]).read())
sys.exit('unknown tags: %s' % sorted(p.tags - known) if p.tags - known else 0)" "$W/r.html"
check "-o leaves no temporary file" sh -c "test \"\$(ls '$W' | grep -c tmp)\" -eq 0"
expect_fail 1 "-o into a missing directory: exit 1, nothing written" "cannot write" "$MT" report -o "$W/no/such/r.txt" "$W/basic.mtrace"
check "-o failure left nothing" sh -c "test ! -e '$W/no'"

expect_fail 3 "--budget 512KiB: exit 3 with the reason" "over budget: rank 0 peak reserved 20.0 MiB" sh -c "'$MT' report --budget 512KiB '$W/basic.mtrace' >/dev/null"
check "--budget 1GiB passes" sh -c "'$MT' report --budget 1GiB '$W/basic.mtrace' >/dev/null"
check "--budget 21MB (decimal, 21e6 > 20 MiB) passes" sh -c "'$MT' report --budget 21MB '$W/basic.mtrace' >/dev/null"
expect_fail 3 "--budget 20MB (decimal, < 20 MiB) fails" "over budget" sh -c "'$MT' report --budget 20MB '$W/basic.mtrace' >/dev/null"
expect_fail 2 "--budget nonsense is a usage error" "--budget wants a size" "$MT" report --budget lots "$W/basic.mtrace"
expect_fail 2 "unknown format" "unknown format 'pdf'" "$MT" report -f pdf "$W/basic.mtrace"
expect_fail 2 "--max-increase without --baseline" "needs --baseline" "$MT" report --max-increase 5 "$W/basic.mtrace"

check "--baseline equal: exit 0" sh -c "'$MT' report --baseline '$W/r.json' --max-increase 0 '$W/basic.mtrace' >/dev/null"
python3 -c "
import json
r=json.load(open('$W/r.json')); r['ranks'][0]['peak']['allocated_bytes']=1000000
json.dump(r, open('$W/smaller.json','w'))"
expect_fail 3 "--baseline smaller by 5%: exit 3" "regression: rank 0 peak allocated 1.00 MiB" sh -c "'$MT' report --baseline '$W/smaller.json' --max-increase 2 '$W/basic.mtrace' >/dev/null"
check "--baseline within --max-increase 5%: exit 0" sh -c "'$MT' report --baseline '$W/smaller.json' --max-increase 5% '$W/basic.mtrace' >/dev/null"
echo '{"x": 1}' >"$W/notreport.json"
expect_fail 2 "--baseline that is not a report" "not a memtrace JSON report" sh -c "'$MT' report --baseline '$W/notreport.json' '$W/basic.mtrace' >/dev/null"

# run directory: two ranks
mkdir "$W/run"
cp "$W/basic.mtrace" "$W/run/rank0.1.mtrace"
cp "$W/basic.mtrace" "$W/run/rank1.2.mtrace"
sqlite3 "$W/run/rank1.2.mtrace" "UPDATE process SET rank = 1, pid = 2; UPDATE region_events SET size = 2097152"
"$MT" report "$W/run" >"$W/run.txt" 2>&1
check "run dir: job peak on rank 1, imbalance" grep -q 'Job peak: 2.00 MiB allocated on rank 1; imbalance 1.33x' "$W/run.txt"
check "run dir --rank 0: one rank" sh -c "'$MT' report --rank 0 -f json '$W/run' | python3 -c 'import json,sys; r=json.load(sys.stdin); assert [x[\"rank\"] for x in r[\"ranks\"]]==[0]'"
expect_fail 2 "run dir --rank 5: no such rank" "no trace of rank 5" "$MT" report --rank 5 "$W/run"
mkdir "$W/emptyrun"
expect_fail 2 "empty directory" "no traces" "$MT" report "$W/emptyrun"

# bad input
"$B/tests/unit/mktrace" open "$W/open.mtrace"
"$MT" report "$W/open.mtrace" >"$W/open.txt" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'INCOMPLETE' "$W/open.txt"; then ok "never-closed trace: report marked INCOMPLETE"; else not_ok "never-closed trace: report marked INCOMPLETE"; fi
check "INCOMPLETE says what is missing" grep -q 'last unwritten batch are missing' "$W/open.txt"
check "never-closed trace: json incomplete, end_ns null" sh -c "'$MT' report -f json '$W/open.mtrace' | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"incomplete\"] and r[\"ranks\"][0][\"end_ns\"] is None'"
: >"$W/empty.mtrace"
expect_fail 2 "empty file" "$W/empty.mtrace: empty file" "$MT" report "$W/empty.mtrace"
head -c 65536 /dev/urandom >"$W/random.mtrace"
expect_fail 2 "random bytes" "not a memtrace trace" "$MT" report "$W/random.mtrace"
cp "$W/basic.mtrace" "$W/trunc.mtrace"
truncate -s $(($(wc -c <"$W/trunc.mtrace") / 2)) "$W/trunc.mtrace"
expect_fail 2 "truncated trace" "truncated trace" "$MT" report "$W/trunc.mtrace"
cp "$W/basic.mtrace" "$W/newer.mtrace"
sqlite3 "$W/newer.mtrace" 'PRAGMA user_version = 99'
expect_fail 2 "newer schema" "newer memtrace" "$MT" report "$W/newer.mtrace"
cp "$W/basic.mtrace" "$W/corrupt.mtrace"
# damage the middle pages, keep the header
dd if=/dev/urandom of="$W/corrupt.mtrace" bs=1024 seek=8 count=8 conv=notrunc 2>/dev/null
"$MT" report "$W/corrupt.mtrace" >"$W/out" 2>"$W/err"; rc=$?
if [ $rc -eq 0 ] || { [ $rc -eq 2 ] && [ "$(wc -l <"$W/err")" -eq 1 ]; }; then ok "corrupt pages: a report or one line, exit 0/2 (got $rc)"; else not_ok "corrupt pages: exit $rc"; sed 's/^/#   /' "$W/err"; fi
# 40 damaged copies (64 random bytes at spread offsets past the header):
# each gives a report (exit 0) or one line (exit 2), never a crash
sz=$(wc -c <"$W/basic.mtrace")
bad=0
for i in $(seq 1 40); do
  cp "$W/basic.mtrace" "$W/fz.mtrace"
  dd if=/dev/urandom of="$W/fz.mtrace" bs=1 seek=$(( (i * 2731 + 100) % sz )) count=64 conv=notrunc 2>/dev/null
  "$MT" report -f json "$W/fz.mtrace" >/dev/null 2>"$W/fz.err"; rc=$?
  if { [ $rc -ne 0 ] && [ $rc -ne 2 ]; } || [ "$(wc -l <"$W/fz.err")" -gt 1 ]; then
    bad=$((bad + 1)); diag "offset $(( (i * 2731 + 100) % sz )): exit $rc"; sed 's/^/#   /' "$W/fz.err"
  fi
done
check "40 randomly damaged traces: a report or one line each, no crash" test $bad -eq 0
expect_fail 2 "missing file" "cannot open" "$MT" report "$W/none.mtrace"
expect_fail 2 "no argument" "no trace or run directory" "$MT" report

# a real SIGKILL: simtrain killed under memtrace record leaves FILE + FILE-wal
ST="$B/tests/sim/simtrain/simtrain"
if [ -x "$ST" ] && "$MT" record --help >/dev/null 2>&1; then
  # (under timeout: the wait below has a deadline whatever happens)
  LD_LIBRARY_PATH="$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs:$B/tests/sim/cublas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    timeout -s KILL 120 "$MT" record -o "$W/killed" -- "$ST" --layers 8 --steps 100000 >"$W/killed.log" 2>&1 &
  rp=$!
  # killed once allocations are committed to the trace (polled, 60 s deadline)
  # (-readonly, and only once the file exists: sqlite3 would create it)
  committed() {
    f=$(ls "$W/killed"/*.mtrace 2>/dev/null | head -n 1)
    [ -n "$f" ] && n=$(sqlite3 -readonly "$f" 'SELECT count(*) FROM region_events' 2>/dev/null) && [ "${n:-0}" -gt 0 ]
  }
  poll_until 60 committed || diag "no committed allocation after 60 s"
  child=$(pgrep -P "$(pgrep -P "$rp" | head -1)" | head -1)
  [ -n "$child" ] && kill -9 "$child"
  wait "$rp"
  "$MT" report -f json "$W/killed" >"$W/killed.json" 2>"$W/err"; rc=$?
  check "SIGKILLed run: report exits 0" test "$rc" -eq 0
  check "SIGKILLed run: marked incomplete, with a peak" python3 -c "
import json; r=json.load(open('$W/killed.json')); k=r['ranks'][0]
assert r['incomplete'] and k['incomplete'] and k['end_ns'] is None and k['peak']['allocated_bytes'] > 0, k['peak']"
else
  ok "SIGKILLed run # SKIP needs memtrace record and simtrain"
  ok "SIGKILLed run: incomplete # SKIP needs memtrace record and simtrain"
fi

# diff
"$MT" diff "$W/basic.mtrace" "$W/run/rank1.2.mtrace" >"$W/diff.txt" 2>"$W/err"; rc=$?
if [ $rc -eq 0 ]; then ok "diff exits 0"; else not_ok "diff exits 0 (got $rc)"; sed 's/^/#   /' "$W/err"; fi
check "diff: peaks side by side" grep -q 'peak allocated *1.00 MiB *2.00 MiB *+1.00 MiB (+100.0%)' "$W/diff.txt"
check "diff: the allocation that changed" grep -q 'parameter/layer.0.qkv.weight' "$W/diff.txt"
check "diff: a JSON report against a trace" sh -c "'$MT' diff '$W/r.json' '$W/basic.mtrace' | grep -q 'no allocation changed'"
expect_fail 2 "diff with one side" "wants two runs" "$MT" diff "$W/basic.mtrace"
done_testing
