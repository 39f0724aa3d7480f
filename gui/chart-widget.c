#include "config.h"
#include <math.h>
#include <stdio.h>
#include "gui/chart-widget.h"
#include "gui/units.h"

struct _MtChartWidget {
  GtkWidget parent_instance;
  MtChartData data;
  MtView view;
  MtLayout layout;
  double last_ms;
  int print_frames;
  /* drag state */
  int dragging_range;
  double drag_x0;
  int64_t drag_t0, drag_t1;   /* view at drag start */
  double zoom_scale0;
  int64_t zoom_v0, zoom_v1;
};

G_DEFINE_FINAL_TYPE(MtChartWidget, mt_chart_widget, GTK_TYPE_WIDGET)

enum { SIG_TIME, SIG_RANGE, SIG_SPAN, SIG_VIEW, N_SIGNALS };
static guint signals[N_SIGNALS];

static void view_changed(MtChartWidget *self)
{
  gtk_widget_queue_draw(GTK_WIDGET(self));
  g_signal_emit(self, signals[SIG_VIEW], 0);
}

static void mt_chart_widget_snapshot(GtkWidget *w, GtkSnapshot *snapshot)
{
  MtChartWidget *self = MT_CHART_WIDGET(w);
  int width = gtk_widget_get_width(w), height = gtk_widget_get_height(w);
  if (width < 10 || height < 10)
    return;
  gint64 t0 = g_get_monotonic_time();
  cairo_t *cr = gtk_snapshot_append_cairo(snapshot, &GRAPHENE_RECT_INIT(0, 0, width, height));
  mt_chart_draw(cr, &self->data, &self->view, width, height, &self->layout);
  cairo_destroy(cr);
  self->last_ms = (g_get_monotonic_time() - t0) / 1000.0;
  if (self->print_frames)
    fprintf(stderr, "memtrace-view: frame %.2f ms\n", self->last_ms);
}

/* ---- input -------------------------------------------------------------- */

static gboolean on_scroll(GtkEventControllerScroll *c, double dx, double dy, MtChartWidget *self)
{
  if (!self->data.analysis)
    return FALSE;
  GdkModifierType mods = gtk_event_controller_get_current_event_state(GTK_EVENT_CONTROLLER(c));
  double x = self->view.hover_x >= 0 ? self->view.hover_x : self->layout.plot.x + self->layout.plot.w / 2;
  int64_t anchor = mt_chart_t(&self->view, &self->layout, x);
  int64_t span = self->view.t1 - self->view.t0;
  if ((mods & GDK_SHIFT_MASK) && dx == 0) {
    dx = dy;
    dy = 0;
  }
  if (dx != 0)
    mt_view_pan(&self->view, &self->data, (int64_t)(dx * 0.05 * (double)span));
  if (dy != 0)
    mt_view_zoom(&self->view, &self->data, pow(1.2, -dy), anchor);
  view_changed(self);
  return TRUE;
}

static void on_zoom_begin(GtkGesture *g, GdkEventSequence *seq, MtChartWidget *self)
{
  self->zoom_v0 = self->view.t0;
  self->zoom_v1 = self->view.t1;
}

static void on_zoom_scale(GtkGestureZoom *g, double scale, MtChartWidget *self)
{
  double cx, cy;
  if (scale <= 0 || !gtk_gesture_get_bounding_box_center(GTK_GESTURE(g), &cx, &cy))
    return;
  MtView v0 = self->view;
  v0.t0 = self->zoom_v0;
  v0.t1 = self->zoom_v1;
  int64_t anchor = mt_chart_t(&v0, &self->layout, cx);
  self->view.t0 = self->zoom_v0;
  self->view.t1 = self->zoom_v1;
  mt_view_zoom(&self->view, &self->data, scale, anchor);
  view_changed(self);
}

static int in_rect(const MtRect *r, double x, double y)
{
  return x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h;
}

