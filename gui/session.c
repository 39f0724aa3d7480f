#include "config.h"
#include <string.h>
#include "gui/session.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/input_trace.h"
#include "analyzer/replay/planner.h"
#include "analyzer/replay/technique.h"
#include "gui/tlcache.h"
#include "gui/liveset.h"

struct _MtSession {
  GObject parent_instance;
  char *path, *compare_path;
  size_t samples;
  uint64_t budget;
  mt_analysis *analysis, *compare, *preview;
  MtTlCache *preview_cache;          /* when the preview came from the cache: owns it */
  gboolean use_cache;
  char *cache_note;                  /* what the cache did, one line */
  double preview_s;
  MtLanes **lanes;       /* one per rank */
  size_t nlanes;
  gboolean lanes_loaded;
  double analysis_s, lanes_s;
  struct LanesJob *pending_lanes;   /* lanes loaded before the analysis */
  GObject *pending_task;             /* owns pending_lanes */
  char *what_if;
  struct WhatIf *predicted;          /* NULL without a plan */
};

G_DEFINE_FINAL_TYPE(MtSession, mt_session, G_TYPE_OBJECT)

enum { PROP_0, PROP_ANALYSIS, PROP_PREVIEW, PROP_BUDGET, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIG_LANES_READY, N_SIGNALS };
static guint signals[N_SIGNALS];

/* A plan's predictions, one per rank of the analysis (analyzer/replay:
 * memtrace replay's engine, not a second model). */
typedef struct WhatIf {
  char *label;                       /* the plan, as memtrace replay's options */
  size_t n;
  mt_rp_result *pred;
  mt_rp_timeline *tl;                /* the predicted curves, sampled like the analysis's */
  gboolean *ok;
} WhatIf;

static void what_if_free(WhatIf *w)
{
  if (!w)
    return;
  for (size_t i = 0; i < w->n; i++)
    mt_rp_timeline_free(&w->tl[i]);
  g_free(w->tl);
  g_free(w->label);
  g_free(w->pred);
  g_free(w->ok);
  g_free(w);
}

static void mt_session_finalize(GObject *obj)
{
  MtSession *self = MT_SESSION(obj);
  g_clear_object(&self->pending_task);
  for (size_t i = 0; i < self->nlanes; i++)
    mt_lanes_free(self->lanes[i]);
  g_free(self->lanes);
  if (self->analysis)
    mt_analysis_free(self->analysis);
  if (self->compare)
    mt_analysis_free(self->compare);
  if (self->preview_cache)
    mt_tlcache_free(self->preview_cache);
  else if (self->preview)
    mt_analysis_free(self->preview);
  g_free(self->cache_note);
  g_free(self->path);
  g_free(self->compare_path);
  g_free(self->what_if);
  what_if_free(self->predicted);
  G_OBJECT_CLASS(mt_session_parent_class)->finalize(obj);
}

