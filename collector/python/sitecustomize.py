# memtrace bootstrap: `memtrace record` puts this directory first on
# PYTHONPATH.  In a process that never imports torch it only chains the
# next sitecustomize on sys.path and leaves a finder on sys.meta_path that
# answers "not mine" to every import except `torch`; torch is not imported
# by us.  When the program imports torch, the hooks are installed right
# after torch's own import finishes (memtrace/_torch.py).  See
# docs/PYTORCH.md.
import sys


def _memtrace_chain():
    """Runs the sitecustomize that this one shadows (the next one on
    sys.path, e.g. Debian's /usr/lib/python3.X/sitecustomize.py)."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    rest = []
    for p in sys.path:
        try:
            if os.path.abspath(p or os.getcwd()) == here:
                continue
        except (OSError, TypeError):
            continue
        rest.append(p)
    try:
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec("sitecustomize", rest)
    except Exception:
        spec = None
    if spec is None or spec.loader is None:
        return
    # (importlib.util would pull in contextlib & co.: ~3 ms per interpreter)
    mod = type(sys)(spec.name)
    mod.__spec__, mod.__loader__, mod.__file__ = spec, spec.loader, spec.origin
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # the chained one failing must not stop the program
        sys.stderr.write("memtrace: chained sitecustomize %s failed: %r\n" % (spec.origin, e))


class _MemtraceTorchFinder(object):
    """sys.meta_path entry: lets `torch` import normally, then installs the
    memtrace hooks.  Every other name costs one string comparison."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        import importlib.util
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _MemtraceLoader(spec.loader)
        return spec

    # Python < 3.4 protocol, never used but harmless
    def find_module(self, name, path=None):
        return None


class _MemtraceLoader(object):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        # torch sees its own loader, as without us
        try:
            module.__loader__ = self._inner
            module.__spec__.loader = self._inner
        except Exception:
            pass
        self._inner.exec_module(module)
        try:
            from memtrace import _torch
            _torch.install(module)
        except Exception as e:
            sys.stderr.write("memtrace: PyTorch hooks not installed: %r\n" % (e,))

    def __getattr__(self, name):
        return getattr(self._inner, name)


_memtrace_chain()
if "torch" not in sys.modules:
    sys.meta_path.insert(0, _MemtraceTorchFinder())
del _memtrace_chain
