"""The caching allocator's event stream into the trace.

torch exposes its allocator trace to Python only as a ring that
torch.cuda.memory._snapshot() returns whole (attachAllocatorTraceTracker is
C++ only).  So: _record_memory_history(max_entries=N) keeps a bounded ring;
Stream.poll() takes a snapshot, finds the entries it has not seen (Tail:
the last entries it saw, matched in the new ring), and Channel.feed() hands
them to the collector's framework channel (memtrace_fw_trace_entry), whose
C side maps them onto heaps and region events with the same mapping as the
snapshot importer (schemas/torch_actions.h).

Identity (parameter / gradient / optimizer state) is attached to the
register row of the block: Channel.annotate() records "this address holds
<category>/<name> at time T"; the next feed() labels the alloc entry that
made that block, or, when the block was reported in an earlier poll,
asks the collector to relabel it (memtrace_fw_relabel).

Python stacks (--python-stacks, MEMTRACE_PYTHON_STACKS=1): each entry's
"frames" (torch's list of {filename, line, name}, innermost first) become
ids, each distinct Python frame (C/C++ frames of mixed stacks left out) named
once ("file:line function", as the snapshot importer writes it) with memtrace_fw_frame_name; the entry goes through
memtrace_fw_trace_entry_frames with its innermost 32 ids, and the drain
interns them into the trace's frames trie.

Nothing here imports torch: tests feed synthetic entries."""
import os
import threading
import time

from memtrace import _native

REAL_US = 10 ** 15   # time_us above this is CLOCK_REALTIME (epoch) µs


def entry_time(e):
    """(ns, clock) of a trace entry for memtrace_fw_*.  The tracker's
    entries carry CLOCK_REALTIME ns: whole microseconds put an allocation up
    to 1 us before a range that began first (a step's, a module's)."""
    tn = e.get("time_ns")
    if isinstance(tn, int) and tn > 0:
        return tn, _native.REAL
    t = e.get("time_us")
    if not isinstance(t, int) or t <= 0:
        return 0, _native.NOW
    return t * 1000, (_native.REAL if t > REAL_US else _native.MONO)


def frame_symbol(f):
    """'file:line function' of one of torch's frames (the snapshot
    importer's form: the name alone when file or line is unknown)."""
    if not isinstance(f, dict):
        return str(f)
    name = f.get("name") or "?"
    file = f.get("filename") or ""
    line = f.get("line") or 0
    if isinstance(line, int) and line > 0 and file and file != "??":
        return "%s:%d %s" % (file, line, name)
    return str(name)


def is_python_frame(f):
    """A Python frame of torch's list: a .py file or a <string>-like one.
    torch's stacks="all" (and 1.13's mixed stacks) interleave C/C++ frames
    ("??", .cpp, .c, .h, no file): they are left out."""
    if not isinstance(f, dict):
        return False
    file = f.get("filename") or ""
    return file.endswith(".py") or (file.startswith("<") and file.endswith(">"))


def python_stacks_wanted():
    return os.environ.get("MEMTRACE_PYTHON_STACKS", "0") not in ("", "0")


class Frames(object):
    """Frame ids for the collector: one id per distinct frame, named
    once; one C array per distinct stack (a bounded cache)."""
    MAX_STACKS = 65536

    def __init__(self, sink):
        self.sink = sink
        self.ids = {}          # symbol -> id
        self.stacks = {}       # tuple of ids -> (C array, n)
        self.unnamed = 0       # frames the collector could not name (entries sent without a stack)

    def of(self, frames):
        """(C array, n) for an entry's frames list, or None."""
        if not frames or not isinstance(frames, (list, tuple)):
            return None
        ids = []
        for f in frames:
            if not is_python_frame(f):
                continue
            if len(ids) == self.sink.MAX_FRAMES:
                break
            sym = frame_symbol(f)
            i = self.ids.get(sym)
            if i is None:
                i = len(self.ids) + 1
                if self.sink.frame_name(i, sym) != 0:
                    self.unnamed += 1
                    return None
                self.ids[sym] = i
            ids.append(i)
        if not ids:
            return None
        key = tuple(ids)
        st = self.stacks.get(key)
        if st is None:
            if len(self.stacks) >= self.MAX_STACKS:
                self.stacks.clear()
            st = self.stacks[key] = (self.sink.frame_array(key), len(key))
        return st


