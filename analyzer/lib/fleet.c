/* The fleet view of many ranks (fleet.h): a thread pool of analyse,
 * summarise, free; then the job's distribution, outliers and imbalance. */
#define _GNU_SOURCE
#include "config.h"
#include <json-c/json.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyzer/lib/fleet.h"
#include "analyzer/lib/internal.h"

int mt_fleet_cpus(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

char **mt_fleet_list(const char *dir, size_t *n, mt_error *err)
{
  mt_error e = { 0 };
  char **v = mt__list_traces(dir, n, err ? err : &e);
  if (!v)
    *n = 0;
  return v;
}

static void summarise(const mt_rank *r, mt_fleet_rank *s)
{
  snprintf(s->host, sizeof s->host, "%s", r->host);
  s->rank = r->rank;
  s->local_rank = r->local_rank;
  s->world_size = r->world_size;
  s->pid = r->pid;
  s->incomplete = r->incomplete;
  s->dropped = r->dropped;
  s->events = r->n_mem_events + r->n_region_events + r->n_ranges + r->n_kernels + r->n_nccl;
  s->duration_ns = r->last_ts > r->first_ts ? r->last_ts - r->first_ts : 0;
  s->peak_allocated = r->peak_allocated;
  s->peak_reserved = r->peak_reserved;
  s->peak_allocated_ts = r->peak_allocated_ts - r->first_ts;
  s->peak_step = r->peak.step;
  snprintf(s->peak_phase, sizeof s->peak_phase, "%s", r->peak.phase ? r->peak.phase : "");
  memcpy(s->by_category, r->peak.by_category, sizeof s->by_category);
  const mt_timeline *tl = &r->timeline;
  for (size_t i = 0; i < tl->n; i++) {
    size_t b = i * MT_FLEET_BUCKETS / tl->n;
    uint64_t v = tl->allocated_max ? tl->allocated_max[i] : tl->allocated[i];
    if (v > s->timeline[b])
      s->timeline[b] = v;
  }
  s->first_step = -1;
  for (size_t i = 0; i < r->nsteps; i++)
    if (r->steps[i].step >= 0 && (s->first_step < 0 || r->steps[i].step < s->first_step))
      s->first_step = r->steps[i].step;
  for (size_t i = 0; i < r->nsteps && s->first_step >= 0; i++) {
    int k = r->steps[i].step - s->first_step;
    if (r->steps[i].step < 0 || k >= MT_FLEET_STEPS)
      continue;
    if (r->steps[i].allocated > s->step_peak[k])
      s->step_peak[k] = r->steps[i].allocated;
    if (k + 1 > s->nsteps)
      s->nsteps = k + 1;
  }
}

typedef struct pool {
  pthread_mutex_t mu;
  char *const *paths;
  size_t n, next, done;
  mt_fleet_rank *out;
  void (*progress)(size_t, size_t);
} pool;

static void analyse_one(const char *path, mt_fleet_rank *s)
{
  memset(s, 0, sizeof *s);
  const char *slash = strrchr(path, '/');
  snprintf(s->name, sizeof s->name, "%s", slash ? slash + 1 : path);
  s->peak_step = -1;
  s->first_step = -1;
  mt_error err = { 0 };
  mt_trace *t;
  if (mt_trace_open(path, MT_OPEN_READ, &t, &err) != MT_OK) {
    snprintf(s->error, sizeof s->error, "%s", err.msg[0] ? err.msg : path);
    return;
  }
  /* only the peak's categories are kept: no object lists to sort */
  mt_analysis_opts o = { .rank = -1, .max_objects = 1, .max_groups = 1 };
  mt_rank r;
  memset(&r, 0, sizeof r);
  if (mt_analyze_trace(t, &o, &r, &err) != MT_OK)
    snprintf(s->error, sizeof s->error, "%s", err.msg[0] ? err.msg : path);
  else
    summarise(&r, s);
  mt_rank_free(&r);
  mt_trace_close(t);
}

static void *worker(void *arg)
{
  pool *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    size_t i = p->next++;
    pthread_mutex_unlock(&p->mu);
    if (i >= p->n)
      return NULL;
    analyse_one(p->paths[i], &p->out[i]);
    /* hand the analysis's freed heap back: without it each thread's arena
       keeps its largest rank's high-water mark */
    malloc_trim(0);
    pthread_mutex_lock(&p->mu);
    p->done++;
    if (p->progress)
      p->progress(p->done, p->n);
    pthread_mutex_unlock(&p->mu);
  }
}

