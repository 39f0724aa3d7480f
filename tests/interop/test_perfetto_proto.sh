#!/bin/sh
# memtrace export --format perfetto-proto, read back with Perfetto's own
# schema: the compiled perfetto_trace_pb2 the PyPI `perfetto` wheel ships
# (scripts/perfetto-venv.sh), not our pftrace.proto.  Checked against what
# the exporter did not compute: the trace's own rows (SQL straight on the
# .mtrace: kernel and copy counts, names and GPU times; range rows) and
# simtrain's truth (peak reserved; per-step reserved and allocated peaks
# inside each NVTX "step N" slice).  Also Perfetto's rules for a packet
# stream (sequence cleared before interned ids are used, ids defined before
# use, tracks described before events, slice begin/end paired, times in
# order per sequence) and that nothing we wrote is unknown to Perfetto's
# schema.  When Perfetto's trace processor binary is here ($PERFETTO_TP_SHELL,
# or the perfetto package's download cache), it loads the file and its SQL
# gives the same counts and peak; otherwise that case skips, saying why.
MT_TEST_NAME=perfetto-proto
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  echo "1..0 # SKIP needs memtrace record and simtrain"
  exit 0
fi
# 5 exports, the checker's 13 cases
plan 18
if ! PY=$(sh "${MT_SRCDIR:-.}/scripts/perfetto-venv.sh" 2>"$TMP/venv.log"); then
  skip_rest "no Perfetto Python package (PyPI perfetto): $(tail -1 "$TMP/venv.log")"
  done_testing
  exit 0
fi
# two ranks: two processes, two packet sequences with their own interned ids
"$MT" record -q -o "$TMP/run" -- "$ST" --layers 2 --steps 6 --world 2 --truth "$TMP/truth.json" >"$TMP/rec.log" 2>&1 ||
  { not_ok "recording failed: $(tail -1 "$TMP/rec.log")"; done_testing; exit 1; }
TR=$(ls "$TMP"/run/rank0.*.mtrace)
check "export --format perfetto-proto (default thinning)" "$MT" export "$TMP/run" --format perfetto-proto \
  -o "$TMP/t.pftrace"
check "export --format perfetto-proto, every change" "$MT" export "$TMP/run" --format perfetto-proto \
  --counter-buckets 0 -o "$TMP/full.pftrace"
check "export --format perfetto-proto, gzip by name" "$MT" export "$TMP/run" --format perfetto-proto \
  -o "$TMP/t.pftrace.gz"
