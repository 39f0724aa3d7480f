/* CUDA runtime hooks: the exported cuda* symbols that programs (PyTorch,
 * cuDNN users, nvcc-built code on the shared runtime) call through the PLT.
 * Every hooked symbol is listed once in MT_CUDART_HOOKS; the real function
 * is resolved lazily with dlsym(RTLD_NEXT) (or taken from a dlsym lookup we
 * interposed).  Per-thread-default-stream variants (_ptsz/_ptds) share the
 * body of their base function. */
#define _GNU_SOURCE
#include "config.h"
#include <string.h>
#include <cuda_runtime_api.h>
#include "collector/hooks.h"

/* X(symbol, body, family, params, args) */
#define MT_CUDART_HOOKS(X) \
  X(cudaMalloc, cudaMalloc, MT_F_MEM, (void **devPtr, size_t size), (devPtr, size)) \
  X(cudaFree, cudaFree, MT_F_MEM, (void *devPtr), (devPtr)) \
  X(cudaMallocAsync, cudaMallocAsync, MT_F_MEM, (void **devPtr, size_t size, cudaStream_t s), (devPtr, size, s)) \
  X(cudaMallocAsync_ptsz, cudaMallocAsync, MT_F_MEM, (void **devPtr, size_t size, cudaStream_t s), (devPtr, size, s)) \
  X(cudaFreeAsync, cudaFreeAsync, MT_F_MEM, (void *devPtr, cudaStream_t s), (devPtr, s)) \
  X(cudaFreeAsync_ptsz, cudaFreeAsync, MT_F_MEM, (void *devPtr, cudaStream_t s), (devPtr, s)) \
  X(cudaMallocManaged, cudaMallocManaged, MT_F_MEM, (void **devPtr, size_t size, unsigned int flags), (devPtr, size, flags)) \
  X(cudaMallocHost, cudaMallocHost, MT_F_MEM, (void **ptr, size_t size), (ptr, size)) \
  X(cudaHostAlloc, cudaHostAlloc, MT_F_MEM, (void **ptr, size_t size, unsigned int flags), (ptr, size, flags)) \
  X(cudaFreeHost, cudaFreeHost, MT_F_MEM, (void *ptr), (ptr)) \
  X(cudaMallocPitch, cudaMallocPitch, MT_F_MEM, (void **devPtr, size_t *pitch, size_t width, size_t height), (devPtr, pitch, width, height)) \
  X(cudaLaunchKernel, cudaLaunchKernel, MT_F_LAUNCH, (const void *func, dim3 g, dim3 b, void **args, size_t smem, cudaStream_t s), (func, g, b, args, smem, s)) \
  X(cudaLaunchKernel_ptsz, cudaLaunchKernel, MT_F_LAUNCH, (const void *func, dim3 g, dim3 b, void **args, size_t smem, cudaStream_t s), (func, g, b, args, smem, s)) \
  X(cudaLaunchKernelExC, cudaLaunchKernelExC, MT_F_LAUNCH, (const cudaLaunchConfig_t *cfg, const void *func, void **args), (cfg, func, args)) \
  X(cudaLaunchKernelExC_ptsz, cudaLaunchKernelExC, MT_F_LAUNCH, (const cudaLaunchConfig_t *cfg, const void *func, void **args), (cfg, func, args)) \
  X(cudaMemcpy, cudaMemcpy, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind), (dst, src, count, kind)) \
  X(cudaMemcpy_ptds, cudaMemcpy, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind), (dst, src, count, kind)) \
  X(cudaMemcpyAsync, cudaMemcpyAsync, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t s), (dst, src, count, kind, s)) \
  X(cudaMemcpyAsync_ptsz, cudaMemcpyAsync, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t s), (dst, src, count, kind, s)) \
  X(cudaMemset, cudaMemset, MT_F_COPY, (void *dst, int value, size_t count), (dst, value, count)) \
  X(cudaMemset_ptds, cudaMemset, MT_F_COPY, (void *dst, int value, size_t count), (dst, value, count)) \
  X(cudaMemsetAsync, cudaMemsetAsync, MT_F_COPY, (void *dst, int value, size_t count, cudaStream_t s), (dst, value, count, s)) \
  X(cudaMemsetAsync_ptsz, cudaMemsetAsync, MT_F_COPY, (void *dst, int value, size_t count, cudaStream_t s), (dst, value, count, s)) \
  X(cudaStreamCreate, cudaStreamCreate, MT_F_API, (cudaStream_t *ps), (ps)) \
  X(cudaStreamCreateWithFlags, cudaStreamCreateWithFlags, MT_F_API, (cudaStream_t *ps, unsigned int flags), (ps, flags)) \
  X(cudaStreamCreateWithPriority, cudaStreamCreateWithPriority, MT_F_API, (cudaStream_t *ps, unsigned int flags, int prio), (ps, flags, prio)) \
  X(cudaStreamSynchronize, cudaStreamSynchronize, MT_F_API, (cudaStream_t s), (s)) \
  X(cudaStreamSynchronize_ptsz, cudaStreamSynchronize, MT_F_API, (cudaStream_t s), (s)) \
  X(cudaStreamWaitEvent, cudaStreamWaitEvent, MT_F_API, (cudaStream_t s, cudaEvent_t e, unsigned int flags), (s, e, flags)) \
  X(cudaStreamWaitEvent_ptsz, cudaStreamWaitEvent, MT_F_API, (cudaStream_t s, cudaEvent_t e, unsigned int flags), (s, e, flags)) \
  X(cudaDeviceSynchronize, cudaDeviceSynchronize, MT_F_API, (void), ()) \
  X(cudaEventRecord, cudaEventRecord, MT_F_API, (cudaEvent_t e, cudaStream_t s), (e, s)) \
  X(cudaEventRecord_ptsz, cudaEventRecord, MT_F_API, (cudaEvent_t e, cudaStream_t s), (e, s)) \
  X(cudaEventSynchronize, cudaEventSynchronize, MT_F_API, (cudaEvent_t e), (e)) \
  X(cudaGraphLaunch, cudaGraphLaunch, MT_F_API, (cudaGraphExec_t g, cudaStream_t s), (g, s)) \
  X(cudaGraphLaunch_ptsz, cudaGraphLaunch, MT_F_API, (cudaGraphExec_t g, cudaStream_t s), (g, s)) \
  X(cudaSetDevice, cudaSetDevice, 0, (int dev), (dev))

