/* simtrain GPT model: embedding, L transformer layers, final LayerNorm, LM
 * head, cross-entropy.  Every layer saves exactly the tensors of Korthikanti
 * et al. 2022 (ORACLES.md section 3), so that in bf16 with no parallelism the
 * saved bytes per layer are s*b*h*(34 + 5*a*s/h):
 *   ln1.input (= layer input) 2sbh   ln1.out (QKV input) 2sbh
 *   q, k 4sbh   softmax.out 2as^2b   attn.dropout_mask as^2b (1 byte)
 *   attn.dropout.out 2as^2b   v 2sbh   attn.out (out-proj input) 2sbh
 *   proj.dropout_mask sbh   ln2.input 2sbh   ln2.out (fc1 input) 2sbh
 *   fc1.out (GeLU input) 8sbh   gelu.out (fc2 input) 8sbh   mlp.dropout_mask sbh
 * With --sp t every one of them is 1/t of that (Megatron TP+SP, or Ulysses).
 * LayerNorm statistics are not kept (the paper leaves them out too). */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/kernels.h"
#include "tests/sim/simtrain/report.h"

#include <stdlib.h>
#include <string.h>

enum { M_SAVE, M_NOSAVE, M_RECOMPUTE };

struct saved {
	struct st_tensor *x, *ln1o, *q, *k, *v, *p, *pmask, *pdrop, *lse, *attn, *m1, *h1, *ln2o,
		*fc1, *gelu, *m2;
};

struct dims {
	uint64_t S, B, H, A, V, t, ab;
	uint64_t nsbh;   /* elements of a sequence-sharded activation: S*B*H/t */
	uint64_t fsbh;   /* full S*B*H */
	uint64_t natt;   /* attention-map elements per rank: (A/t)*S*S*B */
	int megatron, ulysses;
};

/* per micro-batch state kept between forward and backward */
static struct saved *sv;         /* [layers] */
/* per micro-batch head and input tensors (pipeline schedules keep several) */
struct mstate { struct st_tensor *head_x, *head_lno, *logits, *ids, *labels; };
static struct mstate *ms;        /* [micro_batches] */
#define MS (ms[r->micro])

static struct dims dims_of(const struct st_rank *r)
{
	const struct st_opts *o = r->o;
	struct dims d;
	d.S = (uint64_t)o->seq;
	d.B = (uint64_t)(o->batch / o->micro_batches);
	d.H = (uint64_t)o->hidden;
	d.A = (uint64_t)o->heads;
	d.V = (uint64_t)o->vocab;
	d.t = (uint64_t)o->sp;
	d.ab = (uint64_t)r->abytes;
	d.fsbh = d.S * d.B * d.H;
	d.nsbh = d.fsbh / d.t;
	d.natt = (d.A / d.t) * d.S * d.S * d.B;
	d.megatron = o->sp > 1 && !o->sp_ulysses;
	d.ulysses = o->sp > 1 && o->sp_ulysses;
	return d;
}

uint64_t st_gpt_parameters(const struct st_opts *o)
{
	uint64_t h = (uint64_t)o->hidden, L = (uint64_t)o->layers;
	return (uint64_t)o->vocab * h + (uint64_t)o->seq * h        /* embeddings */
	       + L * (12 * h * h + 13 * h)                           /* layers */
	       + 2 * h + (uint64_t)o->vocab * h;                     /* final LN + head */
}

void st_gpt_units(struct st_rank *r)
{
	const struct st_opts *o = r->o;
	uint64_t h = (uint64_t)o->hidden, t = (uint64_t)o->sp, V = (uint64_t)o->vocab;
	int megatron = o->sp > 1 && !o->sp_ulysses;
	uint64_t tt = megatron ? t : 1;
	int n = 0, k;
	r->units = calloc((size_t)(r->layer_hi - r->layer_lo) + 2, sizeof *r->units);
	if (r->pp_stage == 0) {
		struct st_unit *u = &r->units[n++];
		snprintf(u->name, sizeof u->name, "embed");
		u->layer = -1;
		u->numel = V * h / tt + (uint64_t)o->seq * h;
		u->rows = V;
		u->cols = h;
	}
	for (k = r->layer_lo; k < r->layer_hi; k++) {
		struct st_unit *u = &r->units[n++];
		snprintf(u->name, sizeof u->name, "layer.%d", k);
		u->layer = k;
		u->numel = 12 * h * h / tt + 7 * h / tt + 6 * h;
		u->rows = h;
		u->cols = 12 * h / tt;
	}
	if (r->pp_stage == r->pp - 1) {
		struct st_unit *u = &r->units[n++];
		snprintf(u->name, sizeof u->name, "head");
		u->layer = -1;
		u->numel = 2 * h + V * h / tt;
		u->rows = V / tt;
		u->cols = h;
	}
	r->nunits = n;
	sv = calloc((size_t)o->layers * (size_t)o->micro_batches, sizeof *sv);
	ms = calloc((size_t)o->micro_batches, sizeof *ms);
}

