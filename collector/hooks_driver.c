/* CUDA driver hooks.  Statically linked cudart (nvcc's default), the shared
 * runtime and libraries like cuBLAS and NCCL reach the driver through
 * cuGetProcAddress, itself found with dlsym on the dlopen'ed libcuda.so.1;
 * so we interpose cuGetProcAddress (exported, through dlsym, and through
 * itself) and hand back a wrapper for every function of MT_DRIVER_HOOKS.
 * The same functions are also exported under their ABI names for programs
 * linked with -lcuda.
 *
 * Each entry has two wrappers and two real slots: [0] the default-stream
 * variant, [1] what cuGetProcAddress returns for
 * CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM (the _ptsz/_ptds ones). */
#define _GNU_SOURCE
#include "config.h"
#include <string.h>
#include <cuda.h>
#include "collector/hooks.h"

/* X(id, base name, ABI symbol, family, params, args) */
#define MT_DRIVER_HOOKS(X) \
  X(MemAlloc, "cuMemAlloc", "cuMemAlloc_v2", MT_F_MEM, (CUdeviceptr *dptr, size_t bytes), (dptr, bytes)) \
  X(MemFree, "cuMemFree", "cuMemFree_v2", MT_F_MEM, (CUdeviceptr dptr), (dptr)) \
  X(MemAllocAsync, "cuMemAllocAsync", "cuMemAllocAsync", MT_F_MEM, (CUdeviceptr *dptr, size_t bytes, CUstream s), (dptr, bytes, s)) \
  X(MemFreeAsync, "cuMemFreeAsync", "cuMemFreeAsync", MT_F_MEM, (CUdeviceptr dptr, CUstream s), (dptr, s)) \
  X(MemAllocManaged, "cuMemAllocManaged", "cuMemAllocManaged", MT_F_MEM, (CUdeviceptr *dptr, size_t bytes, unsigned int flags), (dptr, bytes, flags)) \
  X(MemAllocHost, "cuMemAllocHost", "cuMemAllocHost_v2", MT_F_MEM, (void **pp, size_t bytes), (pp, bytes)) \
  X(MemHostAlloc, "cuMemHostAlloc", "cuMemHostAlloc", MT_F_MEM, (void **pp, size_t bytes, unsigned int flags), (pp, bytes, flags)) \
  X(MemFreeHost, "cuMemFreeHost", "cuMemFreeHost", MT_F_MEM, (void *p), (p)) \
  X(MemAllocPitch, "cuMemAllocPitch", "cuMemAllocPitch_v2", MT_F_MEM, (CUdeviceptr *dptr, size_t *pitch, size_t w, size_t h, unsigned int esz), (dptr, pitch, w, h, esz)) \
  X(MemAddressReserve, "cuMemAddressReserve", "cuMemAddressReserve", MT_F_MEM, (CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags), (ptr, size, align, addr, flags)) \
  X(MemAddressFree, "cuMemAddressFree", "cuMemAddressFree", MT_F_MEM, (CUdeviceptr ptr, size_t size), (ptr, size)) \
  X(MemCreate, "cuMemCreate", "cuMemCreate", MT_F_MEM, (CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop, unsigned long long flags), (h, size, prop, flags)) \
  X(MemRelease, "cuMemRelease", "cuMemRelease", MT_F_MEM, (CUmemGenericAllocationHandle h), (h)) \
  X(MemMap, "cuMemMap", "cuMemMap", MT_F_MEM, (CUdeviceptr ptr, size_t size, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags), (ptr, size, off, h, flags)) \
  X(MemUnmap, "cuMemUnmap", "cuMemUnmap", MT_F_MEM, (CUdeviceptr ptr, size_t size), (ptr, size)) \
  X(LaunchKernel, "cuLaunchKernel", "cuLaunchKernel", MT_F_LAUNCH, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem, CUstream s, void **params, void **extra), (f, gx, gy, gz, bx, by, bz, smem, s, params, extra)) \
  X(LaunchKernelEx, "cuLaunchKernelEx", "cuLaunchKernelEx", MT_F_LAUNCH, (const CUlaunchConfig *cfg, CUfunction f, void **params, void **extra), (cfg, f, params, extra)) \
  X(Memcpy, "cuMemcpy", "cuMemcpy", MT_F_COPY, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n)) \
  X(MemcpyAsync, "cuMemcpyAsync", "cuMemcpyAsync", MT_F_COPY, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s)) \
  X(MemcpyHtoD, "cuMemcpyHtoD", "cuMemcpyHtoD_v2", MT_F_COPY, (CUdeviceptr dst, const void *src, size_t n), (dst, src, n)) \
  X(MemcpyDtoH, "cuMemcpyDtoH", "cuMemcpyDtoH_v2", MT_F_COPY, (void *dst, CUdeviceptr src, size_t n), (dst, src, n)) \
  X(MemcpyDtoD, "cuMemcpyDtoD", "cuMemcpyDtoD_v2", MT_F_COPY, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n)) \
  X(MemcpyHtoDAsync, "cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", MT_F_COPY, (CUdeviceptr dst, const void *src, size_t n, CUstream s), (dst, src, n, s)) \
  X(MemcpyDtoHAsync, "cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", MT_F_COPY, (void *dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s)) \
  X(MemcpyDtoDAsync, "cuMemcpyDtoDAsync", "cuMemcpyDtoDAsync_v2", MT_F_COPY, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s)) \
  X(MemsetD8, "cuMemsetD8", "cuMemsetD8_v2", MT_F_COPY, (CUdeviceptr dst, unsigned char v, size_t n), (dst, v, n)) \
  X(MemsetD32, "cuMemsetD32", "cuMemsetD32_v2", MT_F_COPY, (CUdeviceptr dst, unsigned int v, size_t n), (dst, v, n)) \
  X(MemsetD8Async, "cuMemsetD8Async", "cuMemsetD8Async", MT_F_COPY, (CUdeviceptr dst, unsigned char v, size_t n, CUstream s), (dst, v, n, s)) \
  X(MemsetD32Async, "cuMemsetD32Async", "cuMemsetD32Async", MT_F_COPY, (CUdeviceptr dst, unsigned int v, size_t n, CUstream s), (dst, v, n, s)) \
  X(ModuleGetFunction, "cuModuleGetFunction", "cuModuleGetFunction", 0, (CUfunction *hf, CUmodule m, const char *name), (hf, m, name)) \
  X(LibraryGetKernel, "cuLibraryGetKernel", "cuLibraryGetKernel", 0, (CUkernel *k, CUlibrary lib, const char *name), (k, lib, name))

