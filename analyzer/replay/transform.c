/* Techniques as transformations of the recorded lifetimes (docs/REPLAY.md).
 *
 * Order: flash attention, checkpointing (per layer window), sequence
 * parallelism, micro-batches (windows replicated), then the model states
 * (ZeRO stage and degree, optimizer, offload, layer-wise training), which
 * need the final windows for gathers and reduce buckets.
 *
 * Time keys: a tensor event sorts by (t, s).  Recorded events have s = 0 and
 * distinct t; inserted events reuse a recorded time with a negative s (just
 * before the event at t) or a positive s (just after it). */
#include "config.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/rsort.h"
#include "analyzer/replay/prefix.h"
#include "analyzer/replay/cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

struct work {
  mt_rp_tensor *t;
  size_t n, cap;
  mt_rp_window *w;
  size_t nw, capw;
  const mt_rp_input *in;
  mt_rp_result *cost;
  int64_t *times;  /* sorted event times of t (rebuilt by index_times) */
  size_t ntimes, captimes;
  const int *ustage; /* pipeline: stage of each unit (NULL without one) */
  int stage;         /* the stage replayed */
  /* after a prefix (prefix.h): t[j] for j < nkept is prefix tensor orig[j] */
  int32_t *orig;
  size_t nkept;
  mt_rp_prefix *px;  /* that prefix (with orig) */
  size_t *rw, nrw;   /* recompute windows by (unit, start) (bwd_start) */
};

/* A compaction keeps tensor i at w (w <= i).  Prefix tensors (i < nkept)
 * come first, so their origins follow them and *kept ends as their count. */
static void keep_at(struct work *k, size_t i, size_t w, size_t *kept)
{
  if (i < k->nkept) {
    if (k->orig)
      k->orig[w] = k->orig[i];
    *kept = w + 1;
  }
}

int mt_rp_reserve(void **v, size_t *cap, size_t n, size_t elem)
{
  if (*cap >= n)
    return 0;
  void *q = realloc(*v, n * elem);
  if (!q)
    return -1;
  *v = q;
  *cap = n;
  return 0;
}

static int push(struct work *k, const mt_rp_tensor *x)
{
  if (k->n == k->cap) {
    size_t c = k->cap ? 2 * k->cap : 1024;
    mt_rp_tensor *v = realloc(k->t, c * sizeof *v);
    if (!v)
      return -1;
    k->t = v;
    k->cap = c;
  }
  k->t[k->n++] = *x;
  return 0;
}

static int push_win(struct work *k, const mt_rp_window *x)
{
  if (k->nw == k->capw) {
    size_t c = k->capw ? 2 * k->capw : 256;
    mt_rp_window *v = realloc(k->w, c * sizeof *v);
    if (!v)
      return -1;
    k->w = v;
    k->capw = c;
  }
  k->w[k->nw++] = *x;
  return 0;
}

static int i64_cmp(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int index_times(struct work *k)
{
  if (mt_rp_reserve((void **)&k->times, &k->captimes, 2 * k->n + 1, sizeof *k->times) != 0)
    return -1;
  k->ntimes = 0;
  for (size_t i = 0; i < k->n; i++) {
    k->times[k->ntimes++] = k->t[i].t_alloc;
    if (k->t[i].t_free != MT_RP_NEVER)
      k->times[k->ntimes++] = k->t[i].t_free;
  }
  return mt_rp_rsort_i64(k->times, k->ntimes);
}

/* First event time > ts (or te when none before te). */
static int64_t first_after(const struct work *k, int64_t ts, int64_t te)
{
  size_t lo = 0, hi = k->ntimes;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (k->times[m] <= ts)
      lo = m + 1;
    else
      hi = m;
  }
  return lo < k->ntimes && k->times[lo] <= te ? k->times[lo] : te;
}

static int has(const char *name, const char *pat)
{
  return name && strstr(name, pat) != NULL;
}

static int ends_with(const char *name, const char *suf)
{
  if (!name)
    return 0;
  size_t a = strlen(name), b = strlen(suf);
  return a >= b && strcmp(name + a - b, suf) == 0;
}

static int model_state(int cat)
{
  return cat == MT_RP_PARAMETER || cat == MT_RP_GRADIENT || cat == MT_RP_OPTIMIZER_STATE;
}

/* Tensors that scale with the batch (and are re-made by a recompute). */
static int batch_cat(int cat)
{
  return cat == MT_RP_ACTIVATION || cat == MT_RP_TEMPORARY || cat == MT_RP_INPUT;
}

/* Attention-map tensors (s^2 in size): what flash attention never makes and
 * what selective recompute drops. */
static int attn_map(const char *name)
{
  return mt__rp_attn_map(name);
}

static const mt_rp_window *find_win(const struct work *k, int kind, int unit, int step, int occ)
{
  for (size_t i = 0; i < k->nw; i++) {
    const mt_rp_window *w = &k->w[i];
    if (w->kind == kind && w->unit == unit && w->step == step && w->occurrence == occ)
      return w;
  }
  return NULL;
}

static int in_win(int64_t t, const mt_rp_window *w)
{
  return t > w->ts && t <= w->te;
}

/* A GPT's dimensions from its recorded units: a layer's flat parameter is
 * 12h^2 + 13h, the head's 2h + Vh (final LayerNorm + untied LM head), the
 * embedding's Vh + sh (token + position).  ok = 0 when the units do not have
 * that structure.  pb: bytes per parameter element (params / master * 4). */
struct gpt_dims { uint64_t h, V, S, pb; int ok; };

static uint64_t isqrt(uint64_t x)
{
  uint64_t r = (uint64_t)sqrt((double)x);
  while (r * r > x)
    r--;
  while ((r + 1) * (r + 1) <= x)
    r++;
  return r;
}

static void gpt_solve(struct gpt_dims *g, uint64_t n_layer, uint64_t n_head, uint64_t n_embed)
{
  g->ok = 0;
  if (!n_layer || !n_head || !n_embed)
    return;
  uint64_t h = (isqrt(169 + 48 * n_layer) - 13) / 24;
  if (!h || 12 * h * h + 13 * h != n_layer || n_head <= 2 * h || (n_head - 2 * h) % h)
    return;
  g->h = h;
  g->V = (n_head - 2 * h) / h;
  if (n_embed <= g->V * h || (n_embed - g->V * h) % h)
    return;
  g->S = (n_embed - g->V * h) / h;
  g->ok = 1;
}

static void gpt_dims_of(const mt_rp_input *in, const mt_rp_tensor *t, size_t n, struct gpt_dims *g)
{
  uint64_t P[3] = { 0 }, Mb[3] = { 0 }; /* layer, head, embed */
  memset(g, 0, sizeof *g);
  for (size_t i = 0; i < n; i++) {
    const mt_rp_tensor *x = &t[i];
    if (x->unit < 0 || (size_t)x->unit >= in->nunits)
      continue;
    const char *u = in->units[x->unit].name;
    int w = in->units[x->unit].layer >= 0 ? 0 : strcmp(u, "head") == 0 ? 1 : strcmp(u, "embed") == 0 ? 2 : -1;
    if (w < 0)
      continue;
    if (x->cat == MT_RP_PARAMETER && ends_with(x->name, ".params") && !P[w])
      P[w] = x->bytes;
    else if (ends_with(x->name, ".master") && !Mb[w])
      Mb[w] = x->bytes;
  }
  uint64_t nn[3];
  for (int w = 0; w < 3; w++)
    nn[w] = Mb[w] ? Mb[w] / 4 : P[w] / 4;
  g->pb = Mb[0] && nn[0] ? P[0] / nn[0] : 4;
  gpt_solve(g, nn[0], nn[1], nn[2]);
}

/* ---- flash attention ---- */

/* The attention maps are not made; the fp32 logsumexp (4 a s b bytes per
 * layer, a s^2 b = elements of the first saved map) is kept in the first
 * map's place when s is known from a GPT's units. */
static void flash(struct work *k)
{
  struct gpt_dims g;
  gpt_dims_of(k->in, k->t, k->n, &g);
  size_t w = 0;
  for (size_t i = 0; i < k->n; i++) {
    mt_rp_tensor x = k->t[i];
    if (batch_cat(x.cat) && attn_map(x.name)) {
      if (!(g.ok && g.S && x.cat == MT_RP_ACTIVATION && ends_with(x.name, "softmax.out") && x.phase == MT_RP_PH_FORWARD))
        continue;
      x.bytes = 4 * (x.bytes / g.pb) / g.S;
    }
    k->t[w++] = x;
  }
  k->n = w;
}

/* ---- compute precision ---- */

/* Bytes per element of a precision (fp8: 1). */
int mt__rp_prec_bytes(enum mt_rp_prec p)
{
  return p == MT_RP_PREC_FP32 ? 4 : p == MT_RP_PREC_FP8 ? 1 : 2;
}

/* The stream at another compute precision, by the job model: parameters
 * and gradients (by category: they share the parameters' dtype) and every
 * named activation or temporary take the new element size, except the
 * tensors whose dtype is fixed (masks, logsumexp: mt__rp_fixed_dtype) and
 * inputs; below fp32 each persistent parameter gets an fp32 master copy (an
 * optimizer state beside it, made with it), at fp32 the master key's states
 * go.  First of all transforms, so that the others see the stream as if
 * recorded at that precision (a master copy ends in ".master" like a
 * recorded one: the flat model-state pass sizes elements by it). */
static int precision(struct work *k, const mt_rp_plan *p)
{
  const struct mt_rp_job *j = &k->in->job;
  if (p->precision == MT_RP_PREC_KEEP)
    return 0;
  uint64_t R = (uint64_t)j->param_esize, T = (uint64_t)mt__rp_prec_bytes(p->precision);
  if (R == T)
    return 0;
  size_t n0 = k->n, w = 0, kept = 0;
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor x = k->t[i];
    int keep = 1;
    if (x.cat == MT_RP_PARAMETER || x.cat == MT_RP_GRADIENT) {
      if (x.cat == MT_RP_PARAMETER && T < 4 && R == 4 && x.t_free == MT_RP_NEVER && !x.outside) {
        static const char master[] = "fp32.master";
        mt_rp_tensor m = x;
        m.cat = MT_RP_OPTIMIZER_STATE;
        m.s_alloc = x.s_alloc + 1;
        m.flags |= MT_RP_F_INSERTED;
        m.name = master;
        m.pid = x.pid & ~15;
        if (push(k, &m) != 0)
          return -1;
      }
      x.bytes = x.bytes / R * T;
    } else if (x.cat == MT_RP_OPTIMIZER_STATE && j->master_key >= 0 && mt_rp_skey_of(&x) == j->master_key) {
      keep = T < 4;
    } else if ((x.cat == MT_RP_ACTIVATION || x.cat == MT_RP_TEMPORARY) && x.name && !mt__rp_fixed_dtype(x.name)) {
      x.bytes = x.bytes / R * T;
    }
    if (keep) {
      keep_at(k, i, w, &kept);
      k->t[w++] = x;
    }
  }
  /* the masters pushed after n0 follow the kept tensors */
  memmove(k->t + w, k->t + n0, (k->n - n0) * sizeof *k->t);
  k->n = w + (k->n - n0);
  return 0;
}

/* ---- batch and sequence length ---- */

/* Every tensor made by the forward and backward (activations, temporaries,
 * inputs; not the optimizer's) scales with the batch, and with the sequence
 * length to the power its module gives it (mt__rp_seq_power: linear, the
 * attention maps quadratic, triangle attention cubic).  Model states do not
 * change (a learnt position table's rows are left as recorded). */
static int shape(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  double fb = 1, fs = 1;
  if (p->batch > 0)
    fb = (double)p->batch / (double)(p->batch_rec > 0 ? p->batch_rec : in->recorded_batch);
  if (p->seq > 0)
    fs = (double)p->seq / (double)(p->seq_rec > 0 ? p->seq_rec : in->recorded_seq);
  if (fb == 1 && fs == 1)
    return 0;
  for (size_t i = 0; i < k->n; i++) {
    mt_rp_tensor *x = &k->t[i];
    if (!batch_cat(x->cat) || x->phase == MT_RP_PH_OPTIMIZER || x->outside)
      continue;
    double f = fb * pow(fs, mt__rp_seq_power(x->name));
    x->bytes = (uint64_t)llround((double)x->bytes * f);
  }
  return 0;
}

/* ---- chunked attention (--chunk N, OpenFold/FastFold's chunk size) ---- */

/* The attention maps are made N of the crop's R rows at a time and never
 * kept whole: a map the forward (or a recompute) made becomes a chunk of
 * N/R its size, dropped at once; where the backward freed it, its chunk is
 * recomputed beside its gradient; the gradients of maps are chunks too.
 * R is the crop after --seq. */
static int chunk(struct work *k, const mt_rp_plan *p)
{
  if (p->chunk <= 0)
    return 0;
  int64_t R = p->seq > 0 ? p->seq : k->in->recorded_seq;
  if (R <= 0 || p->chunk >= R)
    return 0;
  size_t n0 = k->n;
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor *x = &k->t[i];
    if (!batch_cat(x->cat) || !attn_map(x->name))
      continue;
    x->bytes = x->bytes / (uint64_t)R * (uint64_t)p->chunk;
    if (x->phase == MT_RP_PH_BACKWARD || x->t_free == MT_RP_NEVER)
      continue;
    mt_rp_tensor c = *x;
    int64_t tf = x->t_free;
    int32_t sf = x->s_free;
    x->t_free = x->t_alloc;
    x->s_free = x->s_alloc + 1;
    if (x->phase == MT_RP_PH_FORWARD && x->cat == MT_RP_TEMPORARY)
      continue; /* made and dropped in forward already (checkpointed) */
    c.t_alloc = tf;
    c.s_alloc = sf - 2;
    c.t_free = tf;
    c.s_free = sf;
    c.phase = MT_RP_PH_BACKWARD;
    c.flags |= MT_RP_F_INSERTED;
    if (push(k, &c) != 0)
      return -1;
  }
  return 0;
}

/* ---- freezing (--train-only) ---- */

int mt__rp_under(const char *list, const char *name)
{
  if (!list || !*list)
    return 1;
  size_t n = name ? strlen(name) : 0;
  for (const char *q = list; *q;) {
    size_t l = strcspn(q, ",");
    if (l && l <= n && strncmp(name, q, l) == 0 && (name[l] == 0 || name[l] == '.'))
      return 1;
    q += l + (q[l] == ',');
  }
  return 0;
}

/* A model-state tensor's owner name: its unit's on a flat layout, else its own. */
static const char *owner_name(const mt_rp_input *in, const mt_rp_tensor *x)
{
  if (in->job.flat)
    return x->unit >= 0 && (size_t)x->unit < in->nunits ? in->units[x->unit].name : NULL;
  return x->name;
}

struct span { int64_t ts, te; };

static int span_cmp(const void *a, const void *b)
{
  const struct span *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The span of v[0..n) (sorted, disjoint) containing t, or NULL. */
static const struct span *span_at(const struct span *v, size_t n, int64_t t)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (v[m].ts < t)
      lo = m + 1;
    else
      hi = m;
  }
  return lo > 0 && t <= v[lo - 1].te ? &v[lo - 1] : NULL;
}

