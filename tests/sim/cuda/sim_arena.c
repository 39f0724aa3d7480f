/* sim_arena.c - first-fit range allocator over a sorted block array. */
#include "tests/sim/cuda/sim_arena.h"

#include <stdlib.h>
#include <string.h>

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

size_t mt__arena_lower(const mt__arena *a, uint64_t addr)
{
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->v[mid].start + a->v[mid].size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long mt__arena_find(const mt__arena *a, uint64_t addr)
{
	size_t i = mt__arena_lower(a, addr);
	if (i < a->n && a->v[i].start <= addr)
		return (long)i;
	return -1;
}

static int grow(mt__arena *a)
{
	size_t ncap;
	mt__blk *nv;
	if (a->n < a->cap)
		return 0;
	ncap = a->cap ? a->cap * 2 : 64;
	nv = realloc(a->v, ncap * sizeof(*nv));
	if (!nv)
		return -1;
	a->v = nv;
	a->cap = ncap;
	return 0;
}

static long insert_at(mt__arena *a, size_t i, uint64_t start, uint64_t size)
{
	if (grow(a) != 0)
		return -1;
	memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(a->v[0]));
	memset(&a->v[i], 0, sizeof(a->v[i]));
	a->v[i].start = start;
	a->v[i].size = size;
	a->n++;
	return (long)i;
}

long mt__arena_take(mt__arena *a, uint64_t size, uint64_t align, uint64_t fixed)
{
	uint64_t end = a->base + a->size;
	uint64_t lo;
	size_t i;

	if (size == 0 || size > a->size || align == 0 || (align & (align - 1)))
		return -1;
	if (fixed) {
		if (fixed < a->base || fixed > end - size || (fixed & (align - 1)))
			return -1;
		i = mt__arena_lower(a, fixed);
		if (i < a->n && a->v[i].start < fixed + size)
			return -1;
		return insert_at(a, i, fixed, size);
	}
	lo = a->base;
	for (i = 0; i <= a->n; i++) {
		uint64_t hi = i < a->n ? a->v[i].start : end;
		uint64_t s = align_up(lo, align);
		if (s >= lo && s <= hi && hi - s >= size)
			return insert_at(a, i, s, size);
		if (i < a->n)
			lo = a->v[i].start + a->v[i].size;
	}
	return -1;
}

void mt__arena_remove(mt__arena *a, size_t i, uint64_t *gap_lo, uint64_t *gap_hi)
{
	if (gap_lo)
		*gap_lo = i > 0 ? a->v[i - 1].start + a->v[i - 1].size : a->base;
	if (gap_hi)
		*gap_hi = i + 1 < a->n ? a->v[i + 1].start : a->base + a->size;
	memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(a->v[0]));
	a->n--;
}

void mt__arena_clear(mt__arena *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
