/* Allocator models for replay: pure bookkeeping over a stream of
 * (size, stream) allocation requests and frees.  No device memory is touched;
 * addresses are synthetic.  Four models (docs/REPLAY.md explains each):
 *
 *   raw         every request is its own cudaMalloc, rounded up to the
 *               driver's granularity (512 B in the simulated driver; the
 *               real driver's visible granularity is also 512 B for
 *               cudaMalloc, with 2 MiB physical pages behind it).
 *   caching     PyTorch's CUDACachingAllocator (shared/ORACLES.md section 5).
 *   expandable  the same with expandable_segments:True: one growing virtual
 *               segment per (stream, pool), mapped in 2 MiB (small pool) or
 *               20 MiB (large pool) pages.
 *   async       cudaMallocAsync's pool with an unlimited release threshold
 *               (what PyTorch's backend:cudaMallocAsync sets): allocations
 *               rounded to 512 B, physical memory grows in 2 MiB chunks to
 *               the high-water mark of live bytes and is never fragmented
 *               (the driver remaps pages).
 *
 * Not thread-safe; one model per replayed rank. */
#ifndef MT_REPLAY_ALLOC_H
#define MT_REPLAY_ALLOC_H

#include <stdint.h>

enum mt_rp_allocator {
  MT_RP_ALLOC_CACHING = 0,
  MT_RP_ALLOC_EXPANDABLE,
  MT_RP_ALLOC_ASYNC,
  MT_RP_ALLOC_RAW,
};

typedef struct mt_rp_alloc_opts {
  uint64_t capacity;        /* device bytes; 0 = unlimited (no OOM) */
  uint64_t max_split_size;  /* PyTorch max_split_size_mb in bytes; 0 = unlimited */
  uint64_t raw_granularity; /* raw model rounding; 0 = 512 */
} mt_rp_alloc_opts;

typedef struct mt_rp_alloc_stats {
  uint64_t allocated, reserved;           /* now, bytes */
  uint64_t peak_allocated, peak_reserved; /* high-water marks, bytes */
  uint64_t segments_created, segments_freed;
  uint64_t ooms;                          /* requests that failed */
} mt_rp_alloc_stats;

typedef struct mt_rp_alloc mt_rp_alloc;

/* Page sizes, rounding constants of the caching allocator (PyTorch names). */
#define MT_RP_MIN_BLOCK 512ull
#define MT_RP_SMALL_SIZE (1ull << 20)
#define MT_RP_SMALL_BUFFER (2ull << 20)
#define MT_RP_LARGE_BUFFER (20ull << 20)
#define MT_RP_MIN_LARGE_ALLOC (10ull << 20)
#define MT_RP_ROUND_LARGE (2ull << 20)

/* Parses "caching", "expandable", "async", "raw"; returns 0 or -1. */
int mt_rp_allocator_parse(const char *s, enum mt_rp_allocator *out);
const char *mt_rp_allocator_name(enum mt_rp_allocator a);

/* A new empty model (opts may be NULL).  Returns NULL when out of memory.
 * The caller owns it; free with mt_rp_alloc_destroy. */
mt_rp_alloc *mt_rp_alloc_new(enum mt_rp_allocator kind, const mt_rp_alloc_opts *opts);
void mt_rp_alloc_destroy(mt_rp_alloc *a);

/* Allocates size bytes on stream.  Returns a handle >= 0 and sets *block to
 * the bytes counted as allocated (the block size), or -1 when the model's
 * capacity is exhausted even after releasing every cached segment. */
int64_t mt_rp_alloc_malloc(mt_rp_alloc *a, uint64_t size, int stream, uint64_t *block);
/* Returns a handle's block to the model. */
void mt_rp_alloc_free(mt_rp_alloc *a, int64_t handle);
/* torch.cuda.empty_cache(): releases every wholly free cached segment/page. */
void mt_rp_alloc_empty_cache(mt_rp_alloc *a);
/* Counters; valid until the next call on a. */
const mt_rp_alloc_stats *mt_rp_alloc_stats_of(const mt_rp_alloc *a);
/* Clears the peaks to the current values (to measure one window). */
void mt_rp_alloc_reset_peaks(mt_rp_alloc *a);

/* PyTorch's round_size and get_allocation_size. */
uint64_t mt_rp_round_size(uint64_t size);
uint64_t mt_rp_segment_size(uint64_t rounded);

#endif
