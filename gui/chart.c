#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pango/pangocairo.h>
#include "gui/chart.h"
#include "analyzer/lib/mrseries.h"
#include "gui/palette.h"
#include "gui/units.h"

#define MARGIN_L 118.0
#define MARGIN_R 14.0
#define LANE_H 17.0
#define FONT "Sans 9"
#define FONT_BOLD "Sans Bold 10"
#define MIN_SPAN_NS 100

const int mt_chart_stack_order[MT_CAT_COUNT] = {
  MT_CAT_PARAMETER, MT_CAT_OPTIMIZER_STATE, MT_CAT_GRADIENT, MT_CAT_INPUT, MT_CAT_COMMUNICATION,
  MT_CAT_WORKSPACE, MT_CAT_OTHER, MT_CAT_TEMPORARY, MT_CAT_ACTIVATION, MT_CAT_CACHE_FREE,
};

const mt_rank *mt_chart_rank(const MtChartData *d)
{
  if (!d->analysis || d->rank >= d->analysis->nranks)
    return NULL;
  return &d->analysis->ranks[d->rank];
}

static const mt_rank *compare_rank(const MtChartData *d)
{
  const mt_rank *r = mt_chart_rank(d);
  if (!d->compare || !d->compare->nranks || !r)
    return NULL;
  for (size_t i = 0; i < d->compare->nranks; i++)
    if (d->compare->ranks[i].rank == r->rank)
      return &d->compare->ranks[i];
  return &d->compare->ranks[0];
}

/* ---- view ------------------------------------------------------------- */

void mt_view_full_range(const MtChartData *d, int64_t *t0, int64_t *t1)
{
  const mt_rank *r = mt_chart_rank(d);
  int64_t a = r ? r->first_ts : 0, b = r ? r->last_ts : 1;
  if (r && r->timeline.n) {
    int64_t te = r->timeline.t0 + (int64_t)(r->timeline.n - 1) * r->timeline.dt;
    if (r->timeline.t0 < a)
      a = r->timeline.t0;
    if (te > b)
      b = te;
  }
  /* the state after the last event lasts until the process closed its
     trace (known before the lanes are, so the preview has the same end) */
  if (r && r->end_ns > b)
    b = r->end_ns;
  const mt_rank *c = compare_rank(d);
  if (c) {
    if (c->first_ts < a)
      a = c->first_ts;
    if (c->last_ts > b)
      b = c->last_ts;
  }
  const MtCurve *w = &d->what_if_allocated;
  if (w->n) {   /* a plan may make the step longer (recompute) */
    if (w->t0 < a)
      a = w->t0;
    if (w->t0 + (int64_t)(w->n - 1) * w->dt > b)
      b = w->t0 + (int64_t)(w->n - 1) * w->dt;
  }
  if (d->lanes) {
    if (d->lanes->t_first < a)
      a = d->lanes->t_first;
    if (d->lanes->t_last > b)
      b = d->lanes->t_last;
  }
  if (b <= a)
    b = a + 1000;
  *t0 = a;
  *t1 = b;
}

void mt_view_init(MtView *v, const MtChartData *d)
{
  memset(v, 0, sizeof *v);
  mt_view_full_range(d, &v->t0, &v->t1);
  v->cursor = v->sel0 = v->sel1 = v->hl0 = v->hl1 = MT_NONE;
  v->hover_x = v->hover_y = -1;
}

void mt_view_set_range(MtView *v, const MtChartData *d, int64_t t0, int64_t t1)
{
  int64_t a, b;
  mt_view_full_range(d, &a, &b);
  int64_t full = b - a, slack = full / 20;
  if (t1 - t0 < MIN_SPAN_NS) {
    int64_t c = t0 / 2 + t1 / 2;
    t0 = c - MIN_SPAN_NS / 2;
    t1 = t0 + MIN_SPAN_NS;
  }
  if (t1 - t0 > full + 2 * slack) {
    t0 = a - slack;
    t1 = b + slack;
  }
  if (t0 < a - slack) {
    t1 += a - slack - t0;
    t0 = a - slack;
  }
  if (t1 > b + slack) {
    t0 -= t1 - (b + slack);
    t1 = b + slack;
  }
  v->t0 = t0;
  v->t1 = t1;
}

void mt_view_zoom(MtView *v, const MtChartData *d, double factor, int64_t anchor)
{
  if (factor <= 0)
    return;
  double a = (double)(anchor - v->t0), b = (double)(v->t1 - anchor);
  mt_view_set_range(v, d, anchor - (int64_t)(a / factor), anchor + (int64_t)(b / factor));
}

void mt_view_pan(MtView *v, const MtChartData *d, int64_t dt)
{
  mt_view_set_range(v, d, v->t0 + dt, v->t1 + dt);
}

void mt_view_go_to_peak(MtView *v, const MtChartData *d)
{
  const mt_rank *r = mt_chart_rank(d);
  if (!r)
    return;
  int64_t a, b;
  mt_view_full_range(d, &a, &b);
  int64_t w = (b - a) / 20;
  /* centred on the peak and inside the run: narrower when the peak is
   * near either end (the first of many equal step peaks is near the start) */
  int64_t room = r->peak_allocated_ts - a < b - r->peak_allocated_ts ? r->peak_allocated_ts - a : b - r->peak_allocated_ts;
  if (room > 0 && w > 2 * room)
    w = 2 * room;
  if (w < MIN_SPAN_NS)
    w = MIN_SPAN_NS;
  mt_view_set_range(v, d, r->peak_allocated_ts - w / 2, r->peak_allocated_ts + w / 2);
  v->cursor = r->peak_allocated_ts;
}

/* ---- geometry --------------------------------------------------------- */

double mt_chart_x(const MtView *v, const MtLayout *l, int64_t t)
{
  return l->plot.x + (double)(t - v->t0) * l->plot.w / (double)(v->t1 - v->t0);
}

int64_t mt_chart_t(const MtView *v, const MtLayout *l, double x)
{
  return v->t0 + (int64_t)llround((x - l->plot.x) * (double)(v->t1 - v->t0) / l->plot.w);
}

double mt_chart_y(const MtLayout *l, double bytes)
{
  return l->plot.y + l->plot.h - bytes / l->ymax * l->plot.h;
}

static double nice_bytes(double max)
{
  /* the top of the axis: 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 2^(10k) */
  static const double m[] = { 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 };
  double unit = 1;
  while (max / unit >= 1024)
    unit *= 1024;
  double x = max / unit;
  double p = 1;
  while (x > 10 * p)
    p *= 10;
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    if (m[i] * p >= x)
      return m[i] * p * unit;
  return 10 * p * unit;
}

void mt_chart_layout(const MtChartData *d, const MtView *v, int width, int height, MtLayout *l)
{
  memset(l, 0, sizeof *l);
  l->width = width;
  l->height = height;
  l->font_px = 12;   /* 9 pt at pango-cairo's 96 dpi */
  double y = 4;
  double th = v->title ? 22 : 0;
  l->title = (MtRect){ 8, y, width - 16, th };
  y += th;
  l->legend = (MtRect){ MARGIN_L, y, width - MARGIN_L - MARGIN_R, 20 };
  y += 20;
  l->marks = (MtRect){ MARGIN_L, y, width - MARGIN_L - MARGIN_R, 16 };
  y += 16;
  double ruler_h = 20;
  double avail = height - y - ruler_h - 6;
  size_t want = d->lanes ? d->lanes->nlanes : (d->lanes_loading ? 1 : 0);
  double lanes_h = want * LANE_H;
  if (v->mode == MT_MODE_RANKS)
    lanes_h = 0;
  if (lanes_h > avail * 0.45)
    lanes_h = floor(avail * 0.45 / LANE_H) * LANE_H;
  double plot_h = avail - lanes_h;
  if (plot_h < 40)
    plot_h = 40;
  l->plot = (MtRect){ MARGIN_L, y, width - MARGIN_L - MARGIN_R, plot_h };
  y += plot_h;
  l->ruler = (MtRect){ MARGIN_L, y, width - MARGIN_L - MARGIN_R, ruler_h };
  y += ruler_h;
  l->lanes = (MtRect){ MARGIN_L, y, width - MARGIN_L - MARGIN_R, lanes_h };
  l->lane_h = LANE_H;
  l->nlanes = (size_t)(lanes_h / LANE_H);
  if (d->lanes && l->nlanes > d->lanes->nlanes)
    l->nlanes = d->lanes->nlanes;

  double ymax = 1;
  const mt_rank *r = mt_chart_rank(d);
  if (v->mode == MT_MODE_RANKS && d->analysis) {
    for (size_t i = 0; i < d->analysis->nranks; i++) {
      const mt_rank *ri = &d->analysis->ranks[i];
      ymax = fmax(ymax, fmax((double)ri->peak_reserved, (double)ri->peak_allocated));
    }
  } else if (r) {
    ymax = fmax((double)r->peak_reserved, (double)r->peak_allocated);
    for (size_t i = 0; i < r->timeline.n; i++)
      ymax = fmax(ymax, (double)r->timeline.reserved_max[i]);
  }
  const mt_rank *c = compare_rank(d);
  if (c && v->mode == MT_MODE_TIMELINE)
    ymax = fmax(ymax, (double)c->peak_allocated);
  if (d->budget)
    ymax = fmax(ymax, (double)d->budget);
  if (d->what_if_peak && v->mode == MT_MODE_TIMELINE)
    ymax = fmax(ymax, (double)d->what_if_peak);
  const MtCurve *wr = &d->what_if_reserved;
  for (size_t i = 0; v->mode == MT_MODE_TIMELINE && i < wr->n; i++)
    ymax = fmax(ymax, (double)(wr->vmax && wr->vmax[i] > wr->v[i] ? wr->vmax[i] : wr->v[i]));
  l->ymax = nice_bytes(ymax * 1.05);
}

/* ---- text --------------------------------------------------------------- */

typedef struct Painter {
  cairo_t *cr;
  PangoLayout *layout;
  PangoFontDescription *font, *bold;
  MtTheme th;
} Painter;

static void set_rgb(cairo_t *cr, MtRgb c, double a)
{
  cairo_set_source_rgba(cr, c.r, c.g, c.b, a);
}

