/* libmemtrace-analysis: a table's rows read ahead in a second thread.
 *
 * The thread opens its own read-only connection to the trace (a SQLite
 * connection is not shared between threads here: NOMUTEX) and copies the
 * columns of the rows it reads into blocks of PF_ROWS rows; the walk
 * consumes them.  At most PF_BLOCKS blocks are in flight, so memory stays
 * bounded (PF_BLOCKS * PF_ROWS * ncols * 8 bytes) whatever the table's
 * size.  The rows reach C through an SQL function (values, not
 * sqlite3_column_int64 per row and column: about 30 % less CPU on a
 * region-heavy trace).  Two orders:
 * - rowid order (the memory-only pass): the function is evaluated in the
 *   WHERE clause of one count(*) scan (no sqlite3_step per row either).
 *   The scan stops with MT__ERETRY as soon as a row's first column (ts)
 *   decreases or its rowid does not increase: the rows seen were then in
 *   (ts, rowid) order, the order the walk needs, and the walk starts again
 *   without read-ahead;
 * - (ts, rowid) order (the other walks, which cannot start again: a
 *   lifetimes walk has called back): the same ORDER BY the walk's own
 *   statement has, stepped row by row, columns copied (not the function:
 *   SQLite evaluates result columns before it sorts, so on a table without
 *   its time index the rows would reach it in scan order).
 * Either stops with MT__ERETRY when the second connection cannot be had or
 * its scan fails (the first connection then says why, if it can).  What it
 * buys: SQLite's work (most of a walk) overlaps with the walk's own. */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "analyzer/lib/internal.h"

#define PF_ROWS 8192
#define PF_BLOCKS 4

struct mt__prefetch {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *path, *sql;
  int ncols, ordered;
  int64_t *buf;                 /* PF_BLOCKS blocks of PF_ROWS * ncols */
  size_t fill[PF_BLOCKS];       /* rows in each handed-over block */
  size_t produced, consumed;    /* blocks handed over / given back (under mu) */
  int done, stop, status;       /* under mu */
  /* the producer's side */
  int64_t *wblock;
  size_t wn;
  int64_t last_rowid, last_ts;
  int wstatus;
  /* the consumer's side */
  const int64_t *block;
  size_t pos, n;
};

/* Hands the block being written over and waits for a free one.  Returns
 * nonzero when the consumer has stopped. */
static int hand_over(mt__prefetch *p)
{
  pthread_mutex_lock(&p->mu);
  p->fill[p->produced % PF_BLOCKS] = p->wn;
  p->produced++;
  pthread_cond_broadcast(&p->cv);
  while (p->produced - p->consumed == PF_BLOCKS && !p->stop)
    pthread_cond_wait(&p->cv, &p->mu);
  int stop = p->stop;
  pthread_mutex_unlock(&p->mu);
  p->wblock = p->buf + (p->produced % PF_BLOCKS) * PF_ROWS * (size_t)p->ncols;
  p->wn = 0;
  return stop;
}

/* mt__row(rowid, col0, col1, ...): called by the scan for every row */
static void take_row(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
  mt__prefetch *p = sqlite3_user_data(ctx);
  int64_t rowid = sqlite3_value_int64(v[0]);
  int64_t *row = p->wblock + p->wn * (size_t)p->ncols;
  for (int i = 0; i < p->ncols; i++)
    row[i] = sqlite3_value_int64(v[1 + i]);
  if (p->ordered ? row[0] < p->last_ts || (row[0] == p->last_ts && rowid <= p->last_rowid)
                 : rowid <= p->last_rowid || row[0] < p->last_ts) {
    p->wstatus = MT__ERETRY;
    sqlite3_result_error(ctx, "not in time order", -1);
    return;
  }
  p->last_rowid = rowid;
  p->last_ts = row[0];
  if (++p->wn == PF_ROWS && hand_over(p)) {
    p->wstatus = MT__ERETRY;   /* anything: the consumer is gone */
    sqlite3_result_error(ctx, "stopped", -1);
    return;
  }
  sqlite3_result_int(ctx, 0);
}