#define MT_DECL(id, base, abi, fam, params, args) \
  typedef CUresult (*fn_##id) params; \
  static fn_##id real_##id[2];
MT_DRIVER_HOOKS(MT_DECL)
#undef MT_DECL

#define STREAM(s) ((uint64_t)(uintptr_t)(s))
#define ADDR(p) ((uint64_t)(uintptr_t)(p))
#define BODY(id, params) static CUresult body_##id(fn_##id real, MT_UNPACK params)

/* The common shapes of the timed bodies (MT_TIMED_BODY). */
#define TIMED(id, fam, params, args, RECORD) \
  MT_TIMED_BODY(CUresult, fn_##id, body_##id, fam, params, args, RECORD)
#define MEM_BODY(id, params, args, EMIT) TIMED(id, MT_F_MEM, params, args, EMIT)

#define OUT(p) (rc == CUDA_SUCCESS && (p) ? (uint64_t)*(p) : 0)

MEM_BODY(MemAlloc, (CUdeviceptr *dptr, size_t bytes), (dptr, bytes),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemAlloc, MT_MEM_KIND_DEVICE, t0, t1, OUT(dptr), bytes, 0, rc))
MEM_BODY(MemFree, (CUdeviceptr dptr), (dptr),
         mt__emit_mem(MT_MEM_FREE, MT_API_cuMemFree, MT_MEM_KIND_DEVICE, t0, t1, dptr, 0, 0, rc))
MEM_BODY(MemAllocAsync, (CUdeviceptr *dptr, size_t bytes, CUstream s), (dptr, bytes, s),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemAllocAsync, MT_MEM_KIND_ASYNC_POOL, t0, t1, OUT(dptr), bytes, STREAM(s), rc))
MEM_BODY(MemFreeAsync, (CUdeviceptr dptr, CUstream s), (dptr, s),
         mt__emit_mem(MT_MEM_FREE, MT_API_cuMemFreeAsync, MT_MEM_KIND_ASYNC_POOL, t0, t1, dptr, 0, STREAM(s), rc))
