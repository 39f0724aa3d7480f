/* NCCL hooks: communicators (init/destroy, with a digest of the unique id
 * that is equal in every rank of a communicator), collectives and
 * point-to-point calls (count, dtype, bytes, peer/root, comm, stream), and
 * group start/end.  An NCCL call marks the thread as inside LAUNCH and COPY
 * too, so the kernels and copies NCCL issues are its nccl_calls row; the
 * device memory it allocates (communicator buffers) is recorded. */
#define _GNU_SOURCE
#include "config.h"
#include <string.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop
#include "collector/hooks.h"

#define NCCL_FAM (MT_F_NCCL | MT_F_LAUNCH | MT_F_COPY)

/* X(symbol, params, args) */
#define MT_NCCL_HOOKS(X) \
  X(ncclCommInitRank, (ncclComm_t *comm, int nranks, ncclUniqueId id, int rank), (comm, nranks, id, rank)) \
  X(ncclCommInitRankConfig, (ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *cfg), (comm, nranks, id, rank, cfg)) \
  X(ncclCommInitAll, (ncclComm_t *comm, int ndev, const int *devlist), (comm, ndev, devlist)) \
  X(ncclCommDestroy, (ncclComm_t comm), (comm)) \
  X(ncclCommAbort, (ncclComm_t comm), (comm)) \
  X(ncclAllReduce, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, comm, s)) \
  X(ncclReduceScatter, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, comm, s)) \
  X(ncclAllGather, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, comm, s)) \
  X(ncclBroadcast, (const void *sb, void *rb, size_t count, ncclDataType_t dt, int root, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, root, comm, s)) \
  X(ncclReduce, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, root, comm, s)) \
  X(ncclAlltoAll, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, comm, s)) \
  X(ncclSend, (const void *sb, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t s), (sb, count, dt, peer, comm, s)) \
  X(ncclRecv, (void *rb, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t s), (rb, count, dt, peer, comm, s)) \
  X(ncclGroupStart, (void), ()) \
  X(ncclGroupEnd, (void), ())

#define MT_DECL(sym, params, args) \
  typedef ncclResult_t (*fn_##sym) params; \
  static fn_##sym real_##sym;
MT_NCCL_HOOKS(MT_DECL)
#undef MT_DECL

#define PTR(p) ((uint64_t)(uintptr_t)(p))
#define BODY(sym, params) static ncclResult_t body_##sym(fn_##sym real, MT_UNPACK params)

static void emit_call(int op, int64_t t0, int64_t t1, ncclComm_t comm, size_t count, int dt,
                      int peer, cudaStream_t s, int result)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  uint32_t corr = mt__t_corr;   /* first kernel/copy the call launched */
  mt__t_corr = 0;
  mt_rec *r = mt__rec_start(MT_R_NCCL, MT_D_NCCL, 1, &pos, &n);
  if (!r)
    return;
  r->op = (uint8_t)op;
  r->api = MT_API_nccl;
  r->ts = t0;
  r->dur = t1 - t0;
  r->corr = corr;
  (void)result;
  r->p[0] = PTR(comm);
  r->p[1] = count;
  r->p[2] = (uint64_t)(dt & 0xff) | (uint64_t)(uint32_t)peer << 8;
  r->p[3] = PTR(s);
  mt__rec_commit(pos, n);
#else
  (void)op; (void)t0; (void)t1; (void)comm; (void)count; (void)dt; (void)peer; (void)s; (void)result;
#endif
}

/* 128-bit FNV-1a-style digest of the unique id, as two 64-bit halves. */
static void digest(const ncclUniqueId *id, uint64_t out[2])
{
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (size_t i = 0; i < sizeof id->internal; i++) {
    a = (a ^ (unsigned char)id->internal[i]) * 0x100000001b3ull;
    b = (b ^ (unsigned char)id->internal[sizeof id->internal - 1 - i]) * 0x100000001b3ull;
  }
  out[0] = a;
  out[1] = b;
}

static void emit_comm(int op, int64_t t, ncclComm_t comm, const uint64_t dg[2], int nranks, int rank)
{
#ifndef MT_NOP
  uint64_t pos;
  unsigned n;
  mt_rec *r = mt__rec_start(MT_R_COMM, MT_D_NCCL, 0, &pos, &n);
  if (!r)
    return;
  r->op = (uint8_t)op;
  r->ts = t;
  r->dur = 0;
  r->p[0] = PTR(comm);
  r->p[1] = dg ? dg[0] : 0;
  r->p[2] = dg ? dg[1] : 0;
  r->p[3] = (uint64_t)(uint32_t)nranks | (uint64_t)(uint32_t)rank << 32;
  mt__rec_commit(pos, n);
#else
  (void)op; (void)t; (void)comm; (void)dg; (void)nranks; (void)rank;
#endif
}

#define ENTER() MT_TOUCH(); MT_ENTER(NCCL_FAM); mt__t_corr = 0; int64_t t0 = MT_NOW()
#define LEAVE() int64_t t1 = MT_NOW(); int e = errno; MT_LEAVE(NCCL_FAM); (void)t1

