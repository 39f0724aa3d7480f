/* simtrain Evoformer (AlphaFold2-like): --layers blocks over an MSA
 * representation (msa_seqs x residues x c_m) and a pair representation
 * (residues x residues x c_z).  Each block is an op list: MSA row attention
 * with pair bias and gating, MSA column attention, MSA transition, outer
 * product mean, triangular multiplicative updates (outgoing, incoming),
 * triangular attention (starting, ending node), pair transition.  Every op's
 * saved tensors (category activation) stay until its backward; the attention
 * maps (heads x r x r x r for triangular attention) make activations quadratic
 * to cubic in residues.  Single-rank data layout (no --sp). */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/kernels.h"
#include "tests/sim/simtrain/report.h"

#include <stdlib.h>
#include <string.h>

#define EVO_HEADS_M 8
#define EVO_HEADS_Z 4
#define EVO_C 32           /* per-head / hidden channel of the sub-modules */
#define EVO_MAXOPS 24
#define EVO_GEMM (-1)    /* op kernel: a cuBLAS GEMM (projection) */

struct evo_op { const char *name; uint64_t elems; int kernel; };

static struct st_tensor **saved; /* [layers * micro * EVO_MAXOPS] */

static uint64_t block_params(const struct st_opts *o)
{
	uint64_t m = (uint64_t)o->c_m, z = (uint64_t)o->c_z, c = EVO_C;
	return 2 * (4 * m * EVO_HEADS_M * c + EVO_HEADS_M * z) /* row (+pair bias) and column attention */
	       + 8 * m * m                                       /* MSA transition 4x */
	       + 2 * m * c + c * c * z                           /* outer product mean */
	       + 2 * (4 * z * z + z * z + 2 * z * z)             /* triangle multiplications (hidden c_z) */
	       + 2 * (4 * z * EVO_HEADS_Z * c + EVO_HEADS_Z * z) /* triangle attentions */
	       + 8 * z * z + 8 * (m + z);                        /* pair transition, LayerNorms */
}

uint64_t st_evo_parameters(const struct st_opts *o)
{
	return (uint64_t)o->layers * block_params(o) + 2 * 23ull * (uint64_t)(o->c_m + o->c_z);
}

void st_evo_units(struct st_rank *r)
{
	const struct st_opts *o = r->o;
	int k, n = 0;
	r->units = calloc((size_t)o->layers + 2, sizeof *r->units);
	snprintf(r->units[n].name, sizeof r->units[n].name, "embed");
	r->units[n].layer = -1;
	r->units[n].numel = 23ull * (uint64_t)(o->c_m + o->c_z);
	r->units[n].rows = 23;
	r->units[n++].cols = (uint64_t)(o->c_m + o->c_z);
	for (k = 0; k < o->layers; k++, n++) {
		snprintf(r->units[n].name, sizeof r->units[n].name, "layer.%d", k);
		r->units[n].layer = k;
		r->units[n].numel = block_params(o);
		r->units[n].rows = (uint64_t)o->c_m;
		r->units[n].cols = block_params(o) / (uint64_t)o->c_m;
	}
	snprintf(r->units[n].name, sizeof r->units[n].name, "head");
	r->units[n].layer = -1;
	r->units[n].numel = 23ull * (uint64_t)(o->c_m + o->c_z);
	r->units[n].rows = 23;
	r->units[n++].cols = (uint64_t)(o->c_m + o->c_z);
	r->nunits = n;
	saved = calloc((size_t)o->layers * (size_t)o->micro_batches * EVO_MAXOPS, sizeof *saved);
}

static int block_ops(const struct st_opts *o, struct evo_op *op)
{
	uint64_t s = (uint64_t)o->msa_seqs, R = (uint64_t)o->residues, m = (uint64_t)o->c_m,
		 z = (uint64_t)o->c_z, c = EVO_C, hm = EVO_HEADS_M, hz = EVO_HEADS_Z;
	int n = 0;
#define OP(nm, e, k) (op[n].name = (nm), op[n].elems = (e), op[n].kernel = (k), n++)
	OP("msa_row_attn.ln", s * R * m, K_layer_norm_fwd_kernel);
	OP("msa_row_attn.qkvg", 4 * s * R * hm * c, EVO_GEMM);
	OP("msa_row_attn.softmax", hm * s * R * R, K_softmax_fwd_kernel);
	OP("msa_row_attn.gated_out", s * R * hm * c, K_sigmoid_gate_kernel);
	OP("msa_col_attn.ln", s * R * m, K_layer_norm_fwd_kernel);
	OP("msa_col_attn.qkvg", 4 * s * R * hm * c, EVO_GEMM);
	OP("msa_col_attn.softmax", hm * R * s * s, K_softmax_fwd_kernel);
	OP("msa_col_attn.gated_out", s * R * hm * c, K_sigmoid_gate_kernel);
	OP("msa_transition.hidden", 4 * s * R * m, K_transition_kernel);
	OP("outer_product_mean.ab", 2 * s * R * c, EVO_GEMM);
	OP("outer_product_mean.outer", R * R * c * c, K_outer_product_mean_kernel);
	OP("tri_mul_out.ab", 4 * R * R * z, K_sigmoid_gate_kernel);
	OP("tri_mul_out.prod", R * R * z, K_triangle_multiply_kernel);
	OP("tri_mul_in.ab", 4 * R * R * z, K_sigmoid_gate_kernel);
	OP("tri_mul_in.prod", R * R * z, K_triangle_multiply_kernel);
	OP("tri_attn_start.qkvg", 4 * R * R * hz * c, EVO_GEMM);
	OP("tri_attn_start.softmax", hz * R * R * R, K_softmax_fwd_kernel);
	OP("tri_attn_end.qkvg", 4 * R * R * hz * c, EVO_GEMM);
	OP("tri_attn_end.softmax", hz * R * R * R, K_softmax_fwd_kernel);
	OP("pair_transition.hidden", 4 * R * R * z, K_transition_kernel);
#undef OP
	return n;
}

