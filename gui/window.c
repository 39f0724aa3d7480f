#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schemas/trace.h"
#include "schemas/reader.h"
#include "gui/window.h"
#include "gui/chart-widget.h"
#include "gui/liveset.h"
#include "gui/palette.h"
#include "gui/units.h"
#include "gui/recent.h"

/* ---- a row of the live table --------------------------------------------- */

#define MT_TYPE_LIVE_ROW (mt_live_row_get_type())
G_DECLARE_FINAL_TYPE(MtLiveRow, mt_live_row, MT, LIVE_ROW, GObject)
struct _MtLiveRow {
  GObject parent_instance;
  const MtLiveObject *o;   /* owned by the window's current live set */
};
G_DEFINE_FINAL_TYPE(MtLiveRow, mt_live_row, G_TYPE_OBJECT)
static void mt_live_row_class_init(MtLiveRowClass *k) { (void)k; }
static void mt_live_row_init(MtLiveRow *r) { (void)r; }

static MtLiveRow *live_row_new(const MtLiveObject *o)
{
  MtLiveRow *r = g_object_new(MT_TYPE_LIVE_ROW, NULL);
  r->o = o;
  return r;
}

/* ---- the window -------------------------------------------------------------- */

struct _MtWindow {
  GtkApplicationWindow parent_instance;
  MtSession *session;
  MtViewOptions opts;
  GtkWidget *chart, *title, *subtitle, *rank_drop, *status, *details, *table, *ranks_toggle, *stack;
  GtkWidget *spinner;
  GtkWidget *what_if_button, *what_if_entry, *what_if_status, *budget_entry, *plan_list;
  MtPlanChoice *plans;         /* memtrace recommend's, shown in the what-if popover */
  size_t nplans;
  GMenu *recent_menu;          /* refilled on the recent manager's "changed" */
  GListStore *rows;
  MtLiveSet *live;
  GCancellable *cancel;
  guint64 live_generation;
  char **script;
  int script_pos;
  int pending;              /* what-if / recommend tasks not done: --script's wait-idle */
  gint64 idle_deadline;     /* wait-idle: monotonic us */
  gboolean lanes_ready;
  gboolean showing_preview;   /* the chart draws the memory-only preview */
  char *load_error;           /* the trace could not be read: the chart says why */
};

G_DEFINE_FINAL_TYPE(MtWindow, mt_window, GTK_TYPE_APPLICATION_WINDOW)

static MtChartWidget *chart_of(MtWindow *self)
{
  return MT_CHART_WIDGET(self->chart);
}

static void set_details(MtWindow *self, const char *text)
{
  if (!self->details) {   /* the empty window: its message says it */
    gtk_label_set_text(GTK_LABEL(self->status), text ? text : "");
    return;
  }
  gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(self->details)), text ? text : "", -1);
}

static void update_status(MtWindow *self)
{
  const mt_analysis *a = mt_session_get_analysis(self->session);
  char buf[512];
  const mt_analysis *pv = mt_session_get_preview(self->session);
  if (!a && pv) {
    g_snprintf(buf, sizeof buf, "Analysing %s\xe2\x80\xa6 \xc2\xb7 memory curve after %.2f s; categories, the "
               "live table and lanes follow", mt_session_get_path(self->session),
               mt_session_get_preview_seconds(self->session));
  } else if (!a) {
    g_snprintf(buf, sizeof buf, "Analysing %s\xe2\x80\xa6", mt_session_get_path(self->session));
  } else {
    MtChartData *d = mt_chart_widget_get_data(chart_of(self));
    const mt_rank *r = mt_chart_rank(d);
    char pk[32], rs[32], dr[64];
    /* how many: the numbers beside it are short by them */
    if (r && r->dropped)
      g_snprintf(dr, sizeof dr, "%llu events dropped", (unsigned long long)r->dropped);
    else
      g_snprintf(dr, sizeof dr, "nothing dropped");
    g_snprintf(buf, sizeof buf, "%s%s \xc2\xb7 peak allocated %s, reserved %s \xc2\xb7 analysis %.2f s%s%s \xc2\xb7 frame %.1f ms%s",
               r && r->incomplete ? "incomplete trace \xc2\xb7 " : "",
               dr,
               r ? mt_size_str(r->peak_allocated, pk, sizeof pk) : "-",
               r ? mt_size_str(r->peak_reserved, rs, sizeof rs) : "-", mt_session_get_analysis_seconds(self->session),
               self->lanes_ready ? ", lanes " : ", loading lanes\xe2\x80\xa6", "",
               mt_chart_widget_last_frame_ms(chart_of(self)), "");
    if (self->lanes_ready) {
      char tmp[64];
      g_snprintf(tmp, sizeof tmp, "%.2f s", mt_session_get_lanes_seconds(self->session));
      char *p = strstr(buf, ", lanes ");
      if (p) {
        char rest[512];
        g_strlcpy(rest, p + 8, sizeof rest);
        g_snprintf(p, sizeof buf - (size_t)(p - buf), ", lanes %s%s", tmp, rest);
      }
    }
  }
  gtk_label_set_text(GTK_LABEL(self->status), buf);
}

/* The session's prediction for the rank shown, into the chart's data. */
static void what_if_to_chart(MtWindow *self)
{
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  mt_session_what_if_to_chart(self->session, d);
  if (self->what_if_status) {
    char buf[400], pk[32];
    if (d->what_if_peak)
      g_snprintf(buf, sizeof buf, "%s: predicted peak %s", d->what_if_label,
                 mt_size_str(d->what_if_peak, pk, sizeof pk));
    else
      g_snprintf(buf, sizeof buf, "No plan: only the recording is drawn.");
    gtk_label_set_text(GTK_LABEL(self->what_if_status), buf);
  }
}

static void show_rank(MtWindow *self, size_t index)
{
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  d->rank = index;
  d->lanes = mt_session_get_lanes(self->session, index);
  what_if_to_chart(self);
  d->lanes_loading = !self->lanes_ready;
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  unsigned hidden = v->hidden;
  int dark = v->dark, mode = v->mode;
  mt_view_init(v, d);
  v->hidden = hidden;
  v->dark = dark;
  v->mode = mode;
  const mt_rank *r = mt_chart_rank(d);
  if (r) {
    char sub[256], pk[32];
    g_snprintf(sub, sizeof sub, "rank %d of %zu \xc2\xb7 peak %s", r->rank, d->analysis->nranks,
               mt_size_str(r->peak_allocated, pk, sizeof pk));
    gtk_label_set_text(GTK_LABEL(self->subtitle), sub);
    char desc[256];
    g_snprintf(desc, sizeof desc, "Memory timeline of rank %d; peak allocated %s", r->rank, pk);
    gtk_accessible_update_property(GTK_ACCESSIBLE(self->chart), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc, -1);
  }
  mt_chart_widget_changed(chart_of(self));
  update_status(self);
}

/* ---- the live table ----------------------------------------------------- */

static void live_done(GObject *src, GAsyncResult *res, gpointer data)
{
  MtWindow *self = MT_WINDOW(data);
  GError *e = NULL;
  MtLiveSet *set = g_task_propagate_pointer(G_TASK(res), &e);
  guint64 gen = GPOINTER_TO_SIZE(g_task_get_task_data(G_TASK(res)));
  if (!set) {
    if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      set_details(self, e->message);
    g_error_free(e);
    g_object_unref(self);
    return;
  }
  if (gen != self->live_generation) {
    mt_liveset_free(set);
    g_object_unref(self);
    return;
  }
  g_list_store_remove_all(self->rows);
  mt_liveset_free(self->live);
  self->live = set;
  GPtrArray *items = g_ptr_array_new_with_free_func(g_object_unref);
  for (size_t i = 0; i < set->n; i++)
    g_ptr_array_add(items, live_row_new(&set->objects[i]));
  g_list_store_splice(self->rows, 0, 0, items->pdata, items->len);
  g_ptr_array_unref(items);
  char tot[32], t[48];
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  char *msg = g_strdup_printf("%zu objects live at %s, %s%s", set->n,
                              mt_time_str(set->ts, v->t1 - v->t0, t, sizeof t),
                              mt_size_str(set->total, tot, sizeof tot),
                              set->from_analysis ? " (the analysis's peak snapshot)" :
                                                   " (categories shown for objects also live at the peak)");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->table), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, msg, -1);
  set_details(self, msg);
  g_free(msg);
  g_object_unref(self);
}

