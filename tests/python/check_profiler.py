"""check_profiler.py RUNDIR TIMELINE.mtrace: memtrace's category split at
the peak of a run against torch.profiler's memory timeline of the same
steps (imported by memtrace import --format memory-timeline, so its
categories are torch's: parameter, optimizer_state, input, temporary,
activation, gradient, and "other" for torch's autograd detail and unknown).
The identity categories must agree exactly; memtrace's lifetime rule for
activations (made in forward, freed in backward) against torch's autograd
graph analysis within 1%; what torch leaves uncategorised memtrace calls
temporary.  TAP."""
import json, os, subprocess, sys
from taplib import plan, tap, done

plan(6)

mt = os.path.join(os.environ.get("MT_BUILDDIR", "."), "memtrace")
peak = lambda path: json.loads(subprocess.run([mt, "report", "--format", "json", path], check=True,
                                              capture_output=True).stdout)["ranks"][0]["peak"]
ours, theirs = peak(sys.argv[1]), peak(sys.argv[2])
a, b = ours["by_category"], theirs["by_category"]
tap(ours["allocated_bytes"] == theirs["allocated_bytes"], "the same peak (%d B)" % theirs["allocated_bytes"],
    ours["allocated_bytes"])
for c in ("parameter", "gradient", "optimizer_state"):
    tap(a[c] == b[c] and a[c] > 0, "%s at the peak: memtrace %d == torch.profiler %d" % (c, a[c], b[c]))
close = lambda x, y: abs(x - y) <= y // 100
tap(b["activation"] > 0 and close(a["activation"], b["activation"]),
    "activation at the peak: memtrace %d, torch.profiler %d (within 1%%)" % (a["activation"], b["activation"]))
rest = b["temporary"] + b["other"]
tap(close(a["temporary"], rest),
    "memtrace's temporary %d ~ torch.profiler's temporary + uncategorised %d (within 1%%)" % (a["temporary"], rest))
done()
