/* Radix sorts for the replay's hot paths (internal to libmemtrace-replay).
 *
 * LSD radix on the bits that vary across the keys (11-bit digits), so a
 * recording's nanosecond times take three or four passes.  Stable. */
#ifndef MT_REPLAY_RSORT_H
#define MT_REPLAY_RSORT_H

#include <stddef.h>
#include <stdint.h>

/* Sorts v ascending.  Returns 0, or -1 when out of memory (v unchanged). */
int mt_rp_rsort_i64(int64_t *v, size_t n);

/* An engine event: sorted by (t, s), ties kept in array order. */
typedef struct mt_rp_rev {
  int64_t t;
  int32_t s;
  uint32_t i;
} mt_rp_rev;
int mt_rp_rsort_ev(mt_rp_rev *v, size_t n);

/* A plan's records from a shared prefix's (prefix.h): ev (nev, sorted) carry
 * a prefix tensor index above `shift` low bits; pos maps it to the plan's
 * index (-1: left out).  The plan's new records, sorted, are at out + at
 * (at >= what the prefix records can fill: the merge runs in place).  They
 * are merged by (t, s), a prefix record first on ties (the new tensors'
 * indexes are higher).  Returns the number of records in out. */
size_t mt_rp_merge_ev(const mt_rp_rev *ev, size_t nev, const int32_t *pos, int shift, mt_rp_rev *out, size_t at,
                      size_t nn);

#endif
