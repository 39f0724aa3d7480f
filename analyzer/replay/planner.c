/* Planner: checkpoint placement DP, revolve, knapsack, recommend. */
#include "config.h"
#include "analyzer/replay/planner.h"
#include "analyzer/replay/technique.h"
#include "analyzer/replay/prefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

uint64_t mt_rp_chain_peak(const mt_rp_layer_cost *l, size_t n, const unsigned char *ck, uint64_t base,
                          uint64_t head)
{
  uint64_t stash = 0, peak = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t during = base + stash + l[i].saved + l[i].transient;
    if (during > peak)
      peak = during;
    stash += ck[i] == 2 ? l[i].part : ck[i] ? l[i].kept : l[i].saved;
  }
  if (base + stash + head > peak)
    peak = base + stash + head;
  return peak;
}

int mt_rp_place_brute(const mt_rp_layer_cost *l, size_t n, uint64_t base, uint64_t head, uint64_t budget,
                      unsigned char *ck, int64_t *recompute_ns)
{
  unsigned char cur[24];
  int64_t best = -1;
  int base3 = 0;
  for (size_t i = 0; i < n; i++)
    base3 |= l[i].has_part;
  uint32_t radix = base3 ? 3 : 2, total = 1;
  if (n > (base3 ? 15 : 24))
    return -1;
  for (size_t i = 0; i < n; i++)
    total *= radix;
  for (uint32_t m = 0; m < total; m++) {
    int64_t cost = 0;
    int ok = 1;
    for (size_t i = 0, r = m; i < n; i++, r /= radix) {
      cur[i] = (unsigned char)(r % radix);
      if (cur[i] == 2 && !l[i].has_part)
        ok = 0;
      cost += cur[i] == 2 ? l[i].part_ns : cur[i] ? l[i].fwd_ns : 0;
    }
    if (!ok)
      continue;
    if (mt_rp_chain_peak(l, n, cur, base, head) > budget)
      continue;
    if (best < 0 || cost < best) {
      best = cost;
      memcpy(ck, cur, n);
    }
  }
  if (best < 0) {
    memset(ck, 1, n);
    return -1;
  }
  *recompute_ns = best;
  return 0;
}

static uint64_t q_up(uint64_t x, uint64_t q)
{
  return (x + q - 1) / q;
}

int mt_rp_place_checkpoints(const mt_rp_layer_cost *l, size_t n, uint64_t base, uint64_t head, uint64_t budget,
                            uint64_t quantum, unsigned char *ck, int64_t *recompute_ns)
{
  if (budget <= base) {
    memset(ck, 1, n);
    return -1;
  }
  uint64_t q = quantum ? quantum : (budget - base) / 4096 + 1;
  size_t cap = (size_t)((budget - base) / q); /* states 0..cap of prefix stash */
  int64_t *cost = malloc((cap + 1) * sizeof *cost), *nxt = malloc((cap + 1) * sizeof *nxt);
  /* choice[i][s'] = 1 if layer i was checkpointed to reach s' (and from where) */
  unsigned char *choice = malloc((n + 1) * (cap + 1));
  uint32_t *from = malloc((n + 1) * (cap + 1) * sizeof *from);
  if (!cost || !nxt || !choice || !from) {
    free(cost), free(nxt), free(choice), free(from);
    return -1;
  }
  for (size_t s = 0; s <= cap; s++)
    cost[s] = -1;
  cost[0] = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t s = 0; s <= cap; s++)
      nxt[s] = -1;
    uint64_t during = q_up(l[i].saved + l[i].transient, q);
    for (size_t s = 0; s <= cap; s++) {
      if (cost[s] < 0 || s + during > cap)
        continue;
      for (int c = 0; c < 3; c++) {
        if (c == 2 && !l[i].has_part)
          continue;
        size_t t = s + (size_t)q_up(c == 2 ? l[i].part : c ? l[i].kept : l[i].saved, q);
        int64_t v = cost[s] + (c == 2 ? l[i].part_ns : c ? l[i].fwd_ns : 0);
        if (t > cap)
          continue;
        if (nxt[t] < 0 || v < nxt[t]) {
          nxt[t] = v;
          choice[i * (cap + 1) + t] = (unsigned char)c;
          from[i * (cap + 1) + t] = (uint32_t)s;
        }
      }
    }
    memcpy(cost, nxt, (cap + 1) * sizeof *cost);
  }
  size_t hq = (size_t)q_up(head, q), best = (size_t)-1;
  for (size_t s = 0; s + hq <= cap; s++)
    if (cost[s] >= 0 && (best == (size_t)-1 || cost[s] < cost[best]))
      best = s;
  int rc = -1;
  if (best != (size_t)-1) {
    *recompute_ns = cost[best];
    size_t s = best;
    for (size_t i = n; i-- > 0;) {
      ck[i] = choice[i * (cap + 1) + s];
      s = from[i * (cap + 1) + s];
    }
    rc = 0;
  } else {
    memset(ck, 1, n);
  }
  free(cost), free(nxt), free(choice), free(from);
  return rc;
}

