# tests of the importers and exporters (tests/interop/)
if ENABLE_TESTS
TESTS += tests/interop/test_snapshot.sh tests/interop/test_kineto.sh tests/interop/test_nsys.sh \
	tests/interop/test_hostile.sh tests/interop/test_export.sh tests/interop/test_report.sh
endif
EXTRA_DIST += tests/interop/common.sh tests/interop/test_snapshot.sh tests/interop/test_kineto.sh tests/interop/test_nsys.sh \
	tests/interop/test_hostile.sh tests/interop/test_export.sh \
	tests/interop/check_snapshot.py tests/interop/check_perfetto.py tests/interop/test_report.sh