static void kern(struct st_rank *r, int k, uint64_t bytes)
{
	st_kernel(r, k, bytes);
}

/* A per-head attention GEMM: cublasGemmStridedBatchedEx over (heads/t) x b. */
static void attn_gemm(struct st_rank *r, const struct dims *d, int op, uint64_t m, uint64_t n, uint64_t k)
{
	st_gemm_batched(r, op, m, n, k, (d->A / d->t) * d->B);
}

/* Saved or not: in NOSAVE mode (checkpointed forward) a tensor a framework
 * would save is an ordinary temporary. */
#define ACT(mode) ((mode) == M_NOSAVE ? ST_CAT_TEMPORARY : ST_CAT_ACTIVATION)

static void record_saved(struct st_rank *r, int k, const struct saved *s)
{
	const struct st_tensor *const *p = (const struct st_tensor *const *)s;
	uint64_t sum = 0;
	size_t i;
	if (!r->record_saved)
		return;
	for (i = 0; i < sizeof *s / sizeof(struct st_tensor *); i++)
		if (p[i])
			sum += p[i]->requested;
	r->truth.layer_saved[k] = sum;
}

/* The attention core from q, k, v: scores -> softmax -> dropout -> @V.
 * Fills s->p, s->pmask, s->pdrop (naive) or s->lse (flash); returns the
 * per-rank attention output (head-sharded, nsbh elements). */
static void attention_core_fwd(struct st_rank *r, int k, struct saved *s, int cat, const struct dims *d)
{
	struct st_tensor *scores;
	if (r->o->flash) {
		s->lse = st_new(r, cat, k, 4 * (d->A / d->t) * d->S * d->B, "layer.%d.attn.lse", k);
		kern(r, K_flash_fwd_kernel, d->natt * d->ab);
		return;
	}
	scores = st_new(r, ST_CAT_TEMPORARY, k, d->ab * d->natt, "layer.%d.attn.scores", k);
	attn_gemm(r, d, ST_GEMM_TN, d->S, d->S, d->H / d->A); /* q k^T per head */
	s->p = st_new(r, cat, k, d->ab * d->natt, "layer.%d.attn.softmax.out", k);
	kern(r, K_softmax_fwd_kernel, s->p->requested);
	st_del(r, scores);
	s->pmask = st_new(r, cat, k, d->natt, "layer.%d.attn.dropout_mask", k);
	s->pdrop = st_new(r, cat, k, d->ab * d->natt, "layer.%d.attn.dropout.out", k);
	kern(r, K_fused_dropout_kernel, s->pdrop->requested);
}

static void free_core(struct st_rank *r, struct saved *s)
{
	st_del(r, s->p);
	st_del(r, s->pmask);
	st_del(r, s->pdrop);
	s->p = s->pmask = s->pdrop = NULL;
}

/* Gathers a sequence-sharded activation for a column-parallel GEMM (Megatron SP). */
static struct st_tensor *sp_gather(struct st_rank *r, int k, struct st_tensor *x, const struct dims *d, const char *what)
{
	struct st_tensor *g = st_new(r, ST_CAT_TEMPORARY, k, d->ab * d->fsbh, "layer.%d.%s.gathered", k, what);
	st_allgather(r, r->sp_comm, x->ptr, g->ptr, d->nsbh, (int)d->ab);
	return g;
}

/* Output of a row-parallel GEMM: full partial sums, reduce-scattered (Megatron SP). */
static struct st_tensor *row_parallel_out(struct st_rank *r, int k, const struct dims *d, const char *what, int cat)
{
	struct st_tensor *full, *out;
	if (!d->megatron) {
		out = st_new(r, cat, k, d->ab * d->nsbh, "layer.%d.%s", k, what);
		st_gemm(r, ST_GEMM_TN, out->requested);
		return out;
	}
	full = st_new(r, ST_CAT_TEMPORARY, k, d->ab * d->fsbh, "layer.%d.%s.partial", k, what);
	st_gemm(r, ST_GEMM_TN, full->requested);
	out = st_new(r, cat, k, d->ab * d->nsbh, "layer.%d.%s", k, what);
	st_reduce_scatter(r, r->sp_comm, full->ptr, out->ptr, d->nsbh, (int)d->ab);
	st_del(r, full);
	return out;
}