typedef struct LiveJob {
  const mt_rank *rank;
  int64_t ts;
} LiveJob;

static void live_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
  LiveJob *j = g_object_get_data(G_OBJECT(task), "job");
  GError *e = NULL;
  MtLiveSet *s = mt_liveset_at(j->rank, j->ts, &e);
  if (s)
    g_task_return_pointer(task, s, (GDestroyNotify)mt_liveset_free);
  else
    g_task_return_error(task, e);
}

static void select_time(MtWindow *self, int64_t ts)
{
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  const mt_rank *r = mt_chart_rank(d);
  if (!r)
    return;
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  v->cursor = ts;
  v->hl0 = v->hl1 = MT_NONE;
  mt_chart_widget_changed(chart_of(self));
  self->live_generation++;
  LiveJob *j = g_new(LiveJob, 1);
  j->rank = r;
  j->ts = ts;
  GTask *task = g_task_new(NULL, self->cancel, live_done, g_object_ref(self));
  g_task_set_task_data(task, GSIZE_TO_POINTER(self->live_generation), NULL);
  g_object_set_data_full(G_OBJECT(task), "job", j, g_free);
  g_task_run_in_thread(task, live_thread);
  g_object_unref(task);
  char t[48];
  char *msg = g_strdup_printf("Finding what is live at %s\xe2\x80\xa6", mt_time_str(ts, v->t1 - v->t0, t, sizeof t));
  set_details(self, msg);
  g_free(msg);
}

static char *object_text(MtWindow *self, const MtLiveObject *o)
{
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  const mt_rank *r = mt_chart_rank(d);
  GString *s = g_string_new(NULL);
  char sz[32], a[48], b[48];
  g_string_append_printf(s, "%s  %s at 0x%llx%s\n", mt_size_str(o->size, sz, sizeof sz),
                         o->is_tensor ? "tensor block" : "device allocation", (unsigned long long)o->addr,
                         o->label ? "" : "");
  if (o->label)
    g_string_append_printf(s, "label: %s\n", o->label);
  if (o->category >= 0)
    g_string_append_printf(s, "category: %s\nrule: %s (%s)\n", mt_category_name(o->category), mt_rule_name(o->rule),
                           mt_rule_text(o->rule));
  else
    g_string_append(s, "category: not computed here (the analysis categorises what is live at the peak)\n");
  g_string_append_printf(s, "lifetime: %s .. %s", mt_time_str(o->alloc_ts, r->last_ts - r->first_ts, a, sizeof a),
                         o->free_ts < 0 ? "end" : mt_time_str(o->free_ts, r->last_ts - r->first_ts, b, sizeof b));
  if (o->free_ts >= 0)
    g_string_append_printf(s, " (%s)", mt_dur_str(o->free_ts - o->alloc_ts, a, sizeof a));
  g_string_append_c(s, '\n');
  char ph[256];
  if (o->phase) {
    g_string_append_printf(s, "phase at allocation: %s", o->phase);
    if (o->step >= 0)
      g_string_append_printf(s, " (step %d)", o->step);
    g_string_append_c(s, '\n');
  } else if (d->lanes && mt_lanes_phase_at(d->lanes, o->alloc_ts, ph, sizeof ph)[0])
    g_string_append_printf(s, "phase at allocation: %s\n", ph);
  if (o->layer >= 0)
    g_string_append_printf(s, "layer: %d\n", o->layer);
  if (o->stack) {
    mt_trace *t = NULL;
    mt_error err = { 0 };
    if (mt_view_trace_open(r->path, &t, &err) == MT_OK) {
      char *stk = mt_stack_text(t, o->stack, 24);
      g_string_append_printf(s, "allocated from:\n%s", stk ? stk : "");
      free(stk);
      mt_trace_close(t);
    }
  } else if (o->where)
    g_string_append_printf(s, "allocated in %s\n", o->where);
  return g_string_free(s, FALSE);
}

static void on_row_selected(GtkSingleSelection *sel, GParamSpec *p, MtWindow *self)
{
  MtLiveRow *row = gtk_single_selection_get_selected_item(sel);
  if (!row)
    return;
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  v->hl0 = row->o->alloc_ts;
  v->hl1 = row->o->free_ts < 0 ? MT_NONE : row->o->free_ts;
  mt_chart_widget_changed(chart_of(self));
  char *s = object_text(self, row->o);
  set_details(self, s);
  g_free(s);
}

static void cell_setup(GtkSignalListItemFactory *f, GtkListItem *item, gpointer data)
{
  GtkWidget *l = gtk_label_new(NULL);
  gtk_label_set_xalign(GTK_LABEL(l), GPOINTER_TO_INT(data) == 0 ? 1.0f : 0.0f);
  gtk_label_set_ellipsize(GTK_LABEL(l), PANGO_ELLIPSIZE_END);
  gtk_list_item_set_child(item, l);
}

static void cell_bind(GtkSignalListItemFactory *f, GtkListItem *item, gpointer data)
{
  MtLiveRow *row = gtk_list_item_get_item(item);
  const MtLiveObject *o = row->o;
  char buf[128];
  const char *s = buf;
  switch (GPOINTER_TO_INT(data)) {
  case 0:
    mt_size_str(o->size, buf, sizeof buf);
    break;
  case 1:
    s = o->category >= 0 ? mt_category_name(o->category) : "\xe2\x80\x94";
    break;
  case 2:
    s = o->rule >= 0 ? mt_rule_name(o->rule) : "\xe2\x80\x94";
    break;
  case 3:
    s = o->label ? o->label : o->where ? o->where : (o->is_tensor ? "(tensor)" : "(device allocation)");
    break;
  case 4:
    mt_time_str(o->alloc_ts, 100000000, buf, sizeof buf);
    break;
  case 5:
    if (o->free_ts < 0)
      s = "end";
    else
      mt_time_str(o->free_ts, 100000000, buf, sizeof buf);
    break;
  default:
    s = o->phase ? o->phase : "";
  }
  gtk_label_set_text(GTK_LABEL(gtk_list_item_get_child(item)), s);
}

static int cmp_i64(int64_t a, int64_t b)
{
  return a < b ? -1 : a > b;
}

static int row_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
  const MtLiveObject *x = ((const MtLiveRow *)a)->o, *y = ((const MtLiveRow *)b)->o;
  switch (GPOINTER_TO_INT(data)) {
  case 0:
    return x->size < y->size ? -1 : x->size > y->size;
  case 1:
    return x->category - y->category;
  case 2:
    return x->rule - y->rule;
  case 3:
    return g_strcmp0(x->label ? x->label : x->where, y->label ? y->label : y->where);
  case 4:
    return cmp_i64(x->alloc_ts, y->alloc_ts);
  case 5:
    return cmp_i64(x->free_ts < 0 ? INT64_MAX : x->free_ts, y->free_ts < 0 ? INT64_MAX : y->free_ts);
  default:
    return g_strcmp0(x->phase, y->phase);
  }
}

static GtkWidget *build_table(MtWindow *self)
{
  static const char *titles[] = { "Size", "Category", "Rule", "Label / where", "Allocated", "Freed", "Phase" };
  self->rows = g_list_store_new(MT_TYPE_LIVE_ROW);
  GtkWidget *cv = gtk_column_view_new(NULL);
  GtkSorter *sorter = gtk_column_view_get_sorter(GTK_COLUMN_VIEW(cv));
  GtkSortListModel *sorted = gtk_sort_list_model_new(G_LIST_MODEL(g_object_ref(self->rows)), g_object_ref(sorter));
  GtkSingleSelection *sel = gtk_single_selection_new(G_LIST_MODEL(sorted));
  gtk_single_selection_set_autoselect(sel, FALSE);
  gtk_single_selection_set_can_unselect(sel, TRUE);
  g_signal_connect(sel, "notify::selected", G_CALLBACK(on_row_selected), self);
  gtk_column_view_set_model(GTK_COLUMN_VIEW(cv), GTK_SELECTION_MODEL(sel));
  for (int i = 0; i < 7; i++) {
    GtkListItemFactory *f = gtk_signal_list_item_factory_new();
    g_signal_connect(f, "setup", G_CALLBACK(cell_setup), GINT_TO_POINTER(i));
    g_signal_connect(f, "bind", G_CALLBACK(cell_bind), GINT_TO_POINTER(i));
    GtkColumnViewColumn *col = gtk_column_view_column_new(titles[i], f);
    GtkSorter *cs = GTK_SORTER(gtk_custom_sorter_new(row_cmp, GINT_TO_POINTER(i), NULL));
    gtk_column_view_column_set_sorter(col, cs);
    g_object_unref(cs);
    gtk_column_view_column_set_resizable(col, TRUE);
    if (i == 3)
      gtk_column_view_column_set_expand(col, TRUE);
    gtk_column_view_append_column(GTK_COLUMN_VIEW(cv), col);
    if (i == 0)
      gtk_column_view_sort_by_column(GTK_COLUMN_VIEW(cv), col, GTK_SORT_DESCENDING);
    g_object_unref(col);
  }
  gtk_accessible_update_property(GTK_ACCESSIBLE(cv), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 "Allocations live at the selected time", -1);
  self->table = cv;
  GtkWidget *sw = gtk_scrolled_window_new();
  gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(sw), cv);
  gtk_widget_set_size_request(sw, 420, 140);
  return sw;
}

