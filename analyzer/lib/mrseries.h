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
 * Memory: 16 bytes per change point (two per allocation) plus 1/15 of that
 * for the pyramid.  Built by one thread, read-only after (any thread). */
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

/* The minimum and maximum of allocated over [t0, t1) (t1 > t0; relative
 * ns, as the analysis's times), the value holding at t0 included; *tmax
 * (may be NULL) the first instant the maximum holds in it (t0 when it is
 * the value holding there). */
void mt_mrseries_extent(const mt_mrseries *s, int64_t t0, int64_t t1, uint64_t *vmin, uint64_t *vmax,
                        int64_t *tmax);

/* The global maximum and the first instant it is reached (the report's
 * peak allocated and its time). */
uint64_t mt_mrseries_peak(const mt_mrseries *s, int64_t *ts);

#endif