/* Frozen parameters (not under --train-only's prefixes) get no gradient and
 * no optimizer state (a flat layout's are dropped by the model-state pass).
 * And PyTorch builds no autograd graph before the first module with a
 * trainable parameter: in each phase, the backward after the last trainable
 * unit's backward window is not run (its allocations go; what lived into it
 * is freed where it starts), and what the forward before the first
 * trainable unit kept for it is freed at the end of the unit window that
 * made it (nothing is saved there).  By windows and identities only. */
static int train_only(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  const struct mt_rp_job *j = &in->job;
  if (!p->train_only[0])
    return 0;
  unsigned char *frozen = calloc(j->nparams + 1, 1), *utrain = calloc(in->nunits + 1, 1);
  struct span *F = malloc((k->nw + 1) * sizeof *F), *Bk = malloc((k->nw + 1) * sizeof *Bk),
              *U = malloc((k->nw + 1) * sizeof *U);
  int64_t *ta = NULL;
  int rc = -1;
  if (!frozen || !utrain || !F || !Bk || !U)
    goto out;
  for (size_t i = 0; i < k->n; i++) {
    const mt_rp_tensor *x = &k->t[i];
    if (x->cat != MT_RP_PARAMETER)
      continue;
    int under = mt__rp_under(p->train_only, owner_name(in, x));
    int id = mt_rp_param_of(x);
    if (id >= 0 && (size_t)id < j->nparams)
      frozen[id] = !under;
    if (under && x->unit >= 0 && (size_t)x->unit < in->nunits)
      utrain[x->unit] = 1;
  }
  /* the optimizer's own temporaries (torch.optim's foreach lists) scale with
   * what it updates: the trainable share of the parameter bytes */
  uint64_t tb = 0;
  {
    unsigned char *seen = calloc(j->nparams + 1, 1);
    if (!seen)
      goto out;
    for (size_t i = 0; i < k->n; i++) {
      int id = mt_rp_param_of(&k->t[i]);
      if (k->t[i].cat == MT_RP_PARAMETER && id >= 0 && (size_t)id < j->nparams && !seen[id]) {
        seen[id] = 1;
        tb += frozen[id] ? 0 : k->t[i].bytes;
      }
    }
    free(seen);
  }
  double share = j->param_bytes ? (double)tb / (double)j->param_bytes : 1.0;
  /* per phase: the first trainable forward window, the last trainable backward one */
  size_t nF = 0, nB = 0, nU = 0;
  for (size_t wi = 0; wi < k->nw; wi++) {
    const mt_rp_window *P = &k->w[wi];
    if (P->kind != MT_RP_W_PHASE_FWD && P->kind != MT_RP_W_PHASE_BWD)
      continue;
    int fwd = P->kind == MT_RP_W_PHASE_FWD;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t u = 0; u < k->nw; u++) {
      const mt_rp_window *W = &k->w[u];
      if (W->unit < 0 || (size_t)W->unit >= in->nunits || !utrain[W->unit] || W->ts < P->ts || W->te > P->te)
        continue;
      if (fwd && W->kind == MT_RP_W_FORWARD && W->ts < first)
        first = W->ts;
      if (!fwd && W->kind == MT_RP_W_BACKWARD && W->te > last)
        last = W->te;
    }
    if (fwd && first != INT64_MAX && first > P->ts)
      F[nF++] = (struct span){ P->ts, first };
    if (!fwd && last != INT64_MIN && last < P->te)
      Bk[nB++] = (struct span){ last, P->te };
  }
  for (size_t wi = 0; wi < k->nw; wi++)
    if (k->w[wi].kind == MT_RP_W_FORWARD)
      U[nU++] = (struct span){ k->w[wi].ts, k->w[wi].te };
  qsort(F, nF, sizeof *F, span_cmp);
  qsort(Bk, nB, sizeof *Bk, span_cmp);
  size_t na = 0;
  ta = malloc((k->n + 1) * sizeof *ta);
  if (!ta)
    goto out;
  for (size_t i = 0; i < k->n; i++)
    if (span_at(F, nF, k->t[i].t_alloc))
      ta[na++] = k->t[i].t_alloc;
  qsort(ta, na, sizeof *ta, i64_cmp);
  qsort(U, nU, sizeof *U, span_cmp);
  size_t w = 0, kept = 0;
  for (size_t i = 0; i < k->n; i++) {
    mt_rp_tensor x = k->t[i];
    int keep = 1, id = mt_rp_param_of(&x);
    if ((x.cat == MT_RP_GRADIENT || x.cat == MT_RP_OPTIMIZER_STATE) && !j->flat && id >= 0 &&
        (size_t)id < j->nparams && frozen[id]) {
      keep = 0;
    } else if (!model_state(x.cat) && span_at(Bk, nB, x.t_alloc)) {
      keep = 0; /* the frozen part's backward is not run */
    } else if (x.cat == MT_RP_TEMPORARY && x.phase == MT_RP_PH_OPTIMIZER && !j->flat) {
      x.bytes = (uint64_t)((double)x.bytes * share);
      keep = x.bytes > 0;
    } else if (!model_state(x.cat) && x.cat != MT_RP_INPUT && x.t_free != MT_RP_NEVER) {
      const struct span *b = span_at(Bk, nB, x.t_free);
      if (b && span_at(F, nF, x.t_alloc)) {
        /* kept for the frozen backward: freed with the unit window that made it */
        const struct span *u = NULL;
        size_t lo = 0, hi = nU;
        while (lo < hi) {
          size_t m = (lo + hi) / 2;
          if (U[m].ts < x.t_alloc)
            lo = m + 1;
          else
            hi = m;
        }
        for (size_t q = lo; q-- > 0 && !u && lo - q <= 64;) /* the innermost: the latest start */
          if (x.t_alloc <= U[q].te)
            u = &U[q];
        if (u) {
          /* without a graph a tensor dies once consumed: taken as just
           * after the next allocation (its consumer's output), within the window */
          int64_t nx = u->te;
          size_t a = 0, z = na;
          while (a < z) {
            size_t m = (a + z) / 2;
            if (ta[m] <= x.t_alloc)
              a = m + 1;
            else
              z = m;
          }
          if (a < na && ta[a] < nx)
            nx = ta[a];
          x.t_free = nx;
          x.s_free = 1;
        }
      } else if (b) {
        x.t_free = b->ts;
        x.s_free = 1;
      }
    }
    if (keep) {
      keep_at(k, i, w, &kept);
      k->t[w++] = x;
    }
  }
  k->n = w;
  rc = 0;
out:
  free(frozen);
  free(utrain);
  free(F);
  free(Bk);
  free(U);
  free(ta);
  return rc;
}

/* ---- activation checkpointing ---- */

struct wev {
  int64_t t;
  int32_t s;
  int is_free;
  size_t i;
  size_t c; /* candidate slot (checkpoint_window) */
};

/* (t, s, is_free, i): i last makes the order total, the order the stable
 * sort of events gathered in index order gave. */
static int wev_cmp(const void *a, const void *b)
{
  const struct wev *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  if (x->s != y->s)
    return x->s < y->s ? -1 : 1;
  if (x->is_free != y->is_free)
    return x->is_free - y->is_free;
  return x->i < y->i ? -1 : x->i > y->i;
}

static int layer_checkpointed(const mt_rp_plan *p, int layer)
{
  if (layer < 0)
    return 0;
  switch (p->ckpt) {
  case MT_RP_CK_ALL: return 1;
  case MT_RP_CK_EVERY: return p->ckpt_every > 0 && layer % p->ckpt_every == 0;
  case MT_RP_CK_LAYERS: return layer < MT_RP_MAX_LAYERS && p->ckpt_layer[layer];
  default: return 0;
  }
}

#define SUB_BASE (-1000000)

/* Tensors by allocation time, for the windows of the checkpointing pass
 * (windows x tensors scans made --checkpoint all on a 1M-event recording take
 * 17 s).  The tensors of the pass's start are sorted once by (t_alloc, index)
 * (their t_alloc never changes during the pass); the copies a window adds
 * share one allocation time and are kept as groups (t, [lo, hi)) sorted by t.
 * A query returns the indexes whose allocation time is in (ts, te]. */
struct tkey { int64_t t; size_t i; };
struct tgroup { int64_t t; size_t lo, hi; };
struct tindex {
  struct tkey *key;
  size_t nkey;
  struct tgroup *g;
  size_t ng, capg;
  size_t *out;
  size_t nout, capout;
};

static int tkey_cmp(const void *a, const void *b)
{
  const struct tkey *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static int tindex_build(struct tindex *ix, const struct work *k)
{
  memset(ix, 0, sizeof *ix);
  ix->key = malloc((k->n + 1) * sizeof *ix->key);
  if (!ix->key)
    return -1;
  for (size_t i = 0; i < k->n; i++)
    ix->key[i] = (struct tkey){ k->t[i].t_alloc, i };
  ix->nkey = k->n;
  qsort(ix->key, ix->nkey, sizeof *ix->key, tkey_cmp);
  return 0;
}

static void tindex_free(struct tindex *ix)
{
  free(ix->key);
  free(ix->g);
  free(ix->out);
}

/* Tensors [lo, hi) were added, all allocated at t. */
static int tindex_add(struct tindex *ix, int64_t t, size_t lo, size_t hi)
{
  if (lo >= hi)
    return 0;
  if (ix->ng == ix->capg) {
    size_t c = ix->capg ? 2 * ix->capg : 256;
    struct tgroup *v = realloc(ix->g, c * sizeof *v);
    if (!v)
      return -1;
    ix->g = v;
    ix->capg = c;
  }
  size_t j = ix->ng;
  while (j > 0 && ix->g[j - 1].t > t)
    j--;
  memmove(ix->g + j + 1, ix->g + j, (ix->ng - j) * sizeof *ix->g);
  ix->g[j] = (struct tgroup){ t, lo, hi };
  ix->ng++;
  return 0;
}

static int tindex_put(struct tindex *ix, size_t i)
{
  if (ix->nout == ix->capout) {
    size_t c = ix->capout ? 2 * ix->capout : 256;
    size_t *v = realloc(ix->out, c * sizeof *v);
    if (!v)
      return -1;
    ix->out = v;
    ix->capout = c;
  }
  ix->out[ix->nout++] = i;
  return 0;
}

/* Indexes allocated in (ts, te] into ix->out (not in index order). */
static int tindex_query(struct tindex *ix, int64_t ts, int64_t te)
{
  ix->nout = 0;
  size_t lo = 0, hi = ix->nkey;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (ix->key[m].t <= ts)
      lo = m + 1;
    else
      hi = m;
  }
  for (size_t j = lo; j < ix->nkey && ix->key[j].t <= te; j++)
    if (tindex_put(ix, ix->key[j].i) != 0)
      return -1;
  lo = 0;
  hi = ix->ng;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (ix->g[m].t <= ts)
      lo = m + 1;
    else
      hi = m;
  }
  for (size_t j = lo; j < ix->ng && ix->g[j].t <= te; j++)
    for (size_t i = ix->g[j].lo; i < ix->g[j].hi; i++)
      if (tindex_put(ix, i) != 0)
        return -1;
  return 0;
}

/* Full recompute of layer window W, restored at the start of B; partial:
 * the outputs of its operators with FLOPs kept from the forward (cost.h
 * mt_rp_cost_partial), the rest recomputed. */
static int checkpoint_window(struct work *k, struct tindex *ix, const mt_rp_window *W, const mt_rp_window *B,
                             int partial)
{
  size_t n0 = k->n, nev = 0, nc = 0;
  if (tindex_query(ix, W->ts, W->te) != 0)
    return -1;
  struct wev *ev = malloc((2 * ix->nout + 1) * sizeof *ev);
  size_t *freepos = malloc((ix->nout + 1) * sizeof *freepos);
  if (!ev || !freepos) {
    free(ev);
    free(freepos);
    return -1;
  }
  for (size_t q = 0; q < ix->nout; q++) {
    size_t i = ix->out[q];
    const mt_rp_tensor *x = &k->t[i];
    if (!batch_cat(x->cat))
      continue;
    ev[nev++] = (struct wev){ x->t_alloc, x->s_alloc, 0, i, nc };
    if (x->t_free != MT_RP_NEVER && in_win(x->t_free, W))
      ev[nev++] = (struct wev){ x->t_free, x->s_free, 1, i, nc };
    freepos[nc++] = SIZE_MAX;
  }
  qsort(ev, nev, sizeof *ev, wev_cmp);
  for (size_t e = 0; e < nev; e++)
    if (ev[e].is_free)
      freepos[ev[e].c] = e;
  /* partial: which allocations are outputs of operators with FLOPs */
  unsigned char *keep = NULL;
  if (partial) {
    uint64_t *by = malloc((nev + 1) * sizeof *by);
    unsigned char *fl = malloc(nev + 1);
    size_t *at = malloc((nev + 1) * sizeof *at), na = 0;
    keep = calloc(nev + 1, 1);
    if (!by || !fl || !at || !keep) {
      free(by), free(fl), free(at), free(keep), free(ev), free(freepos);
      return -1;
    }
    for (size_t e = 0; e < nev; e++)
      if (!ev[e].is_free && !k->t[ev[e].i].outside) {
        at[na] = e;
        by[na++] = k->t[ev[e].i].bytes;
      }
    int nk = mt_rp_cost_flop_outputs(k->in, W->unit, by, na, fl);
    for (size_t a = 0; a < na; a++)
      keep[at[a]] = nk > 0 && fl[a];
    free(by), free(fl), free(at);
    if (nk <= 0) { /* nothing matched: the layer is left as it was */
      free(keep), free(ev), free(freepos);
      return 0;
    }
  }
  int64_t t0 = first_after(k, B->ts, B->te);
  int32_t order = 1, tail = 0;
  for (size_t e = 0; e < nev; e++) {
    size_t i = ev[e].i;
    if (keep && keep[e] && !ev[e].is_free && !(k->t[i].t_free != MT_RP_NEVER && in_win(k->t[i].t_free, B))) {
      /* a kept output autograd did not save: the selective-checkpoint
         cache holds it until the recompute takes it */
      k->t[i].t_free = t0;
      k->t[i].s_free = SUB_BASE - 1;
    }
    if (ev[e].is_free || (keep && keep[e]))
      continue;
    mt_rp_tensor c = k->t[i];
    int saved = c.t_free != MT_RP_NEVER && in_win(c.t_free, B);
    c.t_alloc = t0;
    c.s_alloc = SUB_BASE + (int32_t)e;
    c.phase = MT_RP_PH_RECOMPUTE;
    c.flags |= MT_RP_F_RECOMPUTED | MT_RP_F_INSERTED;
    if (!saved) {
      c.cat = MT_RP_TEMPORARY;
      c.t_free = t0;
      c.s_free = SUB_BASE + (int32_t)nev + tail++;
      size_t f = freepos[ev[e].c];
      if (f != SIZE_MAX && f > e)
        c.s_free = SUB_BASE + (int32_t)f;
    }
    if (saved) {
      /* the forward no longer keeps it: freed when the layer's forward ends */
      k->t[i].t_free = W->te;
      k->t[i].s_free = order++;
      k->t[i].cat = MT_RP_TEMPORARY;
    }
    if (push(k, &c) != 0) {
      free(ev);
      free(freepos);
      free(keep);
      return -1;
    }
  }
  free(ev);
  free(freepos);
  free(keep);
  if (tindex_add(ix, t0, n0, k->n) != 0)
    return -1;
  int64_t pns = 0;
  uint64_t pkept;
  if (partial && mt_rp_cost_partial(k->in, W->unit, &pns, &pkept))
    k->cost->recompute_ns += pns;
  else
    k->cost->recompute_ns += mt_rp_cost_window_ns(k->in, W);
  return 0;
}

