/* simtrain training runtime: model-state tensors per unit, gradient buckets,
 * ZeRO 0-3 (DDP buckets, sharded optimizer states, reduce-scattered
 * gradients, gathered parameters with prefetch), offload, the optimizer
 * step and the step loop.
 *
 * Sharding: every unit (embedding, layer, head) is one flat parameter, padded
 * to a multiple of the ZeRO degree Nd: numel_pad = ceil(numel/Nd)*Nd, and
 * each rank owns shard = numel_pad/Nd elements.  Model states per rank
 * (bf16, AdamW, K = 12): zero 0: 2n + 2n + 12n; zero 1: 2p + 2p + 12s;
 * zero 2: 2p + 2s + 12s; zero 3: 2s + 2s + 12s (n = numel, p = numel_pad,
 * s = shard), i.e. ORACLES section 1 whenever Nd divides every unit. */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/kernels.h"
#include "tests/sim/simtrain/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_BUCKET_BYTES (25ull * 1024 * 1024)  /* DDP bucket_cap_mb = 25 */

static int in_backward;

void st_kernel(struct st_rank *r, int kernel, uint64_t bytes)
{
	uint64_t grid = bytes / 4096 + 1;
	r->truth.ev.kernel++;
	st_gpu_launch(kernel, grid > 65535 ? 65535 : (unsigned)grid);
}

/* The workspaces cuBLAS made since the last look become outside allocations
 * of category workspace (counted in events.alloc, live until exit: the
 * handle is never destroyed). */
static void blas_account(struct st_rank *r)
{
	unsigned long long ptrs[64];
	size_t sizes[64];
	int n = st_gpu_blas_workspaces(ptrs, sizes, 64), i;
	for (i = r->blas_ws_known; i < n && i < 64; i++) {
		r->truth.ev.alloc++;
		r->truth.workspace_allocs++;
		st_truth_reserve(&r->truth, (int64_t)sizes[i]);
		st_truth_alloc(&r->truth, "cublas.workspace", ST_CAT_WORKSPACE, -1, sizes[i], sizes[i], 1);
	}
	if (n > r->blas_ws_known)
		r->blas_ws_known = n;
}

void st_gemm_batched(struct st_rank *r, int op, uint64_t m, uint64_t n, uint64_t k, uint64_t batch)
{
	uint64_t before = st_gpu_blas_launches(), after;
	int bf16 = r->abytes == 2;
	if (st_gpu_gemm(op, m, n, k, batch, bf16) != 0) {
		/* cuBLAS could not cudaMalloc its workspace: free the cache, retry */
		st_alloc_empty_cache(&r->alloc);
		if (st_gpu_gemm(op, m, n, k, batch, bf16) != 0)
			st_oom(r, st_gpu_blas_default_workspace());
	}
	after = st_gpu_blas_launches();
	r->truth.ev.kernel += after >= before && after != 0 ? after - before : 1;
	blas_account(r);
}

void st_gemm(struct st_rank *r, int op, uint64_t out_bytes)
{
	uint64_t h = (uint64_t)(r->o->arch == ST_ARCH_EVOFORMER ? r->o->c_z : r->o->hidden);
	uint64_t e = out_bytes / (uint64_t)r->abytes, m, n;
	if (e == 0)
		e = 1;
	if (e % h == 0) {
		m = h;
		n = e / h;
	} else {
		m = e;
		n = 1;
	}
	while (n > 0x7fffffffull) {
		m *= 2;
		n /= 2;
	}
	st_gemm_batched(r, op, m, n, h, 1);
}

struct st_unit *st_unit_of_layer(struct st_rank *r, int layer)
{
	int i;
	for (i = 0; i < r->nunits; i++)
		if (r->units[i].layer == layer)
			return &r->units[i];
	abort();
}

struct st_unit *st_unit_named(struct st_rank *r, const char *name)
{
	int i;
	for (i = 0; i < r->nunits; i++)
		if (!strcmp(r->units[i].name, name))
			return &r->units[i];
	abort();
}

static int mixed(const struct st_rank *r)
{
	return r->o->bf16;
}

