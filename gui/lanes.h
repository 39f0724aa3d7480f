/* Lanes: kernels per stream, NCCL calls and NVTX ranges, read from a trace
 * for PRESENTATION only (slices to draw, with level-of-detail summaries).
 * No memory accounting happens here: peaks, categories and the memory
 * curve come from libmemtrace-analysis.
 *
 * Each lane keeps its spans sorted by start, the longest span's length (so
 * a binary search finds everything visible in a window), and a pyramid of
 * busy-time summaries: level 0 has buckets of width `base` ns over the
 * trace, level L buckets of base * 4^L.  Drawing a zoomed-out window sums
 * buckets per pixel column instead of visiting millions of spans.
 *
 * An MtLanes is built by one thread (mt_lanes_load) and read-only after. */
#ifndef MT_GUI_LANES_H
#define MT_GUI_LANES_H

#include <stddef.h>
#include <stdint.h>
#include <gio/gio.h>

typedef enum {
  MT_LANE_RANGE = 0,
  MT_LANE_NCCL,
  MT_LANE_KERNEL,
} MtLaneType;

typedef struct MtSpan {
  int64_t t0, t1;     /* ns; GPU times when the trace has them, else the API call */
  int64_t row;        /* rowid in its table (kernels, nccl_calls, ranges) */
  int32_t name;       /* strings.id (kernel, range), or the nccl op */
  int32_t aux;        /* range depth; nccl: 0 */
} MtSpan;

typedef struct MtLodLevel {
  int64_t width;      /* ns per bucket */
  size_t n;
  float *busy;        /* ns covered by spans in each bucket */
} MtLodLevel;

typedef struct MtLane {
  MtLaneType type;
  char label[48];
  int64_t key;        /* stream id, or range depth */
  MtSpan *spans;
  size_t n;
  int64_t maxdur;
  int gpu_times;      /* spans use gpu_start/gpu_end */
  MtLodLevel *levels;
  int nlevels;
} MtLane;

struct mt_mrseries;

typedef struct MtLanes {
  char *path;
  /* allocated bytes at every change (analyzer/lib/mrseries.h): what the
   * chart draws as the exact curve at any zoom; NULL when it failed */
  struct mt_mrseries *exact;
  MtLane *lanes;
  size_t nlanes;
  GHashTable *names;  /* strings.id -> char*, names of kernels and ranges */
  int64_t t_first, t_last, lod_origin;
  uint64_t nspans;
  double load_seconds;
} MtLanes;

/* Reads the lanes of the trace at `path` (opened read-only, closed before
 * returning).  Returns the lanes (free with mt_lanes_free) or NULL with
 * *error set.  Safe to call from a worker thread. */
MtLanes *mt_lanes_load(const char *path, GError **error);
void mt_lanes_free(MtLanes *l);

/* Name of a kernel/range (strings.id) or of an NCCL op; never NULL. */
const char *mt_lanes_span_name(const MtLanes *l, const MtLane *lane, const MtSpan *s);

/* Index of the first span that may end at or after t (spans are sorted by
 * start and none is longer than maxdur). */
size_t mt_lane_first_from(const MtLane *lane, int64_t t);
/* Index of the first span starting after t. */
size_t mt_lane_end_after(const MtLane *lane, int64_t t);

/* The innermost span containing t in the lane (within `slop` ns), or NULL. */
const MtSpan *mt_lane_span_at(const MtLane *lane, int64_t t, int64_t slop);

/* Busy ns in [a, b) from the coarsest level whose buckets are no wider than
 * `resolution`; exact at bucket edges, apportioned inside buckets. */
double mt_lane_busy(const MtLanes *l, const MtLane *lane, int64_t a, int64_t b, int64_t resolution);

/* "step 3 > forward > layers.2" at time t from the range lanes, or "" when
 * no range covers t.  Writes into buf. */
const char *mt_lanes_phase_at(const MtLanes *l, int64_t t, char *buf, size_t len);

/* Multi-line details of a span (kernel grid, NCCL bytes, ...), queried
 * from the trace.  Returns a newly allocated string. */
char *mt_lanes_describe(const MtLanes *l, const MtLane *lane, const MtSpan *s);

#endif
