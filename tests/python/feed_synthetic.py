"""The framework channel with a synthetic allocator feed (no torch needed).

feed_synthetic.py feed                  (run under `memtrace record [--python-stacks]`)
feed_synthetic.py check TRACE [stacks]  (prints TAP from $TAP_START; `stacks`:
                                         recorded with --python-stacks)
The entries carry Python frames (torch's form, innermost first); the check's
ground truth for the trace's stacks is the same lists (S1...)."""
import os, sqlite3, sys

MiB = 1 << 20
A = 0x7F0000000000          # a large segment
E = 0x7F1000000000          # an expandable segment
import time
T = time.time_ns() // 1000   # time_us: CLOCK_REALTIME epoch µs, as torch's entries


def fr(file, line, name):
    return {"filename": file, "line": line, "name": name}


# Python frames of the entries, innermost first
OUTER = [fr("/w/train.py", 80, "train_step"), fr("/w/train.py", 120, "main"), fr("/w/train.py", 130, "<module>")]
S1 = [fr("/w/model.py", 10, "init_weight")] + OUTER             # two allocs: one stack id
S2 = [fr("/w/model.py", 22, "forward")] + OUTER                  # same callers as S1: shares their frames
S3 = [fr("/w/optim.py", 5, "zero_grad")] + OUTER                 # free_completed entries
S4 = [fr("/w/model.py", 77, "big_buffer")] + OUTER               # the largest allocation, unlabelled
DEEP = [fr("/w/rec.py", 100 + i, "rec%d" % i) for i in range(40)]   # cut to the innermost 32
SEG = [fr("/w/alloc.py", 3, "grow")] + OUTER                     # a segment_alloc
# a mixed stack (torch's stacks="all"): only its Python frames are kept
ODD = [fr("??", 0, "torch::unwind::unwind()"), fr("CUDACachingAllocator.cpp", 0, "malloc"),
       fr("/src/Objects/call.c", 240, "_PyObject_MakeTpCall"), fr("", 0, "at::empty_cuda"),
       fr("<string>", 1, "<lambda>"), fr("/w/train.py", 80, "train_step")]
ODD_PY = [fr("<string>", 1, "<lambda>"), fr("/w/train.py", 80, "train_step")]
MAXF = 32


def ent(action, addr, size, t, frames=None):
    e = {"action": action, "addr": addr, "size": size, "stream": 0, "time_us": t}
    if frames is not None:
        e["frames"] = frames
    return e


if sys.argv[1] == "feed":
    from memtrace import _native, _alloc
    assert _native.load(), "collector not preloaded"
    _native.init("synthetic-feed", "0")
    ch = _alloc.Channel()
    # identity known before the poll: labels the register row itself
    ch.annotate(0, A, "parameter/model.w", T + 10)
    # address reuse: only the block live at the annotation is the gradient
    ch.annotate(0, A + 4 * MiB, "gradient/model.w", T + 40)
    ch.feed(0, [ent("segment_alloc", A, 20 * MiB, T, SEG),
                ent("alloc", A, MiB, T + 1, S1),
                ent("alloc", A + MiB, MiB, T + 2, S1),
                ent("alloc", A + 4 * MiB, 2 * MiB, T + 20, S2),
                ent("free_requested", A + 4 * MiB, 2 * MiB, T + 21, S3),
                ent("free_completed", A + 4 * MiB, 2 * MiB, T + 22, S3),
                ent("alloc", A + 4 * MiB, 2 * MiB, T + 30, DEEP),
                ent("alloc", A + 8 * MiB, 8 * MiB, T + 31, S4),
                ent("snapshot", 0, 0, T + 31)])
    # identity learnt after the block was reported: relabelled
    ch.annotate(0, A + MiB, "optimizer_state/model.w.exp_avg", T + 50)
    ch.feed(0, [ent("segment_map", E, 2 * MiB, T + 60),
                ent("alloc", E, 512 * 1024, T + 61, ODD),
                ent("segment_map", E + 2 * MiB, 2 * MiB, T + 62)])
    ch.feed(0, [ent("free_completed", A, MiB, T + 70, S3),
                ent("free_completed", A + MiB, MiB, T + 71),
                ent("free_completed", A + 4 * MiB, 2 * MiB, T + 72, S3),
                ent("free_completed", A + 8 * MiB, 8 * MiB, T + 72, S3),
                ent("segment_free", A, 20 * MiB, T + 73),
                ent("oom", 123, 64 * MiB, T + 80)])
    _native.oom(0, 64 * MiB, 123, 80 * 1024 * MiB, "requested=67108864 live:parameter=1048576 free_fragments(1,sum=4):4")
    _native.meta("test.relabels", str(ch.relabels))
    sys.exit(0)

from taplib import plan, tap, done