static void mt_session_get_property(GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtSession *self = MT_SESSION(obj);
  switch (id) {
  case PROP_ANALYSIS:
    g_value_set_pointer(value, self->analysis);
    break;
  case PROP_PREVIEW:
    g_value_set_pointer(value, self->preview);
    break;
  case PROP_BUDGET:
    g_value_set_uint64(value, self->budget);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

static void mt_session_set_property(GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtSession *self = MT_SESSION(obj);
  switch (id) {
  case PROP_BUDGET:
    mt_session_set_budget(self, g_value_get_uint64(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

static void mt_session_class_init(MtSessionClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  oc->finalize = mt_session_finalize;
  oc->get_property = mt_session_get_property;
  oc->set_property = mt_session_set_property;
  props[PROP_ANALYSIS] = g_param_spec_pointer("analysis", NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_PREVIEW] = g_param_spec_pointer("preview", NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_BUDGET] = g_param_spec_uint64("budget", NULL, NULL, 0, G_MAXUINT64, 0,
                                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(oc, N_PROPS, props);
  signals[SIG_LANES_READY] = g_signal_new("lanes-ready", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 0);
}

static void mt_session_init(MtSession *self)
{
  self->samples = 32768;
  self->use_cache = TRUE;
}

void mt_session_set_use_cache(MtSession *self, gboolean use)
{
  self->use_cache = use;
}

gboolean mt_session_preview_from_cache(MtSession *self)
{
  return self->preview_cache != NULL;
}

const char *mt_session_get_cache_note(MtSession *self)
{
  return self->cache_note;
}

MtSession *mt_session_new(const char *path)
{
  MtSession *self = g_object_new(MT_TYPE_SESSION, NULL);
  self->path = g_strdup(path);
  return self;
}

const char *mt_session_get_path(MtSession *self)
{
  return self->path;
}

void mt_session_set_samples(MtSession *self, size_t samples)
{
  self->samples = samples;
}

void mt_session_set_budget(MtSession *self, uint64_t bytes)
{
  if (self->budget == bytes)
    return;
  self->budget = bytes;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_BUDGET]);
}

uint64_t mt_session_get_budget(MtSession *self)
{
  return self->budget;
}

void mt_session_set_compare_path(MtSession *self, const char *path)
{
  g_free(self->compare_path);
  self->compare_path = g_strdup(path);
}

const mt_analysis *mt_session_get_analysis(MtSession *self)
{
  return self->analysis;
}

const mt_analysis *mt_session_get_preview(MtSession *self)
{
  return self->preview;
}

double mt_session_get_preview_seconds(MtSession *self)
{
  return self->preview_s;
}

const mt_analysis *mt_session_get_compare(MtSession *self)
{
  return self->compare;
}

const MtLanes *mt_session_get_lanes(MtSession *self, size_t rank)
{
  return self->lanes_loaded && rank < self->nlanes ? self->lanes[rank] : NULL;
}

gboolean mt_session_lanes_loaded(MtSession *self)
{
  return self->lanes_loaded;
}

double mt_session_get_analysis_seconds(MtSession *self)
{
  return self->analysis_s;
}

double mt_session_get_lanes_seconds(MtSession *self)
{
  return self->lanes_s;
}

/* ---- work done in threads: no GObject state is touched here ---------- */

/* A job (owned by its task) run by fn in a worker thread; callback on the
 * caller's main context; tag identifies the task for _finish. */
static void run_job(MtSession *self, gpointer tag, gpointer job, GDestroyNotify job_free, GTaskThreadFunc fn,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tag);
  g_task_set_task_data(task, job, job_free);
  g_task_run_in_thread(task, fn);
  g_object_unref(task);
}

typedef struct AnalysisJob {
  char *path, *compare_path, *what_if;
  size_t samples;
  gint64 started;                 /* monotonic us: when loading began */
  /* delivers the preview: called in the worker thread, owns it after */
  void (*deliver)(struct AnalysisJob *j, mt_analysis *preview, MtTlCache *cache, double seconds);
  gboolean use_cache;
  GBytes *cached;                 /* the cache delivered as the preview */
  char *cache_note;
  MtSession *session;             /* for deliver (a reference) */
  GMainContext *context;          /* where deliver posts to */
  MtSessionPreviewFunc on_preview; /* sync loading */
  gpointer on_preview_data;
  /* called in the worker once the first frame's data is there (or could
     not be had): starts the lanes, so that they do not compete with it */
  void (*preview_done)(struct AnalysisJob *j);
  struct LanesJob *lanes;         /* sync: what preview_done starts */
  GThread *lanes_thread;
  GCancellable *cancellable;      /* async: for the lanes task */
  mt_analysis *analysis, *compare;
  double seconds;
  WhatIf *predicted;
} AnalysisJob;

static void analysis_job_free(AnalysisJob *j)
{
  if (j->analysis)
    mt_analysis_free(j->analysis);
  if (j->compare)
    mt_analysis_free(j->compare);
  g_free(j->path);
  g_free(j->compare_path);
  g_free(j->what_if);
  g_free(j->cache_note);
  if (j->cached)
    g_bytes_unref(j->cached);
  what_if_free(j->predicted);
  if (j->session)
    g_object_unref(j->session);
  if (j->context)
    g_main_context_unref(j->context);
  g_clear_object(&j->cancellable);
  g_free(j);
}

/* A plan from memtrace replay's options, written as on its command line
 * ("--checkpoint all --zero 3", "--zero=3") or as name=value pairs
 * separated by commas ("checkpoint=all,zero=3"; a comma inside a value,
 * as in "checkpoint=layers:1,2", stays in it). */
static gboolean plan_parse(const char *spec, mt_rp_plan *plan, GError **error)
{
  mt_rp_plan_init(plan);
  GPtrArray *tok = g_ptr_array_new_with_free_func(g_free);
  char **words = g_strsplit_set(spec ? spec : "", " \t\n", -1);
  for (char **w = words; *w; w++) {
    if (!**w)
      continue;
    /* name=a,b,name=c: split before each comma-separated part with an '=' */
    const char *start = *w;
    for (const char *c = strchr(start, ','); c; c = strchr(c + 1, ',')) {
      const char *next_eq = strchr(c + 1, '='), *next_comma = strchr(c + 1, ',');
      if (strchr(start, '=') && next_eq && (!next_comma || next_eq < next_comma)) {
        g_ptr_array_add(tok, g_strndup(start, (gsize)(c - start)));
        start = c + 1;
      }
    }
    if (*start)
      g_ptr_array_add(tok, g_strdup(start));
  }
  g_strfreev(words);
  gboolean ok = TRUE;
  char err[512] = "";
  for (guint i = 0; ok && i < tok->len; i++) {
    char *name = g_ptr_array_index(tok, i);
    while (*name == '-')
      name++;
    char *eq = strchr(name, '=');
    const char *value = NULL;
    if (eq) {
      *eq = 0;
      value = eq + 1;
    } else if (i + 1 < tok->len)
      value = g_ptr_array_index(tok, ++i);
    int rc = mt_rp_plan_option(plan, name, value, err, sizeof err);
    if (rc != 1) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "what-if: %s",
                  rc < 0 && err[0] ? err : "not a replay option");
      if (rc == 0)
        g_prefix_error(error, "--%s: ", name);
      ok = FALSE;
    }
  }
  g_ptr_array_free(tok, TRUE);
  return ok;
}

/* Each rank of the analysis replayed under the plan, its predicted
 * memory sampled on as many points as the analysis's timeline.  A plan the
 * job model cannot express is refused as memtrace replay refuses it
 * (mt_rp_plan_refused), never drawn as "no change": NULL and the reason. */
static WhatIf *what_if_run(const mt_analysis *a, const mt_rp_plan *plan, GError **error)
{
  WhatIf *w = g_new0(WhatIf, 1);
  char desc[256], err[512];
  mt_rp_plan_describe(plan, desc, sizeof desc);
  w->label = g_strdup(desc);
  w->n = a->nranks;
  w->pred = g_new0(mt_rp_result, w->n ? w->n : 1);
  w->tl = g_new0(mt_rp_timeline, w->n ? w->n : 1);
  w->ok = g_new0(gboolean, w->n ? w->n : 1);
  for (size_t i = 0; i < w->n; i++) {
    mt_rp_input in;
    if (mt_rp_input_from_trace(a->ranks[i].path, &in, err, sizeof err) != 0) {
      g_warning("what-if: %s", err);
      continue;
    }
    char why[768];
    if (mt_rp_plan_refused(&in, plan, why, sizeof why)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s: cannot model %s", a->ranks[i].path, why);
      mt_rp_input_free(&in);
      what_if_free(w);
      return NULL;
    }
    size_t samples = a->ranks[i].timeline.n > 1 ? a->ranks[i].timeline.n : 2;
    w->ok[i] = mt_rp_replay_timeline(&in, plan, samples, &w->pred[i], &w->tl[i]) == 0;
    mt_rp_input_free(&in);
  }
  return w;
}

static gboolean run_what_if(AnalysisJob *j, GError **error)
{
  mt_rp_plan plan;
  if (!plan_parse(j->what_if, &plan, error))
    return FALSE;
  j->predicted = what_if_run(j->analysis, &plan, error);
  return j->predicted != NULL;
}

static struct LanesJob *lanes_job_new(const char *path);
static void lanes_job_free(struct LanesJob *j);

/* Opens each trace of the path once (with mt_view_trace_open's retries)
 * before the analysis does: the first open of a finished trace writes its
 * analysis index, and the analysis's own open does not wait for the lanes
 * thread doing that at the same moment. */
static void settle_traces(const char *path);

static gboolean run_analysis(AnalysisJob *j, GError **error)
{
  settle_traces(j->path);
  mt_error err = { 0 };
  MtTlCache *cache = j->deliver && j->use_cache ? mt_tlcache_load(j->path, j->samples) : NULL;
  if (cache) {
    /* the last full analysis's timeline, categorised: drawn at once */
    j->cached = mt_tlcache_bytes(cache);
    j->deliver(j, NULL, cache, (g_get_monotonic_time() - j->started) / 1e6);
  } else if (j->deliver) {
    /* the memory-only first pass: a curve to draw while the rest runs */
    mt_analysis_opts q = { .rank = -1, .timeline_samples = j->samples, .memory_only = 1 };
    mt_analysis *preview = NULL;
    if (mt_analysis_run(j->path, &q, &preview, &err) == MT_OK)
      j->deliver(j, preview, NULL, (g_get_monotonic_time() - j->started) / 1e6);
    /* on failure the full analysis below says why */
    memset(&err, 0, sizeof err);
  }
  if (j->preview_done)
    j->preview_done(j);
  gint64 t0 = g_get_monotonic_time();
  char *key_before = j->use_cache ? mt_tlcache_key(j->path, j->samples) : NULL;
  mt_analysis_opts opts = { .rank = -1, .timeline_samples = j->samples, .max_objects = 10000 };
  if (mt_analysis_run(j->path, &opts, &j->analysis, &err) != MT_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.msg[0] ? err.msg : "analysis failed");
    g_free(key_before);
    return FALSE;
  }
  if (j->use_cache) {
    /* validate the cache that was drawn, or write one for the next open */
    GError *e = NULL;
    if (j->cached && mt_tlcache_matches(j->cached, j->analysis))
      j->cache_note = g_strdup("timeline cache: used, and the analysis agreed with it");
    else if (mt_tlcache_store(j->path, j->samples, key_before, j->analysis, &e))
      j->cache_note = g_strdup(j->cached ? "timeline cache: used, differed from the analysis: rewritten"
                                         : "timeline cache: none valid: written");
    else {
      j->cache_note = g_strdup_printf("timeline cache: not written: %s", e->message);
      g_error_free(e);
    }
  }
  g_free(key_before);
  if (j->compare_path && mt_analysis_run(j->compare_path, &opts, &j->compare, &err) != MT_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.msg[0] ? err.msg : "analysis failed");
    return FALSE;
  }
  j->seconds = (g_get_monotonic_time() - t0) / 1e6;
  if (j->what_if)
    return run_what_if(j, error);
  return TRUE;
}

