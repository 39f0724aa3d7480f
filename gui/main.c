/* memtrace-view: the GTK4 timeline viewer (docs/VIEWER.md).
 *
 *   memtrace-view TRACE|RUNDIR [--budget SIZE] [--rank N] [--compare TRACE]
 *   memtrace-view TRACE --screenshot OUT.png [--size WxH] [--range A:B]
 *   memtrace-view --bench TRACE
 *
 * --screenshot and --bench never open a display: they are handled in
 * handle-local-options, before GTK is initialised. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gtk/gtk.h>
#include "gui/headless.h"
#include "gui/units.h"
#include "gui/window.h"
#include "gui/recent.h"

GResource *mt_view_get_resource(void);

static MtViewOptions opts = { .rank = -1, .width = 0, .height = 0, .select = MT_NONE, .list_live = MT_NONE };
static char *opt_budget, *opt_size, *opt_range, *opt_select, *opt_hide, *opt_list_live;
static gboolean opt_bench, opt_version, opt_list_recent;
static gint64 opt_samples;
static char **remaining;

static const GOptionEntry entries[] = {
  { "budget", 'b', 0, G_OPTION_ARG_STRING, &opt_budget, "Draw a budget line (70GiB, 80GB, ...)", "SIZE" },
  { "rank", 'r', 0, G_OPTION_ARG_INT, &opts.rank, "Show this rank (default: the one with the job's peak)", "N" },
  { "compare", 'c', 0, G_OPTION_ARG_FILENAME, &opts.compare, "Draw another run's allocated bytes on the same axis", "TRACE" },
  { "what-if", 'w', 0, G_OPTION_ARG_STRING, &opts.what_if, "Draw the memory a replay plan predicts "
    "(memtrace replay options: '--checkpoint all --zero 3' or checkpoint=all,zero=3)", "PLAN" },
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &opts.screenshot, "Render the chart to a PNG without a display and exit", "OUT.png" },
  { "size", 0, 0, G_OPTION_ARG_STRING, &opt_size, "Screenshot / window size (default 1400x800)", "WxH" },
  { "range", 0, 0, G_OPTION_ARG_STRING, &opt_range, "Visible time range (45ms:60ms; bare numbers are ms)", "START:END" },
  { "peak", 0, 0, G_OPTION_ARG_NONE, &opts.zoom_peak, "Start zoomed on the allocated peak", NULL },
  { "select", 0, 0, G_OPTION_ARG_STRING, &opt_select, "Select this time (list what is live there)", "TIME" },
  { "hide", 0, 0, G_OPTION_ARG_STRING, &opt_hide, "Hide categories (comma-separated)", "CATS" },
  { "all-ranks", 0, 0, G_OPTION_ARG_NONE, &opts.all_ranks, "Show every rank's peak side by side", NULL },
  { "dark", 0, 0, G_OPTION_ARG_NONE, &opts.dark, "Dark style", NULL },
  { "preview", 0, 0, G_OPTION_ARG_NONE, &opts.preview, "With --screenshot: draw only the memory-only first pass "
    "(what the window shows while the analysis runs)", NULL },
  { "cached", 0, 0, G_OPTION_ARG_NONE, &opts.cached, "With --screenshot: draw only the timeline cache of the last "
    "analysis (fails without a valid one)", NULL },
  { "no-cache", 0, 0, G_OPTION_ARG_NONE, &opts.no_cache, "Neither read nor write the timeline cache", NULL },
  { "samples", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64, &opt_samples, "Test hook: timeline samples per rank "
    "(default 32768; fewer make a short trace sample as coarsely as a long run)", "N" },
  { "layout", 0, 0, G_OPTION_ARG_FILENAME, &opts.layout, "With --screenshot: write the chart geometry (tests)", "FILE" },
  { "script", 0, 0, G_OPTION_ARG_STRING, &opts.script, "Test hook: ';'-separated window actions run after loading "
    "(go-to-peak, zoom-in, select-time 45ms, select-row 0, screenshot F, layout F, quit, ...)", "CMDS" },
  { "list-live", 0, 0, G_OPTION_ARG_STRING, &opt_list_live, "Print what is live at TIME (the window's table) and exit", "TIME" },
  { "bench", 0, 0, G_OPTION_ARG_NONE, &opt_bench, "Scripted zoom/pan frames without a display; print percentiles", NULL },
  { "list-recent", 0, 0, G_OPTION_ARG_NONE, &opt_list_recent, "Print the Recent menu's traces and runs (newest first) and exit", NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &remaining, NULL, "[TRACE|RUNDIR]" },
  { NULL, 0, 0, 0, NULL, NULL, NULL },
};

static int finish_options(void)
{
  if (opt_budget && mt_parse_size(opt_budget, &opts.budget)) {
    g_printerr("memtrace-view: --budget: not a size: %s\n", opt_budget);
    return 2;
  }
  if (opt_size && (sscanf(opt_size, "%dx%d", &opts.width, &opts.height) != 2 || opts.width < 200 ||
                   opts.height < 150 || opts.width > 16384 || opts.height > 16384)) {
    g_printerr("memtrace-view: --size: expected WxH (at least 200x150): %s\n", opt_size);
    return 2;
  }
  if (opt_samples < 0 || opt_samples == 1 || opt_samples > (1 << 24)) {
    g_printerr("memtrace-view: --samples: expected 2 to 16777216: %lld\n", (long long)opt_samples);
    return 2;
  }
  opts.samples = (size_t)opt_samples;
  if (opt_range && mt_parse_time_range(opt_range, &opts.r0, &opts.r1)) {
    g_printerr("memtrace-view: --range: expected START:END with START < END: %s\n", opt_range);
    return 2;
  }
  if (opt_select && mt_parse_time(opt_select, &opts.select)) {
    g_printerr("memtrace-view: --select: not a time: %s\n", opt_select);
    return 2;
  }
  if (opt_list_live && mt_parse_time(opt_list_live, &opts.list_live)) {
    g_printerr("memtrace-view: --list-live: not a time: %s\n", opt_list_live);
    return 2;
  }
  if (opt_hide) {
    char **names = g_strsplit(opt_hide, ",", -1);
    for (char **n = names; *n; n++) {
      int c = mt_category_from_name(g_strstrip(*n));
      if (c < 0) {
        g_printerr("memtrace-view: --hide: unknown category: %s\n", *n);
        g_strfreev(names);
        return 2;
      }
      opts.hidden |= 1u << c;
    }
    g_strfreev(names);
  }
  return 0;
}

static int handle_local(GApplication *app, GVariantDict *dict, gpointer data)
{
  if (opt_version) {
    printf("memtrace-view %s\n", PACKAGE_VERSION);
    return 0;
  }
  if (opt_list_recent) {
    char **paths = mt_recent_list(gtk_recent_manager_get_default(), MT_RECENT_MAX);
    for (char **p = paths; *p; p++)
      printf("%s\n", *p);
    g_strfreev(paths);
    return 0;
  }
  int rc = finish_options();
  if (rc)
    return rc;
  if (remaining && remaining[0]) {
    if (remaining[1]) {
      g_printerr("memtrace-view: one TRACE or RUNDIR at a time (use --compare for a second run)\n");
      return 2;
    }
    opts.path = g_strdup(remaining[0]);
  }
  opts.bench = opt_bench;
  if (opts.screenshot || opt_bench || opt_list_live) {
    if (!opts.path) {
      g_printerr("memtrace-view: %s needs a TRACE or RUNDIR\n",
                 opt_bench ? "--bench" : opt_list_live ? "--list-live" : "--screenshot");
      return 2;
    }
    if (opt_list_live)
      return mt_headless_list_live(&opts);
    if (!opts.width) {
      opts.width = opt_bench ? 1600 : 1400;
      opts.height = opt_bench ? 900 : 800;
    }
    return opt_bench ? mt_headless_bench(&opts) : mt_headless_screenshot(&opts);
  }
  return -1;
}

static void act_dark(GSimpleAction *a, GVariant *p, gpointer app)
{
  GVariant *st = g_action_get_state(G_ACTION(a));
  gboolean on = !g_variant_get_boolean(st);
  g_variant_unref(st);
  g_simple_action_set_state(a, g_variant_new_boolean(on));
  g_object_set(gtk_settings_get_default(), "gtk-application-prefer-dark-theme", on, NULL);
  for (GList *w = gtk_application_get_windows(GTK_APPLICATION(app)); w; w = w->next)
    g_action_group_activate_action(G_ACTION_GROUP(w->data), "set-dark", g_variant_new_boolean(on));
}

static void act_about(GSimpleAction *a, GVariant *p, gpointer app)
{
  GtkWindow *parent = gtk_application_get_active_window(GTK_APPLICATION(app));
  gtk_show_about_dialog(parent, "program-name", "memtrace viewer", "logo-icon-name", "org.memtrace.View",
                        "version", PACKAGE_VERSION, "comments",
                        "Device memory of GPU training runs over time, by category, with kernels, NCCL and phases",
                        "license-type", GTK_LICENSE_MIT_X11, NULL);
}

static void act_quit(GSimpleAction *a, GVariant *p, gpointer app)
{
  g_application_quit(G_APPLICATION(app));
}

static const GActionEntry app_actions[] = {
  { "dark", act_dark, NULL, "false", NULL, { 0 } },
  { "about", act_about, NULL, NULL, NULL, { 0 } },
  { "quit", act_quit, NULL, NULL, NULL, { 0 } },
};

static void startup(GApplication *app, gpointer data)
{
  g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions, G_N_ELEMENTS(app_actions), app);
  static const struct {
    const char *action;
    const char *accels[4];
  } accels[] = {
    { "win.go-to-peak", { "<Control>p", NULL } },
    { "win.all-ranks", { "<Control>r", NULL } },
    { "win.open", { "<Control>o", NULL } },
    { "win.close", { "<Control>w", NULL } },
    { "app.dark", { "<Control>d", NULL } },
    { "app.quit", { "<Control>q", NULL } },
  };
  for (size_t i = 0; i < G_N_ELEMENTS(accels); i++)
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), accels[i].action, accels[i].accels);
  GtkCssProvider *css = gtk_css_provider_new();
  gtk_css_provider_load_from_resource(css, "/org/memtrace/View/window.css");
  gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                             GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_unref(css);
  gtk_window_set_default_icon_name("org.memtrace.View");
  if (opts.dark) {
    g_object_set(gtk_settings_get_default(), "gtk-application-prefer-dark-theme", TRUE, NULL);
    g_simple_action_set_state(G_SIMPLE_ACTION(g_action_map_lookup_action(G_ACTION_MAP(app), "dark")),
                              g_variant_new_boolean(TRUE));
  }
}

static void open_path(GtkApplication *app, const char *path)
{
  MtViewOptions o = opts;
  o.path = (char *)path;
  gtk_window_present(GTK_WINDOW(mt_window_new(app, &o)));
}

static void on_activate(GApplication *app, gpointer data)
{
  /* no file: an empty window with Open and Recent */
  open_path(GTK_APPLICATION(app), opts.path);
}

int main(int argc, char **argv)
{
  g_resources_register(mt_view_get_resource());
  GtkApplication *app = gtk_application_new("org.memtrace.View", G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries(G_APPLICATION(app), entries);
  g_application_set_option_context_summary(G_APPLICATION(app),
                                           "Shows device memory over time, by category, with kernels, NCCL calls "
                                           "and phases.");
  g_signal_connect(app, "handle-local-options", G_CALLBACK(handle_local), NULL);
  g_signal_connect(app, "startup", G_CALLBACK(startup), NULL);
  g_signal_connect(app, "activate", G_CALLBACK(on_activate), NULL);
  int rc = g_application_run(G_APPLICATION(app), argc, argv);
  g_object_unref(app);
  return rc;
}