/* Free times of the tensors that are not attention maps, for selective
 * checkpointing: those of the pass's start sorted once (a window changes
 * only the free times of maps), and the times the copies a window adds are
 * freed at (one per window), kept sorted. */
struct fset {
  int64_t *v;
  size_t nv;
  int64_t *g;
  size_t ng, capg;
};

static int fset_build(struct fset *f, const struct work *k)
{
  memset(f, 0, sizeof *f);
  f->v = malloc((k->n + 1) * sizeof *f->v);
  if (!f->v)
    return -1;
  for (size_t i = 0; i < k->n; i++)
    if (k->t[i].t_free != MT_RP_NEVER && !attn_map(k->t[i].name))
      f->v[f->nv++] = k->t[i].t_free;
  qsort(f->v, f->nv, sizeof *f->v, i64_cmp);
  return 0;
}

static void fset_free(struct fset *f)
{
  free(f->v);
  free(f->g);
}

static int fset_add(struct fset *f, int64_t t)
{
  if (f->ng == f->capg) {
    size_t c = f->capg ? 2 * f->capg : 256;
    int64_t *v = realloc(f->g, c * sizeof *v);
    if (!v)
      return -1;
    f->g = v;
    f->capg = c;
  }
  size_t j = f->ng;
  while (j > 0 && f->g[j - 1] > t)
    j--;
  memmove(f->g + j + 1, f->g + j, (f->ng - j) * sizeof *f->g);
  f->g[j] = t;
  f->ng++;
  return 0;
}

/* The largest of v[0..n) below lim, or INT64_MIN. */
static int64_t last_below(const int64_t *v, size_t n, int64_t lim)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (v[m] < lim)
      lo = m + 1;
    else
      hi = m;
  }
  return lo ? v[lo - 1] : INT64_MIN;
}

static int size_cmp(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Selective: the attention maps of W are dropped after use and re-made in B.
 * ix: the tensors by allocation time, fs: the free times of the others
 * (each scan over every tensor is a query on them). */
static int selective_window(struct work *k, struct tindex *ix, struct fset *fs, const mt_rp_window *W,
                            const mt_rp_window *B)
{
  size_t n0 = k->n;
  int64_t first_core = -1, last_core = -1, first_core_free = INT64_MAX;
  if (tindex_query(ix, W->ts, W->te) != 0)
    return -1;
  for (size_t q = 0; q < ix->nout; q++) {
    const mt_rp_tensor *x = &k->t[ix->out[q]];
    if (!batch_cat(x->cat) || !attn_map(x->name))
      continue;
    if (first_core < 0 || x->t_alloc < first_core)
      first_core = x->t_alloc;
    if (x->t_alloc > last_core)
      last_core = x->t_alloc;
    if (x->t_free != MT_RP_NEVER && in_win(x->t_free, B) && x->t_free < first_core_free)
      first_core_free = x->t_free;
  }
  if (first_core < 0 || first_core_free == INT64_MAX)
    return 0;
  /* forward: maps freed right after the next allocation past the last map */
  int64_t drop = W->te;
  if (tindex_query(ix, last_core, W->te) != 0)
    return -1;
  for (size_t q = 0; q < ix->nout; q++)
    if (k->t[ix->out[q]].t_alloc < drop)
      drop = k->t[ix->out[q]].t_alloc;
  /* backward: re-made just after the last free before the first map is used */
  int64_t ins = B->ts, v = last_below(fs->v, fs->nv, first_core_free), g = last_below(fs->g, fs->ng, first_core_free);
  if (v > ins)
    ins = v;
  if (g > ins)
    ins = g;
  if (tindex_query(ix, first_core - 1, last_core) != 0)
    return -1;
  qsort(ix->out, ix->nout, sizeof *ix->out, size_cmp);
  int32_t order = 1;
  int added = 0;
  for (size_t q = 0; q < ix->nout; q++) {
    mt_rp_tensor *x = &k->t[ix->out[q]];
    if (!batch_cat(x->cat))
      continue;
    int core = attn_map(x->name);
    int saved = core && x->t_free != MT_RP_NEVER && in_win(x->t_free, B);
    if (!saved && !(x->t_free != MT_RP_NEVER && x->t_free <= W->te))
      continue;  /* neither a map nor a temporary among them */
    mt_rp_tensor c = *x;
    c.t_alloc = ins;
    c.s_alloc = (int32_t)(1000 + 2 * (x->t_alloc - first_core > 100000 ? 100000 : x->t_alloc - first_core));
    c.phase = MT_RP_PH_RECOMPUTE;
    c.flags |= MT_RP_F_RECOMPUTED | MT_RP_F_INSERTED;
    if (!saved) {
      c.t_free = ins;
      c.s_free = (int32_t)(1000 + 2 * (x->t_free - first_core > 100000 ? 100000 : x->t_free - first_core)) + 1;
      added |= !core;
    } else {
      x->t_free = drop;
      x->s_free = order++;
      x->cat = MT_RP_TEMPORARY;
    }
    if (push(k, &c) != 0) /* x is stale from here */
      return -1;
  }
  if (tindex_add(ix, ins, n0, k->n) != 0 || (added && fset_add(fs, ins) != 0))
    return -1;
  /* recompute time: the attention core's share of the layer's forward (cost.c) */
  k->cost->recompute_ns += mt_rp_cost_attention_ns(k->in, W);
  return 0;
}

/* Backward windows by (unit, step, occurrence, index): find_win's answer
 * (the first in window order) by binary search. */
static __thread const struct work *g_bw; /* for the qsort below (per thread) */

static int bw_cmp3(const mt_rp_window *a, const mt_rp_window *b)
{
  if (a->unit != b->unit)
    return a->unit < b->unit ? -1 : 1;
  if (a->step != b->step)
    return a->step < b->step ? -1 : 1;
  if (a->occurrence != b->occurrence)
    return a->occurrence < b->occurrence ? -1 : 1;
  return 0;
}

static int bw_cmp(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = bw_cmp3(&g_bw->w[x], &g_bw->w[y]);
  return c ? c : x < y ? -1 : x > y;
}

static const mt_rp_window *find_bwd(const struct work *k, const size_t *bw, size_t nbw, const mt_rp_window *W)
{
  size_t lo = 0, hi = nbw;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (bw_cmp3(&k->w[bw[m]], W) < 0)
      lo = m + 1;
    else
      hi = m;
  }
  return lo < nbw && bw_cmp3(&k->w[bw[lo]], W) == 0 ? &k->w[bw[lo]] : NULL;
}

static int checkpointing(struct work *k, const mt_rp_plan *p)
{
  if (p->ckpt == MT_RP_CK_NONE)
    return 0;
  if (index_times(k) != 0)
    return -1;
  size_t nw = k->nw, nbw = 0;
  size_t *bw = malloc((nw + 1) * sizeof *bw);
  if (!bw)
    return -1;
  for (size_t i = 0; i < nw; i++)
    if (k->w[i].kind == MT_RP_W_BACKWARD)
      bw[nbw++] = i;
  g_bw = k;
  qsort(bw, nbw, sizeof *bw, bw_cmp);
  struct tindex ix;
  struct fset fs;
  memset(&fs, 0, sizeof fs);
  int rc = tindex_build(&ix, k);
  if (rc == 0 && p->ckpt == MT_RP_CK_SELECTIVE)
    rc = fset_build(&fs, k);
  for (size_t i = 0; rc == 0 && i < nw; i++) {
    const mt_rp_window W = k->w[i];
    if (W.kind != MT_RP_W_FORWARD || W.layer < 0)
      continue;
    const mt_rp_window *B = find_bwd(k, bw, nbw, &W);
    if (!B)
      continue;
    mt_rp_window Bc = *B;
    if (p->ckpt == MT_RP_CK_SELECTIVE)
      rc = selective_window(k, &ix, &fs, &W, &Bc);
    else if (layer_checkpointed(p, W.layer))
      rc = checkpoint_window(k, &ix, &W, &Bc, p->ckpt == MT_RP_CK_LAYERS && p->ckpt_layer[W.layer] == 2);
  }
  tindex_free(&ix);
  fset_free(&fs);
  free(bw);
  return rc != 0 ? -1 : 0;
}

/* ---- sequence parallelism (Megatron TP+SP, Ulysses) ---- */

static uint64_t div_up(uint64_t a, uint64_t b)
{
  return (a + b - 1) / b;
}

static int seq_parallel(struct work *k, const mt_rp_plan *p)
{
  int d = p->sp;
  if (d <= 1)
    return 0;
  size_t n0 = k->n;
  uint64_t layer_in = 0;
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor *x = &k->t[i];
    if (batch_cat(x->cat) && x->phase != MT_RP_PH_OTHER && x->phase != MT_RP_PH_OPTIMIZER) {
      uint64_t full = x->bytes;
      if (x->cat == MT_RP_INPUT && !p->sp_ulysses)
        continue;  /* Megatron: every rank reads the whole sequence */
      x->bytes = div_up(full, (uint64_t)d);
      if (ends_with(x->name, ".input") && x->layer >= 0 && !layer_in)
        layer_in = full;
      if (p->sp_ulysses)
        continue;
      /* Megatron: all-gathered inputs of column-parallel GEMMs and full
       * partial sums of row-parallel ones (2sbh each, transient) */
      mt_rp_tensor g = *x;
      g.bytes = full;
      g.cat = MT_RP_TEMPORARY;
      g.flags |= MT_RP_F_INSERTED;
      g.name = NULL;
      int gather = ends_with(x->name, "ln1.out") || ends_with(x->name, "ln2.out") ||
                   ends_with(x->name, "final_ln.out") || ends_with(x->name, "grad.fc2.out") ||
                   ends_with(x->name, "grad.proj.out");
      int rowpar = ((ends_with(x->name, "proj.out") || ends_with(x->name, "fc2.out")) && !has(x->name, "grad.")) ||
                   ends_with(x->name, "grad.ln2.out") || ends_with(x->name, "grad.ln1.out") ||
                   ends_with(x->name, "grad.final_ln.out");
      const char *un = x->unit >= 0 ? k->in->units[x->unit].name : NULL;
      size_t ul = un ? strlen(un) : 0;
      int first_in = x->layer == 0 && un && strncmp(x->name, un, ul) == 0 && strcmp(x->name + ul, ".input") == 0;
      int first_gin = x->layer == 0 && un && strncmp(x->name, un, ul) == 0 && strcmp(x->name + ul, ".grad.input") == 0;
      if (first_in && x->phase == MT_RP_PH_FORWARD) {
        /* vocabulary-parallel embedding: full partial sums, reduce-scattered
         * into the first layer's input */
        g.t_alloc = g.t_free = x->t_alloc;
        g.s_alloc = x->s_alloc - 1;
        g.s_free = x->s_alloc + 1;
        if (push(k, &g) != 0)
          return -1;
        continue;
      }
      if (first_gin && x->t_free != MT_RP_NEVER) {
        /* the embedding's backward all-gathers the first layer's input gradient */
        g.t_alloc = g.t_free = x->t_free;
        g.s_alloc = x->s_free - 2;
        g.s_free = x->s_free - 1;
        if (push(k, &g) != 0)
          return -1;
        continue;
      }
      if (gather && !rowpar) {
        /* gathered after it is made, freed once its consumers are allocated */
        const char *until = ends_with(x->name, "ln1.out") ? ".v"
                            : ends_with(x->name, "ln2.out") ? "fc1.out"
                            : ends_with(x->name, "final_ln.out") ? "logits"
                            : ends_with(x->name, "grad.fc2.out") ? "grad.gelu.out" : "grad.attn.out";
        if (x->phase == MT_RP_PH_BACKWARD && (ends_with(x->name, "ln1.out") || ends_with(x->name, "ln2.out")))
          continue;
        /* gathered just before the GEMM that reads it makes its output
         * (the next allocation) */
        int64_t best = MT_RP_NEVER, next = MT_RP_NEVER;
        for (size_t j = 0; j < n0; j++) {
          if (k->t[j].t_alloc > x->t_alloc && k->t[j].t_alloc < best && ends_with(k->t[j].name, until))
            best = k->t[j].t_alloc;
          if (k->t[j].t_alloc > x->t_alloc && k->t[j].t_alloc < next)
            next = k->t[j].t_alloc;
        }
        if (best == MT_RP_NEVER)
          continue;
        g.t_alloc = next;
        g.s_alloc = -1;
        g.t_free = best;
        g.s_free = 1;
        if (push(k, &g) != 0)
          return -1;
      } else if (rowpar) {
        g.t_alloc = x->t_alloc;
        g.s_alloc = x->s_alloc - 1;
        g.t_free = x->t_alloc;
        g.s_free = x->s_alloc + 1;
        if (push(k, &g) != 0)
          return -1;
        if (ends_with(x->name, "grad.ln2.out") || ends_with(x->name, "grad.ln1.out") ||
            ends_with(x->name, "grad.final_ln.out")) {
          g.s_alloc = x->s_alloc - 2; /* the re-gathered LN output */
          g.s_free = x->s_alloc + 2;
          if (push(k, &g) != 0)
            return -1;
        }
      }
    }
  }
  /* communication: Megatron moves 4 full activations per layer each way;
   * Ulysses 4/d of them (ORACLES section 3) */
  uint64_t per_layer = 4 * layer_in;
  uint64_t layers = (uint64_t)(k->in->nlayers > 0 ? k->in->nlayers : 1);
  k->cost->extra_comm_bytes += 2 * layers * (p->sp_ulysses ? per_layer / (uint64_t)d : per_layer);
  return 0;
}

/* ---- micro-batches: each step's forward+backward repeated m times ---- */

struct region {
  int step;
  int64_t ts, te;
};

/* Time added before t by replicating every earlier region m times. */
static int64_t shift_of(const struct region *r, size_t nr, int m, int64_t t)
{
  int64_t s = 0;
  for (size_t q = 0; q < nr && r[q].te < t; q++)
    s += (int64_t)(m - 1) * (r[q].te - r[q].ts + 1);
  return s;
}

/* The same questions in O(log nr) when the regions are in time order (ts
 * and te nondecreasing, as a recording's steps are): the first region with
 * te >= t is then the only one before which shift_of stops and the only
 * first region that can hold t.  pre[q]: shift_of's sum over regions < q. */
struct rindex {
  const struct region *r;
  size_t nr;
  int sorted;
  int64_t pre[4097];
};

static void rindex_build(struct rindex *x, const struct region *r, size_t nr, int m)
{
  x->r = r;
  x->nr = nr;
  x->sorted = 1;
  x->pre[0] = 0;
  for (size_t q = 0; q < nr; q++) {
    x->pre[q + 1] = x->pre[q] + (int64_t)(m - 1) * (r[q].te - r[q].ts + 1);
    if (q && (r[q].ts < r[q - 1].ts || r[q].te < r[q - 1].te))
      x->sorted = 0;
  }
}