uint64_t mt_rp_revolve(unsigned n, unsigned s)
{
  if (n <= 1)
    return 0;
  if (s == 0)
    return UINT64_MAX;
  if (s == 1)
    return (uint64_t)n * (n - 1) / 2;
  static uint64_t memo[512][64];
  static unsigned char known[512][64];
  if (n < 512 && s < 64 && known[n][s])
    return memo[n][s];
  uint64_t best = UINT64_MAX;
  for (unsigned i = 1; i < n; i++) {
    uint64_t a = mt_rp_revolve(i, s), b = mt_rp_revolve(n - i, s - 1);
    if (a == UINT64_MAX || b == UINT64_MAX)
      continue;
    if (i + a + b < best)
      best = i + a + b;
  }
  if (n < 512 && s < 64) {
    memo[n][s] = best;
    known[n][s] = 1;
  }
  return best;
}

int64_t mt_rp_knapsack(const uint64_t *mem, const int64_t *value, size_t n, uint64_t budget, unsigned char *keep)
{
  size_t B = (size_t)budget;
  int64_t *dp = calloc((n + 1) * (B + 1), sizeof *dp);
  if (!dp)
    return -1;
  for (size_t i = 1; i <= n; i++)
    for (size_t b = 0; b <= B; b++) {
      int64_t v = dp[(i - 1) * (B + 1) + b];
      if (mem[i - 1] <= b) {
        int64_t w = dp[(i - 1) * (B + 1) + b - mem[i - 1]] + value[i - 1];
        if (w > v)
          v = w;
      }
      dp[i * (B + 1) + b] = v;
    }
  int64_t best = dp[n * (B + 1) + B];
  size_t b = B;
  for (size_t i = n; i > 0; i--) {
    keep[i - 1] = dp[i * (B + 1) + b] != dp[(i - 1) * (B + 1) + b];
    if (keep[i - 1])
      b -= mem[i - 1];
  }
  free(dp);
  return best;
}

static uint64_t r512(uint64_t x)
{
  return x < 512 ? 512 : (x + 511) / 512 * 512;
}

/* Tensors by allocation time (index order for equal times). */
static const mt_rp_input *g_in; /* for the qsort below (single-threaded use) */
static int by_alloc(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  int64_t x = g_in->t[i].t_alloc, y = g_in->t[j].t_alloc;
  if (x != y)
    return x < y ? -1 : 1;
  return i < j ? -1 : i > j;
}

