/* simtrain: a caching allocator that follows the rules of PyTorch's
 * CUDACachingAllocator (c10/cuda/CUDACachingAllocator.cpp) as listed in
 * shared/ORACLES.md section 5.  Pure bookkeeping over a backend: the backend
 * makes the real device allocations (cudaMalloc/cudaFree in simtrain, a fake
 * in the unit test), observers are told about segments (NVTX heaps).
 *
 * Not thread-safe: one allocator per rank process, used from one thread. */
#ifndef ST_ALLOC_H
#define ST_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define ST_KB 1024ull
#define ST_MIB (1024ull * 1024ull)
#define ST_MIN_BLOCK 512ull           /* kMinBlockSize */
#define ST_SMALL_SIZE ST_MIB          /* kSmallSize: largest small-pool request */
#define ST_SMALL_BUFFER (2 * ST_MIB)  /* kSmallBuffer: small-pool segment */
#define ST_LARGE_BUFFER (20 * ST_MIB) /* kLargeBuffer: segment for requests < 10 MiB */
#define ST_MIN_LARGE_ALLOC (10 * ST_MIB)
#define ST_ROUND_LARGE (2 * ST_MIB)

struct st_block {
	uint64_t ptr;
	size_t size;       /* block size (what "allocated" counts while in use) */
	size_t requested;  /* caller's size, before rounding */
	int stream;
	int small;         /* pool: 1 small, 0 large */
	int in_use;
	struct st_block *prev, *next; /* neighbours inside the same segment */
	uint64_t seg_ptr;  /* base of the segment this block lives in */
	size_t seg_size;
	void *seg_cookie;  /* what segment_created returned (the NVTX heap) */
	void *user;        /* owner's cookie (the tensor) */
};

struct st_alloc_backend {
	void *ctx;
	/* Returns 0 and *ptr on success, non-zero when the device is full. */
	int (*dev_malloc)(void *ctx, size_t size, uint64_t *ptr);
	void (*dev_free)(void *ctx, uint64_t ptr, size_t size);
	/* Optional observers, called after a segment is created / before it is freed. */
	void *(*segment_created)(void *ctx, uint64_t ptr, size_t size); /* returns a cookie */
	void (*segment_freed)(void *ctx, uint64_t ptr, size_t size, void *cookie);
};

struct st_pool {
	struct st_block **v; /* free blocks sorted by (stream, size, ptr) */
	size_t n, cap;
};

struct st_alloc {
	struct st_alloc_backend be;
	size_t max_split_size;  /* SIZE_MAX = PyTorch's default (no limit) */
	struct st_pool small, large;
	uint64_t allocated, reserved;          /* bytes now */
	uint64_t peak_allocated, peak_reserved;
	uint64_t n_segments_created, n_segments_freed, n_blocks_live;
	/* Filled when st_alloc_malloc returns NULL. */
	size_t oom_requested;
};

/* Sets up an empty allocator over be (copied).  max_split_size 0 = unlimited. */
void st_alloc_init(struct st_alloc *a, const struct st_alloc_backend *be, size_t max_split_size);
/* Frees every cached segment (no block may be in use) and the pools. */
void st_alloc_destroy(struct st_alloc *a);
/* PyTorch's round_size: at least 512, a multiple of 512. */
size_t st_alloc_round(size_t size);
/* PyTorch's get_allocation_size: segment size for a rounded request. */
size_t st_alloc_segment_size(size_t rounded);
/* Hands out a block for size bytes on stream, or NULL when the device is full
 * even after every cached segment was released (a->oom_requested set). */
struct st_block *st_alloc_malloc(struct st_alloc *a, size_t size, int stream);
/* Returns a block to its pool, merging it with free neighbours. */
void st_alloc_free(struct st_alloc *a, struct st_block *b);
/* Releases every unused cached segment (torch.cuda.empty_cache). */
void st_alloc_empty_cache(struct st_alloc *a);

#endif
