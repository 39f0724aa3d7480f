"""ctypes binding of the collector's framework channel (memtrace_fw_* in
collector/hooks_framework.c).  The collector is preloaded, so its symbols
are in the process's global namespace.  PyDLL: calls keep the GIL (they
are short and never block), so Python callers are serialised for free."""
import ctypes

_C = None
ok = False
frames_ok = False
rank_ok = False       # memtrace_fw_rank and memtrace_fw_lost (API version 3)     # the collector takes Python frames (API version 2)
MAX_FRAMES = 32       # innermost frames kept per entry (MT_FW_MAX_PYFRAMES)


def load():
    global _C, ok, frames_ok, rank_ok
    if _C is not None:
        return ok
    try:
        lib = ctypes.PyDLL(None)
        lib.memtrace_fw_version.restype = ctypes.c_int
        version = lib.memtrace_fw_version()
        if version < 1:
            raise OSError("old collector")
    except (OSError, AttributeError):
        _C = False
        ok = False
        return False
    u64, i64, i, s = ctypes.c_uint64, ctypes.c_int64, ctypes.c_int, ctypes.c_char_p
    sig = {
        "memtrace_fw_init": (i, [s, s]),
        "memtrace_fw_range_start": (u64, [s, i64, i]),
        "memtrace_fw_range_end": (None, [u64, i64, i]),
        "memtrace_fw_mark": (None, [s]),
        "memtrace_fw_trace_entry": (i, [i, s, u64, u64, u64, i64, i, s]),
        "memtrace_fw_segment_name": (i, [i, u64, s]),
        "memtrace_fw_relabel": (i, [i, u64, s, i64, i]),
        "memtrace_fw_oom": (None, [i, u64, i64, i64, s, i64, i]),
        "memtrace_fw_meta": (None, [s, s]),
        "memtrace_fw_busy_drops": (u64, []),
        "memtrace_fw_flush": (i, [i]),
    }
    pu64 = ctypes.POINTER(u64)
    if version >= 2:
        sig["memtrace_fw_trace_entry_frames"] = (i, [i, s, u64, u64, u64, i64, i, s, pu64, i])
        sig["memtrace_fw_relabel_frames"] = (i, [i, u64, s, i64, i, pu64, i])
        sig["memtrace_fw_frame_name"] = (i, [u64, s])
        frames_ok = True
    if version >= 3:
        sig["memtrace_fw_rank"] = (None, [i, i])
        sig["memtrace_fw_lost"] = (None, [s, u64, s])
        rank_ok = True
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    _C = lib
    ok = True
    return True


def _b(x):
    if x is None:
        return None
    return x.encode("utf-8", "replace") if isinstance(x, str) else x


# clocks of memtrace_fw_*: 0 now, 1 CLOCK_MONOTONIC ns, 2 CLOCK_REALTIME ns
NOW, MONO, REAL = 0, 1, 2


def init(framework, version):
    return _C.memtrace_fw_init(_b(framework), _b(version)) if ok else 0


def range_start(name, ts=0, clock=NOW):
    return _C.memtrace_fw_range_start(_b(name), ts, clock) if ok else 0


def range_end(rid, ts=0, clock=NOW):
    if ok:
        _C.memtrace_fw_range_end(rid, ts, clock)


def mark(name):
    if ok:
        _C.memtrace_fw_mark(_b(name))


def trace_entry(device, action, addr, size, stream, ts, clock, label=None):
    if not ok:
        return 0
    return _C.memtrace_fw_trace_entry(device, _b(action), addr & 0xFFFFFFFFFFFFFFFF, size, stream & 0xFFFFFFFFFFFFFFFF,
                                      ts, clock, _b(label))


def frame_name(fid, name):
    """Names Python frame id `fid` ("file:line function"); 0 when done."""
    return _C.memtrace_fw_frame_name(fid, _b(name)) if frames_ok else -1


def frame_array(ids):
    """A tuple of frame ids (innermost first) as the C API takes them."""
    return (ctypes.c_uint64 * len(ids))(*ids)


def trace_entry_frames(device, action, addr, size, stream, ts, clock, label, frames):
    """trace_entry with `frames` = (frame_array(ids), len(ids)) or None."""
    if not frames_ok or not frames:
        return trace_entry(device, action, addr, size, stream, ts, clock, label)
    return _C.memtrace_fw_trace_entry_frames(device, _b(action), addr & 0xFFFFFFFFFFFFFFFF, size,
                                             stream & 0xFFFFFFFFFFFFFFFF, ts, clock, _b(label),
                                             frames[0], frames[1])


def relabel_frames(device, addr, label, ts, clock, frames):
    if not frames_ok or not frames:
        return relabel(device, addr, label, ts, clock)
    return _C.memtrace_fw_relabel_frames(device, addr, _b(label), ts, clock, frames[0], frames[1])


def segment_name(device, addr, name):
    return _C.memtrace_fw_segment_name(device, addr, _b(name)) if ok else 1


def relabel(device, addr, label, ts=0, clock=NOW):
    return _C.memtrace_fw_relabel(device, addr, _b(label), ts, clock) if ok else 1


def oom(device, requested, free, total, detail, ts=0, clock=NOW):
    if ok:
        _C.memtrace_fw_oom(device, requested, free, total, _b(detail[:255]), ts, clock)


def meta(key, value):
    if ok:
        _C.memtrace_fw_meta(_b(key), _b(str(value)[:250]))


def busy_drops():
    return _C.memtrace_fw_busy_drops() if ok else 0


def flush(timeout_ms=2000):
    return _C.memtrace_fw_flush(timeout_ms) if ok else -1


def rank(r, world):
    """This process's rank and world size (torch.distributed's default group)."""
    if rank_ok:
        _C.memtrace_fw_rank(r, world)


def lost(kind, count, reason):
    """`count` events of `kind` lost before the collector saw them."""
    if rank_ok and count > 0:
        _C.memtrace_fw_lost(_b(kind), count, _b(reason[:200]))
