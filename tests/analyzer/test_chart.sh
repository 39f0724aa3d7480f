#!/bin/sh
# The HTML report's chart: one colour per category, the viewer's palette as
# docs/VIEWER.md lists it; the allocated band reaches simtrain's true peak
# (--truth) and is at least a pixel wide there (min/max per pixel column, not
# a one-point spike); labelled axes.
MT_TEST_NAME=chart
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
S=${MT_SRCDIR:-.}
plan 3
if [ ! -x "$ST" ] || ! "$MT" record --help >/dev/null 2>&1; then
  skip_rest "needs memtrace record and simtrain"; done_testing; exit
fi
"$MT" record -q -o "$TMP/run" -- "$ST" --layers 2 --steps 40 --truth "$TMP/truth.json" >/dev/null 2>&1
"$MT" report -f html -o "$TMP/r.html" "$TMP/run"
check "every category in the viewer's colour (docs/VIEWER.md)" python3 - "$S/docs/VIEWER.md" "$TMP/r.html" <<'PY'
import re, sys
doc = dict(re.findall(r"^\| (\w+) \| `#([0-9A-Fa-f]{6})`", open(sys.argv[1]).read(), re.M))
html = open(sys.argv[2]).read()
legend = dict((n, c) for c, n in re.findall(r'<i style="background:#([0-9a-f]{6})"></i>(\w+)</span>', html))
cats = ["parameter", "gradient", "optimizer_state", "activation", "temporary", "workspace",
        "communication", "input", "other", "cache_free"]
for c in cats:
    assert legend[c].lower() == doc[c].lower(), (c, legend[c], doc[c])
for c, fill in re.findall(r'class="cat-(\w+)" fill="#([0-9a-f]{6})"', html):
    assert fill == doc[c].lower(), (c, fill)
PY
check "the allocated band reaches the true peak, at least a pixel wide" python3 - "$TMP/truth.json" "$TMP/r.html" <<'PY'
import json, re, sys
t = json.load(open(sys.argv[1]))["ranks"][0]
html = open(sys.argv[2]).read()
m = re.search(r'<svg class=timeline[^>]*height="(\d+)"', html)
H, T, B = int(m[1]), 10, 44
ph = H - B - T
ymax = max(t["peak_reserved_bytes"], t["peak_allocated_bytes"])
want = T + ph - ph * t["peak_allocated_bytes"] / ymax
d = re.search(r'stroke="#c00" stroke-width="1" d="([^"]*)"><title>allocated', html)[1]
pts = [tuple(map(float, p)) for p in re.findall(r"[ML]([\d.]+),([\d.]+)", d)]
top = min(y for x, y in pts)
assert abs(top - want) <= 0.6, (top, want)
wide = [(a, b) for a, b in zip(pts, pts[1:]) if abs(a[1] - top) < 0.05 and abs(b[1] - top) < 0.05 and b[0] - a[0] >= 0.9]
assert wide, "the peak is a one-point spike"
PY
check "axes: five size labels and five time labels" sh -c "test \$(grep -c 'class=ylabel' '$TMP/r.html') -ge 5 && test \$(grep -c 'class=xlabel' '$TMP/r.html') -ge 5"
done_testing
