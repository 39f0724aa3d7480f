"""The caching allocator's entries through c10's trace tracker (_tracker.cpp).

torch.cuda.memory._snapshot() hands over the history ring whole, converted
into dicts under the GIL: the ring poller (_alloc.Stream) paid per poll for
every entry the ring holds, not for the new ones, and a step that wanted the
GIL waited for the copy (up to the ring's length: 100 000 entries, ~400 ms).
Here a tracker attached to the allocator writes each entry, as it happens,
into a ring of fixed records in C++ (no GIL, no Python, no history ring:
torch records none for memtrace); the poller thread copies out only the
records it has not read (a ctypes call: the GIL is released), a batch at a
time, and feeds them to the same Channel (block sizes, identities).

The tracker is C++ only, so it is built on first use with the C++ compiler
($CXX, else c++) against the running torch's headers and the CUDA runtime
headers, into $XDG_CACHE_HOME/memtrace/tracker (one object per torch and
source; concurrent ranks wait for the first build).  Without a compiler or
headers, or with MEMTRACE_TORCH_TRACKER=0, or when Python stacks are asked
(the tracker's entries carry none), the ring poller is used; the trace's
meta torch.alloc_source says which and why."""
import ctypes
import hashlib
import os
import struct
import subprocess
import threading
import time

from memtrace import _native, _alloc

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_tracker.cpp")
REC = struct.Struct("<QQQQQqii")   # Rec of _tracker.cpp


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "memtrace", "tracker")


def _cuda_includes(torch):
    """Directories holding cuda_runtime_api.h, most specific first."""
    cands = []
    for v in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(v):
            cands.append(os.path.join(os.environ[v], "include"))
    cands += ["/usr/local/cuda/include", "/usr/include"]
    sp = os.path.dirname(os.path.dirname(torch.__file__))
    nv = os.path.join(sp, "nvidia")
    if os.path.isdir(nv):   # pip's CUDA runtime wheels
        for d in sorted(os.listdir(nv)):
            for sub in ("include", os.path.join("cuda_runtime", "include")):
                cands.append(os.path.join(nv, d, sub))
    if os.path.isdir("/usr/local"):
        cands += [os.path.join("/usr/local", d, "include") for d in sorted(os.listdir("/usr/local"), reverse=True)
                  if d.startswith("cuda-")]
    return [d for d in cands if os.path.exists(os.path.join(d, "cuda_runtime_api.h"))][:1]


def build(torch):
    """(path of the built tracker, None) or (None, why not)."""
    try:
        with open(SRC, "rb") as f:
            src = f.read()
    except OSError as e:
        return None, "no source: %s" % e
    tdir = os.path.dirname(os.path.abspath(torch.__file__))
    abi = int(bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)))
    key = hashlib.sha1(src + ("%s|%s|%d" % (torch.__version__, tdir, abi)).encode()).hexdigest()[:16]
    out_dir = _cache_dir()
    so = os.path.join(out_dir, "tracker-%s.so" % key)
    if os.path.exists(so):
        return so, None
    cuda = _cuda_includes(torch)
    if not cuda:
        return None, "no CUDA runtime headers (cuda_runtime_api.h; set CUDA_HOME)"
    try:
        os.makedirs(out_dir, exist_ok=True)
        import fcntl
        with open(so + ".lock", "w") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)     # ranks of one node: one build
            if os.path.exists(so):
                return so, None
            tmp = "%s.%d.tmp" % (so, os.getpid())
            lib = os.path.join(tdir, "lib")
            cmd = [os.environ.get("CXX", "c++"), "-O2", "-std=c++17", "-shared", "-fPIC",
                   "-D_GLIBCXX_USE_CXX11_ABI=%d" % abi, "-I" + os.path.join(tdir, "include"), "-I" + cuda[0],
                   SRC, "-o", tmp, "-L" + lib, "-lc10_cuda", "-lc10", "-Wl,-rpath," + lib]
            # the compiler is no part of the job: no collector, no simulated GPU in it
            env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("MEMTRACE")}
            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
            if r.returncode != 0:
                lines = r.stdout.decode("utf-8", "replace").strip().splitlines()
                return None, "build failed (%s): %s" % (cmd[0], lines[-1] if lines else "exit %d" % r.returncode)
            os.rename(tmp, so)
            return so, None
    except Exception as e:
        return None, "build failed: %r" % (e,)


def load(torch):
    """The tracker library (ctypes), or (None, why not)."""
    so, why = build(torch)
    if so is None:
        return None, why
    try:
        lib = ctypes.CDLL(so)
    except OSError as e:
        return None, "cannot load %s: %s" % (so, e)
    lib.mt_tracker_attach.argtypes = [ctypes.c_uint64]
    lib.mt_tracker_read.restype = ctypes.c_uint64
    lib.mt_tracker_read.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_void_p, ctypes.c_uint64,
                                    ctypes.POINTER(ctypes.c_uint64)]
    lib.mt_tracker_action.argtypes = [ctypes.c_char_p]
    if lib.mt_tracker_record_size() != REC.size:
        return None, "record size %d, expected %d" % (lib.mt_tracker_record_size(), REC.size)
    return lib, None


