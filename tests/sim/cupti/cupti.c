/* A CUPTI stand-in, libcupti.so.13, for the simulated CUDA stack
 * (tests/sim/cuda).  The API and the record structs are those of the CUDA 13
 * toolkit's cupti.h; what the records say comes from the simulated driver's
 * activity sink (mt_sim_set_activity_sink, simcuda.h): every launch, copy,
 * set, allocation and free with its simulated GPU start/end and the
 * correlation id of the driver call that made it.  See README.md here.
 *
 * Covered: activity kinds KERNEL / CONCURRENT_KERNEL (CUpti_ActivityKernel10),
 * MEMCPY (CUpti_ActivityMemcpy6), MEMSET (CUpti_ActivityMemset4), MEMORY2
 * (CUpti_ActivityMemory4), DRIVER (CUpti_ActivityAPI); buffers through
 * cuptiActivityRegisterCallbacks, delivered by a worker thread when full or
 * every flush period, and on the caller's thread by cuptiActivityFlushAll;
 * the callback API for the driver domain (API enter/exit with the
 * correlation id).  The runtime domain is accepted but never called: the
 * simulated runtime reports nothing of its own, and the kernel records
 * carry the id of the driver call the runtime made. */
#define _GNU_SOURCE
#include <cupti.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "tests/sim/cuda/simcuda.h"

#define EXPORT __attribute__((visibility("default")))
#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

/* Clock: the CUPTI timestamp is CLOCK_MONOTONIC moved to a CLOCK_REALTIME
 * origin (so a client must calibrate, as on a GPU).  Simulated stream time
 * t is reported as epoch + t, epoch being the CUPTI time at which the sink
 * was installed. */
static int64_t clock_off;      /* cupti = monotonic + clock_off */
static uint64_t gpu_epoch;

static uint64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t to_cupti(uint64_t mono)
{
  return (uint64_t)((int64_t)mono + clock_off);
}

/* ---- state --------------------------------------------------------------- */

typedef struct fullbuf {
  uint8_t *buf;
  size_t size, valid;
  struct fullbuf *next;
} fullbuf;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, idle;
  int inited;
  mt_sim_activity_fn (*set_sink)(mt_sim_activity_fn, void *);
  uint64_t enabled;                   /* bit per CUpti_ActivityKind < 64 */
  CUpti_BuffersCallbackRequestFunc req;
  CUpti_BuffersCallbackCompleteFunc comp;
  uint8_t *cur;
  size_t cur_size, cur_used;
  fullbuf *full, **full_tail;
  int delivering;
  size_t dropped;
  uint64_t nrecords, drop_every;     /* MT_SIM_CUPTI_DROP_EVERY: fault injection */
  uint32_t flush_period_ms;
  int worker;
  pthread_t worker_thread;
  /* callback API: one subscriber */
  int subscribed;
  CUpti_CallbackFunc cb;
  void *cb_user;
  unsigned char drv_on[CUPTI_DRIVER_TRACE_CBID_SIZE];
  int rt_on;
  /* streams -> ids */
  struct { int dev; void *h; uint32_t id; } *streams;
  size_t nstreams, capstreams;
  /* kernel names, owned here */
  char **names;
  size_t nnames, capnames;
} C = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
        .idle = PTHREAD_COND_INITIALIZER };

static struct CUpti_Subscriber_st { int dummy; } the_subscriber;

static __thread uint64_t t_enter_ns;
static __thread uint64_t t_corr_data;

/* The driver entry points the simulated driver reports, with their ids in
 * cupti_driver_cbid.h. */
static const struct { const char *name; CUpti_CallbackId cbid; } drv_cbids[] = {
#define D(n) { #n, CUPTI_DRIVER_TRACE_CBID_##n }
  D(cuMemAlloc_v2), D(cuMemAllocPitch_v2), D(cuMemFree_v2), D(cuMemAllocAsync), D(cuMemFreeAsync),
  D(cuMemHostAlloc), D(cuMemAllocHost_v2), D(cuMemFreeHost), D(cuMemAllocManaged), D(cuLaunchKernel),
  D(cuMemcpy), D(cuMemcpyAsync), D(cuMemcpyHtoD_v2), D(cuMemcpyDtoH_v2), D(cuMemcpyDtoD_v2),
  D(cuMemcpyHtoDAsync_v2), D(cuMemcpyDtoHAsync_v2), D(cuMemcpyDtoDAsync_v2), D(cuMemsetD8_v2),
  D(cuMemsetD32_v2), D(cuMemsetD8Async), D(cuMemsetD32Async),
#undef D
};