struct LanesJob {
  char **paths;
  size_t n;
  MtLanes **lanes;
  double seconds;
};
typedef struct LanesJob LanesJob;

static void lanes_job_free(LanesJob *j)
{
  if (j->lanes)
    for (size_t i = 0; i < j->n; i++)
      mt_lanes_free(j->lanes[i]);
  g_free(j->lanes);
  g_strfreev(j->paths);
  g_free(j);
}

static void run_lanes(LanesJob *j)
{
  gint64 t0 = g_get_monotonic_time();
  j->lanes = g_new0(MtLanes *, j->n ? j->n : 1);
  for (size_t i = 0; i < j->n; i++) {
    GError *e = NULL;
    j->lanes[i] = mt_lanes_load(j->paths[i], &e);
    if (!j->lanes[i]) {
      g_warning("lanes of %s: %s", j->paths[i], e->message);
      g_error_free(e);
    }
  }
  j->seconds = (g_get_monotonic_time() - t0) / 1e6;
}

/* The traces of a path as the analysis defines them: the file itself, or
 * every *.mtrace in a run directory.  Listed here so that the lanes load
 * beside the analysis instead of after it. */
static LanesJob *lanes_job_new(const char *path)
{
  LanesJob *j = g_new0(LanesJob, 1);
  GPtrArray *paths = g_ptr_array_new();
  if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir)))
      if (g_str_has_suffix(name, ".mtrace"))
        g_ptr_array_add(paths, g_build_filename(path, name, NULL));
    if (dir)
      g_dir_close(dir);
  } else
    g_ptr_array_add(paths, g_strdup(path));
  j->n = paths->len;
  g_ptr_array_add(paths, NULL);
  j->paths = (char **)g_ptr_array_free(paths, FALSE);
  return j;
}

