/* Private to libmemtrace-trace. */
#ifndef MT_TRACE_INTERNAL_H
#define MT_TRACE_INTERNAL_H
#include "schemas/trace.h"

enum mt__stmt {
  MT__S_MEM, MT__S_REGION, MT__S_HEAP, MT__S_KERNEL, MT__S_MEMCPY, MT__S_COMM,
  MT__S_NCCL, MT__S_RANGE, MT__S_API, MT__S_OOM, MT__S_GPUMEM, MT__S_DEVICE,
  MT__S_THREAD, MT__S_STREAM, MT__S_MODULE, MT__S_FRAME, MT__S_META, MT__S_DROPS,
  MT__S_STRING, MT__S_COUNT
};

struct mt__intern_slot { char *s; uint64_t hash; int64_t id; };

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
};

/* Checks the SQLite header of `path`: magic and that the file is not
 * shorter than the header says.  MT_OK, MT_ENOTTRACE or MT_ECORRUPT. */
int mt__check_file(const char *path, mt_error *err);
int mt__apply_migrations(sqlite3 *db, int from, const char *path, mt_error *err);
#endif
