/* libmemtrace-collector: internal interface between the hooks, the core
 * (thread buffers, guards, process life) and the drain (buffers -> trace).
 *
 * The hot path is: hook -> guard check -> real call -> mt__rec_reserve() on
 * this thread's ring -> fill a fixed 64-byte record -> mt__rec_commit().  No
 * locks, no I/O, no allocation after the thread's ring exists.  Everything
 * that needs SQLite, hashing or strings happens in the drain thread
 * (collector/drain.c).  See collector/README.md. */
#ifndef MT_COLLECTOR_H
#define MT_COLLECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <string.h>

#define MT_HIDDEN __attribute__((visibility("hidden")))
#define MT_EXPORT __attribute__((visibility("default")))
#define MT_LIKELY(x) __builtin_expect(!!(x), 1)
#define MT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MT_TLS __thread __attribute__((tls_model("initial-exec")))

/* Families for the outermost-call rule: a hook of family F called while
 * the same thread is already inside a hook of F only forwards.  NCCL calls
 * mark LAUNCH and COPY too (their kernels are the nccl_calls row), but not
 * MEM: the buffers NCCL allocates during init are real device memory. */
enum {
  MT_F_MEM = 1u << 0,
  MT_F_LAUNCH = 1u << 1,
  MT_F_COPY = 1u << 2,
  MT_F_API = 1u << 3,
  MT_F_NCCL = 1u << 4,
  MT_F_NVTX = 1u << 5,
  MT_F_SELF = 0xffffu,   /* the collector's own calls: never recorded */
};

/* Record types (mt_rec.type). */
enum {
  MT_R_NONE = 0,
  MT_R_MEM,          /* op api kind device result ts dur; p0 addr p1 size p2 stream */
  MT_R_KERNEL,       /* api kind(key: 1 stub, 2 CUfunction) device; p0 key p1 stream p2 grid p3 block|smem */
  MT_R_MEMCPY,       /* api kind(copy kind) device; p0 bytes p1 dst p2 src p3 stream */
  MT_R_API,          /* api result; p0 stream */
  MT_R_STREAM,       /* p0 handle p1 flags p2 priority */
  MT_R_NCCL,         /* op; p0 comm p1 count p2 dtype|peer<<8 p3 stream */
  MT_R_COMM,         /* op 1 init 2 destroy; p0 comm p1 p2 digest, result nranks, aux rank, device */
  MT_R_PUSH,         /* kind range kind; p0 domain p1 name ptr (registered) or 0 p2 category, p3 range id (start_end); text follows */
  MT_R_POP,          /* kind range kind; p0 domain, p3 range id */
  MT_R_MARK,         /* like PUSH */
  MT_R_HEAP,         /* op 1 register 2 unregister 3 reset; p0 handle p1 addr p2 size p3 domain; kind usage; text follows */
  MT_R_REGION,       /* op region op; p0 heap p1 addr p2 size p3 domain */
  MT_R_OOM_INFO,     /* follows an MT_R_MEM with OOM: p0 free p1 total */
  MT_R_THREAD_NAME,  /* text follows */
  MT_R_FW,           /* framework channel (hooks_framework.c), op MT_FW_*: MEM kind mem op, api,
                        result mem kind, p0 addr p1 size p2 stream (written unless the hooks saw it);
                        OOM p0 requested p1 free p2 total, text detail; META text key=value;
                        RANK p0 rank p1 world size; LOST p0 count, text kind=reason.
                        MT_R_REGION and MT_R_FW MEM of this channel may carry Python frame
                        keys (MT_PYFRAME_TAG) where other records carry PCs */
};
enum { MT_FW_MEM = 1, MT_FW_OOM = 2, MT_FW_META = 3, MT_FW_RANK = 4, MT_FW_LOST = 5 };

/* One fixed-size record: 64 bytes, one cache line.  Extra slots (nx of
 * them) follow for stack PCs (8 per slot) or inline text. */