# step 2's NVTX range on rank 0, from the trace's rows: ns from rank 0's
# start, which is BASE ns after the run's (the earliest rank's)
BASE=$(for f in "$TMP"/run/*.mtrace; do sqlite3 "$f" "SELECT start_ns FROM process"; done |
  awk -v s0="$(sqlite3 "$TR" "SELECT start_ns FROM process")" 'NR == 1 || $1 < m { m = $1 } END { print s0 - m }')
R=$(sqlite3 "$TR" "SELECT ((r.ts + $BASE) / 1000) || 'us:' || ((r.te + $BASE + 999) / 1000 + 1) || 'us' FROM ranges r
  JOIN strings s ON s.id = r.name_id WHERE s.value = 'step 2' LIMIT 1")
check "export --format perfetto-proto --range $R" "$MT" export "$TMP/run" --format perfetto-proto --range "$R" \
  -o "$TMP/r.pftrace"
check "export: an unknown --format is refused, nothing written" \
  sh -c "! '$MT' export '$TMP/run' --format perfetto-protobuf -o '$TMP/x.pftrace' 2>/dev/null && ! test -e '$TMP/x.pftrace'"
"$PY" - "$TMP" "$R" "$BASE" >"$TMP/py.out" 2>&1 <<'PY'
import glob, gzip, json, os, sqlite3, sys
from collections import Counter
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb
from google.protobuf.unknown_fields import UnknownFieldSet
d, rng, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
def tap(good, desc):
    print(("ok" if good else "not ok") + " - " + desc)
def raw(path):
    b = open(path, "rb").read()
    return gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b
TE = pb.TrackEvent
def unknown(m):
    n = len(UnknownFieldSet(m))
    for f, v in m.ListFields():
        if f.message_type is not None:
            for x in (v if f.is_repeated else [v]):
                n += unknown(x)
    return n
def read(path):
    """Decodes as Perfetto would: returns slices, counters, problems."""
    t = pb.Trace()
    t.ParseFromString(raw(path))
    tracks, seqs, stacks, procs = {}, {}, {}, {}
    slices, counters, bad = [], {}, []
    for i, p in enumerate(t.packet):
        if unknown(p):
            bad.append("packet %d: fields Perfetto does not know" % i)
        sq = seqs.setdefault(p.trusted_packet_sequence_id, {"clear": False, "names": {}, "cats": {}, "ts": 0})
        if not sq["clear"] and not p.sequence_flags & pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED:
            bad.append("packet %d before its sequence was cleared" % i)
        if p.sequence_flags & pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED:
            sq.update(clear=True, names={}, cats={})
        for n in p.interned_data.event_names:
            sq["names"][n.iid] = n.name
        for c in p.interned_data.event_categories:
            sq["cats"][c.iid] = c.name
        if p.HasField("track_descriptor"):
            td = p.track_descriptor
            if td.HasField("process"):   # "rank N host (producer)"
                procs[td.uuid] = procs[td.process.pid] = int(td.process.process_name.split()[1])
            # (rank, name): a thread track by its pid, a counter by its parent process track
            rank = procs.get(td.thread.pid) if td.HasField("thread") else procs.get(td.parent_uuid)
            tracks[td.uuid] = (rank, td.name or td.thread.thread_name or td.process.process_name)
        if not p.HasField("track_event"):
            continue
        e = p.track_event
        if p.timestamp < sq["ts"]:
            bad.append("packet %d: time goes back on its sequence" % i)
        sq["ts"] = p.timestamp
        if e.track_uuid not in tracks:
            bad.append("packet %d: track %d not described" % (i, e.track_uuid))
        if e.type in (TE.TYPE_SLICE_BEGIN, TE.TYPE_INSTANT):
            if not p.sequence_flags & pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE or e.name_iid not in sq["names"] \
               or any(c not in sq["cats"] for c in e.category_iids):
                bad.append("packet %d: interned name/category not defined" % i)
            ev = [p.timestamp, None, sq["names"].get(e.name_iid), [sq["cats"].get(c) for c in e.category_iids],
                  tracks.get(e.track_uuid, (None,))[0]]
            slices.append(ev)
            if e.type == TE.TYPE_SLICE_BEGIN:
                stacks.setdefault(e.track_uuid, []).append(ev)
            else:
                ev[1] = p.timestamp
        elif e.type == TE.TYPE_SLICE_END:
            st = stacks.get(e.track_uuid)
            if not st:
                bad.append("packet %d: slice end with none open" % i)
            else:
                st.pop()[1] = p.timestamp
        elif e.type == TE.TYPE_COUNTER:
            counters.setdefault(tracks.get(e.track_uuid), []).append((p.timestamp, e.counter_value))
    if any(stacks.values()):
        bad.append("slices left open")
    return len(t.packet), [s for s in slices if s[4] == 0], counters, bad, len(seqs)
full_n, sl, cn, bad, nseq = read(os.path.join(d, "full.pftrace"))
n_t, sl_t, cn_t, bad_t, _ = read(os.path.join(d, "t.pftrace"))
n_r, sl_r, cn_r, bad_r, _ = read(os.path.join(d, "r.pftrace"))
tap(not bad and not bad_t and not bad_r and nseq == 2,
    "Perfetto's schema parses every packet (%d), nothing unknown to it; sequence (%d, one per rank), interning, track and slice rules hold%s"
    % (full_n, nseq, " (%s)" % (bad + bad_t + bad_r)[:3] if bad or bad_t or bad_r else ""))
# rank 0's slices and counters, checked against rank 0's trace
cn = {k[1]: v for k, v in cn.items() if k and k[0] == 0}
cn_t = {k[1]: v for k, v in cn_t.items() if k and k[0] == 0}
cn_r = {k[1]: v for k, v in cn_r.items() if k and k[0] == 0}
db = sqlite3.connect(glob.glob(os.path.join(d, "run", "rank0.*.mtrace"))[0])
q = lambda s: db.execute(s).fetchall()
def cat(c):
    return sorted((b, e, n) for b, e, n, cs, _ in sl if cs == [c])
kern = sorted((b + base, e + base, n) for b, e, n in
              q("SELECT COALESCE(k.gpu_start, k.ts), COALESCE(k.gpu_end, k.ts + k.dur), s.value FROM kernels k "
                "JOIN strings s ON s.id = k.name_id"))
tap(kern and [tuple(x) for x in cat("kernel")] == [tuple(x) for x in kern],
    "kernel slices: the trace's %d kernels, each its name and GPU start and end (ns)" % len(kern))
nm = q("SELECT count(*) FROM memcpys")[0][0]
tap(len(cat("memcpy")) == nm, "memcpy slices: the trace's %d copies (got %d)" % (nm, len(cat("memcpy"))))
nr = q("SELECT count(*) FROM ranges")[0][0]
napi = 0 if q("SELECT count(*) FROM ranges r JOIN strings d ON d.id = r.domain_id WHERE d.value = 'cuda_api'")[0][0] \
    else q("SELECT count(*) FROM api_calls")[0][0]
got = sum(1 for s in sl if s[3][0] in ("nvtx", "mark", "cuda_api"))
tap(got == nr + napi, "range, mark and API slices: the trace's %d ranges + %d API calls (got %d)" % (nr, napi, got))
truth = [r for r in json.load(open(os.path.join(d, "truth.json")))["ranks"] if r["rank"] == 0][0]
res = cn.get("memory cuda:0 reserved", [])
tap(res and max(v for _, v in res) == truth["peak_reserved_bytes"],
    "every change: the reserved counter's maximum is the truth's peak reserved (%d)" % truth["peak_reserved_bytes"])
steps = {int(n.split()[1]): (b, e) for b, e, n, cs, _ in sl if n and n.startswith("step ") and cs == ["nvtx"]}
def step_peaks(series):
    got = {k: max([v for t, v in series if a <= t <= b] or [None]) for k, (a, b) in steps.items()}
    for k, (a, b) in steps.items():   # the level a step entered with
        before = [v for t, v in series if t < a]
        if before and (got[k] is None or before[-1] > got[k]):
            got[k] = before[-1]
    return got
want = {s["step"]: s["reserved"] for s in truth["step_peaks"]}
tap(steps and step_peaks(res) == want,
    "every change: per step, the reserved peak inside its NVTX slice is the truth's (%s)" % want)
outside = sum(x["bytes"] for x in truth["tensors"] if x["outside"] and x["free_ns"] < 0)
wa = {s["step"]: s["allocated"] - outside for s in truth["step_peaks"] if s["step"] >= 1}
ga = {k: v for k, v in step_peaks(cn.get("memory cuda:0 allocated", [])).items() if k >= 1}
tap(ga == wa, "every change: per step, the allocated peak is the truth's less the workspace (%s; got %s)" % (wa, ga))
tap(max(v for _, v in cn_t.get("memory cuda:0 reserved", [(0, 0)])) == truth["peak_reserved_bytes"]
    and step_peaks(cn_t.get("memory cuda:0 reserved", [])) == want,
    "thinned (default): the reserved peak and every step's peak are the truth's")
tap(len(sl_t) == len(sl), "thinned: every slice kept (%d)" % len(sl_t))
gz = open(os.path.join(d, "t.pftrace.gz"), "rb").read()
tap(gz[:2] == b"\x1f\x8b" and gzip.decompress(gz) == open(os.path.join(d, "t.pftrace"), "rb").read(),
    "FILE.pftrace.gz: gzip of the same packets (%d bytes, %d uncompressed)" % (len(gz), os.path.getsize(os.path.join(d, "t.pftrace"))))
a, b = (int(x[:-2]) * 1000 for x in rng.split(":"))
rr = cn_r.get("memory cuda:0 reserved", [])
tap(rr and all(a <= t <= b for t, _ in rr) and max(v for _, v in rr) == want[2],
    "--range %s: counters inside step 2 only (%d), its reserved peak the truth's (%d)" % (rng, len(rr), want[2]))
tap(sl_r and all(e >= a and s <= b for s, e, _, _, _ in sl_r) and len(sl_r) < len(sl),
    "--range: only the slices overlapping it (%d of %d)" % (len(sl_r), len(sl)))
# Perfetto's trace processor, when its binary is on this machine
tp = os.environ.get("PERFETTO_TP_SHELL") or next(iter(sorted(glob.glob(os.path.expanduser(
    "~/.local/share/perfetto/prebuilts/trace_processor_shell*")))), None)
if tp and os.access(tp, os.X_OK):
    from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig
    # both ranks: every trace's kernel rows, the highest truth reserved peak
    nk = sum(sqlite3.connect(f).execute("SELECT count(*) FROM kernels").fetchone()[0]
             for f in glob.glob(os.path.join(d, "run", "*.mtrace")))
    tpk = max(r["peak_reserved_bytes"] for r in json.load(open(os.path.join(d, "truth.json")))["ranks"])
    with TraceProcessor(trace=os.path.join(d, "t.pftrace.gz"), config=TraceProcessorConfig(bin_path=tp)) as p:
        k = next(iter(p.query("SELECT count(*) AS n FROM slice WHERE category = 'kernel'"))).n
        mx = next(iter(p.query("SELECT max(c.value) AS v FROM counter c JOIN counter_track t ON t.id = c.track_id "
                               "WHERE t.name GLOB 'memory cuda:* reserved'"))).v
    tap(k == nk and mx == tpk, "Perfetto's trace processor (%s): %d kernel slices (traces: %d), reserved peak %s (truth %d)"
        % (tp, k, nk, mx, tpk))
else:
    print("ok - # SKIP Perfetto's trace processor: no binary (set PERFETTO_TP_SHELL; the perfetto package downloads it "
          "from Google Cloud Storage at first use, which this machine cannot reach)")
PY
tap_from "$TMP/py.out"
done_testing