/* ---- chart signals ------------------------------------------------------------ */

static void on_time_selected(MtChartWidget *c, gint64 ts, MtWindow *self)
{
  select_time(self, ts);
}

static void on_range_selected(MtChartWidget *c, gint64 a, gint64 b, MtWindow *self)
{
  char *s = mt_chart_range_stats(mt_chart_widget_get_data(c), a, b);
  set_details(self, s);
  g_free(s);
}

static void on_span_selected(MtChartWidget *c, gpointer lane, gpointer span, MtWindow *self)
{
  MtChartData *d = mt_chart_widget_get_data(c);
  char *s = mt_lanes_describe(d->lanes, lane, span);
  set_details(self, s);
  g_free(s);
}

static void on_view_changed(MtChartWidget *c, MtWindow *self)
{
  update_status(self);
}

/* ---- actions ------------------------------------------------------------------ */

static void zoom_by(MtWindow *self, double f)
{
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  int64_t anchor = v->cursor != MT_NONE && v->cursor >= v->t0 && v->cursor <= v->t1 ? v->cursor : v->t0 / 2 + v->t1 / 2;
  mt_view_zoom(v, d, f, anchor);
  mt_chart_widget_changed(chart_of(self));
}

static void act_zoom_in(GSimpleAction *a, GVariant *p, gpointer w) { zoom_by(w, 1.5); }
static void act_zoom_out(GSimpleAction *a, GVariant *p, gpointer w) { zoom_by(w, 1 / 1.5); }

static void pan_by(MtWindow *self, double frac)
{
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  mt_view_pan(v, mt_chart_widget_get_data(chart_of(self)), (int64_t)(frac * (double)(v->t1 - v->t0)));
  mt_chart_widget_changed(chart_of(self));
}

static void act_pan_left(GSimpleAction *a, GVariant *p, gpointer w) { pan_by(w, -0.1); }
static void act_pan_right(GSimpleAction *a, GVariant *p, gpointer w) { pan_by(w, 0.1); }

static void act_zoom_all(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  mt_view_full_range(d, &v->t0, &v->t1);
  mt_chart_widget_changed(chart_of(self));
}

static void act_go_to_peak(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  const mt_rank *r = mt_chart_rank(d);
  if (!r)
    return;
  mt_view_go_to_peak(mt_chart_widget_get_view(chart_of(self)), d);
  mt_chart_widget_changed(chart_of(self));
  select_time(self, r->peak_allocated_ts);
}

static void act_clear(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  v->cursor = v->sel0 = v->sel1 = v->hl0 = v->hl1 = MT_NONE;
  mt_chart_widget_changed(chart_of(self));
}

static void act_select_time(GSimpleAction *a, GVariant *p, gpointer w)
{
  int64_t ts;
  if (mt_parse_time(g_variant_get_string(p, NULL), &ts) == 0)
    select_time(w, ts);
}

static void act_select_range(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  int64_t t0, t1;
  if (mt_parse_time_range(g_variant_get_string(p, NULL), &t0, &t1) == 0) {
    MtView *v = mt_chart_widget_get_view(chart_of(self));
    v->sel0 = t0;
    v->sel1 = t1;
    mt_chart_widget_changed(chart_of(self));
    on_range_selected(chart_of(self), t0, t1, self);
  }
}

static void act_range(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  int64_t t0, t1;
  if (mt_parse_time_range(g_variant_get_string(p, NULL), &t0, &t1) == 0) {
    MtView *v = mt_chart_widget_get_view(chart_of(self));
    v->t0 = t0;
    v->t1 = t1;
    mt_chart_widget_changed(chart_of(self));
  }
}

static void act_select_row(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  GtkSelectionModel *m = gtk_column_view_get_model(GTK_COLUMN_VIEW(self->table));
  gtk_single_selection_set_selected(GTK_SINGLE_SELECTION(m), (guint)g_variant_get_int32(p));
}

static void act_ranks(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  GVariant *st = g_action_get_state(G_ACTION(a));
  gboolean on = !g_variant_get_boolean(st);
  g_variant_unref(st);
  g_simple_action_set_state(a, g_variant_new_boolean(on));
  mt_chart_widget_get_view(chart_of(self))->mode = on ? MT_MODE_RANKS : MT_MODE_TIMELINE;
  mt_chart_widget_changed(chart_of(self));
}

static void act_category(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  int cat = mt_category_from_name(g_action_get_name(G_ACTION(a)) + 4);   /* "cat-..." */
  if (cat < 0)
    return;
  GVariant *st = g_action_get_state(G_ACTION(a));
  gboolean shown = !g_variant_get_boolean(st);
  g_variant_unref(st);
  g_simple_action_set_state(a, g_variant_new_boolean(shown));
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  if (shown)
    v->hidden &= ~(1u << cat);
  else
    v->hidden |= 1u << cat;
  mt_chart_widget_changed(chart_of(self));
}

static void act_screenshot(GSimpleAction *a, GVariant *p, gpointer w)
{
  GError *e = NULL;
  if (!mt_window_save_png(w, g_variant_get_string(p, NULL), &e)) {
    g_printerr("memtrace-view: %s\n", e->message);
    g_error_free(e);
  }
}

static void act_layout(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  graphene_point_t pt;
  if (!gtk_widget_compute_point(self->chart, GTK_WIDGET(self), &GRAPHENE_POINT_INIT(0, 0), &pt))
    pt.x = pt.y = 0;
  double sx = 0, sy = 0;
  gtk_native_get_surface_transform(GTK_NATIVE(self), &sx, &sy);
  if (mt_layout_write(g_variant_get_string(p, NULL), mt_chart_widget_get_layout(chart_of(self)),
                      mt_chart_widget_get_view(chart_of(self)), mt_chart_widget_get_data(chart_of(self)), pt.x + sx,
                      pt.y + sy))
    g_printerr("memtrace-view: cannot write %s\n", g_variant_get_string(p, NULL));
}

/* Opens path in a new window with this window's options.  The empty
 * window (no trace) gives way to it: the new window takes the rest of its
 * --script and it closes. */
static void open_path(MtWindow *self, const char *path)
{
  MtViewOptions o = self->opts;
  o.path = (char *)path;
  o.script = NULL;
  gboolean replace = !self->session;
  char *rest = replace && self->script ? g_strjoinv(";", self->script + self->script_pos) : NULL;
  if (rest) {
    o.script = rest;
    g_strfreev(self->script);   /* this window's script ends here */
    self->script = NULL;
  }
  gtk_window_present(GTK_WINDOW(mt_window_new(gtk_window_get_application(GTK_WINDOW(self)), &o)));
  g_free(rest);
  if (replace)
    gtk_window_destroy(GTK_WINDOW(self));
}

static void open_response(GtkNativeDialog *dlg, int response, gpointer data)
{
  MtWindow *self = data;
  if (response == GTK_RESPONSE_ACCEPT) {
    GFile *f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dlg));
    char *path = g_file_get_path(f);
    open_path(self, path);
    g_free(path);
    g_object_unref(f);
  }
  g_object_unref(dlg);
}

static void act_open(GSimpleAction *a, GVariant *p, gpointer w)
{
  GtkFileChooserNative *dlg = gtk_file_chooser_native_new("Open a trace or run directory", GTK_WINDOW(w),
                                                          GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");
  GtkFileFilter *f = gtk_file_filter_new();
  gtk_file_filter_set_name(f, "memtrace traces");
  gtk_file_filter_add_pattern(f, "*.mtrace");
  gtk_file_filter_add_pattern(f, "*.db");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dlg), f);
  g_object_unref(f);
  g_signal_connect(dlg, "response", G_CALLBACK(open_response), w);
  gtk_native_dialog_show(GTK_NATIVE_DIALOG(dlg));
}