static void on_drag_begin(GtkGestureDrag *g, double x, double y, MtChartWidget *self)
{
  GdkModifierType mods = gtk_event_controller_get_current_event_state(GTK_EVENT_CONTROLLER(g));
  self->drag_x0 = x;
  self->drag_t0 = self->view.t0;
  self->drag_t1 = self->view.t1;
  self->dragging_range = (mods & GDK_SHIFT_MASK) || in_rect(&self->layout.ruler, x, y) ||
                         in_rect(&self->layout.lanes, x, y);
}

static void on_drag_update(GtkGestureDrag *g, double ox, double oy, MtChartWidget *self)
{
  if (!self->data.analysis || fabs(ox) < 3)
    return;
  if (self->dragging_range) {
    int64_t a = mt_chart_t(&self->view, &self->layout, self->drag_x0);
    int64_t b = mt_chart_t(&self->view, &self->layout, self->drag_x0 + ox);
    self->view.sel0 = a < b ? a : b;
    self->view.sel1 = a < b ? b : a;
    gtk_widget_queue_draw(GTK_WIDGET(self));
    return;
  }
  double ns_per_px = (double)(self->drag_t1 - self->drag_t0) / self->layout.plot.w;
  int64_t dt = (int64_t)(-ox * ns_per_px);
  mt_view_set_range(&self->view, &self->data, self->drag_t0 + dt, self->drag_t1 + dt);
  view_changed(self);
}

static void on_drag_end(GtkGestureDrag *g, double ox, double oy, MtChartWidget *self)
{
  if (self->dragging_range && fabs(ox) >= 3 && self->view.sel0 != MT_NONE)
    g_signal_emit(self, signals[SIG_RANGE], 0, (gint64)self->view.sel0, (gint64)self->view.sel1);
  self->dragging_range = 0;
}

static void on_click(GtkGestureClick *g, int n, double x, double y, MtChartWidget *self)
{
  gtk_widget_grab_focus(GTK_WIDGET(self));
  MtHit hit;
  mt_chart_hit(&self->data, &self->view, &self->layout, x, y, &hit);
  switch (hit.kind) {
  case MT_HIT_LEGEND:
    self->view.hidden ^= 1u << hit.category;
    view_changed(self);
    break;
  case MT_HIT_SPAN:
    if (n == 2) {
      int64_t pad = (hit.span->t1 - hit.span->t0) / 10 + 1;
      mt_view_set_range(&self->view, &self->data, hit.span->t0 - pad, hit.span->t1 + pad);
      view_changed(self);
    }
    g_signal_emit(self, signals[SIG_SPAN], 0, (gpointer)hit.lane, (gpointer)hit.span);
    break;
  case MT_HIT_CATEGORY:
  case MT_HIT_ABOVE:
  case MT_HIT_LANES:
  case MT_HIT_RULER:
    self->view.cursor = hit.t;
    self->view.sel0 = self->view.sel1 = MT_NONE;
    gtk_widget_queue_draw(GTK_WIDGET(self));
    g_signal_emit(self, signals[SIG_TIME], 0, (gint64)hit.t);
    break;
  default:
    break;
  }
}

static void on_motion(GtkEventControllerMotion *c, double x, double y, MtChartWidget *self)
{
  self->view.hover_x = x;
  self->view.hover_y = y;
  gtk_widget_queue_draw(GTK_WIDGET(self));
}

static void on_leave(GtkEventControllerMotion *c, MtChartWidget *self)
{
  self->view.hover_x = self->view.hover_y = -1;
  gtk_widget_queue_draw(GTK_WIDGET(self));
}

static gboolean on_query_tooltip(GtkWidget *w, int x, int y, gboolean kb, GtkTooltip *tip, gpointer data)
{
  MtChartWidget *self = MT_CHART_WIDGET(w);
  if (kb || !self->data.analysis)
    return FALSE;
  MtHit hit;
  mt_chart_hit(&self->data, &self->view, &self->layout, x, y, &hit);
  char *s = mt_chart_describe(&self->data, &self->view, &hit);
  if (!s)
    return FALSE;
  gtk_tooltip_set_text(tip, s);
  g_free(s);
  return TRUE;
}

/* ---- class -------------------------------------------------------------- */

