/* Simulated NCCL: internal declarations shared by the files of libnccl.so.2.
 *
 * Layout of the library:
 *   api.c      the public NCCL entry points, communicators, groups, errors
 *   shm.c      the POSIX shared-memory rendezvous, barrier, pair rings
 *   coll.c     the collectives and point-to-point data paths over shm
 *   reduce.c   element-wise reductions for every ncclDataType_t
 *   driver.c   libcuda.so.1 through cuGetProcAddress: NCCL's device buffers
 *
 * Nothing here is exported; the exported symbols are the NCCL API (nccl.h)
 * and the ground-truth queries of simnccl.h. */
#ifndef MT_SIM_NCCL_INT_H
#define MT_SIM_NCCL_INT_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NCCL_API __attribute__((visibility("default")))

/* ---- unique id: what ncclGetUniqueId writes into ncclUniqueId ---------- */
#define MT__ID_MAGIC "MTSIMNCCL1"
struct mt__uid {
	char magic[16];        /* MT__ID_MAGIC, NUL padded */
	char shm_name[64];     /* "/mtsimnccl.<pid>.<32 hex>" */
};
_Static_assert(sizeof(struct mt__uid) <= NCCL_UNIQUE_ID_BYTES, "uid fits");

/* ---- shared segment ----------------------------------------------------- */
#define MT__SHM_READY 0x4d54534eu /* "MTSN" */
#define MT__SHM_VERSION 1u

struct mt__ring {                   /* one ordered (src, dst) pair */
	_Atomic uint64_t written;       /* bytes the sender has put in, ever */
	_Atomic uint64_t read;          /* bytes the receiver has taken, ever */
	char pad[48];
};

struct mt__rank_info {
	_Atomic int joined;
	pid_t pid;
	int cudev;
	int node;                       /* simulated node (host) of the rank */
};

struct mt__shm {
	_Atomic uint32_t ready;         /* MT__SHM_READY once initialised */
	uint32_t version;
	int nranks;
	int pad0;
	size_t total_bytes;
	size_t half_bytes;              /* one half of a rank's collective slot */
	size_t ring_bytes;              /* bytes of one pair ring */
	size_t off_info, off_slots, off_rings, off_ringdata;
	pthread_mutex_t mu;             /* process-shared, robust */
	pthread_cond_t cv;              /* process-shared, CLOCK_MONOTONIC */
	int joined;                     /* ranks arrived so far (under mu) */
	int bar_count;                  /* ranks inside the current barrier */
	uint64_t bar_gen;               /* barrier generation */
	_Atomic uint64_t change_seq;    /* bumped on every notify */
	_Atomic int broken;             /* a rank timed out, aborted or died */
	char broken_msg[256];
};

/* ---- a communicator (process-local) ------------------------------------- */
struct ncclComm {
	int rank, nranks, cudev, node;
	struct mt__shm *shm;
	size_t map_bytes;
	char shm_name[64];
	uint64_t step;                  /* collective steps done, same on all ranks */
	/* device buffers allocated through the driver */
	int ndev_bufs;
	CUdeviceptr *dev_bufs;
	size_t *dev_sizes;
	size_t dev_bytes;
	int nchannels;
	size_t buffsize, fifo_bytes;
	char last_error[512];
	int destroyed;
	/* ncclRedOpCreatePreMulSum ops: ncclNumOps + i */
	struct mt__premul {
		int used, residence;
		ncclDataType_t dtype;
		const void *ptr;        /* ncclScalarDevice: read at each use */
		double value;           /* ncclScalarHostImmediate: read at creation */
	} premul[32];
};

