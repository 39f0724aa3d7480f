"""TAP lines for the python checkers of tests/*/*.sh: numbering goes on
from TAP_START, descriptions start with TAP_PREFIX.

A checker declares its number of cases first, plan(N) (a constant, or one
computed from the ground truth, never from the output under test), which
prints "#plan N"; done() prints the "#count N FAILS" line tap_py
(tests/python/common.sh) reads back.  Cases that did not run (a checker that
stopped early, a loop over an empty list) are printed as "not ok", up to
the plan.  A checker that dies (an exception: a renamed JSON key, a
missing file) does not lose its cases silently: it prints a "not ok" with
the end of its traceback, then the rest of its plan as "not ok"."""
import os
import sys
import traceback

_prefix = os.environ.get("TAP_PREFIX", "")

_start = int(os.environ.get("TAP_START", "1")) - 1
_n = _start
_fails = 0
_plan = None
_done = False


def plan(n):
    global _plan
    _plan = n
    print("#plan %d" % n)


def tap(good, desc, got=None):
    global _n, _fails
    _n += 1
    _fails += not good and "# TODO" not in desc   # a known, documented gap (tap.sh's rule)
    print("%s %d - %s%s%s" % ("ok" if good else "not ok", _n, _prefix, desc, "" if good or got is None else " (got %r)" % (got,)))


def done():
    global _done
    _done = True
    ran = _n - _start
    if _plan is not None and ran < _plan:
        for _ in range(_plan - ran):
            tap(False, "not run: the checker planned %d cases and ran %d" % (_plan, ran))
    elif _plan is not None and ran > _plan:
        tap(False, "the checker planned %d cases and ran %d" % (_plan, ran))
    print("#count %d %d" % (_n, _fails))
    sys.stdout.flush()


def _died(kind, value, tb):
    lines = traceback.format_exception(kind, value, tb)
    sys.stderr.write("".join(lines))
    # the failing line and the error (not the caret line under it)
    tail = " | ".join(x.strip() for x in "".join(lines).strip().splitlines() if x.strip().strip("^~"))[-300:]
    tap(False, "checker %s crashed: %s" % (os.path.basename(sys.argv[0]), tail))
    if not _done:
        done()


sys.excepthook = _died