static size_t first_te_ge(const struct rindex *x, int64_t t)
{
  size_t lo = 0, hi = x->nr;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (x->r[mid].te < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int64_t rshift(const struct rindex *x, int m, int64_t t)
{
  if (!x->sorted)
    return shift_of(x->r, x->nr, m, t);
  return x->pre[first_te_ge(x, t)];
}

/* The first region q with ts < t <= te, nr when none. */
static size_t rfind(const struct rindex *x, int64_t t)
{
  size_t q;
  if (x->sorted) {
    q = first_te_ge(x, t);
    return q < x->nr && t > x->r[q].ts ? q : x->nr;
  }
  for (q = 0; q < x->nr; q++)
    if (t > x->r[q].ts && t <= x->r[q].te)
      break;
  return q;
}

static int micro_batches(struct work *k, const mt_rp_plan *p)
{
  int m = p->micro_batches;
  if (m <= 1 || m == k->in->recorded_micro)
    return 0;
  /* regions: from each step's forward phase to its backward phase end */
  struct region r[4096];
  size_t nr = 0;
  for (size_t i = 0; i < k->nw && nr < 4096; i++)
    if (k->w[i].kind == MT_RP_W_PHASE_FWD) {
      int64_t te = k->w[i].te;
      for (size_t j = 0; j < k->nw; j++)
        if (k->w[j].kind == MT_RP_W_PHASE_BWD && k->w[j].step == k->w[i].step && k->w[j].ts >= k->w[i].ts) {
          te = k->w[j].te;
          break;
        }
      r[nr++] = (struct region){ k->w[i].step, k->w[i].ts, te };
    }
  if (!nr)
    return 0;
  struct rindex *rx = malloc(sizeof *rx);
  if (!rx)
    return -1;
  rindex_build(rx, r, nr, m);
  size_t n0 = k->n;
  unsigned char *gone = calloc(n0 + 1, 1);
  if (!gone) {
    free(rx);
    return -1;
  }
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor *x = &k->t[i];
    int64_t sa, sf = 0;
    size_t q = rfind(rx, x->t_alloc);
    int inside = q < nr && x->t_free != MT_RP_NEVER && x->t_free > r[q].ts && x->t_free <= r[q].te;
    sa = rshift(rx, m, x->t_alloc);
    if (x->t_free != MT_RP_NEVER)
      sf = rshift(rx, m, x->t_free);
    x->t_alloc += sa;
    if (x->t_free != MT_RP_NEVER)
      x->t_free += sf;
    if (!inside && q < nr && x->cat == MT_RP_GRADIENT && mt_rp_param_of(x) >= 0) {
      /* gradient accumulation: a later micro-batch's backward makes the
       * gradient again, and torch's AccumulateGrad adds it to the one kept
       * and frees it (the first micro-batch's is kept as the gradient) */
      int64_t D = r[q].te - r[q].ts + 1;
      for (int j = 1; j < m; j++) {
        mt_rp_tensor c = *x;
        c.t_alloc += j * D;
        c.t_free = c.t_alloc;
        c.s_free = c.s_alloc + 1;
        c.flags |= MT_RP_F_INSERTED;
        if (push(k, &c) != 0) {
          free(rx);
          free(gone);
          return -1;
        }
        x = &k->t[i];
      }
    }
    if (!inside)
      continue;
    if (!mt_rp_made_at(x, m)) {
      gone[i] = 1;   /* a split reduction's buffers: its kernel no longer splits */
      continue;
    }
    if (batch_cat(x->cat))
      x->bytes = div_up(x->bytes, (uint64_t)m);
    int64_t D = r[q].te - r[q].ts + 1;
    for (int j = 1; j < m; j++) {
      mt_rp_tensor c = *x;
      c.t_alloc += j * D;
      c.t_free += j * D;
      if (push(k, &c) != 0) {
        free(rx);
        free(gone);
        return -1;
      }
      x = &k->t[i];
    }
  }
  free(rx);
  size_t w0 = 0;
  for (size_t i = 0; i < k->n; i++)
    if (i >= n0 || !gone[i])
      k->t[w0++] = k->t[i];
  k->n = w0;
  free(gone);
  size_t nw0 = k->nw;
  for (size_t i = 0; i < nw0; i++) {
    mt_rp_window *w = &k->w[i];
    size_t q;
    int64_t s;
    for (q = 0; q < nr; q++)
      if (w->ts >= r[q].ts && w->te <= r[q].te)
        break;
    s = shift_of(r, nr, m, w->ts);
    int64_t len = w->te - w->ts;
    w->ts += s;
    w->te = w->ts + len;
    if (q == nr || w->kind == MT_RP_W_PHASE_FWD || w->kind == MT_RP_W_PHASE_BWD) {
      if (w->kind == MT_RP_W_PHASE_FWD || w->kind == MT_RP_W_PHASE_BWD)
        w->te += (int64_t)(m - 1) * (r[q < nr ? q : 0].te - r[q < nr ? q : 0].ts + 1);
      continue;
    }
    int64_t D = r[q].te - r[q].ts + 1;
    for (int j = 1; j < m; j++) {
      mt_rp_window c = k->w[i];
      c.ts += j * D;
      c.te += j * D;
      c.occurrence = j;
      if (push_win(k, &c) != 0)
        return -1;
    }
  }
  return 0;
}

/* ---- pipeline parallelism: one stage's stream under GPipe / 1F1B ---- */

/* Stage of each unit: layers [p L / N, (p + 1) L / N) on stage p; the other
 * units (embedding, head, ...) on the first stage when their forward runs
 * before the first layer's, else on the last. */
static void unit_stages(const mt_rp_input *in, int N, int *ustage)
{
  int L = in->nlayers > 0 ? in->nlayers : 1;
  int64_t first_layer = MT_RP_NEVER;
  for (size_t i = 0; i < in->nw; i++)
    if (in->w[i].kind == MT_RP_W_FORWARD && in->w[i].layer >= 0 && in->w[i].ts < first_layer)
      first_layer = in->w[i].ts;
  for (size_t u = 0; u < in->nunits && u < MT_RP_MAX_LAYERS; u++) {
    int l = in->units[u].layer;
    if (l >= 0) {
      int st = 0;
      while (st + 1 < N && (int64_t)(st + 1) * L / N <= l)
        st++;
      ustage[u] = st;
      continue;
    }
    int64_t t = MT_RP_NEVER;
    for (size_t i = 0; i < in->nw; i++)
      if (in->w[i].kind == MT_RP_W_FORWARD && in->w[i].unit == (int)u && in->w[i].ts < t)
        t = in->w[i].ts;
    ustage[u] = t < first_layer ? 0 : N - 1;
  }
}

struct pphase {            /* one phase (forward or backward) of one recorded step */
  int64_t ts, te;
  size_t w0, nw;           /* its unit windows: indices into a sorted array */
  int64_t lo[64], hi[64];  /* span owned by each stage */
};

struct pstep {
  int step;
  struct pphase ph[2];     /* 0 forward, 1 backward */
  int nslot;
  int slot_pass[512], slot_m[512];
  int64_t slot_start[512], slot_dur[512];
  int64_t delta;           /* new length - recorded length */
};

static int cmp_win_ts(const void *a, const void *b)
{
  const mt_rp_window *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Which stage a time inside a phase belongs to: the unit of the last unit
 * window that started at or before it (the first one before any). */
static int owner_stage(const mt_rp_window *uw, const struct pphase *ph, int64_t t, const int *ustage)
{
  if (!ph->nw)
    return 0;
  size_t lo = 0, hi = ph->nw;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (uw[ph->w0 + m].ts <= t)
      lo = m + 1;
    else
      hi = m;
  }
  size_t i = lo ? lo - 1 : 0;
  return ustage[uw[ph->w0 + i].unit];
}

/* Where t lies: step index (into ps), pass, stage; -1 when outside every
 * step's forward/backward. */
static int locate(const struct pstep *ps, int nps, const mt_rp_window *uw, const int *ustage, int64_t t, int *pass,
                  int *stage)
{
  if (t == MT_RP_NEVER)
    return -1;
  for (int s = 0; s < nps; s++)
    for (int x = 0; x < 2; x++)
      if (t >= ps[s].ph[x].ts && t <= ps[s].ph[x].te) {
        *pass = x;
        *stage = owner_stage(uw, &ps[s].ph[x], t, ustage);
        return s;
      }
  return -1;
}

static int64_t shift_outside(const struct pstep *ps, int nps, int64_t t)
{
  int64_t d = 0;
  if (t == MT_RP_NEVER)
    return t;
  for (int s = 0; s < nps; s++)
    if (ps[s].ph[1].te < t)
      d += ps[s].delta;
  return t + d;
}

static int slot_of(const struct pstep *s, int pass, int m)
{
  for (int j = 0; j < s->nslot; j++)
    if (s->slot_pass[j] == pass && s->slot_m[j] == m)
      return j;
  return -1;
}

static int pipeline(struct work *k, const mt_rp_plan *p, int stage, const int *ustage)
{
  int N = p->pp, M = p->micro_batches > 1 ? p->micro_batches : 1;
  if (N <= 1)
    return 0;
  if (N > 64 || M > 128)
    return -1;
  /* unit windows sorted by start; steps with their two phases */
  mt_rp_window *uw = malloc((k->nw + 1) * sizeof *uw);
  struct pstep *ps = calloc(256, sizeof *ps);
  if (!uw || !ps) {
    free(uw);
    free(ps);
    return -1;
  }
  size_t nuw = 0;
  for (size_t i = 0; i < k->nw; i++)
    if ((k->w[i].kind == MT_RP_W_FORWARD || k->w[i].kind == MT_RP_W_BACKWARD) && k->w[i].unit >= 0)
      uw[nuw++] = k->w[i];
  qsort(uw, nuw, sizeof *uw, cmp_win_ts);
  int nps = 0;
  for (size_t i = 0; i < k->nw && nps < 256; i++) {
    const mt_rp_window *F = &k->w[i];
    if (F->kind != MT_RP_W_PHASE_FWD)
      continue;
    const mt_rp_window *B = NULL;
    for (size_t j = 0; j < k->nw; j++)
      if (k->w[j].kind == MT_RP_W_PHASE_BWD && k->w[j].step == F->step && k->w[j].ts >= F->te) {
        B = &k->w[j];
        break;
      }
    if (!B)
      continue;
    struct pstep *s = &ps[nps++];
    s->step = F->step;
    const mt_rp_window *ph[2] = { F, B };
    for (int x = 0; x < 2; x++) {
      struct pphase *q = &s->ph[x];
      q->ts = ph[x]->ts;
      q->te = ph[x]->te;
      q->w0 = nuw;
      for (size_t j = 0; j < nuw; j++)
        if (uw[j].ts >= q->ts && uw[j].te <= q->te && uw[j].kind == (x ? MT_RP_W_BACKWARD : MT_RP_W_FORWARD)) {
          if (q->w0 == nuw)
            q->w0 = j;
          q->nw = j - q->w0 + 1;
        }
      for (int st = 0; st < N; st++) {
        q->lo[st] = MT_RP_NEVER;
        q->hi[st] = -1;
      }
      for (size_t j = 0; j < q->nw; j++) {
        const mt_rp_window *w = &uw[q->w0 + j];
        int st = ustage[w->unit];
        int64_t lo = j == 0 ? q->ts : w->ts;
        int64_t hi = j + 1 == q->nw ? q->te : uw[q->w0 + j + 1].ts - 1;
        /* windows of other kinds inside the phase (nested) are skipped above */
        if (lo < q->lo[st])
          q->lo[st] = lo;
        if (hi > q->hi[st])
          q->hi[st] = hi;
      }
    }
    /* the stage's schedule */
    int warm = p->pp_1f1b ? N - stage - 1 : M;
    if (warm > M)
      warm = M;
    int fm = 0, bm = 0;
    for (int i2 = 0; i2 < warm; i2++) {
      s->slot_pass[s->nslot] = 0;
      s->slot_m[s->nslot++] = fm++;
    }
    for (int i2 = 0; i2 < M - warm; i2++) {
      s->slot_pass[s->nslot] = 0;
      s->slot_m[s->nslot++] = fm++;
      s->slot_pass[s->nslot] = 1;
      s->slot_m[s->nslot++] = bm++;
    }
    while (bm < M) {
      s->slot_pass[s->nslot] = 1;
      s->slot_m[s->nslot++] = bm++;
    }
    int64_t base = F->ts;
    for (int j = 0; j + 1 < nps; j++)
      if (ps[j].ph[1].te < F->ts)
        base += ps[j].delta; /* earlier steps grew (or shrank) */
    for (int j = 0; j < s->nslot; j++) {
      const struct pphase *q = &s->ph[s->slot_pass[j]];
      s->slot_start[j] = base;
      s->slot_dur[j] = q->hi[stage] >= q->lo[stage] ? q->hi[stage] - q->lo[stage] : 0;
      base += s->slot_dur[j] + 1;
    }
    s->delta = (base - 1) - B->te;
    if (getenv("MT_RP_DUMP"))
      for (int j = 0; j < s->nslot; j++)
        fprintf(stderr, "slot step %d stage %d: %s m%d start %lld dur %lld (lo %lld hi %lld)\n", s->step, stage,
                s->slot_pass[j] ? "B" : "F", s->slot_m[j], (long long)s->slot_start[j], (long long)s->slot_dur[j],
                (long long)s->ph[s->slot_pass[j]].lo[stage], (long long)s->ph[s->slot_pass[j]].hi[stage]);
  }
  /* the stage's tensors */
  size_t n0 = k->n;
  mt_rp_tensor *out = malloc((n0 * (size_t)M + 1) * sizeof *out);
  if (!out) {
    free(uw);
    free(ps);
    return -1;
  }
  size_t no = 0;
  int saw_ws = 0;
  for (size_t i = 0; i < n0; i++) {
    const mt_rp_tensor *x = &k->t[i];
    int pa = 0, sa = 0, pf = 0, sf = 0;
    int ia = locate(ps, nps, uw, ustage, x->t_alloc, &pa, &sa);
    int iff = locate(ps, nps, uw, ustage, x->t_free, &pf, &sf);
    if (ia < 0) {
      /* made outside the passes (init, optimizer): kept; model states of
       * other stages' units go in model_states */
      mt_rp_tensor c = *x;
      c.t_alloc = shift_outside(ps, nps, x->t_alloc);
      if (iff >= 0) {
        const struct pstep *s = &ps[iff];
        int j = slot_of(s, pf, M - 1);
        c.t_free = sf == stage && j >= 0 ? s->slot_start[j] + (x->t_free - s->ph[pf].lo[stage]) : s->slot_start[0];
      } else
        c.t_free = shift_outside(ps, nps, x->t_free);
      out[no++] = c;
      continue;
    }
    const struct pstep *s = &ps[ia];
    int same = iff == ia;
    int mine_a = sa == stage, mine_f = same && sf == stage;
    if (!mine_a && !mine_f) {
      if (x->outside && !saw_ws) {
        /* a device allocation of the library (cuBLAS workspace) the stage
         * makes at its own first pass */
        mt_rp_tensor c = *x;
        c.t_alloc = s->slot_start[0];
        c.s_alloc = -20;
        c.t_free = shift_outside(ps, nps, x->t_free);
        out[no++] = c;
        saw_ws = x->t_free == MT_RP_NEVER;
      }
      continue;
    }
    int copies = batch_cat(x->cat) ? M : 1;
    for (int m = 0; m < copies; m++) {
      mt_rp_tensor c = *x;
      if (batch_cat(x->cat))
        c.bytes = div_up(x->bytes, (uint64_t)M);
      int ja = slot_of(s, pa, m);
      if (ja < 0)
        continue;
      if (mine_a) {
        c.t_alloc = s->slot_start[ja] + (x->t_alloc - s->ph[pa].lo[stage]);
      } else {
        /* received from the neighbouring stage at the start of the pass;
         * 1F1B's steady state batches the receive with the previous send */
        int grouped = p->pp_1f1b && ja > 0 && s->slot_pass[ja - 1] != pa;
        c.t_alloc = grouped ? s->slot_start[ja] - 1 : s->slot_start[ja];
        c.s_alloc = grouped ? 5 : -10;
      }
      if (mine_f) {
        int jf = slot_of(s, pf, m);
        c.t_free = jf >= 0 ? s->slot_start[jf] + (x->t_free - s->ph[pf].lo[stage]) : c.t_alloc;
      } else if (same) {
        /* sent on to the neighbouring stage, which keeps it: freed here */
        c.t_free = s->slot_start[ja] + s->slot_dur[ja];
        c.s_free = 10;
      } else if (iff >= 0) {
        c.t_free = shift_outside(ps, nps, ps[iff].ph[0].ts);
      } else {
        c.t_free = shift_outside(ps, nps, x->t_free);
      }
      if (c.t_free != MT_RP_NEVER && (c.t_free < c.t_alloc || (c.t_free == c.t_alloc && c.s_free < c.s_alloc))) {
        c.t_free = c.t_alloc;
        c.s_free = c.s_alloc + 1;
      }
      out[no++] = c;
    }
  }
  free(k->t);
  k->t = out;
  k->n = no;
  k->cap = n0 * (size_t)M + 1;
  /* windows: shifted outside the passes; the per-unit ones of this stage are
   * not rebuilt (ZeRO-2/3 with a pipeline is not modelled) */
  for (size_t i = 0; i < k->nw; i++) {
    int pa, sa;
    if (locate(ps, nps, uw, ustage, k->w[i].ts, &pa, &sa) < 0) {
      int64_t len = k->w[i].te - k->w[i].ts;
      k->w[i].ts = shift_outside(ps, nps, k->w[i].ts);
      k->w[i].te = k->w[i].ts + len;
    }
  }
  free(uw);
  free(ps);
  return 0;
}

/* ---- model states: ZeRO stage and degree, optimizer, offload, LISA ---- */

/* Geometry of the plan: simtrain's --world is dp x sp x pp; the ZeRO /
 * gradient group is dp (Megatron) or dp x sp (Ulysses, sp 1). */
static void plan_geom(const mt_rp_input *in, const mt_rp_plan *p, int *world, int *dp, int *nd)
{
  int sp = p->sp > 1 ? p->sp : 1, pp = p->pp > 1 ? p->pp : 1;
  *world = p->world > 0 ? p->world : in->world * (in->recorded_sp > 1 ? in->recorded_sp : 1);
  *dp = *world / (sp * pp);
  if (*dp < 1)
    *dp = 1;
  *nd = (p->sp_ulysses || sp == 1) ? *dp * sp : *dp;
}

/* Megatron tensor parallelism of degree t over a GPT's flat units: the
 * layer's 12h^2 + 13h parameters are 12h^2 + 7h column/row-parallel weights
 * and biases (sharded) and 6h LayerNorm and row-parallel biases (replicated);
 * embedding and head are vocabulary-parallel (V h / t), the position
 * embedding (s h) and the final LayerNorm (2 h) replicated.  h comes from the
 * recorded layer size, V from the head, s from the embedding.  Returns the
 * elements per rank, or n when the unit does not have that structure. */

static uint64_t tp_numel(const struct gpt_dims *g, const char *unit, int layer, uint64_t n, uint64_t t)
{
  if (!g->ok || t <= 1)
    return n;
  if (layer >= 0)
    return 12 * g->h * g->h / t + 7 * g->h / t + 6 * g->h;
  if (strcmp(unit, "embed") == 0)
    return g->V * g->h / t + g->S * g->h;
  if (strcmp(unit, "head") == 0)
    return 2 * g->h + g->V * g->h / t;
  return n;
}

struct ustate {
  uint64_t n, nn, pb;     /* recorded elements, elements per rank after TP, bytes per element */
  uint64_t pad, shard;
  int present, has_master, layer, active, nstates_rec;
  int64_t t_params;
  /* layer-wise training: where the recording made master and states */
  int64_t t_master, t_st[2];
  int32_t s_master, s_st[2];
  uint64_t b_st[2];
  int nst, lisa, bucket_nb;
  int32_t gathered;       /* index into k->t of the live gather, -1 */
  int refs, prefetched, has_win;
  int gshard;             /* ZeRO-3 with parameter offload: its gradient shard made */
};

static uint64_t opt_state_bytes(enum mt_rp_optim o, int i, uint64_t n, int *nstates)
{
  double r = sqrt((double)n);
  switch (o) {
  case MT_RP_OPT_SGD: case MT_RP_OPT_LION: *nstates = 1; return 4 * n;
  case MT_RP_OPT_ADAFACTOR: *nstates = 2; return 4 * (uint64_t)r;
  case MT_RP_OPT_ADAM_MINI: *nstates = 2; return i ? 4 * (uint64_t)r : 4 * n;
  case MT_RP_OPT_ADAM8BIT: *nstates = 2; return n + div_up(n, 2048) * 4;
  default: *nstates = 2; return 4 * n;
  }
}

static __thread struct ustate *g_us; /* for the qsort below (per thread) */

static int by_params_time(const void *a, const void *b)
{
  const struct ustate *x = &g_us[*(const int *)a], *y = &g_us[*(const int *)b];
  return x->t_params < y->t_params ? -1 : x->t_params > y->t_params;
}

static int is_bucket(const mt_rp_tensor *x)
{
  return x->cat == MT_RP_GRADIENT && has(x->name, "grad.bucket");
}

/* The first event of a backward window after its recompute (where a
 * framework's gradient hooks start). */
static __thread const mt_rp_window *g_rw; /* for the qsort below (per thread) */

static int rw_cmp(const void *a, const void *b)
{
  const mt_rp_window *x = &g_rw[*(const size_t *)a], *y = &g_rw[*(const size_t *)b];
  if (x->unit != y->unit)
    return x->unit < y->unit ? -1 : 1;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* The first event of backward window B after the recompute windows of its
 * unit inside it.  The recompute windows are indexed by (unit, start) on
 * the first call. */
static int64_t bwd_start(struct work *k, const mt_rp_window *B)
{
  if (!k->rw) {
    k->rw = malloc((k->nw + 1) * sizeof *k->rw);
    if (!k->rw)
      abort(); /* a few bytes per window; the transformation has no way to fail here */
    for (size_t i = 0; i < k->nw; i++)
      if (k->w[i].kind == MT_RP_W_RECOMPUTE)
        k->rw[k->nrw++] = i;
    g_rw = k->w;
    qsort(k->rw, k->nrw, sizeof *k->rw, rw_cmp);
  }
  size_t lo = 0, hi = k->nrw;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    const mt_rp_window *R = &k->w[k->rw[m]];
    if (R->unit < B->unit || (R->unit == B->unit && R->ts < B->ts))
      lo = m + 1;
    else
      hi = m;
  }
  int64_t ts = B->ts;
  for (; lo < k->nrw && k->w[k->rw[lo]].unit == B->unit && k->w[k->rw[lo]].ts <= B->te; lo++) {
    const mt_rp_window *R = &k->w[k->rw[lo]];
    if (R->te <= B->te && R->te > ts)
      ts = R->te;
  }
  return first_after(k, ts, B->te);
}

/* Layer-wise training (LISA): every step K of the L layers are sampled; a
 * layer that becomes active gets its gradient bucket and master weights at
 * the start of the step and its optimizer states lazily at that step's
 * optimizer (as torch.optim does); a layer that leaves loses all of them at
 * the start of the step.  Which layers the sampler picks cannot be known
 * from the recording, but the bytes do not depend on which: what matters is
 * how many of a step's layers were already active the step before, and for
 * uniform sampling of K out of L that is K^2/L on average.  The replay takes
 * that overlap, a window of K layers moving by K - round(K^2/L) per step. */
static int lisa_states(struct work *k, const mt_rp_plan *p, struct ustate *us, const int *order, int no,
                       int64_t t_bucket, int32_t s_bucket, int zero)
{
  const mt_rp_input *in = k->in;
  int L = in->nlayers, K = p->train_layers;
  if (L <= 0 || p->offload != MT_RP_OFF_NONE)
    return 0;
  if (K > L)
    K = L;
  int ov = (K * K + L / 2) / L, shift = K - ov;
  /* steps and their optimizer windows, by step number */
  int nsteps = 0;
  for (size_t i = 0; i < k->nw; i++)
    if (k->w[i].kind == MT_RP_W_STEP && k->w[i].step + 1 > nsteps)
      nsteps = k->w[i].step + 1;
  if (nsteps <= 0)
    return 0;
  mt_rp_window *stw = calloc((size_t)nsteps, sizeof *stw), *opw = calloc((size_t)nsteps, sizeof *opw);
  if (!stw || !opw) {
    free(stw);
    free(opw);
    return -1;
  }
  for (size_t i = 0; i < k->nw; i++) {
    const mt_rp_window *w = &k->w[i];
    if (w->step < 0 || w->step >= nsteps)
      continue;
    if (w->kind == MT_RP_W_STEP)
      stw[w->step] = *w;
    else if (w->kind == MT_RP_W_OPTIMIZER && !opw[w->step].te)
      opw[w->step] = *w;
  }
  mt_rp_tensor base = { 0 };
  base.flags = MT_RP_F_INSERTED;
  base.step = -1;
  int rc = 0;
  for (int oi = 0; oi < no && rc == 0; oi++) {
    struct ustate *s = &us[order[oi]];
    if (!s->lisa)
      continue;
    int l = s->layer;
    for (int s0 = 0; s0 < nsteps && rc == 0;) {
      int a0 = shift <= 0 || ((l - (s0 * shift) % L) % L + L) % L < K;
      if (!a0) {
        s0++;
        continue;
      }
      int s1 = s0 + 1;
      while (s1 < nsteps && (shift <= 0 || ((l - (s1 * shift) % L) % L + L) % L < K))
        s1++;
      int64_t t_on = s0 == 0 ? 0 : first_after(k, stw[s0].ts, stw[s0].te);
      int64_t t_off = s1 < nsteps ? first_after(k, stw[s1].ts, stw[s1].te) : MT_RP_NEVER;
      int32_t so = -800 + 8 * oi;
      mt_rp_tensor x = base;
      x.unit = order[oi];
      x.layer = l;
      x.t_free = t_off;
      x.s_free = so;
      /* gradient bucket (DDP/ZeRO-1), then the master */
      if (zero <= 1) {
        x.cat = MT_RP_GRADIENT;
        x.bytes = s->pad * s->pb;
        x.t_alloc = s0 == 0 ? t_bucket : t_on;
        x.s_alloc = s0 == 0 ? s_bucket - 1000 + s->bucket_nb : so + 1;
        rc |= push(k, &x);
      }
      uint64_t optn = zero >= 1 ? s->shard : s->nn;
      if (s->has_master) {
        x.cat = MT_RP_OPTIMIZER_STATE;
        x.bytes = 4 * optn;
        x.t_alloc = s0 == 0 ? s->t_master : t_on;
        x.s_alloc = s0 == 0 ? s->s_master : so + 2;
        x.s_free = so + 1;
        rc |= push(k, &x);
      }
      for (int i = 0; i < s->nst && i < 2; i++) {
        if (!s->b_st[i] || (s0 > 0 && !opw[s0].te))
          continue;
        x.cat = MT_RP_OPTIMIZER_STATE;
        x.bytes = s->b_st[i];
        x.t_alloc = s0 == 0 ? s->t_st[i] : first_after(k, opw[s0].ts, opw[s0].te);
        x.s_alloc = s0 == 0 ? s->s_st[i] : -500 + 4 * oi + i;
        x.s_free = so + 2 + i;
        if (x.t_free == MT_RP_NEVER || x.t_alloc < x.t_free)
          rc |= push(k, &x);
      }
      s0 = s1;
    }
  }
  free(stw);
  free(opw);
  return rc ? -1 : 0;
}

/* Model states rewritten where the recording made them (same order and
 * times, new sizes), plus what the plan adds: ZeRO-2/3 gradient shards next
 * to each unit's master, transient reduce buckets, ZeRO-3 gathers. */
/* The allocations of k's tensors by time, ties in index order (v: k->n).
 * After a prefix, its own sorted allocations (made once) give the kept
 * tensors' order, merged with the new tensors' (unless a kept tensor moved). */
static int allocs_by_time(struct work *k, mt_rp_rev *v)
{
  mt_rp_prefix *x = k->px;
  if (x && !x->has_allocs) {
    if (mt_rp_reserve((void **)&x->allocs, &x->capallocs, x->n + 1, sizeof *x->allocs) != 0)
      return -1;
    for (size_t i = 0; i < x->n; i++)
      x->allocs[i] = (mt_rp_rev){ x->t[i].t_alloc, 0, (uint32_t)i };
    if (mt_rp_rsort_ev(x->allocs, x->n) != 0)
      return -1;
    x->has_allocs = 1;
  }
  int moved = !x;
  for (size_t i = 0; x && i < x->n; i++)
    x->pos[i] = -1;
  for (size_t j = 0; x && j < k->nkept && !moved; j++) {
    moved = k->t[j].t_alloc != x->t[k->orig[j]].t_alloc;
    x->pos[k->orig[j]] = (int32_t)j;
  }
  size_t from = moved ? 0 : k->nkept;
  for (size_t i = from; i < k->n; i++)
    v[i] = (mt_rp_rev){ k->t[i].t_alloc, 0, (uint32_t)i };
  if (mt_rp_rsort_ev(v + from, k->n - from) != 0)
    return -1;
  if (!moved)
    mt_rp_merge_ev(x->allocs, x->n, x->pos, 0, v, k->nkept, k->n - k->nkept);
  return 0;
}

/* Model states of a job whose parameters are tensors of their own (PyTorch:
 * one per nn.Parameter, each with its gradient and optimizer states; an
 * imported snapshot: states by the line that made them), from the job model
 * (job.c): an optimizer change resizes or drops each state by its key (the
 * n-th state of a parameter) and, to torch.optim.SGD, drops the recorded
 * step's temporaries (SGD's foreach step updates in place); offloading the
 * optimizer drops the states and the step's temporaries. */
/* ZeRO-2/3 (FSDP2's fully_shard per block, then the root) on a job with a
 * tensor per parameter.  A parameter belongs to the numbered block it is
 * named under (fsdp_unit: model.blocks.3, not its model.blocks.3.fc1), else
 * to the root module (the unit of the outermost forward window).  ZeRO-2/3:
 * each gradient is made whole in its unit's backward and reduce-scattered at
 * its end: the full gradients are copied into one flat buffer of the unit's
 * (padded) gradients, freed, and the shard (1/Nd) lives to the recorded
 * free.  ZeRO-3: parameters are shards; a unit's full parameters are
 * gathered when its forward and backward windows start (the gather's flat
 * output, as large, lives only while they are copied out) and freed at their
 * end; the root's from its forward to the end of its backward (FSDP2 keeps
 * the root unsharded after forward); in backward the next unit's gather is
 * issued after this one's (prefetch), the first block's when the root's
 * backward starts (the root's pre-backward prefetch).  Communication: +Psi bytes per step
 * over DDP (ORACLES section 1).  Checked against torch's FSDP2 on simulated
 * GPUs (tests/replay/test_torch_whatif.sh, docs/REPLAY.md): allocated within
 * 1.6 % (bert 0.7 %); reserved not yet (no allocator stream per block is
 * recorded). */
/* The FSDP unit of a parameter's tensor: the outermost numbered module its
 * name is under (model.blocks.3 for model.blocks.3.fc1.weight) when it has
 * forward and backward windows (win[u] == 3), as fully_shard(block) wraps
 * each block; else the root, which holds everything outside the blocks
 * (embedding, head, final norm).  Without names, the tensor's own unit. */
static int fsdp_unit(const mt_rp_input *in, const unsigned char *win, const mt_rp_tensor *x, int root)
{
  int best = -1;
  size_t bestn = SIZE_MAX;
  for (size_t u = 0; x->name && u < in->nunits; u++) {
    size_t n = strlen(in->units[u].name);
    if (in->units[u].layer >= 0 && win[u] == 3 && n < bestn && strncmp(x->name, in->units[u].name, n) == 0 &&
        x->name[n] == '.') {
      best = (int)u;
      bestn = n;
    }
  }
  if (best >= 0)
    return best;
  if (!x->name && x->unit >= 0 && (size_t)x->unit < in->nunits && win[x->unit] == 3)
    return x->unit;
  return root;
}

/* Pushes the held all-gather output x, freed at (t, s). */
static int flush_held(struct work *k, mt_rp_tensor *x, int64_t t, int32_t s)
{
  x->t_free = t;
  x->s_free = s;
  return push(k, x);
}

static int param_zero(struct work *k, int zero, int nd)
{
  const mt_rp_input *in = k->in;
  size_t nu = in->nunits, n0 = k->n;
  int root = in->job.root_unit;
  uint64_t *full = calloc(nu + 1, sizeof *full), *gsum = calloc(k->nw + 1, sizeof *gsum);
  int64_t *gfree = calloc(k->nw + 1, sizeof *gfree);   /* per window: last free of its gradients */
  int32_t *gsfree = calloc(k->nw + 1, sizeof *gsfree);
  unsigned char *win = calloc(nu + 1, 1), *seen = calloc(in->job.nparams + 1, 1);
  int rc = -1;
  if (!full || !gsum || !gfree || !gsfree || !win || !seen || root < 0 || (size_t)root >= nu)
    goto out;
  for (size_t w = 0; w < k->nw; w++)
    if ((k->w[w].kind == MT_RP_W_FORWARD || k->w[w].kind == MT_RP_W_BACKWARD) && k->w[w].unit >= 0 &&
        (size_t)k->w[w].unit < nu)
      win[k->w[w].unit] |= k->w[w].kind == MT_RP_W_FORWARD ? 1 : 2;
#define OWNER(x) fsdp_unit(in, win, (x), root)
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor *x = &k->t[i];
    int id = mt_rp_param_of(x);
    if (id < 0 || (size_t)id >= in->job.nparams)
      continue;
    if (x->cat == MT_RP_PARAMETER) {
      if (!seen[id]) {
        seen[id] = 1;
        full[OWNER(x)] += div_up(x->bytes, (uint64_t)nd) * (uint64_t)nd;
      }
      if (zero == 3)
        x->bytes = div_up(x->bytes, (uint64_t)nd);
    } else if (x->cat == MT_RP_GRADIENT) {
      int u = OWNER(x);
      size_t best = k->nw;
      for (size_t w = 0; w < k->nw; w++) {
        const mt_rp_window *W = &k->w[w];
        if (W->kind == MT_RP_W_BACKWARD && W->unit == u && W->ts <= x->t_alloc && x->t_alloc <= W->te &&
            (best == k->nw || W->ts >= k->w[best].ts))
          best = w;
      }
      if (best == k->nw || x->t_free <= k->w[best].te)
        continue;
      gsum[best] += div_up(x->bytes, (uint64_t)nd) * (uint64_t)nd;
      if (x->t_free > gfree[best]) {
        gfree[best] = x->t_free;
        gsfree[best] = x->s_free;
      }
      x->t_free = k->w[best].te;
      x->s_free = -3;
    }
  }
  mt_rp_tensor base = { 0 };
  base.layer = -1;
  base.flags = MT_RP_F_INSERTED;
  for (size_t w = 0; w < k->nw; w++)
    if (gsum[w]) {
      mt_rp_tensor rs = base;   /* the reduce-scatter input */
      rs.cat = MT_RP_GRADIENT;
      rs.bytes = gsum[w];
      rs.t_alloc = rs.t_free = k->w[w].te;
      rs.s_alloc = -4;
      rs.s_free = -1;
      /* FSDP2 keeps it (reduce_scatter_state) until the next unit's
       * reduce-scatter, the step's last until the end of the backward */
      for (size_t v = 0; v < k->nw; v++)
        if (gsum[v] && k->w[v].step == k->w[w].step && k->w[v].te > k->w[w].te &&
            (rs.t_free == k->w[w].te || k->w[v].te < rs.t_free)) {
          rs.t_free = k->w[v].te;
          rs.s_free = -5;
        }
      rs.step = k->w[w].step;
      rs.unit = k->w[w].unit;
      /* the sharded gradients: one flat reduce-scatter output per unit, on
       * its own stream (FSDP2), alive until the last of them is freed */
      mt_rp_tensor sh = rs;
      sh.bytes = gsum[w] / (uint64_t)nd;
      sh.stream = MT_RP_STREAM_REDUCE_SCATTER;
      sh.s_alloc = -2;
      sh.t_free = gfree[w];
      sh.s_free = gsfree[w];
      if (push(k, &rs) != 0 || push(k, &sh) != 0)
        goto out;
    }
  if (zero == 3) {
    int64_t root_from = MT_RP_NEVER, root_fwd_te = MT_RP_NEVER;
    size_t prev_bwd = k->nw;
    mt_rp_tensor hflat = base;   /* the all-gather output FSDP2 holds */
    int held = 0;
    for (size_t w = 0; w < k->nw; w++) {
      const mt_rp_window *W = &k->w[w];
      if ((W->kind != MT_RP_W_FORWARD && W->kind != MT_RP_W_BACKWARD) || W->unit < 0 || (size_t)W->unit >= nu ||
          !full[W->unit])
        continue;
      mt_rp_tensor g = base;
      int after = 0;
      g.cat = MT_RP_PARAMETER;
      g.unit = W->unit;
      g.step = W->step;
      g.bytes = full[W->unit];
      /* forward: FSDP2 keeps a unit's all-gather output (all_gather_state)
       * until the next unit's copy-out, the last until the root's forward
       * ends; backward frees it after its own copy-out */
      if (held && (W->kind != MT_RP_W_FORWARD || W->ts >= root_fwd_te)) {
        if (flush_held(k, &hflat, root_fwd_te, 9) != 0)
          goto out;
        held = 0;
      }
      if (W->unit == root) {
        if (W->kind == MT_RP_W_FORWARD) {
          if (root_from == MT_RP_NEVER) {
            root_from = W->ts;
            root_fwd_te = W->te;
            hflat = g;
            hflat.stream = MT_RP_STREAM_ALLGATHER;
            hflat.t_alloc = W->ts;
            hflat.s_alloc = 1;
            held = 1;
          }
          continue;
        }
        g.t_alloc = root_from != MT_RP_NEVER ? root_from : W->ts;
        root_from = MT_RP_NEVER;
        prev_bwd = w;   /* the root's pre-backward prefetches the first block */
      } else {
        g.t_alloc = W->ts;
        /* backward: gathered with the previous unit's (prefetch), after it
         * (FSDP2 unshards the unit, then issues the next one's all-gather) */
        if (W->kind == MT_RP_W_BACKWARD && prev_bwd < k->nw && k->w[prev_bwd].step == W->step) {
          g.t_alloc = k->w[prev_bwd].ts;
          after = 3;
        }
        if (W->kind == MT_RP_W_BACKWARD)
          prev_bwd = w;
      }
      g.s_alloc = 2 + after;
      g.t_free = W->te;
      g.s_free = 1;
      mt_rp_tensor flat = g;   /* the all-gather output, copied out */
      flat.stream = MT_RP_STREAM_ALLGATHER;
      flat.s_alloc = 1 + after;
      flat.t_free = g.t_alloc;
      flat.s_free = 3 + after;
      if (W->unit == root) {   /* its all-gather was the root's forward's */
        if (push(k, &g) != 0)
          goto out;
        continue;
      }
      if (W->kind == MT_RP_W_FORWARD) {
        g.s_alloc = 3;   /* after the previous output is freed */
        if (held && flush_held(k, &hflat, W->ts, 2) != 0)
          goto out;
        hflat = flat;
        held = 1;
        if (push(k, &g) != 0)
          goto out;
        continue;
      }
      if (push(k, &g) != 0 || push(k, &flat) != 0)
        goto out;
    }
    if (held && flush_held(k, &hflat, root_fwd_te, 9) != 0)
      goto out;
    k->cost->extra_comm_bytes += in->job.param_bytes;
  }
  rc = 0;
out:
#undef OWNER
  free(full);
  free(gsum);
  free(gfree);
  free(gsfree);
  free(win);
  free(seen);
  return rc;
}

