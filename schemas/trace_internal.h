/* Private to libmemtrace-trace. */
#ifndef MT_TRACE_INTERNAL_H
#define MT_TRACE_INTERNAL_H
#include "schemas/trace.h"

enum mt__stmt {
  MT__S_HEAP, MT__S_COMM, MT__S_DEVICE,
  MT__S_THREAD, MT__S_STREAM, MT__S_MODULE, MT__S_FRAME, MT__S_META, MT__S_DROPS,
  MT__S_STRING, MT__S_KCONF, MT__S_STACK, MT__S_COUNT
};

struct mt__intern_slot { char *s; uint64_t hash; int64_t id; };

/* Event rows are buffered per table and inserted MT__BATCH at a time with
 * one multi-row INSERT: SQLite's per-statement cost dominates a one-row
 * insert, and batching doubles the rows per second the drain can write. */
#define MT__BATCH 32
#define MT__MAXCOLS 14
enum mt__table {
  MT__T_MEM, MT__T_REGION, MT__T_LAUNCH, MT__T_MEMCPY, MT__T_NCCL, MT__T_RANGE,
  MT__T_API, MT__T_OOM, MT__T_GPUMEM, MT__T_COUNT
};
struct mt__batch {
  int n;                                   /* rows pending */
  sqlite3_stmt *one, *many;                /* 1-row and MT__BATCH-row inserts */
  int64_t v[MT__BATCH * MT__MAXCOLS];
  unsigned char null[MT__BATCH * MT__MAXCOLS];
};

/* Interned kernel configurations (kernel_configs rows). */
struct mt__kconf {
  int64_t key[14];                         /* api name device stream grid[3] block[3] smem thread stack */
  uint64_t hash;
  int64_t id;                              /* 0: empty slot */
};

struct mt_trace {
  sqlite3 *db;
  char *path;
  int writable;
  int in_txn;
  sqlite3_stmt *stmt[MT__S_COUNT];
  /* string interning: open addressing, power-of-two capacity */
  struct mt__intern_slot *slots;
  size_t nslots, nused;
  int64_t next_string_id;
  /* process row strings kept for mt_trace_process() */
  char *proc_strings[4];
  struct mt__batch batch[MT__T_COUNT];
  int batch_error;                         /* first failed flush, reported at commit */
  struct mt__kconf *kconfs;
  size_t nkconfs, kconfs_used;
  int64_t next_kconf_id;
};

/* Checks the SQLite header of `path`: magic and that the file is not
 * shorter than the header says.  MT_OK, MT_ENOTTRACE or MT_ECORRUPT. */
/* The statement `s`, prepared once per trace and finalized by close. */
sqlite3_stmt *mt__stmt(mt_trace *t, enum mt__stmt s);
int mt__check_file(const char *path, mt_error *err);
int mt__apply_migrations(sqlite3 *db, int from, const char *path, mt_error *err);
extern const char *const mt__analysis_index_sql;
#endif