static void act_open_recent(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  const char *path = g_variant_get_string(p, NULL);
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    set_details(self, "That trace is no longer there.");
    return;
  }
  open_path(self, path);
}

/* script hook: the Recent menu as "label<TAB>path" lines */
static void act_recent_dump(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  FILE *f = fopen(g_variant_get_string(p, NULL), "w");
  if (!f) {
    g_printerr("memtrace-view: cannot write %s\n", g_variant_get_string(p, NULL));
    return;
  }
  GMenuModel *m = G_MENU_MODEL(self->recent_menu);
  for (int i = 0; i < g_menu_model_get_n_items(m); i++) {
    char *label = NULL, *target = NULL;
    g_menu_model_get_item_attribute(m, i, G_MENU_ATTRIBUTE_LABEL, "s", &label);
    g_menu_model_get_item_attribute(m, i, G_MENU_ATTRIBUTE_TARGET, "s", &target);
    fprintf(f, "%s\t%s\n", label ? label : "", target ? target : "");
    g_free(label);
    g_free(target);
  }
  fclose(f);
}

static void on_recent_changed(GtkRecentManager *rm, MtWindow *self)
{
  mt_recent_fill_menu(self->recent_menu, rm, "win.open-recent");
}

static void what_if_done(GObject *src, GAsyncResult *res, gpointer data)
{
  MtWindow *self = data;
  GError *e = NULL;
  self->pending--;
  if (!mt_session_what_if_finish(MT_SESSION(src), res, &e)) {
    gtk_label_set_text(GTK_LABEL(self->what_if_status), e->message);
    g_error_free(e);
  } else {
    what_if_to_chart(self);
    mt_chart_widget_changed(chart_of(self));
    if (g_getenv("MT_VIEW_PREVIEW_TIME"))   /* tests: the script can wait for it */
      g_print("what-if drawn: %s\n", gtk_label_get_text(GTK_LABEL(self->what_if_status)));
  }
  g_object_unref(self);
}

/* what-if SPEC: replays the trace under a plan (memtrace replay's options)
 * off the main loop and draws the prediction; an empty SPEC clears it. */
static void act_what_if(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  const char *spec = g_variant_get_string(p, NULL);
  while (*spec == ' ')
    spec++;
  if (!*spec) {
    mt_session_clear_what_if(self->session);
    what_if_to_chart(self);
    mt_chart_widget_changed(chart_of(self));
    return;
  }
  GError *e = NULL;
  if (!mt_session_what_if_async(self->session, spec, self->cancel, what_if_done, g_object_ref(self), &e)) {
    gtk_label_set_text(GTK_LABEL(self->what_if_status), e->message);
    g_printerr("memtrace-view: %s\n", e->message);
    g_error_free(e);
    g_object_unref(self);
    return;
  }
  self->pending++;
  gtk_label_set_text(GTK_LABEL(self->what_if_status), "Replaying\xe2\x80\xa6");
}

static void recommend_done(GObject *src, GAsyncResult *res, gpointer data)
{
  MtWindow *self = data;
  GError *e = NULL;
  size_t n = 0;
  MtPlanChoice *c = mt_session_recommend_finish(MT_SESSION(src), res, &n, &e);
  self->pending--;
  if (!c) {
    gtk_label_set_text(GTK_LABEL(self->what_if_status), e->message);
    g_printerr("memtrace-view: %s\n", e->message);
    g_error_free(e);
    g_object_unref(self);
    return;
  }
  g_free(self->plans);
  self->plans = c;
  self->nplans = n;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child(self->plan_list)))
    gtk_box_remove(GTK_BOX(self->plan_list), child);
  for (size_t i = 0; i < n; i++) {
    char buf[700], rs[32];
    g_snprintf(buf, sizeof buf, "%s \xc2\xb7 reserved %s%s \xc2\xb7 compute +%.1f%% \xc2\xb7 comm +%.1f%%",
               c[i].options[0] ? c[i].options : "(as recorded)", mt_size_str(c[i].peak_reserved, rs, sizeof rs),
               c[i].fits ? "" : " (over the budget)", 100 * c[i].compute_overhead, 100 * c[i].comm_overhead);
    GtkWidget *b = gtk_button_new_with_label(buf);
    gtk_widget_add_css_class(b, "flat");
    gtk_label_set_xalign(GTK_LABEL(gtk_button_get_child(GTK_BUTTON(b))), 0);
    gtk_actionable_set_action_name(GTK_ACTIONABLE(b), "win.pick-plan");
    gtk_actionable_set_action_target(GTK_ACTIONABLE(b), "i", (gint32)i);
    gtk_box_append(GTK_BOX(self->plan_list), b);
  }
  char msg[128];
  g_snprintf(msg, sizeof msg, n ? (c[0].fits ? "%zu plans fit: pick one to see its prediction"
                                             : "Nothing fits; the %zu closest plans:")
                                : "No plan found.", n);
  gtk_label_set_text(GTK_LABEL(self->what_if_status), msg);
  if (g_getenv("MT_VIEW_PREVIEW_TIME"))   /* tests: the script can wait for it */
    g_print("recommend: %zu plans, first: %s\n", n, n ? c[0].options : "-");
  g_object_unref(self);
}

/* recommend BUDGET: memtrace recommend's plans for a budget, listed in the
 * what-if popover (off the main loop). */
static void act_recommend(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  const char *text = g_variant_get_string(p, NULL);
  uint64_t budget = 0;
  GError *e = NULL;
  if (mt_parse_size(text, &budget))
    g_set_error(&e, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "recommend: not a size: %s", text);
  else if (mt_session_recommend_async(self->session, budget, 10, self->cancel, recommend_done, self, &e)) {
    g_object_ref(self);   /* for recommend_done, which runs from the main loop later */
    self->pending++;
  }
  if (e) {
    gtk_label_set_text(GTK_LABEL(self->what_if_status), e->message);
    g_printerr("memtrace-view: %s\n", e->message);
    g_error_free(e);
    return;
  }
  gtk_editable_set_text(GTK_EDITABLE(self->budget_entry), text);
  gtk_label_set_text(GTK_LABEL(self->what_if_status), "Searching plans (each one replayed)\xe2\x80\xa6");
}

static void act_show_what_if(GSimpleAction *a, GVariant *p, gpointer w)
{
  gtk_menu_button_popup(GTK_MENU_BUTTON(MT_WINDOW(w)->what_if_button));
}

/* pick-plan N: the Nth plan recommend listed becomes the what-if */
static void act_pick_plan(GSimpleAction *a, GVariant *p, gpointer w)
{
  MtWindow *self = w;
  gint32 i = g_variant_get_int32(p);
  if (i < 0 || (size_t)i >= self->nplans)
    return;
  gtk_editable_set_text(GTK_EDITABLE(self->what_if_entry), self->plans[i].options);
  g_action_group_activate_action(G_ACTION_GROUP(self), "what-if", g_variant_new_string(self->plans[i].options));
}

static void act_set_dark(GSimpleAction *a, GVariant *p, gpointer w)
{
  if (!MT_WINDOW(w)->chart)
    return;
  mt_chart_widget_get_view(chart_of(w))->dark = g_variant_get_boolean(p);
  mt_chart_widget_changed(chart_of(w));
}

static void act_quit(GSimpleAction *a, GVariant *p, gpointer w)
{
  gtk_window_destroy(GTK_WINDOW(w));
}

static const GActionEntry win_actions[] = {
  { "zoom-in", act_zoom_in, NULL, NULL, NULL, { 0 } },
  { "zoom-out", act_zoom_out, NULL, NULL, NULL, { 0 } },
  { "pan-left", act_pan_left, NULL, NULL, NULL, { 0 } },
  { "pan-right", act_pan_right, NULL, NULL, NULL, { 0 } },
  { "zoom-all", act_zoom_all, NULL, NULL, NULL, { 0 } },
  { "go-to-peak", act_go_to_peak, NULL, NULL, NULL, { 0 } },
  { "clear-selection", act_clear, NULL, NULL, NULL, { 0 } },
  { "select-time", act_select_time, "s", NULL, NULL, { 0 } },
  { "select-range", act_select_range, "s", NULL, NULL, { 0 } },
  { "range", act_range, "s", NULL, NULL, { 0 } },
  { "select-row", act_select_row, "i", NULL, NULL, { 0 } },
  { "all-ranks", act_ranks, NULL, "false", NULL, { 0 } },
  { "screenshot", act_screenshot, "s", NULL, NULL, { 0 } },
  { "layout", act_layout, "s", NULL, NULL, { 0 } },
  { "open", act_open, NULL, NULL, NULL, { 0 } },
  { "open-recent", act_open_recent, "s", NULL, NULL, { 0 } },
  { "recent-menu", act_recent_dump, "s", NULL, NULL, { 0 } },
  { "close", act_quit, NULL, NULL, NULL, { 0 } },
  { "set-dark", act_set_dark, "b", NULL, NULL, { 0 } },
  { "what-if", act_what_if, "s", NULL, NULL, { 0 } },
  { "recommend", act_recommend, "s", NULL, NULL, { 0 } },
  { "pick-plan", act_pick_plan, "i", NULL, NULL, { 0 } },
  { "show-what-if", act_show_what_if, NULL, NULL, NULL, { 0 } },
};