/* Types, real-function slots and body prototypes. */
#define MT_DECL(sym, body, fam, params, args) \
  typedef cudaError_t (*fn_##sym) params; \
  static fn_##sym real_##sym;
MT_CUDART_HOOKS(MT_DECL)
#undef MT_DECL

#define STREAM(s) ((uint64_t)(uintptr_t)(s))
#define ADDR(p) ((uint64_t)(uintptr_t)(p))

/* What each base function records (its _ptsz/_ptds variants share it):
 * one row per function, the body around it is MT_TIMED_BODY's. */
#define BODY(body, fam, params, args, RECORD) \
  MT_TIMED_BODY(cudaError_t, fn_##body, body_##body, fam, params, args, RECORD)
#define OUT(p) ((p) ? ADDR(*(p)) : 0)

static int copy_kind(enum cudaMemcpyKind k)
{
  switch (k) {
  case cudaMemcpyHostToHost: return MT_COPY_H2H;
  case cudaMemcpyHostToDevice: return MT_COPY_H2D;
  case cudaMemcpyDeviceToHost: return MT_COPY_D2H;
  case cudaMemcpyDeviceToDevice: return MT_COPY_D2D;
  default: return MT_COPY_DEFAULT;
  }
}

/* ---- memory -------------------------------------------------------------- */
BODY(cudaMalloc, MT_F_MEM, (void **devPtr, size_t size), (devPtr, size),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaMalloc, MT_MEM_KIND_DEVICE, t0, t1, OUT(devPtr), size, 0, rc))
/* A release is recorded with the time taken before the real release, so an
 * address handed out again afterwards is never seen live twice.
 * cudaFree(0) is the context-creation idiom, not a release. */
BODY(cudaFree, MT_F_MEM, (void *devPtr), (devPtr),
     if (devPtr) mt__emit_mem(MT_MEM_FREE, MT_API_cudaFree, MT_MEM_KIND_DEVICE, t0, t1, ADDR(devPtr), 0, 0, rc);
     else mt__emit_api(MT_R_API, MT_API_cudaFree, t0, t1, 0, 0, 0, rc))
BODY(cudaMallocAsync, MT_F_MEM, (void **devPtr, size_t size, cudaStream_t s), (devPtr, size, s),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaMallocAsync, MT_MEM_KIND_ASYNC_POOL, t0, t1, OUT(devPtr), size, STREAM(s), rc))
BODY(cudaFreeAsync, MT_F_MEM, (void *devPtr, cudaStream_t s), (devPtr, s),
     mt__emit_mem(MT_MEM_FREE, MT_API_cudaFreeAsync, MT_MEM_KIND_ASYNC_POOL, t0, t1, ADDR(devPtr), 0, STREAM(s), rc))
