/* sim_arena.h - address-range allocator of the simulated driver (internal).
 *
 * An arena is a span [base, base+size) of addresses and the sorted array of
 * blocks that are taken in it; the free space is the gaps between blocks, so
 * coalescing is implicit.  Placement is first fit in address order.  Not
 * thread-safe: the driver calls it under its lock. */
#ifndef MT_SIM_ARENA_H
#define MT_SIM_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct mt__blk {
	uint64_t start;
	uint64_t size;    /* bytes taken (rounded) */
	uint64_t req;     /* bytes asked for */
	uint64_t off;     /* kind-specific (VMM: offset in the handle) */
	void *obj;        /* kind-specific (VMM: the physical handle) */
	int kind;
	int dev;
} mt__blk;

typedef struct mt__arena {
	uint64_t base;
	uint64_t size;
	mt__blk *v;
	size_t n;
	size_t cap;
} mt__arena;

/* Takes size bytes aligned to align (a power of two).  With fixed != 0 the
 * block must start exactly at fixed.  Returns the index of the new block, or
 * -1 when no room (or no memory for the array). */
long mt__arena_take(mt__arena *a, uint64_t size, uint64_t align, uint64_t fixed);
/* Index of the block containing addr, or -1. */
long mt__arena_find(const mt__arena *a, uint64_t addr);
/* Index of the first block whose end is above addr (blocks at or after
 * addr), n when none. */
size_t mt__arena_lower(const mt__arena *a, uint64_t addr);
/* Removes block i; gap_lo and gap_hi (may be NULL) get the free gap around it. */
void mt__arena_remove(mt__arena *a, size_t i, uint64_t *gap_lo, uint64_t *gap_hi);
/* Forgets every block and frees the array. */
void mt__arena_clear(mt__arena *a);

#endif
