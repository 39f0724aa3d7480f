/* The ranks of a run's traces, where one trace alone cannot tell.
 *
 * A trace's own rank (process row) comes from the launcher's environment,
 * torch.distributed, or its largest NCCL communicator (collector/drain.c).
 * The last is the job's rank only when that communicator spans the job: a
 * job built of sub-communicators alone (tensor x data parallel groups,
 * created from ids the parent shared, no world communicator and no RANK)
 * gives every process the rank of a sub-group.  Across the run directory
 * the communicators' unique ids join the processes into jobs: the world
 * size is the number of processes so joined, and the ranks are numbered
 * in the order (host, CUDA device, ranks in the communicators in their
 * creation order, pid) -- one process per device being the common layout,
 * and the order that launchers use for local ranks.  A documented guess:
 * the info command says the rank source is "nccl-run". */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "analyzer/lib/internal.h"
#include "schemas/trace.h"

typedef struct comm { char uid[40]; int nranks, rank, device; } comm;

typedef struct proc {
  int rank, world, from_nccl, parent;
  char host[256];
  int64_t pid;
  comm *c;
  int nc;
  int device;          /* the lowest device of its communicators */
} proc;

static int root(proc *v, int i)
{
  while (v[i].parent != i)
    i = v[i].parent = v[v[i].parent].parent;
  return i;
}

static int meta_is(sqlite3 *db, const char *key, const char *value)
{
  sqlite3_stmt *q;
  int yes = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(q) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(q, 0);
    yes = value ? v && strcmp(v, value) == 0 : 1;
  }
  sqlite3_finalize(q);
  return yes;
}

static void read_proc(const char *path, proc *p)
{
  mt_trace *t = NULL;
  mt_process_info pi;
  p->rank = -1;
  p->world = 0;
  if (mt_trace_open(path, MT_OPEN_READ, &t, NULL) != MT_OK)
    return;
  if (mt_trace_process(t, &pi) == MT_OK) {
    mt__effective_rank(t, &pi, &p->rank, &p->world);
    snprintf(p->host, sizeof p->host, "%s", pi.host);
    p->pid = pi.pid;
    sqlite3 *db = mt_trace_db(t);
    /* the collector's "nccl" source, or an older trace whose rank came
     * from meta rank.nccl (mt__effective_rank) */
    p->from_nccl = meta_is(db, "rank.source", "nccl") ||
                   (!meta_is(db, "rank.source", NULL) && meta_is(db, "world_size.nccl", NULL) &&
                    pi.world_size <= 1);
    sqlite3_stmt *q;
    p->device = 1 << 30;
    if (sqlite3_prepare_v2(db, "SELECT unique_id, nranks, rank, device FROM communicators "
                               "WHERE unique_id IS NOT NULL ORDER BY id", -1, &q, NULL) == SQLITE_OK) {
      while (sqlite3_step(q) == SQLITE_ROW) {
        comm *nc = realloc(p->c, (size_t)(p->nc + 1) * sizeof *nc);
        if (!nc)
          break;
        p->c = nc;
        comm *c = &p->c[p->nc++];
        snprintf(c->uid, sizeof c->uid, "%s", (const char *)sqlite3_column_text(q, 0));
        c->nranks = sqlite3_column_int(q, 1);
        c->rank = sqlite3_column_int(q, 2);
        c->device = sqlite3_column_int(q, 3);
        if (c->device < p->device)
          p->device = c->device;
      }
      sqlite3_finalize(q);
    }
  }
  mt_trace_close(t);
}

static int cmp_member(const void *a, const void *b)
{
  const proc *x = *(proc *const *)a, *y = *(proc *const *)b;
  int h = strcmp(x->host, y->host);
  if (h)
    return h;
  if (x->device != y->device)
    return x->device < y->device ? -1 : 1;
  for (int i = 0; i < x->nc && i < y->nc; i++)
    if (x->c[i].rank != y->c[i].rank)
      return x->c[i].rank < y->c[i].rank ? -1 : 1;
  return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int mt_run_ranks(char *const *paths, size_t n, int *rank, int *world, int *joined)
{
  proc *v = calloc(n ? n : 1, sizeof *v);
  proc **m = calloc(n ? n : 1, sizeof *m);
  if (!v || !m) {
    free(v);
    free(m);
    return MT_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    v[i].parent = (int)i;
    read_proc(paths[i], &v[i]);
  }
  /* processes that share a communicator are of one job */
  for (size_t i = 0; i < n; i++)
    for (int a = 0; a < v[i].nc; a++)
      for (size_t j = i + 1; j < n; j++)
        for (int b = 0; b < v[j].nc; b++)
          if (strcmp(v[i].c[a].uid, v[j].c[b].uid) == 0)
            v[root(v, (int)j)].parent = root(v, (int)i);
  for (size_t i = 0; i < n; i++) {
    rank[i] = v[i].rank < 0 ? 0 : v[i].rank;
    world[i] = v[i].world < 1 ? 1 : v[i].world;
    if (joined)
      joined[i] = 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (root(v, (int)i) != (int)i)
      continue;
    /* the job of root i: renumbered only when every rank of it came from a
     * communicator and none of them spans the job */
    size_t k = 0;
    int widest = 0, all_nccl = 1;
    for (size_t j = 0; j < n; j++)
      if (root(v, (int)j) == (int)i) {
        m[k++] = &v[j];
        all_nccl &= v[j].from_nccl;
        for (int a = 0; a < v[j].nc; a++)
          if (v[j].c[a].nranks > widest)
            widest = v[j].c[a].nranks;
      }
    if (k < 2 || !all_nccl || widest >= (int)k)
      continue;
    qsort(m, k, sizeof *m, cmp_member);
    for (size_t r = 0; r < k; r++) {
      size_t j = (size_t)(m[r] - v);
      rank[j] = (int)r;
      world[j] = (int)k;
      if (joined)
        joined[j] = 1;
    }
  }
  for (size_t i = 0; i < n; i++)
    free(v[i].c);
  free(v);
  free(m);
  return MT_OK;
}
