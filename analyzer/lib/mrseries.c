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

struct mt_mrseries {
  size_t n;
  int64_t *ts;         /* strictly increasing */
  uint64_t *v;         /* allocated after every event at ts[i] */
  int nlevels;
  level lv[16];
};

typedef struct delta {
  int64_t ts, d;
} delta;

typedef struct acc {
  delta *v;
  size_t n, cap;
  int oom;
} acc;

static void push(acc *a, int64_t ts, int64_t d)
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
  a->v[a->n++] = (delta){ ts, d };
}

/* A lifetime adds its size from its allocation, changes it at each resize
 * and takes it away at its free (never, when it lives to the end). */
static int on_lifetime(const mt_lifetime *l, void *arg)
{
  acc *a = arg;
  uint64_t size = l->size0;
  push(a, l->obj.alloc_ts, (int64_t)size);
  for (size_t i = 0; i < l->nresizes; i++) {
    push(a, l->resizes[i].ts, (int64_t)l->resizes[i].size - (int64_t)size);
    size = l->resizes[i].size;
  }
  if (l->obj.free_ts >= 0)
    push(a, l->obj.free_ts, -(int64_t)size);
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
  int rc = mt_lifetimes_foreach(t, on_lifetime, &a, err);
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
    return rc;
  }
  qsort(a.v, a.n, sizeof *a.v, cmp_delta);
  /* one point per instant: the value after every event at that time */
  s->ts = malloc((a.n ? a.n : 1) * sizeof *s->ts);
  s->v = malloc((a.n ? a.n : 1) * sizeof *s->v);
  if (!s->ts || !s->v)
    goto oom;
  int64_t cur = 0;
  for (size_t i = 0; i < a.n;) {
    int64_t ts = a.v[i].ts;
    for (; i < a.n && a.v[i].ts == ts; i++)
      cur += a.v[i].d;
    s->ts[s->n] = ts;
    s->v[s->n++] = (uint64_t)(cur < 0 ? 0 : cur);
  }
  free(a.v);
  a.v = NULL;
  /* the pyramid: level k holds min/max of blocks of FAN^(k+1) points */
  size_t prev_n = s->n;
  const uint64_t *pmn = s->v, *pmx = s->v;
  while (prev_n > FAN && s->nlevels < 16) {
    level *L = &s->lv[s->nlevels];
    L->n = (prev_n + FAN - 1) / FAN;
    L->mn = malloc(L->n * sizeof *L->mn);
    L->mx = malloc(L->n * sizeof *L->mx);
    if (!L->mn || !L->mx)
      goto oom;
    s->nlevels++;
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
  for (int k = 0; k < s->nlevels; k++) {
    free(s->lv[k].mn);
    free(s->lv[k].mx);
  }
  free(s->ts);
  free(s->v);
  free(s);
}

size_t mt_mrseries_points(const mt_mrseries *s)
{
  return s ? s->n : 0;
}

size_t mt_mrseries_bytes(const mt_mrseries *s)
{
  if (!s)
    return 0;
  size_t b = sizeof *s + s->n * (sizeof *s->ts + sizeof *s->v);
  for (int k = 0; k < s->nlevels; k++)
    b += s->lv[k].n * 2 * sizeof(uint64_t);
  return b;
}

/* The first point with ts >= t. */
static size_t lower(const mt_mrseries *s, int64_t t)
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

uint64_t mt_mrseries_at(const mt_mrseries *s, int64_t t)
{
  if (!s || !s->n)
    return 0;
  size_t i = lower(s, t + 1);   /* points at or before t */
  return i ? s->v[i - 1] : 0;
}

/* min/max of points [i, j) at level `k` granularity: a level's block b
 * covers points [b*FAN^(k+1), (b+1)*FAN^(k+1)). */
static void range_minmax(const mt_mrseries *s, size_t i, size_t j, uint64_t *mn, uint64_t *mx)
{
  /* walk up: whole blocks from the coarsest level that fits, edges finer */
  size_t span = 1;
  const uint64_t *vmn = s->v, *vmx = s->v;
  int k = -1;
  size_t a = i, b = j;          /* in units of the current level */
  /* left and right edges at each level, gathered bottom-up */
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
      span *= FAN;
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
  (void)span;
}

/* The first point in [i, j) whose value is v (v is their maximum). */
static size_t first_at(const mt_mrseries *s, size_t i, size_t j, uint64_t v)
{
  /* narrow by halves with range_minmax: O(log^2 n) */
  while (j - i > 1) {
    size_t m = i + (j - i) / 2;
    uint64_t mn = UINT64_MAX, mx = 0;
    range_minmax(s, i, m, &mn, &mx);
    if (mx >= v)
      j = m;
    else
      i = m;
  }
  return i;
}

void mt_mrseries_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax,
                        int64_t *tmax)
{
  uint64_t at = mt_mrseries_at(s, t0);
  uint64_t mn = at, mx = at;
  if (tmax)
    *tmax = t0;
  if (s && s->n && t1 > t0) {
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

uint64_t mt_mrseries_peak(const mt_mrseries *s, int64_t *ts)
{
  if (!s || !s->n) {
    if (ts)
      *ts = 0;
    return 0;
  }
  uint64_t mn = UINT64_MAX, mx = 0;
  range_minmax(s, 0, s->n, &mn, &mx);
  if (ts)
    *ts = s->ts[first_at(s, 0, s->n, mx)];
  return mx;
}
