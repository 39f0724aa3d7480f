/* Exact allocated(t) with a min/max pyramid (mrseries.h). */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "analyzer/lib/mrseries.h"

#define FAN 16

typedef struct level {
  size_t n;
  uint64_t *mn, *mx;   /* per block of FAN^(k+1) points */
} level;

/* One category's own change points (what the stacked chart is made of). */
typedef struct catseries {
  size_t n;
  int64_t *ts;         /* strictly increasing */
  uint64_t *v;         /* the category's bytes after every event at ts[i] */
} catseries;

/* A step function with its min/max pyramid. */
typedef struct series {
  size_t n;
  int64_t *ts;         /* strictly increasing */
  uint64_t *v;         /* the value after every event at ts[i] */
  int nlevels;
  level lv[16];
} series;

struct mt_mrseries {
  series a;            /* allocated */
  series r;            /* reserved */
  catseries cat[MT_CAT_COUNT];
};

typedef struct delta {
  int64_t ts, d;
  int cat;
} delta;

typedef struct acc {
  delta *v;
  size_t n, cap;
  int oom;
  /* reserved: (ts, total) points as the walk reports them */
  int64_t *rts;
  uint64_t *rv;
  size_t rn, rcap;
} acc;

static void push(acc *a, int64_t ts, int64_t d, int cat)
{
  if (a->oom || !d)
    return;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1 << 16;
    delta *nv = realloc(a->v, cap * sizeof *nv);
    if (!nv) {
      a->oom = 1;
      return;
    }
    a->v = nv;
    a->cap = cap;
  }
  a->v[a->n++] = (delta){ ts, d, cat };
}

static int on_reserved(int64_t ts, uint64_t total, void *arg)
{
  acc *a = arg;
  if (a->rn && a->rts[a->rn - 1] == ts) {
    a->rv[a->rn - 1] = total;
    return 0;
  }
  if (a->rn == a->rcap) {
    size_t cap = a->rcap ? a->rcap * 2 : 1024;
    int64_t *nt = realloc(a->rts, cap * sizeof *nt);
    if (nt)
      a->rts = nt;
    uint64_t *nv = nt ? realloc(a->rv, cap * sizeof *nv) : NULL;
    if (!nv) {
      a->oom = 1;
      return 1;
    }
    a->rv = nv;
    a->rcap = cap;
  }
  a->rts[a->rn] = ts;
  a->rv[a->rn++] = total;
  return 0;
}

/* The pyramid: level k holds min/max of blocks of FAN^(k+1) points. */
static int build_levels(series *s)
{
  size_t prev_n = s->n;
  const uint64_t *pmn = s->v, *pmx = s->v;
  while (prev_n > FAN && s->nlevels < 16) {
    level *L = &s->lv[s->nlevels];
    L->n = (prev_n + FAN - 1) / FAN;
    L->mn = malloc(L->n * sizeof *L->mn);
    L->mx = malloc(L->n * sizeof *L->mx);
    s->nlevels++;
    if (!L->mn || !L->mx)
      return -1;
    for (size_t b = 0; b < L->n; b++) {
      uint64_t mn = UINT64_MAX, mx = 0;
      for (size_t i = b * FAN; i < prev_n && i < (b + 1) * FAN; i++) {
        if (pmn[i] < mn)
          mn = pmn[i];
        if (pmx[i] > mx)
          mx = pmx[i];
      }
      L->mn[b] = mn;
      L->mx[b] = mx;
    }
    prev_n = L->n;
    pmn = L->mn;
    pmx = L->mx;
  }
  return 0;
}

static void series_free(series *s)
{
  for (int k = 0; k < s->nlevels; k++) {
    free(s->lv[k].mn);
    free(s->lv[k].mx);
  }
  free(s->ts);
  free(s->v);
}

/* A lifetime adds its size from its allocation, changes it at each resize
 * and takes it away at its free (never, when it lives to the end). */
static int on_lifetime(const mt_lifetime *l, void *arg)
{
  acc *a = arg;
  uint64_t size = l->size0;
  /* the settled category, as the analysis's timeline counts it */
  int c = l->obj.category >= 0 && l->obj.category < MT_CAT_COUNT && l->obj.category != MT_CAT_CACHE_FREE
            ? l->obj.category : MT_CAT_OTHER;
  push(a, l->obj.alloc_ts, (int64_t)size, c);
  for (size_t i = 0; i < l->nresizes; i++) {
    push(a, l->resizes[i].ts, (int64_t)l->resizes[i].size - (int64_t)size, c);
    size = l->resizes[i].size;
  }
  if (l->obj.free_ts >= 0)
    push(a, l->obj.free_ts, -(int64_t)size, c);
  return a->oom;
}

static int cmp_delta(const void *x, const void *y)
{
  const delta *p = x, *q = y;
  return p->ts < q->ts ? -1 : p->ts > q->ts;
}

