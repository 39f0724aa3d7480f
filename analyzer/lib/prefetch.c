/* libmemtrace-analysis: a query's rows read ahead in a second thread.
 *
 * The thread opens its own read-only connection to the trace (a SQLite
 * connection is not shared between threads here: NOMUTEX), steps the query
 * and copies its integer columns into blocks of PF_ROWS rows; the walk
 * consumes them.  At most PF_BLOCKS blocks are in flight, so memory stays
 * bounded (PF_BLOCKS * PF_ROWS * ncols * 8 bytes) whatever the table's size.
 * What it buys: SQLite's stepping and column decoding (most of a
 * region-heavy memory-only pass) overlaps with the walk's own work. */
#include "config.h"
#include <pthread.h>
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
  int ncols, sorted;
  int64_t *buf;                 /* PF_BLOCKS blocks of PF_ROWS * ncols */
  size_t fill[PF_BLOCKS];       /* rows in each handed-over block */
  size_t produced, consumed;    /* blocks handed over / given back (under mu) */
  int done, stop, status;       /* under mu */
  /* the consumer's side */
  const int64_t *block;
  size_t pos, n;
};

static void *producer(void *arg)
{
  mt__prefetch *p = arg;
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  int status = MT_OK;
  /* pages mapped rather than copied into the page cache: one pass over
     most of the file */
  if (sqlite3_open_v2(p->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA mmap_size=1099511627776", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, p->sql, -1, &q, NULL) != SQLITE_OK)
    status = MT_ECORRUPT;
  int64_t last = INT64_MIN;
  int more = status == MT_OK;
  while (more) {
    pthread_mutex_lock(&p->mu);
    while (p->produced - p->consumed == PF_BLOCKS && !p->stop)
      pthread_cond_wait(&p->cv, &p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop)
      break;
    size_t slot = p->produced % PF_BLOCKS, n = 0;
    int64_t *b = p->buf + slot * PF_ROWS * (size_t)p->ncols;
    int rc = SQLITE_ROW;
    while (n < PF_ROWS && (rc = sqlite3_step(q)) == SQLITE_ROW) {
      int64_t *row = b + n * (size_t)p->ncols;
      for (int i = 0; i < p->ncols; i++)
        row[i] = sqlite3_column_int64(q, i);
      if (p->sorted) {
        if (row[0] < last) {
          status = MT__EUNSORTED;
          break;
        }
        last = row[0];
      }
      n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      status = MT_ECORRUPT;
    more = rc == SQLITE_ROW && status == MT_OK;
    pthread_mutex_lock(&p->mu);
    p->fill[slot] = n;
    p->produced++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  pthread_mutex_lock(&p->mu);
  p->status = status;
  p->done = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

mt__prefetch *mt__prefetch_start(const char *path, const char *sql, int ncols, int sorted)
{
  mt__prefetch *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->ncols = ncols;
  p->sorted = sorted;
  p->path = strdup(path);
  p->sql = strdup(sql);
  p->buf = malloc((size_t)PF_BLOCKS * PF_ROWS * (size_t)ncols * sizeof *p->buf);
  if (!p->path || !p->sql || !p->buf)
    goto fail;
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