BODY(ncclCommInitRank, (ncclComm_t *comm, int nranks, ncclUniqueId id, int rank))
{
  ENTER();
  ncclResult_t rc = real(comm, nranks, id, rank);
  LEAVE();
  uint64_t dg[2];
  digest(&id, dg);
  if (rc == ncclSuccess && comm)
    emit_comm(1, t0, *comm, dg, nranks, rank);
  errno = e;
  return rc;
}

BODY(ncclCommInitRankConfig, (ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *cfg))
{
  ENTER();
  ncclResult_t rc = real(comm, nranks, id, rank, cfg);
  LEAVE();
  uint64_t dg[2];
  digest(&id, dg);
  if ((rc == ncclSuccess || rc == ncclInProgress) && comm)
    emit_comm(1, t0, *comm, dg, nranks, rank);
  errno = e;
  return rc;
}

BODY(ncclCommInitAll, (ncclComm_t *comm, int ndev, const int *devlist))
{
  ENTER();
  ncclResult_t rc = real(comm, ndev, devlist);
  LEAVE();
  if (rc == ncclSuccess && comm) {
    /* one process, ndev ranks: a digest made of the first handle */
    uint64_t dg[2] = { PTR(comm[0]), (uint64_t)ndev };
    for (int i = 0; i < ndev; i++)
      emit_comm(1, t0, comm[i], dg, ndev, i);
  }
  errno = e;
  return rc;
}

BODY(ncclCommDestroy, (ncclComm_t comm))
{
  ENTER();
  emit_comm(2, t0, comm, NULL, 0, 0);   /* recorded before the release */
  ncclResult_t rc = real(comm);
  LEAVE();
  errno = e;
  return rc;
}

BODY(ncclCommAbort, (ncclComm_t comm))
{
  ENTER();
  emit_comm(2, t0, comm, NULL, 0, 0);
  ncclResult_t rc = real(comm);
  LEAVE();
  errno = e;
  return rc;
}

#define COLL(sym, OP, params, args, COUNT, DT, PEER, COMM, S) \
  BODY(sym, params)                                           \
  {                                                           \
    ENTER();                                                  \
    ncclResult_t rc = real args;                              \
    LEAVE();                                                  \
    emit_call(OP, t0, t1, COMM, COUNT, DT, PEER, S, rc);      \
    errno = e;                                                \
    return rc;                                                \
  }

COLL(ncclAllReduce, MT_NCCL_ALLREDUCE, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, comm, s), count, dt, -1, comm, s)
COLL(ncclReduceScatter, MT_NCCL_REDUCESCATTER, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, comm, s), count, dt, -1, comm, s)
COLL(ncclAllGather, MT_NCCL_ALLGATHER, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, comm, s), count, dt, -1, comm, s)
COLL(ncclBroadcast, MT_NCCL_BROADCAST, (const void *sb, void *rb, size_t count, ncclDataType_t dt, int root, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, root, comm, s), count, dt, root, comm, s)
COLL(ncclReduce, MT_NCCL_REDUCE, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, op, root, comm, s), count, dt, root, comm, s)
COLL(ncclAlltoAll, MT_NCCL_ALLTOALL, (const void *sb, void *rb, size_t count, ncclDataType_t dt, ncclComm_t comm, cudaStream_t s), (sb, rb, count, dt, comm, s), count, dt, -1, comm, s)
COLL(ncclSend, MT_NCCL_SEND, (const void *sb, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t s), (sb, count, dt, peer, comm, s), count, dt, peer, comm, s)
COLL(ncclRecv, MT_NCCL_RECV, (void *rb, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t s), (rb, count, dt, peer, comm, s), count, dt, peer, comm, s)
static ncclResult_t body_ncclGroupStart(fn_ncclGroupStart real)
{
  ENTER();
  ncclResult_t rc = real();
  LEAVE();
  emit_call(MT_NCCL_GROUP_START, t0, t1, NULL, 0, 0, -1, NULL, rc);
  errno = e;
  return rc;
}

static ncclResult_t body_ncclGroupEnd(fn_ncclGroupEnd real)
{
  ENTER();
  ncclResult_t rc = real();
  LEAVE();
  emit_call(MT_NCCL_GROUP_END, t0, t1, NULL, 0, 0, -1, NULL, rc);
  errno = e;
  return rc;
}

#define MT_DEFINE(sym, params, args)                              \
  MT_EXPORT ncclResult_t sym params;                              \
  MT_EXPORT ncclResult_t sym params                               \
  {                                                               \
    fn_##sym f = real_##sym;                                      \
    if (MT_UNLIKELY(!f)) {                                        \
      f = (fn_##sym)mt__resolve(#sym);                            \
      if (!f)                                                     \
        return ncclSystemError;                                   \
      real_##sym = f;                                             \
    }                                                             \
    if (mt__t_in & MT_F_NCCL)                                     \
      return f args;                                              \
    return body_##sym(f MT_TAIL args);                         \
  }
MT_NCCL_HOOKS(MT_DEFINE)
#undef MT_DEFINE

void *mt__nccl_dlsym_wrap(const char *name, void *real)
{
#define MT_LOOKUP(sym, params, args)                \
  if (strcmp(name, #sym) == 0) {                    \
    if (!real_##sym)                                \
      real_##sym = (fn_##sym)real;                  \
    return (void *)sym;                             \
  }
  MT_NCCL_HOOKS(MT_LOOKUP)
#undef MT_LOOKUP
  return NULL;
}