static int param_states(struct work *k, const mt_rp_plan *p)
{
  const struct mt_rp_job *j = &k->in->job;
  enum mt_rp_optim rec = (enum mt_rp_optim)j->recorded_optimizer;
  enum mt_rp_optim opt = p->optimizer != MT_RP_OPT_KEEP ? p->optimizer : rec;
  int host_opt = p->offload != MT_RP_OFF_NONE, ns_new = 2, ns_rec = 2;
  opt_state_bytes(opt, 0, 1, &ns_new);
  opt_state_bytes(rec, 0, 1, &ns_rec);
  int resize = opt != rec && opt != MT_RP_OPT_SGD && opt != MT_RP_OPT_LION && opt != MT_RP_OPT_ADAMW;
  int drop_temps = host_opt || (opt == MT_RP_OPT_SGD && rec != MT_RP_OPT_SGD);
  int zero = p->zero < 0 ? 0 : p->zero, world, dp, nd;
  plan_geom(k->in, p, &world, &dp, &nd);
  mt_rp_tensor *extra = NULL;
  size_t nextra = 0, n0 = k->n, w = 0, kept = 0;
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor x = k->t[i];
    int keep = 1, si = mt_rp_skey_of(&x);
    if (x.cat == MT_RP_OPTIMIZER_STATE && si >= 0) {
      int ns = 2;
      if (host_opt || si >= ns_new)
        keep = 0;
      else if (resize)
        x.bytes = opt_state_bytes(opt, si, x.bytes / 4, &ns); /* fp32 states */
      if (nd > 1 && zero >= 1)
        x.bytes = div_up(x.bytes, (uint64_t)nd); /* the optimizer updates its shard */
      /* a recorded optimizer with fewer states than the new one: the others
       * are made with the last recorded one */
      for (int e = si + 1; keep && si + 1 == ns_rec && e < ns_new; e++) {
        mt_rp_tensor c = x;
        c.bytes = resize ? opt_state_bytes(opt, e, k->t[i].bytes / 4, &ns) : x.bytes;
        c.s_alloc = x.s_alloc + e;
        c.pid = (x.pid & ~15) | (e + 1);
        c.flags |= MT_RP_F_INSERTED;
        mt_rp_tensor *v = realloc(extra, (nextra + 1) * sizeof *v);
        if (!v) {
          free(extra);
          return -1;
        }
        extra = v;
        extra[nextra++] = c;
      }
    } else if (x.cat == MT_RP_TEMPORARY && x.phase == MT_RP_PH_OPTIMIZER && drop_temps) {
      keep = 0;
    } else if (x.cat == MT_RP_TEMPORARY && x.phase == MT_RP_PH_OPTIMIZER && nd > 1 && zero >= 1) {
      x.bytes = div_up(x.bytes, (uint64_t)nd);
    }
    if (keep) {
      keep_at(k, i, w, &kept);
      k->t[w++] = x;
    }
  }
  k->nkept = kept;
  k->n = w;
  for (size_t i = 0; i < nextra; i++)
    if (push(k, &extra[i]) != 0) {
      free(extra);
      return -1;
    }
  free(extra);
  if (host_opt)
    k->cost->offload_bytes += (int64_t)(2 * j->param_bytes);
  return nd > 1 && zero >= 2 ? param_zero(k, zero, nd) : 0;
}