static void settle_traces(const char *path)
{
  LanesJob *lj = lanes_job_new(path);
  for (size_t i = 0; i < lj->n; i++) {
    mt_trace *t = NULL;
    mt_error e = { 0 };
    if (mt_view_trace_open(lj->paths[i], &t, &e) == MT_OK)
      mt_trace_close(t);
  }
  lanes_job_free(lj);
}

static gboolean same_file(const char *a, const char *b)
{
  if (!g_strcmp0(a, b))
    return TRUE;
  GFile *fa = g_file_new_for_path(a), *fb = g_file_new_for_path(b);
  gboolean eq = g_file_equal(fa, fb);
  g_object_unref(fa);
  g_object_unref(fb);
  return eq;
}

/* Gives each rank of the analysis the lanes of its trace. */
static void adopt_lanes(MtSession *self, LanesJob *j)
{
  const mt_analysis *a = self->analysis;
  self->nlanes = a->nranks;
  self->lanes = g_new0(MtLanes *, a->nranks ? a->nranks : 1);
  for (size_t r = 0; r < a->nranks; r++)
    for (size_t i = 0; i < j->n; i++)
      if (j->lanes[i] && same_file(a->ranks[r].path, j->paths[i])) {
        self->lanes[r] = j->lanes[i];
        j->lanes[i] = NULL;
        break;
      }
  self->lanes_s = j->seconds;
  self->lanes_loaded = TRUE;
}

