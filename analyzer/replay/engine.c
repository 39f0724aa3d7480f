/* Replay engine: lifetimes -> time-ordered events -> allocator model ->
 * peaks.  O(n log n) for the sort, then one pass. */
#include "config.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/rsort.h"
#include "analyzer/replay/prefix.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

/* An event: (time, order among equal times, tensor index << 1 | free).
 * Sorted by (t, s), ties in array order: the order they are made in, by
 * tensor index, an alloc before its own free. */
typedef mt_rp_rev ev_t;

/* The sampling of mt_rp_replay_timeline, as analyzer/lib samples the
 * recorded timeline: before an event at ts, every sample t_i < ts takes the
 * state so far (so sample i is the state after every event at or before
 * t_i); after the event, the state raises the maxima of the bucket
 * (t_{i-1}, t_i] it falls in, which is the next sample to take. */
static void tl_start(mt_rp_timeline *tl, const ev_t *e, size_t ne)
{
  int64_t span = ne ? e[ne - 1].t - e[0].t : 0;
  tl->t0 = ne ? e[0].t : 0;
  tl->dt = span > 0 ? (span + (int64_t)tl->n - 2) / (int64_t)(tl->n - 1) : 1;
  if (tl->dt < 1)
    tl->dt = 1;
}

static size_t tl_before(mt_rp_timeline *tl, size_t pos, int64_t ts, uint64_t alloc, uint64_t res)
{
  for (; pos < tl->n && tl->t0 + (int64_t)pos * tl->dt < ts; pos++) {
    tl->allocated[pos] = alloc;
    tl->reserved[pos] = res;
  }
  return pos;
}

static void tl_after(mt_rp_timeline *tl, size_t pos, uint64_t alloc, uint64_t res)
{
  if (pos >= tl->n)
    return;
  if (alloc > tl->allocated_max[pos])
    tl->allocated_max[pos] = alloc;
  if (res > tl->reserved_max[pos])
    tl->reserved_max[pos] = res;
}

/* The events of t[0..n) in index order (an alloc before its own free),
 * every tensor (all = 1) or those the replay counts. */
size_t mt_rp_events(const mt_rp_tensor *t, size_t n, size_t base, int all, ev_t *e)
{
  size_t ne = 0;
  for (size_t i = 0; i < n; i++) {
    if (!all && t[i].bytes == 0 && !t[i].outside)
      continue;
    e[ne++] = (ev_t){ t[i].t_alloc, t[i].s_alloc, (uint32_t)((base + i) << 1) };
    if (t[i].t_free != MT_RP_NEVER)
      e[ne++] = (ev_t){ t[i].t_free, t[i].s_free, (uint32_t)((base + i) << 1 | 1) };
  }
  return ne;
}

/* Per-event state of the replay loop: h (handle, -1 refused, -2 outside)
 * and blk (bytes counted), n + 1 each; the caller's, or allocated here. */
struct loopbuf {
  int64_t *h;
  uint64_t *blk;
  size_t cap;
};

static int loopbuf_fit(struct loopbuf *b, size_t n)
{
  size_t ch = b->cap, cb = b->cap;
  int rc = mt_rp_reserve((void **)&b->h, &ch, n + 1, sizeof *b->h) != 0 ||
           mt_rp_reserve((void **)&b->blk, &cb, n + 1, sizeof *b->blk) != 0 ? -1 : 0;
  if (rc == 0)
    b->cap = ch;
  return rc;
}

static int run(const mt_rp_tensor *t, const ev_t *e, size_t ne, struct loopbuf *lb, enum mt_rp_allocator kind,
               uint64_t capacity, mt_rp_result *out, mt_rp_timeline *tl);

/* mt_rp_simulate, sampling into tl when it is not NULL (its arrays zeroed,
 * n >= 2). */