/* One transformer layer forward.  x is the layer input (kept); returns the output. */
static struct st_tensor *layer_fwd(struct st_rank *r, int k, struct st_tensor *x, struct saved *s, int mode)
{
	struct dims d = dims_of(r);
	int cat = ACT(mode);
	int core_cat = (r->o->ckpt == ST_CK_SELECTIVE && mode == M_SAVE) ? ST_CAT_TEMPORARY : cat;
	struct st_tensor *in, *t1, *t2, *y, *yd;
	struct st_unit *u = st_unit_of_layer(r, k);

	memset(s, 0, sizeof *s);
	s->x = x;
	st_unit_params_acquire(r, u);
	/* attention block */
	s->ln1o = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.ln1.out", k);
	kern(r, K_layer_norm_fwd_kernel, s->ln1o->requested);
	in = d.megatron ? sp_gather(r, k, s->ln1o, &d, "ln1.out") : NULL;
	if (d.ulysses) {
		/* QKV on the local sequence, then all-to-all to head-sharded layout */
		struct st_tensor *qkv[3];
		const char *nm[3] = {"q", "k", "v"};
		int i;
		for (i = 0; i < 3; i++) {
			qkv[i] = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.%s.local", k, nm[i]);
			st_gemm(r, ST_GEMM_TN, qkv[i]->requested);
		}
		s->q = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.q", k);
		st_alltoall(r, r->sp_comm, r->sp, qkv[0]->ptr, s->q->ptr, d.ab * d.nsbh);
		s->k = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.k", k);
		st_alltoall(r, r->sp_comm, r->sp, qkv[1]->ptr, s->k->ptr, d.ab * d.nsbh);
		s->v = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.v", k);
		st_alltoall(r, r->sp_comm, r->sp, qkv[2]->ptr, s->v->ptr, d.ab * d.nsbh);
		for (i = 0; i < 3; i++)
			st_del(r, qkv[i]);
	} else {
		s->q = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.q", k);
		st_gemm(r, ST_GEMM_TN, s->q->requested);
		s->k = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.k", k);
		st_gemm(r, ST_GEMM_TN, s->k->requested);
		s->v = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.v", k);
		st_gemm(r, ST_GEMM_TN, s->v->requested);
	}
	st_del(r, in);
	attention_core_fwd(r, k, s, core_cat, &d);
	if (d.ulysses) {
		t1 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.attn.out.heads", k);
		if (r->o->flash)
			kern(r, K_flash_fwd_kernel, t1->requested);
		else
			attn_gemm(r, &d, ST_GEMM_NN, d.H / d.A, d.S, d.S); /* P v per head */
		s->attn = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.attn.out", k);
		st_alltoall(r, r->sp_comm, r->sp, t1->ptr, s->attn->ptr, d.ab * d.nsbh);
		st_del(r, t1);
	} else {
		s->attn = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.attn.out", k);
		if (!r->o->flash)
			attn_gemm(r, &d, ST_GEMM_NN, d.H / d.A, d.S, d.S); /* P v per head */
	}
	if (core_cat == ST_CAT_TEMPORARY)
		free_core(r, s);
	t1 = row_parallel_out(r, k, &d, "proj.out", ST_CAT_TEMPORARY);
	s->m1 = st_new(r, cat, k, d.nsbh, "layer.%d.proj.dropout_mask", k);
	t2 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.proj.dropout.out", k);
	kern(r, K_fused_dropout_kernel, t2->requested);
	st_del(r, t1);
	s->h1 = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.ln2.input", k);
	kern(r, K_elementwise_add_kernel, s->h1->requested);
	st_del(r, t2);
	/* MLP block */
	s->ln2o = st_new(r, cat, k, d.ab * d.nsbh, "layer.%d.ln2.out", k);
	kern(r, K_layer_norm_fwd_kernel, s->ln2o->requested);
	in = d.megatron ? sp_gather(r, k, s->ln2o, &d, "ln2.out") : NULL;
	s->fc1 = st_new(r, cat, k, 4 * d.ab * d.nsbh, "layer.%d.fc1.out", k);
	st_gemm(r, ST_GEMM_TN, s->fc1->requested);
	st_del(r, in);
	s->gelu = st_new(r, cat, k, 4 * d.ab * d.nsbh, "layer.%d.gelu.out", k);
	kern(r, K_gelu_fwd_kernel, s->gelu->requested);
	t1 = row_parallel_out(r, k, &d, "fc2.out", ST_CAT_TEMPORARY);
	s->m2 = st_new(r, cat, k, d.nsbh, "layer.%d.mlp.dropout_mask", k);
	yd = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.mlp.dropout.out", k);
	kern(r, K_fused_dropout_kernel, yd->requested);
	st_del(r, t1);
	/* the residual output is the next layer's input (saved by it) */
	if (mode == M_RECOMPUTE)
		y = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.recompute.out", k);
	else if (k + 1 < r->o->layers)
		y = st_new(r, ST_CAT_ACTIVATION, k + 1, d.ab * d.nsbh, "layer.%d.input", k + 1);
	else
		y = st_new(r, ST_CAT_ACTIVATION, -1, d.ab * d.nsbh, "final_ln.input");
	kern(r, K_elementwise_add_kernel, y->requested);
	st_del(r, yd);
	st_unit_params_release(r, u);
	if (mode == M_NOSAVE) {
		/* checkpointed: everything but the input goes */
		struct st_tensor *keep = s->x;
		struct st_tensor **p = (struct st_tensor **)s;
		size_t i;
		for (i = 1; i < sizeof *s / sizeof(struct st_tensor *); i++)
			st_del(r, p[i]);
		memset(s, 0, sizeof *s);
		s->x = keep;
	}
	if (mode != M_RECOMPUTE)
		record_saved(r, k, s);
	return y;
}