static CUpti_CallbackId cbid_of(const char *api)
{
  if (api)
    for (size_t i = 0; i < sizeof drv_cbids / sizeof drv_cbids[0]; i++)
      if (!strcmp(drv_cbids[i].name, api))
        return drv_cbids[i].cbid;
  return CUPTI_DRIVER_TRACE_CBID_INVALID;
}

/* lock held */
static uint32_t stream_id(int dev, void *h)
{
  for (size_t i = 0; i < C.nstreams; i++)
    if (C.streams[i].dev == dev && C.streams[i].h == h)
      return C.streams[i].id;
  if (C.nstreams == C.capstreams) {
    size_t nc = C.capstreams ? 2 * C.capstreams : 16;
    void *nv = realloc(C.streams, nc * sizeof *C.streams);
    if (!nv)
      return 0;
    C.streams = nv;
    C.capstreams = nc;
  }
  /* the legacy default stream of each device first gets a small id, as the
   * real CUPTI's are small integers */
  uint32_t id = (uint32_t)C.nstreams + 7;
  C.streams[C.nstreams].dev = dev;
  C.streams[C.nstreams].h = h;
  C.streams[C.nstreams].id = id;
  C.nstreams++;
  return id;
}

/* lock held */
static const char *intern(const char *s)
{
  if (!s)
    return NULL;
  for (size_t i = C.nnames; i-- > 0;)
    if (!strcmp(C.names[i], s))
      return C.names[i];
  if (C.nnames == C.capnames) {
    size_t nc = C.capnames ? 2 * C.capnames : 64;
    char **nv = realloc(C.names, nc * sizeof *nv);
    if (!nv)
      return NULL;
    C.names = nv;
    C.capnames = nc;
  }
  char *d = strdup(s);
  if (d)
    C.names[C.nnames++] = d;
  return d;
}

static int kind_on(CUpti_ActivityKind k)
{
  return (unsigned)k < 64 && (__atomic_load_n(&C.enabled, __ATOMIC_RELAXED) >> k & 1);
}

static size_t record_size(CUpti_ActivityKind k)
{
  switch (k) {
  case CUPTI_ACTIVITY_KIND_KERNEL:
  case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: return sizeof(CUpti_ActivityKernel10);
  case CUPTI_ACTIVITY_KIND_MEMCPY: return sizeof(CUpti_ActivityMemcpy6);
  case CUPTI_ACTIVITY_KIND_MEMSET: return sizeof(CUpti_ActivityMemset4);
  case CUPTI_ACTIVITY_KIND_MEMORY2: return sizeof(CUpti_ActivityMemory4);
  case CUPTI_ACTIVITY_KIND_DRIVER:
  case CUPTI_ACTIVITY_KIND_RUNTIME: return sizeof(CUpti_ActivityAPI);
  default: return 0;
  }
}

/* ---- buffers --------------------------------------------------------------- */

static void *worker_main(void *arg);

/* lock held: the current buffer is complete; queue it for delivery */
static void retire_current(void)
{
  if (!C.cur)
    return;
  fullbuf *f = malloc(sizeof *f);
  if (!f) {
    C.cur_used = 0;   /* cannot queue: its records are lost */
    return;
  }
  f->buf = C.cur;
  f->size = C.cur_size;
  f->valid = C.cur_used;
  f->next = NULL;
  *C.full_tail = f;
  C.full_tail = &f->next;
  C.cur = NULL;
  C.cur_size = C.cur_used = 0;
  if (!C.worker && pthread_create(&C.worker_thread, NULL, worker_main, NULL) == 0) {
    pthread_detach(C.worker_thread);
    C.worker = 1;
  }
  pthread_cond_signal(&C.wake);
}

/* lock held: room for n bytes of record, or NULL (counted as dropped).
 * The client's bufferRequested runs here, under this library's lock. */
static void *reserve(size_t n)
{
  if (C.drop_every && ++C.nrecords % C.drop_every == 0) {
    C.dropped++;
    return NULL;
  }
  if (C.cur && C.cur_used + n > C.cur_size)
    retire_current();
  if (!C.cur) {
    uint8_t *b = NULL;
    size_t sz = 0, maxrec = 0;
    if (C.req)
      C.req(&b, &sz, &maxrec);
    if (!b || sz < n || ((uintptr_t)b & 7u)) {
      C.dropped++;
      return NULL;
    }
    C.cur = b;
    C.cur_size = sz;
    C.cur_used = 0;
  }
  void *p = C.cur + C.cur_used;
  memset(p, 0, n);
  C.cur_used += ALIGN8(n);
  if (C.cur_used > C.cur_size)
    C.cur_used = C.cur_size;
  return p;
}

