# analyzer/replay: allocator models, technique transformations, the replay
# engine and the planner behind `memtrace replay` and `memtrace recommend`
# (docs/REPLAY.md).  A PIC convenience library, linked into the memtrace
# command and the tests.
noinst_LTLIBRARIES += analyzer/replay/libmemtrace-replay.la
analyzer_replay_libmemtrace_replay_la_SOURCES = \
	analyzer/replay/alloc.h analyzer/replay/alloc.c \
	analyzer/replay/replay.h analyzer/replay/input.c analyzer/replay/job.c analyzer/replay/engine.c \
	analyzer/replay/transform.c analyzer/replay/plan.c \
	analyzer/replay/technique.h analyzer/replay/technique.c \
	analyzer/replay/planner.h analyzer/replay/planner.c analyzer/replay/cost.h analyzer/replay/cost.c \
	analyzer/replay/input_trace.h analyzer/replay/input_trace.c \
	analyzer/replay/rsort.h analyzer/replay/rsort.c analyzer/replay/prefix.h
analyzer_replay_libmemtrace_replay_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(AX_PTHREAD_LIBS)
# recommend replays its plans on several threads
analyzer_replay_libmemtrace_replay_la_LIBADD = $(SQLITE_LIBS) -lm $(AX_PTHREAD_LIBS)

# memtrace replay / recommend (analyzer/cmds/), over this library.
memtrace_SOURCES += analyzer/cmds/replay.c analyzer/cmds/recommend.c
# input_trace.c reads traces through libmemtrace-analysis (mt_lifetimes_walk):
# whatever links this library with mt_rp_input_from_trace links that one after it.
memtrace_LDADD += analyzer/replay/libmemtrace-replay.la analyzer/lib/libmemtrace-analysis.la \
	schemas/libmemtrace-trace.la $(SQLITE_LIBS) $(JSONC_LIBS) -lm $(AX_PTHREAD_LIBS)
