"""The framework channel with a synthetic allocator feed (no torch needed).

feed_synthetic.py feed          (run under `memtrace record`)
feed_synthetic.py check TRACE   (prints TAP from $TAP_START)"""
import os, sqlite3, sys

MiB = 1 << 20
A = 0x7F0000000000          # a large segment
E = 0x7F1000000000          # an expandable segment
import time
T = time.time_ns() // 1000   # time_us: CLOCK_REALTIME epoch µs, as torch's entries


def ent(action, addr, size, t):
    return {"action": action, "addr": addr, "size": size, "stream": 0, "time_us": t}


if sys.argv[1] == "feed":
    from memtrace import _native, _alloc
    assert _native.load(), "collector not preloaded"
    _native.init("synthetic-feed", "0")
    ch = _alloc.Channel()
    # identity known before the poll: labels the register row itself
    ch.annotate(0, A, "parameter/model.w", T + 10)
    # address reuse: only the block live at the annotation is the gradient
    ch.annotate(0, A + 4 * MiB, "gradient/model.w", T + 40)
    ch.feed(0, [ent("segment_alloc", A, 20 * MiB, T),
                ent("alloc", A, MiB, T + 1),
                ent("alloc", A + MiB, MiB, T + 2),
                ent("alloc", A + 4 * MiB, 2 * MiB, T + 20),
                ent("free_requested", A + 4 * MiB, 2 * MiB, T + 21),
                ent("free_completed", A + 4 * MiB, 2 * MiB, T + 22),
                ent("alloc", A + 4 * MiB, 2 * MiB, T + 30),
                ent("snapshot", 0, 0, T + 31)])
    # identity learnt after the block was reported: relabelled
    ch.annotate(0, A + MiB, "optimizer_state/model.w.exp_avg", T + 50)
    ch.feed(0, [ent("segment_map", E, 2 * MiB, T + 60),
                ent("alloc", E, 512 * 1024, T + 61),
                ent("segment_map", E + 2 * MiB, 2 * MiB, T + 62)])
    ch.feed(0, [ent("free_completed", A, MiB, T + 70),
                ent("free_completed", A + MiB, MiB, T + 71),
                ent("free_completed", A + 4 * MiB, 2 * MiB, T + 72),
                ent("segment_free", A, 20 * MiB, T + 73),
                ent("oom", 123, 64 * MiB, T + 80)])
    _native.oom(0, 64 * MiB, 123, 80 * 1024 * MiB, "requested=67108864 live:parameter=1048576 free_fragments(1,sum=4):4")
    _native.meta("test.relabels", str(ch.relabels))
    sys.exit(0)

n = int(os.environ.get("TAP_START", "1")) - 1
fails = 0


def tap(good, desc, got=None):
    global n, fails
    n += 1
    fails += not good
    print("%s %d - %s%s" % ("ok" if good else "not ok", n, desc, "" if good or got is None else " (got %r)" % (got,)))


db = sqlite3.connect(sys.argv[2])
q = lambda sql: db.execute(sql).fetchall()
reg = q("""SELECT r.addr, r.size, s.value FROM region_events r LEFT JOIN strings s ON s.id = r.label_id
           WHERE r.op = 1 ORDER BY r.ts, r.rowid""")
want = [(A, MiB, "parameter/model.w"), (A + MiB, MiB, None), (A + 4 * MiB, 2 * MiB, None),
        (A + 4 * MiB, 2 * MiB, "gradient/model.w"), (A + MiB, MiB, "optimizer_state/model.w.exp_avg"),
        (E, 512 * 1024, None)]
tap(reg == want, "register rows carry the identity: at the alloc when known at the poll, "
    "the live block at the annotation on address reuse, a relabel row when learnt later", reg)
tap(q("SELECT value FROM meta WHERE key = 'test.relabels'") == [("1",)], "one relabel")
heaps = q("SELECT h.addr, h.size, h.usage, s.value, h.destroyed IS NULL FROM heaps h JOIN strings s ON s.id = h.name_id ORDER BY h.addr")
tap(heaps == [(A, 20 * MiB, 2, "torch-caching-allocator/large", 0), (E, 4 * MiB, 2, "torch-caching-allocator/expandable", 1)],
    "segments are framework_pool heaps; the expandable one grew by its adjacent second map; the freed one is destroyed", heaps)
dom = q("SELECT DISTINCT s.value FROM heaps h JOIN strings s ON s.id = h.domain_id")
tap(dom == [("pytorch",)], "heaps in the pytorch domain", dom)
inheap = q("SELECT COUNT(*) FROM region_events r JOIN heaps h ON h.id = r.heap WHERE r.op = 1 AND r.addr >= h.addr AND r.addr < h.addr + h.size")[0][0]
tap(inheap == len(want), "every block registered in the heap of its segment", inheap)
mem = q("SELECT op, api, kind, addr, size, context FROM mem_events ORDER BY ts, rowid")
tap(mem == [(1, 1, 1, A, 20 * MiB, 4), (7, 48, 5, E, 2 * MiB, 4), (7, 48, 5, E + 2 * MiB, 2 * MiB, 4),
            (2, 2, 1, A, 20 * MiB, 4)],
    "segment events as device memory events (no hooks saw them): cudaMalloc, cuMemMap x2, cudaFree, context framework", mem)
ts = q("SELECT MIN(ts) >= 0 FROM region_events")[0][0]
order = q("SELECT ts FROM region_events ORDER BY ts, rowid")
tap(ts == 1 and [t for (t,) in order] == sorted(t for (t,) in order), "times on the trace clock, in order")
oom = q("SELECT source, requested, free_bytes, api FROM ooms")
tap(oom == [(2, 64 * MiB, 123, 91)], "allocator OOM: one row (source allocator, api torch); the oom trace entry is not a second one", oom)
tap(q("SELECT value FROM meta WHERE key = 'torch.oom.0'") ==
    [("requested=67108864 live:parameter=1048576 free_fragments(1,sum=4):4",)], "OOM detail in meta torch.oom.0")
marks = q("SELECT s.value FROM ranges r JOIN strings s ON s.id = r.name_id WHERE r.kind = 3")
tap(marks == [("torch.memory snapshot",)], "snapshot entry -> a mark", marks)
tap(q("SELECT value FROM meta WHERE key = 'framework'") == [("synthetic-feed 0",)], "framework in meta")
print("#count %d %d" % (n, fails))