typedef struct mt_rec {
  uint8_t type, op, kind, nx;
  int16_t api;
  int16_t device;
  union {
    int32_t result;
    uint32_t corr;     /* MT_R_KERNEL, MT_R_MEMCPY, MT_R_NCCL: CUPTI correlation id (0 none) */
  };
  uint16_t nframes;    /* PCs in the extra slots (then text, if any) */
  uint16_t ntext;      /* bytes of inline text after the PCs */
  int64_t ts, dur;     /* absolute CLOCK_MONOTONIC ns; drain rebases */
  uint64_t p[4];
} mt_rec;
_Static_assert(sizeof(mt_rec) == 64, "mt_rec must be one cache line");

/* Drop counters, per kind (the `drops` table). */
enum { MT_D_MEM, MT_D_KERNEL, MT_D_MEMCPY, MT_D_API, MT_D_NCCL, MT_D_RANGE, MT_D_REGION,
       MT_D_OTHER, MT_D__N };

/* A thread's ring: single producer (the thread), single consumer (drain). */
typedef struct mt_tbuf {
  _Atomic uint64_t head;            /* next slot the producer writes */
  uint64_t tail_cache;              /* producer's view of tail */
  char pad0[48];
  _Atomic uint64_t tail;            /* next slot the drain reads */
  char pad1[56];
  uint64_t mask;                    /* slots - 1 (power of two) */
  mt_rec *slots;
  size_t map_bytes;
  _Atomic uint64_t drops[MT_D__N];  /* written by the producer, read by drain */
  _Atomic int dead;                 /* thread exited: drain, then unmap */
  int overflow;                     /* producer-side: a wait timed out; drop until half empty */
  int unmapped;                     /* drain-side */
  pid_t tid;
  int64_t id;                       /* trace-local thread id, >= 1 */
  int written;                      /* drain-side: threads row written */
  void *drain_state;                /* drain-side per-thread state (range stack) */
  struct mt_tbuf *next;             /* registry (prepend only) */
} mt_tbuf;

/* Configuration, read from the environment once (MEMTRACE_*). */
typedef struct mt_config {
  int stacks;          /* 0 none, 1 native */
  int cupti;           /* 0 disabled (--no-cupti), 1 auto */
  size_t buffer_bytes; /* per thread */
  int max_frames;
  char run_dir[4096];
  char run_id[64];
  char self_path[4096];  /* this .so, for LD_PRELOAD across exec */
} mt_config;

/* ---- core.c ----------------------------------------------------------- */
MT_HIDDEN extern mt_config mt__cfg;
MT_HIDDEN extern MT_TLS unsigned mt__t_in;      /* families this thread is inside */
MT_HIDDEN extern MT_TLS mt_tbuf *mt__t_buf;
MT_HIDDEN extern MT_TLS int mt__t_device;       /* last cudaSetDevice */
MT_HIDDEN extern MT_TLS uint32_t mt__t_corr;    /* CUPTI correlation id of the call being timed (cupti.c) */
MT_HIDDEN extern _Atomic int mt__state;          /* see MT_S_* */
enum { MT_S_IDLE = 0, MT_S_ACTIVE = 1, MT_S_DONE = 2 };

static inline int64_t mt__now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Makes sure the trace for this process exists (first CUDA call): starts
 * the drain thread, which creates the file.  Cheap after the first call. */
MT_HIDDEN void mt__activate_slow(void);
static inline void mt__touch(void)
{
  if (MT_UNLIKELY(atomic_load_explicit(&mt__state, memory_order_relaxed) == MT_S_IDLE))
    mt__activate_slow();
}

MT_HIDDEN mt_tbuf *mt__tbuf_init(void);

/* Captures the native stack (when --stacks=native) into `pcs` (max n). */
MT_HIDDEN int mt__backtrace(void **pcs, int n);

/* Reserves 1 + extra slots on this thread's ring; returns the first, or
 * NULL (counted as a drop of `dkind`) when the ring is full or capture is
 * over.  Slots may wrap: use mt__rec_slot() for the extra ones. */
/* The ring is full: waits for the drain to make room for slots up to
 * `end` (core.c; bounded, see there).  Returns 1 when there is room (and
 * tail_cache updated), 0 to drop the event. */
