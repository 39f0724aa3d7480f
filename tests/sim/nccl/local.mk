# tests/sim/nccl: the simulated NCCL, libnccl.so.2 (see tests/sim/nccl/README.md).
# Real NCCL API over POSIX shared memory between rank processes; NCCL's own
# device buffers are allocated through libcuda.so.1 (cuGetProcAddress_v2).
simlib_LTLIBRARIES += tests/sim/nccl/libnccl.la
tests_sim_nccl_libnccl_la_SOURCES = \
	tests/sim/nccl/api.c \
	tests/sim/nccl/shm.c \
	tests/sim/nccl/coll.c \
	tests/sim/nccl/reduce.c \
	tests/sim/nccl/driver.c \
	tests/sim/nccl/stubs.c \
	tests/sim/nccl/nccl_int.h \
	tests/sim/nccl/simnccl.h
tests_sim_nccl_libnccl_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden $(AX_PTHREAD_LIBS)
tests_sim_nccl_libnccl_la_LDFLAGS = -version-number 2 -no-undefined
tests_sim_nccl_libnccl_la_LIBADD = $(AX_PTHREAD_LIBS) -lrt -lm
EXTRA_DIST += tests/sim/nccl/README.md tests/sim/nccl/gen_stubs.py tests/sim/nccl/test_stubs.sh tests/sim/nccl/test_nodes64.sh

if ENABLE_TESTS
# A counting stand-in libcuda.so.1 used only by these tests.
check_LTLIBRARIES += tests/sim/nccl/fakecuda/libcuda.la
tests_sim_nccl_fakecuda_libcuda_la_SOURCES = tests/sim/nccl/fakecuda/fakecuda.c
tests_sim_nccl_fakecuda_libcuda_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
tests_sim_nccl_fakecuda_libcuda_la_LDFLAGS = -version-number 1 -rpath $(abs_builddir) -no-undefined

check_PROGRAMS += tests/sim/nccl/test_nccl
tests_sim_nccl_test_nccl_SOURCES = tests/sim/nccl/test_nccl.c
tests_sim_nccl_test_nccl_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(AX_PTHREAD_LIBS)
tests_sim_nccl_test_nccl_LDADD = tests/sim/nccl/libnccl.la $(CMOCKA_LIBS) $(AX_PTHREAD_LIBS) -lm
TESTS += tests/sim/nccl/test_nccl tests/sim/nccl/test_stubs.sh tests/sim/nccl/test_nodes64.sh
tests/sim/nccl/test_stubs.log: tests/sim/nccl/libnccl.la
tests/sim/nccl/test_nodes64.log: tests/sim/nccl/libnccl.la tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la \
	tests/sim/simtrain/simtrain$(EXEEXT) memtrace$(EXEEXT) collector/libmemtrace-collector.la
endif
