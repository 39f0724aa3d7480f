/* The transformed stream before the model states (internal to
 * libmemtrace-replay).
 *
 * mt_rp_transform applies flash attention, checkpointing, sequence
 * parallelism and micro-batches (or a pipeline stage), then rewrites the
 * model states (ZeRO, optimizer, offload, layer-wise training) and NCCL's
 * buffers.  Plans that differ only in the second part share the first: a
 * prefix is made once and each of them continues from a copy of it, and the
 * engine sorts the prefix's events once and merges each plan's few new
 * events into them (recommend, planner.c).  A prefix belongs to one thread. */
#ifndef MT_REPLAY_PREFIX_H
#define MT_REPLAY_PREFIX_H

#include "analyzer/replay/replay.h"
#include "analyzer/replay/rsort.h"

typedef struct mt_rp_prefix {
  mt_rp_plan plan;          /* the plan it was made for */
  int made;                 /* 1: made (t ... cost hold the prefix of plan) */
  mt_rp_tensor *t;          /* the stream so far */
  size_t n, capt;
  mt_rp_window *w;
  size_t nw, capw;
  int64_t *times;           /* sorted event times of t */
  size_t ntimes, captimes;
  mt_rp_result cost;        /* costs so far (from zero) */
  int pipelined, stage;
  int ustage[MT_RP_MAX_LAYERS + 8];
  int events;               /* set by the caller: sort ev when the prefix is made (plans will continue
                               from it), its time index taken from them */
  mt_rp_rev *ev;            /* every tensor's events in replay order (made when needed) */
  size_t nev, capev;
  int has_ev;
  mt_rp_rev *allocs;        /* every tensor's allocation by time, ties in index order (made when needed) */
  size_t capallocs;
  int has_allocs;
  /* scratch reused by the plans replayed from this prefix (engine.c) */
  mt_rp_tensor *buf;        /* a plan's stream */
  size_t capbuf;
  int32_t *orig, *pos;      /* n each: prefix index of a plan tensor, plan index of a prefix tensor */
  size_t caporig;
  mt_rp_rev *mev;           /* a plan's events */
  size_t capmev;
  int64_t *h;               /* the replay loop's per-tensor state */
  uint64_t *blk;
  size_t caph;
} mt_rp_prefix;

/* The first part of mt_rp_transform for plan p, its costs added to *cost.
 * x: zeroed, or a prefix made before, whose arrays and scratch are reused
 * (free it with mt_rp_prefix_free either way).  Returns 0, or -1 when out
 * of memory. */
int mt_rp_prefix_make(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_prefix *x, mt_rp_result *cost);
void mt_rp_prefix_free(mt_rp_prefix *x);
/* 1 when plan b can continue from a prefix made for plan a. */
int mt_rp_prefix_shared(const mt_rp_plan *a, const mt_rp_plan *b);
/* The second part for plan p (same prefix fields as the plan x was made
 * for), on a copy of x's stream in t (capacity *cap, grown with realloc;
 * the caller owns it), costs added to *cost.  orig (x->n entries, or NULL):
 * the first *nkept tensors of the result are prefix tensors, in prefix
 * order, tensor j being prefix tensor orig[j]; the rest are new.  With
 * orig, x->pos (x->n entries) is scratch here. */
int mt_rp_transform_rest(const mt_rp_input *in, mt_rp_prefix *x, const mt_rp_plan *p, mt_rp_tensor **t,
                         size_t *cap, size_t *nout, mt_rp_result *cost, int32_t *orig, size_t *nkept);
/* Grows *v (capacity *cap elements of size elem, contents kept) to hold n.
 * 0, or -1 when out of memory (*v unchanged). */
int mt_rp_reserve(void **v, size_t *cap, size_t n, size_t elem);
/* The events of t[0..n) (tensor indexes from base), in index order, an
 * alloc before its own free: every tensor's (all), or those the replay
 * counts.  Returns their number (at most 2n). */
size_t mt_rp_events(const mt_rp_tensor *t, size_t n, size_t base, int all, mt_rp_rev *e);
/* x->ev made (sorted) from x's stream, when it is not yet.  0 or -1. */
int mt_rp_prefix_events(mt_rp_prefix *x);
/* mt_rp_replay of p (no pipeline, or one stage) continuing from x. */
int mt_rp_replay_prefixed(const mt_rp_input *in, mt_rp_prefix *x, const mt_rp_plan *p, mt_rp_result *out);

#endif
