/* memtrace report: what the peak was, when, what it was made of and why, on
 * every rank; for people (text, Markdown, HTML) and for CI (JSON, --budget,
 * --baseline).  Thin over libmemtrace-analysis. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/cmds/render.h"
#include "analyzer/cmds/progress.h"
#include "analyzer/lib/analysis.h"
#include "analyzer/lib/fleet.h"
#include <sqlite3.h>
#include <sys/stat.h>

/* Closes a file of mt_output_fopen whose content `rc` (0 or -1) says was
 * written, and renames it into place when whole (util.c).  Returns 0 or -1
 * (message printed). */
static int output_close(FILE *f, char *tmp, const char *path, int rc)
{
  int e = errno;
  if (fflush(f) != 0 || fsync(fileno(f)) != 0)
    rc = -1, e = errno;
  if (fclose(f) != 0 && rc == 0)
    rc = -1, e = errno;
  if (rc != 0)
    mt_errorf("%s: cannot write: %s", path, strerror(e));
  return mt_output_commit(tmp, path, rc == 0);
}

/* Writes the report to path: beside it, renamed into place when whole. */
static int write_atomic(const char *path, const mt_analysis *a, int fmt)
{
  char *tmp;
  FILE *f = mt_output_fopen(path, &tmp);
  if (!f)
    return -1;
  return output_close(f, tmp, path, mt_render(f, a, fmt));
}

static int parse_format(const char *s)
{
  if (!strcmp(s, "text")) return MT_FMT_TEXT;
  if (!strcmp(s, "json")) return MT_FMT_JSON;
  if (!strcmp(s, "md") || !strcmp(s, "markdown")) return MT_FMT_MD;
  if (!strcmp(s, "html")) return MT_FMT_HTML;
  return -1;
}