BODY(cudaMallocManaged, MT_F_MEM, (void **devPtr, size_t size, unsigned int flags), (devPtr, size, flags),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaMallocManaged, MT_MEM_KIND_MANAGED, t0, t1, OUT(devPtr), size, 0, rc))
BODY(cudaMallocHost, MT_F_MEM, (void **ptr, size_t size), (ptr, size),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaMallocHost, MT_MEM_KIND_HOST_PINNED, t0, t1, OUT(ptr), size, 0, rc))
BODY(cudaHostAlloc, MT_F_MEM, (void **ptr, size_t size, unsigned int flags), (ptr, size, flags),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaHostAlloc, MT_MEM_KIND_HOST_PINNED, t0, t1, OUT(ptr), size, 0, rc))
BODY(cudaFreeHost, MT_F_MEM, (void *ptr), (ptr),
     mt__emit_mem(MT_MEM_FREE, MT_API_cudaFreeHost, MT_MEM_KIND_HOST_PINNED, t0, t1, ADDR(ptr), 0, 0, rc))
BODY(cudaMallocPitch, MT_F_MEM, (void **devPtr, size_t *pitch, size_t width, size_t height), (devPtr, pitch, width, height),
     mt__emit_mem(MT_MEM_ALLOC, MT_API_cudaMallocPitch, MT_MEM_KIND_DEVICE, t0, t1, OUT(devPtr),
                  (rc == 0 && pitch ? *pitch : width) * height, 0, rc))

/* ---- launches ------------------------------------------------------------ */
BODY(cudaLaunchKernel, MT_F_LAUNCH, (const void *func, dim3 g, dim3 b, void **args, size_t smem, cudaStream_t s),
     (func, g, b, args, smem, s),
     mt__emit_kernel(MT_API_cudaLaunchKernel, 1, ADDR(func), t0, t1, g.x, g.y, g.z, b.x, b.y, b.z,
                     (unsigned)smem, STREAM(s), rc))
BODY(cudaLaunchKernelExC, MT_F_LAUNCH, (const cudaLaunchConfig_t *cfg, const void *func, void **args), (cfg, func, args),
     if (cfg) mt__emit_kernel(MT_API_cudaLaunchKernelExC, 1, ADDR(func), t0, t1, cfg->gridDim.x, cfg->gridDim.y,
                              cfg->gridDim.z, cfg->blockDim.x, cfg->blockDim.y, cfg->blockDim.z,
                              (unsigned)cfg->dynamicSmemBytes, STREAM(cfg->stream), rc))

/* ---- copies and sets ------------------------------------------------------ */
BODY(cudaMemcpy, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind), (dst, src, count, kind),
     mt__emit_copy(MT_API_cudaMemcpy, copy_kind(kind), t0, t1, count, ADDR(dst), ADDR(src), 0, rc))
BODY(cudaMemcpyAsync, MT_F_COPY, (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t s),
     (dst, src, count, kind, s),
     mt__emit_copy(MT_API_cudaMemcpyAsync, copy_kind(kind), t0, t1, count, ADDR(dst), ADDR(src), STREAM(s), rc))
BODY(cudaMemset, MT_F_COPY, (void *dst, int value, size_t count), (dst, value, count),
     mt__emit_copy(MT_API_cudaMemset, MT_COPY_MEMSET, t0, t1, count, ADDR(dst), (uint64_t)value, 0, rc))
BODY(cudaMemsetAsync, MT_F_COPY, (void *dst, int value, size_t count, cudaStream_t s), (dst, value, count, s),
     mt__emit_copy(MT_API_cudaMemsetAsync, MT_COPY_MEMSET, t0, t1, count, ADDR(dst), (uint64_t)value, STREAM(s), rc))

/* ---- streams, events, sync, graphs --------------------------------------- */
#define CREATED(ps) (rc == 0 && (ps) ? STREAM(*(ps)) : 0)
BODY(cudaStreamCreate, MT_F_API, (cudaStream_t *ps), (ps),
     mt__emit_api(MT_R_STREAM, MT_API_cudaStreamCreate, t0, t1, CREATED(ps), 0, 0, rc))
BODY(cudaStreamCreateWithFlags, MT_F_API, (cudaStream_t *ps, unsigned int flags), (ps, flags),
     mt__emit_api(MT_R_STREAM, MT_API_cudaStreamCreate, t0, t1, CREATED(ps), flags, 0, rc))
BODY(cudaStreamCreateWithPriority, MT_F_API, (cudaStream_t *ps, unsigned int flags, int prio), (ps, flags, prio),
     mt__emit_api(MT_R_STREAM, MT_API_cudaStreamCreate, t0, t1, CREATED(ps), flags, (uint64_t)(int64_t)prio, rc))
