/* memtrace record: runs a command under the collector.  Sets LD_PRELOAD
 * (prepended to the user's), NVTX_INJECTION64_PATH and the MEMTRACE_*
 * variables the collector reads, runs the command, forwards SIGINT and
 * SIGTERM, returns its exit status unchanged (128+N when killed by signal
 * N), and prints one summary line per traced process. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"

#ifndef MT_PKGLIBDIR
#define MT_PKGLIBDIR "/usr/local/lib/memtrace"
#endif
#define COLLECTOR_SO "libmemtrace-collector.so"

static const char usage_text[] =
  "Usage: memtrace record [OPTIONS] -- PROGRAM [ARGS...]\n"
  "       memtrace -- PROGRAM [ARGS...]\n"
  "\n"
  "Runs PROGRAM with the memtrace collector preloaded.  Every process of the job\n"
  "that touches CUDA (workers, children, exec'ed programs) writes its own trace,\n"
  "rank<R>.<PID>.mtrace, into one run directory; all share one run id.  Ranks\n"
  "come from RANK/WORLD_SIZE/LOCAL_RANK, OMPI_COMM_WORLD_*, PMI_* or SLURM_*.\n"
  "PROGRAM's exit status is returned unchanged (128+N if killed by signal N).\n"
  "\n"
  "Options:\n"
  "  -o, --output DIR     run directory (default: <program>-<YYYYmmdd-HHMMSS>.memtrace)\n"
  "      --stacks=MODE    native (default): native call stacks at allocations and\n"
  "                       launches; none: no stacks (lowest overhead)\n"
  "      --no-cupti       do not use CUPTI even when a GPU is present\n"
  "      --python-stacks  PyTorch: record Python stacks of allocator events (costly)\n"
  "      --no-python      do not load the PyTorch integration (PYTHONPATH untouched)\n"
  "      --buffer-size SIZE  per-thread event buffer (default 32MiB; 64 B per event,\n"
  "                       +64 B per 8 stack frames);\n"
  "                       when full, events are dropped and counted, never waited for\n"
  "  -q, --quiet          no summary lines\n"
  "  -h, --help           this text\n"
  "\n"
  "Environment: MEMTRACE_COLLECTOR=PATH overrides the collector library;\n"
  "MEMTRACE_PYTHON_DIR=PATH the PyTorch bootstrap (a sitecustomize put first on\n"
  "PYTHONPATH; see docs/PYTORCH.md).\n"
  "Then: 'memtrace info DIR' for counts, 'memtrace report DIR' for the peak.\n";

static pid_t child;

static void forward(int sig)
{
  if (child > 0)
    kill(child, sig);
}

static int exists(const char *p)
{
  return access(p, R_OK) == 0;
}

/* The collector library: $MEMTRACE_COLLECTOR, else next to this binary in
 * a build tree (collector/.libs/), else the installed $(pkglibdir). */
static int find_collector(char *out, size_t n)
{
  const char *e = getenv("MEMTRACE_COLLECTOR");
  if (e && *e) {
    if (!realpath(e, out) || !exists(out))
      return -1;
    return 0;
  }
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      static const char *const rel[] = { "collector/.libs/" COLLECTOR_SO, "../collector/.libs/" COLLECTOR_SO,
                                         "../lib/memtrace/" COLLECTOR_SO };
      for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX * 2];
        snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
        if (exists(cand) && realpath(cand, out))
          return 0;
      }
    }
  }
  snprintf(out, n, "%s/%s", MT_PKGLIBDIR, COLLECTOR_SO);
  return exists(out) ? 0 : -1;
}

/* The PyTorch bootstrap directory (sitecustomize.py + memtrace/):
 * $MEMTRACE_PYTHON_DIR, else python/ next to the collector (installed:
 * $(pkglibdir)/python), else ../python (build tree: collector/.libs/). */