static int zero3(const struct st_rank *r)
{
	return r->o->zero == 3;
}

static int params_offloaded(const struct st_rank *r)
{
	return r->o->offload == ST_OFF_PARAMS;
}

static int gathers(const struct st_rank *r)
{
	return zero3(r) || params_offloaded(r);
}

/* Elements of optimizer state this rank keeps for u. */
static uint64_t opt_numel(const struct st_rank *r, const struct st_unit *u)
{
	return r->o->zero >= 1 ? u->shard : u->numel;
}

static int nstates(const struct st_rank *r)
{
	switch (r->o->optimizer) {
	case ST_OPT_ADAMW: return 2;
	case ST_OPT_SGD: case ST_OPT_LION: return 1;
	default: return 2; /* adafactor: row and column factors */
	}
}

static uint64_t state_bytes(const struct st_rank *r, const struct st_unit *u, int i)
{
	if (r->o->optimizer == ST_OPT_ADAFACTOR)
		return 4 * (i == 0 ? u->rows : u->cols);
	return 4 * opt_numel(r, u);
}

static const char *state_name(const struct st_rank *r, int i)
{
	switch (r->o->optimizer) {
	case ST_OPT_ADAMW: return i ? "exp_avg_sq" : "exp_avg";
	case ST_OPT_SGD: return "momentum_buffer";
	case ST_OPT_LION: return "exp_avg";
	default: return i ? "exp_avg_sq_col" : "exp_avg_sq_row";
	}
}

static int layerwise(const struct st_rank *r)
{
	return r->o->offload == ST_OFF_LAYERWISE;
}

/* GRASS-style layer-wise offload: a unit's master and states live on the
 * host and come to the device for its update only (allocated here, freed
 * by layerwise_put). */
static void layerwise_get(struct st_rank *r, struct st_unit *u);

/* Pinned host memory within --host-memory, else the rank fails as a host OOM. */
static void *host_pin(struct st_rank *r, uint64_t bytes)
{
	if (r->o->host_memory && r->truth.host_pinned_bytes + bytes > r->o->host_memory) {
		fprintf(stderr, "simtrain rank %d: out of host memory: pinning %llu bytes with %llu of %llu in use "
			"(--host-memory)\n", r->rank, (unsigned long long)bytes,
			(unsigned long long)r->truth.host_pinned_bytes, (unsigned long long)r->o->host_memory);
		exit(1);
	}
	r->truth.ev.host_alloc++;
	r->truth.host_pinned_bytes += bytes;
	return st_gpu_malloc_host(bytes);
}

/* ZeRO-Infinity's NVMe offload: master and states live in a file (here
 * plain memory, not pinned); two pinned swap buffers of the largest unit's
 * master + states stage them for the CPU step. */
static void *nvme_swap[2];

static void nvme_alloc(struct st_rank *r, struct st_unit *u, int with_states)
{
	uint64_t n = opt_numel(r, u), big = 0;
	int i, j;
	if (!u->host_grad) {
		u->host_grad = host_pin(r, 4 * n);
		u->host_bytes += 4 * n;
		if (mixed(r))
			u->host_master = malloc(4 * n);
	}
	if (!with_states || u->host_state[0])
		return;
	for (i = 0; i < nstates(r); i++)
		u->host_state[i] = malloc(state_bytes(r, u, i));
	if (nvme_swap[0])
		return;
	for (j = 0; j < r->nunits; j++) {
		uint64_t b = mixed(r) ? 4 * opt_numel(r, &r->units[j]) : 0;
		for (i = 0; i < nstates(r); i++)
			b += state_bytes(r, &r->units[j], i);
		big = b > big ? b : big;
	}
	nvme_swap[0] = host_pin(r, big);
	nvme_swap[1] = host_pin(r, big);
}

