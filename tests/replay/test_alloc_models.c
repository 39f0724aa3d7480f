/* Allocator models: the four replay cases of shared/ORACLES.md section 5
 * exactly, plus split/merge, release-and-retry, expandable, async and raw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "analyzer/replay/alloc.h"

#define MiB (1ull << 20)

static mt_rp_alloc *caching(void)
{
  mt_rp_alloc *a = mt_rp_alloc_new(MT_RP_ALLOC_CACHING, NULL);
  assert_non_null(a);
  return a;
}

static void oracle_mixed(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  uint64_t blk;
  assert_true(mt_rp_alloc_malloc(a, 1, 0, &blk) >= 0);
  assert_true(mt_rp_alloc_malloc(a, 1048577, 0, &blk) >= 0);
  assert_true(mt_rp_alloc_malloc(a, 10485760, 0, &blk) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 11535360);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 23068672);
  mt_rp_alloc_destroy(a);
}

static void oracle_three_mib(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  for (int i = 0; i < 3; i++)
    assert_true(mt_rp_alloc_malloc(a, MiB, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 3145728);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 4194304);
  mt_rp_alloc_destroy(a);
}

static void oracle_twenty(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  for (int i = 0; i < 20; i++)
    assert_true(mt_rp_alloc_malloc(a, MiB + 1, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 22020608);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 41943040);
  mt_rp_alloc_destroy(a);
}

static void oracle_oversize(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  assert_true(mt_rp_alloc_malloc(a, 25 * MiB + 1, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 27262976);
  mt_rp_alloc_destroy(a);
}

/* Freed blocks merge back; best fit per stream; another stream gets its own segment. */
static void reuse_and_streams(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  int64_t x = mt_rp_alloc_malloc(a, 4 * MiB, 0, NULL);
  int64_t y = mt_rp_alloc_malloc(a, 4 * MiB, 0, NULL);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 20 * MiB);
  mt_rp_alloc_free(a, x);
  mt_rp_alloc_free(a, y);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 0);
  /* the whole 20 MiB segment is one free block again: 12 MiB fits */
  assert_true(mt_rp_alloc_malloc(a, 12 * MiB, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 20 * MiB);
  /* remainder 8 MiB > 1 MiB was split off; a request on stream 1 cannot use it */
  assert_true(mt_rp_alloc_malloc(a, 2 * MiB, 1, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 40 * MiB);
  mt_rp_alloc_destroy(a);
}

/* A large block whose remainder is <= 1 MiB is handed out whole. */
static void large_no_split(void **st)
{
  (void)st;
  mt_rp_alloc *a = caching();
  int64_t x = mt_rp_alloc_malloc(a, 12 * MiB, 0, NULL); /* 12 MiB segment */
  mt_rp_alloc_free(a, x);
  uint64_t blk;
  assert_true(mt_rp_alloc_malloc(a, 11 * MiB + 512, 0, &blk) >= 0);
  assert_int_equal(blk, 12 * MiB);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 12 * MiB);
  mt_rp_alloc_destroy(a);
}

/* With a capacity, cached segments are released and the request retried. */
static void release_and_retry(void **st)
{
  (void)st;
  mt_rp_alloc_opts o = { .capacity = 64 * MiB };
  mt_rp_alloc *a = mt_rp_alloc_new(MT_RP_ALLOC_CACHING, &o);
  int64_t x = mt_rp_alloc_malloc(a, 40 * MiB, 0, NULL);
  assert_true(x >= 0);
  mt_rp_alloc_free(a, x);
  assert_true(mt_rp_alloc_malloc(a, 50 * MiB, 0, NULL) >= 0); /* 40 cached freed first */
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 50 * MiB);
  assert_int_equal(mt_rp_alloc_malloc(a, 20 * MiB, 0, NULL), -1);
  assert_int_equal(mt_rp_alloc_stats_of(a)->ooms, 1);
  mt_rp_alloc_destroy(a);
}

