/* MtWindow: one window per session.  Header bar (open, rank, go to peak,
 * all ranks, menu), the chart, the table of what is live at the selected
 * time, and a details pane.  Actions (win.*) carry every command, so menus,
 * shortcuts and the --script test hook drive the same code. */
#ifndef MT_GUI_WINDOW_H
#define MT_GUI_WINDOW_H

#include <gtk/gtk.h>
#include "gui/session.h"
#include "gui/headless.h"

G_BEGIN_DECLS

#define MT_TYPE_WINDOW (mt_window_get_type())
G_DECLARE_FINAL_TYPE(MtWindow, mt_window, MT, WINDOW, GtkApplicationWindow)

/* Opens `opts->path` (loading starts at once); opts is copied. */
MtWindow *mt_window_new(GtkApplication *app, const MtViewOptions *opts);
/* Renders the whole window into a PNG.  Returns TRUE or sets error. */
gboolean mt_window_save_png(MtWindow *self, const char *path, GError **error);

G_END_DECLS

#endif