/* ---- the --script test hook ----------------------------------------------- */

static gboolean script_step(gpointer data);

static void script_next(MtWindow *self, guint delay_ms)
{
  g_timeout_add(delay_ms, script_step, g_object_ref(self));
}

/* wait-idle MAX_MS: the next command runs once no what-if or recommend is
 * pending and a frame has been painted after that (polled every 20 ms), so
 * that tests wait on the window's state, not on a guess of its speed; past
 * MAX_MS it says so on stderr and goes on. */
static void script_after_paint(GdkFrameClock *fc, gpointer data)
{
  MtWindow *self = data;
  g_signal_handlers_disconnect_by_func(fc, script_after_paint, data);
  script_next(self, 0);
  g_object_unref(self);
}

static gboolean script_idle_poll(gpointer data)
{
  MtWindow *self = data;
  GdkFrameClock *fc = gtk_widget_get_frame_clock(GTK_WIDGET(self));
  if (self->pending > 0 && g_get_monotonic_time() < self->idle_deadline)
    return G_SOURCE_CONTINUE;
  if (self->pending > 0)
    g_printerr("memtrace-view: --script: wait-idle: %d task(s) still running at the deadline\n", self->pending);
  if (fc) {
    g_signal_connect(fc, "after-paint", G_CALLBACK(script_after_paint), self);   /* keeps our reference */
    gtk_widget_queue_draw(GTK_WIDGET(self));
  } else {
    script_next(self, 0);
    g_object_unref(self);
  }
  return G_SOURCE_REMOVE;
}

static gboolean script_step(gpointer data)
{
  MtWindow *self = data;
  if (!self->script || !self->script[self->script_pos]) {
    g_object_unref(self);
    return G_SOURCE_REMOVE;
  }
  char *cmd = g_strstrip(g_strdup(self->script[self->script_pos++]));
  char *arg = strchr(cmd, ' ');
  if (arg)
    *arg++ = 0;
  guint delay = 150;
  if (!*cmd)
    ;
  else if (!strcmp(cmd, "wait"))
    delay = arg ? (guint)atoi(arg) : 500;
  else if (!strcmp(cmd, "wait-idle")) {
    self->idle_deadline = g_get_monotonic_time() + (gint64)(arg ? atoi(arg) : 60000) * 1000;
    g_timeout_add(20, script_idle_poll, self);   /* takes over our reference */
    g_free(cmd);
    return G_SOURCE_REMOVE;
  }
  else if (!strcmp(cmd, "quit")) {
    GApplication *app = G_APPLICATION(gtk_window_get_application(GTK_WINDOW(self)));
    g_free(cmd);
    g_application_quit(app);
    g_object_unref(self);
    return G_SOURCE_REMOVE;
  } else if (!strcmp(cmd, "dark"))
    g_action_group_activate_action(G_ACTION_GROUP(gtk_window_get_application(GTK_WINDOW(self))), "dark", NULL);
  else if (!strcmp(cmd, "select-peak")) {
    const mt_rank *r = mt_chart_rank(mt_chart_widget_get_data(chart_of(self)));
    if (r)
      select_time(self, r->peak_allocated_ts);
  } else if (!strcmp(cmd, "hide")) {
    char *name = g_strdup_printf("cat-%s", arg ? arg : "");
    g_action_group_activate_action(G_ACTION_GROUP(self), name, NULL);
    g_free(name);
  } else {
    const GVariantType *t = NULL;
    gboolean enabled;
    if (!g_action_group_query_action(G_ACTION_GROUP(self), cmd, &enabled, &t, NULL, NULL, NULL))
      g_printerr("memtrace-view: --script: unknown command '%s'\n", cmd);
    else if (t && g_variant_type_equal(t, G_VARIANT_TYPE_INT32))
      g_action_group_activate_action(G_ACTION_GROUP(self), cmd, g_variant_new_int32(arg ? atoi(arg) : 0));
    else if (t)
      g_action_group_activate_action(G_ACTION_GROUP(self), cmd, g_variant_new_string(arg ? arg : ""));
    else
      g_action_group_activate_action(G_ACTION_GROUP(self), cmd, NULL);
  }
  g_free(cmd);
  script_next(self, delay);
  g_object_unref(self);
  return G_SOURCE_REMOVE;
}

/* ---- loading ------------------------------------------------------------------ */

static void on_lanes_ready(MtSession *s, MtWindow *self)
{
  self->lanes_ready = TRUE;
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  d->lanes = mt_session_get_lanes(s, d->rank);
  d->lanes_loading = FALSE;
  /* the lanes may extend the run: keep the view, only widen a full view */
  mt_chart_widget_changed(chart_of(self));
  update_status(self);
  if (self->script)
    script_next(self, 300);
}

static void disable_trace_actions(MtWindow *self);

/* The memory-only preview: allocated and reserved over time and the peaks,
 * drawn until the full analysis replaces it (on_loaded). */
static void on_preview(MtSession *s, GParamSpec *pspec, MtWindow *self)
{
  (void)pspec;
  const mt_analysis *a = mt_session_get_preview(s);
  if (!a || mt_session_get_analysis(s) || !a->nranks)
    return;
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  d->analysis = a;
  d->budget = self->opts.budget;
  self->showing_preview = TRUE;
  show_rank(self, mt_options_rank_index(&self->opts, a));
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  if (self->opts.r1 > self->opts.r0) {
    v->t0 = self->opts.r0;
    v->t1 = self->opts.r1;
  }
  mt_chart_widget_changed(chart_of(self));
  if (g_getenv("MT_VIEW_PREVIEW_TIME"))   /* tests and measurements */
    g_print("preview drawn after %.3f s%s\n", mt_session_get_preview_seconds(s),
            mt_session_preview_from_cache(s) ? " (the timeline cache, categorised)" : "");
}