/* max_split_size: a small request does not take an oversize block. */
static void max_split(void **st)
{
  (void)st;
  mt_rp_alloc_opts o = { .max_split_size = 32 * MiB };
  mt_rp_alloc *a = mt_rp_alloc_new(MT_RP_ALLOC_CACHING, &o);
  int64_t x = mt_rp_alloc_malloc(a, 64 * MiB, 0, NULL);
  mt_rp_alloc_free(a, x);
  assert_true(mt_rp_alloc_malloc(a, 4 * MiB, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 84 * MiB);
  /* an oversize request takes a cached oversize block unless it is >= size + 20 MiB */
  assert_true(mt_rp_alloc_malloc(a, 50 * MiB, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 84 * MiB);
  mt_rp_alloc_destroy(a);
}

static void expandable(void **st)
{
  (void)st;
  mt_rp_alloc *a = mt_rp_alloc_new(MT_RP_ALLOC_EXPANDABLE, NULL);
  for (int i = 0; i < 20; i++)
    assert_true(mt_rp_alloc_malloc(a, MiB + 1, 0, NULL) >= 0);
  /* one growing segment: 20 x 1 MiB+512 = 20 MiB + 10 KiB -> two 20 MiB pages */
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 40 * MiB);
  int64_t big = mt_rp_alloc_malloc(a, 25 * MiB + 1, 0, NULL);
  assert_true(big >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 60 * MiB);
  mt_rp_alloc_free(a, big);
  mt_rp_alloc_empty_cache(a);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 40 * MiB);
  /* small pool pages are 2 MiB */
  assert_true(mt_rp_alloc_malloc(a, 1, 0, NULL) >= 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 42 * MiB);
  mt_rp_alloc_destroy(a);
}

static void async_and_raw(void **st)
{
  (void)st;
  mt_rp_alloc *a = mt_rp_alloc_new(MT_RP_ALLOC_ASYNC, NULL);
  int64_t x = mt_rp_alloc_malloc(a, 3 * MiB, 0, NULL);
  mt_rp_alloc_malloc(a, 1, 0, NULL);
  assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 3 * MiB + 512);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 4 * MiB);
  mt_rp_alloc_free(a, x);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 4 * MiB); /* kept (threshold unlimited) */
  mt_rp_alloc_empty_cache(a);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 2 * MiB);
  mt_rp_alloc_destroy(a);

  a = mt_rp_alloc_new(MT_RP_ALLOC_RAW, NULL);
  x = mt_rp_alloc_malloc(a, 1000, 0, NULL);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 1024);
  mt_rp_alloc_free(a, x);
  assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 0);
  assert_int_equal(mt_rp_alloc_stats_of(a)->peak_reserved, 1024);
  mt_rp_alloc_destroy(a);
}

/* Many random operations keep allocated == sum of live blocks and never
 * let reserved fall below allocated. */
static void random_consistency(void **st)
{
  (void)st;
  for (int kind = 0; kind < 4; kind++) {
    mt_rp_alloc *a = mt_rp_alloc_new((enum mt_rp_allocator)kind, NULL);
    int64_t h[256] = { 0 };
    uint64_t sz[256] = { 0 }, live = 0;
    unsigned s = 12345;
    for (int i = 0; i < 256; i++)
      h[i] = -1;
    for (int it = 0; it < 20000; it++) {
      s = s * 1103515245u + 12345u;
      int k = (int)((s >> 8) % 256);
      if (h[k] >= 0) {
        mt_rp_alloc_free(a, h[k]);
        live -= sz[k];
        h[k] = -1;
      } else {
        uint64_t req = ((s >> 4) % 7 == 0) ? (s % (30 * MiB)) + 1 : (s % (64 * 1024)) + 1;
        h[k] = mt_rp_alloc_malloc(a, req, (int)((s >> 20) & 1), &sz[k]);
        assert_true(h[k] >= 0);
        live += sz[k];
      }
      assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, live);
      assert_true(mt_rp_alloc_stats_of(a)->reserved >= live);
    }
    for (int i = 0; i < 256; i++)
      mt_rp_alloc_free(a, h[i]);
    mt_rp_alloc_empty_cache(a);
    assert_int_equal(mt_rp_alloc_stats_of(a)->allocated, 0);
    if (kind != MT_RP_ALLOC_ASYNC)
      assert_int_equal(mt_rp_alloc_stats_of(a)->reserved, 0);
    mt_rp_alloc_destroy(a);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(oracle_mixed),     cmocka_unit_test(oracle_three_mib),
    cmocka_unit_test(oracle_twenty),    cmocka_unit_test(oracle_oversize),
    cmocka_unit_test(reuse_and_streams), cmocka_unit_test(large_no_split),
    cmocka_unit_test(release_and_retry), cmocka_unit_test(max_split),
    cmocka_unit_test(expandable),       cmocka_unit_test(async_and_raw),
    cmocka_unit_test(random_consistency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
