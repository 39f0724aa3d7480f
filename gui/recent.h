/* Recent traces: what the viewer opened, from GtkRecentManager (the
 * desktop's recently-used.xbel), filtered to memtrace traces and run
 * directories that still exist, newest first.  The header bar's Recent
 * menu is built from this list; `memtrace-view --list-recent` prints it. */
#ifndef MT_GUI_RECENT_H
#define MT_GUI_RECENT_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define MT_RECENT_GROUP "memtrace"
#define MT_RECENT_MAX 10

/* Records an opened trace or run directory (absolute path). */
void mt_recent_add(GtkRecentManager *rm, const char *path);
/* Up to `max` paths, newest first: items recorded by the viewer (group
 * "memtrace") or named *.mtrace, and run directories holding *.mtrace;
 * only those that exist.  NULL-terminated, g_strfreev. */
char **mt_recent_list(GtkRecentManager *rm, guint max);
/* A menu of that list: label "name — parent dir", action
 * `action` ("win.open-recent") with the path as its string target.
 * Refill it on the manager's "changed" signal with mt_recent_fill_menu. */
void mt_recent_fill_menu(GMenu *menu, GtkRecentManager *rm, const char *action);

G_END_DECLS

#endif
