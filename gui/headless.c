#include "config.h"
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/lib/mrseries.h"
#include "gui/headless.h"
#include "gui/liveset.h"
#include "gui/units.h"

size_t mt_options_rank_index(const MtViewOptions *opts, const mt_analysis *a)
{
  if (opts->rank >= 0)
    for (size_t i = 0; i < a->nranks; i++)
      if (a->ranks[i].rank == opts->rank)
        return i;
  return a->job_peak_index < a->nranks ? a->job_peak_index : 0;
}

int mt_layout_write(const char *path, const MtLayout *l, const MtView *v, const MtChartData *d,
                    double ox, double oy)
{
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  const mt_rank *r = mt_chart_rank(d);
  fprintf(f, "width=%d\nheight=%d\n", l->width, l->height);
  fprintf(f, "plot_x=%.2f\nplot_y=%.2f\nplot_w=%.2f\nplot_h=%.2f\n", l->plot.x + ox, l->plot.y + oy, l->plot.w,
          l->plot.h);
  fprintf(f, "marks_y=%.2f\nmarks_h=%.2f\n", l->marks.y + oy, l->marks.h);
  fprintf(f, "legend_y=%.2f\nlegend_h=%.2f\n", l->legend.y + oy, l->legend.h);
  fprintf(f, "title_x=%.2f\ntitle_y=%.2f\ntitle_h=%.2f\n", l->title.x + ox, l->title.y + oy, l->title.h);
  fprintf(f, "lanes_y=%.2f\nlane_h=%.2f\nnlanes=%zu\n", l->lanes.y + oy, l->lane_h, l->nlanes);
  fprintf(f, "ymax=%.0f\nfont_px=%.1f\n", l->ymax, l->font_px);
  fprintf(f, "t0=%lld\nt1=%lld\n", (long long)v->t0, (long long)v->t1);
  fprintf(f, "cursor=%lld\n", (long long)(v->cursor == MT_NONE ? -1 : v->cursor));
  if (r)
    fprintf(f, "peak_ts=%lld\npeak_allocated=%llu\n", (long long)r->peak_allocated_ts,
            (unsigned long long)r->peak_allocated);
  fprintf(f, "what_if_peak=%llu\n", (unsigned long long)d->what_if_peak);
  fprintf(f, "drawn_max=%llu\n", (unsigned long long)mt_chart_drawn_max(d, v, l));
  fprintf(f, "stack_max=%llu\n", (unsigned long long)mt_chart_stack_max(d, v, l));
  uint64_t st[MT_CAT_COUNT];
  double xcol;
  if (r && mt_chart_stack_at(d, v, l, r->peak_allocated_ts, st, &xcol)) {
    /* the stack drawn at the peak, "category=bytes,..." */
    fputs("stack_at_peak=", f);
    for (int c = 0, first = 1; c < MT_CAT_COUNT; c++)
      if (st[c]) {
        fprintf(f, "%s%s=%llu", first ? "" : ",", mt_category_name(c), (unsigned long long)st[c]);
        first = 0;
      }
    fputc('\n', f);
    /* what hovering just under the stack's top at the peak names */
    MtHit hit;
    memset(&hit, 0, sizeof hit);
    uint64_t top = 0;
    for (int c = 0; c < MT_CAT_COUNT; c++)
      if (c != MT_CAT_CACHE_FREE)
        top += st[c];
    mt_chart_hit(d, v, l, xcol, mt_chart_y(l, (double)top) + 1.5, &hit);
    if (hit.kind == MT_HIT_CATEGORY)
      fprintf(f, "hover_at_peak=%s=%llu\n", mt_category_name(hit.category),
              (unsigned long long)hit.stack[hit.category]);
  }
  if (r && d->compare)
    fprintf(f, "compare_at_peak=%llu\n", (unsigned long long)mt_chart_compare_at(d, v, l, r->peak_allocated_ts));
  return fclose(f) ? -1 : 0;
}

