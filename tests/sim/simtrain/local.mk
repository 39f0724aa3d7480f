# tests/sim/simtrain: the simulated training workload (ground truth for the
# project) and its tests.  See tests/sim/simtrain/README.md.

if ENABLE_TESTS
check_PROGRAMS += tests/sim/simtrain/test_alloc
TESTS += tests/sim/simtrain/test_alloc
endif
tests_sim_simtrain_test_alloc_SOURCES = \
	tests/sim/simtrain/test_alloc.c \
	tests/sim/simtrain/alloc.c \
	tests/sim/simtrain/alloc.h
tests_sim_simtrain_test_alloc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sim_simtrain_test_alloc_LDADD = $(CMOCKA_LIBS)