/* Master copy + optimizer states (device or pinned host). */
static void optimizer_alloc(struct st_rank *r, struct st_unit *u, int with_states)
{
	uint64_t n = opt_numel(r, u);
	int i;
	if (layerwise(r)) {
		if (!u->host_bytes) {
			u->host_bytes = (mixed(r) ? 4 * n : 0);
			if (mixed(r))
				u->host_master = st_gpu_malloc_host(4 * n);
			r->truth.ev.host_alloc += mixed(r);
			for (i = 0; i < nstates(r); i++) {
				u->host_state[i] = st_gpu_malloc_host(state_bytes(r, u, i));
				u->host_bytes += state_bytes(r, u, i);
				r->truth.ev.host_alloc++;
			}
			r->truth.host_pinned_bytes += u->host_bytes;
			r->truth.host_model_state_bytes += u->host_bytes;
		}
		return;
	}
	if (r->o->offload == ST_OFF_NVME) {
		nvme_alloc(r, u, with_states);
		return;
	}
	if (r->o->offload != ST_OFF_NONE) {
		if (!u->host_grad) {
			u->host_grad = host_pin(r, 4 * n);
			u->host_bytes += 4 * n;
			if (mixed(r)) {
				u->host_master = host_pin(r, 4 * n);
				r->truth.host_model_state_bytes += 4 * n;
			}
		}
		if (with_states && !u->host_state[0]) {
			for (i = 0; i < nstates(r); i++) {
				u->host_state[i] = host_pin(r, state_bytes(r, u, i));
				r->truth.host_model_state_bytes += state_bytes(r, u, i);
			}
		}
		return;
	}
	if (mixed(r) && !u->master)
		u->master = st_new(r, ST_CAT_OPTIMIZER_STATE, u->layer, 4 * n, "%s.master", u->name);
	if (with_states && !u->state[0])
		for (i = 0; i < nstates(r); i++)
			u->state[i] = st_new(r, ST_CAT_OPTIMIZER_STATE, u->layer, state_bytes(r, u, i), "%s.%s",
					     u->name, state_name(r, i));
}

static void layerwise_get(struct st_rank *r, struct st_unit *u)
{
	uint64_t n = opt_numel(r, u);
	int i;
	if (u->state[0])
		return;
	if (mixed(r)) {
		u->master = st_new(r, ST_CAT_OPTIMIZER_STATE, u->layer, 4 * n, "%s.master", u->name);
		st_gpu_h2d(u->master->ptr, u->host_master, 4 * n);
	}
	for (i = 0; i < nstates(r); i++) {
		u->state[i] = st_new(r, ST_CAT_OPTIMIZER_STATE, u->layer, state_bytes(r, u, i), "%s.%s", u->name,
				     state_name(r, i));
		st_gpu_h2d(u->state[i]->ptr, u->host_state[i], state_bytes(r, u, i));
	}
}

static void optimizer_free(struct st_rank *r, struct st_unit *u);

/* Back to the host after the update. */
static void layerwise_put(struct st_rank *r, struct st_unit *u)
{
	int i;
	if (u->master)
		st_gpu_d2h(u->host_master, u->master->ptr, u->master->requested);
	for (i = 0; i < 2; i++)
		if (u->state[i])
			st_gpu_d2h(u->host_state[i], u->state[i]->ptr, u->state[i]->requested);
	optimizer_free(r, u);
}

static void optimizer_free(struct st_rank *r, struct st_unit *u)
{
	int i;
	st_del(r, u->master);
	u->master = NULL;
	for (i = 0; i < 2; i++) {
		st_del(r, u->state[i]);
		u->state[i] = NULL;
	}
}

static struct st_bucket *bucket_of(struct st_rank *r, struct st_unit *u)
{
	return &r->buckets[u->bucket];
}

static int unit_index(struct st_rank *r, struct st_unit *u)
{
	return (int)(u - r->units);
}

static void bucket_alloc(struct st_rank *r, struct st_bucket *b, int transient)
{
	int l = r->units[b->first].layer;
	if (r->units[b->last].layer != l)
		l = -1;
	b->buf = st_new(r, ST_CAT_GRADIENT, l, b->numel * (uint64_t)r->pbytes,
			transient ? "grad.bucket.%d.reduce" : "grad.bucket.%d", (int)(b - r->buckets));
}