plan(11 + (5 if len(sys.argv) > 3 and sys.argv[3] == "stacks" else 1))


db = sqlite3.connect(sys.argv[2])
q = lambda sql: db.execute(sql).fetchall()
reg = q("""SELECT r.addr, r.size, s.value FROM region_events r LEFT JOIN strings s ON s.id = r.label_id
           WHERE r.op = 1 ORDER BY r.ts, r.rowid""")
want = [(A, MiB, "parameter/model.w"), (A + MiB, MiB, None), (A + 4 * MiB, 2 * MiB, None),
        (A + 4 * MiB, 2 * MiB, "gradient/model.w"), (A + 8 * MiB, 8 * MiB, None),
        (A + MiB, MiB, "optimizer_state/model.w.exp_avg"), (E, 512 * 1024, None)]
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


# Python stacks: the trace's frames against the lists fed
def sym(f):
    if f["line"] > 0 and f["filename"] not in ("", "??"):
        return "%s:%d %s" % (f["filename"], f["line"], f["name"])
    return f["name"]


def want_syms(frames):
    return tuple(sym(f) for f in frames[:MAXF]) if frames else ()


frame_rows = {i: (p, pc, m, v) for i, p, pc, m, v in
              q("SELECT f.id, f.parent, f.pc, f.module, s.value FROM frames f LEFT JOIN strings s ON s.id = f.symbol_id")}


def walk(sid):
    """Symbols from stack id `sid` to the outermost frame, and whether every
    frame on the way is a Python one (pc 0, module 0)."""
    out, py = [], True
    while sid and len(out) <= 4096:
        p, pc, m, v = frame_rows.get(sid, (0, -1, -1, None))
        out.append(v)
        py = py and pc == 0 and m == 0
        sid = p
    return tuple(out), py


rows = q("SELECT op, addr, stack FROM region_events ORDER BY ts, rowid")
if len(sys.argv) > 3 and sys.argv[3] == "stacks":
    fed = [(1, A, S1), (1, A + MiB, S1), (1, A + 4 * MiB, S2), (2, A + 4 * MiB, S3), (1, A + 4 * MiB, DEEP),
           (1, A + 8 * MiB, S4), (2, A + MiB, S1), (1, A + MiB, S1), (1, E, ODD_PY), (2, A, S3),
           (2, A + MiB, None), (2, A + 8 * MiB, S3), (2, A + 4 * MiB, S3)]
    got = sorted((op, addr, walk(st)[0]) for op, addr, st in rows)
    want_rows = sorted((op, addr, want_syms(fr_)) for op, addr, fr_ in fed)
    tap(got == want_rows, "every region row's stack walks (innermost first) to exactly the frames its entry was "
        "fed with (the relabel rows to the alloc's; DEEP cut to its innermost 32; a mixed stack to its Python "
        "frames; none: stack 0)", got)
    tap(all(walk(st)[1] for _, _, st in rows), "every frame on those walks is a Python frame: pc 0, module 0")
    ids = {}
    for op, addr, st in rows:
        ids.setdefault(walk(st)[0], set()).add(st)
    tap(all(len(v) == 1 for v in ids.values()) and len({min(v) for v in ids.values()}) == len(ids),
        "identical stacks share one id, different ones do not", ids)
    pairs = q("SELECT parent, symbol_id, COUNT(*) FROM frames GROUP BY parent, symbol_id HAVING COUNT(*) > 1")
    st1 = [st for op, addr, st in rows if walk(st)[0] == want_syms(S1)][0]
    st2 = [st for op, addr, st in rows if walk(st)[0] == want_syms(S2)][0]
    reach = set()
    for sid in [st for _, _, st in rows] + [st for (st,) in q("SELECT stack FROM mem_events")]:
        while sid and sid not in reach:
            reach.add(sid)
            sid = frame_rows[sid][0]
    tap(not pairs and frame_rows[st1][0] == frame_rows[st2][0] and set(frame_rows) == reach,
        "a trie: each (caller, frame) once, every frame on some stack; S1 and S2 share their callers' frames",
        (pairs, len(frame_rows), len(reach)))
    mem = q("SELECT op, addr, stack FROM mem_events ORDER BY ts, rowid")
    tap([(op, addr, walk(st)[0]) for op, addr, st in mem] ==
        [(1, A, want_syms(SEG)), (7, E, ()), (7, E + 2 * MiB, ()), (2, A, ())],
        "a segment entry's frames go on its device memory row", mem)
else:
    tap(all(st == 0 for _, _, st in rows) and q("SELECT COUNT(*) FROM mem_events WHERE stack != 0") == [(0,)]
        and q("SELECT COUNT(*) FROM frames") == [(0,)],
        "without --python-stacks: no frames, every stack 0", rows)
done()