static void on_loaded(GObject *src, GAsyncResult *res, gpointer data)
{
  MtWindow *self = data;
  GError *e = NULL;
  gtk_spinner_stop(GTK_SPINNER(self->spinner));
  gtk_widget_set_visible(self->spinner, FALSE);
  if (!mt_session_load_finish(MT_SESSION(src), res, &e)) {
    gtk_label_set_text(GTK_LABEL(self->status), e->message);
    set_details(self, e->message);
    /* the main area says why, not "analysing..." forever; nothing to act on */
    g_free(self->load_error);
    self->load_error = g_strdup(e->message);
    MtChartData *fd = mt_chart_widget_get_data(chart_of(self));
    fd->error = self->load_error;
    fd->analysis = NULL;   /* a preview drawn before the failure goes too */
    self->showing_preview = FALSE;
    gtk_label_set_text(GTK_LABEL(self->subtitle), "cannot be read");
    disable_trace_actions(self);
    if (self->what_if_button)
      gtk_widget_set_sensitive(self->what_if_button, FALSE);
    mt_chart_widget_changed(chart_of(self));
    g_printerr("memtrace-view: %s\n", e->message);
    g_error_free(e);
    if (self->script) {   /* what the window shows, for the tests */
      g_print("load failed; main area: %s; go-to-peak %s; what-if %s\n", fd->error,
              g_action_group_get_action_enabled(G_ACTION_GROUP(self), "go-to-peak") ? "enabled" : "disabled",
              g_action_group_get_action_enabled(G_ACTION_GROUP(self), "what-if") ? "enabled" : "disabled");
      g_application_quit(G_APPLICATION(gtk_window_get_application(GTK_WINDOW(self))));
    }
    g_object_unref(self);
    return;
  }
  const mt_analysis *a = mt_session_get_analysis(self->session);
  MtChartData *d = mt_chart_widget_get_data(chart_of(self));
  /* replacing the preview: keep where the user has zoomed to */
  MtView *pv = mt_chart_widget_get_view(chart_of(self));
  int64_t pf0, pf1;
  mt_view_full_range(d, &pf0, &pf1);
  gboolean keep_view = self->showing_preview && d->rank == mt_options_rank_index(&self->opts, a) &&
                       (pv->t0 != pf0 || pv->t1 != pf1 || pv->cursor != MT_NONE);
  int64_t keep_t0 = pv->t0, keep_t1 = pv->t1, keep_cursor = pv->cursor;
  self->showing_preview = FALSE;
  d->analysis = a;
  d->compare = mt_session_get_compare(self->session);
  d->budget = self->opts.budget;
  GtkStringList *names = gtk_string_list_new(NULL);
  for (size_t i = 0; i < a->nranks; i++) {
    char buf[128], pk[32];
    g_snprintf(buf, sizeof buf, "rank %d \xc2\xb7 %s%s", a->ranks[i].rank,
               mt_size_str(a->ranks[i].peak_allocated, pk, sizeof pk), i == a->job_peak_index ? " (job peak)" : "");
    gtk_string_list_append(names, buf);
  }
  size_t idx = mt_options_rank_index(&self->opts, a);
  gtk_drop_down_set_model(GTK_DROP_DOWN(self->rank_drop), G_LIST_MODEL(names));
  g_object_unref(names);
  gtk_drop_down_set_selected(GTK_DROP_DOWN(self->rank_drop), (guint)idx);
  gtk_widget_set_sensitive(self->rank_drop, a->nranks > 1);
  show_rank(self, idx);
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  if (keep_view) {
    v->t0 = keep_t0;
    v->t1 = keep_t1;
    v->cursor = keep_cursor;
  } else if (self->opts.r1 > self->opts.r0) {
    v->t0 = self->opts.r0;
    v->t1 = self->opts.r1;
  }
  if (self->opts.all_ranks)
    g_action_group_activate_action(G_ACTION_GROUP(self), "all-ranks", NULL);
  mt_chart_widget_changed(chart_of(self));
  if (self->opts.zoom_peak)
    g_action_group_activate_action(G_ACTION_GROUP(self), "go-to-peak", NULL);
  if (self->opts.select != MT_NONE)
    select_time(self, self->opts.select);
  else if (keep_view && keep_cursor != MT_NONE)
    select_time(self, keep_cursor);   /* now with the analysis's categories */
  g_object_unref(self);
}

static void on_rank_changed(GtkDropDown *dd, GParamSpec *p, MtWindow *self)
{
  const mt_analysis *a = mt_session_get_analysis(self->session);
  guint i = gtk_drop_down_get_selected(dd);
  if (!a || i >= a->nranks || i == mt_chart_widget_get_data(chart_of(self))->rank)
    return;
  show_rank(self, i);
  g_list_store_remove_all(self->rows);
}

static gboolean on_drop(GtkDropTarget *t, const GValue *value, double x, double y, gpointer data)
{
  MtWindow *self = data;
  if (!G_VALUE_HOLDS(value, G_TYPE_FILE))
    return FALSE;
  char *path = g_file_get_path(g_value_get_object(value));
  if (!path)
    return FALSE;
  open_path(self, path);
  g_free(path);
  return TRUE;
}

/* ---- construction ------------------------------------------------------------ */

static void mt_window_dispose(GObject *obj)
{
  MtWindow *self = MT_WINDOW(obj);
  if (self->cancel)
    g_cancellable_cancel(self->cancel);
  g_clear_object(&self->cancel);
  if (self->rows)
    g_list_store_remove_all(self->rows);
  g_clear_object(&self->rows);
  mt_liveset_free(self->live);
  self->live = NULL;
  if (self->session)
    g_signal_handlers_disconnect_by_data(self->session, self);
  g_clear_object(&self->session);
  if (self->recent_menu)
    g_signal_handlers_disconnect_by_data(gtk_recent_manager_get_default(), self);
  g_clear_object(&self->recent_menu);
  G_OBJECT_CLASS(mt_window_parent_class)->dispose(obj);
}

static void mt_window_finalize(GObject *obj)
{
  MtWindow *self = MT_WINDOW(obj);
  g_strfreev(self->script);
  g_free(self->plans);
  g_free(self->opts.path);
  g_free(self->opts.compare);
  g_free(self->opts.what_if);
  g_free(self->load_error);
  G_OBJECT_CLASS(mt_window_parent_class)->finalize(obj);
}

static void mt_window_class_init(MtWindowClass *klass)
{
  G_OBJECT_CLASS(klass)->dispose = mt_window_dispose;
  G_OBJECT_CLASS(klass)->finalize = mt_window_finalize;
}

static void mt_window_init(MtWindow *self)
{
  self->cancel = g_cancellable_new();
}

static GMenuModel *primary_menu(void)
{
  GMenu *m = g_menu_new();
  GMenu *s1 = g_menu_new();
  g_menu_append(s1, "_Open\xe2\x80\xa6", "win.open");
  g_menu_append(s1, "Show _whole run", "win.zoom-all");
  g_menu_append(s1, "All ranks' _peaks", "win.all-ranks");
  g_menu_append_section(m, NULL, G_MENU_MODEL(s1));
  GMenu *cats = g_menu_new();
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    char action[64];
    g_snprintf(action, sizeof action, "win.cat-%s", mt_category_name(c));
    g_menu_append(cats, mt_category_name(c), action);
  }
  g_menu_append_submenu(m, "_Categories", G_MENU_MODEL(cats));
  GMenu *s2 = g_menu_new();
  g_menu_append(s2, "_Dark style", "app.dark");
  g_menu_append(s2, "_Keyboard Shortcuts", "win.show-help-overlay");
  g_menu_append(s2, "_About memtrace viewer", "app.about");
  g_menu_append_section(m, NULL, G_MENU_MODEL(s2));
  g_object_unref(s1);
  g_object_unref(s2);
  g_object_unref(cats);
  return G_MENU_MODEL(m);
}

static GtkWidget *icon_button(const char *icon, const char *action, const char *tip)
{
  GtkWidget *b = gtk_button_new_from_icon_name(icon);
  gtk_actionable_set_action_name(GTK_ACTIONABLE(b), action);
  gtk_widget_set_tooltip_text(b, tip);
  gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL, tip, -1);
  return b;
}

static void on_what_if_apply(GtkWidget *w, MtWindow *self)
{
  const char *spec = gtk_editable_get_text(GTK_EDITABLE(self->what_if_entry));
  g_action_group_activate_action(G_ACTION_GROUP(self), "what-if", g_variant_new_string(spec));
}

static void on_what_if_clear(GtkWidget *w, MtWindow *self)
{
  gtk_editable_set_text(GTK_EDITABLE(self->what_if_entry), "");
  g_action_group_activate_action(G_ACTION_GROUP(self), "what-if", g_variant_new_string(""));
}

static void on_recommend(GtkWidget *w, MtWindow *self)
{
  const char *budget = gtk_editable_get_text(GTK_EDITABLE(self->budget_entry));
  g_action_group_activate_action(G_ACTION_GROUP(self), "recommend", g_variant_new_string(budget));
}

/* What-if: a popover where one types a replay plan, or picks one of
 * memtrace recommend's for a budget; its prediction is drawn over the
 * recording (win.what-if, win.recommend, win.pick-plan). */