/* Buckets over units in backward order (last unit first), 25 MiB each. */
static void build_buckets(struct st_rank *r)
{
	int i, nb = 0;
	uint64_t cur = 0;
	int per_unit = r->o->train_layers > 0 || r->o->train_only[0];
	r->buckets = calloc((size_t)r->nunits, sizeof *r->buckets);
	for (i = r->nunits - 1; i >= 0; i--) {
		struct st_unit *u = &r->units[i];
		uint64_t n = r->o->zero >= 1 ? u->numel_pad : u->numel;
		if (r->o->train_only[0] && !u->trainable)
			continue; /* frozen: in no bucket (DDP buckets what requires grad) */
		if (nb == 0 || per_unit || cur * (uint64_t)r->pbytes >= ST_BUCKET_BYTES) {
			nb++;
			r->buckets[nb - 1].last = i;
			cur = 0;
		}
		r->buckets[nb - 1].first = i;
		u->bucket = nb - 1;
		u->bucket_off = cur;
		cur += n;
		r->buckets[nb - 1].numel = cur;
	}
	r->nbuckets = nb;
}

static void unit_grad_alloc(struct st_rank *r, struct st_unit *u)
{
	if (r->o->zero >= 2 && !u->grad)
		u->grad = st_new(r, ST_CAT_GRADIENT, u->layer, u->shard * (uint64_t)r->pbytes, "%s.grad.shard", u->name);
}

static int unit_active(struct st_rank *r, struct st_unit *u)
{
	return (u->layer < 0 || !r->o->train_layers || r->active[u->layer]) && st_opts_unit_trainable(r->o, u->name);
}

int st_frozen_prefix(const struct st_rank *r, int k)
{
	return k < r->grad_from;
}

/* Initial model states: parameters, gradient buffers, master weights. */
static void model_init(struct st_rank *r)
{
	int i;
	st_range_push("init");
	for (i = 0; i < r->nunits; i++) {
		struct st_unit *u = &r->units[i];
		u->numel_pad = r->o->zero >= 1 ? (u->numel + (uint64_t)r->nd - 1) / (uint64_t)r->nd * (uint64_t)r->nd
						: u->numel;
		u->shard = u->numel_pad / (uint64_t)r->nd;
		u->trainable = unit_active(r, u);
		if (params_offloaded(r)) {
			uint64_t n = zero3(r) ? u->shard : u->numel_pad;
			u->host_param = st_gpu_malloc_host(n * (uint64_t)r->pbytes);
			r->truth.ev.host_alloc++;
			r->truth.host_pinned_bytes += n * (uint64_t)r->pbytes;
		} else if (zero3(r)) {
			u->param = st_new(r, ST_CAT_PARAMETER, u->layer, u->shard * (uint64_t)r->pbytes, "%s.params.shard", u->name);
		} else {
			u->param = st_new(r, ST_CAT_PARAMETER, u->layer, u->numel_pad * (uint64_t)r->pbytes, "%s.params", u->name);
		}
		st_kernel(r, K_fill_zero_kernel, u->numel * (uint64_t)r->pbytes);
	}
	build_buckets(r);
	/* frozen embedding: the layers before the first trainable one run
	 * without an autograd graph */
	r->grad_from = 0;
	if (r->o->train_only[0] && !unit_active(r, st_unit_named(r, "embed")))
		for (r->grad_from = r->o->layers, i = 0; i < r->nunits; i++)
			if (r->units[i].layer >= 0 && r->units[i].trainable && r->units[i].layer < r->grad_from)
				r->grad_from = r->units[i].layer;
	for (i = 0; i < r->nbuckets; i++)
		if (r->o->zero <= 1 && !gathers(r) && unit_active(r, &r->units[r->buckets[i].first]))
			bucket_alloc(r, &r->buckets[i], 0);
	for (i = 0; i < r->nunits; i++) {
		struct st_unit *u = &r->units[i];
		if (!u->trainable)
			continue;
		if (!params_offloaded(r))
			unit_grad_alloc(r, u);
		optimizer_alloc(r, u, 0);
	}
	st_range_pop();
}

/* --- parameter gathering (zero 3) and host parameters (offload params) --- */

