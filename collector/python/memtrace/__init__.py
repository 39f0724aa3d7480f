"""memtrace's PyTorch integration (loaded by the bootstrap sitecustomize
when a program run under `memtrace record` imports torch).

Public API, usable with or without memtrace (no-ops when not recording):
    memtrace.step()                      end the current training step
    memtrace.phase("data")               context manager: a named range
    memtrace.annotate(tensor, "input", "batch")   identity of a tensor's storage
    memtrace.name_module(model, "model") the path prefix of a root module
    memtrace.enabled()                   True when events reach a trace
"""
import contextlib

from memtrace import _native

__all__ = ["step", "phase", "annotate", "name_module", "enabled"]


def enabled():
    return bool(_native.ok)


def _state():
    from memtrace import _torch
    return _torch.STATE


def step():
    s = _state()
    if s is not None:
        s.end_step(explicit=True)


@contextlib.contextmanager
def phase(name):
    rid = _native.range_start(name)
    try:
        yield
    finally:
        _native.range_end(rid)


def annotate(tensor, category, name=""):
    s = _state()
    if s is not None:
        s.annotate_tensor(tensor, "%s/%s" % (category, name))


def name_module(module, prefix):
    s = _state()
    if s is not None:
        s.name_root(module, prefix)