static int model_states(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  int zero = p->zero < 0 ? in->recorded_zero : p->zero;
  int world, dp, nd;
  plan_geom(in, p, &world, &dp, &nd);
  int rec_nd = in->world;
  int tp = p->sp > 1 && !p->sp_ulysses ? p->sp : 1;
  int opt_change = p->optimizer != MT_RP_OPT_KEEP;
  if (zero == in->recorded_zero && (zero == 0 || nd == rec_nd) && !opt_change && p->offload == MT_RP_OFF_NONE &&
      p->train_layers <= 0 && tp <= 1 && !k->ustage && (!p->train_only[0] || !in->job.flat))
    return 0;
  if (in->recorded_zero != 0)
    return 0; /* re-sharding a sharded recording is not modelled (docs/REPLAY.md) */
  if (!in->job.flat)
    return param_states(k, p);
  if (nd < 1)
    nd = 1;
  size_t nu = in->nunits;
  struct ustate *us = calloc(nu + 1, sizeof *us);
  if (!us)
    return -1;
  enum mt_rp_optim rec_opt = MT_RP_OPT_ADAMW;
  int saw_sq = 0, saw_avg = 0;
  for (size_t i = 0; i < k->n; i++) {
    const mt_rp_tensor *x = &k->t[i];
    if (!model_state(x->cat) || x->unit < 0)
      continue;
    if (k->ustage && x->unit < MT_RP_MAX_LAYERS && k->ustage[x->unit] != k->stage)
      continue; /* another pipeline stage's unit */
    struct ustate *u = &us[x->unit];
    if (x->cat == MT_RP_PARAMETER && ends_with(x->name, ".params")) {
      u->present = 1;
      u->t_params = x->t_alloc;
      u->n = x->bytes; /* bytes for now */
      u->layer = x->layer;
    } else if (ends_with(x->name, ".master")) {
      u->has_master = 1;
      u->pb = x->bytes; /* 4n, for now */
    } else if (x->cat == MT_RP_OPTIMIZER_STATE) {
      if (ends_with(x->name, "momentum_buffer"))
        rec_opt = MT_RP_OPT_SGD;
      else if (has(x->name, "exp_avg_sq_"))
        rec_opt = MT_RP_OPT_ADAFACTOR;
      else if (ends_with(x->name, "exp_avg_sq"))
        saw_sq = 1;
      else if (ends_with(x->name, "exp_avg"))
        saw_avg = 1;
    }
  }
  if (saw_avg && !saw_sq && rec_opt == MT_RP_OPT_ADAMW)
    rec_opt = MT_RP_OPT_LION;
  /* GPT structure for tensor parallelism */
  struct gpt_dims g = { 0 };
  uint64_t n_layer = 0, n_head = 0, n_embed = 0;
  int order[MT_RP_MAX_LAYERS + 8], no = 0;
  for (size_t u = 0; u < nu && no < MT_RP_MAX_LAYERS; u++) {
    struct ustate *s = &us[u];
    if (!s->present)
      continue;
    uint64_t pbytes = s->n;
    if (s->has_master) {
      s->n = s->pb / 4;
      s->pb = s->n ? pbytes / s->n : 2;
    } else {
      s->pb = 4;
      s->n = pbytes / 4;
    }
    if (s->layer >= 0 && !n_layer)
      n_layer = s->n;
    else if (strcmp(in->units[u].name, "head") == 0)
      n_head = s->n;
    else if (strcmp(in->units[u].name, "embed") == 0)
      n_embed = s->n;
    s->active = (p->train_layers <= 0 || s->layer < 0 || s->layer < p->train_layers) &&
                mt__rp_under(p->train_only, in->units[u].name);
    s->lisa = p->train_layers > 0 && s->layer >= 0;
    s->gathered = -1;
    order[no++] = (int)u;
  }
  if (tp > 1)
    gpt_solve(&g, n_layer, n_head, n_embed);
  for (int oi = 0; oi < no; oi++) {
    struct ustate *s = &us[order[oi]];
    s->nn = tp_numel(&g, in->units[order[oi]].name, s->layer, s->n, (uint64_t)tp);
    s->pad = zero >= 1 ? div_up(s->nn, (uint64_t)nd) * (uint64_t)nd : s->nn;
    s->shard = s->pad / (uint64_t)nd;
  }
  g_us = us;
  qsort(order, (size_t)no, sizeof *order, by_params_time);
  enum mt_rp_optim opt = opt_change ? p->optimizer : rec_opt;
  int gathers = zero == 3 || p->offload == MT_RP_OFF_PARAMS;
  int host_opt = p->offload != MT_RP_OFF_NONE;

  /* first recorded bucket: where DDP's buckets (and ZeRO's gradient shards) go */
  int64_t t_bucket = MT_RP_NEVER;
  int32_t s_bucket = 0;
  for (size_t i = 0; i < k->n; i++)
    if (is_bucket(&k->t[i]) && k->t[i].t_alloc < t_bucket) {
      t_bucket = k->t[i].t_alloc;
      s_bucket = k->t[i].s_alloc;
    }
  if (t_bucket == MT_RP_NEVER && no)
    t_bucket = us[order[no - 1]].t_params + 1;

  struct tcat { int64_t t; int cat; } *ac = NULL;
  /* rewrite in place; w compacts away what the plan drops */
  size_t n0 = k->n, w = 0, kept = 0;
  int state_i[MT_RP_MAX_LAYERS + 8];
  memset(state_i, 0, sizeof state_i);
  mt_rp_tensor *extra = NULL;
  size_t nextra = 0;
  for (size_t i = 0; i < n0; i++) {
    mt_rp_tensor x = k->t[i];
    struct ustate *s = x.unit >= 0 && x.unit < (int)nu && us[x.unit].present ? &us[x.unit] : NULL;
    int keep = 1;
    if (k->ustage && x.unit >= 0 && x.unit < MT_RP_MAX_LAYERS && k->ustage[x.unit] != k->stage &&
        model_state(x.cat)) {
      keep = 0; /* another pipeline stage's unit */
    } else if (is_bucket(&x)) {
      keep = 0; /* rebuilt below */
    } else if (s && x.cat == MT_RP_PARAMETER && ends_with(x.name, ".params")) {
      if (p->offload == MT_RP_OFF_PARAMS)
        keep = 0;
      else
        x.bytes = (zero == 3 ? s->shard : s->pad) * s->pb;
    } else if (s && x.cat == MT_RP_OPTIMIZER_STATE) {
      uint64_t optn = zero >= 1 ? s->shard : s->nn;
      if (s->lisa && !host_opt) {
        keep = 0;
        if (ends_with(x.name, ".master")) {
          s->t_master = x.t_alloc;
          s->s_master = x.s_alloc;
        } else if (s->nst < 2) {
          int ns = 2;
          s->t_st[s->nst] = x.t_alloc;
          s->s_st[s->nst] = x.s_alloc;
          s->b_st[s->nst] = opt_state_bytes(opt, s->nst, zero >= 1 ? s->shard : s->nn, &ns);
          if (s->nst >= ns)
            s->b_st[s->nst] = 0;
          s->nst++;
        }
      } else if (host_opt || !s->active) {
        keep = 0;
      } else if (ends_with(x.name, ".master")) {
        x.bytes = 4 * optn;
        if (zero >= 2 && p->offload != MT_RP_OFF_PARAMS) {
          /* the gradient shard is made just before the master (model init) */
          mt_rp_tensor gs = x;
          gs.cat = MT_RP_GRADIENT;
          gs.bytes = s->shard * s->pb;
          gs.s_alloc = x.s_alloc - 1;
          gs.flags |= MT_RP_F_INSERTED;
          gs.name = NULL;
          mt_rp_tensor *v = realloc(extra, (nextra + 1) * sizeof *v);
          if (!v)
            goto fail;
          extra = v;
          extra[nextra++] = gs;
        }
      } else {
        int si = state_i[x.unit < MT_RP_MAX_LAYERS ? x.unit : 0]++, ns = 2;
        uint64_t b = opt_state_bytes(opt, si, optn, &ns);
        if (si >= ns) {
          keep = 0;
        } else {
          x.bytes = opt_change || zero >= 1 || tp > 1 ? b : x.bytes;
          /* a recorded optimizer with fewer states than the new one */
          int last_rec = si + 1 >= (rec_opt == MT_RP_OPT_SGD || rec_opt == MT_RP_OPT_LION ? 1 : 2);
          for (int j = si + 1; last_rec && j < ns; j++) {
            mt_rp_tensor e = x;
            e.bytes = opt_state_bytes(opt, j, optn, &ns);
            e.s_alloc = x.s_alloc + j;
            e.flags |= MT_RP_F_INSERTED;
            mt_rp_tensor *v = realloc(extra, (nextra + 1) * sizeof *v);
            if (!v)
              goto fail;
            extra = v;
            extra[nextra++] = e;
          }
        }
      }
    } else if (s && x.cat == MT_RP_GRADIENT) {
      keep = 0; /* recorded unit gradients (re-made below as the plan needs) */
    }
    if (keep) {
      keep_at(k, i, w, &kept);
      k->t[w++] = x;
    }
  }
  k->nkept = kept;
  k->n = w;
  for (size_t i = 0; i < nextra; i++)
    if (push(k, &extra[i]) != 0)
      goto fail;
  free(extra);
  extra = NULL;

  mt_rp_tensor base = { 0 };
  base.t_free = MT_RP_NEVER;
  base.step = -1;
  base.layer = -1;
  base.flags = MT_RP_F_INSERTED;
  uint64_t psi_bytes = 0;
  for (int oi = 0; oi < no; oi++)
    psi_bytes += us[order[oi]].nn * us[order[oi]].pb;
  /* ZeRO-2/3 without master weights (fp32) or with offload: gradient shards
   * after the parameters */
  for (int oi = 0; oi < no; oi++) {
    struct ustate *s = &us[order[oi]];
    if (zero >= 2 && s->active && p->offload != MT_RP_OFF_PARAMS && (!s->has_master || host_opt)) {
      mt_rp_tensor x = base;
      x.unit = order[oi];
      x.layer = s->layer;
      x.cat = MT_RP_GRADIENT;
      x.bytes = s->shard * s->pb;
      x.t_alloc = t_bucket;
      x.s_alloc = s_bucket + 1 + oi;
      if (push(k, &x) != 0)
        goto fail;
    }
  }
  if (!gathers) {
    /* DDP / ZeRO-1 buckets (25 MiB, backward order; one per unit with
     * layer-wise training), ZeRO-2 transient reduce buckets */
    uint64_t cur = 0;
    int first = -1, last = -1, nb = 0;
    for (int oi = no - 1; oi >= -1; oi--) {
      struct ustate *s = oi >= 0 ? &us[order[oi]] : NULL;
      if (s && p->train_only[0] && !s->active)
        continue; /* frozen: in no bucket */
      int close = oi < 0 || (last >= 0 && (p->train_layers > 0 || p->train_only[0] || cur >= 25ull << 20));
      if (close && last >= 0) {
        int act = us[order[first]].active;
        if (us[order[first]].lisa) {
          us[order[first]].bucket_nb = nb; /* made per sampled run (lisa_states) */
        } else if (act && zero <= 1) {
          mt_rp_tensor x = base;
          x.cat = MT_RP_GRADIENT;
          x.bytes = cur;
          x.t_alloc = t_bucket;
          x.s_alloc = s_bucket - 1000 + nb;
          if (push(k, &x) != 0)
            goto fail;
        } else if (act) {
          /* ZeRO-2: from its first unit's backward to the end of its last's */
          for (size_t wi = 0; wi < k->nw; wi++) {
            const mt_rp_window *b0 = &k->w[wi];
            if (b0->kind != MT_RP_W_BACKWARD || b0->unit != order[last])
              continue;
            const mt_rp_window *b1 = find_win(k, MT_RP_W_BACKWARD, order[first], b0->step, b0->occurrence);
            if (!b1)
              continue;
            mt_rp_tensor x = base;
            x.cat = MT_RP_GRADIENT;
            x.bytes = cur;
            x.t_alloc = bwd_start(k, b0);
            x.s_alloc = -2;
            x.t_free = b1->te;
            x.s_free = -2;
            x.step = b0->step;
            if (push(k, &x) != 0)
              goto fail;
          }
        }
        nb++;
        cur = 0;
        last = -1;
      }
      if (!s)
        break;
      if (last < 0)
        last = oi;
      first = oi;
      cur += s->pad * s->pb;
    }
  } else {
    /* ZeRO-3 / parameter offload: full parameters gathered per use, the next
     * unit prefetched (ZeRO-3); full gradients until reduce-scattered */
    int pos[MT_RP_MAX_LAYERS + 8];
    for (size_t u = 0; u < nu && u < MT_RP_MAX_LAYERS; u++)
      pos[u] = -1;
    for (size_t wi = 0; wi < k->nw; wi++)
      if (k->w[wi].unit >= 0 && k->w[wi].unit < (int)nu && us[k->w[wi].unit].present &&
          (k->w[wi].kind == MT_RP_W_FORWARD || k->w[wi].kind == MT_RP_W_BACKWARD))
        us[k->w[wi].unit].has_win = 1;
    /* allocations by time with their category: a module's parameters are
     * gathered when its computation starts, after the data it is given */
    ac = malloc((k->n + 1) * sizeof *ac);
    mt_rp_rev *byt = malloc((k->n + 1) * sizeof *byt);
    size_t nac = k->n;
    if (!ac || !byt || allocs_by_time(k, byt) != 0) {
      free(byt);
      goto fail;
    }
    for (size_t i = 0; i < nac; i++)
      ac[i] = (struct tcat){ byt[i].t, k->t[byt[i].i].cat };
    free(byt);
    int ord2[MT_RP_MAX_LAYERS + 8], no2 = 0;
    for (int oi = 0; oi < no; oi++)
      if (us[order[oi]].has_win)
        ord2[no2++] = order[oi];
    for (int oi = 0; oi < no2; oi++)
      pos[ord2[oi]] = oi;
    for (size_t wi = 0; wi < k->nw; wi++) {
      mt_rp_window W = k->w[wi];
      if ((W.kind != MT_RP_W_FORWARD && W.kind != MT_RP_W_BACKWARD) || W.unit < 0 || W.unit >= (int)nu ||
          pos[W.unit] < 0)
        continue;
      int oi = pos[W.unit];
      struct ustate *s = &us[W.unit];
      int32_t sub = -100;
      int64_t tg = W.ts;
      {
        size_t lo = 0, hi = nac;
        while (lo < hi) {
          size_t m = (lo + hi) / 2;
          if (ac[m].t <= W.ts)
            lo = m + 1;
          else
            hi = m;
        }
        while (lo < nac && ac[lo].t <= W.te && ac[lo].cat == MT_RP_INPUT)
          lo++;
        if (lo > 0 && lo < nac && ac[lo].t <= W.te && ac[lo - 1].t > W.ts)
          tg = ac[lo].t; /* after the inputs the module was given */
        else
          sub = 1;
      }
      if (s->prefetched)
        s->prefetched = 0;
      else if (s->refs++ == 0) {
        mt_rp_tensor x = base;
        x.cat = MT_RP_PARAMETER;
        x.unit = W.unit;
        x.bytes = s->pad * s->pb;
        x.t_alloc = tg;
        x.s_alloc = sub++;
        x.step = W.step;
        s->gathered = (int32_t)k->n;
        if (push(k, &x) != 0)
          goto fail;
      }
      int nx = W.kind == MT_RP_W_BACKWARD ? oi - 1 : oi + 1;
      if (zero == 3 && nx >= 0 && nx < no2) {
        struct ustate *t = &us[ord2[nx]];
        if (!t->prefetched && t->refs == 0) {
          t->refs = 1;
          t->prefetched = 1;
          mt_rp_tensor x = base;
          x.cat = MT_RP_PARAMETER;
          x.unit = ord2[nx];
          x.bytes = t->pad * t->pb;
          x.t_alloc = tg;
          x.s_alloc = sub++;
          x.step = W.step;
          t->gathered = (int32_t)k->n;
          if (push(k, &x) != 0)
            goto fail;
        }
      }
      if (W.kind == MT_RP_W_BACKWARD && s->active) {
        mt_rp_tensor x = base;
        x.cat = MT_RP_GRADIENT;
        x.unit = W.unit;
        x.bytes = s->pad * s->pb;
        x.t_alloc = bwd_start(k, &W);
        x.s_alloc = -1;
        x.t_free = W.te;
        x.s_free = -3;
        x.step = W.step;
        if (push(k, &x) != 0)
          goto fail;
        /* ZeRO-3 over ranks with parameters on the host: the full gradient
           is reduce-scattered into a device shard, made at the unit's first
           backward and kept (FSDP2's sharded grad before its D2H copy) */
        if (zero == 3 && p->offload == MT_RP_OFF_PARAMS && nd > 1 && !s->gshard) {
          s->gshard = 1;
          x.bytes = s->shard * s->pb;
          x.t_alloc = W.te;
          x.s_alloc = -4;
          x.t_free = MT_RP_NEVER;
          if (push(k, &x) != 0)
            goto fail;
        }
      }
      if (--s->refs == 0 && s->gathered >= 0) {
        k->t[s->gathered].t_free = W.te;
        k->t[s->gathered].s_free = -1;
        s->gathered = -1;
      }
    }
  }
  if (p->train_layers > 0 && lisa_states(k, p, us, order, no, t_bucket, s_bucket, zero) != 0)
    goto fail;
  free(ac);
  ac = NULL;
  /* communication per step (ORACLES section 1): 2 Psi for DDP/ZeRO-1/2, 3 Psi for ZeRO-3 */
  if (zero == 3 && in->recorded_zero != 3)
    k->cost->extra_comm_bytes += psi_bytes;
  if (host_opt)
    k->cost->offload_bytes += (int64_t)(2 * psi_bytes);
  if (p->offload == MT_RP_OFF_PARAMS)
    k->cost->offload_bytes += (int64_t)(2 * psi_bytes);
  free(us);
  return 0;
fail:
  free(ac);
  free(extra);
  free(us);
  return -1;
}