/* First position in ix whose tensor is allocated after ts. */
static size_t alloc_after(const mt_rp_input *in, const size_t *ix, int64_t ts)
{
  size_t lo = 0, hi = in->nt;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (in->t[ix[m]].t_alloc <= ts)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

int mt_rp_layer_costs(const mt_rp_input *in, mt_rp_layer_cost **out, size_t *n)
{
  size_t L = (size_t)(in->nlayers > 0 ? in->nlayers : 0);
  mt_rp_layer_cost *l = calloc(L + 1, sizeof *l);
  size_t *ix = malloc((in->nt + 1) * sizeof *ix);
  if (!l || !ix) {
    free(l);
    free(ix);
    return -1;
  }
  for (size_t i = 0; i < in->nt; i++)
    ix[i] = i;
  g_in = in;
  qsort(ix, in->nt, sizeof *ix, by_alloc);
  int step = -2;
  for (size_t i = 0; i < in->nw; i++)
    if (in->w[i].kind == MT_RP_W_FORWARD && in->w[i].layer >= 0) {
      step = in->w[i].step;
      break;
    }
  for (size_t i = 0; i < in->nw; i++) {
    const mt_rp_window *W = &in->w[i];
    if (W->kind != MT_RP_W_FORWARD || W->layer < 0 || (size_t)W->layer >= L || W->step != step ||
        W->occurrence != 0)
      continue;
    const mt_rp_window *B = NULL;
    for (size_t j = 0; j < in->nw; j++)
      if (in->w[j].kind == MT_RP_W_BACKWARD && in->w[j].unit == W->unit && in->w[j].step == W->step &&
          in->w[j].occurrence == 0)
        B = &in->w[j];
    if (!B)
      continue;
    mt_rp_layer_cost *c = &l[W->layer];
    c->fwd_ns = mt_rp_cost_window_ns(in, W); /* what recomputing it costs (cost.c) */
    uint64_t live = 0, peak = 0;
    size_t r0 = alloc_after(in, ix, W->ts), na = 0;
    for (size_t r = r0; r < in->nt && in->t[ix[r]].t_alloc <= W->te; r++) {
      const mt_rp_tensor *x = &in->t[ix[r]];
      if (x->t_free > B->ts && x->t_free <= B->te &&
          (x->cat == MT_RP_ACTIVATION || x->cat == MT_RP_TEMPORARY || x->cat == MT_RP_INPUT))
        c->saved += r512(x->bytes);
      na++;
    }
    /* the third choice: its FLOP outputs kept (the tensors the transform
       keeps: matched to the operator records as checkpoint_window does) */
    int64_t pns;
    uint64_t pk;
    if (na && mt_rp_cost_partial(in, W->unit, &pns, &pk)) {
      uint64_t *by = malloc(na * sizeof *by);
      size_t *at = malloc(na * sizeof *at), m = 0;
      unsigned char *fl = malloc(na);
      if (by && at && fl) {
        for (size_t r = r0; r < in->nt && in->t[ix[r]].t_alloc <= W->te; r++) {
          const mt_rp_tensor *x = &in->t[ix[r]];
          if ((x->cat == MT_RP_ACTIVATION || x->cat == MT_RP_TEMPORARY || x->cat == MT_RP_INPUT) && !x->outside) {
            at[m] = ix[r];
            by[m++] = x->bytes;
          }
        }
        if (mt_rp_cost_flop_outputs(in, W->unit, by, m, fl) > 0) {
          c->has_part = 1;
          c->part_ns = pns;
          for (size_t a = 0; a < m; a++) {
            const mt_rp_tensor *x = &in->t[at[a]];
            if (fl[a]) /* saved by autograd, or held by the selective-checkpoint cache */
              c->part += r512(x->bytes);
          }
        }
      }
      free(by), free(at), free(fl);
    }
    /* transient: the most backward temporaries alive at once (a sweep) */
    size_t b0 = alloc_after(in, ix, B->ts);
    for (size_t r = b0; r < in->nt && in->t[ix[r]].t_alloc <= B->te; r++) {
      const mt_rp_tensor *x = &in->t[ix[r]];
      live = 0;
      for (size_t u = b0; u < in->nt && in->t[ix[u]].t_alloc <= x->t_alloc; u++) {
        const mt_rp_tensor *y = &in->t[ix[u]];
        if (y->t_free > x->t_alloc)
          live += r512(y->bytes);
      }
      if (live > peak)
        peak = live;
    }
    c->transient = peak;
  }
  free(ix);
  *out = l;
  *n = L;
  return 0;
}

/* ---- recommend ---- */

static int64_t step_ns_of(const mt_rp_input *in)
{
  for (size_t i = 0; i < in->nw; i++)
    if (in->w[i].kind == MT_RP_W_STEP)
      return in->w[i].te - in->w[i].ts;
  return 0;
}

/* Fitting plans first: those that train the same model the same way, by
   the step time they add, then by the code they change; then the rest by
   how close they come. */
static int choice_cmp(const void *a, const void *b)
{
  const mt_rp_choice *x = a, *y = b;
  if (x->fits != y->fits)
    return y->fits - x->fits;
  if (x->fits && x->alters_training != y->alters_training)
    return x->alters_training - y->alters_training;
  if (x->fits && x->cost.added_ns != y->cost.added_ns)
    return x->cost.added_ns < y->cost.added_ns ? -1 : 1;
  if (x->fits && x->code_change != y->code_change)
    return x->code_change - y->code_change;
  if (x->result.peak_reserved != y->result.peak_reserved)
    return x->result.peak_reserved < y->result.peak_reserved ? -1 : 1;
  return strcmp(x->options, y->options); /* equal plans in a fixed order */
}

static void ms(char *buf, size_t len, int64_t ns)
{
  snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
}

/* Why x ranks above the next fitting plan y, in the terms choice_cmp used. */
static void explain(mt_rp_choice *x, const mt_rp_choice *y)
{
  char a[32], b[32];
  if (x->alters_training != y->alters_training) {
    snprintf(x->why, sizeof x->why, "trains the same model the same way; the next (%s) changes the optimizer or "
             "what is trained", y->options);
    return;
  }
  if (x->cost.added_ns != y->cost.added_ns) {
    static const char *const part[] = { "recompute", "communication", "host traffic", "other" };
    int64_t d[4] = { y->cost.recompute_ns - x->cost.recompute_ns, y->cost.comm_ns - x->cost.comm_ns,
                     y->cost.host_ns - x->cost.host_ns, y->cost.other_ns - x->cost.other_ns };
    int k = 0;
    for (int i = 1; i < 4; i++)
      if (d[i] > d[k])
        k = i;
    ms(a, sizeof a, y->cost.added_ns - x->cost.added_ns);
    ms(b, sizeof b, d[k]);
    snprintf(x->why, sizeof x->why, "%s less per step than the next (%s), %s of it in %s", a, y->options, b, part[k]);
    return;
  }
  if (x->code_change != y->code_change) {
    snprintf(x->why, sizeof x->why, "same step time as the next (%s), fewer places of code to change (%d vs %d)",
             y->options, x->code_change, y->code_change);
    return;
  }
  snprintf(x->why, sizeof x->why, "same step time and code as the next (%s), %.2f MiB less reserved", y->options,
           ((double)y->result.peak_reserved - (double)x->result.peak_reserved) / 1048576.0);
}

/* A full replay of p (continuing from prefix x when not NULL). */
static int evaluate(const mt_rp_input *in, const mt_rp_recommend_opts *o, const mt_rp_plan *p, int64_t step_ns,
                    mt_rp_prefix *x, mt_rp_choice *c)
{
  memset(c, 0, sizeof *c);
  c->plan = *p;
  if ((x ? mt_rp_replay_prefixed(in, x, p, &c->result) : mt_rp_replay(in, p, &c->result)) != 0)
    return -1;
  c->verified_by_replay = 1;
  mt_rp_plan_describe(p, c->options, sizeof c->options);
  (void)step_ns;
  mt_rp_cost_plan(in, p, &c->result, &c->cost);
  double st = c->cost.step_ns > 0 ? (double)c->cost.step_ns : 1.0;
  c->compute_overhead = (double)(c->cost.recompute_ns + c->cost.other_ns) / st;
  c->comm_overhead = (double)(c->cost.comm_ns + c->cost.host_ns) / st;
  c->total_overhead = c->cost.fraction;
  c->code_change = mt_rp_plan_code_change(p);
  c->alters_training = mt_rp_plan_alters_training(p);
  c->fits = c->result.peak_reserved <= o->budget;
  return 0;
}

/* One plan of recommend: a plain replay, or (layers) the DP placement
 * corrected by replay from the no-checkpoint plan at `base`. */
struct rtask {
  mt_rp_plan p;
  int layers;
  size_t base;
  int follows;   /* a plain task that shares the prefix of an earlier one (replayed by it) */
  size_t next;   /* the next plain task with this prefix, or nt */
  int rc;        /* 0: c holds a choice to list */
  mt_rp_choice c;
};

struct rpool {
  const mt_rp_input *in;
  const mt_rp_recommend_opts *o;
  const mt_rp_layer_cost *lc;
  size_t nl;
  int64_t step_ns;
  struct rtask *t;
  size_t nt;
  int layers;    /* this round runs the layers tasks (they need their base) */
  size_t next;
  size_t done;   /* tasks finished (progress) */
  pthread_mutex_t mu;
};

static void tick(struct rpool *P)
{
  if (!P->o->progress)
    return;
  pthread_mutex_lock(&P->mu);
  P->o->progress(++P->done, P->nt, P->o->progress_arg);
  pthread_mutex_unlock(&P->mu);
}

/* x made for p (its arrays reused; as it is when it was made for a plan
 * with the same prefix), or NULL when p cannot continue from a prefix
 * (every pipeline stage) or memory ran out: replayed from the start. */
static mt_rp_prefix *prefix_for(struct rpool *P, const mt_rp_plan *p, mt_rp_prefix *x)
{
  if (p->pp > 1 && p->pp_stage < 0)
    return NULL;
  if (x->made && mt_rp_prefix_shared(&x->plan, p))
    return x;
  memset(&x->cost, 0, sizeof x->cost);
  return mt_rp_prefix_make(P->in, p, x, &x->cost) == 0 ? x : NULL;
}

/* x: this thread's prefix, its arrays reused from task to task. */
static void run_task(struct rpool *P, struct rtask *T, mt_rp_prefix *x)
{
  T->rc = -1;
  if (!T->layers) {
    /* this plan and those sharing its prefix (the model states differ) */
    mt_rp_prefix *xp = prefix_for(P, &T->p, x);
    for (struct rtask *U = T; U; U = U->next < P->nt ? &P->t[U->next] : NULL) {
      U->rc = evaluate(P->in, P->o, &U->p, P->step_ns, xp, &U->c);
      tick(P);
    }
    return;
  }
  const mt_rp_choice *base = &P->t[T->base].c;
  tick(P);
  if (P->nl == 0 || P->t[T->base].rc != 0 || base->fits)
    return;
  uint64_t need = base->result.peak_reserved - P->o->budget;
  unsigned char ck[MT_RP_MAX_LAYERS];
  uint64_t none = mt_rp_chain_peak(P->lc, P->nl, (unsigned char[MT_RP_MAX_LAYERS]){ 0 }, 0, 0);
  /* partial layers are matched by their recorded sizes: not with another
     micro-batch count */
  mt_rp_layer_cost *lc = (mt_rp_layer_cost *)P->lc, *own = NULL;
  if (T->p.micro_batches > 1 && T->p.micro_batches != P->in->recorded_micro) {
    own = malloc(P->nl * sizeof *own);
    if (!own)
      return;
    memcpy(own, P->lc, P->nl * sizeof *own);
    for (size_t i = 0; i < P->nl; i++)
      own[i].has_part = 0;
    lc = own;
  }
  for (int it = 0; it < 4 && need < none; it++) {
    int64_t rns;
    if (mt_rp_place_checkpoints(lc, P->nl, 0, 0, none - need, 0, ck, &rns) != 0)
      break;
    /* the same placement as the last try: the same replay, whose result T->c holds */
    int same = it > 0 && memcmp(T->p.ckpt_layer, ck, P->nl) == 0;
    memset(T->p.ckpt_layer, 0, sizeof T->p.ckpt_layer);
    for (size_t i = 0; i < P->nl; i++)
      T->p.ckpt_layer[i] = ck[i];
    if (!same && evaluate(P->in, P->o, &T->p, P->step_ns, prefix_for(P, &T->p, x), &T->c) != 0)
      break;
    if (T->c.fits) {
      T->rc = 0;
      break;
    }
    need += T->c.result.peak_reserved - P->o->budget;
  }
  free(own);
}

static void *worker(void *arg)
{
  struct rpool *P = arg;
  mt_rp_prefix x;
  memset(&x, 0, sizeof x);
  x.events = 1; /* every plan made from it continues from it */
  for (;;) {
    pthread_mutex_lock(&P->mu);
    while (P->next < P->nt && (P->t[P->next].layers != P->layers || P->t[P->next].follows))
      P->next++;
    size_t i = P->next < P->nt ? P->next++ : P->nt;
    pthread_mutex_unlock(&P->mu);
    if (i >= P->nt) {
      mt_rp_prefix_free(&x);
      return NULL;
    }
    run_task(P, &P->t[i], &x);
  }
}

/* Threads for recommend: MEMTRACE_THREADS, else the online CPUs (at most 8;
 * each replay holds its own copy of the transformed stream). */
static int n_threads(void)
{
  const char *e = getenv("MEMTRACE_THREADS");
  long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    n = 1;
  return n > 8 ? 8 : (int)n;
}

static void run_round(struct rpool *P, int layers)
{
  pthread_t th[8];
  int nth = n_threads(), started = 0;
  P->layers = layers;
  P->next = 0;
  for (int i = 1; i < nth; i++)
    if (pthread_create(&th[started], NULL, worker, P) == 0)
      started++;
  worker(P);
  for (int i = 0; i < started; i++)
    pthread_join(th[i], NULL);
}

static void refusal(mt_rp_refusals *r, const char *why)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->why[i], why) == 0)
      return;
  if (r->n < sizeof r->why / sizeof r->why[0])
    snprintf(r->why[r->n++], sizeof r->why[0], "%s", why);
}

