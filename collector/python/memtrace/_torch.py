"""Hooks installed in a process that imported torch (see docs/PYTORCH.md).

Ranges (start/end, on the collector's clock), named so that the analyzer
recognises them (analyzer/lib/util.c, mt__classify_range):
  step N                  first root forward after an optimizer step (or
                          memtrace.step()) .. optimizer step end
  <path>.forward          every module call; <path> is the module path from
                          its root ("model", "model.blocks.3.attn")
  <path>.recompute        a forward run while a backward is running
                          (activation checkpointing)
  <path>.backward         grad of the module's output ready .. grad of its
                          inputs ready (or the end of the backward pass)
  optimizer               optimizer.step()
Identity: parameters, gradients and optimizer state of CUDA tensors are
reported by storage address (parameter/<name>, gradient/<name>,
optimizer_state/<name>.<key>).  CUDA: the allocator stream (_alloc.py)
starts when torch initialises CUDA; the OOM observer reports failures."""
import os
import sys
import threading
import time
import weakref

from memtrace import _native, _alloc

STATE = None


def _env_int(name, dflt):
    try:
        return int(os.environ.get(name, dflt))
    except ValueError:
        return dflt


class _TL(threading.local):
    def __init__(self):
        self.fwd = []           # open forward ranges on this thread: (module, range id)
        self.bwd_open = 0


