#!/bin/sh
# `memtrace record` and a job's end: a 2-rank simtrain (forked workers, no
# RANK in the environment) stopped by SIGTERM, SIGINT or SIGHUP sent to
# memtrace record, or by SIGKILL of its processes.  Each trace keeps its own
# rank and world size (the collector writes them as soon as the largest NCCL
# communicator gives them, not at a clean exit), no process of the job
# outlives memtrace record, which exits with the job's status.  Two
# recordings started in the same second with the default name both run.
# Every wait polls with a deadline.
MT_TEST_NAME=signals
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
AB=$(cd "$B" && pwd -P)   # absolute: the name test runs elsewhere
MT=$AB/memtrace ST=$AB/tests/sim/simtrain/simtrain
export LD_LIBRARY_PATH="$AB/tests/sim/cuda/.libs:$AB/tests/sim/nccl/.libs:$AB/tests/sim/cublas/.libs:$LD_LIBRARY_PATH"
export MEMTRACE_COLLECTOR="$AB/collector/.libs/libmemtrace-collector.so"
if [ ! -x "$ST" ] || [ ! -e "$MEMTRACE_COLLECTOR" ] || ! command -v python3 >/dev/null; then
  echo "1..0 # SKIP simtrain, the collector or python3 is missing"
  exit 0
fi
# 4 per signal to memtrace record, 2 Ctrl-C, 3 SIGKILL, 1 leader, 2 --sp,
# 3 default names
plan 23
TINY="--layers 2 --hidden 64 --heads 2 --seq 32 --batch 2"
FOREVER="$TINY --steps 1000000"

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds
wait_until() {
  limit=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$limit" ] && return 1
    sleep 0.1
  done
}
# comms_in DIR N: DIR holds N traces, each with a committed communicator
comms_in() {
  python3 - "$1" "$2" <<'PY'
import glob, sqlite3, sys
fs = glob.glob(sys.argv[1] + "/*.mtrace")
if len(fs) != int(sys.argv[2]):
    sys.exit(1)
for f in fs:
    db = sqlite3.connect("file:%s?mode=ro" % f, uri=True)
    if db.execute("SELECT count(*) FROM communicators").fetchone()[0] == 0:
        sys.exit(1)
PY
}
# ranks_of DIR: "rank/world ..." of every trace, sorted, from memtrace info
ranks_of() {
  "$MT" info --json "$1" 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(' '.join(sorted('%d/%d' % (r['rank'], r['world_size']) for r in d.get('ranks', [d]))))"
}
# job_pids DIR: the workers' pids (trace names rank<R>.<PID>.mtrace)
job_pids() { for f in "$1"/*.mtrace; do f=${f##*/rank}; f=${f#*.}; echo "${f%%.*}"; done; }
alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && printf "%s " "$p"; done; }
gone() { [ -z "$(alive "$@")" ]; }