int mt_rp_recommend(const mt_rp_input *in, const mt_rp_recommend_opts *o, mt_rp_choice **out, size_t *n,
                    size_t *explored)
{
  int world = o->world > 0 ? o->world : in->world;
  /* the techniques recommend varies (those with candidates), in the
   * table's order: the first varies slowest, checkpointing fastest */
  const mt_rp_technique *T[16];
  size_t nT = 0, cap = 1;
  for (size_t i = 0; i < mt_rp_ntechniques && nT < 16; i++)
    if (mt_rp_techniques[i].candidates) {
      size_t c = 0;
      while (mt_rp_techniques[i].candidates[c])
        c++;
      T[nT++] = &mt_rp_techniques[i];
      cap *= c;
    }
  if (o->refused)
    o->refused->n = 0;
  size_t nc = 0;
  mt_rp_choice *c = calloc(cap, sizeof *c);
  struct rtask *tk = calloc(cap, sizeof *tk);
  mt_rp_layer_cost *lc = NULL;
  size_t nl = 0;
  if (!c || !tk || mt_rp_layer_costs(in, &lc, &nl) != 0) {
    free(c);
    free(tk);
    return -1;
  }
  /* The plans, in the order they are listed before ranking. */
  size_t ntk = 0, none_at = 0, idx[16] = { 0 };
  for (int more = 1; more;) {
    mt_rp_plan *p = &tk[ntk].p;
    int placement = 0, ok = 1;
    char err[256], why[sizeof o->refused->why[0]];
    mt_rp_plan_init(p);
    p->allocator = o->allocator;
    p->world = world != in->world ? world : 0;
    for (size_t t = 0; t < nT; t++) {
      const char *v = T[t]->candidates[idx[t]];
      if (strcmp(v, "@placement") == 0) {
        placement = 1;
        p->ckpt = MT_RP_CK_LAYERS;
      } else if (*v && T[t]->parse(p, v, err, sizeof err) != 0) {
        ok = 0;
      }
    }
    /* odometer: the last technique varies fastest */
    more = 0;
    for (size_t t = nT; t-- > 0;) {
      if (T[t]->candidates[++idx[t]]) {
        more = 1;
        break;
      }
      idx[t] = 0;
    }
    if (!ok)
      continue;
    if (p->offload && p->optimizer != MT_RP_OPT_KEEP)
      continue; /* the optimizer runs on the host: its states do not matter */
    if (p->ckpt == MT_RP_CK_SELECTIVE && p->flash)
      continue; /* flash keeps no attention maps to drop */
    if (p->precision != MT_RP_PREC_KEEP && mt__rp_prec_bytes(p->precision) == in->job.param_esize)
      continue; /* the recorded precision: the plan without it */
    mt_rp_plan q = *p;
    if (placement)
      q.ckpt = MT_RP_CK_ALL; /* any placement needs what "all" needs */
    if (mt_rp_plan_refused(in, &q, why, sizeof why)) {
      refusal(o->refused, why);
      continue;
    }
    if (p->ckpt == MT_RP_CK_NONE)
      none_at = ntk;
    if (placement) {
      /* the cheapest placement that should fit, by the chain DP, then
       * corrected by replay; its base is the same plan without
       * checkpointing (listed before it), replayed once */
      tk[ntk].layers = 1;
      tk[ntk].base = none_at;
    }
    ntk++;
  }
  /* plain plans that differ only in the model states share their prefix */
  for (size_t i = 0; i < ntk; i++)
    tk[i].next = ntk;
  for (size_t i = 0; i < ntk; i++) {
    if (tk[i].layers || tk[i].follows || (tk[i].p.pp > 1 && tk[i].p.pp_stage < 0))
      continue;
    for (size_t j = i + 1, last = i; j < ntk; j++)
      if (!tk[j].layers && mt_rp_prefix_shared(&tk[i].p, &tk[j].p)) {
        tk[j].follows = 1;
        tk[last].next = j;
        last = j;
      }
  }
  struct rpool P = { .in = in, .o = o, .lc = lc, .nl = nl, .step_ns = step_ns_of(in), .t = tk, .nt = ntk };
  pthread_mutex_init(&P.mu, NULL);
  run_round(&P, 0);
  run_round(&P, 1);
  pthread_mutex_destroy(&P.mu);
  for (size_t i = 0; i < ntk; i++)
    if (tk[i].rc == 0)
      c[nc++] = tk[i].c;
  free(tk);
  free(lc);
  *explored = nc;
  size_t w = 0;
  for (size_t i = 0; i < nc; i++)
    if (!c[i].fits || o->max_overhead < 0 || c[i].total_overhead <= o->max_overhead)
      c[w++] = c[i];
  qsort(c, w, sizeof *c, choice_cmp);
  for (size_t i = 0; i + 1 < w && c[i + 1].fits; i++)
    explain(&c[i], &c[i + 1]);
  *out = c;
  *n = w;
  return 0;
}
