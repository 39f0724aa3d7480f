# The memtrace command: one source file per subcommand in analyzer/cmds/,
# over the analysis library in analyzer/lib/ (shared with the GUI).
bin_PROGRAMS += memtrace
memtrace_SOURCES = \
	analyzer/cmds/main.c analyzer/cmds/cmds.h analyzer/cmds/dump.c \
	analyzer/cmds/upgrade.c analyzer/cmds/util.c
memtrace_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
memtrace_LDADD = schemas/libmemtrace-trace.la $(SQLITE_LIBS)
dist_man_MANS += docs/man/memtrace.1
