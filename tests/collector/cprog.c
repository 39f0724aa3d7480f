/* The collector tests' workload on the CUDA runtime API (real toolkit
 * headers; run over the simulated libcudart/libcuda).  One mode per case:
 *   pairs N          N cudaMalloc/cudaFree pairs, NVTX ranges around them
 *   threads T N      T threads x N pairs
 *   fork N           N pairs in the parent, then a child doing N pairs
 *   exec N           N pairs, then exec of itself as "pairs N"
 *   vfork N          N pairs, a vfork child that execs /bin/true, one whose
 *                    exec fails (it _exits), one that execs "pairs N" with an
 *                    environment of its own (no preload), then N more pairs
 *                    (Python's subprocess spawns this way)
 *   sleep N          N pairs, then sleep (killed by the test)
 *   segv N           N pairs, then a NULL dereference
 *   exit CODE        one pair, prints a line, exits CODE
 *   _exit N          N pairs, then _exit(0) (no atexit)
 *   nocuda           no CUDA call at all
 *   oom              a failed cudaMalloc (too large), then one that works
 * Prints "done MODE" on stdout. */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pairs(int n)
{
  int bad = 0;
  for (int i = 0; i < n; i++) {
    void *p = NULL;
    if (cudaMalloc(&p, 256 + (size_t)(i % 64) * 512) != cudaSuccess)
      bad++;
    if (cudaFree(p) != cudaSuccess)
      bad++;
  }
  return bad;
}

/* The exit status of a vfork child that execs argv[0] with envp (127: the
 * exec failed). */
static int vfork_exec(char *const argv[], char *const envp[])
{
  pid_t c = vfork();
  if (c == 0) {
    execve(argv[0], argv, envp);
    _exit(127);
  }
  int st;
  return c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int per_thread;
static void *worker(void *arg)
{
  (void)arg;
  return (void *)(long)pairs(per_thread);
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "pairs";
  int n = argc > 2 ? atoi(argv[2]) : 10;
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "pairs")) {
    nvtxRangePushA("pairs");
    int bad = pairs(n);
    nvtxMarkA("pairs done");
    nvtxRangePop();
    if (bad)
      return 1;
  } else if (!strcmp(mode, "threads")) {
    int t = n;
    per_thread = argc > 3 ? atoi(argv[3]) : 1000;
    pthread_t th[64];
    for (int i = 0; i < t && i < 64; i++)
      pthread_create(&th[i], NULL, worker, NULL);
    long bad = 0;
    for (int i = 0; i < t && i < 64; i++) {
      void *r;
      pthread_join(th[i], &r);
      bad += (long)r;
    }
    if (bad)
      return 1;
  } else if (!strcmp(mode, "fork")) {
    pairs(n);
    pid_t c = fork();
    if (c == 0) {
      pairs(n);
      exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return 1;
  } else if (!strcmp(mode, "exec")) {
    pairs(n);
    char num[16];
    snprintf(num, sizeof num, "%d", n);
    execl("/proc/self/exe", argv[0], "pairs", num, (char *)NULL);
    execv("/proc/self/exe", (char *[]){ argv[0], "pairs", num, NULL });
    return 1;
  } else if (!strcmp(mode, "vfork")) {
    pairs(n);
    /* a child given its own environment, without the preload or memtrace's
     * variables (subprocess.Popen(env=...)): traced all the same */
    char num[16], lib[4096];
    snprintf(num, sizeof num, "%d", n);
    snprintf(lib, sizeof lib, "LD_LIBRARY_PATH=%s", getenv("LD_LIBRARY_PATH") ? getenv("LD_LIBRARY_PATH") : "");
    if (vfork_exec((char *[]){ "/bin/true", NULL }, environ) != 0 ||
        vfork_exec((char *[]){ "/nonexistent/memtrace-test", NULL }, environ) != 127 ||
        vfork_exec((char *[]){ "/proc/self/exe", "pairs", num, NULL }, (char *[]){ lib, NULL }) != 0 || pairs(n))
      return 1;
  } else if (!strcmp(mode, "sleep")) {
    pairs(n);
    printf("ready\n");
    for (;;)
      sleep(1);
  } else if (!strcmp(mode, "segv")) {
    pairs(n);
    struct timespec z = { 0, 50000000 };
    nanosleep(&z, NULL);
    volatile int *bad = NULL;
    *bad = 1;
  } else if (!strcmp(mode, "exit")) {
    pairs(1);
    printf("exiting with %d\n", n);
    return n;
  } else if (!strcmp(mode, "_exit")) {
    pairs(n);
    printf("done %s\n", mode);
    _exit(0);
  } else if (!strcmp(mode, "nocuda")) {
    nvtxRangePushA("cpu only");
    nvtxRangePop();
  } else if (!strcmp(mode, "oom")) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, (size_t)1 << 50);
    printf("oom result %d\n", (int)e);
    (void)cudaGetLastError();
    if (e != cudaErrorMemoryAllocation || pairs(1))
      return 1;
  } else {
    fprintf(stderr, "cprog: unknown mode %s\n", mode);
    return 2;
  }
  printf("done %s\n", mode);
  return 0;
}