/* Delivers every queued buffer on this thread (lock held on entry and
 * exit; released around the client's callback). */
static void deliver_locked(void)
{
  while (C.full) {
    fullbuf *f = C.full;
    C.full = f->next;
    if (!C.full)
      C.full_tail = &C.full;
    C.delivering++;
    pthread_mutex_unlock(&C.lock);
    if (C.comp)
      C.comp(NULL, 0, f->buf, f->size, f->valid);
    free(f);
    pthread_mutex_lock(&C.lock);
    C.delivering--;
  }
  pthread_cond_broadcast(&C.idle);
}

static void *worker_main(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&C.lock);
  for (;;) {
    if (!C.full) {
      if (C.flush_period_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)C.flush_period_ms * 1000000ull;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        if (pthread_cond_timedwait(&C.wake, &C.lock, &ts) != 0 && !C.full && C.cur_used)
          retire_current();   /* periodic flush of a partly filled buffer */
      } else {
        pthread_cond_wait(&C.wake, &C.lock);
      }
    }
    deliver_locked();
  }
  return NULL;
}

/* ---- the simulated driver's reports ---------------------------------------- */

static void api_callback(const mt_sim_activity *a, CUpti_ApiCallbackSite site)
{
  CUpti_CallbackId cbid = cbid_of(a->api);
  if (!__atomic_load_n(&C.subscribed, __ATOMIC_ACQUIRE) || cbid == CUPTI_DRIVER_TRACE_CBID_INVALID ||
      cbid >= CUPTI_DRIVER_TRACE_CBID_SIZE || !__atomic_load_n(&C.drv_on[cbid], __ATOMIC_RELAXED))
    return;
  CUpti_CallbackData d;
  memset(&d, 0, sizeof d);
  d.callbackSite = site;
  d.functionName = a->api;
  d.correlationData = &t_corr_data;
  d.correlationId = a->correlation;
  if (site == CUPTI_API_ENTER)
    t_corr_data = 0;
  C.cb(C.cb_user, CUPTI_CB_DOMAIN_DRIVER_API, cbid, &d);
}

