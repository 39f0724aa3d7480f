/* The framework channel: a small exported C API (memtrace_fw_*) that the
 * PyTorch bootstrap (collector/python/memtrace/) calls through ctypes.  It
 * writes the collector's own records on the calling thread's ring, on the
 * collector's clock, and never waits: when the ring is full or another
 * thread holds the channel's state, the event is dropped and counted.
 *
 *   phases        memtrace_fw_range_start/end (start/end ranges: backward
 *                 hooks run on autograd threads and do not nest with the
 *                 forward ones), memtrace_fw_mark
 *   allocator     memtrace_fw_trace_entry[_frames]: one caching-allocator trace entry
 *                 (the action strings of torch's TraceEntry), mapped by
 *                 schemas/torch_actions.h, the mapping the snapshot
 *                 importer uses: segments -> heaps (framework_pool) and
 *                 device memory events (written only when the driver hooks
 *                 did not see the call), blocks -> region events with an
 *                 optional "<category>/<name>" label
 *   Python stacks memtrace_fw_frame_name: "file:line function" of a frame id
 *                 (once per distinct frame); the _frames variants carry an
 *                 entry's frame ids (innermost first, at most 32) in the
 *                 records' stack slots, which the drain interns into the
 *                 frames trie (pc 0, module 0)
 *   identity      memtrace_fw_relabel: a block already reported, now known to
 *                 be a parameter / gradient / optimizer state
 *   OOM           memtrace_fw_oom: requested, device free/total, and a text
 *                 summary (live bytes by category, largest free fragments)
 *   facts         memtrace_fw_meta: key=value into the trace's meta table
 *
 * See docs/PYTORCH.md. */
#define _GNU_SOURCE
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collector/hooks.h"
#include "schemas/torch_actions.h"

#define MT_FW_API_VERSION 3   /* 3: memtrace_fw_rank, memtrace_fw_lost */

/* The domain of framework ranges and heaps (interned by the drain from
 * this pointer). */
static const char fw_domain[] __attribute__((unused)) = "pytorch";
#define DOMAIN ((uint64_t)(uintptr_t)fw_domain)

/* Heap handles of this channel: high tag, so that they never meet the NVTX
 * memory extension's small handles. */
#define HEAP_TAG 0x4d54460000000000ull

static _Atomic uint64_t next_range_id = 1ull << 62;   /* apart from NVTX's ids */

/* Python frame names by id (memtrace_fw_frame_name): chunks of 4096
 * pointers, each published once with a release store, read by the drain
 * without a lock (mt__fw_pyframe).  Names live until exit. */
#define PYF_CHUNK 4096u
#define PYF_NCHUNK 1024u
static _Atomic(char *) *_Atomic pyf[PYF_NCHUNK];
static pthread_mutex_t pyf_mu = PTHREAD_MUTEX_INITIALIZER;

const char *mt__fw_pyframe(uint64_t id)
{
  if (id == 0 || id >= (uint64_t)PYF_CHUNK * PYF_NCHUNK)
    return NULL;
  _Atomic(char *) *c = atomic_load_explicit(&pyf[id / PYF_CHUNK], memory_order_acquire);
  return c ? atomic_load_explicit(&c[id % PYF_CHUNK], memory_order_acquire) : NULL;
}

#ifndef MT_NOP

static int64_t to_mono(int64_t ts, int clock)
{
  if (clock == 0 || ts <= 0)
    return mt__now();
  if (clock == 2) {   /* CLOCK_REALTIME ns */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t off = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - mt__now();
    return ts - off;
  }
  return ts;          /* CLOCK_MONOTONIC ns */
}

/* Python frame keys of the entry being written (NULL, 0: none): the block
 * and segment records of one trace entry carry them. */
typedef struct pystack {
  const uint64_t *ids;
  int n;
} pystack;

/* One record with Python frames (keys in the stack slots) and up to 255
 * bytes of text after them; every field given.  dur carries a region's
 * stream handle (a region record has no duration and all four p in use). */