static int simulate(const mt_rp_tensor *t, size_t n, enum mt_rp_allocator kind, uint64_t capacity,
                    mt_rp_result *out, mt_rp_timeline *tl)
{
  ev_t *e = malloc((2 * n + 1) * sizeof *e);
  struct loopbuf lb = { 0 };
  int rc = -1;
  if (e && loopbuf_fit(&lb, n) == 0) {
    size_t ne = mt_rp_events(t, n, 0, 0, e);
    if (mt_rp_rsort_ev(e, ne) == 0)
      rc = run(t, e, ne, &lb, kind, capacity, out, tl);
  }
  free(e);
  free(lb.h);
  free(lb.blk);
  return rc;
}

/* The replay loop over events e (sorted). */
static int run(const mt_rp_tensor *t, const ev_t *e, size_t ne, struct loopbuf *lb, enum mt_rp_allocator kind,
               uint64_t capacity, mt_rp_result *out, mt_rp_timeline *tl)
{
  int64_t *h = lb->h;
  uint64_t *blk = lb->blk;
  mt_rp_alloc_opts o = { .capacity = capacity };
  mt_rp_alloc *a = mt_rp_alloc_new(kind, &o);
  if (!a)
    return -1;
  size_t tl_pos = 0;
  if (tl)
    tl_start(tl, e, ne);
  uint64_t outside = 0, live_cat[MT_RP_NCAT] = { 0 };
  uint64_t peak_a = 0, peak_r = 0;
  int64_t peak_ts = 0;
  uint64_t peak_cat[MT_RP_NCAT] = { 0 }, peak_cache = 0;
  const mt_rp_alloc_stats *st = mt_rp_alloc_stats_of(a);
  const int dump = getenv("MT_RP_DUMP") != NULL; /* debugging: the event stream on stderr */
  for (size_t k = 0; k < ne; k++) {
    size_t i = e[k].i >> 1;
    const mt_rp_tensor *x = &t[i];
    int cat = x->cat >= 0 && x->cat < MT_RP_NCAT ? x->cat : MT_RP_OTHER;
    if (tl) {
      if (k)
        tl_after(tl, tl_pos, st->allocated + outside, st->reserved + outside);
      tl_pos = tl_before(tl, tl_pos, e[k].t, st->allocated + outside, st->reserved + outside);
    }
    if (!(e[k].i & 1)) {
      if (x->outside) {
        blk[i] = x->bytes;
        h[i] = -2;
        if (capacity && outside + x->bytes + st->reserved > capacity) {
          mt_rp_alloc_empty_cache(a);
          if (outside + x->bytes + st->reserved > capacity) {
            h[i] = -1;
            out->ooms++;
            continue;
          }
        }
        outside += x->bytes;
      } else {
        h[i] = mt_rp_alloc_malloc(a, x->bytes, x->stream, &blk[i]);
        if (h[i] < 0) {
          out->ooms++;
          continue;
        }
      }
      live_cat[cat] += blk[i];
      if (dump)
        fprintf(stderr, "A %s %s %llu %llu %llu %llu s%d\n", mt_rp_cat_name(cat), x->name ? x->name : "?",
                (unsigned long long)x->bytes, (unsigned long long)blk[i],
                (unsigned long long)(st->allocated + outside + (x->outside ? x->bytes : 0)),
                (unsigned long long)(st->reserved + outside), (int)x->stream);
      uint64_t alloc = st->allocated + outside, res = st->reserved + outside;
      if (alloc > peak_a) {
        peak_a = alloc;
        peak_ts = x->t_alloc;
        memcpy(peak_cat, live_cat, sizeof peak_cat);
        peak_cache = res - alloc;
      }
      if (res > peak_r)
        peak_r = res;
    } else {
      if (h[i] == -1)
        continue;
      live_cat[cat] -= blk[i];
      if (dump)
        fprintf(stderr, "F %s %s %llu\n", mt_rp_cat_name(cat), x->name ? x->name : "?", (unsigned long long)blk[i]);
      if (h[i] == -2)
        outside -= blk[i];
      else
        mt_rp_alloc_free(a, h[i]);
    }
  }
  if (tl && ne) {
    tl_after(tl, tl_pos, st->allocated + outside, st->reserved + outside);
    tl_before(tl, tl_pos, MT_RP_NEVER, st->allocated + outside, st->reserved + outside);
  }
  out->peak_allocated = peak_a;
  out->peak_reserved = peak_r;
  out->peak_ts = peak_ts;
  memcpy(out->by_cat, peak_cat, sizeof peak_cat);
  out->cache_free = peak_cache;
  out->nevents = ne;
  mt_rp_alloc_destroy(a);
  return 0;
}

