/* memtrace record: runs a command under the collector.  Sets LD_PRELOAD
 * (prepended to the user's), NVTX_INJECTION64_PATH and the MEMTRACE_*
 * variables the collector reads, runs the command in a process group of
 * its own (the job: its workers are there too), forwards SIGINT, SIGTERM
 * and SIGHUP to that group, returns the command's exit status unchanged
 * (128+N when killed by signal N), and prints one summary line per traced
 * process.  Job control follows a shell's: in a terminal's foreground the
 * job's group gets the terminal (Ctrl-C and Ctrl-Z reach the job itself),
 * and a stopped job stops memtrace record too. */
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/lib/analysis.h"

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
  "come from RANK/WORLD_SIZE/LOCAL_RANK, OMPI_COMM_WORLD_*, PMI_* or SLURM_*,\n"
  "else torch.distributed, else the largest NCCL communicator (written as soon\n"
  "as known: a killed process keeps its rank).\n"
  "PROGRAM's exit status is returned unchanged (128+N if killed by signal N).\n"
  "SIGINT, SIGTERM and SIGHUP sent to memtrace record go to the whole job (the\n"
  "process group PROGRAM starts); after such a signal, or when PROGRAM was\n"
  "killed, what still runs of the job gets SIGKILL after MEMTRACE_KILL_GRACE\n"
  "seconds (default 10): no worker outlives memtrace record.\n"
  "\n"
  "Options:\n"
  "  -o, --output DIR     run directory (default: <program>-<YYYYmmdd-HHMMSS>-<PID>.memtrace,\n"
  "                       PID memtrace record's; .1, .2... appended if it exists)\n"
  "      --stacks=MODE    native (default): native call stacks at allocations and\n"
  "                       launches; none: no stacks (lowest overhead)\n"
  "      --no-cupti       do not use CUPTI even when a GPU is present\n"
  "      --python-stacks  PyTorch: record Python stacks of allocator events (costly)\n"
  "      --no-python      do not load the PyTorch integration (PYTHONPATH untouched)\n"
  "      --buffer-size SIZE  per-thread event buffer (default 32MiB; 64 B per event,\n"
  "                       +64 B per 8 stack frames);\n"
  "                       when full, the thread waits for the drain (at most\n"
  "                       MEMTRACE_FULL_WAIT_MS, default 1000; 0: never), then\n"
  "                       drops events, counted\n"
  "      --simulate-gpus N  run on N simulated GPUs (8 per node; no GPU needed):\n"
  "                       every allocation as on real devices, kernels compute nothing\n"
  "      --gpu NAME       simulated model: h100 (default), h200, a100-80gb, a100-40gb\n"
  "      --gpu-memory SIZE  memory of each simulated GPU (default: the model's)\n"
  "      --no-collect     run the job (on the simulated GPUs) without recording\n"
  "  -q, --quiet          no summary lines\n"
  "  -h, --help           this text\n"
  "\n"
  "Environment: MEMTRACE_COLLECTOR=PATH overrides the collector library;\n"
  "MEMTRACE_PYTHON_DIR=PATH the PyTorch bootstrap (a sitecustomize put first on\n"
  "PYTHONPATH; see docs/PYTORCH.md).\n"
  "Then: 'memtrace info DIR' for counts, 'memtrace report DIR' for the peak.\n";

static pid_t child;                 /* PROGRAM: the leader of the job's group */
static volatile sig_atomic_t job_sig; /* the last signal forwarded to the job */

static void forward(int sig)
{
  int e = errno;
  job_sig = sig;
  if (child > 0 && kill(-child, sig) != 0)
    kill(child, sig);   /* before the child made its group */
  errno = e;
}

/* The terminal memtrace record runs in the foreground of, or -1. */
static int foreground_tty(void)
{
  for (int fd = 0; fd < 3; fd++)
    if (isatty(fd) && tcgetpgrp(fd) == getpgrp())
      return fd;
  return -1;
}

/* Gives the terminal to process group `pg` (tcsetpgrp from a background
 * group raises SIGTTOU: held off while it runs). */
