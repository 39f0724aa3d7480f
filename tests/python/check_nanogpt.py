"""check_nanogpt.py RUNDIR TORCH.json: memtrace's record of a train_nanogpt.py
run against what torch reported about itself and what the simulated cuBLAS,
cuBLASLt and cuDNN reported they were given and launched.  TAP."""
import glob, json, os, sqlite3, subprocess, sys
from taplib import plan, tap, done

run, exp = sys.argv[1], json.load(open(sys.argv[2]))
# what the simulated libraries reported (in torch's json) adds 4 cases
plan(5 + (5 if exp.get("sim") is not None else 0))
mt = os.path.join(os.environ.get("MT_BUILDDIR", "."), "memtrace")
rep = json.loads(subprocess.run([mt, "report", "--format", "json", run], check=True, capture_output=True).stdout)
r = rep["ranks"][0]
peak, cats = r["peak"], r["peak"]["by_category"]
db = sqlite3.connect(glob.glob(run + "/*.mtrace")[0])
tap(peak["allocated_bytes"] == exp["max_memory_allocated"],
    "tensor-level peak == torch.cuda.max_memory_allocated() (%d)" % exp["max_memory_allocated"], peak["allocated_bytes"])
tap(r["reserved_peak"]["bytes"] == exp["max_memory_reserved"],
    "segment-level peak == torch.cuda.max_memory_reserved() (%d)" % exp["max_memory_reserved"], r["reserved_peak"]["bytes"])
for c in ("parameter", "gradient", "optimizer_state"):
    # the allocator's blocks: each tensor rounded up to 512 B
    tap(cats.get(c) == exp[c + "_blocks"], "%s bytes at the peak == torch's %s tensors in 512 B blocks (%d)"
        % (c, c, exp[c + "_blocks"]), cats.get(c))
sim = exp.get("sim")
if sim is not None:
    regs = {}
    for addr, size in db.execute("SELECT addr, size FROM region_events WHERE op = 1"):
        regs.setdefault(addr, set()).add(size)
    for lib in ("cublas", "cublaslt"):
        ws = sim[lib + "_workspaces"]
        miss = [(hex(a), n) for a, n in ws if n not in regs.get(a, ())]
        tap(ws and not miss, "the %d workspace(s) the simulated %s was given are allocator blocks of the trace, same "
            "address and size" % (len(ws), lib), miss)
    # kernels: launched from inside each library (the frame that called the runtime)
    mods = {i: os.path.basename(p) for i, p in db.execute(
        "SELECT m.id, s.value FROM modules m JOIN strings s ON s.id = m.path_id")}
    parent = {i: (p, m) for i, p, m in db.execute("SELECT id, parent, module FROM frames")}
    lib_of = {}
    for (stack,) in db.execute("SELECT DISTINCT stack FROM kernels"):
        f, lib = stack, None
        for _ in range(8):
            if f not in parent:
                break
            name = mods.get(parent[f][1], "")
            for l, pre in (("cublaslt", "libcublasLt."), ("cublas", "libcublas."), ("cudnn", "libcudnn.")):
                if name.startswith(pre):
                    lib = l
            if lib:
                break
            f = parent[f][0]
        lib_of[stack] = lib
    got = {l: 0 for l in ("cublas", "cublaslt", "cudnn")}
    for (stack,) in db.execute("SELECT stack FROM kernels"):
        if lib_of.get(stack):
            got[lib_of[stack]] += 1
    want = {l: sim[l + "_launches"] for l in got}
    tap(got == want and sum(want.values()) > 0, "kernel launches made from inside libcublas, libcublasLt, libcudnn == "
        "what each simulated library counted (%s)" % want, got)
    # the workspaces at the peak: every buffer a simulated library was lent
    # (cuBLAS's and cuBLASLt's live from their first use to the end, a
    # cuDNN one during its call) whose allocator block the trace's own
    # region rows show live at the peak, counted at that block's size
    t = peak["time_ns"] - db.execute("SELECT start_ns FROM process").fetchone()[0]
    live = {}
    for ts, op, addr, size in db.execute("SELECT ts, op, addr, size FROM region_events WHERE op IN (1, 2) "
                                         "AND ts <= ? ORDER BY ts, rowid", (t,)):
        if op == 1:
            live[addr] = size
        else:
            live.pop(addr, None)
    lent = {a for lib in ("cublas", "cublaslt", "cudnn") for a, n in sim[lib + "_workspaces"]}
    want = sum(live[a] for a in lent if a in live)
    w = cats.get("workspace", 0)
    tap(want > 0 and w == want, "workspace at the peak == the blocks the simulated cuBLAS, cuBLASLt and cuDNN were "
        "lent as workspace that are live then (%d B)" % want, w)
    tap(peak["by_rule"].get("library_workspace") == want, "all of it by rule library_workspace", peak["by_rule"])
done()
