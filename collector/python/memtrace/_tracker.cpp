// The caching allocator's entries as they happen (c10's
// attachAllocatorTraceTracker, C++ only), for memtrace._tracker.
//
// torch hands Python its allocator trace only as a history ring that
// torch.cuda.memory._snapshot() converts whole into dicts, under the GIL:
// copying it was most of memtrace's cost per step and stalled steps by up to
// the ring's length.  A tracker is called by the allocator for every entry,
// on the allocating thread, under the device's allocator lock, with no GIL
// and whether or not the history is recorded.  This one writes a 48-byte
// record into a ring of its own (lock-free: a slot per fetch_add, a
// sequence number written last); memtrace's poller copies out the records
// it has not read (mt_tracker_read), GIL released by ctypes, and feeds
// them to the framework channel.  A writer that laps the reader is counted
// (the reader sees the sequence numbers jump), never waited for.
//
// Built on first use by memtrace._tracker with the C++ compiler against the
// running torch's headers, cached per torch version and source.
#include <c10/cuda/CUDACachingAllocator.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <ctime>

namespace {

struct Rec {
  uint64_t addr, size, stream, pool_a, pool_b;
  int64_t t_ns;   // CLOCK_REALTIME
  int32_t action, device;
};

struct Slot {
  std::atomic<uint64_t> seq;   // index + 1 once the record is whole
  Rec r;
};

Slot *ring;
uint64_t cap;
std::atomic<uint64_t> head{0};
std::atomic<int> attached{0};

void on_entry(const c10::CachingDeviceAllocator::TraceEntry &te) {
  using A = c10::CachingDeviceAllocator::TraceEntry;
  // free_requested changes nothing until free_completed; snapshot marks
  // and OOMs (the OOM observer reports them) are not allocator state
  if (te.action_ == A::FREE_REQUESTED || te.action_ == A::SNAPSHOT || te.action_ == A::OOM)
    return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t i = head.fetch_add(1, std::memory_order_relaxed);
  Slot &s = ring[i % cap];
  s.seq.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  s.r.addr = te.addr_;
  s.r.size = te.size_;
  s.r.stream = (uint64_t)(uintptr_t)te.stream_;
  s.r.pool_a = (uint64_t)te.mempool_.first;
  s.r.pool_b = (uint64_t)te.mempool_.second;
  s.r.t_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  s.r.action = (int32_t)te.action_;
  s.r.device = (int32_t)te.device_;
  s.seq.store(i + 1, std::memory_order_release);
}

}  // namespace

extern "C" {

// The action codes of the records (c10's TraceEntry::Action), for the reader.
int mt_tracker_action(const char *name) {
  using A = c10::CachingDeviceAllocator::TraceEntry;
  static const struct { const char *s; A::Action a; } tab[] = {
    {"alloc", A::ALLOC}, {"free_completed", A::FREE_COMPLETED},
    {"segment_alloc", A::SEGMENT_ALLOC}, {"segment_free", A::SEGMENT_FREE},
    {"segment_map", A::SEGMENT_MAP}, {"segment_unmap", A::SEGMENT_UNMAP},
  };
  for (const auto &t : tab)
    if (std::strcmp(name, t.s) == 0)
      return (int)t.a;
  return -1;
}

int mt_tracker_record_size(void) { return (int)sizeof(Rec); }

// Attaches the tracker (once per process; torch offers no detach).
int mt_tracker_attach(uint64_t entries) {
  if (attached.exchange(1))
    return 1;
  cap = entries ? entries : 1;
  ring = new Slot[cap]();
  c10::cuda::CUDACachingAllocator::attachAllocatorTraceTracker(on_entry);
  return 0;
}

// Copies up to max records from index *next on into out; *next moves past
// them.  Returns how many were copied; *lost gets how many were overwritten
// before they were read.  A record still being written ends the copy (the
// next read takes it).
uint64_t mt_tracker_read(uint64_t *next, void *out, uint64_t max, uint64_t *lost) {
  Rec *o = static_cast<Rec *>(out);
  uint64_t h = head.load(std::memory_order_acquire), i = *next, n = 0;
  *lost = 0;
  if (h > i + cap) {
    *lost = h - cap - i;
    i = h - cap;
  }
  while (i < h && n < max) {
    Slot &s = ring[i % cap];
    uint64_t q = s.seq.load(std::memory_order_acquire);
    if (q != i + 1) {
      if (q > i + 1 || (q == 0 && head.load(std::memory_order_acquire) > i + cap)) {
        (*lost)++;   // lapped: this slot holds a later record (or is being rewritten with one)
        i++;
        continue;
      }
      break;         // still being written
    }
    o[n] = s.r;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) != i + 1) {
      (*lost)++;     // overwritten while copied
      i++;
      continue;
    }
    n++;
    i++;
  }
  *next = i;
  return n;
}

}  // extern "C"