class State(object):
    def __init__(self, torch):
        self.torch = torch
        self.tl = _TL()
        self.paths = weakref.WeakKeyDictionary()     # module -> path
        self.root_names = {}                         # prefix -> count
        self.pnames = {}                             # id(param) -> name
        self.step_no = 0
        self.step_rid = None
        self.opt_rid = {}
        self.bwd = {}                                # id(module call record) -> rid
        self.bwd_all = set()
        self.bwd_lock = threading.Lock()
        self.queued = False
        self.stream = None
        self.python_stacks = os.environ.get("MEMTRACE_PYTHON_STACKS", "0") not in ("", "0")
        self.annotated_params = False
        self.handles = []
        self.gtid = getattr(torch._C, "_current_graph_task_id", None)
        self.names = weakref.WeakKeyDictionary()     # module -> (forward, recompute, backward) range names, encoded
        self.state_seen = {}                         # id(state tensor) -> (weakref, data_ptr) annotated
        self.rank_known = False                      # torch.distributed's rank sent to the collector

    # ---- names -------------------------------------------------------------
    def name_root(self, root, prefix):
        self.paths[root] = prefix
        for sub_name, sub in root.named_modules():
            if sub is not root and sub not in self.paths:
                self.paths[sub] = prefix + "." + sub_name
        for pn, p in root.named_parameters():
            self.pnames.setdefault(id(p), prefix + "." + pn)

    def path_of(self, module):
        p = self.paths.get(module)
        if p is not None:
            return p
        # a module first seen inside a known parent: re-walk the parent
        for parent, _ in reversed(self.tl.fwd):
            pp = self.paths.get(parent)
            if pp is not None:
                for sub_name, sub in parent.named_modules():
                    if sub not in self.paths:
                        self.paths[sub] = pp + "." + sub_name
                p = self.paths.get(module)
                if p is not None:
                    return p
        # a new root: the first is "model", later ones by class name
        prefix = "model" if "model" not in self.root_names else type(module).__name__
        n = self.root_names.get(prefix, 0)
        self.root_names[prefix] = n + 1
        if n:
            prefix = "%s%d" % (prefix, n)
        self.name_root(module, prefix)
        return prefix

    # ---- steps -------------------------------------------------------------
    def begin_step(self):
        if self.stream is not None:
            self.stream.kick()
        if not self.rank_known:
            self.rank_known = _report_rank(self.torch)
        if self.step_rid is None:
            self.close_backward()
            self.step_rid = _native.range_start("step %d" % self.step_no)

    def end_step(self, explicit=False):
        self.close_backward()
        if self.step_rid is not None:
            _native.range_end(self.step_rid)
            self.step_rid = None
            self.step_no += 1
        elif explicit:
            self.step_no += 1

    # ---- forward -------------------------------------------------------------
    def in_backward(self):
        if self.tl.bwd_open:
            return True
        try:
            return self.gtid is not None and self.gtid() != -1
        except Exception:
            return False

    def names_of(self, module):
        """The module's range names, made once (every call costs here)."""
        n = self.names.get(module)
        if n is None:
            path = self.path_of(module)
            n = self.names[module] = tuple((path + "." + k).encode("utf-8", "replace")
                                           for k in ("forward", "recompute", "backward"))
        return n

    def fwd_pre(self, module, args):
        names = self.names_of(module)
        bwd = self.in_backward()
        if not self.tl.fwd and not bwd:
            self.begin_step()
            if not self.annotated_params:
                self.annotate_params(module)
        rid = _native.range_start(names[1] if bwd else names[0])
        self.tl.fwd.append((module, rid))

    def fwd_post(self, module, args, output):
        st = self.tl.fwd
        for i in range(len(st) - 1, -1, -1):
            if st[i][0] is module:
                _native.range_end(st[i][1])
                del st[i:]
                break
        if self.torch.is_grad_enabled() and not self.in_backward():
            self.watch_backward(module, args, output)

    # ---- backward ------------------------------------------------------------
    def watch_backward(self, module, args, output):
        torch = self.torch
        if isinstance(output, torch.Tensor):   # the common case, without the generator
            outs = [output] if output.requires_grad else []
        else:
            outs = [t for t in _tensors(output) if t.requires_grad]
        if not outs:
            return
        ins = [t for t in _tensors(args) if t.requires_grad]
        bname = self.names_of(module)[2]
        call = {"rid": None, "done": False}

        def out_hook(grad):
            if call["rid"] is None and not call["done"]:
                call["rid"] = _native.range_start(bname)
                with self.bwd_lock:
                    self.bwd_all.add(id(call))
                    self.bwd[id(call)] = call
                self.tl.bwd_open += 1
                self.queue_end()
            return None

        def in_hook(grad):
            self.finish_call(call)
            return None

        for t in outs:
            t.register_hook(out_hook)
        for t in ins:
            if t.grad_fn is not None or t.is_leaf:
                t.register_hook(in_hook)

    def finish_call(self, call):
        if call["rid"] is not None and not call["done"]:
            call["done"] = True
            _native.range_end(call["rid"])
            with self.bwd_lock:
                self.bwd.pop(id(call), None)
            if self.tl.bwd_open:
                self.tl.bwd_open -= 1

    def queue_end(self):
        """At the end of this backward pass, close what is still open."""
        if self.queued:
            return
        try:
            eng = self.torch.autograd.Variable._execution_engine
            eng.queue_callback(self.close_backward)
            self.queued = True
        except Exception:
            pass

    def close_backward(self):
        self.queued = False
        with self.bwd_lock:
            calls = list(self.bwd.values())
            self.bwd.clear()
        for c in reversed(calls):
            if not c["done"]:
                c["done"] = True
                _native.range_end(c["rid"])
        self.tl.bwd_open = 0

    # ---- optimizer -----------------------------------------------------------
    # No poll here: a snapshot copies torch's whole history ring (up to
    # MEMTRACE_TORCH_MAX_ENTRIES entries) and was 90% of a step's overhead;
    # the identities wait for the poller (Channel.feed settles them).
    def opt_pre(self, opt, args=None, kwargs=None):
        self.close_backward()
        self.annotate_grads(opt)
        self.opt_rid[id(opt)] = _native.range_start("optimizer")

    def opt_post(self, opt, args=None, kwargs=None):
        self.annotate_state(opt)
        rid = self.opt_rid.pop(id(opt), None)
        if rid is not None:
            _native.range_end(rid)
        self.end_step()

    # ---- identity ------------------------------------------------------------
    def storage_of(self, t):
        try:
            # a DTensor (FSDP2's fully_shard, tensor parallelism) holds its
            # rank's shard in a local tensor: that is the block on this GPU
            loc = getattr(t, "_local_tensor", None)
            if loc is not None:
                t = loc
            if not t.is_cuda:
                return None
            st = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
            return t.device.index or 0, st.data_ptr()
        except Exception:
            return None

    def annotate_tensor(self, t, label):
        if self.stream is None:
            return
        s = self.storage_of(t)
        if s:
            self.stream.channel.annotate(s[0], s[1], label)

    def annotate_params(self, root):
        self.annotated_params = True
        if self.stream is None:
            return
        for pn, p in root.named_parameters():
            self.annotate_tensor(p, "parameter/" + self.pnames.get(id(p), pn))
        self.poll()

    def annotate_grads(self, opt):
        if self.stream is None:
            return
        for g in opt.param_groups:
            for p in g["params"]:
                name = self.pnames.get(id(p), "param%d" % id(p))
                self.annotate_tensor(p, "parameter/" + name)
                if p.grad is not None:
                    self.annotate_tensor(p.grad, "gradient/" + name)

    def annotate_state(self, opt):
        if self.stream is None:
            return
        torch = self.torch
        seen = self.state_seen
        if len(seen) > 65536:   # entries of tensors long gone
            seen.clear()
        for p, st in opt.state.items():
            for k, v in st.items() if isinstance(st, dict) else ():
                if isinstance(v, torch.Tensor) and v.is_cuda and v.numel() > 1:
                    # state tensors live across steps, updated in place: once
                    # per tensor and storage
                    ptr = v.data_ptr()
                    was = seen.get(id(v))
                    if was is not None and was[0]() is v and was[1] == ptr:
                        continue
                    seen[id(v)] = (weakref.ref(v), ptr)
                    name = self.pnames.get(id(p), "param%d" % id(p))
                    self.annotate_tensor(v, "optimizer_state/%s.%s" % (name, k))

    def poll(self):
        if self.stream is not None:
            self.stream.poll(min_gap=0.0)

    # ---- CUDA ------------------------------------------------------------------
    def start_cuda(self):
        if self.stream is not None or os.environ.get("MEMTRACE_TORCH_ALLOC", "1") == "0":
            return
        torch = self.torch
        try:
            backend = torch.cuda.get_allocator_backend() if hasattr(torch.cuda, "get_allocator_backend") else "native"
        except Exception:
            backend = "native"
        _native.meta("torch.allocator_backend", backend)
        _native.meta("torch.alloc_conf", os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""))
        if backend != "native":
            # cudaMallocAsync: every block is a cudaMallocAsync call, which
            # the runtime hooks record; the allocator keeps no trace ring.
            return
        s = _alloc.Stream(torch, max_entries=_env_int("MEMTRACE_TORCH_MAX_ENTRIES", 100000),
                          python_stacks=self.python_stacks)
        try:
            s.start()
        except Exception as e:
            _native.meta("torch.alloc_stream", "not started: %r" % (e,))
            return
        self.stream = s
        try:
            torch._C._cuda_attach_out_of_memory_observer(self.on_oom)
        except Exception:
            pass

    def on_oom(self, device, alloc, device_allocated, device_free):
        try:
            self.stream.poll()
            by = dict(self.stream.channel.by_cat)
            live = sum(v[0] for v in self.stream.channel.live.values())
            by["unlabelled"] = live - sum(v for v in by.values())
            frags = []
            total = 0
            try:
                snap = self.torch.cuda.memory._snapshot()
                for seg in snap.get("segments", []):
                    if seg.get("device", 0) == device:
                        total += seg.get("total_size", 0)
                        frags += [b["size"] for b in seg.get("blocks", []) if b.get("state") == "inactive"]
            except Exception:
                pass
            frags.sort(reverse=True)
            detail = "requested=%d reserved=%d allocated=%d live:%s free_fragments(%d,sum=%d):%s" % (
                alloc, total, device_allocated, ",".join("%s=%d" % kv for kv in sorted(by.items()) if kv[1]),
                len(frags), sum(frags), ",".join(str(x) for x in frags[:6]))
            dtot = -1
            try:
                dtot = self.torch.cuda.get_device_properties(device).total_memory
            except Exception:
                pass
            _native.oom(device, alloc, device_free, dtot, detail)
            _native.flush(2000)
        except Exception as e:
            sys.stderr.write("memtrace: OOM report failed: %r\n" % (e,))

    def shutdown(self):
        self.close_backward()
        if self.step_rid is not None:
            _native.range_end(self.step_rid)
            self.step_rid = None
        if self.stream is not None:
            try:
                self.stream.stop()
            except Exception:
                pass