/* One layer backward.  dy (temporary) is consumed; returns dx. */
static struct st_tensor *layer_bwd(struct st_rank *r, int k, struct saved *s, struct st_tensor *dy)
{
	struct dims d = dims_of(r);
	struct st_unit *u = st_unit_of_layer(r, k);
	int wgrad = u->trainable;
	struct st_tensor *g1, *g2, *in, *dh1, *dq, *dk, *dv, *dx, *tmp;

	st_unit_params_acquire(r, u);
	if (!s->ln1o) {
		/* full recompute from the saved input */
		struct st_tensor *x = s->x, *y;
		st_range_push("layer.%d.recompute", k);
		y = layer_fwd(r, k, x, s, M_RECOMPUTE);
		st_del(r, y);
		st_range_pop();
	}
	if (wgrad)
		st_unit_grad_begin(r, u);
	/* MLP */
	g1 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.fc2.out", k);
	kern(r, K_dropout_bwd_kernel, g1->requested);
	st_del(r, s->m2);
	in = d.megatron ? st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.fsbh, "layer.%d.grad.fc2.out.gathered", k) : NULL;
	if (in)
		st_allgather(r, r->sp_comm, g1->ptr, in->ptr, d.nsbh, (int)d.ab);
	g2 = st_new(r, ST_CAT_TEMPORARY, k, 4 * d.ab * d.nsbh, "layer.%d.grad.gelu.out", k);
	st_gemm(r, ST_GEMM_NN, g2->requested);
	if (wgrad)
		st_gemm(r, ST_GEMM_NT, 4 * d.H * d.H / d.t * d.ab);
	st_del(r, in);
	st_del(r, g1);
	st_del(r, s->gelu);
	g1 = st_new(r, ST_CAT_TEMPORARY, k, 4 * d.ab * d.nsbh, "layer.%d.grad.fc1.out", k);
	kern(r, K_gelu_bwd_kernel, g1->requested);
	st_del(r, g2);
	st_del(r, s->fc1);
	in = d.megatron ? sp_gather(r, k, s->ln2o, &d, "ln2.out") : NULL;
	g2 = row_parallel_out(r, k, &d, "grad.ln2.out", ST_CAT_TEMPORARY);
	if (wgrad)
		st_gemm(r, ST_GEMM_NT, 4 * d.H * d.H / d.t * d.ab);
	st_del(r, in);
	st_del(r, g1);
	st_del(r, s->ln2o);
	tmp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.ln2.input", k);
	kern(r, K_layer_norm_bwd_kernel, tmp->requested);
	st_del(r, g2);
	st_del(r, s->h1);
	dh1 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.residual", k);
	kern(r, K_elementwise_add_kernel, dh1->requested);
	st_del(r, tmp);
	st_del(r, dy);
	/* attention */
	g1 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.proj.out", k);
	kern(r, K_dropout_bwd_kernel, g1->requested);
	st_del(r, s->m1);
	in = d.megatron ? st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.fsbh, "layer.%d.grad.proj.out.gathered", k) : NULL;
	if (in)
		st_allgather(r, r->sp_comm, g1->ptr, in->ptr, d.nsbh, (int)d.ab);
	g2 = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.attn.out", k);
	st_gemm(r, ST_GEMM_NN, g2->requested);
	if (wgrad)
		st_gemm(r, ST_GEMM_NT, d.H * d.H / d.t * d.ab);
	st_del(r, in);
	st_del(r, g1);
	if (d.ulysses) {
		tmp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.attn.out.heads", k);
		st_alltoall(r, r->sp_comm, r->sp, g2->ptr, tmp->ptr, d.ab * d.nsbh);
		st_del(r, g2);
		g2 = tmp;
	}
	if (!r->o->flash && !s->p) {
		/* selective recompute of the attention core */
		st_range_push("layer.%d.recompute", k);
		attention_core_fwd(r, k, s, ST_CAT_ACTIVATION, &d);
		st_range_pop();
	}
	dq = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.q", k);
	dk = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.k", k);
	dv = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.v", k);
	if (r->o->flash) {
		kern(r, K_flash_bwd_kernel, d.natt * d.ab);
		st_del(r, s->lse);
	} else {
		struct st_tensor *dp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.natt, "layer.%d.grad.attn.dropout.out", k);
		attn_gemm(r, &d, ST_GEMM_TN, d.S, d.S, d.H / d.A); /* dO v^T */
		attn_gemm(r, &d, ST_GEMM_NT, d.H / d.A, d.S, d.S); /* dO^T P */
		st_del(r, s->pdrop);
		tmp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.natt, "layer.%d.grad.softmax.out", k);
		kern(r, K_dropout_bwd_kernel, tmp->requested);
		st_del(r, dp);
		st_del(r, s->pmask);
		dp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.natt, "layer.%d.grad.scores", k);
		kern(r, K_softmax_bwd_kernel, dp->requested);
		st_del(r, tmp);
		st_del(r, s->p);
		attn_gemm(r, &d, ST_GEMM_NN, d.H / d.A, d.S, d.S); /* dS k */
		attn_gemm(r, &d, ST_GEMM_NT, d.H / d.A, d.S, d.S); /* dS^T q */
		st_del(r, dp);
	}
	s->p = s->pmask = s->pdrop = s->lse = NULL;
	st_del(r, g2);
	st_del(r, s->attn);
	st_del(r, s->q);
	st_del(r, s->k);
	st_del(r, s->v);
	if (d.ulysses) {
		struct st_tensor *l[3] = {dq, dk, dv};
		int i;
		for (i = 0; i < 3; i++) {
			tmp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.qkv.local", k);
			st_alltoall(r, r->sp_comm, r->sp, l[i]->ptr, tmp->ptr, d.ab * d.nsbh);
			st_del(r, l[i]);
			l[i] = tmp;
		}
		dq = l[0];
		dk = l[1];
		dv = l[2];
	}
	in = d.megatron ? sp_gather(r, k, s->ln1o, &d, "ln1.out") : NULL;
	g1 = row_parallel_out(r, k, &d, "grad.ln1.out", ST_CAT_TEMPORARY);
	if (wgrad)
		st_gemm(r, ST_GEMM_NT, 3 * d.H * d.H / d.t * d.ab);
	st_del(r, in);
	st_del(r, dq);
	st_del(r, dk);
	st_del(r, dv);
	st_del(r, s->ln1o);
	tmp = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.input.ln", k);
	kern(r, K_layer_norm_bwd_kernel, tmp->requested);
	st_del(r, g1);
	st_del(r, s->x);
	dx = st_new(r, ST_CAT_TEMPORARY, k, d.ab * d.nsbh, "layer.%d.grad.input", k);
	kern(r, K_elementwise_add_kernel, dx->requested);
	st_del(r, tmp);
	st_del(r, dh1);
	memset(s, 0, sizeof *s);
	if (wgrad)
		st_unit_grad_done(r, u);
	st_unit_params_release(r, u);
	return dx;
}

