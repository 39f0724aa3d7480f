# tests/analyzer: libmemtrace-analysis on synthetic traces (cmocka), the
# report/diff command line, the HTML report in headless Chromium, and the
# accuracy of the report against simtrain's ground truth.
if ENABLE_TESTS
check_PROGRAMS += tests/analyzer/test_analysis tests/analyzer/test_lifetimes
TESTS += tests/analyzer/test_analysis tests/analyzer/test_lifetimes tests/analyzer/test_report.sh \
	tests/analyzer/test_html.sh tests/analyzer/test_accuracy.sh tests/analyzer/test_diff.sh \
	tests/analyzer/test_options.sh tests/analyzer/test_names.sh tests/analyzer/test_fold.sh \
	tests/analyzer/test_progress.sh tests/analyzer/test_chart.sh tests/analyzer/test_fleet.sh
endif
tests_analyzer_test_analysis_SOURCES = tests/analyzer/test_analysis.c tests/analyzer/synth.h
tests_analyzer_test_analysis_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(CMOCKA_CFLAGS)
tests_analyzer_test_analysis_LDADD = analyzer/lib/libmemtrace-analysis.la schemas/libmemtrace-trace.la \
	$(SQLITE_LIBS) $(JSONC_LIBS) $(CMOCKA_LIBS)
tests_analyzer_test_lifetimes_SOURCES = tests/analyzer/test_lifetimes.c tests/analyzer/synth.h
tests_analyzer_test_lifetimes_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(CMOCKA_CFLAGS)
tests_analyzer_test_lifetimes_LDADD = analyzer/lib/libmemtrace-analysis.la schemas/libmemtrace-trace.la \
	$(SQLITE_LIBS) $(JSONC_LIBS) $(CMOCKA_LIBS)
# Trust: hostile and damaged traces through every reader, -o never over an
# input, control characters escaped in text outputs.
if ENABLE_TESTS
TESTS += tests/analyzer/test_damaged.sh tests/analyzer/test_outputs.sh tests/analyzer/test_escape.sh
endif
EXTRA_DIST += tests/analyzer/test_damaged.sh tests/analyzer/test_outputs.sh tests/analyzer/test_escape.sh \
	tests/analyzer/mkhostile.py tests/fuzz/mkseeds.sh
EXTRA_DIST += tests/analyzer/test_fleet.sh tests/analyzer/test_report.sh tests/analyzer/test_html.sh \
	tests/analyzer/test_accuracy.sh tests/analyzer/test_diff.sh tests/analyzer/check_report.py \
	tests/analyzer/test_options.sh tests/analyzer/test_names.sh tests/analyzer/test_fold.sh \
	tests/analyzer/test_progress.sh tests/analyzer/test_chart.sh

include bench/analyzer.mk
