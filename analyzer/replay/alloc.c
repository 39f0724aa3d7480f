/* Allocator models for replay (see alloc.h and docs/REPLAY.md).
 *
 * Blocks live in one array and refer to each other by index; free blocks
 * of the caching and expandable models sit in two pools (small, large) kept
 * sorted by (stream, size, address), so best fit is a binary search; a pool
 * entry carries its block's key (a block's key does not change while it is
 * pooled), so the search touches only the pool.
 * Written from the rules in shared/ORACLES.md section 5 and the behaviour
 * documented for c10/cuda/CUDACachingAllocator.cpp. */
#include "config.h"
#include "analyzer/replay/alloc.h"

#include <stdlib.h>
#include <string.h>

struct blk {
  uint64_t addr, size;
  int32_t prev, next;  /* neighbours inside the same segment, -1 none */
  int32_t stream;
  int32_t seg;         /* expandable: index into xs; else -1 */
  uint8_t small, in_use, live;
};

/* A free block in a pool, with its key inline (the search reads no block). */
struct pent {
  uint64_t size, addr;
  int32_t stream, i;
};

struct pool {
  struct pent *v;
  size_t n, cap;
};

/* expandable_segments: one virtual range per (stream, pool) */
struct xseg {
  int32_t stream;
  uint8_t small;
  uint64_t base, mapped, page;
  int32_t last;  /* block at the end of the mapped range, -1 none */
};

struct mt_rp_alloc {
  enum mt_rp_allocator kind;
  mt_rp_alloc_opts o;
  mt_rp_alloc_stats s;
  struct blk *b;
  size_t nb, capb;
  int32_t *slots;  /* reusable block indexes */
  size_t nslots, capslots;
  struct pool small, large;
  uint64_t next_addr;
  struct xseg *xs;
  size_t nxs, capxs;
  uint64_t live;   /* async: live rounded bytes */
};

static const char *const names[] = { "caching", "expandable", "async", "raw" };

int mt_rp_allocator_parse(const char *s, enum mt_rp_allocator *out)
{
  for (int i = 0; i < 4; i++)
    if (s && strcmp(s, names[i]) == 0) {
      *out = (enum mt_rp_allocator)i;
      return 0;
    }
  return -1;
}

const char *mt_rp_allocator_name(enum mt_rp_allocator a)
{
  return (unsigned)a < 4 ? names[a] : "?";
}

uint64_t mt_rp_round_size(uint64_t size)
{
  if (size < MT_RP_MIN_BLOCK)
    return MT_RP_MIN_BLOCK;
  return (size + MT_RP_MIN_BLOCK - 1) / MT_RP_MIN_BLOCK * MT_RP_MIN_BLOCK;
}

uint64_t mt_rp_segment_size(uint64_t rounded)
{
  if (rounded <= MT_RP_SMALL_SIZE)
    return MT_RP_SMALL_BUFFER;
  if (rounded < MT_RP_MIN_LARGE_ALLOC)
    return MT_RP_LARGE_BUFFER;
  return (rounded + MT_RP_ROUND_LARGE - 1) / MT_RP_ROUND_LARGE * MT_RP_ROUND_LARGE;
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
  return (x + a - 1) / a * a;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  void *q = realloc(p, c * elem);
  if (!q)
    abort(); /* bookkeeping cannot go on without memory */
  *cap = c;
  return q;
}

mt_rp_alloc *mt_rp_alloc_new(enum mt_rp_allocator kind, const mt_rp_alloc_opts *opts)
{
  mt_rp_alloc *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->kind = kind;
  if (opts)
    a->o = *opts;
  if (!a->o.max_split_size)
    a->o.max_split_size = UINT64_MAX;
  if (!a->o.raw_granularity)
    a->o.raw_granularity = 512;
  a->next_addr = 1ull << 32;
  return a;
}

void mt_rp_alloc_destroy(mt_rp_alloc *a)
{
  if (!a)
    return;
  free(a->b);
  free(a->slots);
  free(a->small.v);
  free(a->large.v);
  free(a->xs);
  free(a);
}

const mt_rp_alloc_stats *mt_rp_alloc_stats_of(const mt_rp_alloc *a)
{
  return &a->s;
}

