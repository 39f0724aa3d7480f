/* Library workspaces: the device buffers a caller lends cuBLAS, cuBLASLt
 * and cuDNN.  A framework (PyTorch) allocates them from its own caching
 * allocator, so the allocation carries no trace of the library; what says
 * "this range is a workspace" is the public call that hands it over:
 *
 *   cublasSetWorkspace_v2(handle, ptr, bytes)     until reset or destroy
 *   cublasLtMatmul(..., workspace, bytes, stream) for that call
 *   cudnnBackendExecute(handle, plan, varpack)    the variant pack's
 *        CUDNN_ATTR_VARIANT_PACK_WORKSPACE, sized by the plan's
 *        CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE
 *
 * Each successful call with a non-empty workspace is one mem_events row,
 * op `workspace` (context blas or dnn); the analyzer files the block that
 * holds that address under `workspace` (rule library_workspace).  Nothing
 * here depends on a library's or a kernel's name.
 *
 * cuDNN's header is not part of the CUDA toolkit: its few types are
 * declared here (the enum values are cuDNN 9's stable ABI). */
#define _GNU_SOURCE
#include "config.h"
#include <stdint.h>
#include <string.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#include <cublas_v2.h>
#pragma GCC diagnostic pop
#include "collector/hooks.h"

typedef int mt__cudnn_status;   /* cudnnStatus_t; 0 = CUDNN_STATUS_SUCCESS */
typedef void *mt__cudnn_desc;   /* cudnnBackendDescriptor_t */
typedef void *mt__cudnn_handle; /* cudnnHandle_t */
enum {
  MT__CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE = 402,
  MT__CUDNN_ATTR_VARIANT_PACK_WORKSPACE = 1003,
  MT__CUDNN_TYPE_INT64 = 3,
  MT__CUDNN_TYPE_VOID_PTR = 6,
};
typedef mt__cudnn_status (*mt__cudnn_getattr_fn)(mt__cudnn_desc, int, int, int64_t, int64_t *, void *);

/* X(ret, symbol, params, args) */
#define MT_LIB_HOOKS(X) \
  X(cublasStatus_t, cublasSetWorkspace_v2, (cublasHandle_t h, void *ws, size_t bytes), (h, ws, bytes)) \
  X(cublasStatus_t, cublasLtMatmul, (cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha, \
     const void *A, cublasLtMatrixLayout_t Ad, const void *B, cublasLtMatrixLayout_t Bd, const void *beta, \
     const void *C, cublasLtMatrixLayout_t Cd, void *D, cublasLtMatrixLayout_t Dd, \
     const cublasLtMatmulAlgo_t *algo, void *ws, size_t bytes, cudaStream_t s), \
    (h, desc, alpha, A, Ad, B, Bd, beta, C, Cd, D, Dd, algo, ws, bytes, s)) \
  X(mt__cudnn_status, cudnnBackendExecute, (mt__cudnn_handle h, mt__cudnn_desc plan, mt__cudnn_desc vp), \
    (h, plan, vp))

