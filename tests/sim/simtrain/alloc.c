/* simtrain caching allocator: see alloc.h.  The rules, in PyTorch's words:
 * round_size, get_allocation_size, get_free_block (best fit by
 * (stream, size) with the max_split_size rules), should_split, free_block
 * (merge with free neighbours), and on a failed cudaMalloc
 * release_cached_blocks then retry. */
#include "tests/sim/simtrain/alloc.h"

#include <stdlib.h>
#include <string.h>

static int blk_less(const struct st_block *x, const struct st_block *y)
{
	if (x->stream != y->stream)
		return x->stream < y->stream;
	if (x->size != y->size)
		return x->size < y->size;
	return x->ptr < y->ptr;
}

/* First index whose block is not less than (stream, size, ptr). */
static size_t pool_lower_bound(const struct st_pool *p, int stream, size_t size, uint64_t ptr)
{
	struct st_block key;
	size_t lo = 0, hi = p->n;
	key.stream = stream;
	key.size = size;
	key.ptr = ptr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (blk_less(p->v[mid], &key))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void pool_insert(struct st_pool *p, struct st_block *b)
{
	size_t i;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = realloc(p->v, p->cap * sizeof *p->v);
		if (!p->v)
			abort();
	}
	i = pool_lower_bound(p, b->stream, b->size, b->ptr);
	memmove(p->v + i + 1, p->v + i, (p->n - i) * sizeof *p->v);
	p->v[i] = b;
	p->n++;
}

static void pool_remove(struct st_pool *p, struct st_block *b)
{
	size_t i = pool_lower_bound(p, b->stream, b->size, b->ptr);
	if (i >= p->n || p->v[i] != b)
		abort(); /* bookkeeping broken: never silently go on */
	memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
	p->n--;
}

static struct st_pool *pool_of(struct st_alloc *a, const struct st_block *b)
{
	return b->small ? &a->small : &a->large;
}

void st_alloc_init(struct st_alloc *a, const struct st_alloc_backend *be, size_t max_split_size)
{
	memset(a, 0, sizeof *a);
	a->be = *be;
	a->max_split_size = max_split_size ? max_split_size : SIZE_MAX;
}

size_t st_alloc_round(size_t size)
{
	if (size < ST_MIN_BLOCK)
		return ST_MIN_BLOCK;
	return ST_MIN_BLOCK * ((size + ST_MIN_BLOCK - 1) / ST_MIN_BLOCK);
}

size_t st_alloc_segment_size(size_t size)
{
	if (size <= ST_SMALL_SIZE)
		return ST_SMALL_BUFFER;
	if (size < ST_MIN_LARGE_ALLOC)
		return ST_LARGE_BUFFER;
	return ST_ROUND_LARGE * ((size + ST_ROUND_LARGE - 1) / ST_ROUND_LARGE);
}

/* get_free_block: best fit, then the max_split_size rules. */
static struct st_block *get_free_block(struct st_alloc *a, struct st_pool *p, size_t size, int stream)
{
	size_t i = pool_lower_bound(p, stream, size, 0);
	struct st_block *b;
	if (i >= p->n || p->v[i]->stream != stream)
		return NULL;
	b = p->v[i];
	/* Do not return an oversized block for a small request. */
	if (size < a->max_split_size && b->size >= a->max_split_size)
		return NULL;
	/* Do not return an oversized block for a large request either. */
	if (size >= a->max_split_size && b->size >= size + ST_LARGE_BUFFER)
		return NULL;
	pool_remove(p, b);
	return b;
}

static int should_split(const struct st_alloc *a, const struct st_block *b, size_t size)
{
	size_t remaining = b->size - size;
	if (b->small)
		return remaining >= ST_MIN_BLOCK;
	return size < a->max_split_size && remaining > ST_SMALL_SIZE;
}