static void sink(const mt_sim_activity *a, void *user)
{
  (void)user;
  switch (a->kind) {
  case MT_SIM_ACT_API_ENTER:
    t_enter_ns = to_cupti(a->host_ns);
    api_callback(a, CUPTI_API_ENTER);
    return;
  case MT_SIM_ACT_API_EXIT:
    api_callback(a, CUPTI_API_EXIT);
    if (kind_on(CUPTI_ACTIVITY_KIND_DRIVER)) {
      pthread_mutex_lock(&C.lock);
      CUpti_ActivityAPI *r = reserve(sizeof *r);
      if (r) {
        r->kind = CUPTI_ACTIVITY_KIND_DRIVER;
        r->cbid = cbid_of(a->api);
        r->start = t_enter_ns;
        r->end = to_cupti(a->host_ns);
        r->processId = (uint32_t)getpid();
        r->threadId = (uint32_t)syscall(SYS_gettid);
        r->correlationId = a->correlation;
      }
      pthread_mutex_unlock(&C.lock);
    }
    return;
  case MT_SIM_ACT_KERNEL: {
    CUpti_ActivityKind k = kind_on(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) ? CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL
                         : kind_on(CUPTI_ACTIVITY_KIND_KERNEL) ? CUPTI_ACTIVITY_KIND_KERNEL
                         : CUPTI_ACTIVITY_KIND_INVALID;
    if (k == CUPTI_ACTIVITY_KIND_INVALID)
      return;
    pthread_mutex_lock(&C.lock);
    CUpti_ActivityKernel10 *r = reserve(sizeof *r);
    if (r) {
      r->kind = k;
      r->start = gpu_epoch + a->start_ns;
      r->end = gpu_epoch + a->end_ns;
      r->completed = r->end;
      r->deviceId = (uint32_t)a->device;
      r->contextId = (uint32_t)a->device + 1;
      r->streamId = stream_id(a->device, a->stream);
      r->gridX = (int32_t)a->grid[0];
      r->gridY = (int32_t)a->grid[1];
      r->gridZ = (int32_t)a->grid[2];
      r->blockX = (int32_t)a->block[0];
      r->blockY = (int32_t)a->block[1];
      r->blockZ = (int32_t)a->block[2];
      r->dynamicSharedMemory = (int32_t)a->shmem;
      r->registersPerThread = 32;
      r->correlationId = a->correlation;
      r->name = intern(a->name);
      r->queued = r->submitted = CUPTI_TIMESTAMP_UNKNOWN;
      r->channelType = CUPTI_CHANNEL_TYPE_COMPUTE;
    }
    pthread_mutex_unlock(&C.lock);
    return;
  }
  case MT_SIM_ACT_MEMCPY: {
    if (!kind_on(CUPTI_ACTIVITY_KIND_MEMCPY))
      return;
    static const uint8_t memk[] = { 0, CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE, CUPTI_ACTIVITY_MEMORY_KIND_PINNED,
                                    CUPTI_ACTIVITY_MEMORY_KIND_DEVICE, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE,
                                    CUPTI_ACTIVITY_MEMORY_KIND_MANAGED };
    int sd = a->src_mem == MT_SIM_MEM_DEVICE || a->src_mem == MT_SIM_MEM_MANAGED;
    int dd = a->dst_mem == MT_SIM_MEM_DEVICE || a->dst_mem == MT_SIM_MEM_MANAGED;
    pthread_mutex_lock(&C.lock);
    CUpti_ActivityMemcpy6 *r = reserve(sizeof *r);
    if (r) {
      r->kind = CUPTI_ACTIVITY_KIND_MEMCPY;
      r->copyKind = (uint8_t)(sd && dd ? CUPTI_ACTIVITY_MEMCPY_KIND_DTOD
                              : dd ? CUPTI_ACTIVITY_MEMCPY_KIND_HTOD
                              : sd ? CUPTI_ACTIVITY_MEMCPY_KIND_DTOH : CUPTI_ACTIVITY_MEMCPY_KIND_HTOH);
      r->srcKind = a->src_mem > 0 && a->src_mem <= 5 ? memk[a->src_mem] : 0;
      r->dstKind = a->dst_mem > 0 && a->dst_mem <= 5 ? memk[a->dst_mem] : 0;
      r->flags = a->stream ? CUPTI_ACTIVITY_FLAG_MEMCPY_ASYNC : 0;
      r->bytes = a->bytes;
      r->start = gpu_epoch + a->start_ns;
      r->end = gpu_epoch + a->end_ns;
      r->deviceId = (uint32_t)a->device;
      r->contextId = (uint32_t)a->device + 1;
      r->streamId = stream_id(a->device, a->stream);
      r->correlationId = a->correlation;
      r->channelType = CUPTI_CHANNEL_TYPE_ASYNC_MEMCPY;
      r->copyCount = 1;
    }
    pthread_mutex_unlock(&C.lock);
    return;
  }
  case MT_SIM_ACT_MEMSET: {
    if (!kind_on(CUPTI_ACTIVITY_KIND_MEMSET))
      return;
    pthread_mutex_lock(&C.lock);
    CUpti_ActivityMemset4 *r = reserve(sizeof *r);
    if (r) {
      r->kind = CUPTI_ACTIVITY_KIND_MEMSET;
      r->value = (uint32_t)a->src;
      r->bytes = a->bytes;
      r->start = gpu_epoch + a->start_ns;
      r->end = gpu_epoch + a->end_ns;
      r->deviceId = (uint32_t)a->device;
      r->contextId = (uint32_t)a->device + 1;
      r->streamId = stream_id(a->device, a->stream);
      r->correlationId = a->correlation;
      r->flags = a->stream ? CUPTI_ACTIVITY_FLAG_MEMSET_ASYNC : 0;
      r->memoryKind = a->dst_mem == MT_SIM_MEM_MANAGED ? CUPTI_ACTIVITY_MEMORY_KIND_MANAGED
                                                       : CUPTI_ACTIVITY_MEMORY_KIND_DEVICE;
    }
    pthread_mutex_unlock(&C.lock);
    return;
  }
  case MT_SIM_ACT_ALLOC:
  case MT_SIM_ACT_FREE: {
    if (!kind_on(CUPTI_ACTIVITY_KIND_MEMORY2))
      return;
    /* called with the driver's lock held: nothing here calls the driver */
    pthread_mutex_lock(&C.lock);
    CUpti_ActivityMemory4 *r = reserve(sizeof *r);
    if (r) {
      r->kind = CUPTI_ACTIVITY_KIND_MEMORY2;
      r->memoryOperationType = a->kind == MT_SIM_ACT_ALLOC ? CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION
                                                           : CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE;
      r->memoryKind = a->dst_mem == MT_SIM_MEM_PINNED ? CUPTI_ACTIVITY_MEMORY_KIND_PINNED
                    : a->dst_mem == MT_SIM_MEM_MANAGED ? CUPTI_ACTIVITY_MEMORY_KIND_MANAGED
                    : CUPTI_ACTIVITY_MEMORY_KIND_DEVICE;
      r->correlationId = a->correlation;
      r->address = a->dst;
      r->bytes = a->bytes;
      r->timestamp = to_cupti(a->host_ns);
      r->processId = (uint32_t)getpid();
      r->deviceId = a->device >= 0 ? (uint32_t)a->device : 0;
      r->contextId = a->device >= 0 ? (uint32_t)a->device + 1 : 0;
      r->streamId = a->dst_mem == MT_SIM_MEM_ASYNC ? stream_id(a->device, a->stream) : 0;
      r->isAsync = a->dst_mem == MT_SIM_MEM_ASYNC;
      if (r->isAsync) {
        r->memoryPoolConfig.memoryPoolType = CUPTI_ACTIVITY_MEMORY_POOL_TYPE_LOCAL;
        r->memoryPoolConfig.address = a->pool;
      }
    }
    pthread_mutex_unlock(&C.lock);
    return;
  }
  default:
    return;
  }
}

