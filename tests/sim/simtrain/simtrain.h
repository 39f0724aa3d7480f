/* simtrain: the per-rank state shared by the modules (one rank per process,
 * single-threaded).  Module map:
 *   options.c  flags            alloc.c   caching allocator (PyTorch rules)
 *   tensor.c   tensors          report.c  NVTX ranges, heaps, regions
 *   truth.c    ground truth     gpu.c     CUDA runtime calls, kernels.cu
 *   dist.c     ranks + NCCL     model_gpt.c / model_evo.c  architectures
 *   train.c    units, ZeRO, offload, optimizer, schedule      main.c */
#ifndef ST_SIMTRAIN_H
#define ST_SIMTRAIN_H

#include "tests/sim/nccl/simnccl.h" /* nccl.h, warning-clean */
#include <stdint.h>

#include "tests/sim/simtrain/alloc.h"
#include "tests/sim/simtrain/options.h"
#include "tests/sim/simtrain/truth.h"

struct st_tensor {
	struct st_block *blk;   /* NULL for outside allocations */
	uint64_t ptr, bytes, requested, rec;
	int cat, layer;
};

/* A flat parameter unit (FSDP-style): the embedding, one layer, the head. */
struct st_unit {
	char name[32];
	int layer;              /* layer index, -1 for embedding/head */
	uint64_t numel;         /* parameters held by this rank (after TP sharding) */
	uint64_t numel_pad;     /* padded to a multiple of the ZeRO degree (zero >= 1) */
	uint64_t shard;         /* numel_pad / Nd */
	int trainable;
	int bucket;             /* gradient bucket index */
	uint64_t bucket_off;    /* element offset inside the bucket (zero 0/1) */
	struct st_tensor *param;   /* full (zero <= 2) or shard (zero 3); NULL with params offload */
	struct st_tensor *grad;    /* zero 2/3: persistent shard; zero 0/1: NULL (in bucket) */
	struct st_tensor *master, *state[2]; /* device optimizer state (mixed: master fp32) */
	void *host_master, *host_state[2], *host_grad, *host_param;
	uint64_t host_bytes;
	struct st_tensor *gather;  /* zero 3 / params offload: full params while in use */
	int gather_refs;
	struct st_tensor *grad_full; /* zero 3 / offload: full grad while reduced */
	uint64_t rows, cols;    /* adafactor: factor shape of the unit's matrices */
};

struct st_bucket {
	uint64_t numel;             /* elements (zero 0/1: padded sums of its units) */
	int first, last;            /* unit range, backward order: last is reached first */
	int pending;                /* units not yet ready this micro-batch */
	struct st_tensor *buf;      /* zero 0/1: persistent; zero 2: transient */
};

struct st_rank {
	const struct st_opts *o;
	int rank, world, dp, sp, pp;
	int dp_rank, sp_rank, pp_stage;
	int nd;                     /* ZeRO / gradient-reduction degree */
	int nd_rank;
	ncclComm_t grad_comm, sp_comm, pp_comm;
	struct st_alloc alloc;
	struct st_truth truth;
	struct st_unit *units;
	int nunits;
	struct st_bucket *buckets;
	int nbuckets;
	int layer_lo, layer_hi;     /* layers held by this pipeline stage */
	int pbytes, abytes;         /* parameter / activation element size */
	int blas_ws_known;          /* cuBLAS workspaces already in the truth */
	int step, micro;
	int record_saved;           /* record per-layer saved bytes now */
	unsigned char *active;      /* --train-layers: layers trained this step */
	int grad_from;              /* --train-only: layers below it (and a frozen embedding) keep nothing
	                             * for backward and have none (no autograd graph); 0 = all */
};

/* tensor.c */
struct st_tensor *st_new(struct st_rank *r, int cat, int layer, uint64_t bytes, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
struct st_tensor *st_new_outside(struct st_rank *r, int cat, int layer, uint64_t bytes, const char *name);
void st_del(struct st_rank *r, struct st_tensor *t);
void st_tensor_setup(struct st_rank *r);
/* Fails the rank like PyTorch's OOM: message, truth, exit(1). */
void st_oom(struct st_rank *r, uint64_t requested) __attribute__((noreturn));
/* Writes this rank's truth (fork mode: part file; launcher mode: whole document). */
void st_write_rank_truth(struct st_rank *r);

/* dist.c */
void st_nccl(struct st_rank *r, ncclResult_t rc, const char *what);
void st_allreduce(struct st_rank *r, ncclComm_t c, uint64_t ptr, uint64_t count, int bytes);
void st_reduce_scatter(struct st_rank *r, ncclComm_t c, uint64_t send, uint64_t recv, uint64_t recvcount, int bytes);
void st_allgather(struct st_rank *r, ncclComm_t c, uint64_t send, uint64_t recv, uint64_t sendcount, int bytes);
void st_alltoall(struct st_rank *r, ncclComm_t c, int n, uint64_t send, uint64_t recv, uint64_t bytes_total);
void st_send(struct st_rank *r, ncclComm_t c, int peer, uint64_t ptr, uint64_t bytes);
void st_recv(struct st_rank *r, ncclComm_t c, int peer, uint64_t ptr, uint64_t bytes);
/* Accounts NCCL's own device buffers of communicator c as communication. */
void st_nccl_account(struct st_rank *r, ncclComm_t c, const char *name);

/* model_gpt.c */
uint64_t st_gpt_parameters(const struct st_opts *o);
void st_gpt_units(struct st_rank *r);
void st_gpt_forward_backward(struct st_rank *r, int micro);
/* All micro-batches of one step with --pp > 1 (gpipe or 1f1b schedule);
 * record: record per-layer saved bytes at micro-batch 0. */
void st_gpt_pipeline_step(struct st_rank *r, int record);

/* model_evo.c */
uint64_t st_evo_parameters(const struct st_opts *o);
void st_evo_units(struct st_rank *r);
void st_evo_forward_backward(struct st_rank *r, int micro);

/* train.c: hooks the models call around each unit */
void st_unit_params_acquire(struct st_rank *r, struct st_unit *u);
void st_unit_params_release(struct st_rank *r, struct st_unit *u);
void st_unit_grad_begin(struct st_rank *r, struct st_unit *u);
void st_unit_grad_done(struct st_rank *r, struct st_unit *u);
/* GEMMs go to cuBLAS (gpu.c); its workspace allocations and kernel launches
 * enter the truth from the simulated cuBLAS's own counts. */
enum st_gemm_op { ST_GEMM_TN, ST_GEMM_NN, ST_GEMM_NT };
void st_gemm(struct st_rank *r, int op, uint64_t out_bytes); /* m = h, n = out/h, k = h */
void st_gemm_batched(struct st_rank *r, int op, uint64_t m, uint64_t n, uint64_t k, uint64_t batch);
void st_kernel(struct st_rank *r, int kernel, uint64_t bytes);
struct st_unit *st_unit_of_layer(struct st_rank *r, int layer);
struct st_unit *st_unit_named(struct st_rank *r, const char *name);
int st_train(struct st_rank *r);
/* Whether layer k lies in the frozen prefix (--train-only). */
int st_frozen_prefix(const struct st_rank *r, int k);
/* The models say when backward starts (prefetch direction). */
void st_train_set_backward(int on);

#endif
