#!/bin/sh
# Malformed, truncated and hostile inputs: `memtrace import` prints one line
# naming the file, exits 2, and leaves no output (nor temporary) behind.
. "${MT_SRCDIR:-.}/tests/interop/common.sh"
# 27 made here + 4 cut from the shared data (SKIPs without it, outside CI),
# then 8 more
plan 39
H=$TMP/in
mkdir -p "$H"
# pickles that try to run code (protocol 0 GLOBAL+REDUCE; protocol 4 STACK_GLOBAL+REDUCE)
printf '\200\002cos\nsystem\n(S"touch %s/pwned"\ntR.' "$TMP" > "$H/global.pickle"
printf 'cos\nsystem\n(S"touch %s/pwned0"\ntR.' "$TMP" > "$H/global_proto0.pickle"
printf '\200\004\214\002os\214\006system\223\214\004true\205R.' > "$H/stack_global.pickle"
printf '\200\004}\224(\214\001a\224\214\010builtins\224\214\004eval\224\223\224u.' > "$H/in_dict.pickle"
printf '\200\004\201.' > "$H/newobj.pickle"
printf '\200\004]\224b.' > "$H/build.pickle"
printf '\200\004\377.' > "$H/unknown_op.pickle"
# 4 GB length fields
printf '\200\004X\377\377\377\377abc' > "$H/len4g.pickle"
printf '\200\004\215\377\377\377\377\377\377\377\177abc' > "$H/len8e.pickle"
printf '\200\004\212\377' > "$H/long1.pickle"
# malformed pickle structure
printf '\200\004a.' > "$H/underflow.pickle"
printf '\200\004h\007.' > "$H/badmemo.pickle"
printf '\200\004}\224' > "$H/nostop.pickle"
printf '\200\004K\001.' > "$H/notdict.pickle"
# JSON nested 10,000 deep, inside traceEvents and at the top
{ printf '{"traceEvents":['; i=0; while [ $i -lt 10000 ]; do printf '['; i=$((i+1)); done
  i=0; while [ $i -lt 10000 ]; do printf ']'; i=$((i+1)); done; printf ']}'; } > "$H/deep.json"
{ i=0; while [ $i -lt 10000 ]; do printf '{"a":'; i=$((i+1)); done; printf '1'
  i=0; while [ $i -lt 10000 ]; do printf '}'; i=$((i+1)); done; } > "$H/deep_top.json"
printf '{"traceEvents":[{"ph":"X","cat":"kernel","name":"k","ts":1,"dur":2},' > "$H/truncated.json"
printf '{"traceEvents":[{"ph":"X",,}]}' > "$H/syntax.json"
printf '{"traceEvents":{"ph":"X"}}' > "$H/events_not_array.json"
printf '{"traceEvents":["\\u12' > "$H/bad_escape.json"
printf '[[1, 2, 3]]' > "$H/memtl_short.json"
printf '[[1, 9, 3, 0]]' > "$H/memtl_action.json"
printf '[["x", 2, 3, 0]]' > "$H/memtl_type.json"
printf '\037\213\010\000\000\000\000\000' > "$H/truncated.json.gz"
printf 'SQLite format 3\000garbage' > "$H/truncated.sqlite"
printf 'hello, not a trace\n' > "$H/garbage.txt"
: > "$H/empty"
data=0
if [ -n "${MT_SHARED:-}" ] && [ -d "$DATA" ]; then
  data=1
  head -c 500000 "$DATA/cs336-snapshots/bcrafton__memory_snapshot.pickle" > "$H/cut.pickle"
  head -c 300000 "$DATA/hta/facebookresearch__nccl_parser_config_nccl_data.json.gz" > "$H/cut.json.gz"
  head -c 1000000 "$DATA/pipit-nsys/hpcgroup__cloverleaf-nsys_perlmutter-cloverleaf-cuda.sqlite" > "$H/cut.sqlite"
  # a real nsys file with its tables dropped is SQLite but not nsys
  cp "$DATA/pipit-nsys/hpcgroup__saxpy-mpi-cuda_nsys_perlmutter0.sqlite" "$H/nonsys.sqlite"
  chmod u+w "$H/nonsys.sqlite"
  sqlite3 "$H/nonsys.sqlite" "DROP TABLE StringIds" 2>/dev/null
elif [ "${CI:-}" = true ]; then
  echo "Bail out! CI=true and the shared validation data is missing: $DATA (../shared/validation/data)"; exit 1
else
  skip 4 "cut.pickle, cut.json.gz, cut.sqlite, nonsys.sqlite: no shared validation data at $DATA (outside CI)"
fi

for f in "$H"/*; do
  b=$(basename "$f")
  out=$TMP/out-$b.mtrace
  "$MT" import "$f" -o "$out" >/dev/null 2>"$TMP/err"
  rc=$?
  lines=$(wc -l < "$TMP/err" | tr -d ' ')
  left=$(ls "$TMP" | grep -c "^out-$b")
  if [ $rc -eq 2 ] && [ "$lines" = 1 ] && [ "$left" = 0 ] && grep -q "$b" "$TMP/err"; then
    ok "$b: exit 2, one line naming the file, nothing left: $(cat "$TMP/err")"
  else
    not_ok "$b: rc=$rc lines=$lines left=$left: $(head -2 "$TMP/err" | tr '\n' ' ')"
  fi
done
[ -e "$TMP/pwned" ] || [ -e "$TMP/pwned0" ] && not_ok "the GLOBAL pickle ran code" || ok "no pickle ran code"
"$MT" import "$H/global.pickle" -o "$TMP/g.mtrace" 2>&1 | grep -q "GLOBAL" &&
  ok "GLOBAL is named in the error" || not_ok "GLOBAL not named in the error"
"$MT" import "$H/stack_global.pickle" -o "$TMP/g.mtrace" 2>&1 | grep -q "STACK_GLOBAL" &&
  ok "STACK_GLOBAL is named in the error" || not_ok "STACK_GLOBAL not named in the error"
"$MT" import --format snapshot "$H/deep.json" -o "$TMP/g.mtrace" >/dev/null 2>&1
eq "--format forces the importer (JSON read as pickle fails)" "$?" 2

# Several ranks, one bad: no run directory, no temporary directory.
printf '{"distributedInfo":{"rank":0},"traceEvents":[]}' > "$TMP/r0.json"
"$MT" import "$TMP/r0.json" "$H/deep.json" -o "$TMP/run" >/dev/null 2>"$TMP/err"
rc=$?
eq "run import with one bad file: exit 2" "$rc" 2
eq "run import with one bad file: nothing left" "$(ls "$TMP" | grep -c '^run')" 0
# Existing output is never overwritten.
: > "$TMP/exists.mtrace"
"$MT" import "$TMP/r0.json" -o "$TMP/exists.mtrace" >/dev/null 2>&1
eq "existing output: exit 2" "$?" 2
eq "existing output untouched" "$(wc -c < "$TMP/exists.mtrace" | tr -d ' ')" 0
done_testing
