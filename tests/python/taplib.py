"""TAP lines for the python checkers of tests/python/*.sh: numbering goes on
from TAP_START, descriptions start with TAP_PREFIX; done() prints the "#count N FAILS" line tap_py (common.sh)
reads back."""
import os

_prefix = os.environ.get("TAP_PREFIX", "")

_n = int(os.environ.get("TAP_START", "1")) - 1
_fails = 0


def tap(good, desc, got=None):
    global _n, _fails
    _n += 1
    _fails += not good and "# TODO" not in desc   # a known, documented gap (tap.sh's rule)
    print("%s %d - %s%s%s" % ("ok" if good else "not ok", _n, _prefix, desc, "" if good or got is None else " (got %r)" % (got,)))


def done():
    print("#count %d %d" % (_n, _fails))
