if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_trace tests/unit/mktrace tests/unit/test_reader
tests_unit_test_trace_SOURCES = tests/unit/test_trace.c
tests_unit_test_trace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_trace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
tests_unit_mktrace_SOURCES = tests/unit/mktrace.c
tests_unit_mktrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_mktrace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS)
tests_unit_test_reader_SOURCES = tests/unit/test_reader.c
tests_unit_test_reader_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_reader_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
TESTS += tests/unit/test_trace tests/unit/test_reader tests/unit/test_cli.sh tests/unit/test_reader.sh
endif
EXTRA_DIST += tests/unit/test_cli.sh tests/unit/test_reader.sh tests/unit/tap.sh tests/golden
