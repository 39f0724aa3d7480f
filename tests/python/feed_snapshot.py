"""The framework channel fed with a real allocator history.

feed_snapshot.py feed SNAPSHOT RING [jitter]   (run under `memtrace record`)
  Loads a torch.cuda.memory._dump_snapshot pickle (trusted test data), works
  out the allocator state at the first trace entry by undoing the trace from
  the dump backwards, seeds the channel with it (as a late start does), then
  replays the trace as the live stream sees it: a ring of RING entries
  polled every RING/3 entries, new entries found by memtrace._alloc.Tail,
  converted by memtrace._alloc.Channel into memtrace_fw_trace_entry calls.
  jitter: every other poll reads each entry's time_us 1 us later, as torch's
  snapshots do now and then (each converts its clock with a freshly measured
  rate: measured 212 of 3.8 M entries 1 us apart between two snapshots).
feed_snapshot.py check SNAPSHOT TRACE
  Compares the trace's state at its end (live heaps, live region blocks)
  with the dump's segments and active blocks.  Prints TAP from $TAP_START."""
import os, pickle, sqlite3, sys

mode, snap_path = sys.argv[1], sys.argv[2]
with open(snap_path, "rb") as f:
    snap = pickle.load(f)
segs = snap["segments"]
trace = snap["device_traces"][0]


def dump_blocks():
    out = {}
    for s in segs:
        for b in s["blocks"]:
            if b["state"].startswith("active"):
                out[b["address"]] = (b["size"], b.get("requested_size"))
    return out


if mode == "feed":
    from memtrace import _native, _alloc
    assert _native.load(), "collector not preloaded"
    _native.init("synthetic-feed", "0")
    ring_n = int(sys.argv[3])
    jitter = len(sys.argv) > 4 and sys.argv[4] == "jitter"
    # State at the first entry: the dump with the trace undone.
    blocks = {a: v[0] for a, v in dump_blocks().items()}
    for e in reversed(trace):
        if e["action"] == "alloc":
            blocks.pop(e["addr"], None)
        elif e["action"] == "free_completed":
            blocks[e["addr"]] = e["size"]
    start = [dict(s, blocks=[{"address": a, "size": sz, "state": "active_allocated"}
                             for a, sz in blocks.items() if s["address"] <= a < s["address"] + s["total_size"]])
             for s in segs]
    ch = _alloc.Channel()
    t0 = trace[0]["time_us"] - 1 if trace else None
    ch.seed(start, time_us=t0)
    _native.meta("test.seeded", str(ch.entries))
    tail = _alloc.Tail()
    step = max(1, ring_n // 3)
    k = 0
    while k < len(trace):
        k = min(len(trace), k + step)
        ring = trace[max(0, k - ring_n):k]
        if jitter and k // step % 2:
            ring = [dict(e, time_us=e["time_us"] + 1) if isinstance(e.get("time_us"), int) else e for e in ring]
        ch.feed(0, tail.new_entries(ring))
    _native.meta("test.fed_entries", str(ch.entries))
    _native.meta("test.ring_overruns", str(tail.lost))
    sys.exit(0)

# check
from taplib import plan, tap, done

plan(7)


name = os.path.basename(snap_path)
db = sqlite3.connect(sys.argv[3])
q = lambda sql: db.execute(sql).fetchall()
heaps = sorted(q("SELECT addr, size FROM heaps WHERE destroyed IS NULL AND usage = 2"))
tap(heaps == sorted((s["address"], s["total_size"]) for s in segs),
    "%s: live heaps = the dump's %d segments (address, size)" % (name, len(segs)))
live = dict(q("""WITH ev AS (SELECT addr, size, op, ROW_NUMBER() OVER (PARTITION BY addr ORDER BY ts DESC, rowid DESC) rn
                 FROM region_events) SELECT addr, size FROM ev WHERE rn = 1 AND op = 1"""))
want = dump_blocks()
tap(sorted(live) == sorted(want), "%s: live blocks at the end = the dump's %d active blocks (addresses)" % (name, len(want)))
bad = [(a, live[a], want[a][0]) for a in want if a in live and live[a] != want[a][0]]
tap(not bad, "%s: block sizes = the dump's block sizes, from requested sizes and the split rules (%d differ)"
    % (name, len(bad)), bad[:3])
fed = q("SELECT value FROM meta WHERE key = 'test.fed_entries'")
seeded = q("SELECT value FROM meta WHERE key = 'test.seeded'")
tap(fed and seeded and int(fed[0][0]) - int(seeded[0][0]) == len(trace),
    "%s: each of the %d trace entries passed through the channel once" % (name, len(trace)))
tap(q("SELECT value FROM meta WHERE key = 'test.ring_overruns'") == [("0",)], "%s: no ring overrun" % name)
regs = q("SELECT COUNT(*) FROM region_events WHERE op = 1")[0][0]
allocs = sum(1 for e in trace if e["action"] == "alloc")
tap(regs >= allocs, "%s: %d register rows for %d alloc entries (+ seeded blocks)" % (name, regs, allocs))
outside = q("SELECT COUNT(*) FROM region_events WHERE op = 1 AND heap = 0")[0][0]
tap(outside == 0, "%s: every block lies in a segment heap (%d outside)" % (name, outside))
done()