/* Draws text with its top-left at (x, y) (align 0), centred (0.5) or right
 * aligned (1) on x, clipped to max_w when > 0.  Returns the width. */
static double text(Painter *p, const char *s, double x, double y, double align, double max_w, int bold)
{
  pango_layout_set_font_description(p->layout, bold ? p->bold : p->font);
  pango_layout_set_text(p->layout, s, -1);
  pango_layout_set_width(p->layout, max_w > 0 ? (int)(max_w * PANGO_SCALE) : -1);
  pango_layout_set_ellipsize(p->layout, max_w > 0 ? PANGO_ELLIPSIZE_END : PANGO_ELLIPSIZE_NONE);
  int w, h;
  pango_layout_get_pixel_size(p->layout, &w, &h);
  cairo_move_to(p->cr, x - align * w, y);
  pango_cairo_show_layout(p->cr, p->layout);
  return w;
}

static double text_width(Painter *p, const char *s)
{
  pango_layout_set_font_description(p->layout, p->font);
  pango_layout_set_width(p->layout, -1);
  pango_layout_set_text(p->layout, s, -1);
  int w, h;
  pango_layout_get_pixel_size(p->layout, &w, &h);
  return w;
}

/* ---- cells: what each drawn column of the curve shows ----------------- */

typedef struct Cell {
  double xa, xb;
  size_t i;          /* sample drawn */
  uint64_t env;      /* max allocated inside the cell */
  uint64_t resv;     /* max reserved inside the cell */
  int64_t tx;        /* the instant drawn (exact series), or -1 (the sample) */
} Cell;

static Cell *cells_buf;
static size_t cells_cap;

static const mt_mrseries *exact_of(const MtChartData *d);

static int64_t sample_t(const mt_timeline *tl, size_t i)
{
  return tl->t0 + (int64_t)i * tl->dt;
}

/* Fills cells for the visible range; returns their number.  per_column:
 * one cell per pixel column at every zoom (the exact series is there to
 * fill each), else per sample when samples are wider than a pixel. */
static size_t make_cells(const mt_rank *r, const MtView *v, const MtLayout *l, int64_t t_end, int per_column)
{
  const mt_timeline *tl = &r->timeline;
  if (!tl->n || tl->dt <= 0)
    return 0;
  /* the state after the last sample holds until the end of the run */
  double px_per_sample = (double)tl->dt * l->plot.w / (double)(v->t1 - v->t0);
  int64_t ia = (v->t0 - tl->t0) / tl->dt - 1, ib = (v->t1 - tl->t0) / tl->dt + 1;
  if (ia < 0)
    ia = 0;
  if (ib > (int64_t)tl->n - 1)
    ib = (int64_t)tl->n - 1;
  if (ib < ia)
    return 0;
  if (per_column)
    px_per_sample = 0;
  size_t need = px_per_sample >= 1 ? (size_t)(ib - ia + 1) : (size_t)l->plot.w + 2;
  if (need > cells_cap) {
    cells_cap = need * 2;
    cells_buf = realloc(cells_buf, cells_cap * sizeof *cells_buf);
  }
  size_t n = 0;
  double xl = l->plot.x, xr = l->plot.x + l->plot.w;
  if (px_per_sample >= 1) {
    for (int64_t i = ia; i <= ib; i++) {
      Cell *c = &cells_buf[n];
      c->xa = mt_chart_x(v, l, sample_t(tl, (size_t)i));
      c->xb = i + 1 < (int64_t)tl->n ? mt_chart_x(v, l, sample_t(tl, (size_t)i + 1)) : mt_chart_x(v, l, t_end);
      if (c->xb <= xl || c->xa >= xr)
        continue;
      c->xa = fmax(c->xa, xl);
      c->xb = fmin(c->xb, xr);
      c->i = (size_t)i;
      /* allocated_max[i+1] is the max over (t_i, t_i+1]: it says something
       * the samples do not only when it exceeds both ends */
      c->env = tl->allocated[i];
      if (i + 1 < (int64_t)tl->n && tl->allocated_max[i + 1] > tl->allocated[i] &&
          tl->allocated_max[i + 1] > tl->allocated[i + 1])
        c->env = tl->allocated_max[i + 1];
      c->resv = tl->reserved[i];
      n++;
    }
    return n;
  }
  /* several samples per pixel column: keep the one with most allocated */
  int cols = (int)ceil(l->plot.w);
  double ns_per_px = (double)(v->t1 - v->t0) / l->plot.w;
  int64_t last_t = t_end > sample_t(tl, tl->n - 1) ? t_end : sample_t(tl, tl->n - 1);
  for (int x = 0; x < cols; x++) {
    int64_t ta = v->t0 + (int64_t)(x * ns_per_px), tb = v->t0 + (int64_t)((x + 1) * ns_per_px);
    if (tb <= tl->t0 || ta > last_t)
      continue;
    int64_t ja = (ta - tl->t0 + tl->dt - 1) / tl->dt, jb = (tb - tl->t0 - 1) / tl->dt;
    if (ja < 0)
      ja = 0;
    if (jb > (int64_t)tl->n - 1)
      jb = (int64_t)tl->n - 1;
    if (jb < ja)
      jb = ja = (ta - tl->t0) / tl->dt;
    if (ja > (int64_t)tl->n - 1)
      ja = jb = (int64_t)tl->n - 1;
    Cell *c = &cells_buf[n++];
    c->xa = l->plot.x + x;
    c->xb = fmin(c->xa + 1, xr);
    c->i = (size_t)ja;
    c->env = 0;
    c->resv = 0;
    for (int64_t j = ja; j <= jb; j++) {
      if (tl->allocated[j] > tl->allocated[c->i])
        c->i = (size_t)j;
      if (tl->allocated_max[j] > c->env)
        c->env = tl->allocated_max[j];
      if (tl->allocated[j] > c->env)
        c->env = tl->allocated[j];
      if (tl->reserved_max[j] > c->resv)
        c->resv = tl->reserved_max[j];
      if (tl->reserved[j] > c->resv)
        c->resv = tl->reserved[j];
    }
  }
  return n;
}

/* Rectangles of one colour, filled with one cairo_fill: per-rectangle
 * fills cost more than the pixels when thousands of spans are visible. */
typedef struct Batch {
  double *r;
  size_t n, cap;
} Batch;

static void batch_add(Batch *b, double x, double y, double w, double h)
{
  if (b->n + 4 > b->cap) {
    b->cap = b->cap ? 2 * b->cap : 1024;
    b->r = realloc(b->r, b->cap * sizeof *b->r);
  }
  b->r[b->n++] = x;
  b->r[b->n++] = y;
  b->r[b->n++] = w;
  b->r[b->n++] = h;
}

static void batch_fill(cairo_t *cr, Batch *b, MtRgb c, double alpha)
{
  if (!b->n)
    return;
  cairo_new_path(cr);
  for (size_t i = 0; i < b->n; i += 4)
    cairo_rectangle(cr, b->r[i], b->r[i + 1], b->r[i + 2], b->r[i + 3]);
  set_rgb(cr, c, alpha);
  cairo_fill(cr);
  b->n = 0;
}

/* A step line through cell values as boxes (horizontal runs joined by
 * vertical ones): far cheaper for cairo than stroking a long polyline. */
static void step_boxes(Batch *b, const MtLayout *l, size_t n, const uint64_t *vals, double width)
{
  double prev = -1;
  for (size_t k = 0; k < n; k++) {
    double y = floor(mt_chart_y(l, (double)vals[k]) + 0.5);
    double xa = floor(cells_buf[k].xa + 0.5), xb = floor(cells_buf[k].xb + 0.5);
    if (xb <= xa)
      xb = xa + 1;
    if (prev >= 0 && prev != y) {
      double y0 = fmin(prev, y), y1 = fmax(prev, y);
      batch_add(b, xa, y0, width, y1 - y0 + width);
    }
    batch_add(b, xa, y - width / 2, xb - xa, width);
    prev = y;
  }
}

/* ---- layers --------------------------------------------------------------- */

static void draw_grid_and_axis(Painter *p, const MtView *v, const MtLayout *l, int with_time)
{
  cairo_t *cr = p->cr;
  /* bytes axis: about five lines */
  double step = l->ymax / 4;
  char buf[64];
  cairo_set_line_width(cr, 1);
  for (int k = 0; k <= 4; k++) {
    double y = floor(mt_chart_y(l, k * step)) + 0.5;
    set_rgb(cr, p->th.grid, 1);
    cairo_move_to(cr, l->plot.x, y);
    cairo_line_to(cr, l->plot.x + l->plot.w, y);
    cairo_stroke(cr);
    set_rgb(cr, p->th.axis_text, 1);
    text(p, mt_size_str((uint64_t)(k * step), buf, sizeof buf), l->plot.x - 6, y - 8, 1, 0, 0);
  }
  if (!with_time)
    return;
  /* time ruler */
  double span = (double)(v->t1 - v->t0);
  double target = span / fmax(1, l->plot.w / 110);
  double mag = pow(10, floor(log10(target)));
  double tick = mag;
  if (tick < target)
    tick = 2 * mag;
  if (tick < target)
    tick = 5 * mag;
  if (tick < target)
    tick = 10 * mag;
  int64_t it = (int64_t)tick;
  if (it < 1)
    it = 1;
  int64_t first = (v->t0 / it) * it;
  if (first < v->t0)
    first += it;
  for (int64_t t = first; t <= v->t1; t += it) {
    double x = floor(mt_chart_x(v, l, t)) + 0.5;
    set_rgb(cr, p->th.grid, 1);
    cairo_move_to(cr, x, l->plot.y);
    cairo_line_to(cr, x, l->ruler.y + 4);
    cairo_stroke(cr);
    set_rgb(cr, p->th.axis_text, 1);
    text(p, mt_time_str(t, it * 10, buf, sizeof buf), x, l->ruler.y + 3, 0.5, 0, 0);
  }
}