BODY(cudaStreamSynchronize, MT_F_API, (cudaStream_t s), (s),
     mt__emit_api(MT_R_API, MT_API_cudaStreamSynchronize, t0, t1, STREAM(s), 0, 0, rc))
BODY(cudaStreamWaitEvent, MT_F_API, (cudaStream_t s, cudaEvent_t ev, unsigned int flags), (s, ev, flags),
     mt__emit_api(MT_R_API, MT_API_cudaStreamWaitEvent, t0, t1, STREAM(s), 0, 0, rc))
BODY(cudaDeviceSynchronize, MT_F_API, (), (),
     mt__emit_api(MT_R_API, MT_API_cudaDeviceSynchronize, t0, t1, 0, 0, 0, rc))
BODY(cudaEventRecord, MT_F_API, (cudaEvent_t ev, cudaStream_t s), (ev, s),
     mt__emit_api(MT_R_API, MT_API_cudaEventRecord, t0, t1, STREAM(s), 0, 0, rc))
BODY(cudaEventSynchronize, MT_F_API, (cudaEvent_t ev), (ev),
     mt__emit_api(MT_R_API, MT_API_cudaEventSynchronize, t0, t1, 0, 0, 0, rc))
BODY(cudaGraphLaunch, MT_F_API, (cudaGraphExec_t g, cudaStream_t s), (g, s),
     mt__emit_api(MT_R_API, MT_API_cudaGraphLaunch, t0, t1, STREAM(s), 0, 0, rc))

/* Not recorded: remembers the device for this thread's later events. */
static cudaError_t body_cudaSetDevice(fn_cudaSetDevice real, int dev)
{
  cudaError_t rc = real(dev);
  if (rc == 0)
    mt__t_device = dev;
  return rc;
}

/* ---- the exported symbols ---------------------------------------------------- */

#define MT_DEFINE(sym, body, fam, params, args)                                      \
  MT_EXPORT cudaError_t sym params;                                                  \
  MT_EXPORT cudaError_t sym params                                                   \
  {                                                                                  \
    fn_##sym f = real_##sym;                                                         \
    if (MT_UNLIKELY(!f)) {                                                           \
      f = (fn_##sym)mt__resolve(#sym);                                               \
      if (!f)                                                                        \
        return cudaErrorInitializationError;                                         \
      real_##sym = f;                                                                \
    }                                                                                \
    if (mt__t_in & ((fam) ? (fam) : MT_F_SELF))                                      \
      return f args;                                                                 \
    return body_##body((fn_##body)f MT_TAIL args);                                \
  }
MT_CUDART_HOOKS(MT_DEFINE)
#undef MT_DEFINE

/* Kernel names: the host stub registered by nvcc's generated code maps to
 * its device function.  Registration is not an event and does not start a
 * trace (every CUDA library registers its kernels at load). */
typedef void (*regfn_t)(void **, const char *, char *, const char *, int, uint3 *, uint3 *, dim3 *,
                        dim3 *, int *);
static regfn_t real_register;

MT_EXPORT void __cudaRegisterFunction(void **h, const char *hostFun, char *deviceFun,
                                      const char *deviceName, int tl, uint3 *tid, uint3 *bid,
                                      dim3 *bDim, dim3 *gDim, int *wSize);
MT_EXPORT void __cudaRegisterFunction(void **h, const char *hostFun, char *deviceFun,
                                      const char *deviceName, int tl, uint3 *tid, uint3 *bid,
                                      dim3 *bDim, dim3 *gDim, int *wSize)
{
  if (!real_register)
    real_register = (regfn_t)mt__resolve("__cudaRegisterFunction");
  if (!(mt__t_in & MT_F_SELF))
    mt__names_put(ADDR(hostFun), deviceName ? deviceName : deviceFun);
  if (real_register)
    real_register(h, hostFun, deviceFun, deviceName, tl, tid, bid, bDim, gDim, wSize);
}

void *mt__cudart_dlsym_wrap(const char *name, void *real)
{
#define MT_LOOKUP(sym, body, fam, params, args)    \
  if (strcmp(name, #sym) == 0) {                   \
    if (!real_##sym)                               \
      real_##sym = (fn_##sym)real;                 \
    return (void *)sym;                            \
  }
  MT_CUDART_HOOKS(MT_LOOKUP)
#undef MT_LOOKUP
  if (strcmp(name, "__cudaRegisterFunction") == 0) {
    if (!real_register)
      real_register = (regfn_t)real;
    return (void *)__cudaRegisterFunction;
  }
  return NULL;
}