static GtkWidget *what_if_button(MtWindow *self)
{
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *l = gtk_label_new("Replay this trace under a plan (memtrace replay's options):");
  gtk_label_set_xalign(GTK_LABEL(l), 0);
  gtk_box_append(GTK_BOX(box), l);
  self->what_if_entry = gtk_entry_new();
  gtk_entry_set_placeholder_text(GTK_ENTRY(self->what_if_entry), "--checkpoint all --zero 3 --world 8");
  gtk_editable_set_text(GTK_EDITABLE(self->what_if_entry), self->opts.what_if ? self->opts.what_if : "");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->what_if_entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Replay plan", -1);
  g_signal_connect(self->what_if_entry, "activate", G_CALLBACK(on_what_if_apply), self);
  gtk_box_append(GTK_BOX(box), self->what_if_entry);
  GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *apply = gtk_button_new_with_mnemonic("_Replay");
  g_signal_connect(apply, "clicked", G_CALLBACK(on_what_if_apply), self);
  GtkWidget *clear = gtk_button_new_with_mnemonic("_Clear");
  g_signal_connect(clear, "clicked", G_CALLBACK(on_what_if_clear), self);
  gtk_box_append(GTK_BOX(row), apply);
  gtk_box_append(GTK_BOX(row), clear);
  gtk_box_append(GTK_BOX(box), row);
  GtkWidget *rl = gtk_label_new("Or one of memtrace recommend's plans for a budget (peak reserved):");
  gtk_label_set_xalign(GTK_LABEL(rl), 0);
  gtk_widget_set_margin_top(rl, 6);
  gtk_box_append(GTK_BOX(box), rl);
  GtkWidget *brow = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  self->budget_entry = gtk_entry_new();
  gtk_entry_set_placeholder_text(GTK_ENTRY(self->budget_entry), "70GiB");
  if (self->opts.budget) {
    char b[32];
    g_snprintf(b, sizeof b, "%" G_GUINT64_FORMAT, self->opts.budget);
    gtk_editable_set_text(GTK_EDITABLE(self->budget_entry), b);
  }
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->budget_entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Budget", -1);
  g_signal_connect(self->budget_entry, "activate", G_CALLBACK(on_recommend), self);
  gtk_widget_set_hexpand(self->budget_entry, TRUE);
  GtkWidget *rec = gtk_button_new_with_mnemonic("Reco_mmend");
  g_signal_connect(rec, "clicked", G_CALLBACK(on_recommend), self);
  gtk_box_append(GTK_BOX(brow), self->budget_entry);
  gtk_box_append(GTK_BOX(brow), rec);
  gtk_box_append(GTK_BOX(box), brow);
  self->plan_list = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append(GTK_BOX(box), self->plan_list);
  self->what_if_status = gtk_label_new("No plan: only the recording is drawn.");
  gtk_label_set_xalign(GTK_LABEL(self->what_if_status), 0);
  gtk_label_set_wrap(GTK_LABEL(self->what_if_status), TRUE);
  gtk_widget_add_css_class(self->what_if_status, "dim-label");
  gtk_box_append(GTK_BOX(box), self->what_if_status);
  GtkWidget *pop = gtk_popover_new();
  gtk_popover_set_child(GTK_POPOVER(pop), box);
  GtkWidget *b = self->what_if_button = gtk_menu_button_new();
  gtk_menu_button_set_label(GTK_MENU_BUTTON(b), "What-if");
  gtk_menu_button_set_popover(GTK_MENU_BUTTON(b), pop);
  gtk_widget_set_tooltip_text(b, "Predicted memory under a replay plan (checkpointing, ZeRO, ...)");
  return b;
}

/* The actions an empty window (no trace) keeps enabled. */
static gboolean works_without_trace(const char *name)
{
  static const char *const names[] = { "open", "open-recent", "recent-menu", "close", "set-dark", "screenshot" };
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
    if (!strcmp(name, names[i]))
      return TRUE;
  return FALSE;
}

/* Open and Recent, at the start of every window's header bar. */
static void pack_open_buttons(MtWindow *self, GtkWidget *hb)
{
  gtk_header_bar_pack_start(GTK_HEADER_BAR(hb), icon_button("document-open-symbolic", "win.open", "Open a trace or run"));
  GtkRecentManager *rm = gtk_recent_manager_get_default();
  self->recent_menu = g_menu_new();
  mt_recent_fill_menu(self->recent_menu, rm, "win.open-recent");
  g_signal_connect(rm, "changed", G_CALLBACK(on_recent_changed), self);
  GtkWidget *recent = gtk_menu_button_new();
  gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(recent), "document-open-recent-symbolic");
  gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(recent), G_MENU_MODEL(self->recent_menu));
  gtk_widget_set_tooltip_text(recent, "Recent traces and runs");
  gtk_accessible_update_property(GTK_ACCESSIBLE(recent), GTK_ACCESSIBLE_PROPERTY_LABEL, "Recent traces and runs", -1);
  gtk_header_bar_pack_start(GTK_HEADER_BAR(hb), recent);
}

static void pack_main_menu(GtkWidget *hb)
{
  GtkWidget *menu = gtk_menu_button_new();
  gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(menu), "open-menu-symbolic");
  gtk_menu_button_set_primary(GTK_MENU_BUTTON(menu), TRUE);
  GMenuModel *mm = primary_menu();
  gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(menu), mm);
  g_object_unref(mm);
  gtk_widget_set_tooltip_text(menu, "Main menu");
  gtk_accessible_update_property(GTK_ACCESSIBLE(menu), GTK_ACCESSIBLE_PROPERTY_LABEL, "Main menu", -1);
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), menu);
}

/* The actions that need a readable trace (Go to Peak, What-if, ...) off. */
static void disable_trace_actions(MtWindow *self)
{
  for (size_t i = 0; i < G_N_ELEMENTS(win_actions); i++)
    if (!works_without_trace(win_actions[i].name))
      g_simple_action_set_enabled(
          G_SIMPLE_ACTION(g_action_map_lookup_action(G_ACTION_MAP(self), win_actions[i].name)), FALSE);
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    char name[64];
    g_snprintf(name, sizeof name, "cat-%s", mt_category_name(c));
    g_simple_action_set_enabled(G_SIMPLE_ACTION(g_action_map_lookup_action(G_ACTION_MAP(self), name)), FALSE);
  }
}

/* No trace yet: Open and Recent in the header bar, what to do in the body;
 * the actions that need a trace are disabled. */
static void build_empty(MtWindow *self)
{
  gtk_window_set_title(GTK_WINDOW(self), "memtrace viewer");
  disable_trace_actions(self);
  GtkWidget *hb = gtk_header_bar_new();
  pack_open_buttons(self, hb);
  pack_main_menu(hb);
  gtk_window_set_titlebar(GTK_WINDOW(self), hb);
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_valign(box, GTK_ALIGN_CENTER);
  GtkWidget *l = gtk_label_new("Open a memtrace trace (.mtrace) or a run directory (Open, or Recent for the last "
                               "ones),\nor drop one on this window.  From a shell: memtrace-view TRACE|RUNDIR.");
  gtk_label_set_justify(GTK_LABEL(l), GTK_JUSTIFY_CENTER);
  gtk_box_append(GTK_BOX(box), l);
  self->status = gtk_label_new(NULL);
  gtk_widget_add_css_class(self->status, "dim-label");
  gtk_box_append(GTK_BOX(box), self->status);
  gtk_window_set_child(GTK_WINDOW(self), box);
}