/* The stacked values of each cell, per category (cells_buf's n cells; out
 * n * MT_CAT_COUNT, cache_free included).  With the exact series: the
 * categories at the instant of the column's highest allocated bytes (so the
 * stack's top is the true maximum at every zoom, and its split is one real
 * state), cache_free up to the column's highest reserved bytes (the cell's
 * reserved, set here from the series); otherwise the sample the cell
 * shows.  Returns 1 when exact. */
/* The time [*ta, *tb) of pixel column col (from the plot's left), as the
 * exact curve and stack use it. */
static void column_time(const MtView *v, const MtLayout *l, double col, int64_t *ta, int64_t *tb)
{
  double ns_per_px = (double)(v->t1 - v->t0) / l->plot.w;
  *ta = v->t0 + (int64_t)floor(col * ns_per_px);
  *tb = v->t0 + (int64_t)floor((col + 1) * ns_per_px);
  if (*tb <= *ta)
    *tb = *ta + 1;
}

static int cell_values(const MtChartData *d, const MtView *v, const MtLayout *l, size_t n, uint64_t *out)
{
  const mt_rank *r = mt_chart_rank(d);
  const mt_timeline *tl = &r->timeline;
  const mt_mrseries *x = exact_of(d);
  for (size_t k = 0; k < n; k++) {
    uint64_t *o = out + k * MT_CAT_COUNT;
    cells_buf[k].tx = -1;
    if (!x) {
      for (int c = 0; c < MT_CAT_COUNT; c++)
        o[c] = tl->by_category[c] ? tl->by_category[c][cells_buf[k].i] : 0;
      if (r->memory_only)
        o[MT_CAT_OTHER] = tl->allocated[cells_buf[k].i];
      continue;
    }
    int64_t ta, tb;
    column_time(v, l, floor(cells_buf[k].xa - l->plot.x + 0.5), &ta, &tb);
    uint64_t mn, mx;
    int64_t tm;
    mt_mrseries_extent(x, ta, tb, &mn, &mx, &tm);
    mt_mrseries_at_by_category(x, tm, o);
    cells_buf[k].tx = tm;
    if (mt_mrseries_has_reserved(x)) {   /* the reserved line exact too */
      uint64_t rmn, rmx;
      mt_mrseries_reserved_extent(x, ta, tb, &rmn, &rmx);
      cells_buf[k].resv = rmx;
    }
    if (r->memory_only)
      o[MT_CAT_OTHER] = mx;
    o[MT_CAT_CACHE_FREE] = cells_buf[k].resv > mx ? cells_buf[k].resv - mx : 0;
  }
  return x != NULL;
}

static uint64_t *cellv_buf;
static size_t cellv_cap;

static uint64_t *cell_values_buf(size_t n)
{
  if (n * MT_CAT_COUNT > cellv_cap) {
    cellv_cap = n * MT_CAT_COUNT * 2;
    cellv_buf = realloc(cellv_buf, cellv_cap * sizeof *cellv_buf);
  }
  return cellv_buf;
}

uint64_t mt_chart_stack_max(const MtChartData *d, const MtView *v, const MtLayout *l)
{
  const mt_rank *r = mt_chart_rank(d);
  if (!r || v->t1 <= v->t0)
    return 0;
  int64_t fa, fb;
  mt_view_full_range(d, &fa, &fb);
  size_t n = make_cells(r, v, l, fb, exact_of(d) != NULL);
  uint64_t *cv = cell_values_buf(n), m = 0;
  cell_values(d, v, l, n, cv);
  for (size_t k = 0; k < n; k++) {
    uint64_t sum = 0;
    for (int c = 0; c < MT_CAT_COUNT; c++)
      if (c != MT_CAT_CACHE_FREE && (!r->memory_only || c == MT_CAT_OTHER))
        sum += cv[k * MT_CAT_COUNT + c];
    if (sum > m)
      m = sum;
  }
  return m;
}

/* The stacked values of the cell drawn at pixel x (and its cell); 0 when
 * none is. */
static int stack_at_x(const MtChartData *d, const MtView *v, const MtLayout *l, double x, uint64_t out[MT_CAT_COUNT],
                      Cell *cell)
{
  const mt_rank *r = mt_chart_rank(d);
  if (!r || v->t1 <= v->t0)
    return 0;
  int64_t fa, fb;
  mt_view_full_range(d, &fa, &fb);
  size_t n = make_cells(r, v, l, fb, exact_of(d) != NULL);
  uint64_t *cv = cell_values_buf(n);
  cell_values(d, v, l, n, cv);
  for (size_t k = 0; k < n; k++)
    if (x >= cells_buf[k].xa && x < cells_buf[k].xb + (cells_buf[k].xb - cells_buf[k].xa < 1 ? 1 : 0)) {
      memcpy(out, cv + k * MT_CAT_COUNT, MT_CAT_COUNT * sizeof *out);
      if (cell)
        *cell = cells_buf[k];
      return 1;
    }
  return 0;
}

int mt_chart_stack_at(const MtChartData *d, const MtView *v, const MtLayout *l, int64_t t, uint64_t out[MT_CAT_COUNT],
                      double *xcol)
{
  if (t < v->t0 || t >= v->t1)
    return 0;
  double x = mt_chart_x(v, l, t);
  if (exact_of(d)) {   /* the column whose time holds t (x may round to its neighbour) */
    double col = floor(x - l->plot.x);
    int64_t ta, tb;
    for (int k = 0; k < 3; k++) {
      column_time(v, l, col, &ta, &tb);
      if (t < ta)
        col--;
      else if (t >= tb)
        col++;
      else
        break;
    }
    x = l->plot.x + col + 0.5;
  }
  if (xcol)
    *xcol = x;
  return stack_at_x(d, v, l, x, out, NULL);
}

static void draw_stack(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l, size_t n)
{
  const mt_rank *r = mt_chart_rank(d);
  const mt_timeline *tl = &r->timeline;
  cairo_t *cr = p->cr;
  uint64_t *cv = cell_values_buf(n);
  int exact = cell_values(d, v, l, n, cv);
  static double *base;
  static size_t base_cap;
  if (n > base_cap) {
    base_cap = n * 2;
    base = realloc(base, base_cap * sizeof *base);
  }
  for (size_t k = 0; k < n; k++)
    base[k] = 0;
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  /* the layers, bottom to top: the categories; in a memory-only preview
     (categories still being decided) all allocated bytes in one colour */
  int layer_cat[MT_CAT_COUNT];
  MtRgb layer_rgb[MT_CAT_COUNT];
  int nlayers = 0;
  for (int s = 0; s < MT_CAT_COUNT; s++) {
    int cat = mt_chart_stack_order[s];
    if (r->memory_only && cat != MT_CAT_CACHE_FREE) {
      if (s == 0) {
        layer_cat[nlayers] = MT_CAT_OTHER;   /* cell_values put all allocated bytes there */
        layer_rgb[nlayers++] = mt_palette_pending();
      }
      continue;
    }
    if (v->hidden & (1u << cat) || (!exact && !tl->by_category[cat]))
      continue;
    layer_cat[nlayers] = cat;
    layer_rgb[nlayers++] = mt_palette_category(cat);
  }
#define VAL(k) cv[(k) * MT_CAT_COUNT + layer_cat[s]]
  for (int s = 0; s < nlayers; s++) {
    int any = 0;
    for (size_t k = 0; k < n && !any; k++)
      any = VAL(k) > 0;
    if (!any)
      continue;
    /* pixel-aligned boxes, equal neighbours merged: cairo fills boxes
     * without tessellating, which keeps a frame in a few milliseconds */
    cairo_new_path(cr);
    double rx0 = 0, rx1 = -1, ry0 = 0, ry1 = 0;
    for (size_t k = 0; k < n; k++) {
      double yb = floor(mt_chart_y(l, base[k]) + 0.5);
      base[k] += (double)VAL(k);
      double yt = floor(mt_chart_y(l, base[k]) + 0.5);
      double xa = floor(cells_buf[k].xa + 0.5), xb = floor(cells_buf[k].xb + 0.5);
      if (xb <= xa)
        xb = xa + 1;
      if (rx1 >= xa && ry0 == yt && ry1 == yb) {
        if (xb > rx1)
          rx1 = xb;
        continue;
      }
      if (rx1 > rx0 && ry1 > ry0)
        cairo_rectangle(cr, rx0, ry0, rx1 - rx0, ry1 - ry0);
      rx0 = xa;
      rx1 = xb;
      ry0 = yt;
      ry1 = yb;
    }
    if (rx1 > rx0 && ry1 > ry0)
      cairo_rectangle(cr, rx0, ry0, rx1 - rx0, ry1 - ry0);
    set_rgb(cr, layer_rgb[s], 1);
    cairo_fill(cr);
  }
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);

  /* allocated between samples: outline the max where it rises above the
   * drawn sample by a pixel or more */
  static Batch lines;
  static uint64_t *vals;
  static size_t vals_cap;
  if (n > vals_cap) {
    vals_cap = n * 2;
    vals = realloc(vals, vals_cap * sizeof *vals);
  }
#undef VAL
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  if (!exact && !(v->hidden & ~(1u << MT_CAT_CACHE_FREE))) {
    for (size_t k = 0; k < n; k++) {
      double ytop = mt_chart_y(l, (double)tl->allocated[cells_buf[k].i]);
      double yenv = mt_chart_y(l, (double)cells_buf[k].env);
      if (ytop - yenv >= 1)
        batch_add(&lines, floor(cells_buf[k].xa + 0.5), floor(yenv + 0.5),
                  fmax(1, floor(cells_buf[k].xb + 0.5) - floor(cells_buf[k].xa + 0.5)), 1);
    }
    batch_fill(cr, &lines, p->th.fg, 0.55);
  }
  /* reserved: a line */
  for (size_t k = 0; k < n; k++)
    vals[k] = cells_buf[k].resv;
  step_boxes(&lines, l, n, vals, 2);
  batch_fill(cr, &lines, p->th.reserved, 1);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
}

/* The highest value of a curve in [ta, tb): the samples inside and the
 * maxima between them, or the state at ta when no sample falls inside
 * (zoomed in past the samples).  FALSE outside the curve. */
