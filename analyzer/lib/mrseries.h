/* libmemtrace-analysis: allocated bytes over time, exactly, at every zoom.
 *
 * A sampled timeline (mt_timeline) says what allocated(t) is at n instants;
 * zoomed in past its sample spacing it misses peaks (a 32,768-sample
 * timeline of an 11 s run is 0.33 ms per sample).  This series keeps every
 * instant at which allocated(t) changes -- built from the analysis's own
 * lifetimes walk (mt_lifetimes_walk), so it is the report's allocated(t),
 * "instant" as the report means it: after every event with that time --
 * and a min/max pyramid over them (16 points per block per level), so that
 * the exact minimum and maximum over any time interval costs O(log n): a
 * chart asks for min/max per pixel column at any zoom, down to single
 * allocations, and draws the true peak.
 *
 * Reserved bytes get the same (mt_mrseries_reserved_extent).
 * Each category (the analysis's settled one, as its timeline counts it)
 * also keeps its own change points, so the allocated bytes at any instant
 * split exactly into categories: a stacked chart drawn at the instant of a
 * column's maximum reaches the true peak.
 *
 * Memory: 16 bytes per change point (two per allocation) plus 1/15 of that
 * for the pyramid, and as much again for the categories' points.  Built by
 * one thread, read-only after (any thread). */
#ifndef MT_MRSERIES_H
#define MT_MRSERIES_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/lib/analysis.h"

typedef struct mt_mrseries mt_mrseries;

/* Builds the series of one open trace.  Returns MT_OK and *out (free with
 * mt_mrseries_free) or an MT_E* code with err set. */
int mt_mrseries_build(mt_trace *t, mt_mrseries **out, mt_error *err);
void mt_mrseries_free(mt_mrseries *s);

/* Change points (0 for an empty trace), bytes held. */
size_t mt_mrseries_points(const mt_mrseries *s);
size_t mt_mrseries_bytes(const mt_mrseries *s);

/* allocated(t): the value after every event at or before t (0 before the
 * first). */
uint64_t mt_mrseries_at(const mt_mrseries *s, int64_t t);

/* Per category (MT_CAT_COUNT entries, cache_free 0): its bytes at t, after
 * every event at or before t.  They sum to mt_mrseries_at(s, t). */
void mt_mrseries_at_by_category(const mt_mrseries *s, int64_t t, uint64_t out[MT_CAT_COUNT]);

/* The minimum and maximum of allocated over [t0, t1) (t1 > t0; relative
 * ns, as the analysis's times), the value holding at t0 included; *tmax
 * (may be NULL) the first instant the maximum holds in it (t0 when it is
 * the value holding there). */
void mt_mrseries_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax,
                        int64_t *tmax);

/* Reserved bytes (as the report counts them, at every change the walk
 * reports): whether the series has them, and their minimum and maximum
 * over [t0, t1), the value holding at t0 included. */
int mt_mrseries_has_reserved(const mt_mrseries *s);
void mt_mrseries_reserved_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax);

/* The global maximum and the first instant it is reached (the report's
 * peak allocated and its time). */
uint64_t mt_mrseries_peak(const mt_mrseries *s, int64_t *ts);

#endif
