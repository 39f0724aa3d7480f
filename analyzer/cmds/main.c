/* memtrace: the command-line entry point.  Dispatches to one subcommand
 * per file in analyzer/cmds/; `memtrace -- CMD` is `memtrace record -- CMD`. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "schemas/trace.h"

/* Every subcommand, in the order `memtrace --help` lists them, each defined
 * in its own file. */
static const mt_cmd *const commands[] = {
  &mt_cmd_record, &mt_cmd_info, &mt_cmd_report, &mt_cmd_diff, &mt_cmd_replay,
  &mt_cmd_recommend, &mt_cmd_import, &mt_cmd_export, &mt_cmd_dump, &mt_cmd_upgrade,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const mt_cmd *find(const char *name)
{
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: memtrace [--version] [--help] COMMAND [ARGS]\n"
          "       memtrace -- PROGRAM [ARGS]     (record PROGRAM; same as 'memtrace record --')\n"
          "\n"
          "Records the GPU memory, kernels, NCCL calls and phases of a training job and\n"
          "explains its memory peak.\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "\n'memtrace help COMMAND' shows a command's options.\n");
}

int main(int argc, char **argv)
{
  /* before any SQLite call: corruption met anywhere is counted (trace.h) */
  mt_trace_watch_damage();
  if (argc < 2) {
    usage(stderr);
    return MT_EXIT_USAGE;
  }
  const char *a = argv[1];
  if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
    usage(stdout);
    return MT_EXIT_OK;
  }
  if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
    printf("memtrace %s (trace schema %d)\n", PACKAGE_VERSION, MT_SCHEMA_VERSION);
    return MT_EXIT_OK;
  }
  if (strcmp(a, "help") == 0) {
    if (argc < 3) {
      usage(stdout);
      return MT_EXIT_OK;
    }
    const mt_cmd *c = find(argv[2]);
    if (!c) {
      fprintf(stderr, "memtrace: unknown command '%s' (see 'memtrace --help')\n", argv[2]);
      return MT_EXIT_USAGE;
    }
    fputs(c->usage, stdout);
    return MT_EXIT_OK;
  }
  if (strcmp(a, "--") == 0) {
    argv[0] = (char *)"record";   /* record sees: record -- PROGRAM ARGS */
    return mt_cmd_record.run(argc, argv);
  }
  if (a[0] == '-') {
    fprintf(stderr, "memtrace: unknown option '%s' (see 'memtrace --help')\n", a);
    return MT_EXIT_USAGE;
  }
  const mt_cmd *c = find(a);
  if (!c) {
    fprintf(stderr, "memtrace: unknown command '%s' (see 'memtrace --help')\n", a);
    return MT_EXIT_USAGE;
  }
  if (mt_wants_help(argc - 1, argv + 1)) {
    fputs(c->usage, stdout);
    return MT_EXIT_OK;
  }
  int rc = c->run(argc - 1, argv + 1);
  /* The last line of defence: a command that met a damaged page and carried
     on (a statement's error taken for the end of its rows) does not succeed.
     Files it wrote were not renamed into place (mt_output_commit). */
  if (rc == MT_EXIT_OK && mt_trace_damage_seen(NULL, 0)) {
    fprintf(stderr, "memtrace %s: damaged: SQLite found a trace malformed; what was printed is incomplete\n", a);
    rc = MT_EXIT_USAGE;
  }
  return rc;
}