int mt_fleet_analyse(char *const *paths, size_t n, int jobs, mt_fleet_rank *out,
                     void (*progress)(size_t done, size_t n))
{
  if (jobs <= 0)
    jobs = mt_fleet_cpus();
  if ((size_t)jobs > n)
    jobs = n ? (int)n : 1;
  pool p = { .paths = paths, .n = n, .out = out, .progress = progress };
  pthread_mutex_init(&p.mu, NULL);
  pthread_t *th = calloc((size_t)jobs, sizeof *th);
  if (!th)
    return MT_ENOMEM;
  int started = 0;
  for (int j = 1; j < jobs; j++)
    if (pthread_create(&th[j], NULL, worker, &p) == 0)
      th[started++ + 1] = th[j];
  worker(&p);   /* this thread is one of the pool */
  for (int j = 1; j <= started; j++)
    pthread_join(th[j], NULL);
  free(th);
  pthread_mutex_destroy(&p.mu);
  return MT_OK;
}

static int cmp_report(const void *a, const void *b)
{
  const mt_fleet_rank *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  return strcmp(x->name, y->name);
}

void mt_fleet_sort(mt_fleet_rank *r, size_t n)
{
  mt__sort(r, n, sizeof *r, cmp_report);
}

/* ---- the job's picture ------------------------------------------------ */

typedef struct view {
  const mt_fleet_rank *r;
  size_t n;
  size_t *by_peak;            /* indices sorted by peak allocated, then report order */
  size_t median;              /* index (into r) of the median rank */
  uint64_t med, mad;          /* median peak allocated and its median absolute deviation */
  size_t *out;                /* outlier indices, by deviation, largest first */
  size_t nout;
  uint64_t tot_dropped;
  size_t nincomplete;
} view;

static const mt_fleet_rank *g_r;   /* qsort has no context argument; rendering is not concurrent */