MEM_BODY(MemAllocManaged, (CUdeviceptr *dptr, size_t bytes, unsigned int flags), (dptr, bytes, flags),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemAllocManaged, MT_MEM_KIND_MANAGED, t0, t1, OUT(dptr), bytes, 0, rc))
MEM_BODY(MemAllocHost, (void **pp, size_t bytes), (pp, bytes),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemAllocHost, MT_MEM_KIND_HOST_PINNED, t0, t1, rc == 0 && pp ? ADDR(*pp) : 0, bytes, 0, rc))
MEM_BODY(MemHostAlloc, (void **pp, size_t bytes, unsigned int flags), (pp, bytes, flags),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemHostAlloc, MT_MEM_KIND_HOST_PINNED, t0, t1, rc == 0 && pp ? ADDR(*pp) : 0, bytes, 0, rc))
MEM_BODY(MemFreeHost, (void *p), (p),
         mt__emit_mem(MT_MEM_FREE, MT_API_cuMemFreeHost, MT_MEM_KIND_HOST_PINNED, t0, t1, ADDR(p), 0, 0, rc))
MEM_BODY(MemAllocPitch, (CUdeviceptr *dptr, size_t *pitch, size_t w, size_t h, unsigned int esz), (dptr, pitch, w, h, esz),
         mt__emit_mem(MT_MEM_ALLOC, MT_API_cuMemAllocPitch, MT_MEM_KIND_DEVICE, t0, t1, OUT(dptr), (rc == 0 && pitch ? *pitch : w) * h, 0, rc))
MEM_BODY(MemAddressReserve, (CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags), (ptr, size, align, addr, flags),
         mt__emit_mem(MT_MEM_VA_RESERVE, MT_API_cuMemAddressReserve, MT_MEM_KIND_VMM, t0, t1, OUT(ptr), size, 0, rc))
MEM_BODY(MemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size),
         mt__emit_mem(MT_MEM_VA_FREE, MT_API_cuMemAddressFree, MT_MEM_KIND_VMM, t0, t1, ptr, size, 0, rc))
MEM_BODY(MemCreate, (CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop, unsigned long long flags), (h, size, prop, flags),
         mt__emit_mem(MT_MEM_CREATE, MT_API_cuMemCreate, MT_MEM_KIND_VMM, t0, t1, OUT(h), size, 0, rc))
MEM_BODY(MemRelease, (CUmemGenericAllocationHandle h), (h),
         mt__emit_mem(MT_MEM_RELEASE, MT_API_cuMemRelease, MT_MEM_KIND_VMM, t0, t1, h, 0, 0, rc))
MEM_BODY(MemMap, (CUdeviceptr ptr, size_t size, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags), (ptr, size, off, h, flags),
         mt__emit_mem(MT_MEM_MAP, MT_API_cuMemMap, MT_MEM_KIND_VMM, t0, t1, ptr, size, 0, rc))
MEM_BODY(MemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size),
         mt__emit_mem(MT_MEM_UNMAP, MT_API_cuMemUnmap, MT_MEM_KIND_VMM, t0, t1, ptr, size, 0, rc))

TIMED(LaunchKernel, MT_F_LAUNCH, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                  unsigned bz, unsigned smem, CUstream s, void **params, void **extra),
      (f, gx, gy, gz, bx, by, bz, smem, s, params, extra),
      mt__emit_kernel(MT_API_cuLaunchKernel, 2, ADDR(f), t0, t1, gx, gy, gz, bx, by, bz, smem, STREAM(s), rc))