static void give_tty(int fd, pid_t pg)
{
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  tcsetpgrp(fd, pg);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Does any process of group pg live on? */
static int group_alive(pid_t pg)
{
  return kill(-pg, 0) == 0 || errno == EPERM;
}

/* After PROGRAM ended: reaps the job's processes this one adopted (it is
 * their subreaper).  When the job was signalled through memtrace record,
 * or PROGRAM itself was killed, what is left of its group has the grace
 * period to end (to finish its traces), then gets SIGKILL: no worker
 * outlives memtrace record.  After a normal end, what still runs (a
 * daemon started on purpose) is left alone. */
static void end_job(pid_t pg, int killed_by_signal)
{
  const char *g = getenv("MEMTRACE_KILL_GRACE");
  double grace = g && *g ? strtod(g, NULL) : 10.0, start = now_s();
  int stopping = job_sig || killed_by_signal, killed = 0;
  if (killed_by_signal && !job_sig && group_alive(pg))
    kill(-pg, SIGTERM);
  for (;;) {
    int st;
    while (waitpid(-1, &st, WNOHANG) > 0)
      ;
    if (!stopping || !group_alive(pg))
      return;
    double t = now_s() - start;
    if (t > grace + 5)
      return;
    if (!killed && t >= grace) {
      kill(-pg, SIGKILL);
      killed = 1;
    }
    struct timespec z = { 0, 20 * 1000 * 1000 };
    nanosleep(&z, NULL);
  }
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

/* Renames rank<R>.<PID>.mtrace after the rank its contents hold where the
 * two differ: a process killed before its clean exit learnt its rank after
 * its trace was named.  Only traces whose process is gone (SQLite's -wal
 * and -shm files follow the main file's name). */
static void name_by_rank(const char *dir)
{
  char **paths = NULL;
  size_t n = 0;
  if (mt_info_list_traces(dir, &paths, &n) != 0 || n == 0) {
    free(paths);
    return;
  }
  int *rr = calloc(2 * n, sizeof *rr);
  if (rr && mt_run_ranks(paths, n, rr, rr + n, NULL) == MT_OK) {
    for (size_t i = 0; i < n; i++) {
      const char *base = strrchr(paths[i], '/');
      base = base ? base + 1 : paths[i];
      int r;
      long pid;
      char rest[256];
      if (sscanf(base, "rank%d.%ld%255s", &r, &pid, rest) != 3 || r == rr[i] || pid <= 0 ||
          (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
        continue;
      char np[PATH_MAX + 300], a[PATH_MAX + 310], b[PATH_MAX + 310];
      snprintf(np, sizeof np, "%.*s/rank%d.%ld%s", (int)(base - paths[i] - 1), paths[i], rr[i], pid, rest);
      if (access(np, F_OK) == 0)
        continue;
      static const char *const side[] = { "-wal", "-shm" };
      for (int k = 0; k < 2; k++) {
        snprintf(a, sizeof a, "%s%s", paths[i], side[k]);
        snprintf(b, sizeof b, "%s%s", np, side[k]);
        if (access(a, F_OK) == 0)
          rename(a, b);
      }
      rename(paths[i], np);
    }
  }
  free(rr);
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
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
    { "simulate-gpus", required_argument, NULL, MT_SIM_OPT_GPUS },
    { "gpu-memory", required_argument, NULL, MT_SIM_OPT_MEMORY },
    { "gpu", required_argument, NULL, MT_SIM_OPT_GPU },
    { "no-collect", no_argument, NULL, MT_SIM_OPT_NO_COLLECT },
    { NULL, 0, NULL, 0 },
  };
  const char *out = NULL, *stacks = "native", *bufsize = NULL;
  int cupti = 1, quiet = 0, c, pystacks = 0, python = 1, r;
  mt_simulate_opts sim = { 0 };
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
    case MT_SIM_OPT_GPUS: case MT_SIM_OPT_MEMORY: case MT_SIM_OPT_GPU: case MT_SIM_OPT_NO_COLLECT:
      if ((r = mt_simulate_option(&sim, c, optarg)) != 0)
        return r;
      break;
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
  if ((r = mt_simulate_prepare(&sim, cmd)) >= 0)
    return r;

  char so[PATH_MAX];
  if (find_collector(so, sizeof so) != 0)
    return mt_usage_error("record", "cannot find %s (set MEMTRACE_COLLECTOR=PATH)", COLLECTOR_SO);

  /* The run directory (absolute: the program may chdir).  The default
   * name holds this process's pid, and a name taken (pid reuse, a copied
   * directory) gets a suffix: two recordings started in the same second
   * never share a directory, and never refuse to run. */
  char name[PATH_MAX], stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  if (out) {
    snprintf(name, sizeof name, "%s", out);
    /* parents too, as mkdir -p: `-o runs/base` works without runs/ */
    for (char *sl = name + 1;; sl++) {
      if (*sl != '/' && *sl != 0)
        continue;
      char ch = *sl;
      *sl = 0;
      int bad = mkdir(name, 0777) != 0 && errno != EEXIST;
      *sl = ch;
      if (bad)
        return mt_usage_error("record", "cannot create the run directory %s: %s", name, strerror(errno));
      if (!ch)
        break;
    }
  } else {
    const char *base = strrchr(cmd[0], '/');
    base = base ? base + 1 : cmd[0];
    for (int n = 0;; n++) {
      if (n == 0)
        snprintf(name, sizeof name, "%s-%s-%ld.memtrace", base, stamp, (long)getpid());
      else
        snprintf(name, sizeof name, "%s-%s-%ld.%d.memtrace", base, stamp, (long)getpid(), n);
      if (mkdir(name, 0777) == 0)
        break;
      if (errno != EEXIST || n >= 10000)
        return mt_usage_error("record", "cannot create the run directory %s: %s", name, strerror(errno));
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

  static const int fwd_sigs[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa, old_sa[3];
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  /* a signal this process was started ignoring (a background job of a
   * script: SIGINT) stays ignored, as the job's processes inherit it */
  for (int i = 0; i < 3; i++)
    if (sigaction(fwd_sigs[i], NULL, &old_sa[i]) == 0 && old_sa[i].sa_handler != SIG_IGN)
      sigaction(fwd_sigs[i], &sa, NULL);
  /* Workers whose parent dies are adopted here, not by init: end_job()
   * can wait for their traces and be sure none is left running. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int tty = foreground_tty();

  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0)
    return mt_usage_error("record", "pipe: %s", strerror(errno));
  child = fork();
  if (child < 0)
    return mt_usage_error("record", "fork: %s", strerror(errno));
  if (child == 0) {
    close(pfd[0]);
    for (int i = 0; i < 3; i++)
      sigaction(fwd_sigs[i], &old_sa[i], NULL);
    setpgid(0, 0);
    if (tty >= 0)
      give_tty(tty, getpid());
    execvp(cmd[0], cmd);
    int e = errno;
    if (write(pfd[1], &e, sizeof e) < 0) { /* nothing to do */ }
    _exit(127);
  }
  /* both sides set the group: whichever runs first, signals find it */
  setpgid(child, child);
  if (tty >= 0)
    give_tty(tty, child);
  close(pfd[1]);
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(pfd[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(pfd[0]);

  int status = 0;
  for (;;) {
    pid_t w = waitpid(child, &status, WUNTRACED);
    if (w < 0 && errno == EINTR)
      continue;
    if (w > 0 && WIFSTOPPED(status)) {
      /* Ctrl-Z stopped the job: stop here too (the shell sees its job
       * stop), and on fg/bg carry on the job */
      if (tty >= 0)
        give_tty(tty, getpgrp());
      raise(SIGSTOP);
      if (tty >= 0 && foreground_tty() >= 0)
        give_tty(tty, child);
      kill(-child, SIGCONT);
      continue;
    }
    break;
  }
  if (tty >= 0)
    give_tty(tty, getpgrp());
  end_job(child, WIFSIGNALED(status));
  child = 0;
  for (int i = 0; i < 3; i++)
    sigaction(fwd_sigs[i], &old_sa[i], NULL);
  if (got == (ssize_t)sizeof exec_errno) {
    fprintf(stderr, "memtrace record: cannot run '%s': %s\n", cmd[0], strerror(exec_errno));
    rmdir(dir);
    return exec_errno == ENOENT ? 127 : 126;
  }
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
  name_by_rank(dir);

  if (!quiet) {
    char **paths = NULL;
    size_t n = 0;
    if (mt_info_list_traces(dir, &paths, &n) == 0 && n > 0) {
      int *rr = calloc(2 * n, sizeof *rr);
      if (rr && mt_run_ranks(paths, n, rr, rr + n, NULL) != MT_OK) {
        free(rr);
        rr = NULL;
      }
      for (size_t i = 0; i < n; i++) {
        int64_t events = 0, dropped = 0, pid = 0;
        int rank = 0;
        char err[512];
        int have = mt_info_trace_counts(paths[i], &events, &dropped, &rank, &pid, err, sizeof err) == 0;
        if (have && rr)
          rank = rr[i];
        if (have)
          fprintf(stderr, "memtrace: rank %d pid %lld: %s: %lld events captured, %lld dropped\n", rank,
                  (long long)pid, paths[i], (long long)events, (long long)dropped);
        else
          fprintf(stderr, "memtrace: %s\n", err);
        free(paths[i]);
      }
      free(rr);
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