int mt_rp_simulate(const mt_rp_tensor *t, size_t n, enum mt_rp_allocator kind, uint64_t capacity,
                   mt_rp_result *out)
{
  return simulate(t, n, kind, capacity, out, NULL);
}

int mt_rp_baseline(const mt_rp_input *in, enum mt_rp_allocator a, mt_rp_result *out)
{
  memset(out, 0, sizeof *out);
  return mt_rp_simulate(in->t, in->nt, a, 0, out);
}

static int replay_one(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_result *out, mt_rp_timeline *tl);

static int tl_alloc(mt_rp_timeline *tl, size_t n)
{
  memset(tl, 0, sizeof *tl);
  tl->n = n;
  tl->allocated = calloc(n, sizeof *tl->allocated);
  tl->reserved = calloc(n, sizeof *tl->reserved);
  tl->allocated_max = calloc(n, sizeof *tl->allocated_max);
  tl->reserved_max = calloc(n, sizeof *tl->reserved_max);
  if (tl->allocated && tl->reserved && tl->allocated_max && tl->reserved_max)
    return 0;
  mt_rp_timeline_free(tl);
  return -1;
}

void mt_rp_timeline_free(mt_rp_timeline *tl)
{
  free(tl->allocated);
  free(tl->reserved);
  free(tl->allocated_max);
  free(tl->reserved_max);
  memset(tl, 0, sizeof *tl);
}

/* With a pipeline every stage is replayed (each rank holds one); the
 * result is the stage with the highest allocated peak, with every stage's
 * peaks listed, and the timeline (when tl) that stage's. */
static int replay_stages(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_result *out, mt_rp_timeline *tl)
{
  if (p->pp <= 1 || p->pp_stage >= 0) {
    int rc = replay_one(in, p, out, tl);
    out->stage = p->pp > 1 ? p->pp_stage : -1;
    return rc;
  }
  mt_rp_plan q = *p;
  mt_rp_result r;
  mt_rp_timeline cur = { 0 };
  int n = p->pp < 64 ? p->pp : 64, rc = 0;
  uint64_t pa[64], pr[64];
  memset(out, 0, sizeof *out);
  for (int s = 0; s < n && rc == 0; s++) {
    q.pp_stage = s;
    if (tl && tl_alloc(&cur, tl->n) != 0) {
      rc = -1;
      break;
    }
    if ((rc = replay_one(in, &q, &r, tl ? &cur : NULL)) != 0)
      break;
    pa[s] = r.peak_allocated;
    pr[s] = r.peak_reserved;
    if (s == 0 || r.peak_allocated > out->peak_allocated) {
      *out = r;
      out->stage = s;
      if (tl) {
        mt_rp_timeline t = *tl;
        *tl = cur;
        cur = t;
      }
    }
    if (tl)
      mt_rp_timeline_free(&cur);
  }
  mt_rp_timeline_free(&cur);
  if (rc != 0)
    return rc;
  out->nstages = n;
  memcpy(out->stage_peak_allocated, pa, (size_t)n * sizeof *pa);
  memcpy(out->stage_peak_reserved, pr, (size_t)n * sizeof *pr);
  return 0;
}

int mt_rp_replay(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_result *out)
{
  return replay_stages(in, p, out, NULL);
}

int mt_rp_replay_timeline(const mt_rp_input *in, const mt_rp_plan *p, size_t n, mt_rp_result *out,
                          mt_rp_timeline *tl)
{
  if (tl_alloc(tl, n < 2 ? 2 : n) != 0)
    return -1;
  int rc = replay_stages(in, p, out, tl);
  if (rc != 0)
    mt_rp_timeline_free(tl);
  return rc;
}

