/* memtrace upgrade: brings a trace written by an older memtrace to the
 * current schema, in place, in one transaction. */
#include "config.h"
#include <stdio.h>
#include "analyzer/cmds/cmds.h"
#include "schemas/trace.h"

static int run(int argc, char **argv)
{
  if (argc != 2 || argv[1][0] == '-')
    return argc == 2 ? mt_usage_error("upgrade", "unknown option '%s'", argv[1])
                     : mt_usage_error("upgrade", "expects exactly one trace file");
  mt_error err = { 0 };
  int from = 0;
  if (mt_trace_upgrade(argv[1], &from, &err) != MT_OK) {
    mt_errorf("%s", err.msg);
    return MT_EXIT_USAGE;
  }
  if (from == MT_SCHEMA_VERSION)
    printf("%s: already at schema version %d\n", argv[1], MT_SCHEMA_VERSION);
  else
    printf("%s: upgraded from schema version %d to %d\n", argv[1], from, MT_SCHEMA_VERSION);
  return MT_EXIT_OK;
}

const mt_cmd mt_cmd_upgrade = {
  "upgrade", "bring a trace from an older memtrace to the current schema",
  "Usage: memtrace upgrade TRACE\n"
  "\n"
  "Applies the schema migrations (schemas/NNNN-*.sql) that TRACE lacks, in\n"
  "place and in one transaction: on failure the file is left as it was.\n"
  "Exit status: 0 on success, 2 if TRACE is not a memtrace trace or is newer\n"
  "than this memtrace.\n",
  run,
};
