#include "config.h"
#include <string.h>
#include "gui/recent.h"

static gboolean is_run_dir(const char *path)
{
  GDir *d = g_dir_open(path, 0, NULL);
  gboolean found = FALSE;
  const char *name;
  while (d && !found && (name = g_dir_read_name(d)))
    found = g_str_has_suffix(name, ".mtrace");
  if (d)
    g_dir_close(d);
  return found;
}

void mt_recent_add(GtkRecentManager *rm, const char *path)
{
  char *abs = g_canonicalize_filename(path, NULL);
  GFile *f = g_file_new_for_path(abs);
  char *uri = g_file_get_uri(f);
  gboolean dir = g_file_test(abs, G_FILE_TEST_IS_DIR);
  const char *groups[] = { MT_RECENT_GROUP, NULL };
  char *base = g_path_get_basename(abs);
  GtkRecentData data = {
    .display_name = base,
    .mime_type = dir ? (char *)"inode/directory" : (char *)"application/vnd.sqlite3",
    .app_name = (char *)"memtrace-view",
    .app_exec = (char *)"memtrace-view %f",
    .groups = (char **)groups,
  };
  gtk_recent_manager_add_full(rm, uri, &data);
  g_free(base);
  g_free(uri);
  g_object_unref(f);
  g_free(abs);
}

static gint by_modified(gconstpointer a, gconstpointer b)
{
  GDateTime *ma = gtk_recent_info_get_modified(*(GtkRecentInfo **)a);
  GDateTime *mb = gtk_recent_info_get_modified(*(GtkRecentInfo **)b);
  return -g_date_time_compare(ma, mb);   /* newest first */
}

char **mt_recent_list(GtkRecentManager *rm, guint max)
{
  GList *items = gtk_recent_manager_get_items(rm);
  GPtrArray *infos = g_ptr_array_new();
  for (GList *l = items; l; l = l->next)
    g_ptr_array_add(infos, l->data);
  g_ptr_array_sort(infos, by_modified);
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; i < infos->len && out->len < max; i++) {
    GtkRecentInfo *info = infos->pdata[i];
    const char *uri = gtk_recent_info_get_uri(info);
    if (!g_str_has_prefix(uri, "file:"))
      continue;
    char *path = g_filename_from_uri(uri, NULL, NULL);
    if (!path)
      continue;
    gboolean ours = gtk_recent_info_has_group(info, MT_RECENT_GROUP);
    gboolean keep = FALSE;
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
      keep = is_run_dir(path);
    else if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
      keep = ours || g_str_has_suffix(path, ".mtrace");
    if (keep)
      g_ptr_array_add(out, path);
    else
      g_free(path);
  }
  g_ptr_array_add(out, NULL);
  g_ptr_array_free(infos, TRUE);
  g_list_free_full(items, (GDestroyNotify)gtk_recent_info_unref);
  return (char **)g_ptr_array_free(out, FALSE);
}

void mt_recent_fill_menu(GMenu *menu, GtkRecentManager *rm, const char *action)
{
  g_menu_remove_all(menu);
  char **paths = mt_recent_list(rm, MT_RECENT_MAX);
  for (char **p = paths; *p; p++) {
    char *base = g_path_get_basename(*p), *dir = g_path_get_dirname(*p);
    char *dirbase = g_path_get_basename(dir);
    /* underscores are mnemonics in menu labels */
    char **parts = g_strsplit(base, "_", -1);
    char *esc = g_strjoinv("__", parts);
    char *label = g_strdup_printf("%s \xe2\x80\x94 %s", esc, dirbase);
    GMenuItem *it = g_menu_item_new(label, NULL);
    g_menu_item_set_action_and_target_value(it, action, g_variant_new_string(*p));
    g_menu_append_item(menu, it);
    g_object_unref(it);
    g_free(label);
    g_free(esc);
    g_strfreev(parts);
    g_free(dirbase);
    g_free(dir);
    g_free(base);
  }
  g_strfreev(paths);
}