static int cmp_peak(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  if (g_r[i].peak_allocated != g_r[j].peak_allocated)
    return g_r[i].peak_allocated < g_r[j].peak_allocated ? -1 : 1;
  return i < j ? -1 : i > j;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
  return a > b ? a - b : b - a;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t g_med;

/* the furthest from the median first, then report order */
static int cmp_dev(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  uint64_t x = absdiff(g_r[i].peak_allocated, g_med), y = absdiff(g_r[j].peak_allocated, g_med);
  if (x != y)
    return x > y ? -1 : 1;
  return i < j ? -1 : i > j;
}

/* How much rank s's per-step peak grew from its first step to its last. */
static int64_t growth(const mt_fleet_rank *s)
{
  if (s->nsteps < 2)
    return 0;
  return (int64_t)s->step_peak[s->nsteps - 1] - (int64_t)s->step_peak[0];
}

/* A rank is an outlier when its peak allocated is further from the median
 * than 3.5 robust standard deviations (the modified z-score of Iglewicz and
 * Hoaglin: |x - median| > 3.5 / 0.6745 * MAD) and than 5% of the median --
 * the second keeps a job of near-identical ranks (MAD ~ 0) from flagging
 * bytes of noise -- or when its per-step peak grew by 5% of the median peak
 * more than the median rank's did (a leak that has not yet made it the
 * largest). */
static int is_outlier(const view *v, size_t i)
{
  double d = (double)absdiff(v->r[i].peak_allocated, v->med);
  if (d > 3.5 / 0.6745 * (double)v->mad && d > 0.05 * (double)v->med)
    return 1;
  return (double)(growth(&v->r[i]) - growth(&v->r[v->median])) > 0.05 * (double)v->med;
}

static int view_init(view *v, const mt_fleet_rank *r, size_t n)
{
  memset(v, 0, sizeof *v);
  v->r = r;
  v->n = n;
  v->by_peak = calloc(n ? n : 1, sizeof *v->by_peak);
  v->out = calloc(n ? n : 1, sizeof *v->out);
  uint64_t *dev = calloc(n ? n : 1, sizeof *dev);
  if (!v->by_peak || !v->out || !dev) {
    free(dev);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    v->by_peak[i] = i;
    v->tot_dropped += r[i].dropped;
    v->nincomplete += r[i].incomplete != 0;
  }
  g_r = r;
  mt__sort(v->by_peak, n, sizeof *v->by_peak, cmp_peak);
  if (n) {
    v->median = v->by_peak[(n - 1) / 2];
    v->med = r[v->median].peak_allocated;
  }
  for (size_t i = 0; i < n; i++)
    dev[i] = absdiff(r[i].peak_allocated, v->med);
  mt__sort(dev, n, sizeof *dev, cmp_u64);
  v->mad = n ? dev[(n - 1) / 2] : 0;
  free(dev);
  for (size_t i = 0; i < n; i++)
    if (is_outlier(v, i))
      v->out[v->nout++] = i;
  g_med = v->med;
  mt__sort(v->out, v->nout, sizeof *v->out, cmp_dev);
  return 0;
}

static void view_free(view *v)
{
  free(v->by_peak);
  free(v->out);
}

/* The nearest-rank percentile p (0..100) of the peaks. */
static uint64_t pctl(const view *v, int p)
{
  if (!v->n)
    return 0;
  size_t k = ((size_t)p * v->n + 99) / 100;
  k = k ? k - 1 : 0;
  return v->r[v->by_peak[k < v->n ? k : v->n - 1]].peak_allocated;
}

/* What differs in rank i against the median rank, by category at the
 * peak: up to 3 categories, largest difference first, each >= 1% of the
 * median peak.  Writes into d/cat (3 each), returns how many. */
static int diffs(const view *v, size_t i, int64_t d[3], int cat[3])
{
  int k = 0;
  int used[MT_CAT_COUNT] = { 0 };
  for (; k < 3; k++) {
    int best = -1;
    uint64_t bd = 0;
    for (int c = 0; c < MT_CAT_COUNT; c++) {
      if (c == MT_CAT_CACHE_FREE || used[c])
        continue;
      uint64_t x = absdiff(v->r[i].by_category[c], v->r[v->median].by_category[c]);
      if (x > bd) {
        bd = x;
        best = c;
      }
    }
    if (best < 0 || (double)bd < 0.01 * (double)v->med)
      break;
    used[best] = 1;
    cat[k] = best;
    d[k] = (int64_t)v->r[i].by_category[best] - (int64_t)v->r[v->median].by_category[best];
  }
  return k;
}

/* The steps every rank ran (its per-step peak known), else none: imbalance
 * is then over time, in twentieths of each rank's run. */
static void common_steps(const view *v, int *first, int *count)
{
  int lo = -1, hi = -1;
  for (size_t i = 0; i < v->n; i++) {
    const mt_fleet_rank *s = &v->r[i];
    if (s->nsteps <= 0) {
      *first = *count = 0;
      return;
    }
    int a = s->first_step, b = s->first_step + s->nsteps - 1;
    lo = i == 0 || a > lo ? a : lo;
    hi = i == 0 || b < hi ? b : hi;
  }
  *first = lo;
  *count = v->n && hi >= lo ? hi - lo + 1 : 0;
}

/* imbalance at column k (a step, or a time bucket): max, mean, the max rank */
static void column(const view *v, int by_step, int k, uint64_t *mx, double *mean, size_t *who)
{
  double sum = 0;
  *mx = 0;
  *who = 0;
  for (size_t i = 0; i < v->n; i++) {
    const mt_fleet_rank *s = &v->r[i];
    uint64_t x = by_step ? s->step_peak[k - s->first_step] : s->timeline[k];
    sum += (double)x;
    if (x > *mx || i == 0) {
      *mx = x;
      *who = i;
    }
  }
  *mean = v->n ? sum / (double)v->n : 0;
}

static const char *sz(uint64_t b, char *buf, size_t len)
{
  return mt_size_str(b, buf, len);
}

static const char *ssz(int64_t b, char *buf, size_t len)
{
  char t[48];
  snprintf(buf, len, "%s%s", b < 0 ? "-" : "+", mt_size_str((uint64_t)(b < 0 ? -b : b), t, sizeof t));
  return buf;
}

/* up to 12 columns of the imbalance table: evenly spaced, and the worst */
static int pick_columns(const view *v, int by_step, int first, int count, int *cols)
{
  int m = 0, worst = first;
  double wv = 0;
  for (int k = first; k < first + count; k++) {
    uint64_t mx;
    double mean;
    size_t who;
    column(v, by_step, k, &mx, &mean, &who);
    double im = mean > 0 ? (double)mx / mean : 1.0;
    if (im > wv + 1e-12) {
      wv = im;
      worst = k;
    }
  }
  int want = count < 12 ? count : 11;
  for (int j = 0; j < want; j++)
    cols[m++] = first + (want > 1 ? (int)((int64_t)j * (count - 1) / (want - 1)) : 0);
  int have = 0;
  for (int j = 0; j < m; j++)
    have |= cols[j] == worst;
  if (!have && count) {
    int j = m;
    while (j > 0 && cols[j - 1] > worst) {
      cols[j] = cols[j - 1];
      j--;
    }
    cols[j] = worst;
    m++;
  }
  return m;
}

static void text(FILE *f, const char *path, const view *v)
{
  char b1[48], b2[48], b3[48], b4[48];
  const mt_fleet_rank *r = v->r;
  size_t nhosts = 0;
  for (size_t i = 0; i < v->n; i++) {
    size_t j = 0;
    while (j < i && strcmp(r[j].host, r[i].host) != 0)
      j++;
    nhosts += j == i;
  }
  fprintf(f, "memtrace report: %s\n\n", path);
  fprintf(f, "%zu ranks on %zu host%s (fleet summary; every rank's numbers: --format json; full per-rank\n"
             "reports: --per-rank)\n", v->n, nhosts, nhosts == 1 ? "" : "s");
  size_t dup = 0;
  for (size_t i = 1; i < v->n; i++)   /* r is in rank order */
    dup += r[i].rank == r[i - 1].rank;
  if (dup)
    fprintf(f, "WARNING: %zu traces repeat another's rank number (ranks from NCCL sub-communicators,\n"
               "or several runs in one directory): --per-rank numbers a job's ranks across the run\n", dup);
  if (v->tot_dropped || v->nincomplete)
    fprintf(f, "WARNING: %llu events dropped in all; %zu rank%s INCOMPLETE (never closed)\n",
            (unsigned long long)v->tot_dropped, v->nincomplete, v->nincomplete == 1 ? "" : "s");
  fputs("\nPeak allocated per rank\n", f);
  static const int ps[] = { 0, 10, 25, 50, 75, 90, 100 };
  static const char *const pn[] = { "min", "p10", "p25", "median", "p75", "p90", "max" };
  for (int k = 0; k < 7; k++)
    fprintf(f, k < 6 ? "  %-10s" : "  %s\n", pn[k]);
  for (int k = 0; k < 7; k++)
    fprintf(f, k < 6 ? "  %-10s" : "  %s", sz(pctl(v, ps[k]), b1, sizeof b1));
  uint64_t lo = pctl(v, 0), hi = pctl(v, 100);
  fprintf(f, "\n  median rank %d; max rank %d (%.3fx the median)\n", r[v->median].rank,
          r[v->by_peak[v->n - 1]].rank, v->med ? (double)hi / (double)v->med : 1.0);
  /* histogram: 10 bins from min to max */
  if (hi > lo) {
    size_t cnt[10] = { 0 }, top = 0;
    for (size_t i = 0; i < v->n; i++) {
      size_t b = (size_t)((double)(r[i].peak_allocated - lo) * 10.0 / (double)(hi - lo));
      cnt[b > 9 ? 9 : b]++;
    }
    for (int b = 0; b < 10; b++)
      top = cnt[b] > top ? cnt[b] : top;
    for (int b = 0; b < 10; b++) {
      uint64_t a = lo + (uint64_t)((double)(hi - lo) * b / 10.0);
      int bar = (int)((cnt[b] * 40 + top - 1) / top);
      fprintf(f, "  %10s |%-40.*s %zu\n", sz(a, b1, sizeof b1), bar,
              "########################################", cnt[b]);
    }
  }
  fputs("\nPeak reserved per rank\n  ", f);
  uint64_t rmin = UINT64_MAX, rmax = 0;
  for (size_t i = 0; i < v->n; i++) {
    rmin = r[i].peak_reserved < rmin ? r[i].peak_reserved : rmin;
    rmax = r[i].peak_reserved > rmax ? r[i].peak_reserved : rmax;
  }
  fprintf(f, "min %s, median rank's %s, max %s\n", sz(v->n ? rmin : 0, b1, sizeof b1),
          sz(r[v->median].peak_reserved, b2, sizeof b2), sz(rmax, b3, sizeof b3));

  fprintf(f, "\nOutlier ranks (peak allocated further than 3.5 robust SDs and 5%% from the median %s,\n"
             "or a per-step peak that grows 5%% of it more than the median rank's): %zu\n",
          sz(v->med, b1, sizeof b1), v->nout);
  size_t shown = v->nout < 20 ? v->nout : 20;
  for (size_t k = 0; k < shown; k++) {
    size_t i = v->out[k];
    int64_t d[3];
    int c[3];
    int nd = diffs(v, i, d, c);
    fprintf(f, "  rank %-5d %s (%s, %+.1f%%) at step %d %s on %s\n", r[i].rank,
            sz(r[i].peak_allocated, b1, sizeof b1),
            ssz((int64_t)r[i].peak_allocated - (int64_t)v->med, b2, sizeof b2),
            v->med ? 100.0 * ((double)r[i].peak_allocated - (double)v->med) / (double)v->med : 0.0, r[i].peak_step,
            r[i].peak_phase[0] ? r[i].peak_phase : "-", r[i].host);
    fputs("             vs the median rank:", f);
    for (int j = 0; j < nd; j++)
      fprintf(f, "%s %s %s", j ? "," : "", mt_category_name(c[j]), ssz(d[j], b3, sizeof b3));
    if (!nd)
      fputs(" no category differs by 1% of the median peak", f);
    int64_t g = growth(&r[i]), gm = growth(&r[v->median]);
    if ((double)(g - gm) > 0.01 * (double)v->med)
      fprintf(f, "; its per-step peak grows %s over %d steps (median rank %s)", ssz(g, b4, sizeof b4), r[i].nsteps,
              ssz(gm, b3, sizeof b3));
    fputc('\n', f);
  }
  if (v->nout > shown)
    fprintf(f, "  ... and %zu more (--format json lists them all)\n", v->nout - shown);

  int first, count;
  common_steps(v, &first, &count);
  int by_step = count > 0;
  if (!by_step) {
    first = 0;
    count = MT_FLEET_BUCKETS;
  }
  fprintf(f, "\nImbalance over %s (max / mean of peak allocated across ranks)\n",
          by_step ? "steps" : "time (twentieths of each rank's run)");
  fprintf(f, "  %-8s %-11s %-11s %-10s %s\n", by_step ? "step" : "time", "max", "mean", "max/mean", "max rank");
  int cols[13];
  int m = pick_columns(v, by_step, first, count, cols);
  for (int j = 0; j < m; j++) {
    uint64_t mx;
    double mean;
    size_t who;
    column(v, by_step, cols[j], &mx, &mean, &who);
    char when[16];
    if (by_step)
      snprintf(when, sizeof when, "%d", cols[j]);
    else
      snprintf(when, sizeof when, "%d%%", cols[j] * 100 / MT_FLEET_BUCKETS);
    fprintf(f, "  %-8s %-11s %-11s %-10.3f %d\n", when, sz(mx, b1, sizeof b1), sz((uint64_t)mean, b2, sizeof b2),
            mean > 0 ? (double)mx / mean : 1.0, r[who].rank);
  }
}

static json_object *jrank(const mt_fleet_rank *s)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "rank", json_object_new_int(s->rank));
  json_object_object_add(o, "local_rank", json_object_new_int(s->local_rank));
  json_object_object_add(o, "world_size", json_object_new_int(s->world_size));
  json_object_object_add(o, "host", json_object_new_string(s->host));
  json_object_object_add(o, "pid", json_object_new_int64(s->pid));
  json_object_object_add(o, "trace", json_object_new_string(s->name));
  json_object_object_add(o, "incomplete", json_object_new_boolean(s->incomplete));
  json_object_object_add(o, "dropped", json_object_new_int64((int64_t)s->dropped));
  json_object_object_add(o, "events", json_object_new_int64((int64_t)s->events));
  json_object_object_add(o, "duration_ns", json_object_new_int64(s->duration_ns));
  json_object *p = json_object_new_object();
  json_object_object_add(p, "allocated_bytes", json_object_new_int64((int64_t)s->peak_allocated));
  json_object_object_add(p, "reserved_bytes", json_object_new_int64((int64_t)s->peak_reserved));
  json_object_object_add(p, "ts_ns", json_object_new_int64(s->peak_allocated_ts));
  json_object_object_add(p, "step", json_object_new_int(s->peak_step));
  json_object_object_add(p, "phase", s->peak_phase[0] ? json_object_new_string(s->peak_phase) : NULL);
  json_object *c = json_object_new_object();
  for (int k = 0; k < MT_CAT_COUNT; k++)
    if (s->by_category[k])
      json_object_object_add(c, mt_category_name(k), json_object_new_int64((int64_t)s->by_category[k]));
  json_object_object_add(p, "by_category", c);
  json_object_object_add(o, "peak", p);
  json_object *tl = json_object_new_array();
  for (int k = 0; k < MT_FLEET_BUCKETS; k++)
    json_object_array_add(tl, json_object_new_int64((int64_t)s->timeline[k]));
  json_object_object_add(o, "timeline_allocated_max", tl);
  json_object *st = json_object_new_array();
  for (int k = 0; k < s->nsteps; k++)
    json_object_array_add(st, json_object_new_int64((int64_t)s->step_peak[k]));
  json_object_object_add(o, "first_step", json_object_new_int(s->first_step));
  json_object_object_add(o, "step_peak_allocated", st);
  return o;
}