static MtSession *load_progressive(const MtViewOptions *opts, MtChartData *d, MtView *v,
                                    MtSessionPreviewFunc on_preview, gpointer data)
{
  MtSession *s = mt_session_new(opts->path);
  if (opts->samples)
    mt_session_set_samples(s, opts->samples);
  if (opts->compare)
    mt_session_set_compare_path(s, opts->compare);
  if (opts->what_if)
    mt_session_set_what_if(s, opts->what_if);
  mt_session_set_use_cache(s, !opts->no_cache);
  GError *e = NULL;
  if (!(opts->cached && !opts->bench    ? mt_session_load_cached_sync(s, &e)
        : opts->preview && !opts->bench ? mt_session_load_preview_sync(s, &e)
                                        : mt_session_load_sync_progressive(s, on_preview, data, &e))) {
    fprintf(stderr, "memtrace-view: %s\n", e->message);
    g_error_free(e);
    g_object_unref(s);
    return NULL;
  }
  const mt_analysis *a = (opts->preview || opts->cached) && !opts->bench ? mt_session_get_preview(s)
                                                                         : mt_session_get_analysis(s);
  d->analysis = a;
  d->rank = mt_options_rank_index(opts, a);
  d->lanes = mt_session_get_lanes(s, d->rank);
  if (opts->cached && !opts->bench && d->rank < a->nranks) {
    /* what the window shows once its lanes are there, before the analysis:
     * the session owns no lanes without an analysis, so these are ours */
    d->lanes = mt_lanes_load(a->ranks[d->rank].path, NULL);
    g_object_set_data_full(G_OBJECT(s), "mt-cached-lanes", (gpointer)d->lanes, (GDestroyNotify)mt_lanes_free);
  }
  d->compare = mt_session_get_compare(s);
  d->budget = opts->budget;
  mt_session_what_if_to_chart(s, d);
  mt_view_init(v, d);
  v->dark = opts->dark;
  v->title = 1;
  v->hidden = opts->hidden;
  v->mode = opts->all_ranks ? MT_MODE_RANKS : MT_MODE_TIMELINE;
  if (opts->r1 > opts->r0) {
    v->t0 = opts->r0;
    v->t1 = opts->r1;
  } else if (opts->zoom_peak)
    mt_view_go_to_peak(v, d);
  if (opts->select != MT_NONE)
    v->cursor = opts->select;
  return s;
}

static MtSession *load(const MtViewOptions *opts, MtChartData *d, MtView *v)
{
  return load_progressive(opts, d, v, NULL, NULL);
}

int mt_headless_screenshot(const MtViewOptions *opts)
{
  MtChartData d = { 0 };
  MtView v;
  MtSession *s = load(opts, &d, &v);
  if (!s)
    return 1;
  MtLayout l;
  cairo_surface_t *surf = mt_chart_render(&d, &v, opts->width, opts->height, &l);
  int rc = 0;
  if (cairo_surface_write_to_png(surf, opts->screenshot) != CAIRO_STATUS_SUCCESS) {
    fprintf(stderr, "memtrace-view: cannot write %s\n", opts->screenshot);
    rc = 1;
  }
  if (opts->layout && mt_layout_write(opts->layout, &l, &v, &d, 0, 0)) {
    fprintf(stderr, "memtrace-view: cannot write %s\n", opts->layout);
    rc = 1;
  }
  cairo_surface_destroy(surf);
  g_object_unref(s);
  return rc;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, size_t n)
{
  if (!n)
    return;
  qsort(ms, n, sizeof *ms, cmp_double);
#define PCT(p) ms[(size_t)fmin((double)(n - 1), floor((p) / 100.0 * (double)n))]
  printf("%-10s frames %4zu  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, n, PCT(50), PCT(90),
         PCT(99), ms[n - 1]);
#undef PCT
}