static void mt_chart_widget_measure(GtkWidget *w, GtkOrientation o, int for_size, int *min, int *nat, int *minb,
                                    int *natb)
{
  *min = o == GTK_ORIENTATION_HORIZONTAL ? 400 : 260;
  *nat = o == GTK_ORIENTATION_HORIZONTAL ? 1100 : 520;
  *minb = *natb = -1;
}

static void mt_chart_widget_class_init(MtChartWidgetClass *klass)
{
  GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
  wc->snapshot = mt_chart_widget_snapshot;
  wc->measure = mt_chart_widget_measure;
  gtk_widget_class_set_accessible_role(wc, GTK_ACCESSIBLE_ROLE_IMG);
  gtk_widget_class_set_css_name(wc, "mtchart");
  signals[SIG_TIME] = g_signal_new("time-selected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                   NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIG_RANGE] = g_signal_new("range-selected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                    NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_INT64);
  signals[SIG_SPAN] = g_signal_new("span-selected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                   NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_POINTER);
  signals[SIG_VIEW] = g_signal_new("view-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                   NULL, G_TYPE_NONE, 0);
}

static void mt_chart_widget_init(MtChartWidget *self)
{
  GtkWidget *w = GTK_WIDGET(self);
  mt_view_init(&self->view, &self->data);
  self->print_frames = g_getenv("MT_VIEW_FRAME_TIMES") != NULL;
  gtk_widget_set_focusable(w, TRUE);
  gtk_widget_set_hexpand(w, TRUE);
  gtk_widget_set_vexpand(w, TRUE);
  gtk_widget_set_has_tooltip(w, TRUE);
  g_signal_connect(w, "query-tooltip", G_CALLBACK(on_query_tooltip), NULL);
  gtk_accessible_update_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL, "Memory timeline",
                                 GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                 "Device memory over time stacked by category, with kernel, NCCL and phase lanes",
                                 -1);

  GtkEventController *scroll = gtk_event_controller_scroll_new(GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect(scroll, "scroll", G_CALLBACK(on_scroll), self);
  gtk_widget_add_controller(w, scroll);

  GtkGesture *zoom = gtk_gesture_zoom_new();
  g_signal_connect(zoom, "begin", G_CALLBACK(on_zoom_begin), self);
  g_signal_connect(zoom, "scale-changed", G_CALLBACK(on_zoom_scale), self);
  gtk_widget_add_controller(w, GTK_EVENT_CONTROLLER(zoom));

  GtkGesture *drag = gtk_gesture_drag_new();
  gtk_gesture_single_set_button(GTK_GESTURE_SINGLE(drag), 0);
  g_signal_connect(drag, "drag-begin", G_CALLBACK(on_drag_begin), self);
  g_signal_connect(drag, "drag-update", G_CALLBACK(on_drag_update), self);
  g_signal_connect(drag, "drag-end", G_CALLBACK(on_drag_end), self);
  gtk_widget_add_controller(w, GTK_EVENT_CONTROLLER(drag));

  GtkGesture *click = gtk_gesture_click_new();
  g_signal_connect(click, "released", G_CALLBACK(on_click), self);
  gtk_widget_add_controller(w, GTK_EVENT_CONTROLLER(click));

  GtkEventController *motion = gtk_event_controller_motion_new();
  g_signal_connect(motion, "motion", G_CALLBACK(on_motion), self);
  g_signal_connect(motion, "leave", G_CALLBACK(on_leave), self);
  gtk_widget_add_controller(w, motion);
}

GtkWidget *mt_chart_widget_new(void)
{
  return g_object_new(MT_TYPE_CHART_WIDGET, NULL);
}

MtChartData *mt_chart_widget_get_data(MtChartWidget *self)
{
  return &self->data;
}

MtView *mt_chart_widget_get_view(MtChartWidget *self)
{
  return &self->view;
}

void mt_chart_widget_changed(MtChartWidget *self)
{
  view_changed(self);
}

const MtLayout *mt_chart_widget_get_layout(MtChartWidget *self)
{
  return &self->layout;
}

double mt_chart_widget_last_frame_ms(MtChartWidget *self)
{
  return self->last_ms;
}