/* --chunk N: the attention maps (softmax ops) are made N residues at a
 * time (OpenFold/FastFold chunk size) and never kept whole: forward makes
 * and drops each chunk; backward recomputes each chunk beside its gradient. */
static int chunked(const struct st_opts *o, const struct evo_op *op)
{
	return o->chunk > 0 && o->chunk < o->residues && op->kernel == K_softmax_fwd_kernel;
}

static uint64_t chunk_bytes(const struct st_opts *o, uint64_t bytes)
{
	return bytes / (uint64_t)o->residues * (uint64_t)o->chunk;
}

static void evo_op_kernel(struct st_rank *r, const struct evo_op *op, uint64_t out_bytes);

/* Forward of a chunked op: each chunk made, used, dropped. */
static void chunk_fwd(struct st_rank *r, int k, const struct evo_op *op, uint64_t bytes)
{
	int R = r->o->residues, c;
	for (c = 0; c < R; c += r->o->chunk) {
		struct st_tensor *t = st_new(r, ST_CAT_TEMPORARY, k, chunk_bytes(r->o, bytes), "layer.%d.%s.chunk", k, op->name);
		evo_op_kernel(r, op, t->requested);
		st_del(r, t);
	}
}

/* Backward of a chunked op: each chunk recomputed beside its gradient. */
static void chunk_bwd(struct st_rank *r, int k, const struct evo_op *op, uint64_t bytes)
{
	int R = r->o->residues, c;
	for (c = 0; c < R; c += r->o->chunk) {
		struct st_tensor *t = st_new(r, ST_CAT_TEMPORARY, k, chunk_bytes(r->o, bytes), "layer.%d.%s.chunk", k, op->name);
		struct st_tensor *g;
		evo_op_kernel(r, op, t->requested);
		g = st_new(r, ST_CAT_TEMPORARY, k, t->requested, "layer.%d.grad.%s", k, op->name);
		st_gemm(r, ST_GEMM_NN, g->requested);
		st_del(r, t);
		st_del(r, g);
	}
}

static void evo_op_kernel(struct st_rank *r, const struct evo_op *op, uint64_t out_bytes)
{
	if (op->kernel == EVO_GEMM)
		st_gemm(r, ST_GEMM_TN, out_bytes);
	else
		st_kernel(r, op->kernel, out_bytes);
}

