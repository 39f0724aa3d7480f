/* MtSession: the document.  One object per opened trace or run directory:
 * it owns the analysis (libmemtrace-analysis), the presentation lanes of
 * each rank, an optional second run to compare with, and the settings
 * every view shares (budget).  Views hold a reference and listen to its
 * signals; they never load anything themselves.
 *
 * Loading happens off the main loop in GTasks, progressively:
 *   1. the preview: the analysis's memory-only first pass (mem_events and
 *      region_events only; allocated and reserved over time, the peaks,
 *      no categories): "notify::preview", typically a small fraction of
 *      the full analysis's time on a large trace;
 *   2. the full analysis (categories, snapshots): "notify::analysis";
 *   3. the lanes of every rank, read beside 1 and 2 ("lanes-ready").
 * The preview's allocated/reserved curve is the full analysis's, sample for
 * sample (tests/analyzer/test_analysis.c), so the chart only gains the
 * categories when the full analysis replaces it.  The headless paths
 * (--screenshot, --bench) use mt_session_load_sync. */
#ifndef MT_GUI_SESSION_H
#define MT_GUI_SESSION_H

#include <gio/gio.h>
#include "analyzer/lib/analysis.h"
#include "gui/lanes.h"
#include "gui/chart.h"

G_BEGIN_DECLS

#define MT_TYPE_SESSION (mt_session_get_type())
G_DECLARE_FINAL_TYPE(MtSession, mt_session, MT, SESSION, GObject)

MtSession *mt_session_new(const char *path);
const char *mt_session_get_path(MtSession *self);

/* Samples asked of the analysis per rank timeline (default 32768). */
void mt_session_set_samples(MtSession *self, size_t samples);
void mt_session_set_budget(MtSession *self, uint64_t bytes);
uint64_t mt_session_get_budget(MtSession *self);
/* A second trace/run drawn over this one on the same time axis. */
void mt_session_set_compare_path(MtSession *self, const char *path);

/* A replay plan whose prediction is drawn over each rank: memtrace
 * replay's options, "--checkpoint all --zero 3" or "checkpoint=all,zero=3". */
void mt_session_set_what_if(MtSession *self, const char *spec);
/* The prediction for the chart's rank (d->rank) into d: the predicted
 * peak, the plan, and the predicted allocated/reserved curves (sampled
 * like the analysis's timeline); zeros when there is none. */
void mt_session_what_if_to_chart(MtSession *self, MtChartData *d);

/* Chooses another plan once the analysis is there: spec is parsed at once
 * (FALSE and error when it is not a plan: nothing changes), the ranks are
 * replayed in a worker thread, and _finish puts the new predictions in
 * place of the old ones (which stay until then). */
gboolean mt_session_what_if_async(MtSession *self, const char *spec, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data, GError **error);
gboolean mt_session_what_if_finish(MtSession *self, GAsyncResult *result, GError **error);
/* No plan: nothing predicted is drawn. */
void mt_session_clear_what_if(MtSession *self);

/* One plan memtrace recommend proposes (analyzer/replay/planner.h). */
typedef struct MtPlanChoice {
  char options[512];                 /* as memtrace replay's options */
  uint64_t peak_allocated, peak_reserved;
  double compute_overhead, comm_overhead;   /* fractions of the recorded step */
  gboolean fits;
} MtPlanChoice;
/* memtrace recommend for a budget (compared with peak reserved) in a
 * worker thread, on the rank that reserves the most, as the command plans.
 * FALSE and error when it cannot start (no analysis yet, no budget).
 * _finish returns at most max plans (g_free the array): the fitting ones in
 * recommend's order, or when none fits the closest ones (fits FALSE). */
gboolean mt_session_recommend_async(MtSession *self, uint64_t budget, size_t max, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data, GError **error);
MtPlanChoice *mt_session_recommend_finish(MtSession *self, GAsyncResult *result, size_t *n, GError **error);

/* Loads the analysis, then the lanes, in worker threads; `callback` runs
 * when the analysis is ready (lanes follow with "lanes-ready"). */
void mt_session_load_async(MtSession *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
gboolean mt_session_load_finish(MtSession *self, GAsyncResult *result, GError **error);
/* Everything, in the calling thread (the lanes in a second thread).  When
 * on_preview is given it is called, in the calling thread, as soon as the
 * preview is there and before the full analysis starts. */
typedef void (*MtSessionPreviewFunc)(MtSession *self, gpointer user_data);
gboolean mt_session_load_sync(MtSession *self, GError **error);
gboolean mt_session_load_sync_progressive(MtSession *self, MtSessionPreviewFunc on_preview, gpointer user_data,
                                          GError **error);

/* Only the preview, in the calling thread (no lanes, no full analysis). */
gboolean mt_session_load_preview_sync(MtSession *self, GError **error);
/* Only the timeline cache (gui/tlcache.h) as the preview; fails when there
 * is no valid one. */
gboolean mt_session_load_cached_sync(MtSession *self, GError **error);

/* Whether loading reads the timeline cache first (then the preview is the
 * last full analysis's categorised timeline, drawn at once, instead of the
 * memory-only pass) and writes it after the full analysis.  Default TRUE. */
void mt_session_set_use_cache(MtSession *self, gboolean use);
gboolean mt_session_preview_from_cache(MtSession *self);
/* What the cache did on this load, one line, or NULL. */
const char *mt_session_get_cache_note(MtSession *self);

/* The memory-only preview (ranks with memory_only set), or NULL before it
 * is there (or when it failed: the full analysis reports the error).
 * Owned by the session; stays valid until the session is finalized. */
const mt_analysis *mt_session_get_preview(MtSession *self);

/* NULL until loaded.  Owned by the session, read-only. */
const mt_analysis *mt_session_get_analysis(MtSession *self);
const mt_analysis *mt_session_get_compare(MtSession *self);
/* Lanes of rank index i, or NULL while they load (or failed). */
const MtLanes *mt_session_get_lanes(MtSession *self, size_t rank);
gboolean mt_session_lanes_loaded(MtSession *self);

/* Seconds spent in mt_analysis_run and in loading lanes. */
double mt_session_get_analysis_seconds(MtSession *self);
/* Seconds from the start of loading to the preview. */
double mt_session_get_preview_seconds(MtSession *self);
double mt_session_get_lanes_seconds(MtSession *self);

G_END_DECLS

#endif