static void gather(struct st_rank *r, struct st_unit *u)
{
	u->gather = st_new(r, ST_CAT_PARAMETER, u->layer, u->numel_pad * (uint64_t)r->pbytes, "%s.params.full", u->name);
	if (params_offloaded(r)) {
		if (zero3(r) && r->nd > 1) {
			st_gpu_h2d(u->gather->ptr + (uint64_t)r->nd_rank * u->shard * (uint64_t)r->pbytes, u->host_param,
				   u->shard * (uint64_t)r->pbytes);
			st_allgather(r, r->grad_comm, u->gather->ptr + (uint64_t)r->nd_rank * u->shard * (uint64_t)r->pbytes,
				     u->gather->ptr, u->shard, r->pbytes);
		} else {
			st_gpu_h2d(u->gather->ptr, u->host_param, (zero3(r) ? u->shard : u->numel_pad) * (uint64_t)r->pbytes);
		}
	} else if (r->nd > 1) {
		st_allgather(r, r->grad_comm, u->param->ptr, u->gather->ptr, u->shard, r->pbytes);
	} else {
		st_kernel(r, K_copy_chunk_kernel, u->gather->requested);
	}
}

static int prefetched[ST_MAX_LAYERS + 2];

void st_unit_params_acquire(struct st_rank *r, struct st_unit *u)
{
	int i, n;
	if (!gathers(r))
		return;
	i = unit_index(r, u);
	if (prefetched[i]) {
		prefetched[i] = 0; /* the prefetch's reference becomes this use's */
	} else if (u->gather_refs++ == 0) {
		gather(r, u);
	}
	/* prefetch the next unit in execution order (FSDP forward/backward prefetch) */
	n = in_backward ? i - 1 : i + 1;
	if (zero3(r) && n >= 0 && n < r->nunits && !prefetched[n] && r->units[n].gather_refs == 0) {
		r->units[n].gather_refs = 1;
		prefetched[n] = 1;
		gather(r, &r->units[n]);
	}
}

void st_unit_params_release(struct st_rank *r, struct st_unit *u)
{
	if (!gathers(r))
		return;
	if (--u->gather_refs == 0) {
		st_del(r, u->gather);
		u->gather = NULL;
	}
}

/* --- gradients --- */

void st_unit_grad_begin(struct st_rank *r, struct st_unit *u)
{
	struct st_bucket *b;
	if (!u->trainable)
		return;
	if (gathers(r)) {
		if (!u->grad_full)
			u->grad_full = st_new(r, ST_CAT_GRADIENT, u->layer, u->numel_pad * (uint64_t)r->pbytes,
					      "%s.grad.full", u->name);
		return;
	}
	b = bucket_of(r, u);
	if (!b->buf)
		bucket_alloc(r, b, 1);
	if (b->pending == 0)
		b->pending = b->last - b->first + 1;
}

static void unit_offload_grad(struct st_rank *r, struct st_unit *u, uint64_t ptr, uint64_t n)
{
	st_gpu_d2h(u->host_grad, ptr, n * (uint64_t)r->pbytes);
}