static gboolean curve_max(const MtCurve *c, int64_t ta, int64_t tb, uint64_t *out)
{
  if (ta < c->t0)
    ta = c->t0;
  if (tb <= ta)
    return FALSE;
  int64_t i0 = (ta - c->t0 + c->dt - 1) / c->dt, i1 = (tb - 1 - c->t0) / c->dt;
  if (i0 >= (int64_t)c->n)
    return FALSE;
  if (i1 >= (int64_t)c->n)
    i1 = (int64_t)c->n - 1;
  uint64_t m = c->v[(ta - c->t0) / c->dt];
  for (int64_t i = i0; i <= i1; i++) {
    if (c->v[i] > m)
      m = c->v[i];
    if (c->vmax && i > 0 && c->vmax[i] > m)
      m = c->vmax[i];
  }
  *out = m;
  return TRUE;
}

/* A curve over the chart as a stroked step line: per pixel column its
 * highest value, so that narrow peaks stay visible zoomed out. */
/* A map from this run's time to another's (NULL: the same time). */
typedef struct TimeMap {
  size_t n;
  const int64_t *from, *to;   /* anchors, from increasing */
} TimeMap;

static int64_t map_time(const TimeMap *m, int64_t t)
{
  if (!m || !m->n)
    return t;
  if (t <= m->from[0])
    return t + (m->to[0] - m->from[0]);
  if (t >= m->from[m->n - 1])
    return t + (m->to[m->n - 1] - m->from[m->n - 1]);
  size_t lo = 0, hi = m->n - 1;   /* from[lo] <= t < from[hi] */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (m->from[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  double f = (double)(t - m->from[lo]) / (double)(m->from[hi] - m->from[lo]);
  return m->to[lo] + (int64_t)(f * (double)(m->to[hi] - m->to[lo]));
}

static void stroke_curve_mapped(Painter *p, const MtCurve *c, const MtView *v, const MtLayout *l, const double *dash,
                                int ndash, double width, const TimeMap *map);

static void stroke_curve(Painter *p, const MtCurve *c, const MtView *v, const MtLayout *l, const double *dash,
                         int ndash, double width)
{
  stroke_curve_mapped(p, c, v, l, dash, ndash, width, NULL);
}

static void stroke_curve_mapped(Painter *p, const MtCurve *c, const MtView *v, const MtLayout *l, const double *dash,
                                int ndash, double width, const TimeMap *map)
{
  if (!c->n || c->dt <= 0)
    return;
  cairo_t *cr = p->cr;
  cairo_set_dash(cr, dash, ndash, 0);
  cairo_set_line_width(cr, width);
  set_rgb(cr, p->th.overlay, 1);
  int cols = (int)l->plot.w;
  double prev = NAN;
  for (int x = 0; x < cols; x++) {
    uint64_t val;
    int64_t ta = map_time(map, mt_chart_t(v, l, l->plot.x + x)), tb = map_time(map, mt_chart_t(v, l, l->plot.x + x + 1));
    if (!curve_max(c, ta, tb > ta ? tb : ta + 1, &val)) {
      if (!isnan(prev))
        cairo_line_to(cr, l->plot.x + x, prev);
      prev = NAN;
      continue;
    }
    double y = floor(mt_chart_y(l, (double)val)) + 0.5;
    if (isnan(prev))
      cairo_move_to(cr, l->plot.x + x, y);
    else if (y != prev) {
      cairo_line_to(cr, l->plot.x + x, prev);
      cairo_line_to(cr, l->plot.x + x, y);
    }
    prev = y;
  }
  if (!isnan(prev))
    cairo_line_to(cr, l->plot.x + cols, prev);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
}

/* The exact allocated curve (analyzer/lib/mrseries.h), per pixel column:
 * its maximum over the column's time (*mn its minimum).  0 columns when
 * the lanes (which carry it) are not loaded. */
static const mt_mrseries *exact_of(const MtChartData *d)
{
  return d->lanes && d->lanes->exact && mt_mrseries_points(d->lanes->exact) ? d->lanes->exact : NULL;
}

static size_t exact_columns(const MtChartData *d, const MtView *v, const MtLayout *l, uint64_t **mx, uint64_t **mn)
{
  static uint64_t *bmx, *bmn;
  static size_t cap;
  const mt_mrseries *x = exact_of(d);
  int cols = (int)ceil(l->plot.w);
  if (!x || cols <= 0 || v->t1 <= v->t0)
    return 0;
  if ((size_t)cols > cap) {
    cap = (size_t)cols * 2;
    bmx = realloc(bmx, cap * sizeof *bmx);
    bmn = realloc(bmn, cap * sizeof *bmn);
  }
  double ns_per_px = (double)(v->t1 - v->t0) / l->plot.w;
  for (int c = 0; c < cols; c++) {
    int64_t ta = v->t0 + (int64_t)floor(c * ns_per_px), tb = v->t0 + (int64_t)floor((c + 1) * ns_per_px);
    if (tb <= ta)
      tb = ta + 1;
    mt_mrseries_extent(x, ta, tb, &bmn[c], &bmx[c], NULL);
  }
  *mx = bmx;
  if (mn)
    *mn = bmn;
  return (size_t)cols;
}

uint64_t mt_chart_drawn_max(const MtChartData *d, const MtView *v, const MtLayout *l)
{
  uint64_t *mx, m = 0;
  size_t n = exact_columns(d, v, l, &mx, NULL);
  for (size_t c = 0; c < n; c++)
    if (mx[c] > m)
      m = mx[c];
  return m;
}

/* The exact curve over the stacked (sampled) categories: per column a bar
 * from its minimum to its maximum, so the top edge is the true maximum at
 * any zoom, down to single allocations. */
static void draw_exact(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  uint64_t *mx, *mn;
  size_t n = exact_columns(d, v, l, &mx, &mn);
  if (!n || (v->hidden & ~(1u << MT_CAT_CACHE_FREE)))
    return;
  static Batch bars;
  cairo_set_antialias(p->cr, CAIRO_ANTIALIAS_NONE);
  double prev = -1;
  for (size_t c = 0; c < n; c++) {
    double yt = floor(mt_chart_y(l, (double)mx[c]) + 0.5), yb = floor(mt_chart_y(l, (double)mn[c]) + 0.5);
    double x = l->plot.x + (double)c;
    /* joined to the previous column so steps read as lines */
    double y0 = prev >= 0 ? fmin(yt, prev) : yt, y1 = prev >= 0 ? fmax(yb, prev) : yb;
    batch_add(&bars, x, y0 - 1, 1, fmax(1.5, y1 - y0 + 1));
    prev = floor(mt_chart_y(l, (double)mt_mrseries_at(exact_of(d),
                 v->t0 + (int64_t)floor((c + 1) * (double)(v->t1 - v->t0) / l->plot.w) - 1)) + 0.5);
  }
  batch_fill(p->cr, &bars, p->th.fg, 0.8);
  cairo_set_antialias(p->cr, CAIRO_ANTIALIAS_DEFAULT);
}

/* Steps in the whole run: a faint line where each step starts (NVTX
 * ranges the analysis classifies as steps, outermost lane) and a tick at
 * each step's peak, from the exact curve (its maximum inside the step's
 * range and the first instant it holds). */
static void draw_steps(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  cairo_t *cr = p->cr;
  static Batch lines, ticks;
  const mt_mrseries *x = exact_of(d);
  if (!d->lanes)
    return;
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  for (size_t i = 0; i < d->lanes->nlanes; i++) {
    const MtLane *ln = &d->lanes->lanes[i];
    if (ln->type != MT_LANE_RANGE || ln->key != 0)
      continue;
    double last = -10, last_tick = -10;
    for (size_t k = mt_lane_first_from(ln, v->t0); k < ln->n && ln->spans[k].t0 <= v->t1; k++) {
      const MtSpan *sp = &ln->spans[k];
      mt_range_class rc;
      mt_range_classify(mt_lanes_span_name(d->lanes, ln, sp), &rc);
      if (rc.step < 0)
        continue;
      double xs = floor(mt_chart_x(v, l, sp->t0) + 0.5);
      if (xs >= l->plot.x && xs - last >= 3) {
        batch_add(&lines, xs, l->plot.y, 1, l->plot.h);
        last = xs;
      }
      if (x && sp->t1 > sp->t0) {
        uint64_t mn, mx;
        int64_t tm;
        mt_mrseries_extent(x, sp->t0, sp->t1, &mn, &mx, &tm);
        double xt = floor(mt_chart_x(v, l, tm) + 0.5), yt = floor(mt_chart_y(l, (double)mx) + 0.5);
        if (xt >= l->plot.x && xt - last_tick >= 3) {
          batch_add(&ticks, xt - 1, yt - 4, 3, 3);
          last_tick = xt;
        }
      }
    }
  }
  batch_fill(cr, &lines, p->th.fg, 0.12);
  batch_fill(cr, &ticks, p->th.peak, 0.9);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
}

/* Line styles of the overlays (the legend draws the same). */
static const double DASH_COMPARE[] = { 6, 3 }, DASH_WHAT_IF[] = { 2, 3 }, DASH_WHAT_IF_RESV[] = { 7, 2, 2, 2 };

/* The compare run's time for this run's, aligned by step: step N's peak
 * over step N's peak, times between stretched linearly (runs whose steps
 * take different times would otherwise draw step 332 over step 178). */
static TimeMap compare_map(const MtChartData *d, const mt_rank *c)
{
  const mt_rank *r = mt_chart_rank(d);
  static int64_t *from, *to;
  static size_t cap;
  TimeMap m = { 0 };
  if (r && r->nsteps && c->nsteps) {
    if (r->nsteps > cap) {
      cap = r->nsteps;
      from = realloc(from, cap * sizeof *from);
      to = realloc(to, cap * sizeof *to);
    }
    for (size_t i = 0, j = 0; i < r->nsteps; i++) {
      while (j < c->nsteps && c->steps[j].step < r->steps[i].step)
        j++;
      if (j < c->nsteps && c->steps[j].step == r->steps[i].step &&
          (!m.n || (r->steps[i].allocated_ts > from[m.n - 1] && c->steps[j].allocated_ts > to[m.n - 1]))) {
        from[m.n] = r->steps[i].allocated_ts;
        to[m.n++] = c->steps[j].allocated_ts;
      }
    }
    m.from = from;
    m.to = to;
  }
  return m;
}

static void draw_compare(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  const mt_rank *c = compare_rank(d);
  if (!c || !c->timeline.n)
    return;
  const mt_timeline *tl = &c->timeline;
  MtCurve curve = { tl->n, tl->t0, tl->dt, tl->allocated, tl->allocated_max };
  TimeMap m = compare_map(d, c);
  stroke_curve_mapped(p, &curve, v, l, DASH_COMPARE, 2, 2, &m);
}

uint64_t mt_chart_compare_at(const MtChartData *d, const MtView *v, const MtLayout *l, int64_t t)
{
  const mt_rank *c = compare_rank(d);
  if (!c || !c->timeline.n || t < v->t0 || t >= v->t1)
    return 0;
  const mt_timeline *tl = &c->timeline;
  MtCurve curve = { tl->n, tl->t0, tl->dt, tl->allocated, tl->allocated_max };
  TimeMap m = compare_map(d, c);
  /* the pixel column holding t, as stroke_curve_mapped draws it */
  double x = floor(mt_chart_x(v, l, t) - l->plot.x);
  int64_t ta = map_time(&m, mt_chart_t(v, l, l->plot.x + x)), tb = map_time(&m, mt_chart_t(v, l, l->plot.x + x + 1));
  uint64_t val = 0;
  return curve_max(&curve, ta, tb > ta ? tb : ta + 1, &val) ? val : 0;
}

static void draw_what_if(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  if (!d->what_if_peak)
    return;
  stroke_curve(p, &d->what_if_reserved, v, l, DASH_WHAT_IF_RESV, 4, 1.5);
  stroke_curve(p, &d->what_if_allocated, v, l, DASH_WHAT_IF, 2, 2);
  cairo_t *cr = p->cr;
  double y = floor(mt_chart_y(l, (double)d->what_if_peak)) + 0.5;
  cairo_set_dash(cr, DASH_WHAT_IF, 2, 0);
  cairo_set_line_width(cr, d->what_if_allocated.n ? 1 : 2);   /* with the curve: a thinner reference */
  set_rgb(cr, p->th.overlay, 1);
  cairo_move_to(cr, l->plot.x, y);
  cairo_line_to(cr, l->plot.x + l->plot.w, y);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  char buf[320], sz[32];
  g_snprintf(buf, sizeof buf, "what-if %s: predicted peak %s", d->what_if_label ? d->what_if_label : "",
             mt_size_str(d->what_if_peak, sz, sizeof sz));
  text(p, buf, l->plot.x + 6, y - 16, 0, l->plot.w - 12, 0);
}

static void draw_budget(Painter *p, const MtChartData *d, const MtLayout *l)
{
  if (!d->budget)
    return;
  cairo_t *cr = p->cr;
  double y = floor(mt_chart_y(l, (double)d->budget)) + 0.5;
  double dash[] = { 8, 4 };
  cairo_set_dash(cr, dash, 2, 0);
  cairo_set_line_width(cr, 1.5);
  set_rgb(cr, p->th.budget, 1);
  cairo_move_to(cr, l->plot.x, y);
  cairo_line_to(cr, l->plot.x + l->plot.w, y);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  char buf[64], sz[32];
  g_snprintf(buf, sizeof buf, "budget %s", mt_size_str(d->budget, sz, sizeof sz));
  text(p, buf, l->plot.x + l->plot.w - 4, y - 16, 1, 0, 0);
}

static void triangle(cairo_t *cr, double x, double ytop, double h)
{
  cairo_move_to(cr, x - h * 0.6, ytop);
  cairo_line_to(cr, x + h * 0.6, ytop);
  cairo_line_to(cr, x, ytop + h);
  cairo_close_path(cr);
}

static void draw_marks(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  const mt_rank *r = mt_chart_rank(d);
  cairo_t *cr = p->cr;
  char buf[96], sz[32];
  cairo_save(cr);
  cairo_rectangle(cr, l->plot.x - 60, l->marks.y, l->plot.w + 60 + MARGIN_R, l->marks.h + l->plot.h);
  cairo_clip(cr);
  /* OOMs: red crosses */
  for (size_t i = 0; i < r->nooms; i++) {
    double x = mt_chart_x(v, l, r->ooms[i].ts);
    if (x < l->plot.x || x > l->plot.x + l->plot.w)
      continue;
    set_rgb(cr, p->th.budget, 1);
    cairo_set_line_width(cr, 2);
    cairo_move_to(cr, x - 5, l->marks.y + 2);
    cairo_line_to(cr, x + 5, l->marks.y + 12);
    cairo_move_to(cr, x + 5, l->marks.y + 2);
    cairo_line_to(cr, x - 5, l->marks.y + 12);
    cairo_stroke(cr);
  }
  /* reserved peak: hollow triangle, when elsewhere */
  if (r->peak_reserved_ts != r->peak_allocated_ts) {
    double x = mt_chart_x(v, l, r->peak_reserved_ts);
    if (x >= l->plot.x && x <= l->plot.x + l->plot.w) {
      triangle(cr, x, l->marks.y + 3, 10);
      set_rgb(cr, p->th.reserved, 1);
      cairo_set_line_width(cr, 1);
      cairo_stroke(cr);
    }
  }
  double x = mt_chart_x(v, l, r->peak_allocated_ts);
  if (x >= l->plot.x - 0.5 && x <= l->plot.x + l->plot.w + 0.5) {
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    double xc = floor(x) + 0.5;
    triangle(cr, xc, l->marks.y + 2, 12);
    set_rgb(cr, p->th.peak, 1);
    cairo_fill(cr);
    double dash[] = { 3, 3 };
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, xc, l->plot.y);
    cairo_line_to(cr, xc, l->plot.y + l->plot.h);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    /* the peak's value, which may fall between two samples of the curve */
    double yp = mt_chart_y(l, (double)r->peak_allocated);
    cairo_arc(cr, xc, yp, 3.5, 0, 2 * G_PI);
    set_rgb(cr, p->th.peak, 1);
    cairo_fill(cr);
    g_snprintf(buf, sizeof buf, "peak %s", mt_size_str(r->peak_allocated, sz, sizeof sz));
    double w = text_width(p, buf);
    int right = x + 10 + w < l->plot.x + l->plot.w;
    set_rgb(cr, p->th.fg, 1);
    text(p, buf, right ? x + 10 : x - 10, l->marks.y, right ? 0 : 1, 0, 0);
  }
  cairo_restore(cr);
}

/* Phase colours of range spans, by what their name says. */
enum { RC_OTHER, RC_FWD, RC_BWD, RC_OPT, RC_REC, RC_N };
static const unsigned range_hex[RC_N] = { 0xD0D0D0, 0x9ECAE1, 0xFDBF6F, 0xB2DF8A, 0xCAB2D6 };

static int range_class(const char *name)
{
  if (!name)
    return RC_OTHER;
  if (strstr(name, "forward") || strstr(name, "fwd"))
    return RC_FWD;
  if (strstr(name, "backward") || strstr(name, "bwd"))
    return RC_BWD;
  if (strstr(name, "optim"))
    return RC_OPT;
  if (strstr(name, "recompute"))
    return RC_REC;
  return RC_OTHER;
}

static MtRgb range_colour(int rc, int dark)
{
  unsigned hex = range_hex[rc];
  double f = dark ? 0.6 : 1.0;
  MtRgb c = { f * ((hex >> 16) & 0xff) / 255.0, f * ((hex >> 8) & 0xff) / 255.0, f * (hex & 0xff) / 255.0 };
  return c;
}

static MtRgb lane_colour(const MtLane *lane, int dark)
{
  if (lane->type == MT_LANE_NCCL)
    return mt_palette_category(MT_CAT_COMMUNICATION);
  MtRgb k = dark ? (MtRgb){ 0.62, 0.62, 0.65 } : (MtRgb){ 0.37, 0.36, 0.40 };
  return k;
}

typedef struct Label {
  double x, y, w;
  const char *text;
  int dark_text;
} Label;

static void draw_lanes(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  cairo_t *cr = p->cr;
  if (!d->lanes) {
    if (d->lanes_loading && l->lanes.h > 0) {
      set_rgb(cr, p->th.axis_text, 1);
      text(p, "loading kernels, NCCL calls and ranges\xe2\x80\xa6", l->lanes.x + 4, l->lanes.y + 2, 0, 0, 0);
    }
    return;
  }
  static Batch bg, spans, levels[8], ranges[RC_N], seps;
  static Label *labels;
  static size_t nlabels, labels_cap;
  int dark = p->th.bg.r < 0.5;
  double ns_per_px = (double)(v->t1 - v->t0) / l->plot.w;
  double xl = l->plot.x, xr = l->plot.x + l->plot.w;
  nlabels = 0;
  for (size_t li = 0; li < l->nlanes; li++)
    batch_add(&bg, xl, l->lanes.y + li * l->lane_h, l->plot.w, l->lane_h - 2);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  batch_fill(cr, &bg, p->th.lane_bg, 1);
  for (size_t li = 0; li < l->nlanes; li++) {
    const MtLane *lane = &d->lanes->lanes[li];
    double y = l->lanes.y + li * l->lane_h, h = l->lane_h - 2;
    if (nlabels + 1 > labels_cap) {
      labels_cap = labels_cap ? 2 * labels_cap : 256;
      labels = realloc(labels, labels_cap * sizeof *labels);
    }
    labels[nlabels++] = (Label){ 6, y + 0.5, MARGIN_L - 12, lane->label, -1 };
    if (!lane->n)
      continue;
    size_t i0 = mt_lane_first_from(lane, v->t0), i1 = mt_lane_end_after(lane, v->t1);
    if (i1 <= i0)
      continue;
    MtRgb col = lane_colour(lane, dark);
    if (i1 - i0 <= (size_t)(2 * l->plot.w)) {
      /* few enough: every span; runs closer than a pixel merged */
      double run_a = -1, run_b = -1;
      for (size_t i = i0; i < i1; i++) {
        const MtSpan *sp = &lane->spans[i];
        if (sp->t1 < v->t0)
          continue;
        double xa = floor(fmax(mt_chart_x(v, l, sp->t0), xl)), xb = floor(fmin(mt_chart_x(v, l, sp->t1), xr));
        if (xb - xa < 1)
          xb = xa + 1;
        const char *name = NULL;
        if (lane->type == MT_LANE_RANGE || xb - xa > 40)
          name = mt_lanes_span_name(d->lanes, lane, sp);
        if (lane->type == MT_LANE_RANGE) {
          batch_add(&ranges[range_class(name)], xa, y, xb - xa, h);
          if (xb - xa >= 3)
            batch_add(&seps, xb - 1, y, 1, h);
          if (xb - xa > 30 && nlabels < labels_cap)
            labels[nlabels++] = (Label){ xa + 3, y + 0.5, xb - xa - 6, name, 1 };
          continue;
        }
        if (run_b >= 0 && xa <= run_b) {
          run_b = fmax(run_b, xb);
        } else {
          if (run_b >= 0)
            batch_add(&spans, run_a, y + 1, run_b - run_a, h - 2);
          run_a = xa;
          run_b = xb;
        }
        if (name && nlabels < labels_cap)
          labels[nlabels++] = (Label){ xa + 3, y + 0.5, xb - xa - 6, name, 0 };
      }
      if (run_b >= 0)
        batch_add(&spans, run_a, y + 1, run_b - run_a, h - 2);
      batch_fill(cr, &spans, col, 1);
      continue;
    }
    /* many: busy fraction per pixel column from the summaries, in eight
     * shades */
    int cols = (int)ceil(l->plot.w);
    int run_q = 0;
    double run_x = 0;
    for (int x = 0; x <= cols; x++) {
      int q = 0;
      if (x < cols) {
        int64_t ta = v->t0 + (int64_t)(x * ns_per_px), tb = v->t0 + (int64_t)((x + 1) * ns_per_px);
        double busy = mt_lane_busy(d->lanes, lane, ta, tb, (int64_t)ns_per_px);
        double frac = busy / fmax(1, (double)(tb - ta));
        q = busy > 0 ? 1 + (int)(fmin(frac, 1) * 6.999) : 0;
      }
      if (q != run_q || x == cols) {
        if (run_q)
          batch_add(&levels[run_q], xl + run_x, y + 1, x - run_x, h - 2);
        run_q = q;
        run_x = x;
      }
    }
    MtRgb c = lane->type == MT_LANE_RANGE ? range_colour(RC_OTHER, dark) : col;
    for (int q = 1; q < 8; q++)
      batch_fill(cr, &levels[q], c, 0.3 + 0.1 * q);
  }
  for (int k = 0; k < RC_N; k++)
    batch_fill(cr, &ranges[k], range_colour(k, dark), 1);
  batch_fill(cr, &seps, p->th.bg, 0.9);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
  for (size_t i = 0; i < nlabels; i++) {
    const Label *lb = &labels[i];
    if (lb->dark_text < 0)
      set_rgb(cr, p->th.axis_text, 1);
    else if (lb->dark_text)
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    else
      cairo_set_source_rgb(cr, 1, 1, 1);
    text(p, lb->text, lb->x, lb->y, 0, lb->w, 0);
  }
  if (d->lanes->nlanes > l->nlanes) {
    char buf[64];
    g_snprintf(buf, sizeof buf, "+%zu lanes", d->lanes->nlanes - l->nlanes);
    set_rgb(cr, p->th.axis_text, 1);
    text(p, buf, 6, l->lanes.y + l->lanes.h - 2, 0, 0, 0);
  }
}

static void draw_legend(Painter *p, const MtChartData *d, const MtView *v, MtLayout *l)
{
  const mt_rank *r = mt_chart_rank(d);
  cairo_t *cr = p->cr;
  double x = l->legend.x, y = l->legend.y + 3;
  for (int c = 0; c < MT_CAT_COUNT; c++)
    l->legend_item[c] = (MtRect){ 0, 0, 0, 0 };
  if (r && r->memory_only) {
    /* no categories yet: one entry for the allocated bytes */
    const char *name = "allocated (categorising\xe2\x80\xa6)";
    cairo_rectangle(cr, x + 0.5, y + 1.5, 11, 11);
    set_rgb(cr, mt_palette_pending(), 1);
    cairo_fill(cr);
    set_rgb(cr, p->th.fg, 1);
    text(p, name, x + 16, y - 1, 0, 0, 0);
    x += 16 + text_width(p, name) + 14;
  }
  for (int s = 0; s < MT_CAT_COUNT; s++) {
    int cat = mt_chart_stack_order[s];
    int hidden = (v->hidden >> cat) & 1;
    if (r && r->memory_only && cat != MT_CAT_CACHE_FREE)
      continue;
    if (r && !r->peak.by_category[cat] && !hidden) {
      /* nothing of it at the peak: still listed if anywhere on the curve */
      int any = 0;
      for (size_t i = 0; r->timeline.by_category[cat] && i < r->timeline.n && !any; i++)
        any = r->timeline.by_category[cat][i] > 0;
      if (!any) {
        l->legend_item[cat] = (MtRect){ 0, 0, 0, 0 };
        continue;
      }
    }
    const char *name = mt_category_name(cat);
    double w = 16 + text_width(p, name) + 14;
    if (x + w > l->legend.x + l->legend.w)
      break;
    l->legend_item[cat] = (MtRect){ x, l->legend.y, w, l->legend.h };
    MtRgb c = mt_palette_category(cat);
    cairo_rectangle(cr, x + 0.5, y + 1.5, 11, 11);
    if (hidden) {
      set_rgb(cr, c, 1);
      cairo_set_line_width(cr, 1);
      cairo_stroke(cr);
    } else {
      set_rgb(cr, c, 1);
      cairo_fill(cr);
    }
    set_rgb(cr, p->th.fg, hidden ? 0.45 : 1);
    text(p, name, x + 16, y - 1, 0, 0, 0);
    x += w;
  }
  /* furniture: each drawn in its line style */
  gboolean curve = d->what_if_peak && d->what_if_allocated.n;
  const struct {
    const char *label;
    MtRgb colour;
    const double *dash;
    int ndash;
    double width;
  } extra[] = {
    { "reserved", p->th.reserved, NULL, 0, 2 },
    { d->budget ? "budget" : NULL, p->th.budget, (const double[]){ 4, 2 }, 2, 2 },
    { d->compare ? "compare" : NULL, p->th.overlay, DASH_COMPARE, 2, 2 },
    { d->what_if_peak && !curve ? "what-if" : NULL, p->th.overlay, DASH_WHAT_IF, 2, 2 },
    { curve ? "predicted allocated" : NULL, p->th.overlay, DASH_WHAT_IF, 2, 2 },
    { curve ? "predicted reserved" : NULL, p->th.overlay, DASH_WHAT_IF_RESV, 4, 1.5 },
  };
  for (size_t k = 0; k < G_N_ELEMENTS(extra); k++) {
    if (!extra[k].label)
      continue;
    double w = 22 + text_width(p, extra[k].label) + 14;
    if (x + w > l->legend.x + l->legend.w)
      break;
    set_rgb(cr, extra[k].colour, 1);
    cairo_set_line_width(cr, extra[k].width);
    cairo_set_dash(cr, extra[k].dash, extra[k].ndash, 0);
    cairo_move_to(cr, x, y + 7);
    cairo_line_to(cr, x + 16, y + 7);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    set_rgb(cr, p->th.fg, 1);
    text(p, extra[k].label, x + 20, y - 1, 0, 0, 0);
    x += w;
  }
}

static void draw_title(Painter *p, const MtChartData *d, const MtLayout *l)
{
  const mt_rank *r = mt_chart_rank(d);
  char buf[512], a[32], b[32], t[32], dr[64] = "";
  if (r->dropped)
    g_snprintf(dr, sizeof dr, " \xc2\xb7 %llu events were dropped", (unsigned long long)r->dropped);
  g_snprintf(buf, sizeof buf, "%srank %d \xc2\xb7 peak allocated %s at %s%s%s \xc2\xb7 peak reserved %s%s%s",
             r->memory_only ? "analysing\xe2\x80\xa6 \xc2\xb7 " : "", r->rank,
             mt_size_str(r->peak_allocated, a, sizeof a),
             mt_time_str(r->peak_allocated_ts, r->last_ts - r->first_ts, t, sizeof t),
             r->peak.phase ? " in " : "", r->peak.phase ? r->peak.phase : "",
             mt_size_str(r->peak_reserved, b, sizeof b), dr,
             r->incomplete ? " \xc2\xb7 incomplete trace" : "");
  set_rgb(p->cr, p->th.fg, 1);
  text(p, buf, l->title.x, l->title.y + 2, 0, l->title.w, 1);
}

static void draw_selection(Painter *p, const MtView *v, const MtLayout *l)
{
  cairo_t *cr = p->cr;
  double top = l->plot.y, bottom = l->lanes.y + l->lanes.h;
  cairo_save(cr);
  cairo_rectangle(cr, l->plot.x, l->marks.y, l->plot.w, bottom - l->marks.y);
  cairo_clip(cr);
  if (v->hl0 != MT_NONE) {
    double xa = mt_chart_x(v, l, v->hl0), xb = mt_chart_x(v, l, v->hl1 == MT_NONE ? v->t1 : v->hl1);
    set_rgb(cr, p->th.selection, 0.10);
    cairo_rectangle(cr, xa, top, fmax(xb - xa, 1), l->plot.h);
    cairo_fill(cr);
    set_rgb(cr, p->th.selection, 0.9);
    cairo_rectangle(cr, xa, l->marks.y + l->marks.h - 4, fmax(xb - xa, 2), 4);
    cairo_fill(cr);
  }
  if (v->sel0 != MT_NONE && v->sel1 != MT_NONE) {
    double xa = mt_chart_x(v, l, v->sel0), xb = mt_chart_x(v, l, v->sel1);
    set_rgb(cr, p->th.selection, 0.18);
    cairo_rectangle(cr, xa, top, xb - xa, bottom - top);
    cairo_fill(cr);
  }
  if (v->cursor != MT_NONE) {
    double x = floor(mt_chart_x(v, l, v->cursor)) + 0.5;
    set_rgb(cr, p->th.selection, 1);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, bottom);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
  if (v->hover_x >= l->plot.x && v->hover_x <= l->plot.x + l->plot.w && v->hover_y >= top && v->hover_y <= bottom) {
    set_rgb(cr, p->th.fg, 0.35);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, floor(v->hover_x) + 0.5, top);
    cairo_line_to(cr, floor(v->hover_x) + 0.5, bottom);
    cairo_stroke(cr);
  }
}

