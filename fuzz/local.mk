# Fuzz harnesses for the importers (libFuzzer, clang).  `make fuzz` builds
# them with ASan+UBSan and runs each for $(FUZZ_SECONDS) seconds over a copy
# of the checked-in seed corpus (fuzz/corpus/NAME); never part of `make
# check`.  CI replays the checked-in corpus through the same harnesses built
# without libFuzzer (tests/interop/test_fuzz_corpus.sh).
FUZZ_CC = clang
FUZZ_SECONDS = 600
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS = pickle kineto memtl nsys
FUZZ_INTEROP = $(addprefix $(top_srcdir)/analyzer/interop/, \
	util.c pickle.c jstream.c import.c import_snapshot.c import_kineto.c import_memtl.c import_nsys.c)

fuzz/fuzz-%: $(top_srcdir)/fuzz/fuzz_%.c $(FUZZ_INTEROP) schemas/libmemtrace-trace.la
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(top_srcdir) -I$(top_builddir) $(CUDA_CPPFLAGS) \
	  $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS) -o $@ $< $(FUZZ_INTEROP) \
	  schemas/.libs/libmemtrace-trace.a $(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS) -lm

fuzz: $(addprefix fuzz/fuzz-,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/work/$$t; cp $(top_srcdir)/fuzz/corpus/$$t/* fuzz/work/$$t/ 2>/dev/null; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  ./fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=fuzz/work/$$t- fuzz/work/$$t || exit 1; \
	  echo "fuzz $$t: corpus $$(ls fuzz/work/$$t | wc -l) files"; \
	done
.PHONY: fuzz

# The trace reader through the whole analysis (fuzz/fuzz_trace.c): one
# source, four targets (report, replay, export, viewer), seeded from small
# real recordings (fuzz/corpus/trace, made by tests/fuzz/mkseeds.sh).  `make
# fuzz-trace` runs each for $(FUZZ_SECONDS) s; ASan+UBSan as above.
FUZZ_TRACE_TARGETS = report replay export viewer
FUZZ_TRACE_SRC = $(addprefix $(top_srcdir)/, schemas/trace.c schemas/trace_check.c schemas/enums.c schemas/reader.c \
	analyzer/lib/analyze.c analyzer/lib/load.c analyzer/lib/json.c analyzer/lib/util.c analyzer/lib/prefetch.c \
	analyzer/cmds/render.c $(filter %.c,$(analyzer_replay_libmemtrace_replay_la_SOURCES)) \
	analyzer/interop/util.c analyzer/interop/export_perfetto.c analyzer/interop/export_snapshot.c \
	analyzer/interop/jstream.c analyzer/interop/pickle.c \
	gui/lanes.c gui/liveset.c gui/units.c) schemas/migrations.c
fuzz/fuzz-trace-%: $(top_srcdir)/fuzz/fuzz_trace.c $(FUZZ_TRACE_SRC)
	$(AM_V_CC)n=1; for t in $(FUZZ_TRACE_TARGETS); do [ $$t = $* ] && break; n=$$((n + 1)); done; \
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DMT_FUZZ_TRACE=$$n -I$(top_srcdir) -I$(top_builddir) $(CUDA_CPPFLAGS) \
	  $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS) `$(PKG_CONFIG) --cflags glib-2.0 gio-2.0` \
	  -o $@ $< $(FUZZ_TRACE_SRC) $(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS) \
	  `$(PKG_CONFIG) --libs glib-2.0 gio-2.0` -lpthread -lm

fuzz-trace: $(addprefix fuzz/fuzz-trace-,$(FUZZ_TRACE_TARGETS))
	@for t in $(FUZZ_TRACE_TARGETS); do \
	  mkdir -p fuzz/work/trace-$$t; cp $(top_srcdir)/fuzz/corpus/trace/* fuzz/work/trace-$$t/ 2>/dev/null; \
	  echo "fuzz trace-$$t: $(FUZZ_SECONDS) s"; \
	  ./fuzz/fuzz-trace-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	    -artifact_prefix=fuzz/work/trace-$$t- fuzz/work/trace-$$t || exit 1; \
	done
.PHONY: fuzz-trace
CLEANFILES += $(addprefix fuzz/fuzz-,$(FUZZ_TARGETS)) $(addprefix fuzz/fuzz-trace-,$(FUZZ_TRACE_TARGETS))
EXTRA_DIST += fuzz/fuzz_pickle.c fuzz/fuzz_kineto.c fuzz/fuzz_memtl.c fuzz/fuzz_nsys.c fuzz/replay.c fuzz/corpus \
	fuzz/fuzz_trace.c

# Corpus replay in CI: the harnesses linked with a plain main().
if ENABLE_TESTS
check_PROGRAMS += fuzz/replay-pickle fuzz/replay-kineto fuzz/replay-memtl fuzz/replay-nsys
fuzz_replay_pickle_SOURCES = fuzz/replay.c fuzz/fuzz_pickle.c
fuzz_replay_kineto_SOURCES = fuzz/replay.c fuzz/fuzz_kineto.c
fuzz_replay_memtl_SOURCES = fuzz/replay.c fuzz/fuzz_memtl.c
fuzz_replay_nsys_SOURCES = fuzz/replay.c fuzz/fuzz_nsys.c
FUZZ_REPLAY_LDADD = analyzer/interop/libmemtrace-interop.la schemas/libmemtrace-trace.la \
	$(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS)
fuzz_replay_pickle_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
fuzz_replay_kineto_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
fuzz_replay_memtl_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
fuzz_replay_nsys_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
fuzz_replay_pickle_LDADD = $(FUZZ_REPLAY_LDADD)
fuzz_replay_kineto_LDADD = $(FUZZ_REPLAY_LDADD)
fuzz_replay_memtl_LDADD = $(FUZZ_REPLAY_LDADD)
fuzz_replay_nsys_LDADD = $(FUZZ_REPLAY_LDADD)
TESTS += tests/interop/test_fuzz_corpus.sh
endif
EXTRA_DIST += tests/interop/test_fuzz_corpus.sh

# The corpus replay under ASan+UBSan (gcc's; no libFuzzer): what CI runs
# (scripts/test.sh builds `make fuzz-asan-replay` when CI=true, and
# tests/interop/test_fuzz_corpus.sh then requires them), so that the replay
# finds memory errors and undefined behaviour, not only crashes.
FUZZ_ASAN_CFLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz/asan-replay-%: $(top_srcdir)/fuzz/replay.c $(top_srcdir)/fuzz/fuzz_%.c $(FUZZ_INTEROP) schemas/libmemtrace-trace.la
	$(AM_V_CC)$(CC) $(FUZZ_ASAN_CFLAGS) -I$(top_srcdir) -I$(top_builddir) $(CUDA_CPPFLAGS) \
	  $(SQLITE_CFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS) -o $@ $(top_srcdir)/fuzz/replay.c $(top_srcdir)/fuzz/fuzz_$*.c \
	  $(FUZZ_INTEROP) schemas/.libs/libmemtrace-trace.a $(JSONC_LIBS) $(ZLIB_LIBS) $(SQLITE_LIBS) -lm
fuzz-asan-replay: $(addprefix fuzz/asan-replay-,$(FUZZ_TARGETS))
.PHONY: fuzz-asan-replay
CLEANFILES += $(addprefix fuzz/asan-replay-,$(FUZZ_TARGETS))
# The trace harnesses under ASan+UBSan in make check (CI): linked with the
# plain main() of fuzz/replay.c, every source they reach compiled again with
# the sanitizers, run by tests/analyzer/test_sanitized.sh over the checked-in
# corpus (fuzz/corpus/trace) and the hostile and damaged traces of
# test_damaged.sh.  docs/FUZZING.md says why this and not the whole suite.
MT_SAN_TRACE_SRC = fuzz/replay.c fuzz/fuzz_trace.c schemas/trace.c schemas/trace_check.c schemas/enums.c schemas/reader.c \
	analyzer/lib/analyze.c analyzer/lib/load.c analyzer/lib/json.c analyzer/lib/util.c analyzer/lib/prefetch.c \
	analyzer/lib/ranks.c analyzer/lib/mrseries.c analyzer/replay/job.c analyzer/replay/technique.c \
	analyzer/cmds/render.c analyzer/replay/alloc.c analyzer/replay/input.c analyzer/replay/engine.c \
	analyzer/replay/transform.c analyzer/replay/plan.c analyzer/replay/planner.c analyzer/replay/cost.c analyzer/replay/input_trace.c \
	analyzer/replay/rsort.c \
	analyzer/interop/util.c analyzer/interop/export_perfetto.c analyzer/interop/export_snapshot.c \
	analyzer/interop/jstream.c analyzer/interop/pickle.c
MT_SAN_LIBS = $(SQLITE_LIBS) $(JSONC_LIBS) $(ZLIB_LIBS) $(AX_PTHREAD_LIBS) $(DEMANGLE_LIBS) -lm
if ENABLE_TESTS
if HAVE_SANITIZERS
check_PROGRAMS += fuzz/san-trace-report fuzz/san-trace-replay fuzz/san-trace-export
fuzz_san_trace_report_SOURCES = $(MT_SAN_TRACE_SRC)
nodist_fuzz_san_trace_report_SOURCES = schemas/migrations.c
fuzz_san_trace_report_CFLAGS = $(AM_CFLAGS) $(MT_SAN_FLAGS) -O1 -DMT_FUZZ_TRACE=1 $(SQLITE_CFLAGS) $(JSONC_CFLAGS)
fuzz_san_trace_report_LDFLAGS = $(MT_SAN_FLAGS)
fuzz_san_trace_report_LDADD = $(MT_SAN_LIBS)
fuzz_san_trace_replay_SOURCES = $(MT_SAN_TRACE_SRC)
nodist_fuzz_san_trace_replay_SOURCES = schemas/migrations.c
fuzz_san_trace_replay_CFLAGS = $(AM_CFLAGS) $(MT_SAN_FLAGS) -O1 -DMT_FUZZ_TRACE=2 $(SQLITE_CFLAGS) $(JSONC_CFLAGS)
fuzz_san_trace_replay_LDFLAGS = $(MT_SAN_FLAGS)
fuzz_san_trace_replay_LDADD = $(MT_SAN_LIBS)
fuzz_san_trace_export_SOURCES = $(MT_SAN_TRACE_SRC)
nodist_fuzz_san_trace_export_SOURCES = schemas/migrations.c
fuzz_san_trace_export_CFLAGS = $(AM_CFLAGS) $(MT_SAN_FLAGS) -O1 -DMT_FUZZ_TRACE=3 $(SQLITE_CFLAGS) $(JSONC_CFLAGS)
fuzz_san_trace_export_LDFLAGS = $(MT_SAN_FLAGS)
fuzz_san_trace_export_LDADD = $(MT_SAN_LIBS)
if ENABLE_GUI
check_PROGRAMS += fuzz/san-trace-viewer
fuzz_san_trace_viewer_SOURCES = $(MT_SAN_TRACE_SRC) gui/lanes.c gui/liveset.c gui/units.c
nodist_fuzz_san_trace_viewer_SOURCES = schemas/migrations.c
fuzz_san_trace_viewer_CFLAGS = $(AM_CFLAGS) $(MT_SAN_FLAGS) -O1 -DMT_FUZZ_TRACE=4 $(SQLITE_CFLAGS) $(JSONC_CFLAGS) \
	$(GTK_CFLAGS) -Wno-unused-parameter
fuzz_san_trace_viewer_LDFLAGS = $(MT_SAN_FLAGS)
fuzz_san_trace_viewer_LDADD = $(MT_SAN_LIBS) $(GTK_LIBS)
endif
TESTS += tests/analyzer/test_sanitized.sh
endif
endif
EXTRA_DIST += tests/analyzer/test_sanitized.sh
