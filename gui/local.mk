# memtrace-view: the GTK4 timeline viewer (docs/VIEWER.md).  Built unless
# configure --disable-gui.  The drawing code (chart.c) is plain cairo+pango,
# shared by the window, --screenshot and --bench.
if ENABLE_GUI
bin_PROGRAMS += gui/memtrace-view
gui_memtrace_view_SOURCES = \
	gui/main.c gui/window.c gui/window.h gui/chart-widget.c gui/chart-widget.h \
	gui/session.c gui/session.h gui/chart.c gui/chart.h gui/lanes.c gui/lanes.h \
	gui/liveset.c gui/liveset.h gui/palette.c gui/palette.h gui/units.c gui/units.h \
	gui/headless.c gui/headless.h gui/recent.c gui/recent.h gui/tlcache.c gui/tlcache.h
nodist_gui_memtrace_view_SOURCES = gui/resources.c
# GLib's G_DEFINE_* macros trip -Wmissing-prototypes/-Wshadow in GTK 4.8
# headers' expansions only through casts; keep the rest of MT_CFLAGS.
gui_memtrace_view_CFLAGS = $(AM_CFLAGS) $(GTK_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) \
	-Wno-unused-parameter
gui_memtrace_view_LDADD = analyzer/replay/libmemtrace-replay.la analyzer/lib/libmemtrace-analysis.la \
	schemas/libmemtrace-trace.la \
	$(GTK_LIBS) $(SQLITE_LIBS) $(JSONC_LIBS) -lm
BUILT_SOURCES += gui/resources.c
CLEANFILES += gui/resources.c

MT_GUI_RESOURCES = gui/memtrace-view.gresource.xml gui/help-overlay.ui gui/window.css
gui/resources.c: $(MT_GUI_RESOURCES)
	$(AM_V_GEN)$(MKDIR_P) gui && \
	  gcr=`$(PKG_CONFIG) --variable=glib_compile_resources gio-2.0 2>/dev/null`; \
	  $${gcr:-glib-compile-resources} --sourcedir=$(top_srcdir)/gui --generate-source \
	    --c-name mt_view --target=$@ $(top_srcdir)/gui/memtrace-view.gresource.xml

desktopdir = $(datadir)/applications
dist_desktop_DATA = gui/org.memtrace.View.desktop
iconsdir = $(datadir)/icons/hicolor/scalable/apps
dist_icons_DATA = gui/org.memtrace.View.svg
EXTRA_DIST += $(MT_GUI_RESOURCES)
endif