static void adopt_analysis(MtSession *self, AnalysisJob *j)
{
  what_if_free(self->predicted);
  self->predicted = j->predicted;
  j->predicted = NULL;
  self->analysis = j->analysis;
  self->compare = j->compare;
  j->analysis = j->compare = NULL;
  self->analysis_s = j->seconds;
  g_free(self->cache_note);
  self->cache_note = j->cache_note;
  j->cache_note = NULL;
}

static void adopt_preview(MtSession *self, mt_analysis *preview, MtTlCache *cache, double seconds)
{
  if (self->analysis || self->preview) {   /* late: the full one is there */
    if (cache)
      mt_tlcache_free(cache);
    else
      mt_analysis_free(preview);
    return;
  }
  self->preview_cache = cache;
  self->preview = cache ? (mt_analysis *)mt_tlcache_analysis(cache) : preview;
  self->preview_s = seconds;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PREVIEW]);
}

/* sync: in the calling thread */
static void deliver_here(AnalysisJob *j, mt_analysis *preview, MtTlCache *cache, double seconds)
{
  adopt_preview(j->session, preview, cache, seconds);
  if (j->on_preview)
    j->on_preview(j->session, j->on_preview_data);
}

typedef struct PreviewMsg {
  MtSession *session;
  mt_analysis *preview;
  MtTlCache *cache;
  double seconds;
} PreviewMsg;

static gboolean preview_idle(gpointer data)
{
  PreviewMsg *m = data;
  adopt_preview(m->session, m->preview, m->cache, m->seconds);
  g_object_unref(m->session);
  g_free(m);
  return G_SOURCE_REMOVE;
}

/* async: from the worker to the session's main context */
static void deliver_posted(AnalysisJob *j, mt_analysis *preview, MtTlCache *cache, double seconds)
{
  PreviewMsg *m = g_new0(PreviewMsg, 1);
  m->session = g_object_ref(j->session);
  m->preview = preview;
  m->cache = cache;
  m->seconds = seconds;
  g_main_context_invoke_full(j->context, G_PRIORITY_DEFAULT, preview_idle, m, NULL);
}

static gpointer lanes_gthread(gpointer data)
{
  run_lanes(data);
  return NULL;
}