void st_evo_forward_backward(struct st_rank *r, int micro)
{
	const struct st_opts *o = r->o;
	struct evo_op ops[EVO_MAXOPS];
	int nops = block_ops(o, ops), k, i;
	uint64_t ab = (uint64_t)r->abytes;
	uint64_t msa = (uint64_t)o->msa_seqs * (uint64_t)o->residues * (uint64_t)o->c_m * ab;
	uint64_t pair = (uint64_t)o->residues * (uint64_t)o->residues * (uint64_t)o->c_z * ab;
	struct st_tensor *in_m, *in_z, *x_m, *x_z, *g_m, *g_z;
	struct st_unit *ue = st_unit_named(r, "embed"), *uh = st_unit_named(r, "head");

	st_range_push("forward");
	st_range_push("embed.forward");
	in_m = st_new(r, ST_CAT_INPUT, -1, (uint64_t)o->msa_seqs * (uint64_t)o->residues * 23 * 4, "msa_feat");
	in_z = st_new(r, ST_CAT_INPUT, -1, (uint64_t)o->residues * 4, "target_feat");
	x_m = st_new(r, ST_CAT_ACTIVATION, 0, msa, "layer.0.input.msa");
	x_z = st_new(r, ST_CAT_ACTIVATION, 0, pair, "layer.0.input.pair");
	st_kernel(r, K_embedding_fwd_kernel, msa + pair);
	st_range_pop();
	for (k = 0; k < o->layers; k++) {
		struct st_tensor **sv = &saved[((size_t)micro * (size_t)o->layers + (size_t)k) * EVO_MAXOPS];
		int frozen = st_frozen_prefix(r, k);
		int ck = st_opts_layer_checkpointed(o, k) || frozen;
		uint64_t sum = msa + pair;
		st_range_push("layer.%d.forward", k);
		for (i = 0; i < nops; i++) {
			if (chunked(o, &ops[i])) {
				chunk_fwd(r, k, &ops[i], ops[i].elems * ab);
				sv[i] = NULL;
				continue;
			}
			sv[i] = st_new(r, ck ? ST_CAT_TEMPORARY : ST_CAT_ACTIVATION, k, ops[i].elems * ab, "layer.%d.%s", k, ops[i].name);
			evo_op_kernel(r, &ops[i], sv[i]->requested);
			sum += sv[i]->requested;
			if (ck) {
				st_del(r, sv[i]);
				sv[i] = NULL;
			}
		}
		if (r->record_saved)
			r->truth.layer_saved[k] = ck ? msa + pair : sum;
		sv[EVO_MAXOPS - 2] = x_m;
		sv[EVO_MAXOPS - 1] = x_z;
		x_m = st_new(r, ST_CAT_ACTIVATION, k + 1, msa, "layer.%d.input.msa", k + 1);
		x_z = st_new(r, ST_CAT_ACTIVATION, k + 1, pair, "layer.%d.input.pair", k + 1);
		st_kernel(r, K_elementwise_add_kernel, msa + pair);
		if (frozen) {
			/* no autograd graph yet (--train-only): the input is not kept */
			st_del(r, sv[EVO_MAXOPS - 2]);
			st_del(r, sv[EVO_MAXOPS - 1]);
			sv[EVO_MAXOPS - 2] = sv[EVO_MAXOPS - 1] = NULL;
		}
		st_range_pop();
	}
	st_range_push("head.forward");
	st_kernel(r, K_cross_entropy_fwd_kernel, pair);
	st_range_pop();
	st_range_pop();
	r->record_saved = 0;
	st_train_set_backward(1);
	st_range_push("backward");
	st_range_push("head.backward");
	st_unit_grad_begin(r, uh);
	g_m = st_new(r, ST_CAT_TEMPORARY, -1, msa, "grad.msa");
	g_z = st_new(r, ST_CAT_TEMPORARY, -1, pair, "grad.pair");
	st_kernel(r, K_cross_entropy_bwd_kernel, pair);
	st_del(r, x_m);
	st_del(r, x_z);
	st_unit_grad_done(r, uh);
	st_range_pop();
	for (k = o->layers - 1; k >= 0 && !st_frozen_prefix(r, k); k--) {
		struct st_tensor **sv = &saved[((size_t)micro * (size_t)o->layers + (size_t)k) * EVO_MAXOPS];
		struct st_unit *u = st_unit_of_layer(r, k);
		st_range_push("layer.%d.backward", k);
		if (!sv[0]) {
			st_range_push("layer.%d.recompute", k);
			for (i = 0; i < nops; i++) {
				if (chunked(o, &ops[i]))
					continue; /* recomputed chunk by chunk in its backward */
				sv[i] = st_new(r, ST_CAT_ACTIVATION, k, ops[i].elems * ab, "layer.%d.%s", k, ops[i].name);
				evo_op_kernel(r, &ops[i], sv[i]->requested);
			}
			st_range_pop();
		}
		if (u->trainable)
			st_unit_grad_begin(r, u);
		for (i = nops - 1; i >= 0; i--) {
			struct st_tensor *g;
			if (chunked(o, &ops[i])) {
				chunk_bwd(r, k, &ops[i], ops[i].elems * ab);
				continue;
			}
			g = st_new(r, ST_CAT_TEMPORARY, k, sv[i]->requested, "layer.%d.grad.%s", k, ops[i].name);
			st_gemm(r, ST_GEMM_NN, g->requested);
			st_del(r, sv[i]);
			st_del(r, g);
			sv[i] = NULL;
		}
		st_del(r, sv[EVO_MAXOPS - 2]);
		st_del(r, sv[EVO_MAXOPS - 1]);
		sv[EVO_MAXOPS - 2] = sv[EVO_MAXOPS - 1] = NULL;
		if (u->trainable)
			st_unit_grad_done(r, u);
		st_range_pop();
	}
	if (ue->trainable) {
		st_range_push("embed.backward");
		st_unit_grad_begin(r, ue);
		st_kernel(r, K_embedding_bwd_kernel, msa + pair);
	}
	st_del(r, g_m);
	st_del(r, g_z);
	st_del(r, in_m);
	st_del(r, in_z);
	if (ue->trainable) {
		st_unit_grad_done(r, ue);
		st_range_pop();
	}
	st_range_pop();
}
