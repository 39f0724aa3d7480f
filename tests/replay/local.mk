# tests/replay: the allocator models, transformations and planner (cmocka),
# and predictions checked against simtrain's ground truth (shell, TAP).
if ENABLE_TESTS
check_PROGRAMS += tests/replay/test_alloc_models
TESTS += tests/replay/test_alloc_models
endif
tests_replay_test_alloc_models_SOURCES = tests/replay/test_alloc_models.c
tests_replay_test_alloc_models_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_replay_test_alloc_models_LDADD = analyzer/replay/libmemtrace-replay.la $(CMOCKA_LIBS)
if ENABLE_TESTS
check_PROGRAMS += tests/replay/test_replay
TESTS += tests/replay/test_replay
endif
tests_replay_test_replay_SOURCES = tests/replay/test_replay.c
tests_replay_test_replay_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_replay_test_replay_LDADD = analyzer/replay/libmemtrace-replay.la $(CMOCKA_LIBS) -lm
if ENABLE_TESTS
TESTS += tests/replay/test_reality.sh tests/replay/test_timeline.sh tests/replay/test_torch_whatif.sh \
	tests/replay/test_maximize.sh tests/replay/test_host_memory.sh tests/replay/test_recommend_fits.sh
endif
EXTRA_DIST += tests/replay/test_reality.sh tests/replay/test_timeline.sh tests/replay/test_torch_whatif.sh \
	tests/replay/test_maximize.sh tests/replay/test_host_memory.sh tests/replay/test_recommend_fits.sh
# Benchmark, not part of make check: make tests/replay/bench_replay && tests/replay/bench_replay
noinst_PROGRAMS += tests/replay/bench_replay
tests_replay_bench_replay_SOURCES = tests/replay/bench_replay.c
tests_replay_bench_replay_LDADD = analyzer/replay/libmemtrace-replay.la -lm
