/* Radix sorts (rsort.h). */
#include "config.h"
#include "analyzer/replay/rsort.h"

#include <stdlib.h>
#include <string.h>

#define RADIX 65536u

static uint32_t dig_i64(int64_t x, int d)
{
  return (uint32_t)((((uint64_t)x ^ (1ull << 63)) >> (16 * d)) & 0xffffu);
}

int mt_rp_rsort_i64(int64_t *v, size_t n)
{
  if (n < 2)
    return 0;
  size_t *cnt = calloc(4 * (size_t)RADIX, sizeof *cnt);
  int64_t *tmp = malloc(n * sizeof *tmp);
  if (!cnt || !tmp) {
    free(cnt);
    free(tmp);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    for (int d = 0; d < 4; d++)
      cnt[(size_t)d * RADIX + dig_i64(v[i], d)]++;
  int64_t *src = v, *dst = tmp;
  for (int d = 0; d < 4; d++) {
    size_t *c = cnt + (size_t)d * RADIX;
    if (c[dig_i64(v[0], d)] == n)
      continue; /* every key has this digit */
    size_t sum = 0;
    for (size_t k = 0; k < RADIX; k++) {
      size_t x = c[k];
      c[k] = sum;
      sum += x;
    }
    for (size_t i = 0; i < n; i++)
      dst[c[dig_i64(src[i], d)]++] = src[i];
    int64_t *s = src;
    src = dst;
    dst = s;
  }
  if (src != v)
    memcpy(v, src, n * sizeof *v);
  free(cnt);
  free(tmp);
  return 0;
}

/* digits 0-1: s, 2-5: t (least significant first) */
static uint32_t dig_ev(const mt_rp_rev *e, int d)
{
  if (d < 2)
    return (((uint32_t)e->s ^ 0x80000000u) >> (16 * d)) & 0xffffu;
  return dig_i64(e->t, d - 2);
}

int mt_rp_rsort_ev(mt_rp_rev *v, size_t n)
{
  if (n < 2)
    return 0;
  size_t *cnt = calloc(6 * (size_t)RADIX, sizeof *cnt);
  mt_rp_rev *tmp = malloc(n * sizeof *tmp);
  if (!cnt || !tmp) {
    free(cnt);
    free(tmp);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    for (int d = 0; d < 6; d++)
      cnt[(size_t)d * RADIX + dig_ev(&v[i], d)]++;
  mt_rp_rev *src = v, *dst = tmp;
  for (int d = 0; d < 6; d++) {
    size_t *c = cnt + (size_t)d * RADIX;
    if (c[dig_ev(&v[0], d)] == n)
      continue;
    size_t sum = 0;
    for (size_t k = 0; k < RADIX; k++) {
      size_t x = c[k];
      c[k] = sum;
      sum += x;
    }
    for (size_t i = 0; i < n; i++)
      dst[c[dig_ev(&src[i], d)]++] = src[i];
    mt_rp_rev *s = src;
    src = dst;
    dst = s;
  }
  if (src != v)
    memcpy(v, src, n * sizeof *v);
  free(cnt);
  free(tmp);
  return 0;
}