/* ---- errors ------------------------------------------------------------- */
/* Record a message as the calling thread's last error (and the comm's). */
void mt__set_error(struct ncclComm *comm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- configuration (env) ------------------------------------------------ */
double mt__timeout_s(void);                 /* MT_SIM_NCCL_TIMEOUT, default 60 */

/* ---- shm.c -------------------------------------------------------------- */
ncclResult_t mt__shm_join(struct ncclComm *comm, const struct mt__uid *uid);
void mt__shm_leave(struct ncclComm *comm, int abort);
ncclResult_t mt__barrier(struct ncclComm *comm);
/* Wait until change_seq differs from seen (or timeout / broken). */
ncclResult_t mt__wait_change(struct ncclComm *comm, uint64_t seen, double deadline);
void mt__notify(struct ncclComm *comm);
void mt__mark_broken(struct ncclComm *comm, const char *msg);
double mt__now(void);
static inline char *mt__slot(struct ncclComm *c, int rank, int half)
{
	return (char *)c->shm + c->shm->off_slots +
	       ((size_t)rank * 2 + (size_t)half) * c->shm->half_bytes;
}
static inline int mt__rank_node(struct ncclComm *c, int rank)
{
	return ((struct mt__rank_info *)((char *)c->shm + c->shm->off_info) + rank)->node;
}
/* The simulated node of this process (README.md, "Nodes"). */
int mt__sim_node(void);
static inline struct mt__ring *mt__ring(struct ncclComm *c, int src, int dst)
{
	return (struct mt__ring *)((char *)c->shm + c->shm->off_rings) +
	       (size_t)src * (size_t)c->nranks + (size_t)dst;
}
static inline char *mt__ringdata(struct ncclComm *c, int src, int dst)
{
	return (char *)c->shm + c->shm->off_ringdata +
	       ((size_t)src * (size_t)c->nranks + (size_t)dst) * c->shm->ring_bytes;
}

/* ---- reduce.c ----------------------------------------------------------- */
size_t mt__type_size(ncclDataType_t t);     /* 0 for an unknown type */
int mt__type_reducible(ncclDataType_t t);
/* acc[i] = op(acc[i], src[i]) for i < count; avg reduces like sum. */
void mt__reduce(void *acc, const void *src, size_t count, ncclDataType_t t, ncclRedOp_t op);
/* buf[i] /= n for ncclAvg, after the sum. */
void mt__divide(void *buf, size_t count, ncclDataType_t t, int n);
/* buf[i] *= s for a PreMulSum op, after the sum. */
void mt__scale(void *buf, size_t count, ncclDataType_t t, double s);
double mt__scalar_value(const void *p, ncclDataType_t t);
float mt__half_to_float(uint16_t h);
uint16_t mt__float_to_half(float f);
float mt__bf16_to_float(uint16_t h);
uint16_t mt__float_to_bf16(float f);

/* ---- coll.c ------------------------------------------------------------- */
enum mt__op_kind { MT__ALLREDUCE, MT__REDUCESCATTER, MT__ALLGATHER, MT__BROADCAST,
		   MT__REDUCE, MT__SEND, MT__RECV };
struct mt__op {
	enum mt__op_kind kind;
	const void *sendbuff;
	void *recvbuff;
	size_t count;                   /* per NCCL's argument of that call */
	ncclDataType_t dtype;
	ncclRedOp_t redop;
	int root;                       /* root, or peer for send/recv */
	struct ncclComm *comm;
	cudaStream_t stream;
	size_t done;                    /* bytes moved so far (send/recv) */
	int premul;                     /* a PreMulSum op: reduce as ncclSum, then scale */
	double scalar;
};
ncclResult_t mt__run_collective(struct mt__op *op);
/* Progress every send/recv in ops[] (all on one comm) until all are done. */
ncclResult_t mt__run_p2p(struct ncclComm *comm, struct mt__op **ops, int n);

/* ---- driver.c ----------------------------------------------------------- */
ncclResult_t mt__driver_alloc_buffers(struct ncclComm *comm);
void mt__driver_free_buffers(struct ncclComm *comm);
/* Load the driver (once), make a context current (device dev, or 0 when
 * dev < 0 and none is current) and say which device it is.  -1: no driver,
 * mt__driver_error() says why. */
int mt__driver_prepare(int dev, int *cudev);
/* ncclMemAlloc / ncclMemFree: device memory of the current context. */
ncclResult_t mt__driver_user_alloc(void **ptr, size_t size);
ncclResult_t mt__driver_user_free(void *ptr);
/* Compute capability of a device (major * 10 + minor), 0 if unknown. */
int mt__driver_cc(int dev);
const char *mt__driver_error(void);
/* Every communicator of the process: live and highest bytes, cuMemAlloc and
 * cuMemFree calls. */
void mt__driver_totals(size_t *live, size_t *peak, uint64_t *allocs, uint64_t *frees);

/* ---- stubs.c (generated) ------------------------------------------------ */
/* An entry point the simulation does not implement: says so on stderr once
 * per name and process, records the message as the last error, returns rc. */
ncclResult_t mt__not_implemented(const char *name, ncclResult_t rc);

#endif
