# tests/sim/simtrain: the simulated training workload (ground truth for the
# project) and its tests.  See tests/sim/simtrain/README.md.

if ENABLE_TESTS
check_PROGRAMS += tests/sim/simtrain/test_alloc
TESTS += tests/sim/simtrain/test_alloc
if HAVE_NVCC
TESTS += tests/sim/simtrain/test_simtrain.sh
endif
endif
EXTRA_DIST += tests/sim/simtrain/test_simtrain.sh tests/sim/simtrain/check_truth.py tests/sim/simtrain/testenv.sh
if HAVE_NVCC
tests/sim/simtrain/test_simtrain.log: tests/sim/simtrain/simtrain$(EXEEXT) tests/sim/cublas/libcublas.la \
	tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la tests/sim/nccl/libnccl.la
endif
tests_sim_simtrain_test_alloc_SOURCES = \
	tests/sim/simtrain/test_alloc.c \
	tests/sim/simtrain/alloc.c \
	tests/sim/simtrain/alloc.h
tests_sim_simtrain_test_alloc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sim_simtrain_test_alloc_LDADD = $(CMOCKA_LIBS)

# simtrain itself: C modules + kernels.cu built by nvcc with the shared
# runtime, linked dynamically against libcublas/libcudart/libnccl (the real
# toolkit's at link time; the simulated ones at run time through
# LD_LIBRARY_PATH, tests/sim/cublas/.libs among them).
if HAVE_NVCC
noinst_PROGRAMS += tests/sim/simtrain/simtrain
endif
tests_sim_simtrain_simtrain_SOURCES = \
	tests/sim/simtrain/main.c tests/sim/simtrain/simtrain.h \
	tests/sim/simtrain/options.c tests/sim/simtrain/options.h \
	tests/sim/simtrain/alloc.c tests/sim/simtrain/alloc.h \
	tests/sim/simtrain/tensor.c \
	tests/sim/simtrain/truth.c tests/sim/simtrain/truth.h \
	tests/sim/simtrain/report.c tests/sim/simtrain/report.h \
	tests/sim/simtrain/gpu.c tests/sim/simtrain/gpu.h \
	tests/sim/simtrain/dist.c \
	tests/sim/simtrain/model_gpt.c tests/sim/simtrain/model_evo.c \
	tests/sim/simtrain/train.c tests/sim/simtrain/kernels.h
EXTRA_DIST += tests/sim/simtrain/kernels.cu tests/sim/simtrain/README.md
tests_sim_simtrain_simtrain_LDADD = tests/sim/simtrain/kernels.o \
	-L@CUDA_DIR@/lib64 -lcublas -lnccl -lcudart -ldl -lstdc++
tests_sim_simtrain_simtrain_DEPENDENCIES = tests/sim/simtrain/kernels.o
tests/sim/simtrain/kernels.o: tests/sim/simtrain/kernels.cu tests/sim/simtrain/kernels.h
	$(AM_V_GEN)$(NVCC) -cudart shared -Xcompiler -fPIC -I$(top_srcdir)/tests/sim/simtrain \
		-c $(top_srcdir)/tests/sim/simtrain/kernels.cu -o $@
CLEANFILES += tests/sim/simtrain/kernels.o