TIMED(LaunchKernelEx, MT_F_LAUNCH, (const CUlaunchConfig *cfg, CUfunction f, void **params, void **extra),
      (cfg, f, params, extra),
      if (cfg) mt__emit_kernel(MT_API_cuLaunchKernelEx, 2, ADDR(f), t0, t1, cfg->gridDimX, cfg->gridDimY,
                               cfg->gridDimZ, cfg->blockDimX, cfg->blockDimY, cfg->blockDimZ, cfg->sharedMemBytes,
                               STREAM(cfg->hStream), rc))

/* Copies: the schema's api enum has one value for driver copies (cuMemcpy)
 * and one for driver sets (cuMemsetD8_v2); the direction is in `kind`. */
#define COPY_BODY(id, params, args, API, KIND, BYTES, DST, SRC, S) \
  TIMED(id, MT_F_COPY, params, args, mt__emit_copy(API, KIND, t0, t1, BYTES, DST, SRC, S, rc))

COPY_BODY(Memcpy, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n), MT_API_cuMemcpy, MT_COPY_DEFAULT, n, dst, src, 0)
COPY_BODY(MemcpyAsync, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s), MT_API_cuMemcpy, MT_COPY_DEFAULT, n, dst, src, STREAM(s))
COPY_BODY(MemcpyHtoD, (CUdeviceptr dst, const void *src, size_t n), (dst, src, n), MT_API_cuMemcpy, MT_COPY_H2D, n, dst, ADDR(src), 0)
COPY_BODY(MemcpyDtoH, (void *dst, CUdeviceptr src, size_t n), (dst, src, n), MT_API_cuMemcpy, MT_COPY_D2H, n, ADDR(dst), src, 0)
COPY_BODY(MemcpyDtoD, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n), MT_API_cuMemcpy, MT_COPY_D2D, n, dst, src, 0)
COPY_BODY(MemcpyHtoDAsync, (CUdeviceptr dst, const void *src, size_t n, CUstream s), (dst, src, n, s), MT_API_cuMemcpy, MT_COPY_H2D, n, dst, ADDR(src), STREAM(s))
COPY_BODY(MemcpyDtoHAsync, (void *dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s), MT_API_cuMemcpy, MT_COPY_D2H, n, ADDR(dst), src, STREAM(s))
COPY_BODY(MemcpyDtoDAsync, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s), MT_API_cuMemcpy, MT_COPY_D2D, n, dst, src, STREAM(s))
COPY_BODY(MemsetD8, (CUdeviceptr dst, unsigned char v, size_t n), (dst, v, n), MT_API_cuMemsetD8, MT_COPY_MEMSET, n, dst, v, 0)
COPY_BODY(MemsetD32, (CUdeviceptr dst, unsigned int v, size_t n), (dst, v, n), MT_API_cuMemsetD8, MT_COPY_MEMSET, 4 * n, dst, v, 0)
COPY_BODY(MemsetD8Async, (CUdeviceptr dst, unsigned char v, size_t n, CUstream s), (dst, v, n, s), MT_API_cuMemsetD8, MT_COPY_MEMSET, n, dst, v, STREAM(s))
COPY_BODY(MemsetD32Async, (CUdeviceptr dst, unsigned int v, size_t n, CUstream s), (dst, v, n, s), MT_API_cuMemsetD8, MT_COPY_MEMSET, 4 * n, dst, v, STREAM(s))

/* Registration: remember which name a CUfunction / CUkernel has. */
BODY(ModuleGetFunction, (CUfunction *hf, CUmodule m, const char *name))
{
  CUresult rc = real(hf, m, name);
  if (rc == CUDA_SUCCESS && hf && *hf && name)
    mt__names_put(ADDR(*hf), name);
  return rc;
}

BODY(LibraryGetKernel, (CUkernel *k, CUlibrary lib, const char *name))
{
  CUresult rc = real(k, lib, name);
  if (rc == CUDA_SUCCESS && k && *k && name)
    mt__names_put(ADDR(*k), name);
  return rc;
}