static struct saved *saved_of(struct st_rank *r, int k, int micro)
{
	return &sv[(size_t)micro * (size_t)r->o->layers + (size_t)k];
}

static int mode_of(struct st_rank *r, int k)
{
	return st_opts_layer_checkpointed(r->o, k) ? M_NOSAVE : M_SAVE;
}

/* Embedding forward: the inputs, then layer.0.input. */
static struct st_tensor *embed_fwd(struct st_rank *r)
{
	struct dims d = dims_of(r);
	struct st_unit *u = st_unit_named(r, "embed");
	uint64_t tok = d.S * d.B / (d.ulysses ? d.t : 1);
	struct st_tensor *x, *full;
	static long long *host;
	static uint64_t host_n;
	st_range_push("embed.forward");
	if (host_n < tok) {
		host = realloc(host, tok * sizeof *host);
		if (!host)
			abort();
		memset(host, 0, tok * sizeof *host);
		host_n = tok;
	}
	MS.ids = st_new(r, ST_CAT_INPUT, -1, 8 * tok, "input_ids");
	st_gpu_h2d(MS.ids->ptr, host, 8 * tok);
	if (r->pp == 1) {
		MS.labels = st_new(r, ST_CAT_INPUT, -1, 8 * tok, "labels");
		st_gpu_h2d(MS.labels->ptr, host, 8 * tok);
	}
	st_unit_params_acquire(r, u);
	if (d.megatron) {
		full = st_new(r, ST_CAT_TEMPORARY, -1, d.ab * d.fsbh, "embed.out.partial");
		kern(r, K_embedding_fwd_kernel, full->requested);
		x = st_new(r, ST_CAT_ACTIVATION, 0, d.ab * d.nsbh, "layer.0.input");
		st_reduce_scatter(r, r->sp_comm, full->ptr, x->ptr, d.nsbh, (int)d.ab);
		st_del(r, full);
	} else {
		x = st_new(r, ST_CAT_ACTIVATION, 0, d.ab * d.nsbh, "layer.0.input");
		kern(r, K_embedding_fwd_kernel, x->requested);
	}
	st_unit_params_release(r, u);
	st_range_pop();
	return x;
}

