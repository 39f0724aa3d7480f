# Viewer tests: synthetic traces with known curves (mkviewtrace), a PNG
# probe, and test_view.sh (headless screenshots; the real window under
# xvfb-run when it is installed).
if ENABLE_GUI
if ENABLE_TESTS
check_PROGRAMS += tests/gui/mkviewtrace tests/gui/pngprobe
tests_gui_mkviewtrace_SOURCES = tests/gui/mkviewtrace.c
tests_gui_mkviewtrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_gui_mkviewtrace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS)
tests_gui_pngprobe_SOURCES = tests/gui/pngprobe.c
tests_gui_pngprobe_CFLAGS = $(AM_CFLAGS) $(GTK_CFLAGS)
tests_gui_pngprobe_LDADD = $(GTK_LIBS)
TESTS += tests/gui/test_view.sh
endif
endif
EXTRA_DIST += tests/gui/test_view.sh