static int find_python_dir(const char *so, char *out, size_t n)
{
  const char *e = getenv("MEMTRACE_PYTHON_DIR");
  if (e && *e) {
    snprintf(out, n, "%s", e);
    return 0;
  }
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s", so);
  char *slash = strrchr(d, '/');
  if (!slash)
    return -1;
  *slash = 0;
  static const char *const rel[] = { "python", "../python" };
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    char cand[PATH_MAX * 2 + 32];
    snprintf(cand, sizeof cand, "%s/%s/sitecustomize.py", d, rel[i]);
    if (exists(cand)) {
      snprintf(cand, sizeof cand, "%s/%s", d, rel[i]);
      if (realpath(cand, out))
        return 0;
    }
  }
  return -1;
}

static int dir_has_traces(const char *dir)
{
  char **paths = NULL;
  size_t n = 0;
  if (mt_info_list_traces(dir, &paths, &n) != 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  return n > 0;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "output", required_argument, NULL, 'o' },
    { "stacks", required_argument, NULL, 's' },
    { "no-cupti", no_argument, NULL, 'C' },
    { "python-stacks", no_argument, NULL, 'P' },
    { "no-python", no_argument, NULL, 'N' },
    { "buffer-size", required_argument, NULL, 'b' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *out = NULL, *stacks = "native", *bufsize = NULL;
  int cupti = 1, quiet = 0, c, pystacks = 0, python = 1;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+o:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 's':
      if (strcmp(optarg, "none") != 0 && strcmp(optarg, "native") != 0)
        return mt_usage_error("record", "--stacks must be none or native, not '%s'", optarg);
      stacks = optarg;
      break;
    case 'C': cupti = 0; break;
    case 'P': pystacks = 1; break;
    case 'N': python = 0; break;
    case 'b': {
      uint64_t v;
      if (mt_parse_size(optarg, &v) != 0 || v < 4096 || v > ((uint64_t)1 << 34))
        return mt_usage_error("record", "--buffer-size: '%s' is not a size between 4KiB and 16GiB", optarg);
      bufsize = optarg;
      break;
    }
    case 'q': quiet = 1; break;
    case 'h': fputs(usage_text, stdout); return MT_EXIT_OK;
    case ':':
      return mt_usage_error("record", "option '%s' needs a value", argv[optind - 1]);
    default:
      return mt_usage_error("record", "unknown option '%s' (see 'memtrace record --help')", argv[optind - 1]);
    }
  }
  if (optind < argc && strcmp(argv[optind], "--") == 0)
    optind++;
  if (optind >= argc)
    return mt_usage_error("record", "expected a program to run: memtrace record [OPTIONS] -- PROGRAM [ARGS]");
  char **cmd = argv + optind;

  char so[PATH_MAX];
  if (find_collector(so, sizeof so) != 0)
    return mt_usage_error("record", "cannot find %s (set MEMTRACE_COLLECTOR=PATH)", COLLECTOR_SO);

  /* The run directory (absolute: the program may chdir). */
  char name[PATH_MAX], stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  if (out) {
    snprintf(name, sizeof name, "%s", out);
  } else {
    const char *base = strrchr(cmd[0], '/');
    base = base ? base + 1 : cmd[0];
    snprintf(name, sizeof name, "%s-%s.memtrace", base, stamp);
  }
  /* parents too, as mkdir -p: `-o runs/base` works without runs/ */
  for (char *sl = name + 1;; sl++) {
    if (*sl != '/' && *sl != 0)
      continue;
    char ch = *sl;
    *sl = 0;
    int bad = mkdir(name, 0777) != 0 && errno != EEXIST;
    *sl = ch;
    if (bad || !ch) {
      if (bad)
        return mt_usage_error("record", "cannot create the run directory %s: %s", name, strerror(errno));
      break;
    }
  }
  struct stat sb;
  if (stat(name, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return mt_usage_error("record", "%s exists and is not a directory", name);
  if (dir_has_traces(name))
    return mt_usage_error("record", "%s already holds traces; choose another -o", name);
  char dir[PATH_MAX];
  if (!realpath(name, dir))
    return mt_usage_error("record", "%s: %s", name, strerror(errno));

  char run_id[64];
  snprintf(run_id, sizeof run_id, "%s-%ld-%04lx", stamp, (long)getpid(),
           (unsigned long)((uint64_t)now * 2654435761u ^ (uint64_t)getpid()) & 0xffff);

  /* LD_PRELOAD: ours first, the user's kept. */
  const char *old = getenv("LD_PRELOAD");
  size_t plen = strlen(so) + (old ? strlen(old) : 0) + 2;
  char *preload = malloc(plen);
  if (!preload)
    return MT_EXIT_FAIL;
  if (old && *old)
    snprintf(preload, plen, "%s:%s", so, old);
  else
    snprintf(preload, plen, "%s", so);
  setenv("LD_PRELOAD", preload, 1);
  free(preload);
  setenv("NVTX_INJECTION64_PATH", so, 1);
  setenv("MEMTRACE_RUN_DIR", dir, 1);
  setenv("MEMTRACE_RUN_ID", run_id, 1);
  setenv("MEMTRACE_STACKS", stacks, 1);
  setenv("MEMTRACE_CUPTI", cupti ? "1" : "0", 1);
  /* PyTorch integration: the bootstrap first on PYTHONPATH. */
  char pydir[PATH_MAX];
  if (python && find_python_dir(so, pydir, sizeof pydir) == 0) {
    const char *pp = getenv("PYTHONPATH");
    size_t n = strlen(pydir) + (pp ? strlen(pp) : 0) + 2;
    char *v = malloc(n);
    if (!v)
      return MT_EXIT_FAIL;
    if (pp && *pp)
      snprintf(v, n, "%s:%s", pydir, pp);
    else
      snprintf(v, n, "%s", pydir);
    setenv("PYTHONPATH", v, 1);
    free(v);
  }
  setenv("MEMTRACE_PYTHON_STACKS", pystacks ? "1" : "0", 1);
  if (bufsize)
    setenv("MEMTRACE_BUFFER_SIZE", bufsize, 1);
  else
    unsetenv("MEMTRACE_BUFFER_SIZE");
  fflush(NULL);

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0)
    return mt_usage_error("record", "pipe: %s", strerror(errno));
  child = fork();
  if (child < 0)
    return mt_usage_error("record", "fork: %s", strerror(errno));
  if (child == 0) {
    close(pfd[0]);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    execvp(cmd[0], cmd);
    int e = errno;
    if (write(pfd[1], &e, sizeof e) < 0) { /* nothing to do */ }
    _exit(127);
  }
  close(pfd[1]);
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(pfd[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(pfd[0]);

  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR)
    ;
  child = 0;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (got == (ssize_t)sizeof exec_errno) {
    fprintf(stderr, "memtrace record: cannot run '%s': %s\n", cmd[0], strerror(exec_errno));
    rmdir(dir);
    return exec_errno == ENOENT ? 127 : 126;
  }
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

  if (!quiet) {
    char **paths = NULL;
    size_t n = 0;
    if (mt_info_list_traces(dir, &paths, &n) == 0 && n > 0) {
      for (size_t i = 0; i < n; i++) {
        int64_t events = 0, dropped = 0, pid = 0;
        int rank = 0;
        char err[512];
        if (mt_info_trace_counts(paths[i], &events, &dropped, &rank, &pid, err, sizeof err) == 0)
          fprintf(stderr, "memtrace: rank %d pid %lld: %s: %lld events captured, %lld dropped\n", rank,
                  (long long)pid, paths[i], (long long)events, (long long)dropped);
        else
          fprintf(stderr, "memtrace: %s\n", err);
        free(paths[i]);
      }
    } else {
      fprintf(stderr, "memtrace: no process touched CUDA; nothing recorded in %s\n", dir);
    }
    free(paths);
  }
  return rc;
}

const mt_cmd mt_cmd_record = {
  "record",
  "run a program under the collector (also: memtrace -- PROGRAM)",
  usage_text,
  run,
};