/* NCCL's own buffers for the plan's communicators (gradient group, SP
 * group, PP group), made where the recording made its first ones. */
static int nccl_buffers(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  int world, dp, nd;
  plan_geom(in, p, &world, &dp, &nd);
  int sizes[3] = { world > 1 ? nd : 1, p->sp > 1 ? p->sp : 1, p->pp > 1 ? p->pp : 1 };
  int64_t t0 = MT_RP_NEVER;
  int32_t s0 = 0;
  size_t w = 0;
  int same = in->ncomms > 0 || world <= 1;
  for (int c = 0, j = 0; c < 3; c++)
    if (sizes[c] > 1)
      same = same && j < in->ncomms && in->comm_nranks[j++] == sizes[c];
  if (same && in->ncomms == (sizes[0] > 1) + (sizes[1] > 1) + (sizes[2] > 1))
    return 0;
  size_t kept = 0;
  for (size_t i = 0; i < k->n; i++) {
    const mt_rp_tensor *x = &k->t[i];
    if (x->outside && x->cat == MT_RP_COMMUNICATION) {
      if (x->t_alloc < t0) {
        t0 = x->t_alloc;
        s0 = x->s_alloc;
      }
      continue;
    }
    keep_at(k, i, w, &kept);
    k->t[w++] = *x;
  }
  k->nkept = kept;
  k->n = w;
  if (t0 == MT_RP_NEVER) {
    t0 = in->t_first;
    s0 = -100000;
  }
  mt_rp_tensor b = { 0 };
  b.t_alloc = t0;
  b.t_free = MT_RP_NEVER;
  b.outside = 1;
  b.cat = MT_RP_COMMUNICATION;
  b.layer = b.unit = b.step = -1;
  b.flags = MT_RP_F_INSERTED;
  int32_t s = s0;
  for (int c = 0; c < 3; c++) {
    if (sizes[c] <= 1)
      continue;
    /* per channel the receive buffer, then the send one (read mode) */
    for (int i = 0; i < 2 * in->nccl_channels; i++) {
      b.bytes = i % 2 == 0 ? in->nccl_peer_bytes : in->nccl_fixed_bytes;
      b.s_alloc = s++;
      if (b.bytes && push(k, &b) != 0)
        return -1;
    }
  }
  return 0;
}

