# tests/sim/cupti: a CUPTI stand-in, libcupti.so.13 (README.md there), over
# the simulated driver's activity sink.  Real CUPTI API and record structs
# (the toolkit's cupti.h); soname libcupti.so.13, so that the collector's
# dlopen("libcupti.so.13") finds it first on LD_LIBRARY_PATH.
noinst_LTLIBRARIES += tests/sim/cupti/libcupti.la
tests_sim_cupti_libcupti_la_SOURCES = tests/sim/cupti/cupti.c
tests_sim_cupti_libcupti_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden $(AX_PTHREAD_LIBS)
tests_sim_cupti_libcupti_la_LDFLAGS = -version-number 13 -rpath $(abs_builddir)/tests/sim/cupti \
	-export-symbols-regex '^cupti' -no-undefined
tests_sim_cupti_libcupti_la_LIBADD = $(AX_PTHREAD_LIBS) -ldl
EXTRA_DIST += tests/sim/cupti/README.md tests/sim/cupti/test_cupti.sh tests/sim/cupti/check_gpu.py

if ENABLE_TESTS
TESTS += tests/sim/cupti/test_cupti.sh
tests/sim/cupti/test_cupti.log: memtrace$(EXEEXT) collector/libmemtrace-collector.la \
	tests/sim/cupti/libcupti.la tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la
endif

if ENABLE_TESTS
check_PROGRAMS += tests/sim/cupti/cupti_prog
tests_sim_cupti_cupti_prog_SOURCES = tests/sim/cupti/cupti_prog.c
tests_sim_cupti_cupti_prog_CFLAGS = $(AM_CFLAGS) $(AX_PTHREAD_LIBS)
tests_sim_cupti_cupti_prog_LDADD = tests/sim/cuda/libcuda.la $(AX_PTHREAD_LIBS)
tests/sim/cupti/test_cupti.log: tests/sim/cupti/cupti_prog$(EXEEXT)
endif