static void add_drop_target(MtWindow *self)
{
  GtkDropTarget *drop = gtk_drop_target_new(G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect(drop, "drop", G_CALLBACK(on_drop), self);
  gtk_widget_add_controller(GTK_WIDGET(self), GTK_EVENT_CONTROLLER(drop));
}

MtWindow *mt_window_new(GtkApplication *app, const MtViewOptions *opts)
{
  MtWindow *self = g_object_new(MT_TYPE_WINDOW, "application", app, NULL);
  self->opts = *opts;
  self->opts.path = g_strdup(opts->path);
  self->opts.compare = g_strdup(opts->compare);
  self->opts.what_if = g_strdup(opts->what_if);
  self->opts.screenshot = self->opts.layout = NULL;
  if (opts->script && *opts->script)
    self->script = g_strsplit(opts->script, ";", -1);
  self->opts.script = NULL;
  g_action_map_add_action_entries(G_ACTION_MAP(self), win_actions, G_N_ELEMENTS(win_actions), self);
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    char name[64];
    g_snprintf(name, sizeof name, "cat-%s", mt_category_name(c));
    gboolean shown = !((opts->hidden >> c) & 1);
    GSimpleAction *a = g_simple_action_new_stateful(name, NULL, g_variant_new_boolean(shown));
    g_signal_connect(a, "activate", G_CALLBACK(act_category), self);
    g_action_map_add_action(G_ACTION_MAP(self), G_ACTION(a));
    g_object_unref(a);
  }
  add_drop_target(self);
  if (!opts->path) {
    gtk_window_set_default_size(GTK_WINDOW(self), opts->width > 0 ? opts->width : 640,
                                opts->height > 0 ? opts->height : 360);
    build_empty(self);
    if (self->script)   /* nothing to load: the script starts at once */
      script_next(self, 300);
    return self;
  }
  gtk_window_set_default_size(GTK_WINDOW(self), opts->width > 0 ? opts->width : 1280,
                              opts->height > 0 ? opts->height : 860);
  char *base = g_path_get_basename(opts->path);
  gtk_window_set_title(GTK_WINDOW(self), base);

  /* header bar */
  GtkWidget *hb = gtk_header_bar_new();
  GtkWidget *tbox = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_valign(tbox, GTK_ALIGN_CENTER);
  self->title = gtk_label_new(base);
  gtk_widget_add_css_class(self->title, "title");
  gtk_label_set_ellipsize(GTK_LABEL(self->title), PANGO_ELLIPSIZE_MIDDLE);
  self->subtitle = gtk_label_new("analysing\xe2\x80\xa6");
  gtk_widget_add_css_class(self->subtitle, "subtitle");
  gtk_box_append(GTK_BOX(tbox), self->title);
  gtk_box_append(GTK_BOX(tbox), self->subtitle);
  gtk_header_bar_set_title_widget(GTK_HEADER_BAR(hb), tbox);
  g_free(base);

  pack_open_buttons(self, hb);
  self->rank_drop = gtk_drop_down_new(NULL, NULL);
  gtk_widget_set_tooltip_text(self->rank_drop, "Rank shown");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->rank_drop), GTK_ACCESSIBLE_PROPERTY_LABEL, "Rank shown", -1);
  g_signal_connect(self->rank_drop, "notify::selected", G_CALLBACK(on_rank_changed), self);
  gtk_header_bar_pack_start(GTK_HEADER_BAR(hb), self->rank_drop);
  GtkWidget *peak = gtk_button_new_with_mnemonic("Go to _Peak");
  gtk_actionable_set_action_name(GTK_ACTIONABLE(peak), "win.go-to-peak");
  gtk_widget_set_tooltip_text(peak, "Zoom to the allocated peak and list what is live there (Ctrl+P)");
  gtk_header_bar_pack_start(GTK_HEADER_BAR(hb), peak);
  gtk_header_bar_pack_start(GTK_HEADER_BAR(hb), what_if_button(self));

  pack_main_menu(hb);
  GtkWidget *ranks = gtk_toggle_button_new_with_label("All Ranks");
  gtk_actionable_set_action_name(GTK_ACTIONABLE(ranks), "win.all-ranks");
  gtk_widget_set_tooltip_text(ranks, "Every rank's peak side by side (Ctrl+R)");
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), ranks);
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), icon_button("zoom-in-symbolic", "win.zoom-in", "Zoom in"));
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), icon_button("zoom-fit-best-symbolic", "win.zoom-all", "Show the whole run"));
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), icon_button("zoom-out-symbolic", "win.zoom-out", "Zoom out"));
  self->spinner = gtk_spinner_new();
  gtk_spinner_start(GTK_SPINNER(self->spinner));
  gtk_header_bar_pack_end(GTK_HEADER_BAR(hb), self->spinner);
  gtk_window_set_titlebar(GTK_WINDOW(self), hb);

  /* body */
  self->chart = mt_chart_widget_new();
  MtView *v = mt_chart_widget_get_view(chart_of(self));
  v->hidden = opts->hidden;
  v->dark = opts->dark;
  mt_chart_widget_get_data(chart_of(self))->lanes_loading = TRUE;
  /* plain keys act on the chart only (the table keeps its arrows) */
  static const struct {
    const char *keys, *action;
  } keys[] = {
    { "plus|equal|KP_Add", "win.zoom-in" }, { "minus|KP_Subtract", "win.zoom-out" },
    { "Left", "win.pan-left" }, { "Right", "win.pan-right" }, { "Home", "win.zoom-all" },
    { "Escape", "win.clear-selection" },
  };
  GtkEventController *sc = gtk_shortcut_controller_new();
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(sc),
                                         gtk_shortcut_new(gtk_shortcut_trigger_parse_string(keys[i].keys),
                                                          gtk_named_action_new(keys[i].action)));
  gtk_widget_add_controller(self->chart, sc);
  g_signal_connect(self->chart, "time-selected", G_CALLBACK(on_time_selected), self);
  g_signal_connect(self->chart, "range-selected", G_CALLBACK(on_range_selected), self);
  g_signal_connect(self->chart, "span-selected", G_CALLBACK(on_span_selected), self);
  g_signal_connect(self->chart, "view-changed", G_CALLBACK(on_view_changed), self);

  self->details = gtk_text_view_new();
  gtk_text_view_set_editable(GTK_TEXT_VIEW(self->details), FALSE);
  gtk_text_view_set_monospace(GTK_TEXT_VIEW(self->details), TRUE);
  gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(self->details), GTK_WRAP_WORD_CHAR);
  gtk_widget_add_css_class(self->details, "mt-details");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->details), GTK_ACCESSIBLE_PROPERTY_LABEL, "Details", -1);
  GtkWidget *dsw = gtk_scrolled_window_new();
  gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(dsw), self->details);
  gtk_widget_set_size_request(dsw, 320, 140);
  set_details(self, "Click the timeline to list what is live at that time; Shift+drag to select a range; "
                    "click a kernel, NCCL call or range for its details.");

  GtkWidget *bottom = gtk_paned_new(GTK_ORIENTATION_HORIZONTAL);
  gtk_paned_set_start_child(GTK_PANED(bottom), build_table(self));
  gtk_paned_set_end_child(GTK_PANED(bottom), dsw);
  gtk_paned_set_resize_start_child(GTK_PANED(bottom), TRUE);
  gtk_paned_set_position(GTK_PANED(bottom), 760);

  GtkWidget *vp = gtk_paned_new(GTK_ORIENTATION_VERTICAL);
  gtk_paned_set_start_child(GTK_PANED(vp), self->chart);
  gtk_paned_set_end_child(GTK_PANED(vp), bottom);
  gtk_paned_set_resize_end_child(GTK_PANED(vp), FALSE);
  gtk_paned_set_shrink_end_child(GTK_PANED(vp), FALSE);
  gtk_widget_set_vexpand(vp, TRUE);

  self->status = gtk_label_new(NULL);
  gtk_label_set_xalign(GTK_LABEL(self->status), 0);
  gtk_label_set_ellipsize(GTK_LABEL(self->status), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class(self->status, "mt-status");
  gtk_widget_add_css_class(self->status, "dim-label");

  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append(GTK_BOX(box), vp);
  gtk_box_append(GTK_BOX(box), self->status);
  gtk_window_set_child(GTK_WINDOW(self), box);

  /* the document */
  self->session = mt_session_new(opts->path);
  if (opts->samples)
    mt_session_set_samples(self->session, opts->samples);
  if (opts->compare)
    mt_session_set_compare_path(self->session, opts->compare);
  if (opts->what_if)
    mt_session_set_what_if(self->session, opts->what_if);
  mt_session_set_budget(self->session, opts->budget);
  mt_session_set_use_cache(self->session, !opts->no_cache);
  g_signal_connect(self->session, "lanes-ready", G_CALLBACK(on_lanes_ready), self);
  g_signal_connect(self->session, "notify::preview", G_CALLBACK(on_preview), self);
  update_status(self);
  mt_session_load_async(self->session, self->cancel, on_loaded, g_object_ref(self));

  mt_recent_add(gtk_recent_manager_get_default(), opts->path);
  gtk_widget_grab_focus(self->chart);
  return self;
}

gboolean mt_window_save_png(MtWindow *self, const char *path, GError **error)
{
  GtkWidget *w = GTK_WIDGET(self);
  GdkPaintable *paintable = gtk_widget_paintable_new(w);
  /* at its intrinsic size, which includes the client-side decorations
   * around the window's allocation (gtk_native_get_surface_transform), so
   * nothing is scaled */
  int width = gdk_paintable_get_intrinsic_width(paintable), height = gdk_paintable_get_intrinsic_height(paintable);
  if (width <= 0 || height <= 0) {
    width = gtk_widget_get_width(w);
    height = gtk_widget_get_height(w);
  }
  GtkSnapshot *snap = gtk_snapshot_new();
  gdk_paintable_snapshot(paintable, snap, width, height);
  GskRenderNode *node = gtk_snapshot_free_to_node(snap);
  g_object_unref(paintable);
  if (!node) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "nothing drawn yet");
    return FALSE;
  }
  GskRenderer *renderer = gtk_native_get_renderer(GTK_NATIVE(self));
  GdkTexture *tex = gsk_renderer_render_texture(renderer, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
  gsk_render_node_unref(node);
  gboolean ok = gdk_texture_save_to_png(tex, path);
  g_object_unref(tex);
  if (!ok)
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
  return ok;
}