static int64_t jint(json_object *o, const char *k1, const char *k2)
{
  json_object *v;
  if (!json_object_object_get_ex(o, k1, &v))
    return -1;
  if (k2 && !json_object_object_get_ex(v, k2, &v))
    return -1;
  return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

/* Compares each rank's peaks with the baseline report's.  Returns
 * MT_EXIT_OK, MT_EXIT_THRESHOLD (one line printed) or MT_EXIT_USAGE. */
static int check_baseline(const mt_analysis *a, const char *path, double max_pct)
{
  json_object *old = json_object_from_file(path);
  json_object *ranks;
  if (!old || !json_object_object_get_ex(old, "ranks", &ranks) || !json_object_is_type(ranks, json_type_array)) {
    mt_errorf("%s: not a memtrace JSON report (memtrace report --format json)", path);
    json_object_put(old);
    return MT_EXIT_USAGE;
  }
  int rc = MT_EXIT_OK, matched = 0;
  for (size_t i = 0; i < a->nranks && rc == MT_EXIT_OK; i++) {
    const mt_rank *r = &a->ranks[i];
    for (size_t j = 0; j < json_object_array_length(ranks); j++) {
      json_object *o = json_object_array_get_idx(ranks, j);
      if (jint(o, "rank", NULL) != r->rank)
        continue;
      matched = 1;
      static const char *const what[2] = { "allocated", "reserved" };
      int64_t was[2] = { jint(o, "peak", "allocated_bytes"), jint(o, "peak", "reserved_bytes") };
      uint64_t now[2] = { r->peak_allocated, r->peak_reserved };
      for (int k = 0; k < 2; k++) {
        if (was[k] < 0)
          continue;
        double lim = (double)was[k] * (1.0 + max_pct / 100.0);
        if ((double)now[k] > lim) {
          char b1[64], b2[64];
          double inc = was[k] ? 100.0 * ((double)now[k] - (double)was[k]) / (double)was[k] : 100.0;
          fprintf(stderr, "memtrace report: regression: rank %d peak %s %s vs %s in %s (+%.1f%% > %g%%)\n",
                  r->rank, what[k], mt_size_str(now[k], b1, sizeof b1), mt_size_str((uint64_t)was[k], b2, sizeof b2),
                  path, inc, max_pct);
          rc = MT_EXIT_THRESHOLD;
          break;
        }
      }
      break;
    }
  }
  if (rc == MT_EXIT_OK && !matched) {
    mt_errorf("%s: the baseline has none of this run's ranks", path);
    rc = MT_EXIT_USAGE;
  }
  json_object_put(old);
  return rc;
}

/* A run directory of more traces than this gets the fleet summary unless
 * --per-rank asks for every rank's full report. */
#define FLEET_MIN_RANKS 16

static void fleet_progress(size_t done, size_t n)
{
  mt_progress("report", "analysing ranks", done, n);
}

int mt_report_fleet_finish(const char *path, mt_fleet_rank *r, size_t n, int json, const char *outpath,
                           const uint64_t *budget)
{
  for (size_t i = 0; i < n; i++)
    if (r[i].error[0]) {
      mt_errorf("%s", r[i].error);
      return MT_EXIT_USAGE;
    }
  mt_fleet_sort(r, n);
  if (outpath) {
    char *tmp;
    FILE *f = mt_output_fopen(outpath, &tmp);
    if (!f)
      return MT_EXIT_FAIL;
    if (output_close(f, tmp, outpath, mt_fleet_render(f, path, r, n, json)) != 0)
      return MT_EXIT_FAIL;
  } else if (mt_fleet_render(stdout, path, r, n, json) != 0 || fflush(stdout) != 0) {
    mt_errorf("report: cannot write output: %s", strerror(errno));
    return MT_EXIT_FAIL;
  }
  for (size_t i = 0; budget && i < n; i++)
    if (r[i].peak_reserved > *budget || r[i].peak_allocated > *budget) {
      char b1[64], b2[64], b3[64];
      fprintf(stderr, "memtrace report: over budget: rank %d peak reserved %s (allocated %s) > budget %s\n",
              r[i].rank, mt_size_str(r[i].peak_reserved, b1, sizeof b1),
              mt_size_str(r[i].peak_allocated, b2, sizeof b2), mt_size_str(*budget, b3, sizeof b3));
      return MT_EXIT_THRESHOLD;
    }
  return MT_EXIT_OK;
}

/* The fleet summary of a run directory in this process: every core. */
static int fleet_report(const char *dir, int jobs, int json, const char *outpath, const uint64_t *budget)
{
  mt_error err = { 0 };
  size_t n;
  char **paths = mt_fleet_list(dir, &n, &err);
  if (!paths) {
    mt_errorf("%s", err.msg);
    return err.code == MT_ENOMEM ? MT_EXIT_FAIL : MT_EXIT_USAGE;
  }
  mt_fleet_rank *r = calloc(n, sizeof *r);
  int rc = MT_EXIT_FAIL;
  if (!r)
    mt_errorf("%s: out of memory", dir);
  else if (mt_fleet_analyse(paths, n, jobs, r, fleet_progress) != MT_OK)
    mt_errorf("%s: cannot start the analysis threads", dir);
  else {
    mt_progress_done();
    rc = mt_report_fleet_finish(dir, r, n, json, outpath, budget);
  }
  mt_progress_done();
  free(r);
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  return rc;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { "output", required_argument, NULL, 'o' },
    { "rank", required_argument, NULL, 'r' },
    { "budget", required_argument, NULL, 'b' },
    { "baseline", required_argument, NULL, 'B' },
    { "max-increase", required_argument, NULL, 'm' },
    { "fleet", no_argument, NULL, 'F' },
    { "per-rank", no_argument, NULL, 'P' },
    { "jobs", required_argument, NULL, 'j' },
    { "mpi", no_argument, NULL, 'M' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int fmt = MT_FMT_TEXT, c, have_budget = 0, have_max = 0, fleet = 0, per_rank = 0, mpi = 0, jobs = 0;
  const char *outpath = NULL, *baseline = NULL;
  mt_analysis_opts ao = { .rank = -1 };
  uint64_t budget = 0;
  double max_pct = 0;
  /* one thread uses each connection: no per-call mutex (a 25% saving on
     big traces); refused harmlessly if SQLite is already initialised */
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  opterr = 0;
  optind = 0;   /* 0: glibc re-initialises, so options may follow operands (GNU order) */
  while ((c = getopt_long(argc, argv, "f:o:r:j:h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'f':
      if ((fmt = parse_format(optarg)) < 0)
        return mt_usage_error("report", "unknown format '%s' (text, json, md, html)", optarg);
      break;
    case 'o': outpath = optarg; break;
    case 'r': {
      long v = strtol(optarg, &end, 10);
      if (*optarg == 0 || *end || v < 0 || v > 1000000)
        return mt_usage_error("report", "--rank wants a rank number, not '%s'", optarg);
      ao.rank = (int)v;
      break;
    }
    case 'b':
      if (mt_parse_size(optarg, &budget) != 0)
        return mt_usage_error("report", "--budget wants a size like 40GiB or 500MB, not '%s'", optarg);
      have_budget = 1;
      break;
    case 'B': baseline = optarg; break;
    case 'm':
      max_pct = strtod(optarg, &end);
      if (*optarg == 0 || (*end && strcmp(end, "%") != 0) || max_pct < 0)
        return mt_usage_error("report", "--max-increase wants a percentage, not '%s'", optarg);
      have_max = 1;
      break;
    case 'F': fleet = 1; break;
    case 'P': per_rank = 1; break;
    case 'M': mpi = 1; break;
    case 'j': {
      long v = strtol(optarg, &end, 10);
      if (*optarg == 0 || *end || v < 1 || v > 4096)
        return mt_usage_error("report", "--jobs wants a number of threads in 1..4096, not '%s'", optarg);
      jobs = (int)v;
      break;
    }
    case 'h': fputs(mt_cmd_report.usage, stdout); return MT_EXIT_OK;
    default:
      if (optopt)
        return mt_usage_error("report", "option '-%c' %s", optopt, strchr("forbBmj", optopt) ? "needs a value" : "is unknown");
      return mt_usage_error("report", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (have_max && !baseline)
    return mt_usage_error("report", "--max-increase needs --baseline OLD.json");
  if (optind != argc - 1)
    return mt_usage_error("report", optind == argc ? "no trace or run directory given" : "one trace or run directory at a time");
  if (outpath && mt_output_check("report", outpath, argv + optind, 1) != 0)
    return MT_EXIT_USAGE;
  if (per_rank && (fleet || mpi))
    return mt_usage_error("report", "--per-rank and --%s exclude each other", mpi ? "mpi" : "fleet");
  struct stat sb;
  int is_dir = stat(argv[optind], &sb) == 0 && S_ISDIR(sb.st_mode);
  /* the text for people: a summary; JSON and the others keep their
     per-rank documents (schemas/report.schema.json) unless asked */
  if (!per_rank && !fleet && !mpi && is_dir && ao.rank < 0 && fmt == MT_FMT_TEXT && !baseline) {
    size_t n = 0;
    char **paths = mt_fleet_list(argv[optind], &n, NULL);
    for (size_t i = 0; paths && i < n; i++)
      free(paths[i]);
    free(paths);
    fleet = n > FLEET_MIN_RANKS;
  }
  if (fleet || mpi) {
    if ((fleet || mpi) && !is_dir)
      return mt_usage_error("report", "--%s wants a run directory, not '%s'", mpi ? "mpi" : "fleet", argv[optind]);
    if (fmt != MT_FMT_TEXT && fmt != MT_FMT_JSON)
      return mt_usage_error("report", "the fleet summary is text or json (--per-rank for md or html)");
    if (baseline || ao.rank >= 0)
      return mt_usage_error("report", "--%s works on one rank's report: add --per-rank", baseline ? "baseline" : "rank");
    if (mpi)
      return mt_report_mpi(argv[optind], jobs, fmt == MT_FMT_JSON, outpath, have_budget ? &budget : NULL);
    return fleet_report(argv[optind], jobs, fmt == MT_FMT_JSON, outpath, have_budget ? &budget : NULL);
  }
  mt_analysis *a;
  mt_error err = { 0 };
  mt_progress("report", "analysing", 0, 0);
  int rc = mt_analysis_run(argv[optind], &ao, &a, &err);
  mt_progress_done();
  if (rc != MT_OK) {
    mt_errorf("%s", err.msg);
    return rc == MT_ENOMEM || rc == MT_ESQL ? MT_EXIT_FAIL : MT_EXIT_USAGE;
  }
  int exit_rc = MT_EXIT_OK;
  if (outpath) {
    if (write_atomic(outpath, a, fmt) != 0)
      exit_rc = MT_EXIT_FAIL;
  } else if (mt_render(stdout, a, fmt) != 0 || fflush(stdout) != 0) {
    mt_errorf("report: cannot write output: %s", strerror(errno));
    exit_rc = MT_EXIT_FAIL;
  }
  if (exit_rc == MT_EXIT_OK && have_budget) {
    for (size_t i = 0; i < a->nranks; i++) {
      const mt_rank *r = &a->ranks[i];
      if (r->peak_reserved > budget || r->peak_allocated > budget) {
        char b1[64], b2[64], b3[64];
        fprintf(stderr, "memtrace report: over budget: rank %d peak reserved %s (allocated %s) > budget %s\n",
                r->rank, mt_size_str(r->peak_reserved, b1, sizeof b1), mt_size_str(r->peak_allocated, b2, sizeof b2),
                mt_size_str(budget, b3, sizeof b3));
        exit_rc = MT_EXIT_THRESHOLD;
        break;
      }
    }
  }
  if (exit_rc == MT_EXIT_OK && baseline)
    exit_rc = check_baseline(a, baseline, max_pct);
  mt_analysis_free(a);
  return exit_rc;
}

const mt_cmd mt_cmd_report = {
  "report", "the memory peak of a trace or run: when, what it is made of, why",
  "Usage: memtrace report [OPTIONS] TRACE|RUNDIR\n"
  "       memtrace report [--fleet|--mpi] [--jobs N] [-f text|json] RUNDIR\n"
  "\n"
  "Analyses one trace, or every *.mtrace in a run directory (one per process),\n"
  "and reports for each rank: the peak of allocated bytes (live tensors, plus\n"
  "device allocations no allocator heap covers) and of reserved bytes (live\n"
  "device allocations), when they happened (step, phase), what the allocated\n"
  "peak is made of by category and the rule that decided each byte,\n"
  "fragmentation, OOMs, per-step peaks, per-layer activations and kernel time,\n"
  "kernel and NCCL summaries, and for several ranks the imbalance and the rank\n"
  "that sets the job's peak.  Dropped events are always stated; a trace that\n"
  "was never closed (killed) is reported as INCOMPLETE.\n"
  "\n"
  "Options:\n"
  "  -f, --format FMT       text (default; fits 100 columns), json\n"
  "                         (schemas/report.schema.json), md, html (one\n"
  "                         self-contained file with an SVG timeline)\n"
  "  -o, --output FILE      write there (atomically) instead of stdout\n"
  "  -r, --rank N           only rank N\n"
  "      --budget SIZE      exit 3 when a rank's peak reserved (or allocated)\n"
  "                         bytes exceed SIZE: 40GiB, 500MB, 1.5GiB (GiB/MiB are\n"
  "                         powers of 1024, GB/MB of 1000)\n"
  "      --baseline OLD.json  compare with an earlier JSON report ...\n"
  "      --max-increase PCT   ... and exit 3 when a rank's peak allocated or\n"
  "                         reserved bytes grew by more than PCT percent (default 0)\n"
  "  -h, --help             this text\n"
  "\n"
  "Sizes are printed in binary units (KiB, MiB, GiB).\n"
  "\n"
  "Exit status: 0 on success, 1 if the report could not be written, 2 for bad\n"
  "usage or input that is not a readable trace, 3 when --budget or --baseline\n"
  "is crossed (one line on stderr says which rank and by how much).\n"
  "\n"
  "Many ranks: the text report of a run directory of more than 16 traces (any\n"
  "format with --fleet) is the fleet summary instead: the distribution of\n"
  "peaks, the outlier ranks and what differs in them against the median rank\n"
  "by category, the imbalance over steps (or time); its JSON form holds every\n"
  "rank's summary.  Each rank is analysed, summarised and freed in a pool of\n"
  "threads, so memory stays near one rank's analysis per thread\n"
  "(docs/FLEET.md).\n"
  "      --fleet            the fleet summary, whatever the number of traces\n"
  "      --per-rank         every rank's full text report, whatever their number\n"
  "  -j, --jobs N           analysis threads (default: one per online CPU)\n"
  "      --mpi              under mpirun/srun: each process analyses its share\n"
  "                         of the traces (those on its node, or an equal share\n"
  "                         of a shared directory), the summaries are gathered\n"
  "                         by MPI, and rank 0 writes the report -- the same\n"
  "                         bytes as without --mpi.  Needs a memtrace built with\n"
  "                         Open MPI (configure --with-mpi).\n",
  run,
};
