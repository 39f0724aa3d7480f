/* Radix sorts (rsort.h).
 *
 * Keys are made unsigned and relative to the smallest one, so only the bits
 * that vary are sorted on: LSD passes of 11-bit digits (2048 counters, which
 * stay in cache while the records are scattered), as many as the key range
 * needs.  Each pass is stable. */
#include "config.h"
#include "analyzer/replay/rsort.h"

#include <stdlib.h>
#include <string.h>

#define DBITS 11
#define RADIX (1u << DBITS)
#define DMASK (RADIX - 1)

static int bits_of(uint64_t x)
{
  int b = 0;
  while (x) {
    b++;
    x >>= 1;
  }
  return b;
}

struct kv {
  uint64_t k;
  uint64_t v; /* the record's payload, opaque here */
};

/* Sorts a by k (stable); tmp has room for n.  Returns the sorted array (a or tmp). */
/* LSD radix passes of DBITS bits over the low `bits` of KEY(element),
 * between src and dst (swapped after each pass: src ends sorted). */
#define RADIX_PASSES(T, KEY, src, dst, n, bits)                  \
  do {                                                           \
    size_t cnt[RADIX];                                           \
    for (int sh = 0; sh < (bits); sh += DBITS) {                 \
      memset(cnt, 0, sizeof cnt);                                \
      for (size_t i = 0; i < (n); i++)                           \
        cnt[(KEY((src)[i]) >> sh) & DMASK]++;                    \
      size_t sum = 0;                                            \
      for (size_t b = 0; b < RADIX; b++) {                       \
        size_t x = cnt[b];                                       \
        cnt[b] = sum;                                            \
        sum += x;                                                \
      }                                                          \
      for (size_t i = 0; i < (n); i++)                           \
        (dst)[cnt[(KEY((src)[i]) >> sh) & DMASK]++] = (src)[i];  \
      T *s_ = (src);                                             \
      (src) = (dst);                                             \
      (dst) = s_;                                                \
    }                                                            \
  } while (0)
#define KV_KEY(e) ((e).k)
#define U64_KEY(e) (e)

static struct kv *kv_sort(struct kv *a, struct kv *tmp, size_t n, int bits)
{
  struct kv *src = a, *dst = tmp;
  RADIX_PASSES(struct kv, KV_KEY, src, dst, n, bits);
  return src;
}

int mt_rp_rsort_i64(int64_t *v, size_t n)
{
  if (n < 2)
    return 0;
  int64_t lo = v[0], hi = v[0];
  for (size_t i = 1; i < n; i++) {
    if (v[i] < lo)
      lo = v[i];
    if (v[i] > hi)
      hi = v[i];
  }
  int bits = bits_of((uint64_t)hi - (uint64_t)lo);
  if (bits == 0)
    return 0;
  uint64_t *a = malloc(2 * n * sizeof *a);
  if (!a)
    return -1;
  uint64_t *src = a, *dst = a + n;
  for (size_t i = 0; i < n; i++)
    src[i] = (uint64_t)v[i] - (uint64_t)lo;
  RADIX_PASSES(uint64_t, U64_KEY, src, dst, n, bits);
  for (size_t i = 0; i < n; i++)
    v[i] = (int64_t)(src[i] + (uint64_t)lo);
  free(a);
  return 0;
}

int mt_rp_rsort_ev(mt_rp_rev *v, size_t n)
{
  if (n < 2)
    return 0;
  int64_t tlo = v[0].t, thi = v[0].t;
  int32_t slo = v[0].s, shi = v[0].s;
  for (size_t i = 1; i < n; i++) {
    if (v[i].t < tlo)
      tlo = v[i].t;
    if (v[i].t > thi)
      thi = v[i].t;
    if (v[i].s < slo)
      slo = v[i].s;
    if (v[i].s > shi)
      shi = v[i].s;
  }
  int tb = bits_of((uint64_t)thi - (uint64_t)tlo);
  int sb = bits_of((uint64_t)((int64_t)shi - (int64_t)slo));
  struct kv *a = malloc(2 * n * sizeof *a);
  if (!a)
    return -1;
  struct kv *r;
  if (tb + sb <= 64) {
    /* one key: (t - tlo) above (s - slo) */
    for (size_t i = 0; i < n; i++)
      a[i] = (struct kv){ ((uint64_t)v[i].t - (uint64_t)tlo) << sb | (uint64_t)((int64_t)v[i].s - slo), i };
    r = kv_sort(a, a + n, n, tb + sb);
  } else {
    /* by s, then (stably) by t */
    for (size_t i = 0; i < n; i++)
      a[i] = (struct kv){ (uint64_t)((int64_t)v[i].s - slo), i };
    r = kv_sort(a, a + n, n, sb);
    for (size_t i = 0; i < n; i++)
      r[i].k = (uint64_t)v[r[i].v].t - (uint64_t)tlo;
    r = kv_sort(r, r == a ? a + n : a, n, tb);
  }
  /* records in the new order (the payload is their old position) */
  mt_rp_rev *out = malloc(n * sizeof *out);
  if (!out) {
    free(a);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    out[i] = v[r[i].v];
  memcpy(v, out, n * sizeof *v);
  free(out);
  free(a);
  return 0;
}

size_t mt_rp_merge_ev(const mt_rp_rev *ev, size_t nev, const int32_t *pos, int shift, mt_rp_rev *out, size_t at,
                      size_t nn)
{
  const mt_rp_rev *ne = out + at;
  const uint32_t low = (1u << shift) - 1;
  size_t w = 0, j = 0;
  for (size_t k = 0; k < nev; k++) {
    const mt_rp_rev *p = &ev[k];
    int32_t q = pos[p->i >> shift];
    if (q < 0)
      continue;
    while (j < nn && (ne[j].t < p->t || (ne[j].t == p->t && ne[j].s < p->s)))
      out[w++] = ne[j++];
    out[w++] = (mt_rp_rev){ p->t, p->s, (uint32_t)q << shift | (p->i & low) };
  }
  while (j < nn)
    out[w++] = ne[j++];
  return w;
}
