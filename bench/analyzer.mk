# Analyzer benchmark (not part of make check): `make bench-analyzer`.
# A 10-million-event synthetic trace -> full `memtrace report` time vs a bare
# sqlite3 SELECT scan of the same tables, and peak RSS vs the trace's size.
EXTRA_PROGRAMS = bench/analyzer-mktrace
bench_analyzer_mktrace_SOURCES = bench/analyzer-mktrace.c
bench_analyzer_mktrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
bench_analyzer_mktrace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS)
CLEANFILES += bench/analyzer-mktrace
EXTRA_DIST += bench/analyzer-bench.sh

bench-analyzer: memtrace bench/analyzer-mktrace
	$(SHELL) $(top_srcdir)/bench/analyzer-bench.sh $(abs_top_builddir) $(ANALYZER_BENCH_EVENTS)
.PHONY: bench-analyzer
