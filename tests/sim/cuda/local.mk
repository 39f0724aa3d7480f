# tests/sim/cuda: the simulated CUDA stack (README.md there).
#
#   libcuda.la          -> tests/sim/cuda/.libs/libcuda.so.1     driver stand-in
#   libcudart.la        -> tests/sim/cuda/.libs/libcudart.so.13  runtime stand-in,
#                          symbol version libcudart.so.13 like the real one
#   libcudart_static.a  -> static runtime stand-in for nvcc programs
#                          (nvcc -L$(top_builddir)/tests/sim/cuda picks it up
#                          in place of the real -lcudart_static)
#
# Nothing links libcudart against libcuda: the runtime dlopen()s
# libcuda.so.1 at run time, as the real runtime does.

# Installed under $(pkglibdir)/sim, where `memtrace record --simulate-gpus`
# finds them (build tree: tests/sim/<lib>/.libs; analyzer/cmds/simulate.c).
simlibdir = $(pkglibdir)/sim
simlib_LTLIBRARIES = tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la
tests_sim_cuda_libcuda_la_SOURCES = \
	tests/sim/cuda/sim_driver.c \
	tests/sim/cuda/sim_arena.c \
	tests/sim/cuda/sim_arena.h \
	tests/sim/cuda/sim_procs.h \
	tests/sim/cuda/simcuda.h
tests_sim_cuda_libcuda_la_LDFLAGS = -version-number 1 \
	-export-symbols-regex '^(cu|mt_sim_)' -no-undefined
tests_sim_cuda_libcuda_la_LIBADD = $(AX_PTHREAD_LIBS) -lm

tests_sim_cuda_libcudart_la_SOURCES = tests/sim/cuda/sim_runtime.c
tests_sim_cuda_libcudart_la_LDFLAGS = -version-number 13 \
	-Wl,--version-script=$(srcdir)/tests/sim/cuda/libcudart.map -no-undefined
tests_sim_cuda_libcudart_la_LIBADD = $(AX_PTHREAD_LIBS) -ldl
EXTRA_tests_sim_cuda_libcudart_la_DEPENDENCIES = tests/sim/cuda/libcudart.map

# The same runtime as an archive.  PIC, because nvcc links PIE executables.
noinst_LIBRARIES += tests/sim/cuda/libcudart_static.a
tests_sim_cuda_libcudart_static_a_SOURCES = tests/sim/cuda/sim_runtime.c
tests_sim_cuda_libcudart_static_a_CFLAGS = $(AM_CFLAGS) -fPIC

EXTRA_DIST += tests/sim/cuda/libcudart.map tests/sim/cuda/README.md \
	tests/sim/cuda/test_realcudart.sh tests/sim/cuda/test_nvcc.sh \
	tests/sim/cuda/nvcc_kernels.cu

if ENABLE_TESTS
check_PROGRAMS += tests/sim/cuda/test_driver tests/sim/cuda/test_realcudart
tests_sim_cuda_test_driver_SOURCES = tests/sim/cuda/test_driver.c
tests_sim_cuda_test_driver_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sim_cuda_test_driver_LDADD = tests/sim/cuda/libcuda.la $(CMOCKA_LIBS) $(AX_PTHREAD_LIBS) -ldl

# Linked against the REAL runtime; run over the stand-ins by LD_LIBRARY_PATH
# (test_realcudart.sh).  No rpath into the toolkit.
tests_sim_cuda_test_realcudart_SOURCES = tests/sim/cuda/test_realcudart.c
tests_sim_cuda_test_realcudart_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sim_cuda_test_realcudart_LDADD = -L@CUDA_DIR@/lib64 -lcudart $(CMOCKA_LIBS) $(AX_PTHREAD_LIBS) -ldl

TESTS += tests/sim/cuda/test_driver tests/sim/cuda/test_realcudart.sh
tests/sim/cuda/test_realcudart.log: tests/sim/cuda/test_realcudart$(EXEEXT) \
	tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la

if HAVE_NVCC
# One .cu program, built twice: on the stand-in static runtime (nvcc's
# default -cudart static, with our archive found first through -L) and on
# the real shared runtime (-cudart shared).
SIMCUDA_NVCC_BINS = tests/sim/cuda/nvcc_kernels_static tests/sim/cuda/nvcc_kernels_shared
tests/sim/cuda/nvcc_kernels_static: tests/sim/cuda/nvcc_kernels.cu tests/sim/cuda/libcudart_static.a
	$(AM_V_GEN)$(NVCC) -o $@ $(srcdir)/tests/sim/cuda/nvcc_kernels.cu -L$(top_builddir)/tests/sim/cuda -ldl -lpthread
tests/sim/cuda/nvcc_kernels_shared: tests/sim/cuda/nvcc_kernels.cu
	$(AM_V_GEN)$(NVCC) -cudart shared -o $@ $(srcdir)/tests/sim/cuda/nvcc_kernels.cu
CLEANFILES += $(SIMCUDA_NVCC_BINS)
TESTS += tests/sim/cuda/test_nvcc.sh
tests/sim/cuda/test_nvcc.log: $(SIMCUDA_NVCC_BINS) tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la
endif
endif
