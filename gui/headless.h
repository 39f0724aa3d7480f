/* What memtrace-view does without a display: --screenshot (the chart
 * rendered into a cairo image surface, written as PNG) and --bench (a
 * scripted zoom/pan sequence, frame-time percentiles).  Neither calls
 * gtk_init(); both use the same session and drawing code as the window. */
#ifndef MT_GUI_HEADLESS_H
#define MT_GUI_HEADLESS_H

#include <stdint.h>
#include "gui/session.h"
#include "gui/chart.h"

typedef struct MtViewOptions {
  char *path, *compare, *what_if;
  uint64_t budget;
  int rank;                 /* rank number; -1: the rank with the job's peak */
  int width, height;
  int64_t r0, r1;           /* --range; r1 <= r0: whole run */
  int dark, all_ranks, zoom_peak;
  int64_t select;           /* --select T, or MT_NONE */
  unsigned hidden;          /* --hide categories */
  char *screenshot, *layout, *script;
  int bench;
  int preview;              /* --preview: the memory-only first pass only */
  int cached;               /* --cached: the timeline cache only (and the lanes) */
  int no_cache;             /* --no-cache: neither read nor write the timeline cache */
  size_t samples;
  int64_t list_live;        /* --list-live T, or MT_NONE */
} MtViewOptions;

/* Picks the rank index for opts->rank in a loaded analysis. */
size_t mt_options_rank_index(const MtViewOptions *opts, const mt_analysis *a);

/* Writes the chart geometry as key=value lines (for tests).  Returns 0/-1. */
int mt_layout_write(const char *path, const MtLayout *l, const MtView *v, const MtChartData *d,
                    double offset_x, double offset_y);

/* Exit status 0 on success, 1 on failure (message on stderr). */
int mt_headless_screenshot(const MtViewOptions *opts);
int mt_headless_bench(const MtViewOptions *opts);
/* Prints the live table at opts->list_live (what the window lists there). */
int mt_headless_list_live(const MtViewOptions *opts);

#endif
