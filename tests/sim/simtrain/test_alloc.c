/* cmocka: simtrain's caching allocator against the replay cases of
 * shared/ORACLES.md section 5 (numbers from there, not from this code),
 * plus merging, cache release on a full device, and OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/sim/simtrain/alloc.h"

struct fake_dev {
	uint64_t next, capacity, used;
	int mallocs, frees;
};

static int fake_malloc(void *ctx, size_t size, uint64_t *ptr)
{
	struct fake_dev *d = ctx;
	if (d->used + size > d->capacity)
		return 1;
	*ptr = d->next;
	d->next += size + 4096;
	d->used += size;
	d->mallocs++;
	return 0;
}

static void fake_free(void *ctx, uint64_t ptr, size_t size)
{
	struct fake_dev *d = ctx;
	(void)ptr;
	d->used -= size;
	d->frees++;
}

static void setup_alloc(struct st_alloc *a, struct fake_dev *d, uint64_t capacity)
{
	struct st_alloc_backend be = {0};
	d->next = 0x7f0000000000ull;
	d->capacity = capacity;
	d->used = 0;
	d->mallocs = d->frees = 0;
	be.ctx = d;
	be.dev_malloc = fake_malloc;
	be.dev_free = fake_free;
	st_alloc_init(a, &be, 0);
}

static void case_mixed(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	(void)state;
	setup_alloc(&a, &d, 1ull << 40);
	assert_non_null(st_alloc_malloc(&a, 1, 0));
	assert_non_null(st_alloc_malloc(&a, 1048577, 0));
	assert_non_null(st_alloc_malloc(&a, 10485760, 0));
	assert_int_equal(a.allocated, 11535360);
	assert_int_equal(a.reserved, 23068672);
}

static void case_three_mib(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	int i;
	(void)state;
	setup_alloc(&a, &d, 1ull << 40);
	for (i = 0; i < 3; i++)
		assert_non_null(st_alloc_malloc(&a, 1048576, 0));
	assert_int_equal(a.allocated, 3145728);
	assert_int_equal(a.reserved, 4194304);
}

static void case_twenty(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	int i;
	(void)state;
	setup_alloc(&a, &d, 1ull << 40);
	for (i = 0; i < 20; i++)
		assert_non_null(st_alloc_malloc(&a, 1048577, 0));
	assert_int_equal(a.allocated, 22020608);
	assert_int_equal(a.reserved, 41943040);
}

static void case_25mib(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	(void)state;
	setup_alloc(&a, &d, 1ull << 40);
	assert_non_null(st_alloc_malloc(&a, 25 * 1048576 + 1, 0));
	assert_int_equal(a.reserved, 27262976);
}

/* Freed blocks merge back into one segment-sized block, reused without a new cudaMalloc. */
static void case_merge_reuse(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	struct st_block *x, *y, *z;
	(void)state;
	setup_alloc(&a, &d, 1ull << 40);
	x = st_alloc_malloc(&a, 4 << 20, 0);
	y = st_alloc_malloc(&a, 4 << 20, 0);
	assert_int_equal(d.mallocs, 1);
	st_alloc_free(&a, x);
	st_alloc_free(&a, y);
	assert_int_equal(a.allocated, 0);
	assert_int_equal(a.large.n, 1);
	assert_int_equal(a.large.v[0]->size, 20 << 20);
	z = st_alloc_malloc(&a, 12 << 20, 0);
	assert_int_equal(d.mallocs, 1);
	assert_int_equal(z->size, 12 << 20);
	/* a different stream never takes another stream's block */
	assert_non_null(st_alloc_malloc(&a, 2 << 20, 1));
	assert_int_equal(d.mallocs, 2);
}

/* A full device: cached segments are freed, the cudaMalloc retried; then OOM. */
static void case_release_then_oom(void **state)
{
	struct st_alloc a;
	struct fake_dev d;
	struct st_block *x;
	(void)state;
	setup_alloc(&a, &d, 64 << 20);
	x = st_alloc_malloc(&a, 40 << 20, 0);
	assert_non_null(x);
	st_alloc_free(&a, x);
	assert_int_equal(a.reserved, 40 << 20);
	x = st_alloc_malloc(&a, 50 << 20, 0);
	assert_non_null(x);
	assert_int_equal(d.frees, 1);
	assert_int_equal(a.reserved, 50 << 20);
	assert_null(st_alloc_malloc(&a, 30 << 20, 0));
	assert_int_equal(a.oom_requested, 30 << 20);
	assert_int_equal(a.allocated, 50 << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(case_mixed),
		cmocka_unit_test(case_three_mib),
		cmocka_unit_test(case_twenty),
		cmocka_unit_test(case_25mib),
		cmocka_unit_test(case_merge_reuse),
		cmocka_unit_test(case_release_then_oom),
	};
	return cmocka_run_group_tests_name("simtrain_alloc", tests, NULL, NULL);
}