static void start_lanes_thread(AnalysisJob *j)
{
  j->lanes_thread = g_thread_new("mt-lanes", lanes_gthread, j->lanes);
}

gboolean mt_session_load_preview_sync(MtSession *self, GError **error)
{
  g_return_val_if_fail(!self->preview, FALSE);
  gint64 t0 = g_get_monotonic_time();
  mt_analysis_opts q = { .rank = -1, .timeline_samples = self->samples, .memory_only = 1 };
  mt_error err = { 0 };
  mt_analysis *a = NULL;
  if (mt_analysis_run(self->path, &q, &a, &err) != MT_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.msg[0] ? err.msg : "analysis failed");
    return FALSE;
  }
  adopt_preview(self, a, NULL, (g_get_monotonic_time() - t0) / 1e6);
  return TRUE;
}

gboolean mt_session_load_cached_sync(MtSession *self, GError **error)
{
  g_return_val_if_fail(!self->preview, FALSE);
  gint64 t0 = g_get_monotonic_time();
  MtTlCache *c = mt_tlcache_load(self->path, self->samples);
  if (!c) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no valid timeline cache", self->path);
    return FALSE;
  }
  adopt_preview(self, NULL, c, (g_get_monotonic_time() - t0) / 1e6);
  return TRUE;
}

gboolean mt_session_load_sync(MtSession *self, GError **error)
{
  return mt_session_load_sync_progressive(self, NULL, NULL, error);
}

gboolean mt_session_load_sync_progressive(MtSession *self, MtSessionPreviewFunc on_preview, gpointer user_data,
                                          GError **error)
{
  g_return_val_if_fail(!self->analysis, FALSE);
  AnalysisJob *j = g_new0(AnalysisJob, 1);
  j->started = g_get_monotonic_time();
  LanesJob *lj = lanes_job_new(self->path);
  /* the lanes load beside the analysis once the first frame is there */
  j->lanes = lj;
  j->preview_done = start_lanes_thread;
  if (on_preview) {
    j->deliver = deliver_here;
    j->session = g_object_ref(self);
    j->on_preview = on_preview;
    j->on_preview_data = user_data;
  }
  j->path = g_strdup(self->path);
  j->compare_path = g_strdup(self->compare_path);
  j->what_if = g_strdup(self->what_if);
  j->samples = self->samples;
  j->use_cache = self->use_cache;
  gboolean ok = run_analysis(j, error);
  if (ok)
    adopt_analysis(self, j);
  GThread *th = j->lanes_thread;
  analysis_job_free(j);
  if (th)
    g_thread_join(th);
  else
    run_lanes(lj);
  if (ok)
    adopt_lanes(self, lj);
  lanes_job_free(lj);
  return ok;
}

static void lanes_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  (void)source;
  (void)cancellable;
  run_lanes(data);
  g_task_return_boolean(task, TRUE);
}

static void lanes_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
  (void)user_data;
  MtSession *self = MT_SESSION(source);
  LanesJob *j = g_task_get_task_data(G_TASK(res));
  if (!g_task_propagate_boolean(G_TASK(res), NULL))
    return;
  /* keep the job (held by its task) until the analysis is there to match
   * ranks with traces */
  if (!self->analysis) {
    self->pending_lanes = j;
    self->pending_task = g_object_ref(G_OBJECT(res));
  } else {
    adopt_lanes(self, j);
    g_signal_emit(self, signals[SIG_LANES_READY], 0);
  }
}