static int replay_one(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_result *out, mt_rp_timeline *tl)
{
  mt_rp_tensor *t = NULL;
  size_t n = 0;
  memset(out, 0, sizeof *out);
  if (mt_rp_transform(in, p, &t, &n, out) != 0)
    return -1;
  int rc = simulate(t, n, p->allocator, p->capacity, out, tl);
  free(t);
  return rc;
}

/* ---- replays that continue from a shared prefix (prefix.h) ---- */

int mt_rp_prefix_events(mt_rp_prefix *x)
{
  if (x->has_ev)
    return 0;
  if (mt_rp_reserve((void **)&x->ev, &x->capev, 2 * x->n + 1, sizeof *x->ev) != 0)
    return -1;
  x->nev = mt_rp_events(x->t, x->n, 0, 1, x->ev);
  if (mt_rp_rsort_ev(x->ev, x->nev) != 0)
    return -1;
  x->has_ev = 1;
  return 0;
}

/* The plan's events: the prefix's, in their sorted order, for the tensors
 * the plan kept (renumbered, those it counts), merged with the sorted
 * events of its new tensors, which follow prefix events of the same (t, s)
 * as their higher indexes do in a full sort.  Returns 1 when a kept tensor
 * was moved in time (the caller sorts everything), -1 when out of memory. */
static int merged_events(mt_rp_prefix *x, const mt_rp_tensor *t, size_t n, size_t nkept, size_t *nout)
{
  if (mt_rp_prefix_events(x) != 0)
    return -1;
  if (mt_rp_reserve((void **)&x->mev, &x->capmev, 2 * n + 1, sizeof *x->mev) != 0)
    return -1;
  for (size_t i = 0; i < x->n; i++)
    x->pos[i] = -1;
  for (size_t j = 0; j < nkept; j++) {
    const mt_rp_tensor *a = &t[j], *b = &x->t[x->orig[j]];
    if (a->t_alloc != b->t_alloc || a->s_alloc != b->s_alloc || a->t_free != b->t_free || a->s_free != b->s_free)
      return 1;
    x->pos[x->orig[j]] = a->bytes == 0 && !a->outside ? -1 : (int32_t)j; /* -1: not replayed */
  }
  /* the new tensors' events, sorted, at the end of mev */
  ev_t *ne = x->mev + 2 * nkept, *e = x->mev;
  size_t nn = mt_rp_events(t + nkept, n - nkept, nkept, 0, ne);
  if (mt_rp_rsort_ev(ne, nn) != 0)
    return -1;
  /* merged in place: at most 2 events per kept tensor come before the new ones */
  *nout = mt_rp_merge_ev(x->ev, x->nev, x->pos, 1, e, 2 * nkept, nn);
  return 0;
}

int mt_rp_replay_prefixed(const mt_rp_input *in, mt_rp_prefix *x, const mt_rp_plan *p, mt_rp_result *out)
{
  memset(out, 0, sizeof *out);
  *out = x->cost;
  size_t n = 0, nkept = 0, ne = 0;
  size_t co = x->caporig, cp = x->caporig;
  if (mt_rp_reserve((void **)&x->orig, &co, x->n + 1, sizeof *x->orig) != 0 ||
      mt_rp_reserve((void **)&x->pos, &cp, x->n + 1, sizeof *x->pos) != 0)
    return -1;
  x->caporig = co;
  if (mt_rp_transform_rest(in, x, p, &x->buf, &x->capbuf, &n, out, x->orig, &nkept) != 0)
    return -1;
  struct loopbuf lb = { x->h, x->blk, x->caph };
  int rc = loopbuf_fit(&lb, n);
  x->h = lb.h;
  x->blk = lb.blk;
  x->caph = lb.cap;
  if (rc != 0)
    return -1;
  rc = merged_events(x, x->buf, n, nkept, &ne);
  if (rc < 0)
    return -1;
  if (rc > 0) {
    ne = mt_rp_events(x->buf, n, 0, 0, x->mev);
    if (mt_rp_rsort_ev(x->mev, ne) != 0)
      return -1;
  }
  rc = run(x->buf, x->mev, ne, &lb, p->allocator, p->capacity, out, NULL);
  out->stage = p->pp > 1 ? p->pp_stage : -1;
  return rc;
}
