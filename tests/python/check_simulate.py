"""check_simulate.py RUNDIR OUTDIR NRANKS GPUS_PER_NODE: memtrace's report of
a dist_simgpu.py job recorded with `memtrace record --simulate-gpus N`,
rank by rank, against what torch and the simulated NCCL said about
themselves (OUTDIR/rank<R>.json).  On the simulated GPU the device memory of
a process is torch's caching allocator plus NCCL's own buffers, so
memtrace's peak is torch's max_memory_allocated (reserved) plus the bytes
the simulated NCCL says it holds.  TAP."""
import json, os, subprocess, sys
from taplib import plan, tap, done
plan(7)

run, outdir, nranks, per_node = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mt = os.path.join(os.environ.get("MT_BUILDDIR", "."), "memtrace")
rep = json.loads(subprocess.run([mt, "report", "--format", "json", run], check=True, capture_output=True).stdout)
by_rank = {r["rank"]: r for r in rep["ranks"]}
tap(sorted(by_rank) == list(range(nranks)), "one trace per rank, ranks 0..%d" % (nranks - 1), sorted(by_rank))
exp = {}
for r in range(nranks):
    p = os.path.join(outdir, "rank%d.json" % r)
    if os.path.exists(p):
        exp[r] = json.load(open(p))
tap(len(exp) == nranks, "every rank finished and wrote torch's numbers", sorted(exp))
bad = {"allocated": [], "reserved": [], "communication": [], "devices": [], "local": []}
for r, e in sorted(exp.items()):
    m = by_rank.get(r)
    if m is None:
        continue
    nccl = e["nccl_buffer_bytes_peak"]
    if m["peak"]["allocated_bytes"] != e["max_memory_allocated"] + nccl:
        bad["allocated"].append((r, m["peak"]["allocated_bytes"], e["max_memory_allocated"], nccl))
    if m["reserved_peak"]["bytes"] != e["max_memory_reserved"] + nccl:
        bad["reserved"].append((r, m["reserved_peak"]["bytes"], e["max_memory_reserved"], nccl))
    if nccl <= 0 or m["peak"]["by_category"].get("communication") != nccl:
        bad["communication"].append((r, m["peak"]["by_category"].get("communication"), nccl))
    if e["device_count"] != per_node:
        bad["devices"].append((r, e["device_count"]))
    # the local rank picks the device: the trace holds memory on that device
    # only, and says which local rank the launcher gave (spawn gives none)
    used = sorted(d["device"] for d in m["devices"] if d["peak_reserved_bytes"] > 0)
    given = e.get("launcher_local_rank")
    if used != [e["local_rank"]] or (given is not None and m.get("local_rank") != int(given)):
        bad["local"].append((r, m.get("local_rank"), used, e["local_rank"]))
tap(not bad["allocated"], "on every rank the peak allocated == torch.cuda.max_memory_allocated() + the simulated NCCL's buffers",
    bad["allocated"][:4])
tap(not bad["reserved"], "on every rank the peak reserved == torch.cuda.max_memory_reserved() + the simulated NCCL's buffers",
    bad["reserved"][:4])
tap(not bad["communication"], "on every rank 'communication' at the peak == the bytes the simulated NCCL allocated",
    bad["communication"][:4])
tap(not bad["devices"], "every process sees its node's %d devices" % per_node, bad["devices"][:4])
tap(not bad["local"], "every rank's device memory is on its local rank's device only, and its trace has the launcher's local rank", bad["local"][:4])
done()
