/* libmemtrace-analysis internals: small containers shared by the passes.
 * Nothing here is part of the library's API. */
#ifndef MT_ANALYSIS_INTERNAL_H
#define MT_ANALYSIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/lib/analysis.h"

/* Open-addressing hash map from a pair of 64-bit keys to a 64-bit value
 * (or a pointer).  Deletion by backward shift, so no tombstones. */
typedef struct mt__map_ent {
  uint64_t k1, k2, v;
  int used;
} mt__map_ent;

typedef struct mt__map {
  mt__map_ent *e;
  size_t cap, n;
} mt__map;

int mt__map_init(mt__map *m, size_t cap);
void mt__map_free(mt__map *m);
/* Returns the value slot for (k1,k2), inserting 0 when absent (*fresh = 1).
 * NULL on allocation failure.  The pointer is valid until the next insert. */
uint64_t *mt__map_put(mt__map *m, uint64_t k1, uint64_t k2, int *fresh);
uint64_t *mt__map_get(const mt__map *m, uint64_t k1, uint64_t k2);
int mt__map_del(mt__map *m, uint64_t k1, uint64_t k2, uint64_t *old);

/* Growable array of fixed-size elements. */
typedef struct mt__vec {
  void *p;
  size_t n, cap, elem;
} mt__vec;
void *mt__vec_push(mt__vec *v);   /* zeroed new element, or NULL */
void mt__vec_free(mt__vec *v);

/* String storage owned by a rank: interned trace strings and formatted
 * keys; freed together with the rank. */
typedef struct mt__strs {
  mt__map ids;             /* strings.id -> char* (owned) */
  mt__vec owned;           /* char* */
  sqlite3_stmt *lookup;
  int64_t missing;         /* first id the trace refers to and does not hold, or 0 */
  int sql_error;           /* first failed lookup's SQLite code, or 0 */
} mt__strs;

/* Trace string by id (NULL for 0 or unknown); cached.  An id the strings
 * table lacks, or a lookup SQLite fails, is noted in s (missing,
 * sql_error): the analysis then reports the trace damaged. */
const char *mt__str(mt__strs *s, int64_t id);
/* Keeps a copy of str; returns it (NULL on failure). */
const char *mt__strdup(mt__strs *s, const char *str);
void mt__strs_free(mt__strs *s);

/* Classification of an NVTX range name (analyzer/README.md, "Phases"). */
enum {   /* the public enum mt_phase_kind, short names */
  MT_PK_NONE = MT_PHASE_NONE, MT_PK_FWD = MT_PHASE_FORWARD, MT_PK_BWD = MT_PHASE_BACKWARD,
  MT_PK_REC = MT_PHASE_RECOMPUTE, MT_PK_OPT = MT_PHASE_OPTIMIZER, MT_PK_OTHER = MT_PHASE_OTHER
};
typedef mt_range_class mt__range_class;
void mt__classify_range(const char *name, mt__range_class *out);

/* The process's rank and world size: the process row's, or when the
 * environment had none, the collector's guess from NCCL (meta rank.nccl). */
void mt__effective_rank(mt_trace *t, const mt_process_info *p, int *rank, int *world);

/* The *.mtrace files of a run directory, "DIR/NAME", sorted by name and
 * NULL-terminated (caller frees each and the array); NULL with err set. */
char **mt__list_traces(const char *dir, size_t *n, mt_error *err);

/* qsort that accepts an empty (possibly NULL) array. */
#include <stdlib.h>
static inline void mt__sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
  if (n > 1)
    qsort(base, n, size, cmp);
}

/* A table's rows read ahead in another thread on its own read-only
 * connection to path (prefetch.c): the ncols integer columns cols (SQL,
 * comma-separated; the first one is the time) of table's rows (those
 * matching where, SQL or NULL), in blocks, with bounded memory.  ordered:
 * in (ts, rowid) order through SQLite's ORDER BY; else in rowid order
 * (where must then be NULL), stopping at the first row whose time
 * decreases.  next returns the next row (valid until the next call) or
 * NULL at the end; status then says why: MT_OK (all rows) or MT__ERETRY
 * (rowid order: a row's time decreased -- the rows so far were in
 * (ts, rowid) order, the rest were not read; either order: the second
 * connection or its scan failed: read them some other way).  stop cancels
 * the thread and frees everything; NULL is allowed. */
#define MT__ERETRY (-100)
typedef struct mt__prefetch mt__prefetch;
mt__prefetch *mt__prefetch_start(const char *path, const char *table, const char *where, const char *cols, int ncols,
                                 int ordered);
const int64_t *mt__prefetch_next(mt__prefetch *p);
int mt__prefetch_status(mt__prefetch *p);
void mt__prefetch_stop(mt__prefetch *p);

/* Name heuristic: a category for a label or symbol, or -1. */
int mt__category_from_text(const char *text);

#endif