static void embed_bwd(struct st_rank *r, struct st_tensor *dx)
{
	struct dims d = dims_of(r);
	struct st_unit *u = st_unit_named(r, "embed");
	struct st_tensor *g = NULL;
	st_range_push("embed.backward");
	st_unit_params_acquire(r, u);
	st_unit_grad_begin(r, u);
	if (d.megatron) {
		g = st_new(r, ST_CAT_TEMPORARY, -1, d.ab * d.fsbh, "embed.grad.out.gathered");
		st_allgather(r, r->sp_comm, dx->ptr, g->ptr, d.nsbh, (int)d.ab);
	}
	kern(r, K_embedding_bwd_kernel, u->numel * (uint64_t)r->pbytes);
	st_del(r, g);
	st_del(r, dx);
	st_unit_grad_done(r, u);
	st_unit_params_release(r, u);
	st_range_pop();
}

/* Final LN + LM head + cross-entropy forward; x is final_ln.input. */
static void head_fwd(struct st_rank *r, struct st_tensor *x)
{
	struct dims d = dims_of(r);
	struct st_unit *u = st_unit_named(r, "head");
	struct st_tensor *in;
	st_range_push("head.forward");
	st_unit_params_acquire(r, u);
	if (!MS.labels) {
		/* pipeline: the labels are loaded by the last stage */
		static long long *host;
		uint64_t tok = d.S * d.B / (d.ulysses ? d.t : 1);
		host = realloc(host, tok * sizeof *host);
		if (!host)
			abort();
		memset(host, 0, tok * sizeof *host);
		MS.labels = st_new(r, ST_CAT_INPUT, -1, 8 * tok, "labels");
		st_gpu_h2d(MS.labels->ptr, host, 8 * tok);
		st_gpu_sync(); /* the host buffer is reused */
	}
	MS.head_x = x;
	MS.head_lno = st_new(r, ST_CAT_ACTIVATION, -1, d.ab * d.nsbh, "final_ln.out");
	kern(r, K_layer_norm_fwd_kernel, MS.head_lno->requested);
	in = d.megatron ? sp_gather(r, -1, MS.head_lno, &d, "final_ln.out") : NULL;
	MS.logits = st_new(r, ST_CAT_ACTIVATION, -1, d.ab * d.S * d.B * d.V / d.t, "logits");
	st_gemm(r, ST_GEMM_TN, MS.logits->requested);
	st_del(r, in);
	kern(r, K_cross_entropy_fwd_kernel, MS.logits->requested);
	st_unit_params_release(r, u);
	st_range_pop();
}

