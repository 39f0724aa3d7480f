/* The chart: everything the timeline draws, as plain cairo + pango code so
 * that the window, the headless --screenshot path and --bench all run the
 * same drawing.  The chain of models ends here:
 *
 *   MtSession (analysis, lanes) -> MtChartData (one rank, what to overlay)
 *     -> MtView (visible time range, hidden categories, selection)
 *       -> MtLayout (pixel geometry) -> layers drawn in order: grid, stacked
 *          categories, reserved line, budget, overlay, peak marker, ruler,
 *          lanes, selection.
 *
 * Nothing here blocks: the curve comes from the analysis's sampled timeline
 * (per pixel column, the sample with the largest allocated bytes is drawn,
 * and the max between samples is outlined), the lanes from their
 * level-of-detail summaries.  Not thread-safe; call from one thread. */
#ifndef MT_GUI_CHART_H
#define MT_GUI_CHART_H

#include <stdint.h>
#include <cairo.h>
#include "analyzer/lib/analysis.h"
#include "gui/lanes.h"

#define MT_NONE INT64_MIN

/* A sampled curve drawn over the chart: sample i is the value at
 * t0 + i*dt; vmax (or NULL) the maxima over (t_{i-1}, t_i], 0 where
 * nothing changed.  n = 0: none. */
typedef struct MtCurve {
  size_t n;
  int64_t t0, dt;
  const uint64_t *v, *vmax;
} MtCurve;

typedef struct MtChartData {
  const mt_analysis *analysis;
  size_t rank;                 /* index into analysis->ranks */
  const MtLanes *lanes;        /* NULL while loading */
  int lanes_loading;
  const mt_analysis *compare;  /* a second run on the same axis, or NULL */
  uint64_t budget;             /* 0: none */
  uint64_t what_if_peak;       /* predicted peak allocated under a replay plan; 0: none */
  const char *what_if_label;   /* the plan, "--checkpoint all" */
  MtCurve what_if_allocated, what_if_reserved;   /* the replay's predicted curves (n = 0: only the peak) */
  const char *error;           /* the trace could not be read: drawn instead of the chart */
} MtChartData;

enum { MT_MODE_TIMELINE = 0, MT_MODE_RANKS = 1 };

typedef struct MtView {
  int64_t t0, t1;              /* visible range, ns */
  unsigned hidden;             /* bit (1u << category): not drawn */
  int64_t cursor;              /* selected instant, or MT_NONE */
  int64_t sel0, sel1;          /* selected range, or MT_NONE */
  int64_t hl0, hl1;            /* highlighted lifetime, or MT_NONE */
  int dark;
  int mode;
  int title;                   /* draw the title line (headless output) */
  double hover_x, hover_y;     /* < 0: no pointer */
} MtView;

typedef struct MtRect {
  double x, y, w, h;
} MtRect;

typedef struct MtLayout {
  int width, height;
  MtRect title, legend, marks, plot, ruler, lanes;
  double lane_h;
  size_t nlanes;               /* lanes that fit */
  double ymax;                 /* bytes at the top of the plot */
  double font_px;              /* pixel size of the chart's text */
  MtRect legend_item[MT_CAT_COUNT];
} MtLayout;

/* The stacking order, bottom to top (cache_free last, up to reserved). */
extern const int mt_chart_stack_order[MT_CAT_COUNT];

const mt_rank *mt_chart_rank(const MtChartData *d);

void mt_view_init(MtView *v, const MtChartData *d);
/* The whole run of the rank. */
void mt_view_full_range(const MtChartData *d, int64_t *t0, int64_t *t1);
void mt_view_set_range(MtView *v, const MtChartData *d, int64_t t0, int64_t t1);
/* factor > 1 zooms in, keeping `anchor` (ns) at the same pixel. */
void mt_view_zoom(MtView *v, const MtChartData *d, double factor, int64_t anchor);
void mt_view_pan(MtView *v, const MtChartData *d, int64_t dt);
/* A window of 1/20 of the run centred on the allocated peak; cursor there. */
void mt_view_go_to_peak(MtView *v, const MtChartData *d);

/* The highest allocated bytes the exact curve draws in the view (the
 * maximum over its pixel columns), 0 before the lanes carry the curve. */
uint64_t mt_chart_drawn_max(const MtChartData *d, const MtView *v, const MtLayout *l);
/* The highest top of the stacked categories (cache_free left out) drawn in
 * the view: the exact series' maximum when the lanes carry it. */
uint64_t mt_chart_stack_max(const MtChartData *d, const MtView *v, const MtLayout *l);
/* The stacked values (per category, cache_free included) drawn in the
 * pixel column holding t, and that column's x (may be NULL); 0 when t is
 * not drawn. */
int mt_chart_stack_at(const MtChartData *d, const MtView *v, const MtLayout *l, int64_t t, uint64_t out[MT_CAT_COUNT],
                      double *xcol);
/* The --compare run's allocated bytes drawn in the pixel column holding t
 * (aligned by step), 0 without one or outside the view. */
uint64_t mt_chart_compare_at(const MtChartData *d, const MtView *v, const MtLayout *l, int64_t t);

void mt_chart_layout(const MtChartData *d, const MtView *v, int width, int height, MtLayout *l);
/* Draws at (0,0)..(width,height) of cr; fills *l (may be NULL). */
void mt_chart_draw(cairo_t *cr, const MtChartData *d, const MtView *v, int width, int height, MtLayout *l);

double mt_chart_x(const MtView *v, const MtLayout *l, int64_t t);
int64_t mt_chart_t(const MtView *v, const MtLayout *l, double x);
double mt_chart_y(const MtLayout *l, double bytes);

typedef enum {
  MT_HIT_NONE = 0,
  MT_HIT_CATEGORY,             /* a band of the stack (or cache_free) */
  MT_HIT_ABOVE,                /* in the plot, above reserved */
  MT_HIT_SPAN,                 /* a kernel, NCCL call or range */
  MT_HIT_LEGEND,               /* a legend entry: category */
  MT_HIT_LANES,                /* in the lanes, on nothing */
  MT_HIT_RULER,
} MtHitKind;

typedef struct MtHit {
  MtHitKind kind;
  int64_t t;
  int category;
  size_t sample;
  const MtLane *lane;
  const MtSpan *span;
  /* MT_HIT_CATEGORY / ABOVE: the stack drawn in that column, and the
   * instant it shows (exact series; -1: the timeline's sample) */
  uint64_t stack[MT_CAT_COUNT];
  int64_t exact_t;
  uint64_t reserved;
} MtHit;

void mt_chart_hit(const MtChartData *d, const MtView *v, const MtLayout *l, double x, double y, MtHit *hit);
/* A short text for a tooltip / details pane.  Newly allocated. */
char *mt_chart_describe(const MtChartData *d, const MtView *v, const MtHit *hit);
/* Statistics of [t0, t1]: allocated min/max, per-category change, busy
 * time per lane.  Newly allocated. */
char *mt_chart_range_stats(const MtChartData *d, int64_t t0, int64_t t1);

/* Renders into a new ARGB image surface (headless). */
cairo_surface_t *mt_chart_render(const MtChartData *d, const MtView *v, int width, int height, MtLayout *l);

#endif
