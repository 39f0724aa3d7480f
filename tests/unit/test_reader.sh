#!/bin/sh
# The commands ported to the typed reader (schemas/reader.h) print what the
# trace holds, byte for byte as before the port: `info` (text and JSON),
# `dump`'s drop lines and `export --format torch-snapshot`'s frames, on
# mktrace's trace (tests/unit/mktrace.c holds its rows) plus rows this
# script adds: drops with a reason, an empty one and none, the rank learnt
# from NCCL, and a stack of a Python frame, a bare pc and a native symbol.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=$(cd "${MT_BUILDDIR:-.}" && pwd)
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-reader-XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 6

same() {   # name expected-file actual-file
  if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1"; diff -u "$2" "$3" | sed 's/^/#   /'; fi
}

"$B/tests/unit/mktrace" basic "$W/basic.mtrace"
cd "$W" || exit 1
"$MT" info basic.mtrace >info.txt 2>&1
cat >want.txt <<'X'
basic.mtrace
  run run-test  rank 0/2 (local 0; from environment)  pid 4243 on testhost
  command: simtrain --steps 1
  mktrace; stacks native; cupti unavailable; complete
  events: 1 alloc, 1 free, 1 kernel, 1 memcpy, 1 nccl, 1 range (0 marks), 0 host_alloc, 1 region_register, 1 oom
  dropped: 3; kernel 3 (buffer full) -- the counts above are incomplete
X
same "info: mktrace's counts and drops" want.txt info.txt

"$MT" info --json basic.mtrace | tr -d ' \n' >info.json
printf '%s' '{"path":"basic.mtrace","run_id":"run-test","rank":0,"local_rank":0,"world_size":2,"rank_source":"environment","host":"testhost","pid":4243,"command_line":"simtrain--steps1","producer":"mktrace","complete":true,"duration_ns":1000,"stacks":"native","cupti":"unavailable","events":{"alloc":1,"free":1,"kernel":1,"nccl":1,"range":1,"memcpy":1,"alloc_failed":1,"free_failed":0,"host_alloc":0,"host_free":0,"vmm_create":0,"vmm_release":0,"vmm_map":0,"vmm_unmap":0,"ranges_pushed":1,"marks":0,"region_register":1,"region_unregister":1,"heap_register":1,"heap_unregister":0,"api":0,"oom":1},"dropped":{"total":3,"kernel":3}}' >want.json
same "info --json: mktrace's counts and drops" want.json info.json

cp basic.mtrace aug.mtrace
sqlite3 aug.mtrace "INSERT OR REPLACE INTO drops VALUES ('kernel', 3, NULL), ('alloc', 2, ''), ('stack', 5, 'ring full');
  INSERT INTO meta VALUES ('world_size.nccl', '4'), ('rank.nccl', '2');
  INSERT INTO strings VALUES (9001, 'train.py:12 forward'), (9002, 'at::native::empty_cuda');
  INSERT INTO frames VALUES (1, 0, 4096, 0, 9001), (2, 1, 8192, 0, NULL), (3, 2, 12288, 0, 9002);
  UPDATE process SET world_size = 1;"
"$MT" info aug.mtrace | sed -n '2p;$p' >info.txt
cat >want.txt <<'X'
  run run-test  rank 2/4 (local 0; from nccl)  pid 4243 on testhost
  dropped: 10; alloc 2 (); kernel 3; stack 5 (ring full) -- the counts above are incomplete
X
same "info: the rank from NCCL, drops with a reason, an empty one and none" want.txt info.txt
"$MT" info --json aug.mtrace | tr -d ' \n' | sed 's/.*"dropped"://' >info.json
printf '%s' '{"total":10,"alloc":2,"kernel":3,"stack":5}}' >want.json
same "info --json: drops per kind" want.json info.json
"$MT" dump aug.mtrace | grep '^# dropped' >dump.txt
cat >want.txt <<'X'
# dropped alloc: 2
# dropped kernel: 3
# dropped stack: 5 — ring full
# dropped events: 10
X
same "dump: drop lines" want.txt dump.txt

# mktrace's first allocation has stack 3: innermost frame first
"$MT" export aug.mtrace --format torch-snapshot -o snap.pickle >/dev/null 2>&1
python3 -c "
import pickle, sys
d = pickle.load(open('snap.pickle', 'rb'))
fr = [e['frames'] for t in d['device_traces'] for e in t if e['frames']]
want = [{'name': 'at::native::empty_cuda', 'filename': '??', 'line': 0}, {'name': '', 'filename': '??', 'line': 0},
        {'name': 'forward', 'filename': 'train.py', 'line': 12}]
sys.exit(0 if fr and all(f == want for f in fr) else 1)
" 2>err.txt
if [ $? -eq 0 ]; then ok "torch-snapshot: a stack's frames, innermost first, Python frames split"
else not_ok "torch-snapshot: a stack's frames"; sed 's/^/#   /' err.txt; fi