static json_object *jsonify(const char *path, const view *v)
{
  const mt_fleet_rank *r = v->r;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "path", json_object_new_string(path));
  json_object_object_add(o, "nranks", json_object_new_int64((int64_t)v->n));
  json_object_object_add(o, "dropped", json_object_new_int64((int64_t)v->tot_dropped));
  json_object_object_add(o, "incomplete_ranks", json_object_new_int64((int64_t)v->nincomplete));
  json_object *d = json_object_new_object();
  static const int ps[] = { 0, 10, 25, 50, 75, 90, 100 };
  static const char *const pn[] = { "min", "p10", "p25", "median", "p75", "p90", "max" };
  for (int k = 0; k < 7; k++)
    json_object_object_add(d, pn[k], json_object_new_int64((int64_t)pctl(v, ps[k])));
  json_object_object_add(d, "mad", json_object_new_int64((int64_t)v->mad));
  json_object_object_add(d, "median_rank", json_object_new_int(r[v->median].rank));
  json_object_object_add(d, "max_rank", json_object_new_int(v->n ? r[v->by_peak[v->n - 1]].rank : 0));
  json_object_object_add(o, "peak_allocated", d);
  json_object *out = json_object_new_array();
  for (size_t k = 0; k < v->nout; k++) {
    size_t i = v->out[k];
    json_object *x = json_object_new_object();
    json_object_object_add(x, "rank", json_object_new_int(r[i].rank));
    json_object_object_add(x, "peak_allocated_bytes", json_object_new_int64((int64_t)r[i].peak_allocated));
    json_object_object_add(x, "vs_median_bytes", json_object_new_int64((int64_t)r[i].peak_allocated - (int64_t)v->med));
    json_object *c = json_object_new_object();
    int64_t dd[3];
    int cc[3];
    int nd = diffs(v, i, dd, cc);
    for (int j = 0; j < nd; j++)
      json_object_object_add(c, mt_category_name(cc[j]), json_object_new_int64(dd[j]));
    json_object_object_add(x, "by_category_vs_median", c);
    json_object_object_add(x, "step_peak_growth_bytes", json_object_new_int64(growth(&r[i])));
    json_object_array_add(out, x);
  }
  json_object_object_add(o, "outliers", out);
  int first, count;
  common_steps(v, &first, &count);
  int by_step = count > 0;
  if (!by_step) {
    first = 0;
    count = MT_FLEET_BUCKETS;
  }
  json_object *im = json_object_new_array();
  for (int k = first; k < first + count; k++) {
    uint64_t mx;
    double mean;
    size_t who;
    column(v, by_step, k, &mx, &mean, &who);
    json_object *x = json_object_new_object();
    json_object_object_add(x, by_step ? "step" : "bucket", json_object_new_int(k));
    json_object_object_add(x, "max_bytes", json_object_new_int64((int64_t)mx));
    json_object_object_add(x, "mean_bytes", json_object_new_int64((int64_t)mean));
    json_object_object_add(x, "max_rank", json_object_new_int(r[who].rank));
    json_object_array_add(im, x);
  }
  json_object_object_add(o, by_step ? "imbalance_by_step" : "imbalance_by_time", im);
  json_object *ranks = json_object_new_array();
  for (size_t i = 0; i < v->n; i++)
    json_object_array_add(ranks, jrank(&r[i]));
  json_object_object_add(o, "ranks", ranks);
  json_object *top = json_object_new_object();
  json_object_object_add(top, "fleet", o);
  return top;
}

int mt_fleet_render(FILE *f, const char *path, const mt_fleet_rank *r, size_t n, int json)
{
  view v;
  if (!n || view_init(&v, r, n) != 0)
    return -1;
  if (json) {
    json_object *j = jsonify(path, &v);
    fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE), f);
    fputc('\n', f);
    json_object_put(j);
  } else {
    text(f, path, &v);
  }
  view_free(&v);
  return ferror(f) ? -1 : 0;
}
