"""Checks a snapshot pickle written by `memtrace export --format torch-snapshot`.

check_snapshot.py EXPORTED [ORIGINAL]
  - loads EXPORTED with an Unpickler that refuses every global (plain data only)
  - checks the structure torch.cuda._memory_viz reads (segments, blocks tiling
    their segment, device_traces entries with frames)
  - with ORIGINAL (a real _dump_snapshot pickle the trace was imported from):
    the same segments and blocks, and the same alloc/free entries
  - when torch is importable: runs torch.cuda._memory_viz on it
Prints TAP lines (numbered from $TAP_START, default 1) and the count last."""
import io, os, pickle, sys

from taplib import plan, tap, done  # tests/python (tap_py puts it on PYTHONPATH)

try:
    import torch.cuda._memory_viz as mv
    have_torch = True
except Exception:  # noqa
    have_torch = False
# decided before reading the file: the original given, torch importable
plan(8 + (4 if len(sys.argv) > 2 else 0) +
     (3 + sum(hasattr(mv, f) for f in ("trace_plot", "segment_plot")) if have_torch else 1))


class PlainOnly(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError("global %s.%s in an exported snapshot" % (module, name))


with open(sys.argv[1], "rb") as f:
    raw = f.read()
try:
    snap = PlainOnly(io.BytesIO(raw)).load()
    tap(True, "exported pickle loads with globals refused (plain data only)")
except Exception as e:  # noqa
    tap(False, "exported pickle loads: %s" % e)
    done()
    sys.exit(1)

tap(raw[:2] == b"\x80\x04", "pickle protocol 4")
tap(isinstance(snap, dict) and {"segments", "device_traces"} <= set(snap), "top-level segments and device_traces")
segs = snap.get("segments", [])
ok_tiles = all(s["total_size"] == sum(b["size"] for b in s["blocks"]) and
               all(b["address"] == s["address"] + sum(x["size"] for x in s["blocks"][:i])
                   for i, b in enumerate(s["blocks"])) for s in segs)
tap(ok_tiles, "blocks tile their segments (%d segments)" % len(segs))
keys_seg = {"device", "address", "total_size", "allocated_size", "active_size", "stream", "segment_type", "blocks"}
tap(all(keys_seg <= set(s) for s in segs), "segment keys memory_viz reads")
tap(all({"address", "size", "state", "frames"} <= set(b) for s in segs for b in s["blocks"]), "block keys")
tr = snap["device_traces"]
ents = [e for d in tr for e in d]
tap(all({"action", "addr", "size", "stream", "time_us", "frames"} <= set(e) for e in ents),
    "trace entry keys (%d entries)" % len(ents))
tap(all(isinstance(f, dict) and {"name", "filename", "line"} <= set(f) for e in ents for f in e["frames"]),
    "frames are {name, filename, line}")

if len(sys.argv) > 2:
    with open(sys.argv[2], "rb") as f:
        orig = pickle.load(f)
    def segset(s):
        return sorted((x["address"], x["total_size"]) for x in s)
    tap(segset(orig["segments"]) == segset(segs), "same segments as the original dump")
    def blocks(s):
        return sorted((b["address"], b["size"], "active_allocated" if b["state"].startswith("active") else b["state"])
                      for x in s for b in x["blocks"])
    tap(blocks(orig["segments"]) == blocks(segs), "same blocks (address, size, state) as the original dump")
    def evs(t):
        return [(e["action"], e["addr"], e["time_us"]) for d in t for e in d
                if e["action"] in ("alloc", "free_completed")]
    tap(evs(orig["device_traces"]) == evs(tr), "same alloc/free_completed entries, in order, with times")
    def names(t):
        for d in t:
            for e in d:
                if e["frames"]:
                    return [f["name"] for f in e["frames"]]
        return []
    tap(names(orig["device_traces"]) == names(tr), "same frame names on the first entry with frames")

if have_torch:
    import torch
    st = mv.stats(segs)
    tap(st["segments"] == len(segs), "torch %s _memory_viz.stats() accepts the segments" % torch.__version__)
    out = mv.segments(segs, format_flamegraph=lambda s: s)
    tap(len(out) > 0 and "stream_0" in out, "_memory_viz.segments() renders (flamegraph input, %d bytes)" % len(out))
    out = mv.memory(segs, format_flamegraph=lambda s: s)
    tap(len(out) > 0, "_memory_viz.memory() renders")
    for fn in ("trace_plot", "segment_plot"):   # torch >= 2.1 takes the whole dict
        if hasattr(mv, fn):
            html = getattr(mv, fn)(snap)
            tap(len(html) > 0, "_memory_viz.%s() renders" % fn)
else:
    tap(True, "# SKIP torch not importable: structure checked against what _memory_viz reads")
done()