MT_HIDDEN int mt__rec_wait(mt_tbuf *b, uint64_t end);

static inline mt_rec *mt__rec_reserve(unsigned extra, int dkind, uint64_t *pos)
{
  mt_tbuf *b = mt__t_buf;
  if (MT_UNLIKELY(!b)) {
    b = mt__tbuf_init();
    if (!b)
      return NULL;
  }
  if (MT_UNLIKELY(atomic_load_explicit(&mt__state, memory_order_relaxed) == MT_S_DONE))
    return NULL;
  uint64_t h = atomic_load_explicit(&b->head, memory_order_relaxed);
  uint64_t need = (uint64_t)extra + 1;
  if (MT_UNLIKELY(h + need - b->tail_cache > b->mask + 1)) {
    b->tail_cache = atomic_load_explicit(&b->tail, memory_order_acquire);
    if (h + need - b->tail_cache > b->mask + 1 && !mt__rec_wait(b, h + need)) {
      atomic_fetch_add_explicit(&b->drops[dkind], 1, memory_order_relaxed);
      return NULL;
    }
  }
  *pos = h;
  return &b->slots[h & b->mask];
}

static inline mt_rec *mt__rec_slot(uint64_t pos, unsigned i)
{
  return &mt__t_buf->slots[(pos + i) & mt__t_buf->mask];
}

static inline void mt__rec_commit(uint64_t pos, unsigned n)
{
  atomic_store_explicit(&mt__t_buf->head, pos + n, memory_order_release);
}


#define MT_MAX_FRAMES 64

/* Starts a record of `type` with the caller's native stack (when `stack`
 * and --stacks=native): unwinds first, then reserves 1 + ceil(n/8) slots
 * and copies the PCs.  Returns NULL (counted drop) when full.  The caller
 * fills the fields and calls mt__rec_commit(*pos, *n). */
static inline mt_rec *mt__rec_start(int type, int dkind, int stack, uint64_t *pos, unsigned *n)
{
  void *pcs[MT_MAX_FRAMES];
  int nf = 0;
  if (stack && mt__cfg.stacks)
    nf = mt__backtrace(pcs, mt__cfg.max_frames);
  unsigned extra = ((unsigned)nf + 7) / 8;
  mt_rec *r = mt__rec_reserve(extra, dkind, pos);
  if (!r)
    return NULL;
  r->type = (uint8_t)type;
  r->nx = (uint8_t)extra;
  r->nframes = (uint16_t)nf;
  r->ntext = 0;
  r->op = r->kind = 0;
  r->api = 0;
  r->device = (int16_t)mt__t_device;
  r->result = 0;
  for (unsigned i = 0; i < extra; i++) {
    unsigned k = (unsigned)nf - 8 * i < 8 ? (unsigned)nf - 8 * i : 8;
    memcpy(mt__rec_slot(*pos, 1 + i), pcs + 8 * i, k * sizeof(void *));
  }
  *n = 1 + extra;
  return r;
}

/* Writes a record carrying up to 255 bytes of text (NVTX messages, heap
 * names, thread names) copied into its extra slots. */
MT_HIDDEN void mt__emit_text(int type, int op, int kind, int dkind, int64_t ts, uint64_t p0,
                             uint64_t p1, uint64_t p2, uint64_t p3, const char *text);

/* Interning of code addresses to names, filled by registration hooks
 * (__cudaRegisterFunction, cuModuleGetFunction...), read by the drain.
 * Thread-safe (a mutex: registration is not on the hot path). */
MT_HIDDEN void mt__names_put(uint64_t key, const char *name);
MT_HIDDEN char *mt__names_get(uint64_t key);   /* malloc'd copy or NULL */

/* Process life: fork/exec/exit/crash (core.c). */
MT_HIDDEN void mt__shutdown(const char *why);
MT_HIDDEN void mt__flush_sync(int timeout_ms);

