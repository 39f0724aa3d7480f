/* memtrace export: a trace (or a run directory) to other tools' formats:
 * Chrome/Perfetto trace-event JSON, or a PyTorch memory snapshot pickle. The
 * output appears whole or not at all (temporary name, renamed at the end). */
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
#include "analyzer/lib/analysis.h"

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The traces of a run directory (*.mtrace, sorted), or the file itself. */
static int list_traces(const char *in, char ***out, int *n)
{
  struct stat sb;
  *out = NULL;
  *n = 0;
  if (stat(in, &sb) != 0)
    return -1;
  if (!S_ISDIR(sb.st_mode)) {
    *out = malloc(sizeof **out);
    if (!*out)
      return -1;
    (*out)[0] = strdup(in);
    *n = 1;
    return 0;
  }
  DIR *d = opendir(in);
  if (!d)
    return -1;
  struct dirent *e;
  int cap = 0;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 7 || strcmp(e->d_name + l - 7, ".mtrace") != 0)
      continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      char **nv = realloc(*out, (size_t)cap * sizeof *nv);
      if (!nv)
        break;
      *out = nv;
    }
    size_t pl = strlen(in) + l + 2;
    (*out)[*n] = malloc(pl);
    snprintf((*out)[*n], pl, "%s/%s", in, e->d_name);
    (*n)++;
  }
  closedir(d);
  qsort(*out, (size_t)*n, sizeof **out, cmp_str);
  return 0;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "output", required_argument, NULL, 'o' },
    { "format", required_argument, NULL, 'f' },
    { "range", required_argument, NULL, 'r' },
    { "counter-buckets", required_argument, NULL, 'b' },
    { "gzip", no_argument, NULL, 'z' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *out = NULL, *fmt = NULL;
  mt_perfetto_opts po = MT_PERFETTO_OPTS_DEFAULT;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:f:r:b:zh", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'f': fmt = optarg; break;
    case 'r':
      if (mt_parse_time_range(optarg, &po.range_t0, &po.range_t1) != 0)
        return mt_usage_error("export", "--range wants START:END (times such as 1.5s, 200ms, 30us), got '%s'", optarg);
      po.has_range = 1;
      break;
    case 'b': {
      char *end;
      long long v = strtoll(optarg, &end, 10);
      if (*end || end == optarg || v < 0 || v > 100000000)
        return mt_usage_error("export", "--counter-buckets wants a number >= 0 (0: every change), got '%s'", optarg);
      po.counter_buckets = (size_t)v;
      break;
    }
    case 'z': po.gzip = 1; break;
    case 'h': fputs(mt_cmd_export.usage, stdout); return MT_EXIT_OK;
    default: return mt_usage_error("export", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return mt_usage_error("export", "give one TRACE or RUNDIR");
  if (!out)
    return mt_usage_error("export", "no output (-o FILE)");
  if (!fmt || (strcmp(fmt, "perfetto") != 0 && strcmp(fmt, "perfetto-proto") != 0 &&
               strcmp(fmt, "torch-snapshot") != 0))
    return mt_usage_error("export", "--format perfetto, perfetto-proto or torch-snapshot");
  const char *in = argv[optind];
  if (mt_output_check("export", out, argv + optind, 1) != 0)
    return MT_EXIT_USAGE;
  char **traces;
  int n;
  if (list_traces(in, &traces, &n) != 0 || n == 0) {
    mt_errorf("%s: %s", in, n == 0 && errno != ENOENT ? "no traces (*.mtrace) in this directory" : strerror(errno));
    free(traces);
    return MT_EXIT_USAGE;
  }
  char *tmp = mt_output_temp(out);
  mt_error err = { 0 };
  if (!tmp) {
    mt_errorf("%s: out of memory", out);
    return MT_EXIT_FAIL;
  }
  int rc;
  /* a long run's trace takes seconds to read and write: say so on a terminal */
  mt_progress("export", n > 1 ? "writing the ranks' traces" : "writing", 0, 0);
  if (strncmp(fmt, "perfetto", 8) == 0) {
    size_t ol = strlen(out);
    if (ol > 3 && strcmp(out + ol - 3, ".gz") == 0)
      po.gzip = 1;
    rc = fmt[8] ? mt_export_perfetto_proto((const char *const *)traces, n, tmp, &po, &err)
                : mt_export_perfetto_opts((const char *const *)traces, n, tmp, &po, &err);
  } else if (n != 1) {
    mt_error_set(&err, MT_EINVAL, "%s: a PyTorch snapshot holds one process: export one rank's trace", in);
    rc = MT_EINVAL;
  } else {
    rc = mt_export_torch_snapshot(traces[0], tmp, &err);
  }
  for (int i = 0; i < n; i++)
    free(traces[i]);
  free(traces);
  mt_progress_done();
  if (rc)
    mt_errorf("%s", err.msg);
  if (mt_output_commit(tmp, out, rc == MT_OK) != 0 && rc == MT_OK)
    return mt_trace_damage_seen(NULL, 0) ? MT_EXIT_USAGE : MT_EXIT_FAIL;
  if (rc)
    return rc == MT_ENOMEM || rc == MT_EIO ? MT_EXIT_FAIL : MT_EXIT_USAGE;
  return MT_EXIT_OK;
}

const mt_cmd mt_cmd_export = {
  .name = "export",
  .summary = "write a trace as Perfetto (JSON or protobuf) or a PyTorch memory snapshot",
  .usage =
    "Usage: memtrace export TRACE|RUNDIR --format perfetto|perfetto-proto|torch-snapshot -o FILE [OPTIONS]\n"
    "\n"
    "  perfetto        Chrome trace-event JSON for ui.perfetto.dev and chrome://tracing:\n"
    "                  one process per rank, one track per stream (kernels, copies),\n"
    "                  NCCL calls, NVTX ranges and CUDA API calls per thread, memory\n"
    "                  counters (reserved, allocated, allocated per label category).\n"
    "                  Counters are thinned: per time bucket each series keeps its\n"
    "                  minimum, maximum and last value at their own times, so every\n"
    "                  peak is exact (a 500-step run: tens of MB, not GBs).\n"
    "  perfetto-proto  the same tracks in Perfetto's native protobuf format\n"
    "                  (TracePackets; name it FILE.pftrace): smaller, and what\n"
    "                  Perfetto's UI and trace processor read fastest.\n"
    "  torch-snapshot  a pickle like torch.cuda.memory._dump_snapshot writes (one\n"
    "                  trace), for PyTorch's memory_viz: segments and blocks at the\n"
    "                  end of the trace, and the allocation trace.\n"
    "\n"
    "Perfetto options (both formats):\n"
    "  --range START:END     keep slices overlapping it and counters inside it (times\n"
    "                        from the run's start: 1.5s, 200ms, 30us; a bare number is ms)\n"
    "  --counter-buckets N   buckets over the span kept (default 20000; 0: every change)\n"
    "  -z, --gzip            gzip the file (also when FILE ends in .gz); Perfetto and\n"
    "                        chrome://tracing open it as it is\n"
    "\n"
    "FILE appears complete or not at all.  Exit status: 0 done, 2 bad input, 1 failure.\n",
  .run = run,
};
