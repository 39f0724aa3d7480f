"""check_ranges.py TRACE EXPECTED.json: the ranges of a CPU training run
under the bootstrap against what the model definition implies.  TAP."""
import json, os, sqlite3, sys
from collections import Counter

from taplib import plan, tap, done


plan(10)
db = sqlite3.connect(sys.argv[1])
exp = json.load(open(sys.argv[2]))
rows = db.execute("""SELECT r.ts, r.te, s.value, d.value FROM ranges r JOIN strings s ON s.id = r.name_id
                     LEFT JOIN strings d ON d.id = r.domain_id""").fetchall()
names = Counter(r[2] for r in rows)
steps = exp["steps"]
tap(exp["memtrace_loaded"] and exp["finder_gone"], "torch import installed the hooks; the import finder removed itself")
tap(all(r[3] == "pytorch" for r in rows), "ranges in the pytorch domain")
missing = [f for f in exp["forward"] if names[f] < steps]
tap(not missing, "a forward range per module per step (%d module paths from named_modules)" % len(exp["forward"]), missing)
missing = [f for f in exp["backward"] if names[f] < steps]
tap(not missing, "a backward range per module per step", missing)
missing = [f for f in exp["recompute"] if names[f] < steps]
tap(not missing, "the checkpointed block's forward re-run in backward is a recompute range", missing)
tap([names["step %d" % i] for i in range(steps)] == [1] * steps and names["optimizer"] == steps,
    "steps 0..%d and one optimizer range per step" % (steps - 1), dict((k, v) for k, v in names.items() if "step" in k or k == "optimizer"))
unclosed = [r[2] for r in rows if r[1] is None]
tap(not unclosed, "every range closed", unclosed)
stepr = sorted((r[0], r[1]) for r in rows if r[2].startswith("step "))
inside = all(any(a <= r[0] and r[1] <= b for a, b in stepr) for r in rows if not r[2].startswith("step ") and r[1])
tap(inside, "module and optimizer ranges lie inside a step")
fw = {r[2]: r for r in rows}
ok_order = all(fw[p][0] <= fw[c][0] and fw[c][1] <= fw[p][1]
               for p, c in [("model.forward", "model.blocks.0.forward"), ("model.blocks.0.forward", "model.blocks.0.mlp.1.forward")])
tap(ok_order, "forward ranges nest like the modules")
opt = [r for r in rows if r[2] == "optimizer"]
bwd = [r for r in rows if r[2] == "model.backward"]
tap(len(opt) == len(bwd) and all(b[1] <= o[0] for b, o in zip(sorted(bwd), sorted(opt))),
    "each backward ends before its optimizer step begins")
done()