/* All ranks of a large job (more than MT_HEATMAP_MIN_RANKS): a heatmap,
 * rank (rows, rank order top-down) x time (columns, each rank's time from
 * its first event, the longest run across the plot), the colour of a cell
 * the largest allocated bytes in it (the timeline's per-sample maxima)
 * relative to the job's largest peak.  One image of ranks x columns,
 * scaled by cairo with the nearest filter: its cost is ranks x samples,
 * whatever the window's size, so 1,024 ranks stay smooth. */
#define MT_HEATMAP_MIN_RANKS 16

/* a perceptually ordered colour map (viridis' endpoints and three inner
 * stops): luminance rises with the value, so rows can be compared in grey */
static uint32_t heat_rgb(double f)
{
  static const double st[5][3] = { { 68, 1, 84 }, { 59, 82, 139 }, { 33, 145, 140 }, { 94, 201, 98 }, { 253, 231, 37 } };
  f = f < 0 ? 0 : f > 1 ? 1 : f;
  double x = f * 4;
  int i = x >= 4 ? 3 : (int)x;
  double u = x - i;
  uint32_t c = 0xff000000u;
  for (int k = 0; k < 3; k++)
    c |= (uint32_t)(st[i][k] + (st[i + 1][k] - st[i][k]) * u + 0.5) << (16 - 8 * k);
  return c;
}