/* ---- wrappers: [0] default stream, [1] per-thread default stream,
 *      and the exported ABI symbol (shares slot 0) ------------------------- */

#define MT_WRAP(id, base, abi, fam, params, args)                                  \
  static CUresult w0_##id params                                                  \
  {                                                                               \
    fn_##id mt_fn_ = real_##id[0];                                                     \
    if (MT_UNLIKELY(!mt_fn_))                                                          \
      return CUDA_ERROR_NOT_INITIALIZED;                                          \
    if (mt__t_in & ((fam) ? (fam) : MT_F_SELF))                                   \
      return mt_fn_ args;                                                              \
    return body_##id(mt_fn_ MT_TAIL args);                                          \
  }                                                                               \
  static CUresult w1_##id params                                                  \
  {                                                                               \
    fn_##id mt_fn_ = real_##id[1];                                                     \
    if (MT_UNLIKELY(!mt_fn_))                                                          \
      return CUDA_ERROR_NOT_INITIALIZED;                                          \
    if (mt__t_in & ((fam) ? (fam) : MT_F_SELF))                                   \
      return mt_fn_ args;                                                              \
    return body_##id(mt_fn_ MT_TAIL args);                                          \
  }                                                                               \
  MT_EXPORT CUresult mt_export_##id params __asm__(abi);                          \
  MT_EXPORT CUresult mt_export_##id params                                        \
  {                                                                               \
    if (MT_UNLIKELY(!real_##id[0])) {                                             \
      real_##id[0] = (fn_##id)mt__resolve(abi);                                   \
      if (!real_##id[0])                                                          \
        return CUDA_ERROR_NOT_INITIALIZED;                                        \
    }                                                                             \
    return w0_##id args;                                                          \
  }
MT_DRIVER_HOOKS(MT_WRAP)
#undef MT_WRAP

/* ---- cuGetProcAddress ------------------------------------------------------ */

typedef CUresult (*gpa2_t)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);
typedef CUresult (*gpa1_t)(const char *, void **, int, cuuint64_t);
static gpa2_t real_gpa2;
static gpa1_t real_gpa1;

static CUresult w_gpa2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status);
static CUresult w_gpa1(const char *symbol, void **pfn, int ver, cuuint64_t flags);