static int emit_x(int type, int op, int kind, int api, int device, int result, int dkind, int64_t ts, int64_t dur,
                  uint64_t p0, uint64_t p1, uint64_t p2, uint64_t p3, const char *text, const pystack *ps)
{
  size_t len = text ? strnlen(text, 255) : 0;
  int nf = ps && ps->ids ? ps->n : 0;
  unsigned fslots = ((unsigned)nf + 7) / 8;
  unsigned extra = fslots + (unsigned)((len + 63) / 64);
  uint64_t pos;
  mt_rec *r = mt__rec_reserve(extra, dkind, &pos);
  if (!r)
    return -1;
  memset(r, 0, sizeof *r);
  r->type = (uint8_t)type;
  r->op = (uint8_t)op;
  r->kind = (uint8_t)kind;
  r->api = (int16_t)api;
  r->device = (int16_t)device;
  r->result = result;
  r->nx = (uint8_t)extra;
  r->nframes = (uint16_t)nf;
  r->ntext = (uint16_t)len;
  r->ts = ts;
  r->dur = dur;
  r->p[0] = p0;
  r->p[1] = p1;
  r->p[2] = p2;
  r->p[3] = p3;
  for (unsigned i = 0; i < fslots; i++) {
    uint64_t *slot = (uint64_t *)(void *)mt__rec_slot(pos, 1 + i);
    for (int j = 0; j < 8 && 8 * (int)i + j < nf; j++)
      slot[j] = MT_PYFRAME_TAG | ps->ids[8 * i + (unsigned)j];
  }
  for (unsigned i = 0; fslots + i < extra; i++) {
    size_t k = len - 64 * i < 64 ? len - 64 * i : 64;
    memcpy(mt__rec_slot(pos, 1 + fslots + i), text + 64 * i, k);
  }
  mt__rec_commit(pos, 1 + extra);
  return 0;
}

static int emit_f(int type, int op, int kind, int api, int device, int result, int dkind, int64_t ts,
                  uint64_t p0, uint64_t p1, uint64_t p2, uint64_t p3, const char *text, const pystack *ps)
{
  return emit_x(type, op, kind, api, device, result, dkind, ts, 0, p0, p1, p2, p3, text, ps);
}

/* A caching-allocator block's register/unregister, with the stream the
 * allocator gave it (the allocator never reuses a block across streams, so
 * replay needs it to model reserved memory). */
static int emit_block(int op, int device, int64_t ts, uint64_t heap, uint64_t addr, uint64_t size, uint64_t stream,
                      const pystack *ps)
{
  return emit_x(MT_R_REGION, op, 0, 0, device, 0, MT_D_REGION, ts, (int64_t)stream, heap, addr, size, DOMAIN, NULL,
                ps);
}

static int emit(int type, int op, int kind, int api, int device, int result, int dkind, int64_t ts,
                uint64_t p0, uint64_t p1, uint64_t p2, uint64_t p3, const char *text)
{
  return emit_f(type, op, kind, api, device, result, dkind, ts, p0, p1, p2, p3, text, NULL);
}

/* ---- allocator state: live segments (sorted by address) and blocks ------- */

typedef struct seg {
  uint64_t addr, size, handle;
  int device, expandable;
} seg;

typedef struct blk {
  uint64_t key;     /* addr ^ device << 56; 0 = empty */
  uint64_t size, handle;
  uint64_t stream;   /* the allocator's stream for the block */
  int labelled;
} blk;

static struct {
  pthread_mutex_t mu;
  seg *segs;
  size_t nseg, capseg;
  blk *blks;
  size_t nblk, capblk;   /* open addressing, capblk a power of two */
  uint64_t next_heap;
  _Atomic uint64_t busy_drops;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t bkey(int device, uint64_t addr)
{
  return (addr ^ ((uint64_t)(unsigned)device << 56)) | 1ull << 63;
}

static size_t bhash(uint64_t k)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return (size_t)k;
}

static blk *blk_find(uint64_t k)
{
  if (!F.capblk)
    return NULL;
  for (size_t i = bhash(k) & (F.capblk - 1);; i = (i + 1) & (F.capblk - 1)) {
    if (F.blks[i].key == k)
      return &F.blks[i];
    if (!F.blks[i].key)
      return NULL;
  }
}

static int blk_grow(void)
{
  size_t nc = F.capblk ? F.capblk * 2 : 4096;
  blk *nv = calloc(nc, sizeof *nv);
  if (!nv)
    return -1;
  for (size_t i = 0; i < F.capblk; i++) {
    if (!F.blks[i].key)
      continue;
    size_t j = bhash(F.blks[i].key) & (nc - 1);
    while (nv[j].key)
      j = (j + 1) & (nc - 1);
    nv[j] = F.blks[i];
  }
  free(F.blks);
  F.blks = nv;
  F.capblk = nc;
  return 0;
}