/* ---- layer-wise optimizer-state offload (GRASS) ---- */

struct lgroup { int64_t first; size_t lo, n; };

static int lgroup_cmp(const void *a, const void *b)
{
  const struct lgroup *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* The optimizer states (with any master copy) live on the host; in each
 * optimizer window a unit's (flat layout) or a parameter's states come to
 * the device for its update while the next one's are prefetched, and go
 * back after it: A0 A1 F0 A2 F1 ... on evenly spaced times of the window,
 * in the order the states were first made (the update order).  By identity. */
static int layerwise(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  if (!p->offload_layerwise)
    return 0;
  size_t ng = in->job.flat ? in->nunits : in->job.nparams;
  struct lgroup *g = calloc(ng + 1, sizeof *g);
  size_t *cnt = calloc(ng + 1, sizeof *cnt);
  mt_rp_tensor *st = malloc((k->n + 1) * sizeof *st);
  int rc = -1;
  if (!g || !cnt || !st)
    goto out;
  /* the states by group (one tensor per key: the first made), the rest kept */
  size_t w = 0, kept = 0, ns = 0;
  for (size_t i = 0; i < ng; i++)
    g[i].first = INT64_MAX;
  for (size_t i = 0; i < k->n; i++) {
    mt_rp_tensor x = k->t[i];
    int gi = in->job.flat ? x.unit : mt_rp_param_of(&x);
    if (x.cat == MT_RP_OPTIMIZER_STATE && gi >= 0 && (size_t)gi < ng) {
      st[ns++] = x;
      if (x.t_alloc < g[gi].first)
        g[gi].first = x.t_alloc;
      continue;
    }
    keep_at(k, i, w, &kept);
    k->t[w++] = x;
  }
  k->n = w;
  k->nkept = kept;
  /* group the states: counting sort by group, keys in the order made */
  for (size_t i = 0; i < ns; i++)
    cnt[in->job.flat ? st[i].unit : mt_rp_param_of(&st[i])]++;
  size_t o = 0;
  for (size_t i = 0; i < ng; i++) {
    g[i].lo = o;
    o += cnt[i];
    cnt[i] = g[i].lo;
  }
  mt_rp_tensor *bygroup = malloc((ns + 1) * sizeof *bygroup);
  if (!bygroup)
    goto out;
  for (size_t i = 0; i < ns; i++) {
    int gi = in->job.flat ? st[i].unit : mt_rp_param_of(&st[i]);
    bygroup[cnt[gi]++] = st[i];
  }
  for (size_t i = 0; i < ng; i++)
    g[i].n = cnt[i] - g[i].lo;
  qsort(g, ng, sizeof *g, lgroup_cmp);
  size_t G = 0;
  while (G < ng && g[G].n)
    G++;
  uint64_t moved = 0;
  for (size_t wi = 0; wi < k->nw && G; wi++) {
    const mt_rp_window *W = &k->w[wi];
    if (W->kind != MT_RP_W_OPTIMIZER)
      continue;
    int64_t span = W->te - W->ts;
    for (size_t i = 0; i < G; i++) {
      int64_t ti = W->ts + (int64_t)((double)span * (double)(i + 1) / (double)(G + 2));
      for (size_t a = i ? i + 1 : 0; a <= i + 1 && a < G; a++) /* the first iteration brings two */
        for (size_t q = 0; q < g[a].n; q++) {
          mt_rp_tensor x = bygroup[g[a].lo + q];
          const mt_rp_tensor *src = &bygroup[g[a].lo + q];
          /* keys of one group once each (the recorded tensors of a key) */
          int dup = 0;
          for (size_t e = 0; e < q && !dup; e++)
            dup = bygroup[g[a].lo + e].pid == src->pid && bygroup[g[a].lo + e].name == src->name;
          if (dup)
            continue;
          x.t_alloc = ti;
          x.s_alloc = (int32_t)(a == i ? -20 + (int)q : 1 + (int)q);
          x.t_free = W->ts + (int64_t)((double)span * (double)(a + 1) / (double)(G + 2));
          x.s_free = 50;
          x.step = W->step;
          x.phase = MT_RP_PH_OPTIMIZER;
          x.flags |= MT_RP_F_INSERTED;
          moved += x.bytes;
          if (push(k, &x) != 0) {
            free(bygroup);
            goto out;
          }
        }
    }
  }
  free(bygroup);
  k->cost->offload_bytes += (int64_t)moved;
  rc = 0;
out:
  free(g);
  free(cnt);
  free(st);
  return rc;
}

/* ---- host memory of an offload (--host-memory) ---- */

/* What an optimizer offload pins on the host, from the job model: an fp32
 * gradient per parameter element plus the recorded optimizer states (with
 * any master copy; a ZeRO shard of them), or for NVMe (ZeRO-Infinity) the
 * gradients plus two swap buffers of the largest unit's (parameter's)
 * states; layer-wise offload pins the states.  Above --host-memory the
 * plan does not fit the host. */
static int host_memory(struct work *k, const mt_rp_plan *p)
{
  const mt_rp_input *in = k->in;
  const struct mt_rp_job *j = &in->job;
  if (p->offload != MT_RP_OFF_OPTIMIZER && !p->offload_layerwise)
    return 0;
  int world, dp, nd;
  plan_geom(in, p, &world, &dp, &nd);
  int zero = p->zero < 0 ? in->recorded_zero : p->zero;
  uint64_t div = zero >= 1 && nd > 1 ? (uint64_t)nd : 1;
  uint64_t elems = j->param_bytes / (uint64_t)(j->param_esize ? j->param_esize : 4);
  uint64_t grads = p->offload_layerwise ? 0 : 4 * elems / div, states = j->state_bytes / div, big = 0;
  if (p->offload_nvme) {
    size_t ng = j->flat ? in->nunits : j->nparams;
    uint64_t *gb = calloc(ng + 1, sizeof *gb);
    if (!gb)
      return -1;
    for (size_t i = 0; i < in->nt; i++) {
      const mt_rp_tensor *x = &in->t[i];
      int gi = j->flat ? x->unit : mt_rp_param_of(x);
      if (x->cat == MT_RP_OPTIMIZER_STATE && x->name && gi >= 0 && (size_t)gi < ng && (gb[gi] += x->bytes) > big)
        big = gb[gi];
    }
    free(gb);
    states = 2 * (big / div);
  }
  k->cost->host_pinned = grads + states;
  k->cost->host_oom = p->host_memory && k->cost->host_pinned > p->host_memory;
  return 0;
}

/* ---- prefix.h: the stream before the model states, and the rest ---- */

int mt_rp_prefix_shared(const mt_rp_plan *a, const mt_rp_plan *b)
{
  if (a->ckpt != b->ckpt || a->flash != b->flash || a->precision != b->precision ||
      strcmp(a->train_only, b->train_only) != 0 || a->batch != b->batch || a->seq != b->seq ||
      a->batch_rec != b->batch_rec || a->seq_rec != b->seq_rec || a->chunk != b->chunk || a->sp != b->sp || a->sp_ulysses != b->sp_ulysses ||
      a->micro_batches != b->micro_batches || a->pp != b->pp || a->pp_1f1b != b->pp_1f1b ||
      (a->pp > 1 && a->pp_stage != b->pp_stage))
    return 0;
  if (a->ckpt == MT_RP_CK_EVERY && a->ckpt_every != b->ckpt_every)
    return 0;
  return a->ckpt != MT_RP_CK_LAYERS || memcmp(a->ckpt_layer, b->ckpt_layer, sizeof a->ckpt_layer) == 0;
}

int mt_rp_prefix_make(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_prefix *x, mt_rp_result *cost)
{
  /* the arrays of a previous prefix are reused */
  struct work k = { .in = in, .cost = cost, .t = x->t, .cap = x->capt, .w = x->w, .capw = x->capw,
                    .times = x->times, .captimes = x->captimes };
  int rc = -1;
  x->has_ev = 0;
  x->has_allocs = 0;
  if (mt_rp_reserve((void **)&k.t, &k.cap, in->nt + 1, sizeof *k.t) != 0 ||
      mt_rp_reserve((void **)&k.w, &k.capw, in->nw + 1, sizeof *k.w) != 0)
    goto out;
  if (in->nt)   /* memcpy's source may not be NULL, even for 0 bytes */
    memcpy(k.t, in->t, in->nt * sizeof *k.t);
  if (in->nw)
    memcpy(k.w, in->w, in->nw * sizeof *k.w);
  k.n = in->nt;
  k.nw = in->nw;
  if (precision(&k, p) != 0 || shape(&k, p) != 0 || train_only(&k, p) != 0)
    goto out;
  if (p->flash)
    flash(&k);
  if (p->pp > 1) {
    unit_stages(in, p->pp, x->ustage);
    k.ustage = x->ustage;
    k.stage = p->pp_stage >= 0 && p->pp_stage < p->pp ? p->pp_stage : 0;
  }
  if (checkpointing(&k, p) != 0 || seq_parallel(&k, p) != 0 || chunk(&k, p) != 0)
    goto out;
  if (p->pp > 1 ? pipeline(&k, p, k.stage, x->ustage) != 0 : micro_batches(&k, p) != 0)
    goto out;
  if (x->events) {
    /* the events sorted once for the plans that continue from here; the
     * time index is their times (the same values index_times sorts) */
    x->t = k.t;
    x->n = k.n;
    if (mt_rp_prefix_events(x) != 0 || mt_rp_reserve((void **)&k.times, &k.captimes, x->nev + 1, sizeof *k.times) != 0)
      goto out;
    for (size_t i = 0; i < x->nev; i++)
      k.times[i] = x->ev[i].t;
    k.ntimes = x->nev;
    rc = 0;
  } else if (index_times(&k) == 0) {
    rc = 0;
  }
out:
  x->t = k.t;
  x->n = k.n;
  x->capt = k.cap;
  x->w = k.w;
  x->nw = k.nw;
  x->capw = k.capw;
  x->times = k.times;
  x->ntimes = k.ntimes;
  x->captimes = k.captimes;
  x->pipelined = p->pp > 1;
  x->stage = k.stage;
  x->plan = *p;
  x->made = rc == 0;
  return rc;
}

void mt_rp_prefix_free(mt_rp_prefix *x)
{
  free(x->t);
  free(x->w);
  free(x->times);
  free(x->ev);
  free(x->allocs);
  free(x->buf);
  free(x->orig);
  free(x->pos);
  free(x->mev);
  free(x->h);
  free(x->blk);
  memset(x, 0, sizeof *x);
}

int mt_rp_transform_rest(const mt_rp_input *in, mt_rp_prefix *x, const mt_rp_plan *p, mt_rp_tensor **t,
                         size_t *cap, size_t *nout, mt_rp_result *cost, int32_t *orig, size_t *nkept)
{
  struct work k = { 0 };
  k.in = in;
  k.cost = cost;
  if (mt_rp_reserve((void **)t, cap, x->n + 1, sizeof **t) != 0)
    return -1;
  k.t = *t;
  k.cap = *cap;
  if (k.t != x->t)
    memcpy(k.t, x->t, x->n * sizeof *k.t);
  k.n = x->n;
  k.w = x->w; /* read only from here on */
  k.nw = k.capw = x->nw;
  k.times = x->times;
  k.ntimes = x->ntimes;
  k.ustage = x->pipelined ? x->ustage : NULL;
  k.stage = x->stage;
  k.orig = orig;
  k.px = orig ? x : NULL;
  k.nkept = x->n;
  if (orig)
    for (size_t i = 0; i < x->n; i++)
      orig[i] = (int32_t)i;
  int rc = model_states(&k, p) != 0 || layerwise(&k, p) != 0 || nccl_buffers(&k, p) != 0 ||
           host_memory(&k, p) != 0 ? -1 : 0;
  free(k.rw);
  double bw = in->link_bytes_per_ns > 0 ? in->link_bytes_per_ns : 25.0;
  cost->extra_comm_ns = (int64_t)((double)cost->extra_comm_bytes / bw);
  *t = k.t; /* push may have moved it */
  *cap = k.cap;
  *nout = k.n;
  if (nkept)
    *nkept = k.nkept;
  return rc;
}

int mt_rp_transform(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_tensor **out, size_t *nout,
                    mt_rp_result *cost)
{
  mt_rp_prefix x;
  memset(&x, 0, sizeof x);
  if (mt_rp_prefix_make(in, p, &x, cost) != 0) {
    mt_rp_prefix_free(&x);
    return -1;
  }
  /* the prefix's own stream continues (no copy) */
  mt_rp_tensor *t = x.t;
  size_t cap = x.capt;
  int rc = mt_rp_transform_rest(in, &x, p, &t, &cap, nout, cost, NULL, NULL);
  x.t = NULL;
  mt_rp_prefix_free(&x);
  if (rc != 0) {
    free(t);
    return -1;
  }
  *out = t;
  return 0;
}
