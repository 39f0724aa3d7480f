/* MtChartWidget: the timeline on screen.  Draws with mt_chart_draw into the
 * snapshot's cairo node and turns input into view changes:
 *   wheel / Ctrl+wheel: zoom at the pointer; horizontal scroll, Shift+wheel:
 *   pan; pinch (GtkGestureZoom): zoom; primary drag: pan; Shift+drag, or a
 *   drag in the ruler: select a range; click: select an instant, a span, or
 *   toggle a legend entry.
 * Signals: "time-selected" (gint64 ns), "range-selected" (gint64, gint64),
 * "span-selected" (gpointer MtLane, gpointer MtSpan), "view-changed". */
#ifndef MT_GUI_CHART_WIDGET_H
#define MT_GUI_CHART_WIDGET_H

#include <gtk/gtk.h>
#include "gui/chart.h"

G_BEGIN_DECLS

#define MT_TYPE_CHART_WIDGET (mt_chart_widget_get_type())
G_DECLARE_FINAL_TYPE(MtChartWidget, mt_chart_widget, MT, CHART_WIDGET, GtkWidget)

GtkWidget *mt_chart_widget_new(void);
/* The data and view the widget draws; change them, then call _changed. */
MtChartData *mt_chart_widget_get_data(MtChartWidget *self);
MtView *mt_chart_widget_get_view(MtChartWidget *self);
void mt_chart_widget_changed(MtChartWidget *self);
const MtLayout *mt_chart_widget_get_layout(MtChartWidget *self);
/* Milliseconds the last frame's drawing took. */
double mt_chart_widget_last_frame_ms(MtChartWidget *self);

G_END_DECLS

#endif