static double clock_ms(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
  return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

/* Wall time of one frame; its CPU time (robust to a busy machine) in *cpu. */
static double frame(cairo_t *cr, const MtChartData *d, const MtView *v, int w, int h, double *cpu)
{
  double c0 = cpu_ms();
  gint64 t0 = g_get_monotonic_time();
  mt_chart_draw(cr, d, v, w, h, NULL);
  cairo_surface_flush(cairo_get_target(cr));
  double ms = (g_get_monotonic_time() - t0) / 1000.0;
  if (cpu)
    *cpu = cpu_ms() - c0;
  if (g_getenv("MT_BENCH_VERBOSE"))
    printf("  frame %.2f ms (cpu %.2f ms), window %.6f s\n", ms, cpu ? *cpu : 0, (double)(v->t1 - v->t0) / 1e9);
  return ms;
}

/* The first frame, as the window draws it: from the memory-only preview,
 * while the full analysis and the lanes are still loading. */
typedef struct BenchPreview {
  const MtViewOptions *opts;
  gint64 start;
  double start_cpu, start_process_cpu;
  cairo_t *cr;
  double open_to_frame_s, open_to_frame_cpu_s, open_to_frame_process_cpu_s, frame_ms, frame_cpu;
  int drawn;
} BenchPreview;

static void bench_preview(MtSession *s, gpointer data)
{
  BenchPreview *b = data;
  const mt_analysis *a = mt_session_get_preview(s);
  if (!a)
    return;
  MtChartData d = { .analysis = a, .lanes_loading = 1, .budget = b->opts->budget };
  d.rank = mt_options_rank_index(b->opts, a);
  MtView v;
  mt_view_init(&v, &d);
  v.title = 1;
  v.dark = b->opts->dark;
  b->frame_ms = frame(b->cr, &d, &v, b->opts->width, b->opts->height, &b->frame_cpu);
  b->open_to_frame_s = (g_get_monotonic_time() - b->start) / 1e6;
  b->open_to_frame_cpu_s = (cpu_ms() - b->start_cpu) / 1e3;
  b->open_to_frame_process_cpu_s = (clock_ms(CLOCK_PROCESS_CPUTIME_ID) - b->start_process_cpu) / 1e3;
  b->drawn = 1;
}

/* kB of a /proc/self/status field, or -1 */
static long status_kb(const char *field)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      v = strtol(line + n + 1, NULL, 10);
      break;
    }
  if (f)
    fclose(f);
  return v;
}