static struct st_tensor *head_bwd(struct st_rank *r)
{
	struct dims d = dims_of(r);
	struct st_unit *u = st_unit_named(r, "head");
	struct st_tensor *dl, *in, *g, *dy;
	st_range_push("head.backward");
	st_unit_params_acquire(r, u);
	st_unit_grad_begin(r, u);
	dl = st_new(r, ST_CAT_TEMPORARY, -1, d.ab * d.S * d.B * d.V / d.t, "grad.logits");
	kern(r, K_cross_entropy_bwd_kernel, dl->requested);
	st_del(r, MS.logits);
	st_del(r, MS.labels);
	MS.logits = MS.labels = NULL;
	in = d.megatron ? sp_gather(r, -1, MS.head_lno, &d, "final_ln.out") : NULL;
	g = row_parallel_out(r, -1, &d, "grad.final_ln.out", ST_CAT_TEMPORARY);
	st_gemm(r, ST_GEMM_NT, d.V * d.H / d.t * d.ab);
	st_del(r, in);
	st_del(r, dl);
	st_del(r, MS.head_lno);
	dy = st_new(r, ST_CAT_TEMPORARY, -1, d.ab * d.nsbh, "grad.final_ln.input");
	kern(r, K_layer_norm_bwd_kernel, dy->requested);
	st_del(r, g);
	st_del(r, MS.head_x);
	MS.head_lno = MS.head_x = NULL;
	st_unit_grad_done(r, u);
	st_unit_params_release(r, u);
	st_range_pop();
	return dy;
}

static struct st_tensor *layers_fwd(struct st_rank *r, struct st_tensor *x, int micro)
{
	int k;
	for (k = r->layer_lo; k < r->layer_hi; k++) {
		struct saved *s = saved_of(r, k, micro);
		st_range_push("layer.%d.forward", k);
		if (st_frozen_prefix(r, k)) {
			/* no autograd graph yet: nothing kept, not even the input */
			x = layer_fwd(r, k, x, s, M_NOSAVE);
			st_del(r, s->x);
			s->x = NULL;
		} else {
			x = layer_fwd(r, k, x, s, mode_of(r, k));
		}
		st_range_pop();
	}
	return x;
}

static struct st_tensor *layers_bwd(struct st_rank *r, struct st_tensor *dy, int micro)
{
	int k;
	for (k = r->layer_hi - 1; k >= r->layer_lo && !st_frozen_prefix(r, k); k--) {
		st_range_push("layer.%d.backward", k);
		dy = layer_bwd(r, k, saved_of(r, k, micro), dy);
		st_range_pop();
	}
	if (r->grad_from) {
		/* nothing below needs the input gradient (--train-only) */
		st_del(r, dy);
		dy = NULL;
	}
	return dy;
}

static int first_stage(const struct st_rank *r)
{
	return r->pp_stage == 0;
}

static int last_stage(const struct st_rank *r)
{
	return r->pp_stage == r->pp - 1;
}

/* Forward of micro-batch r->micro on this stage.  x: the received input
 * (stages > 0).  Returns the output to send on (NULL on the last stage). */
static struct st_tensor *stage_forward(struct st_rank *r, struct st_tensor *x)
{
	st_train_set_backward(0);
	st_range_push("forward");
	if (first_stage(r))
		x = embed_fwd(r);
	x = layers_fwd(r, x, r->micro);
	if (last_stage(r)) {
		head_fwd(r, x);
		x = NULL;
	}
	st_range_pop();
	r->record_saved = 0;
	return x;
}

/* Backward of micro-batch r->micro.  dy: the received output gradient
 * (stages but the last).  Returns the input gradient to send back (NULL on
 * the first stage). */
static struct st_tensor *stage_backward(struct st_rank *r, struct st_tensor *dy)
{
	st_train_set_backward(1);
	st_range_push("backward");
	if (last_stage(r))
		dy = head_bwd(r);
	dy = layers_bwd(r, dy, r->micro);
	if (first_stage(r)) {
		if (dy)
			embed_bwd(r, dy);
		st_del(r, MS.ids);
		MS.ids = NULL;
		dy = NULL;
	}
	st_range_pop();
	return dy;
}

/* Single-stage forward + backward of one micro-batch. */
void st_gpt_forward_backward(struct st_rank *r, int micro)
{
	r->micro = micro;
	stage_forward(r, NULL);
	stage_backward(r, NULL);
}

/* --- pipeline parallelism: point-to-point between neighbouring stages --- */

static uint64_t act_bytes(const struct st_rank *r)
{
	struct dims d = dims_of(r);
	return d.ab * d.nsbh;
}

static struct st_tensor *new_recv_fwd(struct st_rank *r)
{
	return st_new(r, ST_CAT_ACTIVATION, r->layer_lo, act_bytes(r), "layer.%d.input", r->layer_lo);
}

static struct st_tensor *new_recv_bwd(struct st_rank *r)
{
	return st_new(r, ST_CAT_TEMPORARY, r->layer_hi, act_bytes(r), "layer.%d.grad.input", r->layer_hi);
}