static void *producer(void *arg)
{
  mt__prefetch *p = arg;
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  p->wblock = p->buf;
  p->last_rowid = p->last_ts = INT64_MIN;
  /* pages mapped rather than copied into the page cache: one pass over
     most of the file */
  if (sqlite3_open_v2(p->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA mmap_size=1099511627776", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_create_function(db, "mt__row", 1 + p->ncols, SQLITE_UTF8 | SQLITE_DIRECTONLY, p, take_row, NULL,
                              NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, p->sql, -1, &q, NULL) != SQLITE_OK)
    p->wstatus = MT__ERETRY;
  else if (p->ordered) {
    /* columns copied per row: a function in the result columns would be
       evaluated before a sort (a table without its time index), in scan
       order */
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      int64_t *row = p->wblock + p->wn * (size_t)p->ncols;
      for (int i = 0; i < p->ncols; i++)
        row[i] = sqlite3_column_int64(q, i);
      if (++p->wn == PF_ROWS && hand_over(p))
        break;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
      p->wstatus = MT__ERETRY;
  } else if (sqlite3_step(q) != SQLITE_ROW)
    p->wstatus = MT__ERETRY;
  sqlite3_finalize(q);
  sqlite3_close(db);
  pthread_mutex_lock(&p->mu);
  p->fill[p->produced % PF_BLOCKS] = p->wn;   /* the last block (a free slot: see hand_over) */
  p->produced++;
  p->status = p->wstatus;
  p->done = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

mt__prefetch *mt__prefetch_start(const char *path, const char *table, const char *where, const char *cols, int ncols,
                                 int ordered)
{
  mt__prefetch *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->ncols = ncols;
  p->ordered = ordered;
  p->path = strdup(path);
  size_t len = strlen(table) + strlen(cols) + (where ? strlen(where) : 0) + 96;
  p->sql = malloc(len);
  p->buf = malloc((size_t)PF_BLOCKS * PF_ROWS * (size_t)ncols * sizeof *p->buf);
  if (!p->path || !p->sql || !p->buf)
    goto fail;
  if (ordered)
    snprintf(p->sql, len, "SELECT %s FROM %s%s%s ORDER BY ts, rowid", cols, table,
             where ? " WHERE " : "", where ? where : "");
  else if (!where)
    snprintf(p->sql, len, "SELECT count(*) FROM %s WHERE mt__row(rowid, %s)", table, cols);
  else
    goto fail;   /* a filter beside the function: SQLite could call the function first */
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (pthread_create(&p->th, NULL, producer, p) != 0) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    goto fail;
  }
  return p;
fail:
  free(p->path);
  free(p->sql);
  free(p->buf);
  free(p);
  return NULL;
}

const int64_t *mt__prefetch_next(mt__prefetch *p)
{
  for (;;) {
    if (p->block && p->pos < p->n)
      return p->block + p->pos++ * (size_t)p->ncols;
    pthread_mutex_lock(&p->mu);
    if (p->block) {   /* give the used block back */
      p->block = NULL;
      p->consumed++;
      pthread_cond_broadcast(&p->cv);
    }
    while (p->produced == p->consumed && !p->done)
      pthread_cond_wait(&p->cv, &p->mu);
    if (p->produced == p->consumed) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    size_t slot = p->consumed % PF_BLOCKS;
    p->n = p->fill[slot];
    p->pos = 0;
    p->block = p->buf + slot * PF_ROWS * (size_t)p->ncols;
    pthread_mutex_unlock(&p->mu);
  }
}

int mt__prefetch_status(mt__prefetch *p)
{
  pthread_mutex_lock(&p->mu);
  int s = p->done ? p->status : MT_OK;
  pthread_mutex_unlock(&p->mu);
  return s;
}

void mt__prefetch_stop(mt__prefetch *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->th, NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->path);
  free(p->sql);
  free(p->buf);
  free(p);
}