static struct st_block *alloc_segment(struct st_alloc *a, size_t seg_size, int small, int stream)
{
	uint64_t ptr;
	struct st_block *b;
	if (a->be.dev_malloc(a->be.ctx, seg_size, &ptr) != 0)
		return NULL;
	b = calloc(1, sizeof *b);
	if (!b)
		abort();
	b->ptr = b->seg_ptr = ptr;
	b->size = b->seg_size = seg_size;
	b->small = small;
	b->stream = stream;
	a->reserved += seg_size;
	if (a->reserved > a->peak_reserved)
		a->peak_reserved = a->reserved;
	a->n_segments_created++;
	if (a->be.segment_created)
		b->seg_cookie = a->be.segment_created(a->be.ctx, ptr, seg_size);
	return b;
}

static void release_segment(struct st_alloc *a, struct st_block *b)
{
	if (a->be.segment_freed)
		a->be.segment_freed(a->be.ctx, b->ptr, b->size, b->seg_cookie);
	a->be.dev_free(a->be.ctx, b->ptr, b->size);
	a->reserved -= b->size;
	a->n_segments_freed++;
	free(b);
}

/* release_cached_blocks: cudaFree every free block that is a whole segment. */
static int release_pool(struct st_alloc *a, struct st_pool *p)
{
	size_t i = 0;
	int released = 0;
	while (i < p->n) {
		struct st_block *b = p->v[i];
		if (!b->prev && !b->next) {
			memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
			p->n--;
			release_segment(a, b);
			released = 1;
		} else {
			i++;
		}
	}
	return released;
}

void st_alloc_empty_cache(struct st_alloc *a)
{
	release_pool(a, &a->small);
	release_pool(a, &a->large);
}

struct st_block *st_alloc_malloc(struct st_alloc *a, size_t req, int stream)
{
	size_t size = st_alloc_round(req);
	int small = size <= ST_SMALL_SIZE;
	struct st_pool *p = small ? &a->small : &a->large;
	struct st_block *b = get_free_block(a, p, size, stream);

	if (!b) {
		size_t seg = st_alloc_segment_size(size);
		b = alloc_segment(a, seg, small, stream);
		if (!b) {
			st_alloc_empty_cache(a);
			b = alloc_segment(a, seg, small, stream);
		}
		if (!b) {
			a->oom_requested = size;
			return NULL;
		}
	}
	if (should_split(a, b, size)) {
		struct st_block *rest = calloc(1, sizeof *rest);
		if (!rest)
			abort();
		*rest = *b;
		rest->ptr = b->ptr + size;
		rest->size = b->size - size;
		rest->prev = b;
		rest->next = b->next;
		if (rest->next)
			rest->next->prev = rest;
		b->next = rest;
		b->size = size;
		pool_insert(p, rest);
	}
	b->in_use = 1;
	b->requested = req;
	b->user = NULL;
	a->allocated += b->size;
	if (a->allocated > a->peak_allocated)
		a->peak_allocated = a->allocated;
	a->n_blocks_live++;
	return b;
}

/* Merge src (free, in the pool) into dst; src is dst's neighbour. */
static void merge(struct st_alloc *a, struct st_block *dst, struct st_block *src)
{
	struct st_pool *p = pool_of(a, dst);
	pool_remove(p, src);
	if (dst->prev == src) {
		dst->ptr = src->ptr;
		dst->prev = src->prev;
		if (dst->prev)
			dst->prev->next = dst;
	} else {
		dst->next = src->next;
		if (dst->next)
			dst->next->prev = dst;
	}
	dst->size += src->size;
	free(src);
}

void st_alloc_free(struct st_alloc *a, struct st_block *b)
{
	a->allocated -= b->size;
	a->n_blocks_live--;
	b->in_use = 0;
	b->user = NULL;
	b->requested = 0;
	if (b->prev && !b->prev->in_use)
		merge(a, b, b->prev);
	if (b->next && !b->next->in_use)
		merge(a, b, b->next);
	pool_insert(pool_of(a, b), b);
}

void st_alloc_destroy(struct st_alloc *a)
{
	st_alloc_empty_cache(a);
	free(a->small.v);
	free(a->large.v);
	memset(&a->small, 0, sizeof a->small);
	memset(&a->large, 0, sizeof a->large);
}
