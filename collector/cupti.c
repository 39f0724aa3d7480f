/* CUPTI: GPU-side activity (kernels, copies, sets, MEMORY2) when a device
 * and libcupti exist.  Loaded lazily with dlopen, never linked: a machine
 * without a GPU or without CUPTI records process.cupti = 'unavailable' with
 * the reason in meta 'cupti.reason', and --no-cupti records 'disabled'.
 *
 *   activation (first CUDA call, the program's thread): mt__cupti_init():
 *     cuInit + cuDeviceGetCount; dlopen libcupti.so.13; buffer callbacks;
 *     callback API subscription on the launch/copy/set entry points of the
 *     driver and runtime domains (their API_ENTER gives the correlation id
 *     of the call the hook is inside: mt__t_corr); activity kinds
 *     CONCURRENT_KERNEL, MEMCPY, MEMSET, MEMORY2; clock calibration.
 *   CUPTI's thread: buffer_requested (malloc, bounded), buffer_completed
 *     (push on a lock-free list; nothing else).
 *   drain thread: mt__cupti_poll() walks the completed buffers with
 *     cuptiActivityGetNextRecord and hands each record, timestamps mapped to
 *     CLOCK_MONOTONIC, to the drain (which matches them by correlation id).
 *
 * Only the real CUPTI API and record structs of the toolkit's cupti.h are
 * used: the same code runs over the simulated stand-in (tests/sim/cupti). */
#define _GNU_SOURCE
#include "config.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collector/collector.h"

MT_TLS uint32_t mt__t_corr;

static const char *status = "unavailable";
static char reason[256];
static int active;
static uint32_t cupti_version;

#if defined(__has_include)
#if __has_include(<cupti.h>)
#define MT_HAVE_CUPTI 1
#endif
#endif

#ifdef MT_HAVE_CUPTI
#include <cupti.h>

/* The CUPTI functions we use, from the dlopen'ed library. */
#define MT_CUPTI_FNS(X) \
  X(cuptiGetVersion, (uint32_t *)) \
  X(cuptiGetResultString, (CUptiResult, const char **)) \
  X(cuptiGetTimestamp, (uint64_t *)) \
  X(cuptiActivityEnable, (CUpti_ActivityKind)) \
  X(cuptiActivityRegisterCallbacks, (CUpti_BuffersCallbackRequestFunc, CUpti_BuffersCallbackCompleteFunc)) \
  X(cuptiActivityGetNextRecord, (uint8_t *, size_t, CUpti_Activity **)) \
  X(cuptiActivityFlushAll, (uint32_t)) \
  X(cuptiActivityGetNumDroppedRecords, (CUcontext, uint32_t, size_t *)) \
  X(cuptiSubscribe, (CUpti_SubscriberHandle *, CUpti_CallbackFunc, void *)) \
  X(cuptiEnableCallback, (uint32_t, CUpti_SubscriberHandle, CUpti_CallbackDomain, CUpti_CallbackId)) \
  X(cuptiGetCallbackName, (CUpti_CallbackDomain, uint32_t, const char **))
#define MT_DECL(name, args) static CUptiResult (*p_##name) args;
MT_CUPTI_FNS(MT_DECL)
#undef MT_DECL
static CUptiResult (*p_cuptiActivityFlushPeriod)(uint32_t);   /* optional */

#define BUF_BYTES (1u << 20)     /* per activity buffer */
#define MAX_BUFS 256             /* outstanding (CUPTI's + queued): 256 MiB */

/* A buffer we gave CUPTI: this header sits just before the data. */
typedef struct cbuf {
  struct cbuf *next;
  size_t valid;
  uint64_t pad;                  /* keeps data 8-byte aligned (24 + 8) */
  uint8_t data[];
} cbuf;

static _Atomic(cbuf *) done;     /* completed buffers, newest first */
static _Atomic int outstanding;
static int64_t clock_off;        /* CUPTI timestamp - CLOCK_MONOTONIC */
static CUpti_SubscriberHandle subscriber;

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
  *max_records = 0;
  *buffer = NULL;
  *size = 0;
  if (atomic_fetch_add(&outstanding, 1) >= MAX_BUFS) {
    atomic_fetch_sub(&outstanding, 1);
    return;                      /* CUPTI drops and counts */
  }
  cbuf *b = malloc(sizeof(cbuf) + BUF_BYTES);
  if (!b) {
    atomic_fetch_sub(&outstanding, 1);
    return;
  }
  *buffer = b->data;
  *size = BUF_BYTES;
}

