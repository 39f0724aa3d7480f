/* memtrace record --simulate-gpus N: runs the job on simulated GPUs.
 *
 * The simulated CUDA stack (libcuda.so.1, libcudart.so.13, libnccl.so.2 and
 * whatever other stand-ins are built: cuBLAS, cuDNN, CUPTI) is put first on
 * LD_LIBRARY_PATH, so that the unmodified program -- python, torchrun,
 * torch.multiprocessing.spawn, mpirun and everything they start -- binds it
 * instead of the real libraries, and the MT_SIM_* variables the stand-ins
 * read describe the devices.  See docs/SIMULATE.md.
 *
 * Where the stand-ins are: $MEMTRACE_SIM_DIR (one directory or a
 * colon-separated list), else next to this binary in a build tree
 * (tests/sim/<lib>/.libs of sim_libs[]), else ../lib/memtrace/sim beside
 * it, else the installed $(pkglibdir)/sim. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"

#ifndef MT_PKGLIBDIR
#define MT_PKGLIBDIR "/usr/local/lib/memtrace"
#endif

/* One node of the simulated cluster holds this many devices (a DGX/HGX
 * node); a job of more ranks spans several nodes. */
#define SIM_GPUS_PER_NODE 8
#define SIM_MAX_GPUS 1024

/* The stand-ins of a build tree that replace a real library for torch:
 * each must export everything libtorch_cuda links from it (else `import
 * torch` fails), which is why the list is explicit.  CUPTI is left out: the
 * collector then reports CUPTI unavailable, as with the real libcupti. */
static const struct { const char *dir, *so; } sim_libs[] = {
  { "cuda", "libcuda.so.1" },
  { "nccl", "libnccl.so.2" },
  { "cublas", "libcublas.so.13" },
  { "cublaslt", "libcublasLt.so.13" },
  { "cudnn", "libcudnn.so.9" },
};

/* The device models the simulated driver knows (tests/sim/cuda,
 * MT_SIM_GPU); the first is the default. */
static const char *const gpu_names[] = { "h100", "h200", "a100-80gb", "a100-40gb" };

static int has_file(const char *dir, const char *name)
{
  char p[PATH_MAX * 2];
  int w = snprintf(p, sizeof p, "%s/%s", dir, name);
  return w > 0 && (size_t)w < sizeof p && access(p, R_OK) == 0;
}

/* The stand-in library directories, colon-separated, into out. */
static int find_sim_dirs(char *out, size_t n)
{
  const char *e = getenv("MEMTRACE_SIM_DIR");
  if (e && *e) {
    snprintf(out, n, "%s", e);
    return 0;
  }
  out[0] = 0;
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      /* the build tree: memtrace is built at the top (or in a .libs/ below it) */
      static const char *const rel[] = { "tests/sim", "../tests/sim" };
      for (size_t i = 0; i < sizeof rel / sizeof rel[0] && !out[0]; i++) {
        size_t len = 0;
        for (size_t j = 0; j < sizeof sim_libs / sizeof sim_libs[0]; j++) {
          char d[PATH_MAX * 2], real[PATH_MAX];
          snprintf(d, sizeof d, "%s/%s/%s/.libs", exe, rel[i], sim_libs[j].dir);
          if (!has_file(d, sim_libs[j].so) || !realpath(d, real))
            continue;
          int w = snprintf(out + len, n - len, "%s%s", len ? ":" : "", real);
          if (w < 0 || (size_t)w >= n - len) {
            out[len] = 0;
            break;
          }
          len += (size_t)w;
        }
        if (!strstr(out, "/cuda/.libs"))
          out[0] = 0; /* no simulated driver: not a build tree */
      }
      /* installed beside the binary (a relocated prefix) */
      char d[PATH_MAX * 2], real[PATH_MAX];
      snprintf(d, sizeof d, "%s/../lib/memtrace/sim", exe);
      if (!out[0] && has_file(d, "libcuda.so.1") && realpath(d, real))
        snprintf(out, n, "%s", real);
    }
  }
  if (out[0])
    return 0;
  snprintf(out, n, "%s/sim", MT_PKGLIBDIR);
  return has_file(out, "libcuda.so.1") ? 0 : -1;
}

