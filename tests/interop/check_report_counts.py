#!/usr/bin/env python3
"""The Bar of issue 20: every report format (text, md, html, json) of an
imported trace shows, per rank, the kernel and NCCL counts the source file
holds.  The truth is counted here from the source file itself, never from
memtrace: Kineto JSON with Python's json (count_kineto.py), nsys SQLite with
Python's sqlite3 (one rank per GPU: CUPTI_ACTIVITY_KIND_KERNEL per deviceId,
NCCL kernels by their nccl* name), and none for snapshots and memory
timelines, whose formats do not record kernels or NCCL (the report must say
so, and must not say it of a Kineto or nsys file that merely holds none).

usage: check_report_counts.py KIND SOURCE TRACE MEMTRACE
KIND: kineto, nsys, snapshot, memory-timeline."""
import json
import os
import re
import sqlite3
import subprocess
import sys

from taplib import plan, tap, done

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from count_kineto import count  # noqa: E402

kind, src, trace, mt = sys.argv[1:5]
FORMATS = ("text", "md", "html", "json")
plan(2 * len(FORMATS))
name = os.path.basename(src)

# the truth: per rank (in rank order), (kernels, nccl kernels)
if kind == "kineto":
    c = count(src)
    truth = [(c["k"], c["nccl"])]
elif kind == "nsys":
    db = sqlite3.connect("file:%s?mode=ro" % src, uri=True)
    truth = [(k, n) for _, k, n in db.execute(
        "SELECT deviceId, COUNT(*), SUM((SELECT value FROM StringIds WHERE id = k.shortName) LIKE 'nccl%') "
        "FROM CUPTI_ACTIVITY_KIND_KERNEL k GROUP BY deviceId ORDER BY deviceId")]
else:
    truth = [(0, 0)]
# the reason a report gives for an empty section: only where the format cannot record it
cannot = kind in ("snapshot", "memory-timeline")
WHY = "(the source format does not record them)"

RANK = {"text": r"^Rank (\d+)  \(", "md": r"^## Rank (\d+)  \(", "html": r"^<h2>Rank (\d+)  \("}
NCCL_HEAD = {"text": r"^  NCCL$", "md": r"^### NCCL$", "html": r"^<h3>NCCL</h3>$"}
ROW = {"text": r"^    (\S+) +(\d+) ", "md": r"^\| ([^|]+) \| (\d+) \|", "html": r"^<tr><td>([^<]*)</td><td class=r>(\d+)</td>"}


def empty(fmt, chunk, what):
    """0 when the chunk says the section is empty (with the reason only where
    the format cannot record it), else None."""
    flat = " ".join((re.sub(r"<[^>]*>", " ", chunk) if fmt == "html" else chunk).split())
    m = re.search(what + r"( \(the source format does not record them\))?[.,]", flat)
    if not m:
        return None
    return 0 if bool(m.group(1)) == cannot else "said %r" % m.group(0)


def parse(fmt, out):
    """[(kernels, nccl)] per rank, in the order of the report."""
    if fmt == "json":
        return [(r["counts"]["kernels"], sum(x["count"] for x in r["nccl"])) for r in json.loads(out)["ranks"]]
    heads = list(re.finditer(RANK[fmt], out, re.M))
    got = []
    for i, h in enumerate(heads):
        chunk = out[h.start():heads[i + 1].start() if i + 1 < len(heads) else len(out)]
        m = re.search(r"Kernels \((\d+) launches\)", chunk)
        k = int(m.group(1)) if m else empty(fmt, chunk, "Kernels: none in this trace")
        n = None
        lines = chunk.splitlines()
        for j, line in enumerate(lines):
            if re.match(NCCL_HEAD[fmt], line):
                n = 0
                rows = lines[j + 1:]
                while rows and not rows[0].strip():   # Markdown: a blank line after the heading
                    rows.pop(0)
                for row in rows:
                    if not row.strip() or row.startswith("</table>"):
                        break
                    r = re.match(ROW[fmt], row)
                    n += int(r.group(2)) if r and "collective" not in r.group(1) else 0
                break
        if n is None:
            n = empty(fmt, chunk, "NCCL: no collectives in this trace")
        got.append((k, n))
    return got


for fmt in FORMATS:
    p = subprocess.run([mt, "report", "-f", fmt, trace], capture_output=True, text=True)
    got = parse(fmt, p.stdout) if p.returncode == 0 else "exit %d: %s" % (p.returncode, p.stderr.strip())
    tk = [k for k, _ in truth]
    tn = [n for _, n in truth]
    gk = [g[0] for g in got] if isinstance(got, list) else got
    gn = [g[1] for g in got] if isinstance(got, list) else got
    tap(gk == tk, "%s %s: kernels per rank = the file's %s" % (name, fmt, tk), gk)
    tap(gn == tn, "%s %s: NCCL kernels per rank = the file's %s" % (name, fmt, tn), gn)
done()
