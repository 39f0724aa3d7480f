# libmemtrace-interop: importers (PyTorch snapshots, Kineto, memory
# timeline, nsys) and exporters (Perfetto JSON, PyTorch snapshot pickle),
# linked into `memtrace import` / `memtrace export` and the fuzz harnesses.
noinst_LTLIBRARIES += analyzer/interop/libmemtrace-interop.la
analyzer_interop_libmemtrace_interop_la_SOURCES = \
	analyzer/interop/interop.h analyzer/interop/interop_internal.h \
	analyzer/interop/util.c analyzer/interop/pickle.c analyzer/interop/jstream.h analyzer/interop/jstream.c analyzer/interop/import.c \
	analyzer/interop/import_snapshot.c analyzer/interop/import_kineto.c \
	analyzer/interop/import_memtl.c analyzer/interop/import_nsys.c \
	analyzer/interop/export_perfetto.c analyzer/interop/export_snapshot.c

analyzer_interop_libmemtrace_interop_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS)

memtrace_SOURCES += analyzer/cmds/import.c analyzer/cmds/export.c
# the analysis library again after ours: export_perfetto uses it (static link order)
memtrace_LDADD += analyzer/interop/libmemtrace-interop.la analyzer/lib/libmemtrace-analysis.la \
	schemas/libmemtrace-trace.la $(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS)