static void child_after_fork(void)
{
  /* the worker thread does not exist here; queued buffers are the parent's */
  pthread_mutex_init(&C.lock, NULL);
  pthread_cond_init(&C.wake, NULL);
  pthread_cond_init(&C.idle, NULL);
  C.worker = 0;
  C.delivering = 0;
  C.full = NULL;
  C.full_tail = &C.full;
}

/* Finds the simulated driver (already loaded by the program, or loaded
 * here as the real CUPTI loads libcuda) and installs the sink. */
static CUptiResult init(void)
{
  pthread_mutex_lock(&C.lock);
  if (C.inited) {
    pthread_mutex_unlock(&C.lock);
    return C.set_sink ? CUPTI_SUCCESS : CUPTI_ERROR_NOT_INITIALIZED;
  }
  C.inited = 1;
  C.full_tail = &C.full;
  const char *de = getenv("MT_SIM_CUPTI_DROP_EVERY");
  if (de && *de)
    C.drop_every = strtoull(de, NULL, 10);
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  uint64_t m = mono_ns();
  clock_off = (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) - (int64_t)m;
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!h)
    h = dlopen("libcuda.so.1", RTLD_NOW);
  if (h)
    C.set_sink = (mt_sim_activity_fn (*)(mt_sim_activity_fn, void *))dlsym(h, "mt_sim_set_activity_sink");
  if (C.set_sink) {
    gpu_epoch = to_cupti(mono_ns());
    pthread_atfork(NULL, NULL, child_after_fork);
  }
  pthread_mutex_unlock(&C.lock);
  if (!C.set_sink)
    return CUPTI_ERROR_NOT_INITIALIZED;   /* not the simulated driver */
  C.set_sink(sink, NULL);
  return CUPTI_SUCCESS;
}

/* ---- API ------------------------------------------------------------------- */

