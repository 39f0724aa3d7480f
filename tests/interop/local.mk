# tests of the importers and exporters (tests/interop/)
if ENABLE_TESTS
check_PROGRAMS += tests/interop/test_interop_unit
tests_interop_test_interop_unit_SOURCES = tests/interop/test_interop_unit.c
tests_interop_test_interop_unit_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(CMOCKA_CFLAGS)
tests_interop_test_interop_unit_LDADD = analyzer/interop/libmemtrace-interop.la analyzer/lib/libmemtrace-analysis.la \
	schemas/libmemtrace-trace.la $(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS) $(CMOCKA_LIBS)
TESTS += tests/interop/test_interop_unit
TESTS += tests/interop/test_snapshot.sh tests/interop/test_kineto.sh tests/interop/test_nsys.sh \
	tests/interop/test_hostile.sh tests/interop/test_export.sh tests/interop/test_report.sh \
	tests/interop/test_snapshot_roles.sh tests/interop/test_perfetto_thin.sh tests/interop/test_report_sections.sh \
	tests/interop/test_perfetto_proto.sh
endif
EXTRA_DIST += tests/interop/common.sh tests/interop/nsys_devices.py tests/interop/kineto_nccl_bytes.py tests/interop/test_snapshot.sh tests/interop/test_kineto.sh tests/interop/test_nsys.sh \
	tests/interop/test_hostile.sh tests/interop/test_export.sh tests/interop/test_perfetto_thin.sh \
	tests/interop/check_snapshot.py tests/interop/check_perfetto.py tests/interop/test_report.sh \
	tests/interop/count_kineto.py tests/interop/test_interop_unit.c tests/interop/test_snapshot_roles.sh \
	tests/interop/test_report_sections.sh tests/interop/test_perfetto_proto.sh
# issue 20's Bar: every held-out file's reports show its kernel and NCCL counts
if ENABLE_TESTS
TESTS += tests/interop/test_report_counts.sh
endif
EXTRA_DIST += tests/interop/test_report_counts.sh tests/interop/check_report_counts.py
# importers' memory bounds against hostile nesting (issue 15)
if ENABLE_TESTS
TESTS += tests/interop/test_limits.sh
endif
EXTRA_DIST += tests/interop/test_limits.sh
