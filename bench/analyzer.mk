# Analyzer benchmark (not part of make check): `make bench-analyzer`.
# A 10-million-event synthetic trace -> full `memtrace report` time vs a bare
# sqlite3 SELECT scan of the same tables, and peak RSS vs the trace's size.
# a check program: tests/analyzer/test_fleet.sh writes its synthetic runs with it
check_PROGRAMS += bench/analyzer-mktrace
bench_analyzer_mktrace_SOURCES = bench/analyzer-mktrace.c
bench_analyzer_mktrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
bench_analyzer_mktrace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS)
EXTRA_DIST += bench/analyzer-bench.sh bench/fleet-bench.sh

bench-analyzer: memtrace bench/analyzer-mktrace
	$(SHELL) $(top_srcdir)/bench/analyzer-bench.sh $(abs_top_builddir) $(ANALYZER_BENCH_EVENTS)
.PHONY: bench-analyzer

# The fleet report (docs/PERFORMANCE.md): FLEET_BENCH_RANKS x FLEET_BENCH_EVENTS
# (default 1024 x 100000) synthetic ranks, parallel vs sequential, RSS.
bench-fleet: memtrace bench/analyzer-mktrace
	$(SHELL) $(top_srcdir)/bench/fleet-bench.sh $(abs_top_builddir) $(FLEET_BENCH_RANKS) $(FLEET_BENCH_EVENTS)
.PHONY: bench-fleet