/* CUPTI's thread: queue the buffer for the drain; never waits. */
static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size,
                                      size_t valid)
{
  (void)ctx; (void)stream; (void)size;
  if (!buffer)
    return;
  cbuf *b = (cbuf *)(buffer - offsetof(cbuf, data));
  b->valid = valid;
  cbuf *head = atomic_load_explicit(&done, memory_order_relaxed);
  do
    b->next = head;
  while (!atomic_compare_exchange_weak_explicit(&done, &head, b, memory_order_release,
                                                memory_order_relaxed));
}

/* The program's thread, inside the API call a hook is timing: the first
 * launch/copy/set entry point of the call gives the correlation id that
 * the activity records will carry. */
static void CUPTIAPI api_callback(void *user, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                                  const void *data)
{
  (void)user; (void)domain; (void)cbid;
  const CUpti_CallbackData *d = data;
  if (d->callbackSite == CUPTI_API_ENTER && !mt__t_corr &&
      (mt__t_in & (MT_F_LAUNCH | MT_F_COPY | MT_F_NCCL)) && mt__t_in != MT_F_SELF)
    mt__t_corr = d->correlationId;
}

static const char *res_str(CUptiResult r)
{
  const char *s = NULL;
  if (p_cuptiGetResultString && p_cuptiGetResultString(r, &s) == CUPTI_SUCCESS && s)
    return s;
  static char buf[32];
  snprintf(buf, sizeof buf, "CUPTI error %d", (int)r);
  return buf;
}

static int wanted_api(const char *n)
{
  static const char *const pre[] = { "cuLaunch", "cuMemcpy", "cuMemset", "cuGraphLaunch",
                                     "cudaLaunch", "cudaMemcpy", "cudaMemset", "cudaGraphLaunch" };
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
    if (!strncmp(n, pre[i], strlen(pre[i])))
      return 1;
  return 0;
}

static void calibrate(void)
{
  int64_t best = INT64_MAX;
  for (int i = 0; i < 7; i++) {
    uint64_t c = 0;
    int64_t m0 = mt__now();
    if (p_cuptiGetTimestamp(&c) != CUPTI_SUCCESS)
      continue;
    int64_t m1 = mt__now();
    if (m1 - m0 < best) {
      best = m1 - m0;
      clock_off = (int64_t)c - (m0 + (m1 - m0) / 2);
    }
  }
}

static void *open_cupti(void)
{
  static const char *const names[] = { "libcupti.so.13", "libcupti.so" };
  void *h = NULL;
  /* by name: LD_LIBRARY_PATH, the cache, the default paths */
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
    h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  /* then the toolkit's own places */
  const char *roots[] = { getenv("CUDA_HOME"), getenv("CUDA_PATH"), "/usr/local/cuda" };
  for (size_t r = 0; r < sizeof roots / sizeof roots[0] && !h; r++) {
    if (!roots[r] || !*roots[r])
      continue;
    static const char *const sub[] = { "extras/CUPTI/lib64", "lib64", "targets/x86_64-linux/lib",
                                       "targets/sbsa-linux/lib" };
    for (size_t s = 0; s < sizeof sub / sizeof sub[0] && !h; s++) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s/libcupti.so.13", roots[r], sub[s]);
      h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
  }
  return h;
}