void mt_rp_alloc_reset_peaks(mt_rp_alloc *a)
{
  a->s.peak_allocated = a->s.allocated;
  a->s.peak_reserved = a->s.reserved;
}

static int32_t blk_new(mt_rp_alloc *a)
{
  int32_t i;
  if (a->nslots)
    i = a->slots[--a->nslots];
  else {
    a->b = grow(a->b, &a->capb, a->nb + 1, sizeof *a->b);
    i = (int32_t)a->nb++;
  }
  memset(&a->b[i], 0, sizeof a->b[i]);
  a->b[i].prev = a->b[i].next = a->b[i].seg = -1;
  a->b[i].live = 1;
  return i;
}

static void blk_drop(mt_rp_alloc *a, int32_t i)
{
  a->b[i].live = 0;
  a->slots = grow(a->slots, &a->capslots, a->nslots + 1, sizeof *a->slots);
  a->slots[a->nslots++] = i;
}

static void reserve(mt_rp_alloc *a, uint64_t bytes)
{
  a->s.reserved += bytes;
  if (a->s.reserved > a->s.peak_reserved)
    a->s.peak_reserved = a->s.reserved;
}

static void account(mt_rp_alloc *a, uint64_t bytes)
{
  a->s.allocated += bytes;
  if (a->s.allocated > a->s.peak_allocated)
    a->s.peak_allocated = a->s.allocated;
}

static int fits(const mt_rp_alloc *a, uint64_t more)
{
  return !a->o.capacity || a->s.reserved + more <= a->o.capacity;
}

/* ---- pools: sorted by (stream, size, addr) ---- */

static int key_less(const struct pent *x, int32_t stream, uint64_t size, uint64_t addr)
{
  if (x->stream != stream)
    return x->stream < stream;
  if (x->size != size)
    return x->size < size;
  return x->addr < addr;
}