int mt_mrseries_build(mt_trace *t, mt_mrseries **out, mt_error *err)
{
  acc a = { 0 };
  *out = NULL;
  mt_lifetime_visitor vis = { .lifetime = on_lifetime, .reserved = on_reserved, .arg = &a };
  int rc = mt_lifetimes_walk(t, &vis, err);
  if (rc == MT_OK && a.oom) {
    mt_error_set(err, MT_ENOMEM, "out of memory");
    rc = MT_ENOMEM;
  }
  mt_mrseries *s = rc == MT_OK ? calloc(1, sizeof *s) : NULL;
  if (rc == MT_OK && !s) {
    mt_error_set(err, MT_ENOMEM, "out of memory");
    rc = MT_ENOMEM;
  }
  if (rc != MT_OK) {
    free(a.v);
    free(a.rts);
    free(a.rv);
    return rc;
  }
  /* reserved: the walk's points as they are (one per instant, in order) */
  s->r.ts = a.rts;
  s->r.v = a.rv;
  s->r.n = a.rn;
  a.rts = NULL;
  a.rv = NULL;
  qsort(a.v, a.n, sizeof *a.v, cmp_delta);
  /* one point per instant: the value after every event at that time */
  s->a.ts = malloc((a.n ? a.n : 1) * sizeof *s->a.ts);
  s->a.v = malloc((a.n ? a.n : 1) * sizeof *s->a.v);
  if (!s->a.ts || !s->a.v)
    goto oom;
  int64_t cur = 0;
  for (size_t i = 0; i < a.n;) {
    int64_t ts = a.v[i].ts;
    for (; i < a.n && a.v[i].ts == ts; i++)
      cur += a.v[i].d;
    s->a.ts[s->a.n] = ts;
    s->a.v[s->a.n++] = (uint64_t)(cur < 0 ? 0 : cur);
  }
  /* per category: a point at each instant the category changes (two
   * passes: count, then fill) */
  size_t cnt[MT_CAT_COUNT] = { 0 };
  for (int pass = 0; pass < 2; pass++) {
    int64_t ccur[MT_CAT_COUNT] = { 0 };
    for (size_t i = 0; i < a.n;) {
      int64_t ts = a.v[i].ts;
      uint64_t touched = 0;
      for (; i < a.n && a.v[i].ts == ts; i++) {
        ccur[a.v[i].cat] += a.v[i].d;
        touched |= 1ull << a.v[i].cat;
      }
      for (int c = 0; c < MT_CAT_COUNT; c++) {
        if (!(touched >> c & 1))
          continue;
        if (pass == 0) {
          cnt[c]++;
          continue;
        }
        catseries *cs = &s->cat[c];
        cs->ts[cs->n] = ts;
        cs->v[cs->n++] = (uint64_t)(ccur[c] < 0 ? 0 : ccur[c]);
      }
    }
    for (int c = 0; pass == 0 && c < MT_CAT_COUNT; c++) {
      if (!cnt[c])
        continue;
      s->cat[c].ts = malloc(cnt[c] * sizeof *s->cat[c].ts);
      s->cat[c].v = malloc(cnt[c] * sizeof *s->cat[c].v);
      if (!s->cat[c].ts || !s->cat[c].v)
        goto oom;
    }
  }
  free(a.v);
  a.v = NULL;
  if (build_levels(&s->a) || build_levels(&s->r))
    goto oom;
  *out = s;
  return MT_OK;
oom:
  free(a.v);
  mt_mrseries_free(s);
  mt_error_set(err, MT_ENOMEM, "out of memory");
  return MT_ENOMEM;
}

void mt_mrseries_free(mt_mrseries *s)
{
  if (!s)
    return;
  series_free(&s->a);
  series_free(&s->r);
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    free(s->cat[c].ts);
    free(s->cat[c].v);
  }
  free(s);
}

size_t mt_mrseries_points(const mt_mrseries *s)
{
  return s ? s->a.n : 0;
}

static size_t series_bytes(const series *s)
{
  size_t b = s->n * (sizeof *s->ts + sizeof *s->v);
  for (int k = 0; k < s->nlevels; k++)
    b += s->lv[k].n * 2 * sizeof(uint64_t);
  return b;
}

size_t mt_mrseries_bytes(const mt_mrseries *s)
{
  if (!s)
    return 0;
  size_t b = sizeof *s + series_bytes(&s->a) + series_bytes(&s->r);
  for (int c = 0; c < MT_CAT_COUNT; c++)
    b += s->cat[c].n * (sizeof *s->cat[c].ts + sizeof *s->cat[c].v);
  return b;
}

