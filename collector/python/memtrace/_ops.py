"""The operators of one forward pass, for replay's cost model (docs/REPLAY.md
"Cost model"): during the first root-module forward of the job, every aten
operator's FLOPs (torch.utils.flop_counter's own formulas), the bytes it
reads and writes, and whether autograd saved its output for the backward
(a saved_tensors_hooks pack of the output's storage).  Written to the
trace's meta table, one key per operator, in execution order:

  op/<unit>/<i> = "<aten name> <flops> <bytes read> <bytes written> <saved 0|1> <bytes per element>"

<unit> is the module path the operator ran in, cut after its first
numbered component ("model.blocks.3.attn" -> "model.blocks.3"), the unit
replay plans checkpointing by.  Off with MEMTRACE_TORCH_OPS=0.  Costs one
Python call per operator of that one forward; nothing is allocated."""
import os

from memtrace import _native


def _unit_of(path):
    parts = path.split(".")
    for i, p in enumerate(parts):
        if p.isdigit():
            return ".".join(parts[:i + 1])
    return path


class OpCounter(object):
    """Counts one forward; enter() at the root module's forward pre-hook,
    leave() at its post-hook."""

    def __init__(self, torch, state):
        self.torch = torch
        self.state = state
        self.active = False
        self.done = os.environ.get("MEMTRACE_TORCH_OPS", "1") == "0"
        self.ops = []            # [unit, name, flops, read, written, storage ptrs]
        self.saved = set()
        self.mode = None
        self.hooks = None

    def enter(self):
        if self.done or self.active:
            return
        torch = self.torch
        try:
            import logging
            # its import warns that Triton kernels will not be counted: none run here
            logging.getLogger("torch.utils.flop_counter").setLevel(logging.ERROR)
            from torch.utils._python_dispatch import TorchDispatchMode
            from torch.utils.flop_counter import flop_registry
        except Exception:
            self.done = True
            return
        counter = self

        def nbytes(x):
            try:
                return x.numel() * x.element_size()
            except Exception:
                return 0

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                try:
                    counter.count(func, args, kwargs, out, flop_registry, nbytes)
                except Exception:
                    pass
                return out

        def pack(t):
            try:
                counter.saved.add(t.untyped_storage().data_ptr())
            except Exception:
                pass
            return t

        try:
            self.hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
            self.hooks.__enter__()
            self.mode = Mode()
            self.mode.__enter__()
            self.active = True
        except Exception:
            self.done = True

    def count(self, func, args, kwargs, out, registry, nbytes):
        torch = self.torch
        leaves = torch.utils._pytree.tree_leaves
        ins = [a for a in leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
        outs = [o for o in leaves(out) if isinstance(o, torch.Tensor)]
        inptr = set()
        for a in ins:
            try:
                inptr.add(a.untyped_storage().data_ptr())
            except Exception:
                pass
        ptrs, written, width = [], 0, 4
        for o in outs:
            try:
                p = o.untyped_storage().data_ptr()
            except Exception:
                continue
            if p not in inptr:   # a view or an in-place op writes no new tensor
                ptrs.append(p)
                if not ptrs[1:]:
                    width = o.element_size()
                written += nbytes(o)
        flops = 0
        f = registry.get(func._overloadpacket)
        if f is not None:
            flops = int(f(*args, **kwargs, out_val=out))
        fwd = self.state.tl.fwd
        path = self.state.path_of(fwd[-1][0]) if fwd else ""
        self.ops.append([_unit_of(path), str(func._overloadpacket).replace(" ", "_"), flops,
                         sum(nbytes(a) for a in ins), written, width, ptrs])

    def leave(self):
        if not self.active:
            return
        self.active = False
        self.done = True
        try:
            self.mode.__exit__(None, None, None)
            self.hooks.__exit__(None, None, None)
        except Exception:
            pass
        n = {}
        for unit, name, flops, read, written, width, ptrs in self.ops:
            i = n.get(unit, 0)
            n[unit] = i + 1
            saved = 1 if any(p in self.saved for p in ptrs) else 0
            _native.meta("op/%s/%d" % (unit, i), "%s %d %d %d %d %d" % (name, flops, read, written, saved, width))
        self.ops = []
        self.saved = set()