static void analysis_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  (void)source;
  (void)cancellable;
  GError *error = NULL;
  if (run_analysis(data, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
}

static void start_lanes_task(MtSession *self, GCancellable *cancellable)
{
  run_job(self, start_lanes_task, lanes_job_new(self->path), (GDestroyNotify)lanes_job_free, lanes_thread, cancellable,
          lanes_done, NULL);
}

typedef struct LanesStartMsg {
  MtSession *session;
  GCancellable *cancellable;
} LanesStartMsg;

static gboolean lanes_start_idle(gpointer data)
{
  LanesStartMsg *m = data;
  start_lanes_task(m->session, m->cancellable);
  g_object_unref(m->session);
  g_clear_object(&m->cancellable);
  g_free(m);
  return G_SOURCE_REMOVE;
}

/* async: from the worker, after the preview message (same context, same
   priority: the preview is adopted first) */
static void post_lanes_start(AnalysisJob *j)
{
  LanesStartMsg *m = g_new0(LanesStartMsg, 1);
  m->session = g_object_ref(j->session);
  m->cancellable = j->cancellable ? g_object_ref(j->cancellable) : NULL;
  g_main_context_invoke_full(j->context, G_PRIORITY_DEFAULT, lanes_start_idle, m, NULL);
}

void mt_session_load_async(MtSession *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  AnalysisJob *j = g_new0(AnalysisJob, 1);
  j->started = g_get_monotonic_time();
  j->deliver = deliver_posted;
  j->session = g_object_ref(self);
  j->context = g_main_context_ref_thread_default();
  j->path = g_strdup(self->path);
  j->compare_path = g_strdup(self->compare_path);
  j->what_if = g_strdup(self->what_if);
  j->samples = self->samples;
  j->use_cache = self->use_cache;
  /* the lanes load in their own worker, started once the first frame is
     there (they are shown with the analysis, which takes longer) */
  j->preview_done = post_lanes_start;
  j->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
  run_job(self, mt_session_load_async, j, (GDestroyNotify)analysis_job_free, analysis_thread, cancellable, callback,
          user_data);
}

gboolean mt_session_load_finish(MtSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  if (!g_task_propagate_boolean(G_TASK(result), error))
    return FALSE;
  adopt_analysis(self, g_task_get_task_data(G_TASK(result)));
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ANALYSIS]);
  if (self->pending_lanes) {
    adopt_lanes(self, self->pending_lanes);
    self->pending_lanes = NULL;
    g_clear_object(&self->pending_task);
    g_signal_emit(self, signals[SIG_LANES_READY], 0);
  }
  return TRUE;
}

void mt_session_set_what_if(MtSession *self, const char *spec)
{
  g_free(self->what_if);
  self->what_if = g_strdup(spec);
}

void mt_session_what_if_to_chart(MtSession *self, MtChartData *d)
{
  WhatIf *w = self->predicted;
  size_t r = d->rank;
  d->what_if_peak = 0;
  d->what_if_label = NULL;
  d->what_if_allocated = d->what_if_reserved = (MtCurve){ 0 };
  if (!w || !self->analysis || r >= w->n || !w->ok[r])
    return;
  d->what_if_peak = w->pred[r].peak_allocated;
  d->what_if_label = w->label;
  const mt_rp_timeline *tl = &w->tl[r];
  if (tl->n < 2)
    return;
  d->what_if_allocated = (MtCurve){ tl->n, tl->t0, tl->dt, tl->allocated, tl->allocated_max };
  d->what_if_reserved = (MtCurve){ tl->n, tl->t0, tl->dt, tl->reserved, tl->reserved_max };
}

typedef struct WhatIfJob {
  mt_rp_plan plan;
  const mt_analysis *analysis;       /* the session's: read-only, outlives the task (it holds the session) */
  WhatIf *result;
} WhatIfJob;

static void what_if_job_free(WhatIfJob *j)
{
  what_if_free(j->result);
  g_free(j);
}

static void what_if_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  WhatIfJob *j = data;
  GError *e = NULL;
  j->result = what_if_run(j->analysis, &j->plan, &e);
  if (j->result)
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, e);
}

gboolean mt_session_what_if_async(MtSession *self, const char *spec, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data, GError **error)
{
  if (!self->analysis) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_PENDING, "what-if: the analysis is not there yet");
    return FALSE;
  }
  WhatIfJob *j = g_new0(WhatIfJob, 1);
  if (!plan_parse(spec, &j->plan, error)) {
    g_free(j);
    return FALSE;
  }
  j->analysis = self->analysis;
  run_job(self, mt_session_what_if_async, j, (GDestroyNotify)what_if_job_free, what_if_thread, cancellable, callback,
          user_data);
  g_free(self->what_if);
  self->what_if = g_strdup(spec);
  return TRUE;
}