static void draw_heatmap(Painter *p, const MtChartData *d, const MtLayout *l)
{
  const mt_analysis *a = d->analysis;
  cairo_t *cr = p->cr;
  size_t n = a->nranks;
  int cols = (int)fmax(1, fmin(l->plot.w, 2000));
  int64_t span = 1;
  uint64_t top = 1;
  for (size_t i = 0; i < n; i++) {
    const mt_rank *r = &a->ranks[i];
    const mt_timeline *tl = &r->timeline;
    if (tl->n && tl->t0 + (int64_t)tl->n * tl->dt - r->first_ts > span)
      span = tl->t0 + (int64_t)tl->n * tl->dt - r->first_ts;
    top = r->peak_allocated > top ? r->peak_allocated : top;
  }
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols, (int)n);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    return;
  }
  cairo_surface_flush(img);
  unsigned char *px = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  uint64_t *row = g_new0(uint64_t, (size_t)cols);
  for (size_t i = 0; i < n; i++) {
    const mt_rank *r = &a->ranks[i];
    const mt_timeline *tl = &r->timeline;
    memset(row, 0, (size_t)cols * sizeof *row);
    for (size_t k = 0; k < tl->n; k++) {
      int64_t t = tl->t0 + (int64_t)k * tl->dt - r->first_ts;
      int c = (int)((double)t / (double)span * cols);
      c = c < 0 ? 0 : c >= cols ? cols - 1 : c;
      uint64_t v = tl->allocated_max ? tl->allocated_max[k] : tl->allocated[k];
      if (tl->allocated[k] > v)
        v = tl->allocated[k];
      row[c] = v > row[c] ? v : row[c];
    }
    /* columns between two samples (fewer samples than columns) hold the
       sample before them */
    uint64_t last = 0;
    int seen = 0;
    uint32_t *out = (uint32_t *)(px + (size_t)i * (size_t)stride);
    int64_t end = tl->n ? tl->t0 + (int64_t)tl->n * tl->dt - r->first_ts : 0;
    for (int c = 0; c < cols; c++) {
      if (row[c] || (double)c * (double)span / cols < (double)end)
        seen = 1;
      if (row[c])
        last = row[c];
      int past = (double)c * (double)span / cols >= (double)end;
      out[c] = past || !seen ? (uint32_t)0xff000000u | (uint32_t)((p->th.bg.r * 255.0)) << 16 |
                                 (uint32_t)(p->th.bg.g * 255.0) << 8 | (uint32_t)(p->th.bg.b * 255.0)
                             : heat_rgb((double)last / (double)top);
    }
  }
  g_free(row);
  cairo_surface_mark_dirty(img);
  cairo_save(cr);
  cairo_rectangle(cr, l->plot.x, l->plot.y, l->plot.w, l->plot.h);
  cairo_clip(cr);
  cairo_translate(cr, l->plot.x, l->plot.y);
  cairo_scale(cr, l->plot.w / cols, l->plot.h / (double)n);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
  /* ranks on the left (about every 24 px), time and the scale below */
  char buf[160], sz[32];
  size_t every = (size_t)ceil(24.0 / (l->plot.h / (double)n));
  every = every < 1 ? 1 : every;
  set_rgb(cr, p->th.fg, 1);
  for (size_t i = 0; i < n; i += every) {
    g_snprintf(buf, sizeof buf, "%d", a->ranks[i].rank);
    text(p, buf, l->plot.x - 4, l->plot.y + (i + 0.5) * l->plot.h / (double)n - 7, 1, 0, 0);
  }
  char t1[48];
  g_snprintf(buf, sizeof buf, "rank x time (0 .. %s of each rank's run); colour: allocated, 0 .. %s",
             mt_dur_str(span, t1, sizeof t1), mt_size_str(top, sz, sizeof sz));
  text(p, buf, l->plot.x, l->ruler.y + 2, 0, l->plot.w, 0);
}

