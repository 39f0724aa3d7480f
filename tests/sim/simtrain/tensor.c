/* simtrain tensors: every device tensor goes through the caching allocator
 * (alloc.c), is registered as an NVTX region (report.c) and recorded in the
 * ground truth (truth.c).  Outside allocations (the GEMM workspace) are plain
 * cudaMalloc calls, recorded the same way. */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static struct st_rank *the_rank;

static int be_malloc(void *ctx, size_t size, uint64_t *ptr)
{
	struct st_rank *r = ctx;
	if (st_gpu_malloc(size, ptr) != 0)
		return 1;
	r->truth.ev.alloc++;
	r->truth.segments_created++;
	st_truth_reserve(&r->truth, (int64_t)size);
	return 0;
}

static void be_free(void *ctx, uint64_t ptr, size_t size)
{
	struct st_rank *r = ctx;
	st_gpu_free(ptr);
	r->truth.ev.free++;
	st_truth_reserve(&r->truth, -(int64_t)size);
}

static void *be_seg_created(void *ctx, uint64_t ptr, size_t size)
{
	(void)ctx;
	return st_report_heap_register(ptr, size);
}

static void be_seg_freed(void *ctx, uint64_t ptr, size_t size, void *cookie)
{
	(void)ctx;
	(void)ptr;
	(void)size;
	st_report_heap_unregister(cookie);
}

void st_tensor_setup(struct st_rank *r)
{
	struct st_alloc_backend be = {0};
	the_rank = r;
	be.ctx = r;
	be.dev_malloc = be_malloc;
	be.dev_free = be_free;
	be.segment_created = be_seg_created;
	be.segment_freed = be_seg_freed;
	st_alloc_init(&r->alloc, &be, 0);
}

static int identity_cat(int cat)
{
	return cat == ST_CAT_PARAMETER || cat == ST_CAT_GRADIENT || cat == ST_CAT_OPTIMIZER_STATE ||
	       cat == ST_CAT_INPUT;
}

struct st_tensor *st_new(struct st_rank *r, int cat, int layer, uint64_t bytes, const char *fmt, ...)
{
	char name[160], label[200];
	va_list ap;
	struct st_tensor *t;
	struct st_block *b;
	const char *region_name = NULL;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	if (bytes == 0)
		bytes = 1;
	b = st_alloc_malloc(&r->alloc, bytes, 0);
	if (!b)
		st_oom(r, st_alloc_round(bytes));
	t = malloc(sizeof *t);
	if (!t)
		abort();
	t->blk = b;
	t->ptr = b->ptr;
	t->bytes = b->size;
	t->requested = bytes;
	t->cat = cat;
	t->layer = layer;
	b->user = t;
	t->rec = st_truth_alloc(&r->truth, name, cat, layer, b->size, bytes, 0);
	if (r->o->annotate == ST_ANN_ALL || (r->o->annotate == ST_ANN_IDENTITY && identity_cat(cat))) {
		snprintf(label, sizeof label, "%s/%s", st_cat_name(cat), name);
		region_name = label;
	} else if (r->o->annotate == ST_ANN_IDENTITY) {
		region_name = name;
	}
	st_report_region_register(b->seg_cookie, b->ptr, b->size, region_name);
	return t;
}

struct st_tensor *st_new_outside(struct st_rank *r, int cat, int layer, uint64_t bytes, const char *name)
{
	struct st_tensor *t;
	uint64_t ptr;
	if (st_gpu_malloc(bytes, &ptr) != 0) {
		/* PyTorch frees its cache and retries before giving up */
		st_alloc_empty_cache(&r->alloc);
		if (st_gpu_malloc(bytes, &ptr) != 0)
			st_oom(r, bytes);
	}
	t = malloc(sizeof *t);
	if (!t)
		abort();
	t->blk = NULL;
	t->ptr = ptr;
	t->bytes = t->requested = bytes;
	t->cat = cat;
	t->layer = layer;
	r->truth.ev.alloc++;
	st_truth_reserve(&r->truth, (int64_t)bytes);
	t->rec = st_truth_alloc(&r->truth, name, cat, layer, bytes, bytes, 1);
	return t;
}

void st_del(struct st_rank *r, struct st_tensor *t)
{
	if (!t)
		return;
	if (t->blk) {
		/* record the release before the real release */
		st_report_region_unregister(t->ptr);
		st_truth_free(&r->truth, t->rec);
		st_alloc_free(&r->alloc, t->blk);
	} else {
		st_truth_free(&r->truth, t->rec);
		st_gpu_free(t->ptr);
		r->truth.ev.free++;
		st_truth_reserve(&r->truth, -(int64_t)t->bytes);
	}
	free(t);
}