void *mt__driver_wrap(const char *name, void *real, int ptds)
{
  if (!name || !real)
    return NULL;
  if (mt__is_self(real) && strncmp(name, "cuGetProcAddress", 16) == 0)
    real = mt__resolve(name);
  if (!real)
    return NULL;
  if (strcmp(name, "cuGetProcAddress_v2") == 0) {
    if (!real_gpa2)
      real_gpa2 = (gpa2_t)real;
    return (void *)w_gpa2;
  }
  if (strcmp(name, "cuGetProcAddress") == 0) {
    if (!real_gpa1)
      real_gpa1 = (gpa1_t)real;
    return (void *)w_gpa1;
  }
  ptds = ptds ? 1 : 0;
  /* Our own export handed back (see mt__is_self): find the driver's. */
#define MT_LOOKUP(id, base, abi, fam, params, args)                               \
  if (strcmp(name, base) == 0 || strcmp(name, abi) == 0) {                        \
    if (mt__is_self(real))                                                        \
      real = mt__resolve(abi);                                                    \
    if (!real)                                                                    \
      return NULL;                                                                \
    if (!real_##id[ptds])                                                         \
      real_##id[ptds] = (fn_##id)real;                                            \
    return ptds ? (void *)w1_##id : (void *)w0_##id;                              \
  }
  MT_DRIVER_HOOKS(MT_LOOKUP)
#undef MT_LOOKUP
  return NULL;
}

/* Answers a cuGetProcAddress request: the real one first, then our
 * wrapper in place of what it returned. */
static void wrap_answer(const char *symbol, void **pfn, int ver, cuuint64_t flags)
{
  if (!pfn || !*pfn || ver < 4000)
    return;
  if (strcmp(symbol, "cuGetProcAddress") == 0 || strcmp(symbol, "cuGetProcAddress_v2") == 0) {
    /* the runtime asks for cuGetProcAddress itself: v2 from CUDA 12 on */
    if (mt__is_self(*pfn))
      return;   /* already ours */
    if (ver >= 12000) {
      if (!real_gpa2)
        real_gpa2 = (gpa2_t)*pfn;
      *pfn = (void *)w_gpa2;
    } else {
      if (!real_gpa1)
        real_gpa1 = (gpa1_t)*pfn;
      *pfn = (void *)w_gpa1;
    }
    return;
  }
  void *w = mt__driver_wrap(symbol, *pfn, (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0);
  if (w)
    *pfn = w;
}

static CUresult w_gpa2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status)
{
  if (!real_gpa2)
    return CUDA_ERROR_NOT_INITIALIZED;
  CUresult rc = real_gpa2(symbol, pfn, ver, flags, status);
  if (rc == CUDA_SUCCESS && symbol)
    wrap_answer(symbol, pfn, ver, flags);
  return rc;
}

static CUresult w_gpa1(const char *symbol, void **pfn, int ver, cuuint64_t flags)
{
  if (!real_gpa1)
    return CUDA_ERROR_NOT_INITIALIZED;
  CUresult rc = real_gpa1(symbol, pfn, ver, flags);
  if (rc == CUDA_SUCCESS && symbol)
    wrap_answer(symbol, pfn, ver, flags);
  return rc;
}

MT_EXPORT CUresult mt_export_gpa2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult *status) __asm__("cuGetProcAddress_v2");
MT_EXPORT CUresult mt_export_gpa2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult *status)
{
  if (!real_gpa2)
    real_gpa2 = (gpa2_t)mt__resolve("cuGetProcAddress_v2");
  return w_gpa2(symbol, pfn, ver, flags, status);
}

MT_EXPORT CUresult mt_export_gpa1(const char *symbol, void **pfn, int ver, cuuint64_t flags)
  __asm__("cuGetProcAddress");
MT_EXPORT CUresult mt_export_gpa1(const char *symbol, void **pfn, int ver, cuuint64_t flags)
{
  if (!real_gpa1)
    real_gpa1 = (gpa1_t)mt__resolve("cuGetProcAddress");
  return w_gpa1(symbol, pfn, ver, flags);
}

/* The real driver function `name` (base name), for the collector's own use
 * (cuFuncGetName in the drain, cuMemGetInfo after an OOM).  The caller
 * must be marked MT_F_SELF. */
void *mt__driver_real(const char *name)
{
  void *p = NULL;
  if (real_gpa2) {
    if (real_gpa2(name, &p, 12000, 0, NULL) == CUDA_SUCCESS && p)
      return p;
  } else if (real_gpa1) {
    if (real_gpa1(name, &p, 12000, 0) == CUDA_SUCCESS && p)
      return p;
  }
  return mt__resolve(name);
}

/* After an out-of-memory result: what the device says it has left. */
void mt__oom_info(int api, uint64_t requested)
{
#ifndef MT_NOP
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  static CUresult (*getinfo)(size_t *, size_t *);
  if (!getinfo)
    getinfo = (CUresult(*)(size_t *, size_t *))mt__driver_real("cuMemGetInfo");
  size_t fr = 0, tot = 0;
  int known = getinfo && getinfo(&fr, &tot) == CUDA_SUCCESS;
  mt__t_in = saved;
  uint64_t pos;
  unsigned n;
  mt_rec *r = mt__rec_start(MT_R_OOM_INFO, MT_D_MEM, 0, &pos, &n);
  if (!r)
    return;
  r->api = (int16_t)api;
  r->ts = mt__now();
  r->dur = 0;
  r->p[0] = fr;
  r->p[1] = tot;
  r->p[2] = requested;
  r->p[3] = (uint64_t)known;
  mt__rec_commit(pos, n);
#else
  (void)api; (void)requested;
#endif
}