static void start_cupti(void)
{
  /* A device first: CUPTI on a machine without one only fails later.  The
   * driver is initialised here, as CUPTI itself would. */
  void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  typedef int (*init_fn)(unsigned);
  typedef int (*count_fn)(int *);
  init_fn cinit = drv ? (init_fn)mt__real_dlsym(drv, "cuInit") : NULL;
  count_fn cnt = drv ? (count_fn)mt__real_dlsym(drv, "cuDeviceGetCount") : NULL;
  int n = 0;
  if (!cinit || !cnt) {
    snprintf(reason, sizeof reason, "no CUDA driver (libcuda.so.1: %s)", drv ? "no cuInit" : "not found");
    return;
  }
  int rc = cinit(0);
  if (rc != 0 || cnt(&n) != 0 || n <= 0) {
    snprintf(reason, sizeof reason, "no CUDA device (cuInit: %d)", rc);
    return;
  }
  void *h = open_cupti();
  if (!h) {
    snprintf(reason, sizeof reason, "libcupti not found (libcupti.so.13 on LD_LIBRARY_PATH, "
             "$CUDA_HOME/extras/CUPTI/lib64, $CUDA_HOME/lib64)");
    return;
  }
#define MT_LOAD(name, args) \
  p_##name = (CUptiResult(*) args)mt__real_dlsym(h, #name); \
  if (!p_##name) { \
    snprintf(reason, sizeof reason, "libcupti has no %s", #name); \
    return; \
  }
  MT_CUPTI_FNS(MT_LOAD)
#undef MT_LOAD
  p_cuptiActivityFlushPeriod = (CUptiResult(*)(uint32_t))mt__real_dlsym(h, "cuptiActivityFlushPeriod");

  CUptiResult r;
  uint32_t ver = 0;
  Dl_info di;
  const char *lib = dladdr((void *)p_cuptiGetVersion, &di) && di.dli_fname ? di.dli_fname : "libcupti";
#define MT_TRY(fn, args) \
  if ((r = p_##fn args) != CUPTI_SUCCESS) { \
    snprintf(reason, sizeof reason, "%s: %s (%.150s)", #fn, res_str(r), lib); \
    return; \
  }
  MT_TRY(cuptiGetVersion, (&ver));
  MT_TRY(cuptiActivityRegisterCallbacks, (buffer_requested, buffer_completed));
  MT_TRY(cuptiSubscribe, (&subscriber, api_callback, NULL));
  /* callbacks only on the entry points that make GPU work */
  int ncb = 0;
  for (CUpti_CallbackId id = 1; id < CUPTI_DRIVER_TRACE_CBID_SIZE; id++) {
    const char *name = NULL;
    if (p_cuptiGetCallbackName(CUPTI_CB_DOMAIN_DRIVER_API, id, &name) == CUPTI_SUCCESS && name &&
        wanted_api(name) && p_cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_DRIVER_API, id) == CUPTI_SUCCESS)
      ncb++;
  }
  for (CUpti_CallbackId id = 1; id < CUPTI_RUNTIME_TRACE_CBID_SIZE; id++) {
    const char *name = NULL;
    if (p_cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, id, &name) == CUPTI_SUCCESS && name &&
        wanted_api(name) && p_cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_RUNTIME_API, id) == CUPTI_SUCCESS)
      ncb++;
  }
  if (!ncb) {
    snprintf(reason, sizeof reason, "no launch/copy callback could be enabled");
    return;
  }
  if (p_cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS)
    MT_TRY(cuptiActivityEnable, (CUPTI_ACTIVITY_KIND_KERNEL));
  MT_TRY(cuptiActivityEnable, (CUPTI_ACTIVITY_KIND_MEMCPY));
  MT_TRY(cuptiActivityEnable, (CUPTI_ACTIVITY_KIND_MEMSET));
  MT_TRY(cuptiActivityEnable, (CUPTI_ACTIVITY_KIND_MEMORY2));
#undef MT_TRY
  if (p_cuptiActivityFlushPeriod)
    p_cuptiActivityFlushPeriod(100);   /* buffers reach the drain within ~100 ms */
  calibrate();
  snprintf(reason, sizeof reason, "%s", "");
  cupti_version = ver;
  active = 1;
  status = "active";
}
#endif /* MT_HAVE_CUPTI */

/* Activation (first CUDA call, the program's thread, MT_F_SELF set):
 * decides the status once per process. */
void mt__cupti_init(void)
{
  static int done_once;
  if (done_once)
    return;
  done_once = 1;
  if (!mt__cfg.cupti) {
    status = "disabled";
    snprintf(reason, sizeof reason, "disabled by --no-cupti");
    return;
  }
#ifdef MT_HAVE_CUPTI
  start_cupti();
#else
  snprintf(reason, sizeof reason, "collector built without cupti.h");
#endif
}