def _tensors(x, depth=0):
    import torch
    if isinstance(x, torch.Tensor):
        yield x
    elif depth < 3 and isinstance(x, (tuple, list)):
        for y in x:
            for t in _tensors(y, depth + 1):
                yield t
    elif depth < 3 and isinstance(x, dict):
        for y in x.values():
            for t in _tensors(y, depth + 1):
                yield t


def _wrap_lazy_init(torch, state):
    cuda = torch.cuda
    orig = getattr(cuda, "_lazy_init", None)
    if orig is None:
        return

    def _lazy_init(*a, **k):
        r = orig(*a, **k)
        if state.stream is None and not getattr(_lazy_init, "busy", False):
            _lazy_init.busy = True
            try:
                state.start_cuda()
            finally:
                _lazy_init.busy = False
        return r
    cuda._lazy_init = _lazy_init


def _report_rank(torch):
    """torch.distributed's rank and world size, once its default group
    exists (the collector keeps a launcher's RANK over it)."""
    try:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            _native.rank(dist.get_rank(), dist.get_world_size())
            return True
    except Exception:
        pass
    return False


def _distributed_hooks(torch, state):
    """The rank is written when init_process_group returns: a job started by
    torch.multiprocessing.spawn (or any launcher that sets no RANK) gets it
    at the first moment it is known.  Wrapped in both namespaces that
    export it; each step start checks again (a group made another way)."""
    if _report_rank(torch):
        state.rank_known = True
        return
    try:
        import importlib
        c10d = importlib.import_module("torch.distributed.distributed_c10d")
    except Exception:
        return
    orig = getattr(c10d, "init_process_group", None)
    if orig is None or getattr(orig, "_memtrace", False):
        return

    def init_process_group(*a, **k):
        r = orig(*a, **k)
        state.rank_known = _report_rank(torch)
        return r
    init_process_group._memtrace = True
    init_process_group.__wrapped__ = orig
    init_process_group.__doc__ = orig.__doc__
    c10d.init_process_group = init_process_group
    if getattr(torch.distributed, "init_process_group", None) is orig:
        torch.distributed.init_process_group = init_process_group