/* The real dlsym (we interpose dlsym itself). */
MT_HIDDEN void *mt__real_dlsym(void *handle, const char *name);
MT_HIDDEN void *mt__resolve(const char *name);
MT_HIDDEN int mt__is_self(const void *p);

/* ---- hooks ---------------------------------------------------------------- */
/* Lookups by name, for cuGetProcAddress and dlsym interposition: returns
 * the wrapper for `name` (and stores `real` as what it forwards to), or
 * NULL when the name is not hooked. */
MT_HIDDEN void *mt__driver_wrap(const char *name, void *real, int ptds);
MT_HIDDEN void *mt__dlsym_wrap(const char *name, void *real);
MT_HIDDEN void *mt__driver_real(const char *name);   /* for the drain: cuFuncGetName... */
MT_HIDDEN void *mt__nccl_dlsym_wrap(const char *name, void *real);
MT_HIDDEN void *mt__cudart_dlsym_wrap(const char *name, void *real);

/* ---- drain.c -------------------------------------------------------------- */
MT_HIDDEN extern _Atomic(mt_tbuf *) mt__threads;
MT_HIDDEN int mt__drain_start(void);
/* Stops the drain thread after a last pass; finalizes the trace when
 * `finalize`, else only commits (crash: end_ns stays NULL). */
MT_HIDDEN void mt__drain_stop(int finalize, const char *why, int timeout_ms);
/* Asks the drain for one full pass + commit and waits for it. */
MT_HIDDEN int mt__drain_flush(int timeout_ms);
MT_HIDDEN void mt__drain_fork_prepare(void);
MT_HIDDEN void mt__drain_fork_parent(void);
MT_HIDDEN void mt__drain_fork_child(void);
MT_HIDDEN extern int64_t mt__start_ns;

/* ---- hooks_framework.c ---------------------------------------------------- */
/* Python frames of the framework channel: an MT_R_REGION or MT_R_FW MEM
 * record may carry, in its stack slots, keys MT_PYFRAME_TAG | id (innermost
 * first) instead of PCs; id names a "file:line function" string registered
 * by memtrace_fw_frame_name and read by the drain with mt__fw_pyframe (NULL
 * when unknown).  No lock on the read: entries are published once, never
 * changed until exit. */
#define MT_PYFRAME_TAG (0xfeull << 56)
#define MT_PYFRAME_MASK (0xffull << 56)
#define MT_FW_MAX_PYFRAMES 32
MT_HIDDEN const char *mt__fw_pyframe(uint64_t id);

/* ---- cupti.c -------------------------------------------------------------- */
/* Decides and starts CUPTI once per process, at activation, on the thread
 * of the first CUDA call (so that its work is already seen). */
MT_HIDDEN void mt__cupti_init(void);
/* "active", "unavailable" or "disabled" (the drain, at trace creation). */
MT_HIDDEN const char *mt__cupti_start(void);
MT_HIDDEN const char *mt__cupti_reason(void);
MT_HIDDEN int mt__cupti_active(void);
MT_HIDDEN unsigned mt__cupti_version(void);
MT_HIDDEN void mt__cupti_fork_child(void);
/* Forced flush: CUPTI hands over every buffer (drain thread, at finish). */
MT_HIDDEN void mt__cupti_flush(void);
/* Records CUPTI dropped so far (cumulative). */
MT_HIDDEN uint64_t mt__cupti_dropped(void);
/* One GPU activity record, times on CLOCK_MONOTONIC (absolute ns, -1 unknown). */
enum { MT_GPU_KERNEL = 1, MT_GPU_COPY = 2, MT_GPU_MEMORY = 3 };
typedef struct mt_gpu_act {
  int type;
  uint32_t correlation;
  int64_t start, end;
  int device;
  uint64_t bytes, addr, pool;
  int op, mem;          /* MT_GPU_MEMORY: enum mem_op, enum mem_kind */
  uint32_t stream;      /* CUPTI stream id */
} mt_gpu_act;
/* Drain thread: every record of the completed buffers, oldest first. */
MT_HIDDEN size_t mt__cupti_poll(void (*fn)(const mt_gpu_act *, void *), void *arg);

#endif