static blk *blk_put(uint64_t k)
{
  if ((F.nblk + 1) * 4 > F.capblk * 3 && blk_grow() != 0)
    return NULL;
  size_t i = bhash(k) & (F.capblk - 1);
  while (F.blks[i].key && F.blks[i].key != k)
    i = (i + 1) & (F.capblk - 1);
  if (!F.blks[i].key) {
    F.blks[i].key = k;
    F.nblk++;
  }
  return &F.blks[i];
}

static void blk_del(blk *b)
{
  size_t i = (size_t)(b - F.blks), m = F.capblk - 1;
  F.blks[i].key = 0;
  F.nblk--;
  for (size_t j = (i + 1) & m; F.blks[j].key; j = (j + 1) & m) {
    size_t h = bhash(F.blks[j].key) & m;
    if ((j > i) ? (h <= i || h > j) : (h <= i && h > j)) {
      F.blks[i] = F.blks[j];
      F.blks[j].key = 0;
      i = j;
    }
  }
}

/* Index of the first segment with addr > a. */
static size_t seg_upper(uint64_t a)
{
  size_t lo = 0, hi = F.nseg;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (F.segs[mid].addr <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static seg *seg_covering(int device, uint64_t a)
{
  size_t i = seg_upper(a);
  for (size_t k = i; k > 0 && i - k < 64; k--) {
    seg *s = &F.segs[k - 1];
    if (s->device == device && a >= s->addr && a < s->addr + s->size)
      return s;
    if (a - s->addr > (1ull << 40))
      break;
  }
  return NULL;
}

static seg *seg_exact(int device, uint64_t a)
{
  size_t i = seg_upper(a);
  for (size_t k = i; k > 0 && F.segs[k - 1].addr == a; k--)
    if (F.segs[k - 1].device == device)
      return &F.segs[k - 1];
  return NULL;
}

static seg *seg_insert(int device, uint64_t a, uint64_t size)
{
  if (F.nseg == F.capseg) {
    size_t nc = F.capseg ? F.capseg * 2 : 256;
    seg *nv = realloc(F.segs, nc * sizeof *nv);
    if (!nv)
      return NULL;
    F.segs = nv;
    F.capseg = nc;
  }
  size_t i = seg_upper(a);
  memmove(&F.segs[i + 1], &F.segs[i], (F.nseg - i) * sizeof *F.segs);
  F.nseg++;
  seg *s = &F.segs[i];
  s->addr = a;
  s->size = size;
  s->device = device;
  s->expandable = 0;
  s->handle = HEAP_TAG | ++F.next_heap;
  return s;
}

static void seg_remove(seg *s)
{
  size_t i = (size_t)(s - F.segs);
  memmove(&F.segs[i], &F.segs[i + 1], (F.nseg - i - 1) * sizeof *F.segs);
  F.nseg--;
}

static int lock(void)
{
  if (pthread_mutex_trylock(&F.mu) != 0) {
    atomic_fetch_add(&F.busy_drops, 1);
    return -1;
  }
  return 0;
}

static void heap_record(int op, const seg *s, int64_t ts, const char *name)
{
  emit(MT_R_HEAP, op, MT_HEAP_FRAMEWORK_POOL, 0, s->device, 0, MT_D_REGION, ts, s->handle, s->addr, s->size,
       DOMAIN, name);
}

/* A segment event: heap bookkeeping, then the device memory event, which
 * the drain writes only when the driver/runtime hooks did not record it. */
static void segment(mt_torch_action a, int device, uint64_t addr, uint64_t size, uint64_t stream, int64_t ts,
                    const pystack *ps)
{
  int op, api, kind;
  if (!mt_torch_segment_mem(a, &op, &api, &kind))
    return;
  if (mt_torch_segment_starts(a)) {
    seg *s = seg_exact(device, addr), *p;
    if (s && a == MT_TA_SEGMENT_MAP) {
      /* growing an expandable segment already known */
      if (size > s->size) {
        s->size = size;
        heap_record(1, s, ts, MT_TORCH_HEAP_PREFIX "expandable");
      }
    } else if (!s && a == MT_TA_SEGMENT_MAP && addr && (p = seg_covering(device, addr - 1)) != NULL &&
               p->expandable && p->addr + p->size == addr) {
      /* the next pages of an expandable segment: one heap, grown */
      p->size += size;
      heap_record(1, p, ts, MT_TORCH_HEAP_PREFIX "expandable");
    } else {
      if (s)   /* a new segment at a live one's address: its free was lost */
        seg_remove(s);
      s = seg_insert(device, addr, size);
      if (s)
        s->expandable = a == MT_TA_SEGMENT_MAP;
      if (s)
        heap_record(1, s, ts, a == MT_TA_SEGMENT_MAP ? MT_TORCH_HEAP_PREFIX "expandable"
                              : size <= (2u << 20) ? MT_TORCH_HEAP_PREFIX "small"
                                                   : MT_TORCH_HEAP_PREFIX "large");
    }
  } else if (mt_torch_segment_ends(a)) {
    seg *s = seg_exact(device, addr);
    if (s && (a == MT_TA_SEGMENT_FREE || size >= s->size)) {
      heap_record(2, s, ts, NULL);
      seg_remove(s);
    } else if (!s && a == MT_TA_SEGMENT_UNMAP && (s = seg_covering(device, addr)) != NULL &&
               addr + size >= s->addr + s->size) {
      s->size = addr - s->addr;   /* the tail of an expandable segment */
      heap_record(1, s, ts, MT_TORCH_HEAP_PREFIX "expandable");
    }
  }
  emit_f(MT_R_FW, MT_FW_MEM, (int)op, api, device, kind, MT_D_MEM, ts, addr, size, stream, 0, NULL, ps);
}

static void block(mt_torch_action a, int device, uint64_t addr, uint64_t size, uint64_t stream, int64_t ts,
                  const char *label, const pystack *ps)
{
  uint64_t k = bkey(device, addr);
  if (a == MT_TA_ALLOC) {
    seg *s = seg_covering(device, addr);
    uint64_t h = s ? s->handle : 0;
    blk *b = blk_find(k);
    if (b)   /* its free was lost: close it first */
      emit_block(MT_REGION_UNREGISTER, device, ts, 0, addr, 0, b->stream, NULL);
    if (emit_block(MT_REGION_REGISTER, device, ts, h, addr, size, stream, ps) != 0)
      return;
    if (label && *label)
      emit(MT_R_REGION, 0, 0, 0, device, 0, MT_D_REGION, ts, 0, addr, 0, DOMAIN, label);
    if (!b)
      b = blk_put(k);
    if (b) {
      b->size = size;
      b->handle = h;
      b->labelled = label && *label;
      b->stream = stream;
    }
  } else if (a == MT_TA_FREE_COMPLETED) {
    blk *b = blk_find(k);
    emit_block(MT_REGION_UNREGISTER, device, ts, 0, addr, b ? b->size : size, b ? b->stream : stream, ps);
    if (b)
      blk_del(b);
  }
}

#endif /* !MT_NOP */

/* ---- the exported API ---------------------------------------------------- */

MT_EXPORT int memtrace_fw_version(void);
int memtrace_fw_version(void)
{
  return MT_FW_API_VERSION;
}

/* Starts the trace of this process (a process that imported a framework is
 * one the user wants traced, even before it touches CUDA).  Returns 1 when
 * events are recorded, 0 in the no-op collector. */
MT_EXPORT int memtrace_fw_init(const char *framework, const char *version);
int memtrace_fw_init(const char *framework, const char *version)
{
#ifndef MT_NOP
  mt__touch();
  char kv[256];
  snprintf(kv, sizeof kv, "framework=%s %s", framework ? framework : "?", version ? version : "?");
  emit(MT_R_FW, MT_FW_META, 0, 0, mt__t_device, 0, MT_D_OTHER, mt__now(), 0, 0, 0, 0, kv);
  return atomic_load(&mt__state) == MT_S_ACTIVE;
#else
  (void)framework; (void)version;
  return 0;
#endif
}

/* A start/end range named `name` (e.g. "model.blocks.3.forward", "step 7",
 * "optimizer"); returns its id for memtrace_fw_range_end.  ts_ns 0 = now. */
MT_EXPORT uint64_t memtrace_fw_range_start(const char *name, int64_t ts_ns, int clock);
uint64_t memtrace_fw_range_start(const char *name, int64_t ts_ns, int clock)
{
  uint64_t id = atomic_fetch_add(&next_range_id, 1);
#ifndef MT_NOP
  emit(MT_R_PUSH, 0, MT_RANGE_START_END, 0, mt__t_device, 0, MT_D_RANGE, to_mono(ts_ns, clock), DOMAIN, 0, 0,
       id, name ? name : "");
#else
  (void)name; (void)ts_ns; (void)clock;
#endif
  return id;
}

MT_EXPORT void memtrace_fw_range_end(uint64_t id, int64_t ts_ns, int clock);
void memtrace_fw_range_end(uint64_t id, int64_t ts_ns, int clock)
{
#ifndef MT_NOP
  emit(MT_R_POP, 0, MT_RANGE_START_END, 0, mt__t_device, 0, MT_D_RANGE, to_mono(ts_ns, clock), 0, 0, 0, id,
       NULL);
#else
  (void)id; (void)ts_ns; (void)clock;
#endif
}

MT_EXPORT void memtrace_fw_mark(const char *name);
void memtrace_fw_mark(const char *name)
{
#ifndef MT_NOP
  emit(MT_R_MARK, 0, MT_RANGE_MARK, 0, mt__t_device, 0, MT_D_RANGE, mt__now(), DOMAIN, 0, 0, 0,
       name ? name : "");
#else
  (void)name;
#endif
}

/* One caching-allocator trace entry.  `action` is torch's action string
 * ("alloc", "free_requested", "free_completed", "segment_alloc",
 * "segment_free", "segment_map", "segment_unmap"; "oom" goes through
 * memtrace_fw_oom, "snapshot" becomes a mark).  ts_ns on `clock` (0 now,
 * 1 CLOCK_MONOTONIC ns, 2 CLOCK_REALTIME ns).  `label` ("category/name",
 * may be NULL) names an allocated block.  Returns 0, 1 when the action is
 * not one of these, -1 when dropped (ring full, channel busy). */
MT_EXPORT int memtrace_fw_trace_entry(int device, const char *action, uint64_t addr, uint64_t size,
                                      uint64_t stream, int64_t ts_ns, int clock, const char *label);
MT_EXPORT int memtrace_fw_trace_entry_frames(int device, const char *action, uint64_t addr, uint64_t size,
                                             uint64_t stream, int64_t ts_ns, int clock, const char *label,
                                             const uint64_t *frames, int nframes);
int memtrace_fw_trace_entry(int device, const char *action, uint64_t addr, uint64_t size, uint64_t stream,
                            int64_t ts_ns, int clock, const char *label)
{
  return memtrace_fw_trace_entry_frames(device, action, addr, size, stream, ts_ns, clock, label, NULL, 0);
}

/* The same with the entry's Python frames: `frames` are ids given to
 * memtrace_fw_frame_name, innermost first; the innermost
 * MT_FW_MAX_PYFRAMES (32) are kept.  They go on the region row (alloc,
 * free_completed) or the device memory row (segment events) of the entry. */
int memtrace_fw_trace_entry_frames(int device, const char *action, uint64_t addr, uint64_t size, uint64_t stream,
                                   int64_t ts_ns, int clock, const char *label, const uint64_t *frames,
                                   int nframes)
{
#ifndef MT_NOP
  pystack ps = { frames, nframes < 0 ? 0 : nframes > MT_FW_MAX_PYFRAMES ? MT_FW_MAX_PYFRAMES : nframes };
  mt_torch_action a = mt_torch_action_parse(action);
  if (a == MT_TA_UNKNOWN || a == MT_TA_OOM)
    return 1;
  int64_t ts = to_mono(ts_ns, clock);
  if (a == MT_TA_SNAPSHOT) {
    emit(MT_R_MARK, 0, MT_RANGE_MARK, 0, device, 0, MT_D_RANGE, ts, DOMAIN, 0, 0, 0, "torch.memory snapshot");
    return 0;
  }
  if (a == MT_TA_FREE_REQUESTED)
    return 0;
  if (lock() != 0)
    return -1;
  if (mt_torch_region_op(a))
    block(a, device, addr, size, stream, ts, label, &ps);
  else
    segment(a, device, addr, size, stream, ts, &ps);
  pthread_mutex_unlock(&F.mu);
  return 0;
#else
  (void)device; (void)action; (void)addr; (void)size; (void)stream; (void)ts_ns; (void)clock; (void)label;
  (void)frames; (void)nframes;
  return 0;
#endif
}

/* Names Python frame `id` (1 <= id < 4M, chosen by the caller, dense):
 * "file:line function", at most 511 bytes kept.  A name is set once (later
 * calls for the same id change nothing).  Returns 0 when the id is named,
 * -1 when it cannot be (id out of range, no memory).  The writers' mutex
 * is never held by the drain, which reads without a lock. */
MT_EXPORT int memtrace_fw_frame_name(uint64_t id, const char *name);
int memtrace_fw_frame_name(uint64_t id, const char *name)
{
  if (!name || id == 0 || id >= (uint64_t)PYF_CHUNK * PYF_NCHUNK)
    return -1;
  int rc = 0;
  pthread_mutex_lock(&pyf_mu);
  _Atomic(char *) *c = atomic_load_explicit(&pyf[id / PYF_CHUNK], memory_order_relaxed);
  if (!c) {
    c = calloc(PYF_CHUNK, sizeof *c);
    if (c)
      atomic_store_explicit(&pyf[id / PYF_CHUNK], c, memory_order_release);
  }
  if (!c)
    rc = -1;
  else if (!atomic_load_explicit(&c[id % PYF_CHUNK], memory_order_relaxed)) {
    char *d = strndup(name, 511);
    if (d)
      atomic_store_explicit(&c[id % PYF_CHUNK], d, memory_order_release);
    else
      rc = -1;
  }
  pthread_mutex_unlock(&pyf_mu);
  return rc;
}

/* Names a segment's heap from the allocator's own view (segment_type,
 * private pool id): "torch-caching-allocator/<name>".  0 when done. */
MT_EXPORT int memtrace_fw_segment_name(int device, uint64_t addr, const char *name);
int memtrace_fw_segment_name(int device, uint64_t addr, const char *name)
{
#ifndef MT_NOP
  if (!name || lock() != 0)
    return -1;
  seg *s = seg_exact(device, addr);
  if (s) {
    char nm[200];
    snprintf(nm, sizeof nm, MT_TORCH_HEAP_PREFIX "%s", name);
    heap_record(1, s, mt__now(), nm);
  }
  pthread_mutex_unlock(&F.mu);
  return s ? 0 : 1;
#else
  (void)device; (void)addr; (void)name;
  return 1;
#endif
}

/* Identity of a block reported earlier without a label: the block is
 * closed and reopened at ts with the label (same address, same size), so
 * that the analyzer reads the identity from the register row.  Returns 0
 * when relabelled, 1 when no such live unlabelled block is known. */
MT_EXPORT int memtrace_fw_relabel(int device, uint64_t addr, const char *label, int64_t ts_ns, int clock);
MT_EXPORT int memtrace_fw_relabel_frames(int device, uint64_t addr, const char *label, int64_t ts_ns, int clock,
                                         const uint64_t *frames, int nframes);
int memtrace_fw_relabel(int device, uint64_t addr, const char *label, int64_t ts_ns, int clock)
{
  return memtrace_fw_relabel_frames(device, addr, label, ts_ns, clock, NULL, 0);
}

/* The same, the closing and reopening rows carrying the block's allocation
 * frames (as given to memtrace_fw_trace_entry_frames for its alloc). */
int memtrace_fw_relabel_frames(int device, uint64_t addr, const char *label, int64_t ts_ns, int clock,
                               const uint64_t *frames, int nframes)
{
#ifndef MT_NOP
  pystack ps = { frames, nframes < 0 ? 0 : nframes > MT_FW_MAX_PYFRAMES ? MT_FW_MAX_PYFRAMES : nframes };
  if (!label || !*label || lock() != 0)
    return -1;
  int rc = 1;
  blk *b = blk_find(bkey(device, addr));
  if (b && !b->labelled) {
    int64_t ts = to_mono(ts_ns, clock);
    emit_block(MT_REGION_UNREGISTER, device, ts, 0, addr, b->size, b->stream, &ps);
    emit_block(MT_REGION_REGISTER, device, ts, b->handle, addr, b->size, b->stream, &ps);
    emit(MT_R_REGION, 0, 0, 0, device, 0, MT_D_REGION, ts, 0, addr, 0, DOMAIN, label);
    b->labelled = 1;
    rc = 0;
  }
  pthread_mutex_unlock(&F.mu);
  return rc;
#else
  (void)device; (void)addr; (void)label; (void)ts_ns; (void)clock; (void)frames; (void)nframes;
  return 1;
#endif
}

/* A failed allocation of the framework's allocator: ooms row (source
 * allocator) plus `detail` (live bytes by category, largest free fragments,
 * <= 255 bytes) in meta under torch.oom.<n>. */
MT_EXPORT void memtrace_fw_oom(int device, uint64_t requested, int64_t free_bytes, int64_t total_bytes,
                               const char *detail, int64_t ts_ns, int clock);
void memtrace_fw_oom(int device, uint64_t requested, int64_t free_bytes, int64_t total_bytes, const char *detail,
                     int64_t ts_ns, int clock)
{
#ifndef MT_NOP
  emit(MT_R_FW, MT_FW_OOM, 0, MT_API_torch, device, 0, MT_D_OTHER, to_mono(ts_ns, clock), requested,
       (uint64_t)free_bytes, (uint64_t)total_bytes, 0, detail);
#else
  (void)device; (void)requested; (void)free_bytes; (void)total_bytes; (void)detail; (void)ts_ns; (void)clock;
#endif
}

/* key=value facts (framework version, allocator settings, python stacks). */
MT_EXPORT void memtrace_fw_meta(const char *key, const char *value);
void memtrace_fw_meta(const char *key, const char *value)
{
#ifndef MT_NOP
  char kv[256];
  if (!key || !value)
    return;
  snprintf(kv, sizeof kv, "%s=%s", key, value);
  emit(MT_R_FW, MT_FW_META, 0, 0, mt__t_device, 0, MT_D_OTHER, mt__now(), 0, 0, 0, 0, kv);
#else
  (void)key; (void)value;
#endif
}

/* The process's rank in its job, from the framework (torch.distributed's
 * default group): the trace takes it unless the launcher's environment
 * named one (collector/drain.c, learn_rank). */
MT_EXPORT void memtrace_fw_rank(int rank, int world_size);
void memtrace_fw_rank(int rank, int world_size)
{
#ifndef MT_NOP
  if (rank < 0 || world_size < 1 || rank >= world_size)
    return;
  emit(MT_R_FW, MT_FW_RANK, 0, 0, mt__t_device, 0, MT_D_OTHER, mt__now(), (uint64_t)rank, (uint64_t)world_size, 0,
       0, NULL);
#else
  (void)rank; (void)world_size;
#endif
}

/* Events the framework's side lost before they reached this channel (the
 * allocator's history ring wrapped between two polls): `count` more of
 * `kind` in the trace's drops table, so that every report says so. */
MT_EXPORT void memtrace_fw_lost(const char *kind, uint64_t count, const char *reason);
void memtrace_fw_lost(const char *kind, uint64_t count, const char *reason)
{
#ifndef MT_NOP
  char kv[256];
  if (!kind || !count)
    return;
  snprintf(kv, sizeof kv, "%s=%s", kind, reason ? reason : "");
  emit(MT_R_FW, MT_FW_LOST, 0, 0, mt__t_device, 0, MT_D_OTHER, mt__now(), count, 0, 0, 0, kv);
#else
  (void)kind; (void)count; (void)reason;
#endif
}

/* Events this channel dropped because another thread held its state. */
MT_EXPORT uint64_t memtrace_fw_busy_drops(void);
uint64_t memtrace_fw_busy_drops(void)
{
#ifndef MT_NOP
  return atomic_load(&F.busy_drops);
#else
  return 0;
#endif
}

/* Asks the drain to write everything recorded so far (tests, OOM). */
MT_EXPORT int memtrace_fw_flush(int timeout_ms);
int memtrace_fw_flush(int timeout_ms)
{
#ifndef MT_NOP
  return mt__drain_flush(timeout_ms);
#else
  (void)timeout_ms;
  return -1;
#endif
}