def _optimizer_hooks(torch, state):
    import importlib
    opt_mod = importlib.import_module("torch.optim.optimizer")
    pre = getattr(opt_mod, "register_optimizer_step_pre_hook", None)
    post = getattr(opt_mod, "register_optimizer_step_post_hook", None)
    if pre and post:   # torch >= 2.0
        state.handles.append(pre(state.opt_pre))
        state.handles.append(post(state.opt_post))
        return "global step hooks"
    # torch 1.13: wrap each optimizer class's step once, where torch's own
    # profiler hook does (_hook_for_profile, called from __init__).
    Opt = torch.optim.Optimizer
    orig_hook = Opt._hook_for_profile

    def _hook_for_profile(self):
        orig_hook(self)
        cls = self.__class__
        if getattr(cls.step, "_memtrace", False):
            return
        inner = cls.step

        def step(opt, *a, **k):
            state.opt_pre(opt)
            try:
                return inner(opt, *a, **k)
            finally:
                state.opt_post(opt)
        step._memtrace = True
        step.hooked = True      # torch's _hook_for_profile: do not wrap again
        step.__wrapped__ = inner
        cls.step = step
    Opt._hook_for_profile = _hook_for_profile
    return "step wrapper (torch < 2.0)"


def install(torch):
    global STATE
    if STATE is not None or os.environ.get("MEMTRACE_TORCH", "1") == "0":
        return
    if not _native.load():
        return   # not under the collector: nothing to write to
    _native.init("torch", getattr(torch, "__version__", "?"))
    st = State(torch)
    STATE = st
    nn = torch.nn.modules.module
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    if compiling is None:   # torch < 2.3 (2.0-2.2: torch.compile not covered)
        fwd_pre, fwd_post = st.fwd_pre, st.fwd_post
    else:
        # torch.compile traces global module hooks into the graph; dynamo
        # folds is_compiling() to True, so inside a compiled region they are
        # nothing (no graph break, and no module ranges: the graph has no
        # modules at run time); the compiled module's own call stays eager
        def fwd_pre(module, args):
            if not compiling():
                st.fwd_pre(module, args)

        def fwd_post(module, args, output):
            if not compiling():
                st.fwd_post(module, args, output)
    st.handles.append(nn.register_module_forward_pre_hook(fwd_pre))
    # always_call (torch >= 2.1): the post hook also runs when the forward
    # raises; non-reentrant torch.utils.checkpoint stops its recompute by
    # raising inside the forward (early stop), which left the recompute
    # ranges open to the end of the trace
    try:
        st.handles.append(nn.register_module_forward_hook(fwd_post, always_call=True))
    except TypeError:
        st.handles.append(nn.register_module_forward_hook(fwd_post))
    how = _optimizer_hooks(torch, st)
    _native.meta("torch.version", torch.__version__)
    _native.meta("torch.cuda", str(getattr(torch.version, "cuda", None)))
    _native.meta("torch.hooks", "modules (global forward hooks, tensor grad hooks), optimizer: " + how)
    _native.meta("torch.python_stacks", "1" if st.python_stacks else "0")
    _wrap_lazy_init(torch, st)
    _alloc.guard_history(torch, lambda: st.stream)
    _distributed_hooks(torch, st)
    try:
        if torch.cuda.is_initialized():
            st.start_cuda()
    except Exception:
        pass
    import atexit
    atexit.register(st.shutdown)