# The caching allocator's constants (c10/cuda/CUDACachingAllocator.cpp)
MIN_BLOCK = 512              # kMinBlockSize: sizes round up to this
SMALL_SIZE = 1 << 20         # kSmallSize: largest request of the small pool
SMALL_BUFFER = 2 << 20       # kSmallBuffer: a small-pool segment


def round_size(n):
    return MIN_BLOCK if n < MIN_BLOCK else MIN_BLOCK * ((n + MIN_BLOCK - 1) // MIN_BLOCK)


class Blocks(object):
    """A mirror of one device's allocator blocks, so that each tensor's
    block is reported at the size torch counts (allocated_bytes counts
    block->size; the trace entry says the requested size).  A block is the
    rounded request, or the whole free block it was taken from when torch
    did not split it (should_split: small pool or expandable segments when
    at least 512 B remain; large pool when more than 1 MiB remains and the
    block is under max_split_size).  The entries' addresses say which free
    block torch chose; where the mirror does not know the address (entries
    lost to a ring overrun) the rounded request is reported."""

    def __init__(self, expandable=False, max_split=None):
        self.expandable = expandable
        self.max_split = max_split
        self.segs = {}        # start -> [size, small pool?]
        self.seg_starts = []  # sorted
        self.blk = {}         # start -> [size, allocated, segment start]
        self.free_end = {}    # end -> start, of free blocks

    def _seg_of(self, addr):
        import bisect
        i = bisect.bisect_right(self.seg_starts, addr) - 1
        if i >= 0:
            st = self.seg_starts[i]
            if addr < st + self.segs[st][0]:
                return st
        return None

    def _add_free(self, start, size, seg):
        nxt = self.blk.get(start + size)
        if nxt and not nxt[1] and nxt[2] == seg:
            del self.blk[start + size]
            del self.free_end[start + size + nxt[0]]
            size += nxt[0]
        prev = self.free_end.pop(start, None)
        if prev is not None and self.blk[prev][2] == seg:
            start, size = prev, self.blk[prev][0] + size
        elif prev is not None:
            self.free_end[start] = prev
        self.blk[start] = [size, False, seg]
        self.free_end[start + size] = start

    def segment(self, action, addr, size):
        import bisect
        if action == "segment_alloc":
            self.segs[addr] = [size, size == SMALL_BUFFER]
            bisect.insort(self.seg_starts, addr)
            self._add_free(addr, size, addr)
        elif action == "segment_map":
            # expandable: pages mapped at the end of the segment they extend
            seg = self._seg_of(addr - 1) if addr else None
            if seg is None or seg + self.segs[seg][0] != addr:
                seg = addr
                self.segs[addr] = [0, False]
                bisect.insort(self.seg_starts, addr)
            self.segs[seg][0] += size
            self._add_free(addr, size, seg)
        elif action in ("segment_free", "segment_unmap"):
            seg = self._seg_of(addr)
            # the free block that holds [addr, addr + size) loses it
            start = None
            for b, (bs, al, sg) in self.blk.items():
                if sg == seg and not al and b <= addr and addr + size <= b + bs:
                    start = b
                    break
            if start is not None:
                bs = self.blk.pop(start)[0]
                del self.free_end[start + bs]
                if start < addr:
                    self.blk[start] = [addr - start, False, seg]
                    self.free_end[addr] = start
                if addr + size < start + bs:
                    self.blk[addr + size] = [start + bs - addr - size, False, seg]
                    self.free_end[start + bs] = addr + size
            if seg is not None and (action == "segment_free" or addr == seg and size >= self.segs[seg][0]):
                del self.segs[seg]
                self.seg_starts.remove(seg)
            elif seg is not None:
                self.segs[seg][0] -= size

    def alloc(self, addr, requested):
        r = round_size(requested)
        b = self.blk.get(addr)
        if b is None or b[1] or b[0] < r:
            return r
        seg = b[2]
        rem = b[0] - r
        small = self.segs.get(seg, [0, False])[1]
        if small or self.expandable:
            split = rem >= MIN_BLOCK
        else:
            split = rem > SMALL_SIZE and (self.max_split is None or r < self.max_split)
        del self.free_end[addr + b[0]]
        if split:
            self.blk[addr] = [r, True, seg]
            self.blk[addr + r] = [rem, False, seg]
            self.free_end[addr + b[0]] = addr + r
            return r
        b[1] = True
        return b[0]

    def free(self, addr, requested):
        b = self.blk.get(addr)
        if b is None or not b[1]:
            return round_size(requested)
        del self.blk[addr]
        self._add_free(addr, b[0], b[2])
        return b[0]

    def resync(self, segments):
        """Everything from a snapshot's segments (all of this device's)."""
        self.segs, self.seg_starts, self.blk, self.free_end = {}, [], {}, {}
        for sg in segments:
            self.seed(sg)

    def seed(self, seg):
        """A segment of a snapshot, with its blocks as torch has them."""
        import bisect
        st = seg["address"]
        for a in [a for a, b in self.blk.items() if b[2] == st]:
            b = self.blk.pop(a)
            self.free_end.pop(a + b[0], None)
        if st not in self.segs:
            bisect.insort(self.seg_starts, st)
        self.segs[st] = [seg["total_size"], seg.get("segment_type") == "small"]
        at = st   # gaps between the listed blocks are free (a list of active blocks only)
        for b in sorted(seg.get("blocks", []), key=lambda b: b["address"]):
            a, n = b["address"], b["size"]
            if a > at:
                self._add_free(at, a - at, st)
            if b.get("state", "").startswith("active"):
                self.blk[a] = [n, True, st]
            else:
                self._add_free(a, n, st)
            at = a + n
        if at < st + seg["total_size"]:
            self._add_free(at, st + seg["total_size"] - at, st)


def alloc_conf():
    """(expandable_segments, max_split_size bytes or None) of
    PYTORCH_ALLOC_CONF (newer torch; it wins) or PYTORCH_CUDA_ALLOC_CONF."""
    conf = os.environ.get("PYTORCH_ALLOC_CONF") or os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or ""
    expandable, max_split = False, None
    for kv in conf.split(","):
        k, _, v = kv.partition(":")
        k, v = k.strip(), v.strip()
        if k == "expandable_segments":
            expandable = v.lower() == "true"
        elif k == "max_split_size_mb":
            try:
                max_split = int(float(v) * (1 << 20))
            except ValueError:
                pass
    return expandable, max_split


def _key(e):
    return (e.get("action"), e.get("addr"), e.get("size"), e.get("stream"))


# torch converts an entry's clock (TSC) to time_us anew at every snapshot
# from a freshly measured rate: the same entry can read 1 us apart in two
# snapshots (0.006% of them in 3.8 M compared, more under load).  Matched
# exactly, such a tail was "not found", the whole ring was fed again and the
# duplicated allocs doubled the peak.
TIME_SLACK_US = 2


def _time(e):
    t = e.get("time_us")
    return t if isinstance(t, int) else 0


def _same(e, seen):
    return _key(e) == seen[0] and abs(_time(e) - seen[1]) <= TIME_SLACK_US


class Tail(object):
    """Finds the entries of a ring not seen before.  Keeps the last K entries
    seen; in a new ring, what follows their last occurrence is new.  When
    they are not found, the ring wrapped past them: everything is new and
    `lost` says entries were missed."""
    K = 4

    def __init__(self, capacity=None):
        self.last = []
        self.lost = 0
        self.capacity = capacity   # the ring's size: a full ring at first sight has wrapped

    def new_entries(self, ring):
        n = len(ring)
        if not self.last:
            start = 0
            if self.capacity and n >= self.capacity:
                self.lost += 1
        else:
            k = len(self.last)
            start = None
            last = self.last
            for j in range(n - k, -1, -1):
                if _same(ring[j + k - 1], last[-1]) and \
                        all(_same(x, s) for x, s in zip(ring[j:j + k], last)):
                    start = j + k
                    break
            if start is None:
                self.lost += 1
                start = 0
        # an empty ring was cleared (enabled=None, clear_history): nothing
        # left to find the next ring's new entries after
        self.last = [(_key(x), _time(x)) for x in ring[max(0, n - self.K):n]]
        return ring[start:]


class Channel(object):
    """Allocator entries -> the collector.  `sink` is memtrace._native (or a
    stand-in with the same functions, for tests)."""

    def __init__(self, sink=_native, python_stacks=None):
        self.sink = sink
        if python_stacks is None:
            python_stacks = python_stacks_wanted()
        self.frames = Frames(sink) if python_stacks and getattr(sink, "frames_ok", False) else None
        self.live = {}          # (device, addr) -> [size, alloc time_us, labelled, label, frames]
        self.ident = {}         # (device, addr) -> (label, time_us)
        self.by_cat = {}        # label category -> live bytes (OOM forensics)
        self.entries = 0
        self.relabels = 0
        self.blocks = {}        # device -> Blocks
        self.conf = alloc_conf()

    def blocks_of(self, device):
        b = self.blocks.get(device)
        if b is None:
            b = self.blocks[device] = Blocks(*self.conf)
        return b

    # -- identity -------------------------------------------------------
    def annotate(self, device, addr, label, time_us=None):
        if time_us is None:
            time_us = time.time_ns() // 1000
        # every annotation of an address is kept until settled: a gradient is
        # freed by zero_grad and made again at the same address each step
        self.ident.setdefault((device, addr), []).append((label, time_us))

    def _cat_add(self, label, size):
        if label:
            c = label.split("/", 1)[0]
            self.by_cat[c] = self.by_cat.get(c, 0) + size

    # -- entries ----------------------------------------------------------
    def feed(self, device, entries, horizon=None):
        """`horizon`: when the ring these entries end was read (µs, the
        annotations' clock); annotations made later wait for the next feed.
        None: all of them are settled now."""
        chosen = self._settle(device, entries, horizon) if self.ident else {}
        sink = self.sink
        blocks = self.blocks_of(device)
        for i, e in enumerate(entries):
            a = e.get("action")
            addr = e.get("addr") or 0
            size = e.get("size") or 0
            if a == "alloc":
                size = blocks.alloc(addr, size)
            elif a == "free_completed":
                size = blocks.free(addr, size)
            elif a in ("segment_alloc", "segment_free", "segment_map", "segment_unmap"):
                blocks.segment(a, addr, size)
            ts, clock = entry_time(e)
            label = chosen.get(i)
            st = self.frames.of(e.get("frames")) if self.frames is not None else None
            if a == "alloc":
                if label is None:
                    um = e.get("user_metadata")
                    label = um if isinstance(um, str) and um else None
                old = self.live.get((device, addr))
                if old:
                    self._cat_add(old[3], -old[0])
                self.live[(device, addr)] = [size, e.get("time_us") or 0, label is not None, label, st]
                self._cat_add(label, size)
            elif a == "free_completed":
                old = self.live.pop((device, addr), None)
                if old:
                    self._cat_add(old[3], -old[0])
            elif a == "oom":
                continue        # the OOM observer reports it, with more facts
            if st is not None:
                sink.trace_entry_frames(device, a, addr, size, e.get("stream") or 0, ts, clock, label, st)
            else:
                sink.trace_entry(device, a, addr, size, e.get("stream") or 0, ts, clock, label)
            self.entries += 1

    def _settle(self, device, entries, horizon):
        """The block each pending identity of this device names: the last
        alloc of its address at or before the annotation, not freed before
        it, among these entries ({entry index: label}, labelled as they are
        written); failing that, when these entries neither alloc nor free
        the address before the annotation, the live block an earlier feed
        reported, relabelled now, before these entries can free it.
        Annotations later than the horizon wait for the next feed (their
        alloc may not be in the ring yet)."""
        seq = {}
        for i, e in enumerate(entries):
            a = e.get("action")
            if a in ("alloc", "free_completed"):
                k = (device, e.get("addr"))
                if k in self.ident:
                    seq.setdefault(k, []).append((e.get("time_us") or 0, a == "alloc", i))
        chosen = {}
        sink = self.sink
        for k, anns in list(self.ident.items()):
            if k[0] != device:
                continue
            keep = []
            for label, t_ann in anns:
                if horizon is not None and t_ann > horizon:
                    keep.append((label, t_ann))
                    continue
                alloc_i, seen = None, False
                for te, is_alloc, i in seq.get(k, ()):
                    if te > t_ann:
                        break
                    seen = True
                    alloc_i = i if is_alloc else None
                if alloc_i is not None:
                    chosen[alloc_i] = label
                elif not seen:
                    b = self.live.get(k)
                    if b and not b[2] and b[1] <= t_ann:
                        if (sink.relabel_frames(device, k[1], label, t_ann * 1000, _native.REAL, b[4]) if b[4]
                                else sink.relabel(device, k[1], label, t_ann * 1000, _native.REAL)) == 0:
                            self.relabels += 1
                        b[2] = True
                        b[3] = label
                        self._cat_add(label, b[0])
            if keep:
                self.ident[k] = keep
            else:
                del self.ident[k]
        return chosen

    def resync(self, segments):
        """Every device's block mirror from a snapshot's segments."""
        by_dev = {}
        for sg in segments:
            by_dev.setdefault(sg.get("device", 0), []).append(sg)
        for d in set(by_dev) | set(self.blocks):
            self.blocks_of(d).resync(by_dev.get(d, []))

    def seed(self, segments, time_us=None):
        """State already there when recording started (a late start):
        segments and their active blocks, reported at once (at time_us,
        default now)."""
        now = time.time_ns() // 1000 if time_us is None else time_us
        for s in segments:
            d = s.get("device", 0)
            seg_act = "segment_map" if s.get("is_expandable") else "segment_alloc"
            ents = [{"action": seg_act, "addr": s["address"], "size": s["total_size"],
                     "stream": s.get("stream", 0), "time_us": now}]
            for b in s.get("blocks", []):
                if b.get("state", "").startswith("active"):
                    ents.append({"action": "alloc", "addr": b["address"], "size": b["size"],
                                 "stream": s.get("stream", 0), "time_us": now, "frames": b.get("frames")})
            self.feed(d, ents)
            self.blocks_of(d).seed(s)   # the blocks as torch has them, free ones too


def pool_name(seg):
    """Heap name of a segment from the allocator's own view."""
    pool = seg.get("segment_pool_id")
    if isinstance(pool, (tuple, list)) and any(pool):
        return "private-pool(%s)" % ",".join(str(x) for x in pool)
    if seg.get("is_expandable"):
        return "expandable"
    return seg.get("segment_type") or "large"


def guard_history(torch, stream_of):
    """torch has one allocator history ring per process.  A program that
    records its own (torch.cuda.memory._record_memory_history, e.g.
    max_entries=500 to dump a snapshot) would shrink it under memtrace, which
    then loses entries between polls, or disable it.  Installed when torch is
    imported (before the program can bind the function): the program's call
    goes through after memtrace took what the ring held; then memtrace's
    settings are put back (the larger ring, recording on; the program's
    context and stacks kept) and the call is written to the trace's meta
    (torch.history_user).  stream_of() is the running Stream, or None."""
    mem = getattr(getattr(torch, "cuda", None), "memory", None)
    orig = getattr(mem, "_record_memory_history", None)
    if orig is None or getattr(orig, "_memtrace", False):
        return

    def _record_memory_history(*a, **k):
        st = stream_of()
        if st is None or not st.started or st._asserting:
            return orig(*a, **k)
        return st.user_history(orig, a, k)
    _record_memory_history._memtrace = True
    _record_memory_history.__wrapped__ = orig
    _record_memory_history.__doc__ = orig.__doc__
    for owner in (mem, torch.cuda):
        if getattr(owner, "_record_memory_history", None) is orig:
            owner._record_memory_history = _record_memory_history


class Stream(object):
    """The live allocator stream of one process (needs torch with CUDA)."""

    def __init__(self, torch, max_entries=100000, python_stacks=False, interval=0.5):
        self.torch = torch
        self.max_entries = max_entries
        self.python_stacks = python_stacks
        self.interval = interval
        self.channel = Channel(python_stacks=python_stacks)
        self.tails = {}
        self.named = set()
        self.lock = threading.Lock()
        self.last_poll = 0.0
        self.polls = 0
        self.poll_s = 0.0
        self.started = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.user_calls = 0       # the program's own _record_memory_history calls
        self.user_max = None      # ... the ring size it asked for last
        self.user_ctx = {}        # ... the context/stacks it asked for (kept)
        self._asserting = False
        self._cleared = False
        self.lost_entries = 0     # allocator entries known lost (ring wrapped between polls)
        self.counts = {}          # device -> torch's cumulative alloc/free/segment counts at the last poll

    def _enable(self):
        mem = self.torch.cuda.memory
        ctx = "all" if self.python_stacks else None
        self._asserting = True
        try:
            kw = dict(enabled="all", context=self.user_ctx.get("context", ctx),
                      stacks=self.user_ctx.get("stacks", "python"),
                      max_entries=max(self.max_entries, self.user_max or 0))
            try:   # torch >= 2.1
                if not self.user_calls:
                    # free_requested maps to nothing (collector/torch_actions.h):
                    # left out of the ring, a poll copies a third fewer
                    # entries (where torch takes skip_actions; 2.11 does); a program
                    # that records its own history gets every action
                    try:
                        mem._record_memory_history(skip_actions=["free_requested"], **kw)
                        return
                    except TypeError:
                        pass
                mem._record_memory_history(**kw)
            except TypeError:   # torch 1.13 / 2.0
                mem._record_memory_history(True, record_context=self.python_stacks,
                                           trace_alloc_max_entries=max(self.max_entries, self.user_max or 0),
                                           trace_alloc_record_context=self.python_stacks)
        finally:
            self._asserting = False

    def user_history(self, orig, a, k):
        self.user_calls += 1
        self.poll(wait=True)            # what the ring holds before the call can clear it
        try:
            return orig(*a, **k)
        finally:
            m = k.get("max_entries", k.get("trace_alloc_max_entries"))
            if m is None and len(a) >= 4 and not isinstance(a[0], bool):
                m = a[3]   # torch >= 2.1: (enabled, context, stacks, max_entries, ...)
            if isinstance(m, int):
                self.user_max = m
            for key in ("context", "stacks"):
                if k.get(key) is not None:
                    self.user_ctx[key] = k[key]
            try:
                self._enable()
                # a cleared ring is not a loss: it held nothing unread
                lost = [t.lost for t in self.tails.values()]
                self._cleared = True
                self.poll(wait=True)
                for t, n in zip(self.tails.values(), lost):
                    t.lost = n
            except Exception:
                pass
            finally:
                self._cleared = False
            _native.meta("torch.history_user", "calls=%d max_entries=%s args=%s; memtrace kept its ring of %d"
                         % (self.user_calls, self.user_max, ",".join(sorted(k)) or "-",
                            max(self.max_entries, self.user_max or 0)))

    def _counts(self, d):
        """torch's cumulative count of the entries a ring gets (allocs, frees,
        segment allocs and frees) of device d, or None."""
        try:
            st = self.torch.cuda.memory_stats(d)
            return sum(st.get(k, 0) for k in ("allocation.all.allocated", "allocation.all.freed",
                                               "segment.all.allocated", "segment.all.freed"))
        except Exception:
            return None

    def start(self):
        mem = self.torch.cuda.memory
        self._enable()
        self.started = True
        if self.python_stacks:
            # the first snapshot with frames imports torch._dynamo (~800
            # modules) to symbolise them; from the poller thread that import
            # raced the program's own (an optimizer's first step imports it):
            # "partially initialized module".  Done here, on this thread.
            try:
                import importlib
                importlib.import_module("torch._dynamo")
            except Exception:
                pass
        try:   # anything allocated before (late start)
            snap = mem._snapshot()
            self.channel.seed(snap.get("segments", []) if isinstance(snap, dict) else [])
            for d, ring in enumerate(snap.get("device_traces", []) if isinstance(snap, dict) else []):
                self.tails.setdefault(d, Tail(self.max_entries)).new_entries(ring)
                self.counts[d] = self._counts(d)
        except Exception:
            pass
        t = threading.Thread(target=self._run, name="memtrace-torch-alloc", daemon=True)
        t.start()

    def _run(self):
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            if time.monotonic() - self.last_poll >= min(self.interval, self.MIN_INTERVAL):
                self.poll()

    COUNTED = ("alloc", "free_completed", "segment_alloc", "segment_free")

    def poll(self, min_gap=0.0, wait=False):
        """Reads what is new (self.read), once at a time, timed."""
        if not self.started or time.monotonic() - self.last_poll < min_gap:
            return False
        if not self.lock.acquire(wait):
            return False
        try:
            t0 = time.monotonic()
            horizon = time.time_ns() // 1000   # annotated before this: its alloc is read now
            self.read(horizon)
            self.polls += 1
            self.last_poll = time.monotonic()
            self.poll_s += self.last_poll - t0
            return True
        finally:
            self.lock.release()

    def read(self, horizon):
        snap = self.torch.cuda.memory._snapshot()
        traces = snap.get("device_traces", []) if isinstance(snap, dict) else []
        new = 0
        for d, ring in enumerate(traces):
            tail = self.tails.setdefault(d, Tail(self.max_entries))
            overruns = tail.lost
            ents = tail.new_entries(ring)
            new += len(ents)
            self.channel.feed(d, ents, horizon)
            self._account(d, tail.lost - overruns, ents, len(ring))
        self.pace(new, time.monotonic() - self.last_poll if self.last_poll else None)
        segs = snap.get("segments", []) if isinstance(snap, dict) else []
        # the mirror follows torch's own blocks at this instant (the end
        # of the entries just fed): lost entries or an unmodelled change
        # never leave it wrong for longer than a poll
        self.channel.resync(segs)
        for s in segs:
            k = (s.get("device", 0), s.get("address"))
            name = pool_name(s)
            if (k, name) not in self.named:
                if self.channel.sink.segment_name(k[0], k[1], name) == 0:
                    self.named.add((k, name))

    # Each poll copies the whole ring, so its cost is the ring's length, not
    # the new entries: poll as seldom as the ring allows, aiming at a quarter
    # of it new per poll (room for bursts; an overrun is counted).
    # The interval grows at most twofold per poll and stays under a second
    # (a burst after a quiet phase must not wrap the ring before the next
    # poll); kick() (each step's start) polls when the last one is older.
    MIN_INTERVAL, MAX_INTERVAL = 0.1, 1.0

    def pace(self, new, elapsed):
        if not elapsed or elapsed <= 0:
            return
        rate = new / elapsed                       # entries per second
        want = (self.max_entries / 4.0) / rate if rate > 0 else self.MAX_INTERVAL
        want = min(want, 2 * self.interval)
        self.interval = min(self.MAX_INTERVAL, max(self.MIN_INTERVAL, want))

    def _account(self, d, overran, ents, ring_len):
        """Entries lost when the ring wrapped between two polls (another
        user of the ring shrank it, or a burst): torch's own counts say how
        many it made, the ring how many came; the difference goes to the
        trace's drops (kind "torch"), so that every report states it.  A
        wrapped ring shorter than memtrace's was shrunk by someone memtrace
        did not see (a C++ caller): memtrace's settings are put back."""
        now = self._counts(d)
        before = self.counts.get(d)
        if now is not None:
            self.counts[d] = now
        if not overran or self._cleared:
            return
        got = sum(1 for e in ents if e.get("action") in self.COUNTED)
        n = now - before - got if now is not None and before is not None else 1
        if n <= 0:
            return   # torch's counts say everything came: the ring was cleared, not overrun
        self.lost_entries += n
        want = max(self.max_entries, self.user_max or 0)
        if ring_len < want:
            why = "another user of torch's history ring made it %d entries (memtrace keeps %d)" % (ring_len, want)
            try:
                self._enable()
            except Exception:
                pass
        else:
            why = "torch's history ring (%d entries) wrapped between two polls" % ring_len
        _native.lost("torch", n, "allocator history entries lost: %s; allocated bytes, peaks and categories "
                     "are wrong after it" % why)

    def kick(self):
        if time.monotonic() - self.last_poll >= self.interval:
            self._wake.set()

    def stop(self):
        self._stop.set()
        self._wake.set()
        self.poll()
        lost = sum(t.lost for t in self.tails.values())
        fr = self.channel.frames
        _native.meta("torch.alloc_stream", "polls=%d poll_s=%.3f entries=%d relabels=%d ring_overruns=%d "
                     "lost_entries=%d max_entries=%d"
                     % (self.polls, self.poll_s, self.channel.entries, self.channel.relabels, lost,
                        self.lost_entries, self.max_entries)
                     + (" python_frames=%d unnamed_frames=%d" % (len(fr.ids), fr.unnamed) if fr else ""))