int mt_headless_bench(const MtViewOptions *opts)
{
  gint64 start = g_get_monotonic_time();
  int w = opts->width, h = opts->height;
  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  cairo_t *cr = cairo_create(surf);
  MtChartData d = { 0 };
  MtView v;
  BenchPreview bp = { .opts = opts, .start = start, .start_cpu = cpu_ms(),
                      .start_process_cpu = clock_ms(CLOCK_PROCESS_CPUTIME_ID), .cr = cr };
  MtSession *s = load_progressive(opts, &d, &v, bench_preview, &bp);
  if (!s) {
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    return 1;
  }
  double full_s = (g_get_monotonic_time() - start) / 1e6;
  double first_cpu;
  double first = frame(cr, &d, &v, w, h, &first_cpu);
  const mt_rank *r = mt_chart_rank(&d);
  printf("trace: %s\n", opts->path);
  printf("events: %llu mem, %llu region, %llu kernels, %llu nccl, %llu ranges; %llu lane spans\n",
         (unsigned long long)r->n_mem_events, (unsigned long long)r->n_region_events,
         (unsigned long long)r->n_kernels, (unsigned long long)r->n_nccl, (unsigned long long)r->n_ranges,
         (unsigned long long)(d.lanes ? d.lanes->nspans : 0));
  if (bp.drawn)
    printf("open to first frame (%s %.3f s + frame %.2f ms, cpu %.2f ms): %.3f s "
           "(CPU of the loading thread %.3f s, of the process %.3f s)\n",
           mt_session_preview_from_cache(s) ? "cached categorised timeline" : "memory-only preview",
           mt_session_get_preview_seconds(s), bp.frame_ms, bp.frame_cpu, bp.open_to_frame_s,
           bp.open_to_frame_cpu_s, bp.open_to_frame_process_cpu_s);
  else
    printf("open to first frame: no preview (it failed)\n");
  printf("full analysis %.3f s (after the preview), lanes %.3f s (beside it, started with the first frame)\n",
         mt_session_get_analysis_seconds(s), mt_session_get_lanes_seconds(s));
  if (mt_session_get_cache_note(s))
    printf("%s\n", mt_session_get_cache_note(s));
  printf("open to the categorised frame with lanes: %.3f s (frame %.2f ms, cpu %.2f ms)\n",
         full_s + first / 1000.0, first, first_cpu);

  enum { N = 120, PHASES = 3 };
  static const char *names[PHASES] = { "zoom in", "pan", "zoom out" };
  double wall[PHASES][N], cpu[PHASES][N], all_w[PHASES * N], all_c[PHASES * N];
  size_t na = 0;
  int64_t anchor = r->peak_allocated_ts;
  for (int ph = 0; ph < PHASES; ph++)
    for (int i = 0; i < N; i++) {
      if (ph == 0)
        mt_view_zoom(&v, &d, 1.12, anchor);
      else if (ph == 1)
        mt_view_pan(&v, &d, (i < N / 2 ? 1 : -1) * (v.t1 - v.t0) / 25);
      else
        mt_view_zoom(&v, &d, 1 / 1.12, anchor);
      wall[ph][i] = frame(cr, &d, &v, w, h, &cpu[ph][i]);
      all_w[na] = wall[ph][i];
      all_c[na++] = cpu[ph][i];
    }
  printf("frame size %dx%d, cairo image surface (the window draws with the same code)\n", w, h);
  printf("wall time:\n");
  for (int ph = 0; ph < PHASES; ph++)
    report(names[ph], wall[ph], N);
  report("all", all_w, na);
  printf("CPU time of the drawing thread:\n");
  for (int ph = 0; ph < PHASES; ph++)
    report(names[ph], cpu[ph], N);
  report("all", all_c, na);
  /* resident memory, split: the trace's pages mapped by SQLite's read-ahead
   * count in RSS but are the page cache's, not ours */
  printf("memory now: resident anonymous %.1f MB, file-mapped %.1f MB (peak resident %.1f MB); "
         "exact series %.2f MB\n", status_kb("RssAnon") / 1024.0, status_kb("RssFile") / 1024.0,
         status_kb("VmHWM") / 1024.0, d.lanes && d.lanes->exact ? mt_mrseries_bytes(d.lanes->exact) / 1048576.0 : 0.0);
  cairo_destroy(cr);
  cairo_surface_destroy(surf);
  g_object_unref(s);
  return 0;
}

int mt_headless_list_live(const MtViewOptions *opts)
{
  MtChartData d = { 0 };
  MtView v;
  MtSession *s = load(opts, &d, &v);
  if (!s)
    return 1;
  GError *e = NULL;
  MtLiveSet *set = mt_liveset_at(mt_chart_rank(&d), opts->list_live, &e);
  if (!set) {
    fprintf(stderr, "memtrace-view: %s\n", e->message);
    g_error_free(e);
    g_object_unref(s);
    return 1;
  }
  char sz[32], a[48], b[48];
  printf("# live at %lld ns: %zu objects, %llu bytes%s\n", (long long)set->ts, set->n,
         (unsigned long long)set->total, set->from_analysis ? " (the analysis's peak snapshot)" : "");
  printf("# bytes\tsize\tcategory\trule\tallocated\tfreed\tlabel\n");
  for (size_t i = 0; i < set->n; i++) {
    const MtLiveObject *o = &set->objects[i];
    /* a trace's label or symbol: never the terminal's controls */
    char *lab = mt_text_escape_dup(o->label ? o->label : o->where ? o->where : "-");
    printf("%llu\t%s\t%s\t%s\t%s\t%s\t%s\n", (unsigned long long)o->size, mt_size_str(o->size, sz, sizeof sz),
           o->category >= 0 ? mt_category_name(o->category) : "-", o->rule >= 0 ? mt_rule_name(o->rule) : "-",
           mt_time_str(o->alloc_ts, 100000000, a, sizeof a),
           o->free_ts < 0 ? "end" : mt_time_str(o->free_ts, 100000000, b, sizeof b),
           lab ? lab : "?");
    free(lab);
  }
  mt_liveset_free(set);
  g_object_unref(s);
  return 0;
}
