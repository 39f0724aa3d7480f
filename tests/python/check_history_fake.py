"""check_history_fake.py COLLECTOR_PYTHON_DIR: memtrace._alloc's handling of
other users of torch's allocator history ring, against a stand-in torch
(a ring of the size last asked for, torch's cumulative alloc/free counts in
memory_stats); no torch needed.  The program's own
_record_memory_history(max_entries=10) must not shrink the ring memtrace
reads; a shrink memtrace cannot see must be counted, exactly, as lost.  TAP."""
import sys
sys.path.insert(0, sys.argv[1])
from taplib import plan, tap, done
plan(9)
from memtrace import _alloc, _native

lost, meta = [], {}
_native.lost = lambda kind, n, why: lost.append((kind, n, why))
_native.meta = lambda k, v: meta.__setitem__(k, v)


class Mem(object):
    def __init__(self):
        self.ring, self.max, self.allocs, self.frees, self.t = [], 1 << 30, 0, 0, 1000
        self._record_memory_history = self.record   # one object, as torch's module function

    def record(self, enabled="all", context=None, stacks="python", max_entries=1 << 30, **k):
        self.max = max_entries
        if enabled is None:
            self.ring = []

    def _snapshot(self):
        return {"segments": [], "device_traces": [list(self.ring)]}

    def op(self, action, addr, size):
        self.t += 1
        if action == "alloc":
            self.allocs += 1
        else:
            self.frees += 1
        self.ring.append({"action": action, "addr": addr, "size": size, "stream": 0, "time_us": self.t})
        del self.ring[:-self.max]

    def pairs(self, n, base):
        for i in range(n):
            self.op("alloc", base + 512 * i, 512)
            self.op("free_completed", base + 512 * i, 512)


class Cuda(object):
    def __init__(self):
        self.memory = Mem()
        self._record_memory_history = self.memory._record_memory_history

    def memory_stats(self, d):
        m = self.memory
        return {"allocation.all.allocated": m.allocs, "allocation.all.freed": m.frees}


class Torch(object):
    def __init__(self):
        self.cuda = Cuda()


torch = Torch()
mem = torch.cuda.memory
stream = _alloc.Stream(torch, max_entries=100, interval=3600)
_alloc.guard_history(torch, lambda: stream)
stream.start()
tap(mem.max == 100, "memtrace's ring: 100 entries", mem.max)

# the program's own call, through torch's Python API
mem.pairs(20, 0x10000)
torch.cuda.memory._record_memory_history(max_entries=10)
tap(mem.max == 100, "after the program's _record_memory_history(max_entries=10) the ring is memtrace's 100 again", mem.max)
tap("max_entries=10" in meta.get("torch.history_user", ""), "the program's call is in the trace's meta",
    meta.get("torch.history_user"))
mem.pairs(40, 0x20000)   # 80 entries: fit in 100, would not in 10
stream.poll(wait=True)
tap(stream.channel.entries == 120, "every one of the 120 entries reached the collector", stream.channel.entries)
tap(not lost, "nothing counted lost", lost)

# the program stops recording (enabled=None clears torch's ring)
torch.cuda.memory._record_memory_history(enabled=None)
mem.pairs(5, 0x30000)
stream.poll(wait=True)
tap(mem.max == 100 and stream.channel.entries == 130 and not lost,
    "enabled=None from the program: recording goes on, its 10 entries arrive, no loss claimed",
    (mem.max, stream.channel.entries, lost))

# a shrink memtrace cannot see (torch's C binding, a C++ extension)
mem.max = 10
mem.pairs(25, 0x40000)   # 50 entries, the ring keeps the last 10
stream.poll(wait=True)
n = sum(x[1] for x in lost)
tap(n == 40, "the ring shrunk unseen to 10: the 40 entries it overwrote are counted lost (torch's counts - ring)", lost)
tap(lost and "10 entries" in lost[0][2] and lost[0][0] == "torch", "the loss says the ring was made 10 entries",
    lost and lost[0][2])
tap(mem.max == 100, "memtrace's ring is put back after the loss", mem.max)
done()
