/* memtrace report --mpi RUNDIR: the fleet summary of a run whose traces
 * lie on several nodes, under mpirun/srun (one memtrace per node, or
 * several).  Each process lists RUNDIR as its node sees it; the lists are
 * gathered, and every trace name is given to one process that has it
 * (round-robin among those that do), so that a directory shared by all (one
 * machine, NFS, Lustre) is split evenly and a node-local one is analysed
 * where it lies.  Each process analyses its share with its node's cores
 * divided among its processes there, the fixed-size summaries are gathered
 * to MPI rank 0, which writes the same report `memtrace report --fleet`
 * writes from all the traces at once (the summaries are the same bytes,
 * sorted the same way).  docs/FLEET.md. */
#define _GNU_SOURCE
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/lib/fleet.h"

#ifndef HAVE_MPI
int mt_report_mpi(const char *dir, int jobs, int json, const char *outpath, const uint64_t *budget)
{
  (void)dir, (void)jobs, (void)json, (void)outpath, (void)budget;
  return mt_usage_error("report", "--mpi: this memtrace was built without MPI (install libopenmpi-dev, "
                                  "then ./configure --with-mpi)");
}
#else
#include <mpi.h>
#include <unistd.h>

/* All processes' NUL-separated blobs, concatenated, with each one's offset
 * and length (out: freed by the caller). */
static char *allgather_blob(const char *mine, int len, int np, int **lens, int **offs)
{
  *lens = calloc((size_t)np, sizeof **lens);
  *offs = calloc((size_t)np, sizeof **offs);
  if (!*lens || !*offs)
    MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Allgather(&len, 1, MPI_INT, *lens, 1, MPI_INT, MPI_COMM_WORLD);
  long total = 0;
  for (int p = 0; p < np; p++) {
    (*offs)[p] = (int)total;
    total += (*lens)[p];
  }
  char *all = malloc((size_t)total + 1);
  if (!all)
    MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Allgatherv(mine, len, MPI_CHAR, all, *lens, *offs, MPI_CHAR, MPI_COMM_WORLD);
  all[total] = 0;
  return all;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int mt_report_mpi(const char *dir, int jobs, int json, const char *outpath, const uint64_t *budget)
{
  int inited = 0, me, np;
  MPI_Initialized(&inited);
  if (!inited)
    MPI_Init(NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &np);

  /* my node's view of the directory: "host\0name\0name\0..." */
  mt_error err = { 0 };
  size_t n = 0;
  char **paths = mt_fleet_list(dir, &n, &err);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  size_t cap = strlen(host) + 1, len = 0;
  for (size_t i = 0; i < n; i++)
    cap += strlen(paths[i]) + 1;
  char *blob = malloc(cap);
  if (!blob)
    MPI_Abort(MPI_COMM_WORLD, 1);
  memcpy(blob, host, strlen(host) + 1);
  len = strlen(host) + 1;
  for (size_t i = 0; i < n; i++) {
    const char *s = strrchr(paths[i], '/');
    s = s ? s + 1 : paths[i];
    memcpy(blob + len, s, strlen(s) + 1);
    len += strlen(s) + 1;
  }
  int *lens, *offs;
  char *all = allgather_blob(blob, (int)len, np, &lens, &offs);

  /* the union of names, and who holds each; my node's processes */
  size_t total = 0, local = 0;
  for (int p = 0; p < np; p++) {
    const char *h = all + offs[p];
    if (strcmp(h, host) == 0)
      local++;
    for (const char *s = h + strlen(h) + 1; s < all + offs[p] + lens[p]; s += strlen(s) + 1)
      total++;
  }
  char **names = calloc(total ? total : 1, sizeof *names);
  int *owner = calloc(total ? total : 1, sizeof *owner);
  if (!names || !owner)
    MPI_Abort(MPI_COMM_WORLD, 1);
  size_t k = 0;
  for (int p = 0; p < np; p++) {
    const char *h = all + offs[p];
    for (const char *s = h + strlen(h) + 1; s < all + offs[p] + lens[p]; s += strlen(s) + 1)
      names[k++] = (char *)s;
  }
  qsort(names, total, sizeof *names, cmp_str);
  size_t u = 0;
  for (size_t i = 0; i < total; i++)
    if (!u || strcmp(names[u - 1], names[i]) != 0)
      names[u++] = names[i];
  /* name j goes to the (j mod holders)-th process that holds it */
  int *holders = calloc((size_t)np, sizeof *holders);
  if (!holders)
    MPI_Abort(MPI_COMM_WORLD, 1);
  for (size_t j = 0; j < u; j++) {
    int nh = 0;
    for (int p = 0; p < np; p++) {
      const char *h = all + offs[p];
      for (const char *s = h + strlen(h) + 1; s < all + offs[p] + lens[p]; s += strlen(s) + 1)
        if (strcmp(s, names[j]) == 0) {
          holders[nh++] = p;
          break;
        }
    }
    owner[j] = holders[j % (size_t)nh];
  }
  free(holders);

  /* my share, analysed with my node's cores shared among its processes */
  char **mine = calloc(u ? u : 1, sizeof *mine);
  size_t nmine = 0;
  if (!mine)
    MPI_Abort(MPI_COMM_WORLD, 1);
  for (size_t j = 0; j < u; j++)
    if (owner[j] == me && asprintf(&mine[nmine++], "%s/%s", dir, names[j]) < 0)
      MPI_Abort(MPI_COMM_WORLD, 1);
  if (jobs <= 0) {
    jobs = mt_fleet_cpus() / (int)(local ? local : 1);
    jobs = jobs < 1 ? 1 : jobs;
  }
  mt_fleet_rank *r = calloc(nmine ? nmine : 1, sizeof *r);
  if (!r || mt_fleet_analyse(mine, nmine, jobs, r, NULL) != MT_OK)
    MPI_Abort(MPI_COMM_WORLD, 1);

  /* gather the summaries to rank 0 as bytes (one machine type per job) */
  int mybytes = (int)(nmine * sizeof *r), *cnt = NULL, *dsp = NULL;
  long all_bytes = 0;
  if (me == 0) {
    cnt = calloc((size_t)np, sizeof *cnt);
    dsp = calloc((size_t)np, sizeof *dsp);
    if (!cnt || !dsp)
      MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Gather(&mybytes, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (me == 0)
    for (int p = 0; p < np; p++) {
      dsp[p] = (int)all_bytes;
      all_bytes += cnt[p];
    }
  mt_fleet_rank *got = NULL;
  if (me == 0 && !(got = malloc(all_bytes ? (size_t)all_bytes : 1)))
    MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Gatherv(r, mybytes, MPI_BYTE, got, cnt, dsp, MPI_BYTE, 0, MPI_COMM_WORLD);

  int rc = MT_EXIT_OK;
  if (me == 0) {
    size_t ng = (size_t)all_bytes / sizeof *got;
    if (!paths && !ng) {
      mt_errorf("%s", err.msg);
      rc = MT_EXIT_USAGE;
    } else {
      rc = mt_report_fleet_finish(dir, got, ng, json, outpath, budget);
    }
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  free(got);
  free(cnt);
  free(dsp);
  free(r);
  for (size_t i = 0; i < nmine; i++)
    free(mine[i]);
  free(mine);
  free(names);
  free(owner);
  free(all);
  free(lens);
  free(offs);
  free(blob);
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  MPI_Finalize();
  return rc;
}
#endif
