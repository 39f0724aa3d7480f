/* Fleet view of a run of many ranks: each rank's trace analysed on its own
 * (a pool of threads, one analysis per thread at a time), boiled down to a
 * fixed-size summary and freed, so that memory is bounded by the largest
 * rank's analysis times the number of threads, not by the number of ranks.
 * The summaries -- plain bytes, no pointers, so that MPI can move them
 * between processes -- then give the job's picture: the distribution of
 * peaks, the outlier ranks and what differs in them against the median
 * rank, and the imbalance over time.  docs/FLEET.md. */
#ifndef MT_FLEET_H
#define MT_FLEET_H
#include <stdint.h>
#include <stdio.h>
#include "analyzer/lib/analysis.h"

#define MT_FLEET_BUCKETS 20   /* timeline: max allocated in each twentieth of the rank's run */
#define MT_FLEET_STEPS 256    /* per-step peaks kept: steps first_step .. first_step + 255 */

typedef struct mt_fleet_rank {
  char name[256];             /* the trace's file name (no directory) */
  char host[256];
  char error[512];            /* non-empty: the analysis failed (one line, names the file) */
  char peak_phase[32];
  int rank, local_rank, world_size, incomplete;
  int peak_step;              /* -1 unknown */
  int first_step, nsteps;     /* step_peak[i] is step first_step + i; nsteps 0: no steps */
  int64_t pid, duration_ns, peak_allocated_ts;
  uint64_t peak_allocated, peak_reserved, dropped, events;
  uint64_t by_category[MT_CAT_COUNT];   /* at the allocated peak */
  uint64_t timeline[MT_FLEET_BUCKETS];
  uint64_t step_peak[MT_FLEET_STEPS];   /* peak allocated of each step */
} mt_fleet_rank;

/* The traces (*.mtrace) of a run directory, "DIR/NAME" sorted by name;
 * free each and the array.  NULL with err set (err may be NULL). */
char **mt_fleet_list(const char *dir, size_t *n, mt_error *err);

/* Analyses paths[0..n) into out[0..n) with `jobs` threads (0: one per
 * online CPU, at most n).  A trace that cannot be analysed gets its error
 * in out[i].error; the others are analysed all the same.  progress, when
 * not NULL, is called after each trace (done, n) from one thread at a time.
 * Returns MT_OK, or MT_ENOMEM when not even the threads could start. */
int mt_fleet_analyse(char *const *paths, size_t n, int jobs, mt_fleet_rank *out,
                     void (*progress)(size_t done, size_t n));

/* Sorts summaries into report order: rank, then pid, then file name. */
void mt_fleet_sort(mt_fleet_rank *r, size_t n);

/* The number of online CPUs (at least 1). */
int mt_fleet_cpus(void);

/* The fleet report of n sorted summaries of the run at `path`: text for
 * people, or (json != 0) one JSON document with every rank's summary.
 * Deterministic: the same summaries give the same bytes.  Returns 0, or -1
 * when writing failed. */
int mt_fleet_render(FILE *f, const char *path, const mt_fleet_rank *r, size_t n, int json);
#endif
