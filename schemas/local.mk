# libmemtrace-trace: the writer/reader over the trace schema.  Static
# convenience library with PIC: linked into the memtrace command, the
# collector .so and the tests alike.
MT_MIGRATIONS = schemas/0001-core.sql schemas/0002-oom-and-gpu-memory.sql

noinst_LTLIBRARIES += schemas/libmemtrace-trace.la
schemas_libmemtrace_trace_la_SOURCES = \
	schemas/trace.h schemas/enums.h schemas/trace_internal.h schemas/trace.c schemas/enums.c \
	schemas/trace_check.c schemas/torch_actions.h
nodist_schemas_libmemtrace_trace_la_SOURCES = schemas/migrations.c
schemas_libmemtrace_trace_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
schemas_libmemtrace_trace_la_LIBADD = $(SQLITE_LIBS)
BUILT_SOURCES += schemas/migrations.c
CLEANFILES += schemas/migrations.c

schemas/migrations.c: $(MT_MIGRATIONS) $(top_srcdir)/scripts/embed-sql.sh
	$(AM_V_GEN)$(MKDIR_P) schemas && $(SHELL) $(top_srcdir)/scripts/embed-sql.sh $@ $(addprefix $(top_srcdir)/,$(MT_MIGRATIONS))

schemadir = $(pkgdatadir)/schemas
dist_schema_DATA = $(MT_MIGRATIONS) schemas/README.md
