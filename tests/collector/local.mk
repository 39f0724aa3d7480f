# tests/collector: the collector and `memtrace record`/`info` on the
# simulated CUDA stack (see tests/collector/test_collector.sh).
if ENABLE_TESTS
check_PROGRAMS += tests/collector/cprog
TESTS += tests/collector/test_collector.sh tests/collector/test_backpressure.sh
TESTS += tests/collector/test_signals.sh
endif
EXTRA_DIST += tests/collector/test_signals.sh tests/collector/ctrl_c.py
tests/collector/test_signals.log: memtrace$(EXEEXT) collector/libmemtrace-collector.la
EXTRA_DIST += tests/collector/test_collector.sh tests/collector/test_backpressure.sh tests/collector/compare_truth.py \
	tests/collector/static_prog.cu

# A program on the runtime API: linked against the real toolkit's
# libcudart.so.13 (no rpath), run over tests/sim/cuda/.libs.
tests_collector_cprog_SOURCES = tests/collector/cprog.c
tests_collector_cprog_CFLAGS = $(AM_CFLAGS) $(AX_PTHREAD_LIBS)
tests_collector_cprog_LDADD = -L@CUDA_DIR@/lib64 -lcudart -ldl $(AX_PTHREAD_LIBS)

# The nvcc-built program on the stand-in static runtime (nvcc's default).
if HAVE_NVCC
tests/collector/static_prog: $(srcdir)/tests/collector/static_prog.cu tests/sim/cuda/libcudart_static.a
	$(AM_V_GEN)$(NVCC) -o $@ $(srcdir)/tests/collector/static_prog.cu -L$(top_builddir)/tests/sim/cuda -ldl -lpthread
CLEANFILES += tests/collector/static_prog
MT_COLLECTOR_TEST_NVCC = tests/collector/static_prog
endif

tests/collector/test_collector.log: memtrace$(EXEEXT) collector/libmemtrace-collector.la \
	tests/collector/cprog$(EXEEXT) $(MT_COLLECTOR_TEST_NVCC)