/* The first point with ts >= t. */
static size_t lower(const series *s, int64_t t)
{
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (s->ts[m] < t)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

static uint64_t series_at(const series *s, int64_t t)
{
  if (!s->n)
    return 0;
  size_t i = lower(s, t + 1);   /* points at or before t */
  return i ? s->v[i - 1] : 0;
}

void mt_mrseries_at_by_category(const mt_mrseries *s, int64_t t, uint64_t out[MT_CAT_COUNT])
{
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    out[c] = 0;
    if (!s)
      continue;
    const catseries *cs = &s->cat[c];
    size_t lo = 0, hi = cs->n;   /* the first point after t */
    while (lo < hi) {
      size_t m = lo + (hi - lo) / 2;
      if (cs->ts[m] <= t)
        lo = m + 1;
      else
        hi = m;
    }
    out[c] = lo ? cs->v[lo - 1] : 0;
  }
}

uint64_t mt_mrseries_at(const mt_mrseries *s, int64_t t)
{
  return s ? series_at(&s->a, t) : 0;
}

/* min/max of points [i, j) at level `k` granularity: a level's block b
 * covers points [b*FAN^(k+1), (b+1)*FAN^(k+1)). */
static void range_minmax(const series *s, size_t i, size_t j, uint64_t *mn, uint64_t *mx)
{
  /* whole blocks from the coarsest level that fits, edges finer */
  const uint64_t *vmn = s->v, *vmx = s->v;
  int k = -1;
  size_t a = i, b = j;          /* in units of the current level */
  while (a < b) {
    if (k + 1 < s->nlevels && b - a >= 2 * FAN) {
      /* edges at this level up to block boundaries, the middle one level up */
      while (a < b && a % FAN) {
        if (vmn[a] < *mn) *mn = vmn[a];
        if (vmx[a] > *mx) *mx = vmx[a];
        a++;
      }
      while (b > a && b % FAN) {
        b--;
        if (vmn[b] < *mn) *mn = vmn[b];
        if (vmx[b] > *mx) *mx = vmx[b];
      }
      k++;
      a /= FAN;
      b /= FAN;
      vmn = s->lv[k].mn;
      vmx = s->lv[k].mx;
      continue;
    }
    for (; a < b; a++) {
      if (vmn[a] < *mn) *mn = vmn[a];
      if (vmx[a] > *mx) *mx = vmx[a];
    }
  }
}

/* The first point in [i, j) whose value is >= v (j when none): walking
 * right over the largest aligned blocks that fit, then down into the first
 * whose maximum reaches v.  O(FAN x levels). */
static size_t first_at(const series *s, size_t i, size_t j, uint64_t v)
{
  size_t p = i;
  while (p < j) {
    int k = -1;                 /* level; block size FAN^(k+1) */
    size_t size = 1;
    while (k + 1 < s->nlevels && p % (size * FAN) == 0 && p + size * FAN <= j) {
      k++;
      size *= FAN;
    }
    if ((k < 0 ? s->v[p] : s->lv[k].mx[p / size]) >= v) {
      while (k >= 0) {          /* a child of a block that reaches v does too */
        size /= FAN;
        k--;
        while ((k < 0 ? s->v[p] : s->lv[k].mx[p / size]) < v)
          p += size;
      }
      return p;
    }
    p += size;
  }
  return j;
}

static void series_extent(const series *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax, int64_t *tmax)
{
  uint64_t at = series_at(s, t0);
  uint64_t mn = at, mx = at;
  if (tmax)
    *tmax = t0;
  if (s->n && t1 > t0) {
    size_t i = lower(s, t0 + 1), j = lower(s, t1);   /* points in (t0, t1) */
    if (i < j) {
      uint64_t imn = UINT64_MAX, imx = 0;
      range_minmax(s, i, j, &imn, &imx);
      if (imn < mn)
        mn = imn;
      if (imx > mx) {
        mx = imx;
        if (tmax)
          *tmax = s->ts[first_at(s, i, j, imx)];
      }
    }
  }
  *vmin = mn;
  *vmax = mx;
}

void mt_mrseries_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax,
                        int64_t *tmax)
{
  static const series none;
  series_extent(s ? &s->a : &none, t0, t1, vmin, vmax, tmax);
}

int mt_mrseries_has_reserved(const mt_mrseries *s)
{
  return s && s->r.n > 0;
}

void mt_mrseries_reserved_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax)
{
  static const series none;
  series_extent(s ? &s->r : &none, t0, t1, vmin, vmax, NULL);
}

uint64_t mt_mrseries_peak(const mt_mrseries *s, int64_t *ts)
{
  if (!s || !s->a.n) {
    if (ts)
      *ts = 0;
    return 0;
  }
  uint64_t mn = UINT64_MAX, mx = 0;
  range_minmax(&s->a, 0, s->a.n, &mn, &mx);
  if (ts)
    *ts = s->a.ts[first_at(&s->a, 0, s->a.n, mx)];
  return mx;
}