gboolean mt_session_what_if_finish(MtSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  if (!g_task_propagate_boolean(G_TASK(result), error))
    return FALSE;
  WhatIfJob *j = g_task_get_task_data(G_TASK(result));
  what_if_free(self->predicted);
  self->predicted = j->result;
  j->result = NULL;
  return TRUE;
}

void mt_session_clear_what_if(MtSession *self)
{
  g_clear_pointer(&self->what_if, g_free);
  g_clear_pointer(&self->predicted, what_if_free);
}

/* ---- recommend: plans for a budget ------------------------------------- */

typedef struct RecommendJob {
  const mt_analysis *analysis;       /* the session's, read-only */
  uint64_t budget;
  size_t max;
  MtPlanChoice *out;
  size_t n;
  char err[512];
} RecommendJob;

static void recommend_job_free(RecommendJob *j)
{
  g_free(j->out);
  g_free(j);
}

/* memtrace recommend's search, on the rank whose replayed baseline reserves
 * the most (a plan must fit every rank), as the command plans. */
static void recommend_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RecommendJob *j = data;
  mt_rp_input in, x;
  uint64_t best_peak = 0;
  int have = 0;
  for (size_t i = 0; i < j->analysis->nranks; i++) {
    mt_rp_result r;
    if (mt_rp_input_from_trace(j->analysis->ranks[i].path, &x, j->err, sizeof j->err) != 0) {
      if (have)
        mt_rp_input_free(&in);
      g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "recommend: %s", j->err);
      return;
    }
    if (mt_rp_baseline(&x, MT_RP_ALLOC_CACHING, &r) == 0 && (!have || r.peak_reserved > best_peak)) {
      if (have)
        mt_rp_input_free(&in);
      in = x;
      have = 1;
      best_peak = r.peak_reserved;
    } else
      mt_rp_input_free(&x);
  }
  mt_rp_recommend_opts o = { .budget = j->budget, .max_overhead = -1, .allocator = MT_RP_ALLOC_CACHING };
  mt_rp_choice *c = NULL;
  size_t nc = 0, explored = 0;
  int rc = have ? mt_rp_recommend(&in, &o, &c, &nc, &explored) : -1;
  if (have)
    mt_rp_input_free(&in);
  if (rc != 0) {
    free(c);
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "recommend: no plan could be replayed");
    return;
  }
  /* the fitting plans in their order; when none fits, the closest ones */
  int any_fits = nc && c[0].fits;
  j->out = g_new0(MtPlanChoice, j->max ? j->max : 1);
  for (size_t i = 0; i < nc && j->n < j->max && (!any_fits || c[i].fits); i++) {
    MtPlanChoice *p = &j->out[j->n++];
    g_strlcpy(p->options, c[i].options, sizeof p->options);
    p->peak_allocated = c[i].result.peak_allocated;
    p->peak_reserved = c[i].result.peak_reserved;
    p->compute_overhead = c[i].compute_overhead;
    p->comm_overhead = c[i].comm_overhead;
    p->fits = c[i].fits;
  }
  free(c);
  g_task_return_boolean(task, TRUE);
}

gboolean mt_session_recommend_async(MtSession *self, uint64_t budget, size_t max, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data, GError **error)
{
  if (!self->analysis) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_PENDING, "recommend: the analysis is not there yet");
    return FALSE;
  }
  if (!budget) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "recommend: needs a budget (70GiB, 80GB, bytes)");
    return FALSE;
  }
  RecommendJob *j = g_new0(RecommendJob, 1);
  j->analysis = self->analysis;
  j->budget = budget;
  j->max = max;
  run_job(self, mt_session_recommend_async, j, (GDestroyNotify)recommend_job_free, recommend_thread, cancellable,
          callback, user_data);
  return TRUE;
}

MtPlanChoice *mt_session_recommend_finish(MtSession *self, GAsyncResult *result, size_t *n, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), NULL);
  *n = 0;
  if (!g_task_propagate_boolean(G_TASK(result), error))
    return NULL;
  RecommendJob *j = g_task_get_task_data(G_TASK(result));
  MtPlanChoice *out = j->out;
  *n = j->n;
  j->out = NULL;
  return out;
}
