/* Shared helpers of the hook files (hooks_cudart.c, hooks_driver.c,
 * hooks_nccl.c, hooks_nvtx.c): entering/leaving a family, and writing the
 * common record kinds.  Every helper is inline and touches only this
 * thread's ring. */
#ifndef MT_HOOKS_H
#define MT_HOOKS_H

#include <errno.h>
#include "collector/collector.h"
#include "schemas/enums.h"

#define MT_UNPACK(...) __VA_ARGS__
/* ", a, b" from "(a, b)", nothing from "()" (GNU comma swallowing). */
#define MT_TAIL(...) , ##__VA_ARGS__

#ifdef MT_NOP
/* The no-op collector: same hooks, same guards, nothing recorded. */
#define MT_NOW() ((int64_t)0)
#define MT_TOUCH() ((void)0)
#else
#define MT_NOW() mt__now()
#define MT_TOUCH() mt__touch()
#endif

/* Inside a hook body: the thread is now in family f (nested calls of the
 * same family forward only). */
#define MT_ENTER(f) (mt__t_in |= (f))
#define MT_LEAVE(f) (mt__t_in &= ~(unsigned)(f))

/* The body every timed hook shares: the family guard, the times around the
 * real call, errno kept from the real call.  RECORD is the statement that
 * records it, with t0, t1 and rc in scope.  `params` is "()" for a function
 * of no arguments (not "(void)"). */
#define MT_TIMED_BODY(ret_t, fn_t, name, fam, params, args, RECORD) \
  static ret_t name(fn_t real MT_TAIL params)                       \
  {                                                                 \
    MT_TOUCH();                                                     \
    MT_ENTER(fam);                                                  \
    int64_t t0 = MT_NOW();                                          \
    ret_t rc = real args;                                           \
    int64_t t1 = MT_NOW();                                          \
    int e = errno;                                                  \
    MT_LEAVE(fam);                                                  \
    RECORD;                                                         \
    errno = e;                                                      \
    return rc;                                                      \
  }

#define MT_OOM 2   /* cudaErrorMemoryAllocation == CUDA_ERROR_OUT_OF_MEMORY */

MT_HIDDEN void mt__oom_info(int api, uint64_t requested);

static inline void mt__emit_mem(int op, int api, int kind, int64_t t0, int64_t t1, uint64_t addr,
                                uint64_t size, uint64_t stream, int result)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  mt_rec *r = mt__rec_start(MT_R_MEM, MT_D_MEM, 1, &pos, &n);
  if (!r)
    return;
  r->op = (uint8_t)op;
  r->api = (int16_t)api;
  r->kind = (uint8_t)kind;
  r->ts = t0;
  r->dur = t1 - t0;
  r->p[0] = result == 0 ? addr : 0;
  r->p[1] = size;
  r->p[2] = stream;
  r->p[3] = (mt__t_in & MT_F_NCCL) ? MT_CTX_NCCL : MT_CTX_APP;
  r->result = result;
  mt__rec_commit(pos, n);
  if (MT_UNLIKELY(result == MT_OOM && (op == MT_MEM_ALLOC || op == MT_MEM_CREATE)))
    mt__oom_info(api, size);
#else
  (void)op; (void)api; (void)kind; (void)t0; (void)t1; (void)addr; (void)size; (void)stream;
  (void)result;
#endif
}

static inline void mt__emit_kernel(int api, int keykind, uint64_t key, int64_t t0, int64_t t1,
                                   unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, unsigned smem, uint64_t stream, int result)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  uint32_t corr = mt__t_corr;
  mt__t_corr = 0;
  mt_rec *r = mt__rec_start(MT_R_KERNEL, MT_D_KERNEL, 1, &pos, &n);
  if (!r)
    return;
  r->api = (int16_t)api;
  /* bit 7: the launch failed, so the drain must not hand the key (perhaps
     garbage) to the driver to name it */
  r->kind = (uint8_t)(keykind | (result ? 0x80 : 0));
  r->ts = t0;
  r->dur = t1 - t0;
  r->corr = corr;   /* the launch's result is not stored; the slot carries the correlation id */
  r->p[0] = key;
  r->p[1] = stream;
  r->p[2] = (uint64_t)gx | (uint64_t)(gy & 0xffff) << 32 | (uint64_t)(gz & 0xffff) << 48;
  r->p[3] = (uint64_t)(bx & 0x7ff) | (uint64_t)(by & 0x7ff) << 11 | (uint64_t)(bz & 0x3ff) << 22 |
            (uint64_t)smem << 32;
  mt__rec_commit(pos, n);
#else
  (void)api; (void)keykind; (void)key; (void)t0; (void)t1; (void)gx; (void)gy; (void)gz;
  (void)bx; (void)by; (void)bz; (void)smem; (void)stream; (void)result;
#endif
}

static inline void mt__emit_copy(int api, int kind, int64_t t0, int64_t t1, uint64_t bytes,
                                 uint64_t dst, uint64_t src, uint64_t stream, int result)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  uint32_t corr = mt__t_corr;
  mt__t_corr = 0;
  mt_rec *r = mt__rec_start(MT_R_MEMCPY, MT_D_MEMCPY, 0, &pos, &n);
  if (!r)
    return;
  r->api = (int16_t)api;
  r->kind = (uint8_t)kind;
  r->ts = t0;
  r->dur = t1 - t0;
  r->corr = corr;
  (void)result;
  r->p[0] = bytes;
  r->p[1] = dst;
  r->p[2] = src;
  r->p[3] = stream;
  mt__rec_commit(pos, n);
#else
  (void)api; (void)kind; (void)t0; (void)t1; (void)bytes; (void)dst; (void)src; (void)stream;
  (void)result;
#endif
}

/* type MT_R_API or MT_R_STREAM (p1 flags, p2 priority). */
static inline void mt__emit_api(int type, int api, int64_t t0, int64_t t1, uint64_t stream,
                                uint64_t p1, uint64_t p2, int result)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  mt_rec *r = mt__rec_start(type, MT_D_API, 0, &pos, &n);
  if (!r)
    return;
  r->api = (int16_t)api;
  r->ts = t0;
  r->dur = t1 - t0;
  r->result = result;
  r->p[0] = stream;
  r->p[1] = p1;
  r->p[2] = p2;
  r->p[3] = 0;
  mt__rec_commit(pos, n);
#else
  (void)type; (void)api; (void)t0; (void)t1; (void)stream; (void)p1; (void)p2; (void)result;
#endif
}

#endif