static void draw_ranks(Painter *p, const MtChartData *d, const MtView *v, const MtLayout *l)
{
  const mt_analysis *a = d->analysis;
  cairo_t *cr = p->cr;
  size_t n = a->nranks;
  double slot = l->plot.w / (double)(n ? n : 1);
  double bw = fmin(slot * 0.6, 120);
  char buf[64], sz[32];
  for (size_t i = 0; i < n; i++) {
    const mt_rank *r = &a->ranks[i];
    double xc = l->plot.x + slot * (i + 0.5), x = xc - bw / 2;
    double base = 0;
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    for (int s = 0; s < MT_CAT_COUNT; s++) {
      int cat = mt_chart_stack_order[s];
      if (v->hidden & (1u << cat))
        continue;
      double val = (double)r->peak.by_category[cat];
      if (val <= 0)
        continue;
      double y0 = mt_chart_y(l, base), y1 = mt_chart_y(l, base + val);
      set_rgb(cr, mt_palette_category(cat), 1);
      cairo_rectangle(cr, x, y1, bw, y0 - y1);
      cairo_fill(cr);
      base += val;
    }
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    double yr = floor(mt_chart_y(l, (double)r->peak_reserved)) + 0.5;
    set_rgb(cr, p->th.reserved, 1);
    cairo_set_line_width(cr, 2);
    cairo_move_to(cr, x - 6, yr);
    cairo_line_to(cr, x + bw + 6, yr);
    cairo_stroke(cr);
    if (i == a->job_peak_index) {
      triangle(cr, xc, l->marks.y + 2, 12);
      set_rgb(cr, p->th.peak, 1);
      cairo_fill(cr);
    }
    set_rgb(cr, p->th.fg, 1);
    g_snprintf(buf, sizeof buf, "rank %d", r->rank);
    text(p, buf, xc, l->ruler.y + 2, 0.5, slot - 4, 1);
    text(p, mt_size_str(r->peak_allocated, sz, sizeof sz), xc, mt_chart_y(l, base) - 16, 0.5, 0, 0);
  }
  draw_budget(p, d, l);
}

void mt_chart_draw(cairo_t *cr, const MtChartData *d, const MtView *v, int width, int height, MtLayout *out)
{
  MtLayout lay;
  MtLayout *l = out ? out : &lay;
  mt_chart_layout(d, v, width, height, l);
  Painter p = { .cr = cr };
  mt_theme_get(v->dark, &p.th);
  set_rgb(cr, p.th.bg, 1);
  cairo_paint(cr);
  p.layout = pango_cairo_create_layout(cr);
  p.font = pango_font_description_from_string(FONT);
  p.bold = pango_font_description_from_string(FONT_BOLD);
  const mt_rank *r = mt_chart_rank(d);
  if (!r) {
    set_rgb(cr, p.th.fg, 1);
    text(&p, d->error ? d->error : d->analysis ? "no ranks in this trace" : "analysing\xe2\x80\xa6", width / 2.0,
         height / 2.0, 0.5, 0, 1);
  } else {
    if (v->title)
      draw_title(&p, d, l);
    draw_legend(&p, d, v, l);
    if (v->mode == MT_MODE_RANKS && d->analysis->nranks > MT_HEATMAP_MIN_RANKS) {
      draw_heatmap(&p, d, l);
    } else if (v->mode == MT_MODE_RANKS) {
      draw_grid_and_axis(&p, v, l, 0);
      draw_ranks(&p, d, v, l);
    } else {
      draw_grid_and_axis(&p, v, l, 1);
      cairo_save(cr);
      cairo_rectangle(cr, l->plot.x, l->plot.y - 1, l->plot.w, l->plot.h + 1);
      cairo_clip(cr);
      int64_t fa, fb;
      mt_view_full_range(d, &fa, &fb);
      size_t n = make_cells(r, v, l, fb, exact_of(d) != NULL);
      draw_stack(&p, d, v, l, n);
      draw_steps(&p, d, v, l);
      draw_exact(&p, d, v, l);
      draw_compare(&p, d, v, l);
      draw_what_if(&p, d, v, l);
      draw_budget(&p, d, l);
      cairo_restore(cr);
      draw_marks(&p, d, v, l);
      draw_lanes(&p, d, v, l);
      draw_selection(&p, v, l);
    }
  }
  pango_font_description_free(p.font);
  pango_font_description_free(p.bold);
  g_object_unref(p.layout);
}

