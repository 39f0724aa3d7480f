#!/bin/sh
# memtrace diff against simtrain's ground truth (never against memtrace's
# own report): a run and its `--checkpoint all` twin.  The truth files give
# each run's bytes at its peak per category, per tensor name (the region
# label) and per step; diff must
#   rank the category whose bytes at the peak changed most first (text and
#   JSON), with both runs' bytes as the truth has them (1% of the peak, the
#   accuracy test's tolerance for categories);
#   list every labelled allocation site whose bytes at the peak changed,
#   with both runs' exact bytes;
#   align the per-step peaks by step number, exactly.
MT_TEST_NAME=diff
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"

if ! [ -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  echo "1..0 # SKIP needs memtrace record and simtrain"
  exit 0
fi
# shellcheck disable=SC2086
"$MT" record -q -o "$TMP/a" -- "$ST" $SMALL --truth "$TMP/a.json" >"$TMP/rec.log" 2>&1 &&
  "$MT" record -q -o "$TMP/b" -- "$ST" $SMALL --checkpoint all --truth "$TMP/b.json" >>"$TMP/rec.log" 2>&1 ||
  { not_ok "recording failed: $(tail -1 "$TMP/rec.log")"; done_testing; exit 1; }
"$MT" diff "$TMP/a" "$TMP/b" >"$TMP/diff.txt" 2>"$TMP/err"; rc=$?
check "diff (text) exits 0 (got $rc)" test $rc = 0
"$MT" diff --format json "$TMP/a" "$TMP/b" >"$TMP/diff.json" 2>"$TMP/err"; rc=$?
check "diff --format json exits 0 (got $rc)" test $rc = 0

python3 - "$TMP/diff.json" "$TMP/diff.txt" "$TMP/a.json" "$TMP/b.json" >"$TMP/py.out" 2>&1 <<'PY'
import json, sys
n = 0
def tap(good, desc):
    global n
    n += 1
    print(("ok" if good else "not ok") + " - " + desc)
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    tap(False, "diff --format json is JSON: %s" % e); sys.exit(0)
text = open(sys.argv[2]).read().splitlines()
ta, tb = (json.load(open(p))["ranks"][0] for p in sys.argv[3:5])
r = d["ranks"][0]

# categories: the truth's largest change first
cats = set(ta["peak_category_bytes"]) | set(tb["peak_category_bytes"])
ch = {c: (ta["peak_category_bytes"].get(c, 0), tb["peak_category_bytes"].get(c, 0)) for c in cats}
want = max((c for c in ch if ch[c][0] != ch[c][1]), key=lambda c: abs(ch[c][1] - ch[c][0]))
first = r["categories"][0] if r["categories"] else {}
tol = 0.01 * max(ta["peak_allocated_bytes"], tb["peak_allocated_bytes"])
tap(first.get("name") == want and abs(first["a_bytes"] - ch[want][0]) <= tol and abs(first["b_bytes"] - ch[want][1]) <= tol,
    "json: first change is the truth's largest, %s %d -> %d (diff: %s %s -> %s)" % (
        want, ch[want][0], ch[want][1], first.get("name"), first.get("a_bytes"), first.get("b_bytes")))
try:
    i = next(k for k, l in enumerate(text) if "changed at the peak" in l)
    line = text[i + 1].split()
except StopIteration:
    line = []
tap(line[:1] == [want], "text: the first change listed is %s (%s)" % (want, " ".join(line)))
tap(d["ranks"][0]["peak_allocated"] == {"a_bytes": ta["peak_allocated_bytes"], "b_bytes": tb["peak_allocated_bytes"]},
    "json: peak allocated as the truth (%d, %d)" % (ta["peak_allocated_bytes"], tb["peak_allocated_bytes"]))

# every labelled site (simtrain's --annotate identity labels) at each peak
prefixed = ("parameter", "gradient", "optimizer_state", "input")
def at_peak(t):
    out, p = {}, t["peak_time_ns"]
    for x in t["tensors"]:
        if x["outside"] or x["alloc_ns"] > p or (x["free_ns"] >= 0 and x["free_ns"] <= p):
            continue
        k = x["category"] + "/" + x["name"] if x["category"] in prefixed else x["name"]
        out[k] = out.get(k, 0) + x["bytes"]
    return out
pa, pb = at_peak(ta), at_peak(tb)
changed = {k: (pa.get(k, 0), pb.get(k, 0)) for k in set(pa) | set(pb) if pa.get(k, 0) != pb.get(k, 0)}
sites = {s["name"]: (s["a_bytes"] or 0, s["b_bytes"] or 0) for s in r["sites"]}
bad = [k for k in changed if sites.get(k) != changed[k]]
tap(len(changed) > 0 and not bad, "json: every site the truth says changed (%d) is listed with its bytes%s" % (
    len(changed), "; wrong: " + ", ".join("%s %s != %s" % (k, sites.get(k), changed[k]) for k in sorted(bad)[:5]) if bad else ""))
order = [abs(b - a) for a, b in (sites[s["name"]] for s in r["sites"])]
tap(order == sorted(order, reverse=True), "json: sites ranked by change at the peak")

# steps, aligned by number
sa = {s["step"]: s["allocated"] for s in ta["step_peaks"]}
sb = {s["step"]: s["allocated"] for s in tb["step_peaks"]}
want = {k: (sa[k], sb[k]) for k in sa if k in sb and sa[k] != sb[k]}
got = {s["step"]: (s["a_bytes"], s["b_bytes"]) for s in r["steps"]["changed"]}
tap(got == want and r["steps"]["both"] == len(set(sa) & set(sb)),
    "json: per-step peaks aligned by step as the truth (%s; diff %s)" % (want, got))
PY
tap_from "$TMP/py.out"
done_testing