int mt_simulate_option(mt_simulate_opts *o, int opt, const char *arg)
{
  switch (opt) {
  case MT_SIM_OPT_GPUS: {
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || v < 1 || v > SIM_MAX_GPUS)
      return mt_usage_error("record", "--simulate-gpus: '%s' is not a number of GPUs in 1..%d", arg, SIM_MAX_GPUS);
    o->gpus = (int)v;
    return 0;
  }
  case MT_SIM_OPT_MEMORY: {
    uint64_t v;
    /* the simulated driver's range (tests/sim/cuda: MT_SIM_DEVICE_MEMORY) */
    if (mt_parse_size(arg, &v) != 0 || v < ((uint64_t)1 << 20) || v > ((uint64_t)512 << 30))
      return mt_usage_error("record", "--gpu-memory: '%s' is not a size between 1MiB and 512GiB", arg);
    o->memory = v;
    return 0;
  }
  case MT_SIM_OPT_GPU:
    for (size_t i = 0; i < sizeof gpu_names / sizeof gpu_names[0]; i++)
      if (strcasecmp(arg, gpu_names[i]) == 0) {
        o->gpu = gpu_names[i];
        return 0;
      }
    return mt_usage_error("record", "--gpu: unknown GPU '%s' (known: h100, h200, a100-80gb, a100-40gb)", arg);
  case MT_SIM_OPT_NO_COLLECT:
    o->no_collect = 1;
    return 0;
  }
  return mt_usage_error("record", "internal: unknown simulation option");
}

static int setenv_int(const char *k, long v)
{
  char b[32];
  snprintf(b, sizeof b, "%ld", v);
  return setenv(k, b, 1);
}

int mt_simulate_prepare(const mt_simulate_opts *o, char **cmd)
{
  if (!o->gpus && (o->memory || o->gpu))
    return mt_usage_error("record", "--gpu-memory and --gpu need --simulate-gpus N");
  if (o->gpus) {
    char dirs[16384];
    if (find_sim_dirs(dirs, sizeof dirs) != 0)
      return mt_usage_error("record", "cannot find the simulated CUDA libraries (libcuda.so.1) in %s "
                            "(set MEMTRACE_SIM_DIR=DIR)", dirs);
    const char *old = getenv("LD_LIBRARY_PATH");
    size_t len = strlen(dirs) + (old ? strlen(old) : 0) + 2;
    char *v = malloc(len);
    if (!v)
      return MT_EXIT_FAIL;
    snprintf(v, len, "%s%s%s", dirs, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_LIBRARY_PATH", v, 1);
    free(v);
    int per_node = o->gpus < SIM_GPUS_PER_NODE ? o->gpus : SIM_GPUS_PER_NODE;
    setenv_int("MT_SIM_DEVICES", per_node);
    setenv_int("MT_SIM_NODES", (o->gpus + SIM_GPUS_PER_NODE - 1) / SIM_GPUS_PER_NODE);
    setenv_int("MT_SIM_WORLD_GPUS", o->gpus);
    setenv("MT_SIM_GPU", o->gpu ? o->gpu : gpu_names[0], 1);
    if (o->memory) {
      char b[32];
      snprintf(b, sizeof b, "%llu", (unsigned long long)o->memory);
      setenv("MT_SIM_DEVICE_MEMORY", b, 1);
    } else {
      unsetenv("MT_SIM_DEVICE_MEMORY"); /* the model's own size */
    }
  }
  if (!o->no_collect)
    return -1;
  /* --no-collect: the job alone in this process (signals and exit status
   * are the job's own), without the collector */
  fflush(NULL);
  execvp(cmd[0], cmd);
  int e = errno;
  fprintf(stderr, "memtrace record: cannot run '%s': %s\n", cmd[0], strerror(e));
  return e == ENOENT ? 127 : 126;
}