cairo_surface_t *mt_chart_render(const MtChartData *d, const MtView *v, int width, int height, MtLayout *l)
{
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create(s);
  mt_chart_draw(cr, d, v, width, height, l);
  cairo_destroy(cr);
  cairo_surface_flush(s);
  return s;
}

/* ---- hit testing and descriptions -------------------------------------- */

static int in(const MtRect *r, double x, double y)
{
  return x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h;
}

void mt_chart_hit(const MtChartData *d, const MtView *v, const MtLayout *l, double x, double y, MtHit *hit)
{
  memset(hit, 0, sizeof *hit);
  hit->category = -1;
  const mt_rank *r = mt_chart_rank(d);
  if (!r)
    return;
  for (int c = 0; c < MT_CAT_COUNT; c++)
    if (l->legend_item[c].w > 0 && in(&l->legend_item[c], x, y)) {
      hit->kind = MT_HIT_LEGEND;
      hit->category = c;
      return;
    }
  if (v->mode != MT_MODE_TIMELINE)
    return;
  hit->t = mt_chart_t(v, l, x);
  if (in(&l->plot, x, y)) {
    /* the band under the pointer, from the values drawn there */
    Cell cell;
    if (!stack_at_x(d, v, l, x, hit->stack, &cell))
      return;
    hit->sample = cell.i;
    hit->exact_t = cell.tx;
    hit->reserved = cell.resv;
    double bytes = (l->plot.y + l->plot.h - y) / l->plot.h * l->ymax, base = 0;
    if (r->memory_only) {   /* allocated, not categorised yet: no band */
      base = (double)hit->stack[MT_CAT_OTHER];
      if (bytes < base) {
        hit->kind = MT_HIT_ABOVE;
        return;
      }
    }
    for (int s = 0; s < MT_CAT_COUNT; s++) {
      int cat = mt_chart_stack_order[s];
      if (v->hidden & (1u << cat) || (hit->exact_t < 0 && !r->timeline.by_category[cat]) ||
          (r->memory_only && cat != MT_CAT_CACHE_FREE))
        continue;
      base += (double)hit->stack[cat];
      if (bytes < base) {
        hit->kind = MT_HIT_CATEGORY;
        hit->category = cat;
        return;
      }
    }
    hit->kind = MT_HIT_ABOVE;
    return;
  }
  if (in(&l->ruler, x, y) || in(&l->marks, x, y)) {
    hit->kind = MT_HIT_RULER;
    return;
  }
  if (in(&l->lanes, x, y) && d->lanes) {
    size_t li = (size_t)((y - l->lanes.y) / l->lane_h);
    if (li >= l->nlanes)
      return;
    hit->kind = MT_HIT_LANES;
    hit->lane = &d->lanes->lanes[li];
    int64_t slop = (int64_t)(3 * (double)(v->t1 - v->t0) / l->plot.w);
    hit->span = mt_lane_span_at(hit->lane, hit->t, slop);
    if (hit->span)
      hit->kind = MT_HIT_SPAN;
  }
}

char *mt_chart_describe(const MtChartData *d, const MtView *v, const MtHit *hit)
{
  const mt_rank *r = mt_chart_rank(d);
  char a[32], b[32], c[32], t[48], ph[256];
  int64_t scale = v->t1 - v->t0;
  switch (hit->kind) {
  case MT_HIT_CATEGORY:
  case MT_HIT_ABOVE: {
    const mt_timeline *tl = &r->timeline;
    size_t i = hit->sample;
    GString *s = g_string_new(NULL);
    /* what the column draws: the exact state at its highest instant (the
     * reserved bytes: the column's highest), else the sample */
    int64_t ts = hit->exact_t >= 0 ? hit->exact_t : tl->t0 + (int64_t)i * tl->dt;
    uint64_t alloc = 0;
    for (int k = 0; k < MT_CAT_COUNT; k++)
      if (k != MT_CAT_CACHE_FREE)
        alloc += hit->stack[k];
    if (hit->exact_t < 0)
      alloc = tl->allocated[i];
    if (hit->kind == MT_HIT_CATEGORY)
      g_string_append_printf(s, "%s: %s\n", mt_category_name(hit->category),
                             mt_size_str(hit->stack[hit->category], a, sizeof a));
    g_string_append_printf(s, "at %s: allocated %s, reserved %s\n", mt_time_str(ts, scale, t, sizeof t),
                           mt_size_str(alloc, b, sizeof b),
                           mt_size_str(hit->exact_t >= 0 ? hit->reserved : tl->reserved[i], c, sizeof c));
    mt_lanes_phase_at(d->lanes, ts, ph, sizeof ph);
    if (ph[0])
      g_string_append_printf(s, "phase: %s\n", ph);
    if (hit->kind == MT_HIT_CATEGORY && hit->category != MT_CAT_CACHE_FREE) {
      /* how the analysis decided this category at the peak */
      uint64_t by_rule[MT_RULE_COUNT] = { 0 };
      for (size_t k = 0; k < r->peak.nobjects; k++)
        if (r->peak.objects[k].category == hit->category && r->peak.objects[k].rule >= 0 &&
            r->peak.objects[k].rule < MT_RULE_COUNT)
          by_rule[r->peak.objects[k].rule] += r->peak.objects[k].size;
      int first = 1;
      for (int k = 0; k < MT_RULE_COUNT; k++)
        if (by_rule[k]) {
          g_string_append_printf(s, "%s%s %s", first ? "at the peak, decided by: " : ", ", mt_rule_name(k),
                                  mt_size_str(by_rule[k], a, sizeof a));
          first = 0;
        }
      if (!first)
        g_string_append_c(s, '\n');
    }
    g_string_append(s, "click: what is live here");
    return g_string_free(s, FALSE);
  }
  case MT_HIT_SPAN: {
    const MtSpan *sp = hit->span;
    return g_strdup_printf("%s\n%s \xc2\xb7 %s .. %s (%s)", mt_lanes_span_name(d->lanes, hit->lane, sp),
                           hit->lane->label, mt_time_str(sp->t0, scale, a, sizeof a),
                           mt_time_str(sp->t1, scale, b, sizeof b), mt_dur_str(sp->t1 - sp->t0, c, sizeof c));
  }
  case MT_HIT_LEGEND:
    return g_strdup_printf("%s: %s at the peak\nclick to %s", mt_category_name(hit->category),
                           mt_size_str(r->peak.by_category[hit->category], a, sizeof a),
                           (v->hidden >> hit->category) & 1 ? "show" : "hide");
  case MT_HIT_RULER:
  case MT_HIT_LANES:
    return g_strdup(mt_time_str(hit->t, scale, t, sizeof t));
  default:
    return NULL;
  }
}

char *mt_chart_range_stats(const MtChartData *d, int64_t t0, int64_t t1)
{
  const mt_rank *r = mt_chart_rank(d);
  if (!r || t1 <= t0)
    return g_strdup("");
  const mt_timeline *tl = &r->timeline;
  GString *s = g_string_new(NULL);
  char a[32], b[32], c[32], x[32];
  g_string_append_printf(s, "Range %s .. %s (%s)\n", mt_time_str(t0, t1 - t0, a, sizeof a),
                         mt_time_str(t1, t1 - t0, b, sizeof b), mt_dur_str(t1 - t0, c, sizeof c));
  if (tl->n && tl->dt > 0) {
    int64_t ia = (t0 - tl->t0) / tl->dt, ib = (t1 - tl->t0) / tl->dt;
    if (ia < 0) ia = 0;
    if (ib > (int64_t)tl->n - 1) ib = (int64_t)tl->n - 1;
    if (ia <= ib) {
      uint64_t amin = UINT64_MAX, amax = 0, rmax = 0;
      for (int64_t i = ia; i <= ib; i++) {
        if (tl->allocated[i] < amin) amin = tl->allocated[i];
        uint64_t m = i > ia ? tl->allocated_max[i] : tl->allocated[i];
        if (m > amax) amax = m;
        if (m < tl->allocated[i]) amax = amax > tl->allocated[i] ? amax : tl->allocated[i];
        uint64_t rm = i > ia ? tl->reserved_max[i] : tl->reserved[i];
        if (rm > rmax) rmax = rm;
      }
      g_string_append_printf(s, "allocated: min %s, max %s; reserved max %s\n", mt_size_str(amin, a, sizeof a),
                             mt_size_str(amax, b, sizeof b), mt_size_str(rmax, c, sizeof c));
      if (r->peak_allocated_ts >= t0 && r->peak_allocated_ts <= t1)
        g_string_append(s, "contains the allocated peak\n");
      if (r->memory_only)
        g_string_append(s, "by category: still being analysed\n");
      else
        g_string_append(s, "by category, start -> end:\n");
      for (int k = 0; k < MT_CAT_COUNT && !r->memory_only; k++) {
        int cat = mt_chart_stack_order[k];
        if (!tl->by_category[cat])
          continue;
        uint64_t va = tl->by_category[cat][ia], vb = tl->by_category[cat][ib];
        if (!va && !vb)
          continue;
        g_string_append_printf(s, "  %-16s %10s -> %-10s (%s%s)\n", mt_category_name(cat),
                               mt_size_str(va, a, sizeof a), mt_size_str(vb, b, sizeof b), vb >= va ? "+" : "-",
                               mt_size_str(vb >= va ? vb - va : va - vb, x, sizeof x));
      }
    }
  }
  if (d->lanes) {
    g_string_append(s, "busy:\n");
    for (size_t i = 0; i < d->lanes->nlanes; i++) {
      const MtLane *lane = &d->lanes->lanes[i];
      size_t n = 0;
      size_t i0 = mt_lane_first_from(lane, t0), i1 = mt_lane_end_after(lane, t1);
      for (size_t k = i0; k < i1; k++)
        if (lane->spans[k].t1 >= t0)
          n++;
      double busy = mt_lane_busy(d->lanes, lane, t0, t1, 1);
      g_string_append_printf(s, "  %-22s %6zu spans, %5.1f%% busy\n", lane->label, n,
                             100.0 * busy / (double)(t1 - t0));
    }
  }
  return g_string_free(s, FALSE);
}
