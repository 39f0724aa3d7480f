"""check_compile.py RUNDIR EXPECTED.json: the trace of train_compile.py.  TAP."""
import glob, json, sqlite3, sys
from collections import Counter
from taplib import plan, tap, done

run, exp = sys.argv[1], json.load(open(sys.argv[2]))
steps = exp["steps"]
plan(5)
tap(exp["finite"], "the compiled model trained (finite losses)")
traces = glob.glob(run + "/*.mtrace")
tap(len(traces) == 1, "one trace: inductor's compile subprocesses captured nothing and left none", traces)
if traces:
    db = sqlite3.connect(traces[0])
    meta = dict(db.execute("SELECT key, value FROM meta"))
    tap(meta.get("collector.end") == "exit", "the trace ended at exit (a subprocess's exec did not end it)", meta.get("collector.end"))
    names = Counter(r[0] for r in db.execute("SELECT s.value FROM ranges r JOIN strings s ON s.id = r.name_id"))
    want = {"model.forward": steps, "model.backward": steps, "optimizer": steps}
    want.update(("step %d" % i, 1) for i in range(steps))
    got = {k: names[k] for k in want}
    tap(got == want, "forward/backward of the compiled module, optimizer and step ranges for all %d steps" % steps, got)
    inner = sorted(k for k in names if k.startswith("model.") and k.count(".") > 1)
    tap(not inner, "no ranges from inside the compiled graph", inner)
done()