# ---- SIGTERM / SIGINT / SIGHUP to memtrace record --------------------------
for sig in TERM INT HUP; do
  case $sig in TERM) num=15;; INT) num=2;; HUP) num=1;; esac
  d=$TMP/$sig
  # a script's background job starts with SIGINT ignored: restore it
  env --default-signal=INT "$MT" record -q -o "$d" -- "$ST" $FOREVER --world 2 >"$TMP/$sig.out" 2>&1 &
  rec=$!
  if ! wait_until 60 comms_in "$d" 2; then
    not_ok "SIG$sig: the two ranks did not start within 60 s: $(tail -n 3 "$TMP/$sig.out")"
    not_ok "SIG$sig: exit status and leftovers not checked"
    not_ok "SIG$sig: ranks not checked"
    not_ok "SIG$sig: collector.end not checked"
    kill -KILL "$rec" $(job_pids "$d") 2>/dev/null; wait "$rec" 2>/dev/null
    continue
  fi
  parent=$(ps -o pid= --ppid "$rec" | tr -d ' ')
  workers=$(job_pids "$d")
  kill -"$sig" "$rec"
  wait_until 60 gone "$rec"
  wait "$rec"; rc=$?
  want=$((128 + num))
  [ "$rc" = "$want" ] && ok "SIG$sig to memtrace record: it exits with the job's status ($rc)" \
    || not_ok "SIG$sig to memtrace record: exit $rc, expected $want (the job's)"
  left=$(alive $parent $workers)
  if [ -z "$left" ]; then
    ok "SIG$sig to memtrace record: no process of the job outlives it"
  else
    not_ok "SIG$sig to memtrace record: still running after it exited: $left"
    kill -KILL $left 2>/dev/null
  fi
  r=$(ranks_of "$d")
  [ "$r" = "0/2 1/2" ] && ok "SIG$sig: each trace keeps its own rank and the world size ($r)" \
    || not_ok "SIG$sig: ranks/world of the traces: '$r', expected '0/2 1/2'"
  # the workers committed what they had when the signal came, and say so
  e=$(python3 -c "import glob, sqlite3, sys
print(' '.join(sorted((sqlite3.connect(f).execute(\"SELECT value FROM meta WHERE key = 'collector.end'\").fetchone() or ['-'])[0]
                      for f in glob.glob(sys.argv[1] + '/*.mtrace'))))" "$d")
  [ "$e" = "SIG$sig SIG$sig" ] && ok "SIG$sig: both traces end with collector.end = SIG$sig" \
    || not_ok "SIG$sig: collector.end of the traces: '$e'"
done

# ---- Ctrl-C at a terminal: the job has the terminal, the interrupt reaches
# every process of it, memtrace record exits with the job ----------------------
d=$TMP/tty
set -- $(python3 "${MT_SRCDIR:-.}/tests/collector/ctrl_c.py" 60 "$d" "$MT" record -q -o "$d" -- "$ST" $FOREVER --world 2)
[ "${1:-}" = 130 ] && [ -z "${2:-}" ] && ok "Ctrl-C at a terminal: memtrace record exits 130, no process of the job left" \
  || not_ok "Ctrl-C at a terminal: status '${1:-}', left running: '${2:-}'"
r=$(ranks_of "$d")
[ "$r" = "0/2 1/2" ] && ok "Ctrl-C at a terminal: each trace keeps its own rank and the world size ($r)" \
  || not_ok "Ctrl-C at a terminal: ranks/world of the traces: '$r', expected '0/2 1/2'"

# ---- SIGKILL of every process of the job ------------------------------------
d=$TMP/KILL
"$MT" record -q -o "$d" -- "$ST" $FOREVER --world 2 >"$TMP/KILL.out" 2>&1 &
rec=$!
if wait_until 60 comms_in "$d" 2; then
  parent=$(ps -o pid= --ppid "$rec" | tr -d ' ')
  kill -KILL $(job_pids "$d") $parent
  wait_until 60 gone "$rec"
  wait "$rec"; rc=$?
  [ "$rc" = 137 ] && ok "SIGKILL of the job: memtrace record exits 137" || not_ok "SIGKILL of the job: exit $rc"
  r=$(ranks_of "$d")
  [ "$r" = "0/2 1/2" ] && ok "SIGKILL: each trace keeps its own rank and the world size ($r)" \
    || not_ok "SIGKILL: ranks/world of the traces: '$r', expected '0/2 1/2'"
  if "$MT" report -r 1 "$d" >"$TMP/r1.txt" 2>&1 && grep -q "^## Rank 1\|Rank 1 " "$TMP/r1.txt"; then
    ok "SIGKILL: memtrace report -r 1 finds rank 1"
  else
    not_ok "SIGKILL: memtrace report -r 1: $(head -n 2 "$TMP/r1.txt")"
  fi
else
  not_ok "SIGKILL: the two ranks did not start within 60 s"
  not_ok "SIGKILL: ranks not checked"
  not_ok "SIGKILL: report -r 1 not checked"
  kill -KILL "$rec" $(job_pids "$d") 2>/dev/null
fi

# ---- a killed process group's leftovers: the leader killed alone -------------
d=$TMP/leader
MEMTRACE_KILL_GRACE=2 "$MT" record -q -o "$d" -- "$ST" $FOREVER --world 2 >"$TMP/leader.out" 2>&1 &
rec=$!
if wait_until 60 comms_in "$d" 2; then
  parent=$(ps -o pid= --ppid "$rec" | tr -d ' ')
  workers=$(job_pids "$d")
  kill -KILL $parent
  wait_until 60 gone "$rec"
  wait "$rec"
  left=$(alive $workers)
  [ -z "$left" ] && ok "the job's leader killed: its workers do not outlive memtrace record" \
    || { not_ok "the job's leader killed: workers still running: $left"; kill -KILL $left 2>/dev/null; }
else
  not_ok "leader: the two ranks did not start within 60 s"
  kill -KILL "$rec" $(job_pids "$d") 2>/dev/null
fi

# ---- ranks from sub-communicators only: --world 4 --sp 2 -----------------------
d=$TMP/sp
if "$MT" record -q -o "$d" -- "$ST" $TINY --steps 2 --world 4 --sp 2 --truth-tensors none \
     --truth "$TMP/sp.json" >"$TMP/sp.out" 2>&1; then
  r=$(ranks_of "$d")
  [ "$r" = "0/4 1/4 2/4 3/4" ] && ok "--world 4 --sp 2 (no 4-rank communicator): ranks 0..3 of 4 ($r)" \
    || not_ok "--world 4 --sp 2: ranks/world '$r', expected '0/4 1/4 2/4 3/4'"
  "$MT" info --json "$d" >"$TMP/sp.info" 2>&1
  if python3 "${MT_SRCDIR:-.}/tests/collector/compare_truth.py" "$TMP/sp.info" "$TMP/sp.json" >"$TMP/sp.cmp" 2>&1; then
    ok "--world 4 --sp 2: each trace's counts equal simtrain's truth of the rank it claims"
  else
    not_ok "--world 4 --sp 2 against the truth: $(head -n 3 "$TMP/sp.cmp" | tr '\n' ' ')"
  fi
else
  not_ok "--world 4 --sp 2 under memtrace record failed: $(tail -n 3 "$TMP/sp.out")"
  not_ok "--world 4 --sp 2: truth not compared"
fi

# ---- default output names: two recordings in the same second -----------------
# (the pair is retried until both started within one second, at most 5 times)
mkdir "$TMP/names"
tries=0
while [ $tries -lt 5 ]; do
  tries=$((tries + 1))
  rm -rf "$TMP/names"/*
  s1=$(date +%s)
  (cd "$TMP/names" && "$MT" record -q -- "$ST" $TINY --steps 1 --truth "$TMP/names/a.json" >"$TMP/n1.out" 2>&1); rc1=$?
  (cd "$TMP/names" && "$MT" record -q -- "$ST" $TINY --steps 1 --truth "$TMP/names/b.json" >"$TMP/n2.out" 2>&1); rc2=$?
  [ "$(date +%s)" = "$s1" ] && break
done
n=$(ls -d "$TMP/names"/*.memtrace 2>/dev/null | wc -l)
if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ -s "$TMP/names/a.json" ] && [ -s "$TMP/names/b.json" ] && [ "$n" = 2 ]; then
  ok "two recordings in one second, default names: both ran, two run directories"
else
  not_ok "two recordings in one second: exits $rc1 $rc2, $n run directories; $(cat "$TMP/n2.out" | head -n 2)"
fi
one_each=1
for x in "$TMP/names"/*.memtrace; do [ "$(ls "$x"/*.mtrace 2>/dev/null | wc -l)" = 1 ] || one_each=0; done
[ "$n" = 2 ] && [ $one_each = 1 ] && ok "each default run directory holds its own one trace" \
  || not_ok "default run directories: $(ls -R "$TMP/names" | tr '\n' ' ')"
case $(ls -d "$TMP/names"/*.memtrace | head -n 1) in
  *-[0-9]*-[0-9]*-[0-9]*.memtrace) ok "the default name carries memtrace record's pid";;
  *) not_ok "default name without a pid: $(ls "$TMP/names")";;
esac
done_testing