static struct st_tensor *recv_forward(struct st_rank *r)
{
	struct st_tensor *x;
	if (first_stage(r))
		return NULL;
	x = new_recv_fwd(r);
	st_recv(r, r->pp_comm, r->pp_stage - 1, x->ptr, x->requested);
	return x;
}

static void send_forward(struct st_rank *r, struct st_tensor *y)
{
	if (!y)
		return;
	st_send(r, r->pp_comm, r->pp_stage + 1, y->ptr, y->requested);
	st_del(r, y); /* the sender keeps no copy of its output */
}

static struct st_tensor *recv_backward(struct st_rank *r)
{
	struct st_tensor *dy;
	if (last_stage(r))
		return NULL;
	dy = new_recv_bwd(r);
	st_recv(r, r->pp_comm, r->pp_stage + 1, dy->ptr, dy->requested);
	return dy;
}

static void send_backward(struct st_rank *r, struct st_tensor *dx)
{
	if (!dx)
		return;
	st_send(r, r->pp_comm, r->pp_stage - 1, dx->ptr, dx->requested);
	st_del(r, dx);
}

/* Megatron's batched send_forward_recv_backward: one NCCL group. */
static struct st_tensor *send_forward_recv_backward(struct st_rank *r, struct st_tensor *y)
{
	struct st_tensor *dy;
	if (last_stage(r))
		return NULL;
	dy = new_recv_bwd(r);
	st_nccl(r, ncclGroupStart(), "ncclGroupStart");
	st_send(r, r->pp_comm, r->pp_stage + 1, y->ptr, y->requested);
	st_recv(r, r->pp_comm, r->pp_stage + 1, dy->ptr, dy->requested);
	st_nccl(r, ncclGroupEnd(), "ncclGroupEnd");
	st_del(r, y);
	return dy;
}

static struct st_tensor *send_backward_recv_forward(struct st_rank *r, struct st_tensor *dx)
{
	struct st_tensor *x;
	if (first_stage(r))
		return NULL;
	x = new_recv_fwd(r);
	st_nccl(r, ncclGroupStart(), "ncclGroupStart");
	st_send(r, r->pp_comm, r->pp_stage - 1, dx->ptr, dx->requested);
	st_recv(r, r->pp_comm, r->pp_stage - 1, x->ptr, x->requested);
	st_nccl(r, ncclGroupEnd(), "ncclGroupEnd");
	st_del(r, dx);
	return x;
}

static void begin_forward(struct st_rank *r, int m, int record)
{
	r->micro = m;
	r->record_saved = record && m == 0;
}

/* One step of M micro-batches across the pipeline.  GPipe: all forwards,
 * then all backwards (M micro-batches in flight on every stage).  1F1B
 * (Megatron's non-interleaved schedule): pp - stage - 1 warm-up forwards,
 * then one forward / one backward, then the remaining backwards (at most
 * pp - stage in flight).  Backwards run in micro-batch order 0..M-1. */
void st_gpt_pipeline_step(struct st_rank *r, int record)
{
	int M = r->o->micro_batches, m, fm = 0, bm = 0;
	struct st_tensor *x, *y, *dy, *dx;
	if (!r->o->pp_1f1b) {
		for (m = 0; m < M; m++) {
			begin_forward(r, m, record);
			x = recv_forward(r);
			send_forward(r, stage_forward(r, x));
		}
		for (m = 0; m < M; m++) {
			r->micro = m;
			dy = recv_backward(r);
			send_backward(r, stage_backward(r, dy));
		}
		return;
	}
	{
		int warm = r->pp - r->pp_stage - 1, rest, i;
		if (warm > M)
			warm = M;
		rest = M - warm;
		for (i = 0; i < warm; i++) {
			begin_forward(r, fm, record);
			x = recv_forward(r);
			send_forward(r, stage_forward(r, x));
			fm++;
		}
		x = NULL;
		if (rest > 0) {
			begin_forward(r, fm, record);
			x = recv_forward(r);
		}
		for (i = 0; i < rest; i++) {
			begin_forward(r, fm, record);
			y = stage_forward(r, x);
			fm++;
			dy = send_forward_recv_backward(r, y); /* NULL on the last stage (y NULL) */
			r->micro = bm;
			dx = stage_backward(r, dy);
			bm++;
			if (i == rest - 1) {
				send_backward(r, dx);
				x = NULL;
			} else {
				r->micro = fm;
				x = send_backward_recv_forward(r, dx);
			}
		}
		for (i = 0; i < warm; i++) {
			r->micro = bm;
			dy = recv_backward(r);
			send_backward(r, stage_backward(r, dy));
			bm++;
		}
	}
}
