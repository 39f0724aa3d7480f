/* memtrace import: other tools' traces (PyTorch memory snapshots, Kineto /
 * torch.profiler JSON, memory-timeline raw files, Nsight Systems SQLite)
 * into memtrace traces.  The output appears whole or not at all: it is
 * written under a temporary name and renamed at the end. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/cmds/progress.h"
#include "analyzer/interop/interop.h"


static const char *base_name(const char *p)
{
  const char *s = strrchr(p, '/');
  return s && s[1] ? s + 1 : p;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "output", required_argument, NULL, 'o' },
    { "format", required_argument, NULL, 'f' },
    { "run-id", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  const char *out = NULL, *run_id = NULL;
  mt_import_format fmt = MT_FMT_AUTO;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:f:r:", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'r': run_id = optarg; break;
    case 'f':
      if (mt_import_format_parse(optarg, &fmt) != 0)
        return mt_usage_error("import", "unknown format '%s' (snapshot, kineto, memory-timeline, nsys)", optarg);
      break;
    default:
      return mt_usage_error("import", "unknown option '%s'", argv[optind - 1]);
    }
  }
  int nin = argc - optind;
  if (nin < 1)
    return mt_usage_error("import", "no input file");
  if (!out)
    return mt_usage_error("import", "no output (-o OUT)");
  if (mt_output_check("import", out, argv + optind, nin) != 0)
    return MT_EXIT_USAGE;
  if (access(out, F_OK) == 0) {
    mt_errorf("%s: already exists; not overwriting", out);
    return MT_EXIT_USAGE;
  }
  char rid[64];
  snprintf(rid, sizeof rid, "import:%s", run_id ? run_id : base_name(out));
  char *tmp = mt_output_temp(out);
  if (!tmp)
    return MT_EXIT_FAIL;
  mt_error err = { 0 };
  int rc;

  if (nin == 1) {
    mt_import_result res;
    /* a large Kineto or nsys file takes seconds: say so on a terminal */
    mt_progress("import", base_name(argv[optind]), 0, 0);
    rc = mt_import_file(argv[optind], fmt, tmp, rid, &res, &err);
    mt_progress_done();
    if (rc)
      mt_errorf("%s", err.msg);
    if (mt_output_commit(tmp, out, rc == MT_OK) != 0)
      return rc == MT_ENOMEM || rc == MT_ESQL || rc == MT_OK ? MT_EXIT_FAIL : MT_EXIT_USAGE;
    printf("%s: %lld events from %s\n", out, (long long)res.events, argv[optind]);
    return MT_EXIT_OK;
  }

  /* Several files: a run directory, one trace per rank. */
  if (mkdir(tmp, 0777) != 0) {
    mt_errorf("%s: cannot create: %s", tmp, strerror(errno));
    free(tmp);
    return MT_EXIT_FAIL;
  }
  int *ranks = calloc((size_t)nin, sizeof *ranks);
  int64_t total = 0;
  rc = ranks ? MT_OK : MT_ENOMEM;
  for (int i = 0; rc == MT_OK && i < nin; i++) {
    char part[4096], final[4096];
    mt_import_result res;
    snprintf(part, sizeof part, "%s/input%d.mtrace", tmp, i);
    mt_progress("import", base_name(argv[optind + i]), (size_t)i + 1, (size_t)nin);
    rc = mt_import_file(argv[optind + i], fmt, part, rid, &res, &err);
    if (rc)
      break;
    ranks[i] = res.rank >= 0 ? res.rank : i;
    for (int j = 0; j < i; j++)
      if (ranks[j] == ranks[i]) {
        mt_error_set(&err, MT_EINVAL, "%s: rank %d again (already from %s); give one file per rank",
                     argv[optind + i], ranks[i], argv[optind + j]);
        rc = MT_EINVAL;
      }
    if (rc)
      break;
    snprintf(final, sizeof final, "%s/rank%d.mtrace", tmp, ranks[i]);
    if (rename(part, final) != 0) {
      mt_error_set(&err, MT_EIO, "%s: cannot rename: %s", final, strerror(errno));
      rc = MT_EIO;
    }
    total += res.events;
  }
  free(ranks);
  mt_progress_done();
  if (rc)
    mt_errorf("%s", err.msg);
  if (mt_output_commit(tmp, out, rc == MT_OK) != 0)
    return rc == MT_ENOMEM || rc == MT_ESQL || rc == MT_OK ? MT_EXIT_FAIL : MT_EXIT_USAGE;
  printf("%s: %d traces, %lld events\n", out, nin, (long long)total);
  return MT_EXIT_OK;
}

const mt_cmd mt_cmd_import = {
  .name = "import",
  .summary = "convert PyTorch snapshots, Kineto JSON, memory timelines, nsys SQLite",
  .usage =
    "Usage: memtrace import FILE... -o OUT [--format FORMAT] [--run-id ID]\n"
    "\n"
    "Converts traces written by other tools into memtrace traces.  One FILE\n"
    "gives the trace OUT; several (one per rank) give the run directory OUT\n"
    "with rankN.mtrace inside.  OUT appears complete or not at all.\n"
    "\n"
    "Formats (detected from the content unless given):\n"
    "  snapshot         torch.cuda.memory._dump_snapshot pickle (read without\n"
    "                   executing anything)\n"
    "  kineto           torch.profiler / Kineto Chrome-trace JSON, .gz or not\n"
    "  memory-timeline  torch.profiler export_memory_timeline raw JSON\n"
    "  nsys             Nsight Systems SQLite export (nsys export -t sqlite)\n"
    "\n"
    "Exit status: 0 done, 2 bad input or usage (one line names the file), 1 failure.\n"
    "docs/INTEROP.md lists what each format maps to and what it cannot provide.\n",
  .run = run,
};
