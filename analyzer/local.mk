# The memtrace command: one source file per subcommand in analyzer/cmds/,
# over the analysis library in analyzer/lib/ (shared with the GUI).

# libmemtrace-analysis: noinst PIC convenience library; the GUI links it too.
noinst_LTLIBRARIES += analyzer/lib/libmemtrace-analysis.la
analyzer_lib_libmemtrace_analysis_la_SOURCES = \
	analyzer/lib/analysis.h analyzer/lib/internal.h \
	analyzer/lib/analyze.c analyzer/lib/load.c analyzer/lib/json.c \
	analyzer/lib/util.c analyzer/lib/prefetch.c analyzer/lib/ranks.c analyzer/lib/mrseries.h analyzer/lib/mrseries.c \
	analyzer/lib/fleet.h analyzer/lib/fleet.c
analyzer_lib_libmemtrace_analysis_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(AX_PTHREAD_LIBS)
analyzer_lib_libmemtrace_analysis_la_LIBADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS) $(JSONC_LIBS) \
	$(AX_PTHREAD_LIBS) $(DEMANGLE_LIBS)

bin_PROGRAMS += memtrace
memtrace_SOURCES = \
	analyzer/cmds/main.c analyzer/cmds/cmds.h analyzer/cmds/dump.c \
	analyzer/cmds/upgrade.c analyzer/cmds/util.c \
	analyzer/cmds/report.c analyzer/cmds/report_mpi.c analyzer/cmds/render.c analyzer/cmds/render.h \
	analyzer/cmds/diff.c \
	analyzer/cmds/record.c analyzer/cmds/info.c analyzer/cmds/simulate.c \
	analyzer/cmds/progress.c analyzer/cmds/progress.h
memtrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(AX_PTHREAD_LIBS) $(MPI_CFLAGS)
memtrace_CPPFLAGS = $(AM_CPPFLAGS) -DMT_PKGLIBDIR='"$(pkglibdir)"'
memtrace_LDADD = analyzer/lib/libmemtrace-analysis.la schemas/libmemtrace-trace.la \
	$(SQLITE_LIBS) $(JSONC_LIBS) $(MPI_LIBS) -lm
dist_man_MANS += docs/man/memtrace.1
EXTRA_DIST += analyzer/README.md schemas/report.schema.json
