# collector: libmemtrace-collector.so, preloaded into the traced program
# (and its NVTX injection library), and libmemtrace-collector-nop.so, the
# same hooks forwarding only (the overhead baseline).  See collector/README.md.
pkglib_LTLIBRARIES += collector/libmemtrace-collector.la collector/libmemtrace-collector-nop.la

MT_COLLECTOR_SOURCES = \
	collector/collector.h collector/hooks.h \
	collector/core.c collector/drain.c collector/cupti.c \
	collector/hooks_cudart.c collector/hooks_driver.c \
	collector/hooks_nccl.c collector/hooks_nvtx.c collector/hooks_libs.c \
	collector/hooks_framework.c

collector_libmemtrace_collector_la_SOURCES = $(MT_COLLECTOR_SOURCES)
collector_libmemtrace_collector_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden $(AX_PTHREAD_LIBS) \
	$(SQLITE_CFLAGS) $(UNWIND_CFLAGS)
collector_libmemtrace_collector_la_LDFLAGS = -module -avoid-version -no-undefined -Wl,--exclude-libs,ALL
collector_libmemtrace_collector_la_LIBADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS) \
	$(UNWIND_LIBS) $(AX_PTHREAD_LIBS) -ldl

# The drain is compiled in but never started: MT_NOP makes every hook
# forward only (guards and lazy resolution stay, as in the real one).
collector_libmemtrace_collector_nop_la_SOURCES = $(MT_COLLECTOR_SOURCES)
collector_libmemtrace_collector_nop_la_CFLAGS = $(collector_libmemtrace_collector_la_CFLAGS) -DMT_NOP
collector_libmemtrace_collector_nop_la_LDFLAGS = -module -avoid-version -no-undefined -Wl,--exclude-libs,ALL
collector_libmemtrace_collector_nop_la_LIBADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS) \
	$(AX_PTHREAD_LIBS) -ldl

EXTRA_DIST += collector/README.md
