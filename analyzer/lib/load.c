/* libmemtrace-analysis: a trace file or a run directory -> one mt_rank per
 * process, and the job-level view (the rank that sets the peak, imbalance). */
#define _GNU_SOURCE
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analyzer/lib/internal.h"

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_rank(const void *a, const void *b)
{
  const mt_rank *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The *.mtrace files of a directory, sorted; NULL-terminated. */
char **mt__list_traces(const char *dir, size_t *n, mt_error *err)
{
  DIR *d = opendir(dir);
  if (!d) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", dir, strerror(errno));
    return NULL;
  }
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l <= 7 || strcmp(e->d_name + l - 7, ".mtrace") != 0)
      continue;
    if (cnt + 1 >= cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(v, cap * sizeof *nv);
      if (!nv)
        goto oom;
      v = nv;
    }
    if (asprintf(&v[cnt], "%s/%s", dir, e->d_name) < 0)
      goto oom;
    cnt++;
  }
  closedir(d);
  if (!cnt) {
    free(v);
    mt_error_set(err, MT_EINVAL, "%s: no traces (*.mtrace) in this directory", dir);
    return NULL;
  }
  mt__sort(v, cnt, sizeof *v, cmp_names);
  v[cnt] = NULL;
  *n = cnt;
  return v;
oom:
  closedir(d);
  for (size_t i = 0; i < cnt; i++)
    free(v[i]);
  free(v);
  mt_error_set(err, MT_ENOMEM, "%s: out of memory", dir);
  return NULL;
}

int mt_analysis_run(const char *path, const mt_analysis_opts *opts, mt_analysis **out, mt_error *err)
{
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    return MT_EIO;
  }
  mt_analysis *a = calloc(1, sizeof *a);
  if (!a || !(a->path = strdup(path))) {
    free(a);
    mt_error_set(err, MT_ENOMEM, "%s: out of memory", path);
    return MT_ENOMEM;
  }
  char **files = NULL;
  size_t nfiles = 1;
  char *single[2] = { (char *)path, NULL };
  if (S_ISDIR(sb.st_mode)) {
    a->is_run_dir = 1;
    if (!(files = mt__list_traces(path, &nfiles, err))) {
      mt_analysis_free(a);
      return err ? err->code : MT_EINVAL;
    }
  }
  char **names = files ? files : single;
  int rc = MT_OK;
  /* ranks across the run: a job of NCCL sub-communicators only */
  int *rrank = calloc(3 * nfiles, sizeof *rrank);
  if (!rrank || mt_run_ranks(names, nfiles, rrank, rrank + nfiles, rrank + 2 * nfiles) != MT_OK) {
    mt_error_set(err, MT_ENOMEM, "%s: out of memory", path);
    rc = MT_ENOMEM;
    goto out;
  }
  a->ranks = calloc(nfiles, sizeof *a->ranks);
  if (!a->ranks) {
    mt_error_set(err, MT_ENOMEM, "%s: out of memory", path);
    rc = MT_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < nfiles; i++) {
    mt_trace *t;
    if ((rc = mt_trace_open(names[i], MT_OPEN_READ, &t, err)) != MT_OK)
      goto out;
    if (opts && opts->rank >= 0 && rrank[i] != opts->rank) {
      mt_trace_close(t);
      continue;
    }
    mt_rank *r = &a->ranks[a->nranks++];
    rc = mt_analyze_trace(t, opts, r, err);
    mt_trace_close(t);
    if (rc != MT_OK)
      goto out;
    if (rrank[2 * nfiles + i]) {
      r->rank = rrank[i];
      r->world_size = rrank[nfiles + i];
    }
  }
  if (a->nranks == 0) {
    mt_error_set(err, MT_EINVAL, "%s: no trace of rank %d", path, opts ? opts->rank : -1);
    rc = MT_EINVAL;
    goto out;
  }
  mt__sort(a->ranks, a->nranks, sizeof *a->ranks, cmp_rank);
  double sum = 0;
  for (size_t i = 0; i < a->nranks; i++) {
    mt_rank *r = &a->ranks[i];
    if (r->peak_allocated > a->ranks[a->job_peak_index].peak_allocated)
      a->job_peak_index = i;
    sum += (double)r->peak_allocated;
    a->dropped += r->dropped;
    a->incomplete |= r->incomplete;
    if (strcmp(r->run_id, a->ranks[0].run_id) != 0)
      a->mixed_runs = 1;
  }
  double mean = sum / (double)a->nranks;
  a->imbalance = mean > 0 ? (double)a->ranks[a->job_peak_index].peak_allocated / mean : 1.0;
out:
  free(rrank);
  if (files) {
    for (size_t i = 0; i < nfiles; i++)
      free(files[i]);
    free(files);
  }
  if (rc != MT_OK) {
    mt_analysis_free(a);
    return rc;
  }
  *out = a;
  return MT_OK;
}

void mt_analysis_free(mt_analysis *a)
{
  if (!a)
    return;
  for (size_t i = 0; i < a->nranks; i++)
    mt_rank_free(&a->ranks[i]);
  free(a->ranks);
  free(a->path);
  free(a);
}