void st_unit_grad_done(struct st_rank *r, struct st_unit *u)
{
	int last_micro = r->micro == r->o->micro_batches - 1;
	struct st_bucket *b;
	int i;
	if (!u->trainable)
		return;
	if (gathers(r)) {
		/* FSDP: reduce-scatter this unit's gradient right away */
		if (zero3(r) && r->nd > 1) {
			if (!u->grad)
				unit_grad_alloc(r, u);
			st_reduce_scatter(r, r->grad_comm, u->grad_full->ptr, u->grad->ptr, u->shard, r->pbytes);
		} else if (!params_offloaded(r)) {
			unit_grad_alloc(r, u);
			st_kernel(r, K_copy_chunk_kernel, u->shard * (uint64_t)r->pbytes);
		}
		if (params_offloaded(r)) {
			if (r->nd > 1 && !zero3(r))
				st_allreduce(r, r->grad_comm, u->grad_full->ptr, u->numel_pad, r->pbytes);
			unit_offload_grad(r, u, u->grad_full->ptr, u->shard);
		}
		st_del(r, u->grad_full);
		u->grad_full = NULL;
		return;
	}
	b = bucket_of(r, u);
	if (--b->pending > 0)
		return;
	if (r->o->zero <= 1) {
		/* DDP: all-reduce the bucket once the last micro-batch filled it */
		if (last_micro && r->nd > 1)
			st_allreduce(r, r->grad_comm, b->buf->ptr, b->numel, r->pbytes);
		if (last_micro && (r->o->offload == ST_OFF_OPTIMIZER || r->o->offload == ST_OFF_NVME))
			for (i = b->first; i <= b->last; i++)
				unit_offload_grad(r, &r->units[i], b->buf->ptr, opt_numel(r, &r->units[i]));
		return;
	}
	/* ZeRO-2: reduce-scatter every unit of the bucket into its shard */
	if (r->nd > 1)
		st_nccl(r, ncclGroupStart(), "ncclGroupStart");
	for (i = b->first; i <= b->last; i++) {
		struct st_unit *v = &r->units[i];
		uint64_t off = v->bucket_off * (uint64_t)r->pbytes;
		if (r->nd > 1)
			st_reduce_scatter(r, r->grad_comm, b->buf->ptr + off, v->grad->ptr, v->shard, r->pbytes);
		else
			st_kernel(r, K_copy_chunk_kernel, v->shard * (uint64_t)r->pbytes);
	}
	if (r->nd > 1)
		st_nccl(r, ncclGroupEnd(), "ncclGroupEnd");
	if ((r->o->offload == ST_OFF_OPTIMIZER || r->o->offload == ST_OFF_NVME))
		for (i = b->first; i <= b->last; i++)
			unit_offload_grad(r, &r->units[i], r->units[i].grad->ptr, r->units[i].shard);
	st_del(r, b->buf);
	b->buf = NULL;
}

/* --- optimizer --- */

static int step_kernel(const struct st_rank *r)
{
	switch (r->o->optimizer) {
	case ST_OPT_ADAMW: return K_multi_tensor_adam_kernel;
	case ST_OPT_SGD: return K_multi_tensor_sgd_kernel;
	case ST_OPT_LION: return K_lion_update_kernel;
	default: return K_adafactor_update_kernel;
	}
}

static void optimizer_step(struct st_rank *r)
{
	int i;
	for (i = 0; i < r->nunits; i++) {
		struct st_unit *u = &r->units[i];
		uint64_t n = opt_numel(r, u);
		if (!u->trainable)
			continue;
		optimizer_alloc(r, u, 1); /* states are created lazily at the first step */
		if (layerwise(r)) {
			/* this unit's states in, the next trainable unit's prefetched
			 * (overlapped with this update), this one's back out */
			int j;
			layerwise_get(r, u);
			for (j = i + 1; j < r->nunits && !r->units[j].trainable; j++)
				;
			if (j < r->nunits) {
				optimizer_alloc(r, &r->units[j], 1);
				layerwise_get(r, &r->units[j]);
			}
			st_kernel(r, step_kernel(r), n * 16);
			if (mixed(r))
				st_kernel(r, K_cast_fp32_to_bf16_kernel, n * 2);
			layerwise_put(r, u);
			continue;
		}
		if (r->o->offload != ST_OFF_NONE) {
			/* CPU step (DeepSpeed CPU Adam), then the updated bf16 params go back */
			if (u->param)
				st_gpu_h2d(u->param->ptr + (r->o->zero >= 1 ? (uint64_t)r->nd_rank * u->shard * (uint64_t)r->pbytes : 0),
					   u->host_grad, n * (uint64_t)r->pbytes);
			continue;
		}
		st_kernel(r, step_kernel(r), n * 16);
		if (mixed(r))
			st_kernel(r, K_cast_fp32_to_bf16_kernel, n * 2);
	}
	/* ZeRO 1/2: every rank gathers the updated shards into its full params */
	if ((r->o->zero == 1 || r->o->zero == 2) && r->nd > 1 && !params_offloaded(r)) {
		st_nccl(r, ncclGroupStart(), "ncclGroupStart");
		for (i = 0; i < r->nunits; i++) {
			struct st_unit *u = &r->units[i];
			if (!u->trainable)
				continue;
			st_allgather(r, r->grad_comm, u->param->ptr + (uint64_t)r->nd_rank * u->shard * (uint64_t)r->pbytes,
				     u->param->ptr, u->shard, r->pbytes);
		}
		st_nccl(r, ncclGroupEnd(), "ncclGroupEnd");
	}
}

