"""check_dist.py RUNDIR EXPECTED_PREFIX: the per-rank traces of a torchrun
run (DDP, FSDP2) against what each worker wrote about itself.  TAP."""
import glob, json, os, sqlite3, sys
from collections import Counter

from taplib import plan, tap, done


run, prefix = sys.argv[1], sys.argv[2]
# train_dist.py runs under torchrun --nproc_per_node 2: 2 + 3 per worker
plan(2 + 3 * 2)
exp = [json.load(open(f)) for f in sorted(glob.glob(prefix + ".*"))]
world = exp[0]["world"] if exp else 0
tap(len(exp) == world >= 2, "every worker finished (%d of world %d)" % (len(exp), world))
traces = sorted(glob.glob(os.path.join(run, "*.mtrace")))
want = sorted(os.path.join(run, "rank%d.%d.mtrace" % (e["rank"], e["pid"])) for e in exp)
tap(traces == want, "one trace per worker, named rank<r>.<pid>, none for the torchrun agent", traces)
for e in exp:
    path = os.path.join(run, "rank%d.%d.mtrace" % (e["rank"], e["pid"]))
    if not os.path.exists(path):
        tap(False, "rank %d: trace %s" % (e["rank"], path))
        continue
    db = sqlite3.connect(path)
    p = db.execute("SELECT rank, world_size, pid FROM process").fetchone()
    tap(p == (e["rank"], e["world"], e["pid"]), "rank %d: process row holds rank, world size and pid" % e["rank"], p)
    names = Counter(r[0] for r in db.execute("SELECT s.value FROM ranges r JOIN strings s ON s.id = r.name_id"))
    missing = [f for f in e["forward"] + e["backward"] if names[f] != e["steps"]]
    tap(not missing, "rank %d: forward and backward ranges of every module path, once per step" % e["rank"], missing)
    tap([names["step %d" % i] for i in range(e["steps"])] == [1] * e["steps"] and names["optimizer"] == e["steps"],
        "rank %d: steps 0..%d, an optimizer range in each" % (e["rank"], e["steps"] - 1))
done()