EXPORT CUptiResult cuptiGetVersion(uint32_t *version)
{
  if (!version)
    return CUPTI_ERROR_INVALID_PARAMETER;
  *version = CUPTI_API_VERSION;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiGetTimestamp(uint64_t *timestamp)
{
  if (!timestamp)
    return CUPTI_ERROR_INVALID_PARAMETER;
  if (!clock_off)
    init();
  *timestamp = to_cupti(mono_ns());
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiGetResultString(CUptiResult result, const char **str)
{
  if (!str)
    return CUPTI_ERROR_INVALID_PARAMETER;
  switch (result) {
  case CUPTI_SUCCESS: *str = "CUPTI_SUCCESS"; break;
  case CUPTI_ERROR_INVALID_PARAMETER: *str = "CUPTI_ERROR_INVALID_PARAMETER"; break;
  case CUPTI_ERROR_INVALID_OPERATION: *str = "CUPTI_ERROR_INVALID_OPERATION"; break;
  case CUPTI_ERROR_OUT_OF_MEMORY: *str = "CUPTI_ERROR_OUT_OF_MEMORY"; break;
  case CUPTI_ERROR_MAX_LIMIT_REACHED: *str = "CUPTI_ERROR_MAX_LIMIT_REACHED"; break;
  case CUPTI_ERROR_NOT_INITIALIZED: *str = "CUPTI_ERROR_NOT_INITIALIZED"; break;
  case CUPTI_ERROR_INVALID_KIND: *str = "CUPTI_ERROR_INVALID_KIND"; break;
  case CUPTI_ERROR_NOT_SUPPORTED: *str = "CUPTI_ERROR_NOT_SUPPORTED"; break;
  case CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED: *str = "CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED"; break;
  case CUPTI_ERROR_API_NOT_IMPLEMENTED: *str = "CUPTI_ERROR_API_NOT_IMPLEMENTED"; break;
  default: *str = "CUPTI_ERROR_UNKNOWN"; return CUPTI_ERROR_INVALID_PARAMETER;
  }
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityEnable(CUpti_ActivityKind kind)
{
  if (!record_size(kind) || (unsigned)kind >= 64)
    return CUPTI_ERROR_NOT_SUPPORTED;
  CUptiResult rc = init();
  if (rc != CUPTI_SUCCESS)
    return rc;
  __atomic_or_fetch(&C.enabled, 1ull << kind, __ATOMIC_RELEASE);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityDisable(CUpti_ActivityKind kind)
{
  if (!record_size(kind) || (unsigned)kind >= 64)
    return CUPTI_ERROR_NOT_SUPPORTED;
  __atomic_and_fetch(&C.enabled, ~(1ull << kind), __ATOMIC_RELEASE);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityRegisterCallbacks(CUpti_BuffersCallbackRequestFunc funcBufferRequested,
                                                  CUpti_BuffersCallbackCompleteFunc funcBufferCompleted)
{
  if (!funcBufferRequested || !funcBufferCompleted)
    return CUPTI_ERROR_INVALID_PARAMETER;
  CUptiResult rc = init();
  if (rc != CUPTI_SUCCESS)
    return rc;
  pthread_mutex_lock(&C.lock);
  C.req = funcBufferRequested;
  C.comp = funcBufferCompleted;
  pthread_mutex_unlock(&C.lock);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityGetNextRecord(uint8_t *buffer, size_t validBufferSizeBytes, CUpti_Activity **record)
{
  if (!buffer || !record)
    return CUPTI_ERROR_INVALID_PARAMETER;
  size_t off = 0;
  if (*record) {
    size_t sz = record_size((*record)->kind);
    if (!sz)
      return CUPTI_ERROR_INVALID_KIND;
    off = (size_t)((uint8_t *)*record - buffer) + ALIGN8(sz);
  }
  if (off + sizeof(CUpti_Activity) > validBufferSizeBytes)
    return CUPTI_ERROR_MAX_LIMIT_REACHED;
  CUpti_Activity *r = (CUpti_Activity *)(buffer + off);
  size_t sz = record_size(r->kind);
  if (!sz || off + sz > validBufferSizeBytes)
    return CUPTI_ERROR_INVALID_KIND;
  *record = r;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityFlushAll(uint32_t flag)
{
  (void)flag;   /* every simulated record is complete when written */
  if (!C.inited)
    return CUPTI_ERROR_NOT_INITIALIZED;
  pthread_mutex_lock(&C.lock);
  if (!C.comp) {
    pthread_mutex_unlock(&C.lock);
    return CUPTI_ERROR_INVALID_OPERATION;
  }
  if (C.cur_used)
    retire_current();
  deliver_locked();
  while (C.delivering)   /* the worker's buffer, delivered before we return */
    pthread_cond_wait(&C.idle, &C.lock);
  pthread_mutex_unlock(&C.lock);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityFlush(CUcontext context, uint32_t streamId, uint32_t flag)
{
  (void)context; (void)streamId;
  return cuptiActivityFlushAll(flag);
}

EXPORT CUptiResult cuptiActivityFlushPeriod(uint32_t time)
{
  pthread_mutex_lock(&C.lock);
  C.flush_period_ms = time;
  if (time && !C.worker && C.inited && pthread_create(&C.worker_thread, NULL, worker_main, NULL) == 0) {
    pthread_detach(C.worker_thread);
    C.worker = 1;
  }
  pthread_cond_signal(&C.wake);
  pthread_mutex_unlock(&C.lock);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityGetNumDroppedRecords(CUcontext context, uint32_t streamId, size_t *dropped)
{
  (void)streamId;
  if (!dropped)
    return CUPTI_ERROR_INVALID_PARAMETER;
  pthread_mutex_lock(&C.lock);
  *dropped = context ? 0 : C.dropped;   /* one global queue here */
  if (!context)
    C.dropped = 0;                      /* as CUPTI: reset by the query */
  pthread_mutex_unlock(&C.lock);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiSubscribe(CUpti_SubscriberHandle *subscriber, CUpti_CallbackFunc callback, void *userdata)
{
  if (!subscriber)
    return CUPTI_ERROR_INVALID_PARAMETER;
  CUptiResult rc = init();
  if (rc != CUPTI_SUCCESS)
    return rc;
  pthread_mutex_lock(&C.lock);
  if (C.subscribed) {
    pthread_mutex_unlock(&C.lock);
    return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  }
  C.cb = callback;
  C.cb_user = userdata;
  memset(C.drv_on, 0, sizeof C.drv_on);
  __atomic_store_n(&C.subscribed, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&C.lock);
  *subscriber = &the_subscriber;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiUnsubscribe(CUpti_SubscriberHandle subscriber)
{
  if (subscriber != &the_subscriber || !C.subscribed)
    return CUPTI_ERROR_INVALID_PARAMETER;
  __atomic_store_n(&C.subscribed, 0, __ATOMIC_RELEASE);
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiEnableCallback(uint32_t enable, CUpti_SubscriberHandle subscriber, CUpti_CallbackDomain domain,
                                       CUpti_CallbackId cbid)
{
  if (subscriber != &the_subscriber)
    return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain == CUPTI_CB_DOMAIN_DRIVER_API) {
    if (cbid >= CUPTI_DRIVER_TRACE_CBID_SIZE)
      return CUPTI_ERROR_INVALID_PARAMETER;
    __atomic_store_n(&C.drv_on[cbid], (unsigned char)(enable != 0), __ATOMIC_RELEASE);
    return CUPTI_SUCCESS;
  }
  if (domain == CUPTI_CB_DOMAIN_RUNTIME_API) {
    if (cbid >= CUPTI_RUNTIME_TRACE_CBID_SIZE)
      return CUPTI_ERROR_INVALID_PARAMETER;
    C.rt_on |= enable != 0;   /* accepted; the simulated runtime reports nothing */
    return CUPTI_SUCCESS;
  }
  return CUPTI_ERROR_INVALID_PARAMETER;
}

EXPORT CUptiResult cuptiEnableDomain(uint32_t enable, CUpti_SubscriberHandle subscriber, CUpti_CallbackDomain domain)
{
  if (subscriber != &the_subscriber)
    return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain == CUPTI_CB_DOMAIN_DRIVER_API) {
    for (size_t i = 0; i < CUPTI_DRIVER_TRACE_CBID_SIZE; i++)
      __atomic_store_n(&C.drv_on[i], (unsigned char)(enable != 0), __ATOMIC_RELEASE);
    return CUPTI_SUCCESS;
  }
  if (domain == CUPTI_CB_DOMAIN_RUNTIME_API) {
    C.rt_on = enable != 0;
    return CUPTI_SUCCESS;
  }
  return CUPTI_ERROR_INVALID_PARAMETER;
}

EXPORT CUptiResult cuptiGetCallbackName(CUpti_CallbackDomain domain, uint32_t cbid, const char **name)
{
  if (!name)
    return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain == CUPTI_CB_DOMAIN_DRIVER_API)
    for (size_t i = 0; i < sizeof drv_cbids / sizeof drv_cbids[0]; i++)
      if (drv_cbids[i].cbid == cbid) {
        *name = drv_cbids[i].name;
        return CUPTI_SUCCESS;
      }
  return CUPTI_ERROR_INVALID_PARAMETER;   /* names of entry points the simulation has */
}

EXPORT CUptiResult cuptiFinalize(void)
{
  __atomic_store_n(&C.enabled, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&C.subscribed, 0, __ATOMIC_RELEASE);
  if (C.inited && C.comp)
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  return CUPTI_SUCCESS;
}