static void zero_grad(struct st_rank *r)
{
	int i;
	for (i = 0; i < r->nbuckets; i++)
		if (r->buckets[i].buf)
			st_kernel(r, K_fill_zero_kernel, r->buckets[i].buf->requested);
	for (i = 0; i < r->nunits; i++)
		if (r->units[i].grad)
			st_kernel(r, K_fill_zero_kernel, r->units[i].grad->requested);
}

/* LISA-style: sample --train-layers layers; the others lose grads and states. */
static void select_layers(struct st_rank *r, unsigned *seed)
{
	int L = r->o->layers, K = r->o->train_layers, i, chosen = 0;
	memset(r->active, 0, (size_t)L);
	while (chosen < K) {
		int k = (int)(rand_r(seed) % (unsigned)L);
		if (!r->active[k]) {
			r->active[k] = 1;
			chosen++;
		}
	}
	for (i = 0; i < r->nunits; i++) {
		struct st_unit *u = &r->units[i];
		int want = unit_active(r, u);
		struct st_bucket *b = bucket_of(r, u);
		if (u->trainable && !want) {
			st_del(r, b->buf);
			b->buf = NULL;
			st_del(r, u->grad);
			u->grad = NULL;
			optimizer_free(r, u);
		} else if (!u->trainable && want) {
			if (r->o->zero <= 1 && !gathers(r))
				bucket_alloc(r, b, 0);
			unit_grad_alloc(r, u);
			optimizer_alloc(r, u, 0);
		}
		u->trainable = want;
	}
}

static uint64_t model_state_bytes(struct st_rank *r)
{
	uint64_t s = 0;
	int i, j;
	for (i = 0; i < r->nunits; i++) {
		struct st_unit *u = &r->units[i];
		struct st_tensor *t[5] = {u->param, u->grad, u->master, u->state[0], u->state[1]};
		for (j = 0; j < 5; j++)
			if (t[j])
				s += t[j]->requested;
	}
	for (i = 0; i < r->nbuckets; i++)
		if (r->buckets[i].buf)
			s += r->buckets[i].buf->requested;
	return s;
}

int st_train(struct st_rank *r)
{
	const struct st_opts *o = r->o;
	unsigned seed = o->seed;
	int step, m;
	r->active = calloc((size_t)o->layers + 1, 1);
	if (o->train_layers) {
		/* the first sample decides which layers get state at init */
		unsigned s0 = seed;
		int chosen = 0;
		while (chosen < o->train_layers) {
			int k = (int)(rand_r(&s0) % (unsigned)o->layers);
			if (!r->active[k]) {
				r->active[k] = 1;
				chosen++;
			}
		}
	}
	model_init(r);
	for (step = 0; step < o->steps; step++) {
		r->step = step;
		st_truth_set_step(&r->truth, step);
		st_range_push("step %d", step);
		if (o->train_layers)
			select_layers(r, &seed);
		zero_grad(r);
		if (r->pp > 1) {
			st_gpt_pipeline_step(r, step == 0);
			in_backward = 0;
		}
		for (m = 0; m < o->micro_batches && r->pp == 1; m++) {
			r->micro = m;
			r->record_saved = step == 0 && m == 0;
			in_backward = 0;
			if (o->arch == ST_ARCH_EVOFORMER)
				st_evo_forward_backward(r, m);
			else
				st_gpt_forward_backward(r, m);
			in_backward = 0;
		}
		st_range_push("optimizer");
		optimizer_step(r);
		st_range_pop();
		st_range_pop();
		st_gpu_sync();
		r->truth.model_state_bytes = model_state_bytes(r);
	}
	st_truth_set_step(&r->truth, -1);
	return 0;
}

void st_train_set_backward(int on)
{
	in_backward = on;
}