const char *mt__cupti_start(void)
{
  return status;
}

const char *mt__cupti_reason(void)
{
  return reason;
}

int mt__cupti_active(void)
{
  return active;
}

unsigned mt__cupti_version(void)
{
  return cupti_version;
}

void mt__cupti_fork_child(void)
{
  /* CUPTI does not follow fork: the child's trace has no GPU times. */
  if (active) {
    active = 0;
    status = "unavailable";
    snprintf(reason, sizeof reason, "forked child of a process using CUPTI");
  }
}

void mt__cupti_flush(void)
{
#ifdef MT_HAVE_CUPTI
  if (active)
    p_cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
#endif
}

uint64_t mt__cupti_dropped(void)
{
#ifdef MT_HAVE_CUPTI
  static uint64_t total;
  size_t d = 0;
  if (active && p_cuptiActivityGetNumDroppedRecords(NULL, 0, &d) == CUPTI_SUCCESS)
    total += d;   /* the query resets CUPTI's count */
  return total;
#else
  return 0;
#endif
}

#ifdef MT_HAVE_CUPTI
static int64_t to_mono(uint64_t t)
{
  return t ? (int64_t)t - clock_off : -1;
}
#endif

size_t mt__cupti_poll(void (*fn)(const mt_gpu_act *, void *), void *arg)
{
  size_t n = 0;
#ifdef MT_HAVE_CUPTI
  if (!active)
    return 0;
  cbuf *list = atomic_exchange_explicit(&done, NULL, memory_order_acquire);
  cbuf *fifo = NULL;
  while (list) {   /* oldest first */
    cbuf *nx = list->next;
    list->next = fifo;
    fifo = list;
    list = nx;
  }
  while (fifo) {
    cbuf *b = fifo;
    fifo = b->next;
    CUpti_Activity *rec = NULL;
    while (p_cuptiActivityGetNextRecord(b->data, b->valid, &rec) == CUPTI_SUCCESS) {
      mt_gpu_act a;
      memset(&a, 0, sizeof a);
      switch (rec->kind) {
/* the fields every timed record has, whatever its struct version */
#define TIMED(r) (a.correlation = (r)->correlationId, a.start = to_mono((r)->start), a.end = to_mono((r)->end), \
                  a.device = (int)(r)->deviceId)
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
        a.type = MT_GPU_KERNEL;
        TIMED((const CUpti_ActivityKernel10 *)(const void *)rec);
        break;
      case CUPTI_ACTIVITY_KIND_MEMCPY:
        a.type = MT_GPU_COPY;
        TIMED((const CUpti_ActivityMemcpy6 *)(const void *)rec);
        a.bytes = ((const CUpti_ActivityMemcpy6 *)(const void *)rec)->bytes;
        break;
      case CUPTI_ACTIVITY_KIND_MEMSET:
        a.type = MT_GPU_COPY;
        TIMED((const CUpti_ActivityMemset4 *)(const void *)rec);
        a.bytes = ((const CUpti_ActivityMemset4 *)(const void *)rec)->bytes;
        break;
#undef TIMED
      case CUPTI_ACTIVITY_KIND_MEMORY2: {
        const CUpti_ActivityMemory4 *m = (const void *)rec;
        a.type = MT_GPU_MEMORY;
        a.correlation = m->correlationId;
        a.start = a.end = to_mono(m->timestamp);
        a.device = (int)m->deviceId;
        a.bytes = m->bytes;
        a.addr = m->address;
        a.op = m->memoryOperationType == CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE ? 2 : 1;
        a.mem = m->memoryKind == CUPTI_ACTIVITY_MEMORY_KIND_PINNED    ? 3
              : m->memoryKind == CUPTI_ACTIVITY_MEMORY_KIND_MANAGED   ? 2
              : m->isAsync                                            ? 4
                                                                      : 1;
        a.pool = m->isAsync ? m->memoryPoolConfig.address : 0;
        a.stream = m->streamId;
        break;
      }
      default:
        continue;
      }
      fn(&a, arg);
      n++;
    }
    free(b);
    atomic_fetch_sub(&outstanding, 1);
  }
#else
  (void)fn; (void)arg;
#endif
  return n;
}
