"""check_simgpu.py RUNDIR TORCH.json: memtrace's report of a train_simgpu.py
run against the numbers torch gave about itself.  TAP."""
import glob, json, os, sqlite3, subprocess, sys
from collections import Counter
from taplib import plan, tap, done

run, exp = sys.argv[1], json.load(open(sys.argv[2]))
# from torch's own account of the run: its backend, whether it raised an OOM
plan(3 + (3 if exp["backend"] == "cudaMallocAsync" else 5) + (2 if exp.get("oom") is not None else 0))
mt = os.path.join(os.environ.get("MT_BUILDDIR", "."), "memtrace")
rep = json.loads(subprocess.run([mt, "report", "--format", "json", run], check=True, capture_output=True).stdout)
r = rep["ranks"][0]
peak, cats = r["peak"], r["peak"]["by_category"]
db = sqlite3.connect(glob.glob(run + "/*.mtrace")[0])
meta = dict(db.execute("SELECT key, value FROM meta"))
tap(meta.get("torch.allocator_backend") == exp["backend"], "the trace names torch's allocator backend (%s)" % exp["backend"],
    meta.get("torch.allocator_backend"))
if exp["backend"] == "cudaMallocAsync":
    # torch reads the pool's used bytes (the pool rounds each block up to
    # 512 B); the trace has each cudaMallocAsync request as asked
    d = exp["max_memory_allocated"] - peak["allocated_bytes"]
    tap(0 <= d < exp["max_memory_allocated"] // 1000,
        "peak allocated %d = torch.cuda.max_memory_allocated() %d less the pool's rounding (%d B)"
        % (peak["allocated_bytes"], exp["max_memory_allocated"], d))
    # unlabelled torch tensors (no allocator stream, so no identities): the
    # category rules alone, against torch's own count of its model state
    tap(not any(cats.get(c) for c in ("parameter", "gradient", "optimizer_state")),
        "unlabelled blocks: no identity category (no rule may guess one)", {c: cats.get(c) for c in cats if cats.get(c)})
    ms = exp["parameter"] + exp["gradient"] + exp["optimizer_state"]
    tap(abs(cats.get("other", 0) - ms) <= exp["max_memory_allocated"] // 100,
        "unlabelled: the persistent rule files torch's parameters, gradients and optimizer state (%d B) as other "
        "(within 1%% of the peak)" % ms, cats.get("other"))
else:
    tap(peak["allocated_bytes"] == exp["max_memory_allocated"],
        "tensor-level peak == torch.cuda.max_memory_allocated() (%d)" % exp["max_memory_allocated"], peak["allocated_bytes"])
    tap(r["reserved_peak"]["bytes"] == exp["max_memory_reserved"],
        "segment-level peak == torch.cuda.max_memory_reserved() (%d)" % exp["max_memory_reserved"], r["reserved_peak"]["bytes"])
    for c in ("parameter", "gradient", "optimizer_state"):
        tap(cats.get(c) == exp[c], "%s bytes at the peak == torch's %s tensors (%d)" % (c, c, exp[c]), cats.get(c))
tap(peak["step"] is not None and peak["step"] >= 1, "the peak is in a step after the first (optimizer state exists)", peak["step"])
names = Counter(x[0] for x in db.execute("SELECT s.value FROM ranges r JOIN strings s ON s.id = r.name_id"))
missing = [m for m in exp["modules"] if names[m + ".forward"] != exp["steps"] or names[m + ".backward"] != exp["steps"]]
tap(not missing, "forward and backward ranges of all %d module paths in every step" % len(exp["modules"]), missing)
if exp.get("oom") is not None:
    o = r["ooms"]
    tap(any(x["requested_bytes"] == exp["oom_bytes"] and x["source"] == "allocator" for x in o),
        "the OOM torch raised is in the trace, from the allocator, with the bytes asked (%d)" % exp["oom_bytes"],
        [(x["source"], x["requested_bytes"]) for x in o])
    a = next((x for x in o if x["source"] == "allocator"), None)
    tap(a is not None and a["by_category"]["parameter"] == exp["parameter"] and a["by_category"]["optimizer_state"] == exp["optimizer_state"],
        "live parameters and optimizer state at the OOM == torch's", a and a["by_category"])
done()