class TrackerStream(object):
    """The live allocator stream of one process, read from the tracker.
    The same face as _alloc.Stream (channel, poll, kick, stop, started,
    user_history) for _torch.State and the OOM report."""
    BATCH = 4096                  # records per read: the GIL is held for one batch's conversion at most
    MIN_INTERVAL, MAX_INTERVAL = 0.05, 0.5

    def __init__(self, torch, lib, max_entries=1 << 18, interval=0.2):
        self.torch = torch
        self.lib = lib
        self.max_entries = max_entries
        self.interval = interval
        self.channel = _alloc.Channel(python_stacks=False)
        self.names = {}
        for a in ("alloc", "free_completed", "segment_alloc", "segment_free", "segment_map", "segment_unmap"):
            code = lib.mt_tracker_action(a.encode())
            if code >= 0:
                self.names[code] = a
        self.next = ctypes.c_uint64(0)
        self.lost_n = ctypes.c_uint64(0)
        self.buf = ctypes.create_string_buffer(REC.size * self.BATCH)
        self.named = set()
        self.lock = threading.Lock()
        self.last_poll = 0.0
        self.polls = 0
        self.poll_s = 0.0
        self.started = False
        self._asserting = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.lost_entries = 0
        self.user_calls = 0

    def start(self):
        if self.lib.mt_tracker_attach(self.max_entries) != 0:
            raise RuntimeError("tracker already attached")
        # a late start: what the allocator holds now.  start() runs where
        # CUDA is initialised, on the thread holding the GIL; records made
        # before the snapshot are in it and are skipped
        snap = self.torch.cuda.memory._snapshot()
        segs = snap.get("segments", []) if isinstance(snap, dict) else []
        while self.lib.mt_tracker_read(ctypes.byref(self.next), self.buf, self.BATCH, ctypes.byref(self.lost_n)):
            pass
        self.channel.seed(segs)
        for s in segs:
            self._name(s.get("device", 0), s.get("address"), _alloc.pool_name(s))
        self.started = True
        t = threading.Thread(target=self._run, name="memtrace-torch-alloc", daemon=True)
        t.start()

    def _name(self, device, addr, name):
        if (device, addr, name) not in self.named:
            if self.channel.sink.segment_name(device, addr, name) == 0:
                self.named.add((device, addr, name))

    def _run(self):
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.poll()

    poll = _alloc.Stream.poll   # once at a time, timed; calls read()

    def read(self, horizon):
        t0 = time.monotonic()
        lib, buf, new = self.lib, self.buf, 0
        while True:
            n = lib.mt_tracker_read(ctypes.byref(self.next), buf, self.BATCH, ctypes.byref(self.lost_n))
            if self.lost_n.value:
                self._lost(self.lost_n.value)
            if not n:
                break
            new += n
            self._feed(REC.iter_unpack(ctypes.string_at(buf, n * REC.size)), horizon)   # the n records only
            if n < self.BATCH:
                break
            time.sleep(0)   # between batches: the program's threads get the GIL
        self._pace(new, t0 - self.last_poll if self.last_poll else None)

    def _feed(self, recs, horizon):
        names = self.names
        small = _alloc.SMALL_BUFFER
        expandable = self.channel.conf[0]
        dev, ents, fresh = None, [], []
        for addr, size, stream, pa, pb, t_ns, act, d in recs:
            a = names.get(act)
            if a is None:
                continue
            if d != dev:
                if ents:
                    self.channel.feed(dev, ents, horizon)
                dev, ents = d, []
            ents.append({"action": a, "addr": addr, "size": size, "stream": stream, "time_us": t_ns // 1000,
                         "time_ns": t_ns})
            if a == "segment_alloc" or a == "segment_map":
                fresh.append((d, addr, size, pa, pb))
        if ents:
            self.channel.feed(dev, ents, horizon)
        for d, addr, size, pa, pb in fresh:
            # the segment's pool, as the snapshot names it (_alloc.pool_name)
            if pa or pb:
                name = "private-pool(%d,%d)" % (pa, pb)
            elif expandable:
                name = "expandable"
            else:
                name = "small" if size == small else "large"
            seg = self.channel.blocks_of(d)._seg_of(addr)
            if seg == addr:   # a mapping that extends a segment is named with it
                self._name(d, addr, name)

    def _lost(self, n):
        self.lost_entries += n
        _native.lost("torch", n, "allocator entries lost: the tracker's ring (%d records) wrapped before the "
                     "poller read it; allocated bytes, peaks and categories are wrong after it" % self.max_entries)
        try:   # the block mirror from torch's own state (entries of this instant may be counted twice)
            self.channel.resync(self.torch.cuda.memory._snapshot().get("segments", []))
        except Exception:
            pass

    def _pace(self, new, elapsed):
        """Aims at an eighth of the tracker's ring per poll (its cost is the
        new records only, so polling often costs nothing more)."""
        if not elapsed or elapsed <= 0:
            return
        rate = new / elapsed
        want = (self.max_entries / 8.0) / rate if rate > 0 else self.MAX_INTERVAL
        self.interval = min(self.MAX_INTERVAL, max(self.MIN_INTERVAL, min(want, 2 * self.interval)))

    def user_history(self, orig, a, k):
        """The program's own _record_memory_history: memtrace does not use
        torch's history ring here, so the call goes through as it is."""
        self.user_calls += 1
        m = k.get("max_entries", k.get("trace_alloc_max_entries"))
        if m is None and len(a) >= 4 and not isinstance(a[0], bool):
            m = a[3]   # (enabled, context, stacks, max_entries, ...)
        _native.meta("torch.history_user", "calls=%d max_entries=%s args=%s; memtrace reads the allocator's "
                     "trace tracker, not the history ring" % (self.user_calls, m, ",".join(sorted(k)) or "-"))
        return orig(*a, **k)

    def kick(self):
        if time.monotonic() - self.last_poll >= self.interval:
            self._wake.set()

    def stop(self):
        self._stop.set()
        self._wake.set()
        self.poll(wait=True)
        _native.meta("torch.alloc_stream", "source=tracker polls=%d poll_s=%.3f entries=%d relabels=%d "
                     "lost_entries=%d ring=%d"
                     % (self.polls, self.poll_s, self.channel.entries, self.channel.relabels,
                        self.lost_entries, self.max_entries))