#define MT_DECL(ret, sym, params, args) \
  typedef ret (*fn_##sym) params; \
  static fn_##sym real_##sym;
MT_LIB_HOOKS(MT_DECL)
#undef MT_DECL

#define PTR(p) ((uint64_t)(uintptr_t)(p))

static void emit_ws(int api, int context, int64_t t0, int64_t t1, uint64_t addr, uint64_t size, uint64_t stream)
{
#ifndef MT_NOP
  if (!addr || !size)
    return;   /* no workspace (or a reset to the library's own pool) */
  uint64_t pos;
  unsigned n;
  mt_rec *r = mt__rec_start(MT_R_MEM, MT_D_MEM, 1, &pos, &n);
  if (!r)
    return;
  r->op = MT_MEM_WORKSPACE;
  r->api = (int16_t)api;
  r->kind = MT_MEM_KIND_DEVICE;
  r->ts = t0;
  r->dur = t1 - t0;
  r->p[0] = addr;
  r->p[1] = size;
  r->p[2] = stream;
  r->p[3] = (uint64_t)context;
  r->result = 0;
  mt__rec_commit(pos, n);
#else
  (void)api; (void)context; (void)t0; (void)t1; (void)addr; (void)size; (void)stream;
#endif
}

#define ENTER() MT_TOUCH(); MT_ENTER(MT_F_LIB); int64_t t0 = MT_NOW()
#define LEAVE() int64_t t1 = MT_NOW(); int e = errno; MT_LEAVE(MT_F_LIB)

static cublasStatus_t body_cublasSetWorkspace_v2(fn_cublasSetWorkspace_v2 real, cublasHandle_t h, void *ws,
                                                 size_t bytes)
{
  ENTER();
  cublasStatus_t rc = real(h, ws, bytes);
  LEAVE();
  if (rc == CUBLAS_STATUS_SUCCESS)
    emit_ws(MT_API_cublasSetWorkspace, MT_CTX_BLAS, t0, t1, PTR(ws), bytes, 0);
  errno = e;
  return rc;
}

static cublasStatus_t body_cublasLtMatmul(fn_cublasLtMatmul real, cublasLtHandle_t h, cublasLtMatmulDesc_t desc,
                                          const void *alpha, const void *A, cublasLtMatrixLayout_t Ad,
                                          const void *B, cublasLtMatrixLayout_t Bd, const void *beta,
                                          const void *C, cublasLtMatrixLayout_t Cd, void *D,
                                          cublasLtMatrixLayout_t Dd, const cublasLtMatmulAlgo_t *algo, void *ws,
                                          size_t bytes, cudaStream_t s)
{
  ENTER();
  cublasStatus_t rc = real(h, desc, alpha, A, Ad, B, Bd, beta, C, Cd, D, Dd, algo, ws, bytes, s);
  LEAVE();
  if (rc == CUBLAS_STATUS_SUCCESS)
    emit_ws(MT_API_cublasLtMatmul, MT_CTX_BLAS, t0, t1, PTR(ws), bytes, PTR(s));
  errno = e;
  return rc;
}

#ifndef MT_NOP
/* The variant pack's workspace and the plan's size, asked of the library
 * that executes them (before the call: a pack may be destroyed by a
 * callback of another thread right after it). */
static void cudnn_workspace(mt__cudnn_desc plan, mt__cudnn_desc vp, uint64_t *addr, uint64_t *size)
{
  static mt__cudnn_getattr_fn get;
  *addr = *size = 0;
  if (!get)
    get = (mt__cudnn_getattr_fn)mt__resolve("cudnnBackendGetAttribute");
  if (!get || !vp)
    return;
  int64_t n = 0, bytes = 0;
  void *ws = NULL;
  unsigned keep = mt__t_in;
  mt__t_in = MT_F_SELF;   /* the query is the collector's own call */
  if (get(vp, MT__CUDNN_ATTR_VARIANT_PACK_WORKSPACE, MT__CUDNN_TYPE_VOID_PTR, 1, &n, &ws) == 0 && n == 1 && ws) {
    n = 0;
    if (!plan || get(plan, MT__CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, MT__CUDNN_TYPE_INT64, 1, &n, &bytes) != 0 ||
        n != 1 || bytes < 0)
      bytes = 1;   /* size unknown: the block at that address is still the workspace */
    *addr = PTR(ws);
    *size = (uint64_t)bytes;
  }
  mt__t_in = keep;
}
#endif

static mt__cudnn_status body_cudnnBackendExecute(fn_cudnnBackendExecute real, mt__cudnn_handle h,
                                                 mt__cudnn_desc plan, mt__cudnn_desc vp)
{
  uint64_t addr = 0, size = 0;
#ifndef MT_NOP
  cudnn_workspace(plan, vp, &addr, &size);
#endif
  ENTER();
  mt__cudnn_status rc = real(h, plan, vp);
  LEAVE();
  if (rc == 0)
    emit_ws(MT_API_cudnnBackendExecute, MT_CTX_DNN, t0, t1, addr, size, 0);
  errno = e;
  return rc;
}

/* A failed resolution answers the library's "not initialized" status. */
#define MT_FAIL_cublasStatus_t CUBLAS_STATUS_NOT_INITIALIZED
#define MT_FAIL_mt__cudnn_status 1   /* CUDNN_STATUS_NOT_INITIALIZED */

#define MT_DEFINE(ret, sym, params, args)                         \
  MT_EXPORT ret sym params;                                       \
  MT_EXPORT ret sym params                                        \
  {                                                               \
    fn_##sym f = real_##sym;                                      \
    if (MT_UNLIKELY(!f)) {                                        \
      f = (fn_##sym)mt__resolve(#sym);                            \
      if (!f)                                                     \
        return MT_FAIL_##ret;                                     \
      real_##sym = f;                                             \
    }                                                             \
    if (mt__t_in & MT_F_LIB)                                      \
      return f args;                                              \
    return body_##sym(f MT_TAIL args);                            \
  }
MT_LIB_HOOKS(MT_DEFINE)
#undef MT_DEFINE

/* dlsym of a hooked name: the wrapper, forwarding to what dlsym found. */
void *mt__libs_dlsym_wrap(const char *name, void *real)
{
#define MT_LOOKUP(ret, sym, params, args)           \
  if (strcmp(name, #sym) == 0) {                    \
    if (!real_##sym)                                \
      real_##sym = (fn_##sym)real;                  \
    return (void *)sym;                             \
  }
  MT_LIB_HOOKS(MT_LOOKUP)
#undef MT_LOOKUP
  return NULL;
}