static size_t lower_bound_in(const struct pool *p, size_t lo, size_t hi, int32_t stream, uint64_t size,
                             uint64_t addr)
{
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (key_less(&p->v[mid], stream, size, addr))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static struct pool *pool_for(mt_rp_alloc *a, int small)
{
  return small ? &a->small : &a->large;
}

#define NOWHERE SIZE_MAX /* a block in no pool */

static void pool_add(mt_rp_alloc *a, int32_t i)
{
  struct pool *p = pool_for(a, a->b[i].small);
  p->v = grow(p->v, &p->cap, p->n + 1, sizeof *p->v);
  size_t at = lower_bound_in(p, 0, p->n, a->b[i].stream, a->b[i].size, a->b[i].addr);
  memmove(p->v + at + 1, p->v + at, (p->n - at) * sizeof *p->v);
  p->v[at] = (struct pent){ a->b[i].size, a->b[i].addr, a->b[i].stream, i };
  p->n++;
}

/* Where pooled block i is in its pool. */
static size_t pool_pos(mt_rp_alloc *a, int32_t i)
{
  struct pool *p = pool_for(a, a->b[i].small);
  size_t at = lower_bound_in(p, 0, p->n, a->b[i].stream, a->b[i].size, a->b[i].addr);
  if (at >= p->n || p->v[at].i != i)
    abort(); /* a model that lost track of a block must not go on */
  return at;
}

static void pool_del_at(struct pool *p, size_t at)
{
  memmove(p->v + at, p->v + at + 1, (p->n - at - 1) * sizeof *p->v);
  p->n--;
}

/* The entry at `at` of block i's pool now stands for block i, with its
 * key: it moves to its sorted place, only the entries in between with it
 * (a removal and an insertion in one). */
static void pool_rekey(mt_rp_alloc *a, size_t at, int32_t i)
{
  struct pool *p = pool_for(a, a->b[i].small);
  struct pent e = { a->b[i].size, a->b[i].addr, a->b[i].stream, i };
  size_t to = at;
  if (at > 0 && !key_less(&p->v[at - 1], e.stream, e.size, e.addr)) {
    to = lower_bound_in(p, 0, at, e.stream, e.size, e.addr);
    memmove(p->v + to + 1, p->v + to, (at - to) * sizeof *p->v);
  } else if (at + 1 < p->n && key_less(&p->v[at + 1], e.stream, e.size, e.addr)) {
    to = lower_bound_in(p, at + 1, p->n, e.stream, e.size, e.addr) - 1;
    memmove(p->v + at, p->v + at + 1, (to - at) * sizeof *p->v);
  }
  p->v[to] = e;
}

/* Best fit on the same stream, with the max_split_size rules; the block
 * stays pooled, at *at. */
static int32_t best_fit(mt_rp_alloc *a, struct pool *p, uint64_t size, int32_t stream, size_t *at)
{
  *at = lower_bound_in(p, 0, p->n, stream, size, 0);
  if (*at >= p->n)
    return -1;
  int32_t i = p->v[*at].i;
  const struct blk *b = &a->b[i];
  if (b->stream != stream)
    return -1;
  if (size < a->o.max_split_size && b->size >= a->o.max_split_size)
    return -1;
  if (size >= a->o.max_split_size && b->size >= size + MT_RP_LARGE_BUFFER)
    return -1;
  return i;
}

static int should_split(const mt_rp_alloc *a, const struct blk *b, uint64_t size)
{
  uint64_t rest = b->size - size;
  if (b->small)
    return rest >= MT_RP_MIN_BLOCK;
  return size < a->o.max_split_size && rest > MT_RP_SMALL_SIZE;
}

/* Splits pooled-at-`at` (or unpooled: NOWHERE) block i; the remainder is pooled. */
static void split(mt_rp_alloc *a, int32_t i, uint64_t size, size_t at)
{
  int32_t r = blk_new(a);
  struct blk *b = &a->b[i], *rb = &a->b[r];
  rb->addr = b->addr + size;
  rb->size = b->size - size;
  rb->stream = b->stream;
  rb->small = b->small;
  rb->seg = b->seg;
  rb->prev = i;
  rb->next = b->next;
  if (rb->next >= 0)
    a->b[rb->next].prev = r;
  b->next = r;
  b->size = size;
  if (b->seg >= 0 && a->xs[b->seg].last == i)
    a->xs[b->seg].last = r;
  if (at == NOWHERE)
    pool_add(a, r);
  else
    pool_rekey(a, at, r);
}

/* Block i, pooled at `at` (or NOWHERE), is handed out: split when the rules say so. */
static void take(mt_rp_alloc *a, int32_t i, uint64_t size, size_t at)
{
  if (should_split(a, &a->b[i], size))
    split(a, i, size, at);
  else if (at != NOWHERE)
    pool_del_at(pool_for(a, a->b[i].small), at);
}

/* Folds free neighbour src (out of its pool) into dst. */
static void merge(mt_rp_alloc *a, int32_t dst, int32_t src)
{
  struct blk *d = &a->b[dst], *s = &a->b[src];
  if (d->prev == src) {
    d->addr = s->addr;
    d->prev = s->prev;
    if (d->prev >= 0)
      a->b[d->prev].next = dst;
  } else {
    d->next = s->next;
    if (d->next >= 0)
      a->b[d->next].prev = dst;
    if (d->seg >= 0 && a->xs[d->seg].last == src)
      a->xs[d->seg].last = dst;
  }
  d->size += s->size;
  blk_drop(a, src);
}

/* ---- caching ---- */

static int32_t new_segment(mt_rp_alloc *a, uint64_t bytes, int small, int32_t stream)
{
  if (!fits(a, bytes))
    return -1;
  int32_t i = blk_new(a);
  a->b[i].addr = a->next_addr;
  a->b[i].size = bytes;
  a->b[i].small = (uint8_t)small;
  a->b[i].stream = stream;
  a->next_addr += round_up(bytes, MT_RP_ROUND_LARGE);
  reserve(a, bytes);
  a->s.segments_created++;
  return i;
}

static void release_pool(mt_rp_alloc *a, struct pool *p)
{
  size_t w = 0;
  for (size_t r = 0; r < p->n; r++) {
    int32_t i = p->v[r].i;
    if (a->b[i].prev < 0 && a->b[i].next < 0) {
      a->s.reserved -= a->b[i].size;
      a->s.segments_freed++;
      blk_drop(a, i);
    } else {
      p->v[w++] = p->v[r];
    }
  }
  p->n = w;
}

static int64_t caching_malloc(mt_rp_alloc *a, uint64_t req, int32_t stream, uint64_t *block)
{
  uint64_t size = mt_rp_round_size(req);
  int small = size <= MT_RP_SMALL_SIZE;
  struct pool *p = pool_for(a, small);
  size_t at = NOWHERE;
  int32_t i = best_fit(a, p, size, stream, &at);
  if (i < 0) {
    at = NOWHERE;
    uint64_t seg = mt_rp_segment_size(size);
    i = new_segment(a, seg, small, stream);
    if (i < 0) {
      mt_rp_alloc_empty_cache(a);
      i = new_segment(a, seg, small, stream);
    }
    if (i < 0) {
      a->s.ooms++;
      return -1;
    }
  }
  take(a, i, size, at);
  a->b[i].in_use = 1;
  account(a, a->b[i].size);
  *block = a->b[i].size;
  return i;
}

static void pooled_free(mt_rp_alloc *a, int32_t i)
{
  struct blk *b = &a->b[i];
  a->s.allocated -= b->size;
  b->in_use = 0;
  /* the merged block takes a free neighbour's place in the pool */
  size_t at = NOWHERE;
  if (b->prev >= 0 && !a->b[b->prev].in_use) {
    at = pool_pos(a, b->prev);
    merge(a, i, b->prev);
  }
  int32_t nx = a->b[i].next;
  if (nx >= 0 && !a->b[nx].in_use) {
    size_t nat = pool_pos(a, nx);
    if (at == NOWHERE) {
      at = nat;
    } else {
      pool_del_at(pool_for(a, a->b[nx].small), nat);
      at -= nat < at;
    }
    merge(a, i, nx);
  }
  if (at == NOWHERE)
    pool_add(a, i);
  else
    pool_rekey(a, at, i);
}

/* ---- expandable segments ---- */

static struct xseg *xseg_for(mt_rp_alloc *a, int32_t stream, int small, int32_t *idx)
{
  for (size_t k = 0; k < a->nxs; k++)
    if (a->xs[k].stream == stream && a->xs[k].small == small) {
      *idx = (int32_t)k;
      return &a->xs[k];
    }
  a->xs = grow(a->xs, &a->capxs, a->nxs + 1, sizeof *a->xs);
  struct xseg *x = &a->xs[a->nxs];
  x->stream = stream;
  x->small = (uint8_t)small;
  x->base = a->next_addr;
  a->next_addr += 1ull << 44; /* a virtual range no replay fills */
  x->mapped = 0;
  x->page = small ? MT_RP_SMALL_BUFFER : MT_RP_LARGE_BUFFER;
  x->last = -1;
  *idx = (int32_t)a->nxs;
  a->nxs++;
  return x;
}

/* Maps pages at the end of x so that a block of size fits there; returns the
 * tail block (out of the pool), or -1 when the capacity does not allow it. */
static int32_t xseg_extend(mt_rp_alloc *a, int32_t xi, uint64_t size)
{
  struct xseg *x = &a->xs[xi];
  int32_t last = x->last;
  uint64_t have = (last >= 0 && !a->b[last].in_use) ? a->b[last].size : 0;
  uint64_t more = round_up(size - have, x->page);
  if (!fits(a, more))
    return -1;
  reserve(a, more);
  a->s.segments_created++;
  uint64_t end = x->base + x->mapped;
  x->mapped += more;
  if (have) {
    pool_del_at(pool_for(a, a->b[last].small), pool_pos(a, last));
    a->b[last].size += more;
    return last;
  }
  int32_t i = blk_new(a);
  struct blk *b = &a->b[i];
  b->addr = end;
  b->size = more;
  b->stream = x->stream;
  b->small = x->small;
  b->seg = xi;
  b->prev = last;
  if (last >= 0)
    a->b[last].next = i;
  x->last = i;
  return i;
}

/* Unmaps the wholly free pages at the end of every segment. */
static void xseg_release(mt_rp_alloc *a)
{
  for (size_t k = 0; k < a->nxs; k++) {
    struct xseg *x = &a->xs[k];
    int32_t last = x->last;
    if (last < 0 || a->b[last].in_use)
      continue;
    uint64_t keep = round_up(a->b[last].addr - x->base, x->page);
    if (keep >= x->mapped)
      continue;
    uint64_t drop = x->mapped - keep;
    pool_del_at(pool_for(a, a->b[last].small), pool_pos(a, last));
    x->mapped = keep;
    a->s.reserved -= drop;
    a->s.segments_freed++;
    a->b[last].size -= drop;
    if (a->b[last].size == 0) {
      x->last = a->b[last].prev;
      if (x->last >= 0)
        a->b[x->last].next = -1;
      blk_drop(a, last);
    } else {
      pool_add(a, last);
    }
  }
}

static int64_t expandable_malloc(mt_rp_alloc *a, uint64_t req, int32_t stream, uint64_t *block)
{
  uint64_t size = mt_rp_round_size(req);
  int small = size <= MT_RP_SMALL_SIZE;
  size_t at = NOWHERE;
  int32_t i = best_fit(a, pool_for(a, small), size, stream, &at);
  if (i < 0) {
    at = NOWHERE;
    int32_t xi;
    xseg_for(a, stream, small, &xi);
    i = xseg_extend(a, xi, size);
    if (i < 0) {
      mt_rp_alloc_empty_cache(a);
      i = xseg_extend(a, xi, size);
    }
    if (i < 0) {
      a->s.ooms++;
      return -1;
    }
  }
  take(a, i, size, at);
  a->b[i].in_use = 1;
  account(a, a->b[i].size);
  *block = a->b[i].size;
  return i;
}

/* ---- async pool and raw ---- */

static int64_t simple_malloc(mt_rp_alloc *a, uint64_t req, uint64_t *block)
{
  uint64_t size;
  if (a->kind == MT_RP_ALLOC_RAW) {
    size = round_up(req ? req : 1, a->o.raw_granularity);
    if (!fits(a, size)) {
      a->s.ooms++;
      return -1;
    }
    reserve(a, size);
  } else {
    size = mt_rp_round_size(req);
    uint64_t need = round_up(a->live + size, MT_RP_SMALL_BUFFER);
    if (need > a->s.reserved) {
      if (a->o.capacity && need > a->o.capacity) {
        a->s.ooms++;
        return -1;
      }
      reserve(a, need - a->s.reserved);
    }
    a->live += size;
  }
  a->s.segments_created++;
  int32_t i = blk_new(a);
  a->b[i].size = size;
  a->b[i].in_use = 1;
  account(a, size);
  *block = size;
  return i;
}

static void simple_free(mt_rp_alloc *a, int32_t i)
{
  uint64_t size = a->b[i].size;
  a->s.allocated -= size;
  if (a->kind == MT_RP_ALLOC_RAW) {
    a->s.reserved -= size;
    a->s.segments_freed++;
  } else {
    a->live -= size;
  }
  blk_drop(a, i);
}

/* ---- dispatch ---- */

int64_t mt_rp_alloc_malloc(mt_rp_alloc *a, uint64_t size, int stream, uint64_t *block)
{
  uint64_t dummy;
  if (!block)
    block = &dummy;
  switch (a->kind) {
  case MT_RP_ALLOC_CACHING:
    return caching_malloc(a, size, stream, block);
  case MT_RP_ALLOC_EXPANDABLE:
    return expandable_malloc(a, size, stream, block);
  default:
    return simple_malloc(a, size, block);
  }
}

void mt_rp_alloc_free(mt_rp_alloc *a, int64_t h)
{
  if (h < 0 || (size_t)h >= a->nb || !a->b[h].live || !a->b[h].in_use)
    return;
  if (a->kind == MT_RP_ALLOC_CACHING || a->kind == MT_RP_ALLOC_EXPANDABLE)
    pooled_free(a, (int32_t)h);
  else
    simple_free(a, (int32_t)h);
}

void mt_rp_alloc_empty_cache(mt_rp_alloc *a)
{
  switch (a->kind) {
  case MT_RP_ALLOC_CACHING:
    release_pool(a, &a->small);
    release_pool(a, &a->large);
    break;
  case MT_RP_ALLOC_EXPANDABLE:
    xseg_release(a);
    break;
  case MT_RP_ALLOC_ASYNC:
    a->s.reserved = round_up(a->live, MT_RP_SMALL_BUFFER);
    break;
  case MT_RP_ALLOC_RAW:
    break;
  }
}
