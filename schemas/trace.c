/* libmemtrace-trace writer: schema creation, batched inserts, interning. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "schemas/trace_internal.h"

int mt__enum_foreach(int (*fn)(void *ctx, const char *e, int v, const char *l), void *ctx);

void mt_error_set(mt_error *err, int code, const char *fmt, ...)
{
  if (!err)
    return;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  /* one line, always: SQLite's messages can quote a damaged schema's text */
  for (char *c = err->msg; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
}

static int sql_fail(mt_trace *t, mt_error *err, const char *what)
{
  mt_error_set(err, MT_ESQL, "%s: %s: %s", t && t->path ? t->path : "trace", what,
               t && t->db ? sqlite3_errmsg(t->db) : "no database");
  return MT_ESQL;
}

static const char *const stmt_sql[MT__S_COUNT] = {
  [MT__S_HEAP] = "INSERT OR REPLACE INTO heaps VALUES (?,?,?,?,?,?,?,?,?,?)",
  [MT__S_COMM] = "INSERT OR REPLACE INTO communicators VALUES (?,?,?,?,?,?,?,?)",
  [MT__S_DEVICE] = "INSERT OR REPLACE INTO devices VALUES (?,?,?,?,?,?)",
  [MT__S_THREAD] = "INSERT OR REPLACE INTO threads VALUES (?,?,?)",
  [MT__S_STREAM] = "INSERT OR REPLACE INTO streams VALUES (?,?,?,?,?,?)",
  [MT__S_MODULE] = "INSERT OR REPLACE INTO modules VALUES (?,?,?,?,?)",
  [MT__S_FRAME] = "INSERT OR REPLACE INTO frames VALUES (?,?,?,?,?)",
  [MT__S_META] = "INSERT OR REPLACE INTO meta VALUES (?,?)",
  [MT__S_DROPS] = "INSERT INTO drops VALUES (?1,?2,?3) ON CONFLICT(kind) DO UPDATE "
                  "SET count = count + ?2, reason = coalesce(?3, reason)",
  [MT__S_STRING] = "INSERT INTO strings VALUES (?,?)",
  [MT__S_KCONF] = "INSERT INTO kernel_configs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
  [MT__S_STACK] = "SELECT f.parent, f.pc, f.module, s.value FROM frames f LEFT JOIN strings s "
                  "ON s.id = f.symbol_id WHERE f.id = ?",
};

static sqlite3_stmt *stmt(mt_trace *t, enum mt__stmt s)
{
  if (!t->stmt[s] &&
      sqlite3_prepare_v3(t->db, stmt_sql[s], -1, SQLITE_PREPARE_PERSISTENT, &t->stmt[s], NULL) != SQLITE_OK)
    return NULL;
  return t->stmt[s];
}

sqlite3_stmt *mt__stmt(mt_trace *t, enum mt__stmt s)
{
  return stmt(t, s);
}

/* Binds an int64 where negative means "unknown" and is stored as NULL. */
static void bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
  if (v < 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, v);
}

static void bind_text_opt(sqlite3_stmt *st, int i, const char *s)
{
  if (s && *s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static int run(mt_trace *t, sqlite3_stmt *st)
{
  if (!st)
    return MT_ESQL;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? MT_OK : MT_ESQL;
}

#define I64(st, i, v) sqlite3_bind_int64((st), (i), (sqlite3_int64)(v))

/* ---- batched event rows ------------------------------------------------ */

static const struct { const char *table; int ncols; } batch_tables[MT__T_COUNT] = {
  [MT__T_MEM] = { "mem_events", 13 },
  [MT__T_REGION] = { "region_events", 9 },
  [MT__T_LAUNCH] = { "kernel_launches", 6 },
  [MT__T_MEMCPY] = { "memcpys", 14 },
  [MT__T_NCCL] = { "nccl_calls", 14 },
  [MT__T_RANGE] = { "ranges", 8 },
  [MT__T_API] = { "api_calls", 6 },
  [MT__T_OOM] = { "ooms", 9 },
  [MT__T_GPUMEM] = { "gpu_memory", 9 },
};

static sqlite3_stmt *batch_stmt(mt_trace *t, int tbl, int rows)
{
  struct mt__batch *b = &t->batch[tbl];
  sqlite3_stmt **slot = rows == 1 ? &b->one : &b->many;
  if (*slot)
    return *slot;
  int nc = batch_tables[tbl].ncols;
  char sql[MT__BATCH * (MT__MAXCOLS * 2 + 4) + 64];
  size_t off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ", batch_tables[tbl].table);
  for (int r = 0; r < rows; r++) {
    sql[off++] = r ? ',' : ' ';
    sql[off++] = '(';
    for (int c = 0; c < nc; c++) {
      if (c)
        sql[off++] = ',';
      sql[off++] = '?';
    }
    sql[off++] = ')';
  }
  sql[off] = 0;
  if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
    return NULL;
  return *slot;
}

static int batch_exec(mt_trace *t, int tbl, int first, int rows)
{
  struct mt__batch *b = &t->batch[tbl];
  int nc = batch_tables[tbl].ncols;
  sqlite3_stmt *st = batch_stmt(t, tbl, rows);
  if (!st)
    return MT_ESQL;
  for (int i = 0; i < rows * nc; i++) {
    int k = first * nc + i;
    if (b->null[k])
      sqlite3_bind_null(st, i + 1);
    else
      sqlite3_bind_int64(st, i + 1, b->v[k]);
  }
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MT_OK : MT_ESQL;
}

/* Writes every pending row.  Returns MT_OK or the first failure since the
 * last successful flush (a failed row is lost; the error is not). */
static int batch_flush_all(mt_trace *t)
{
  for (int tbl = 0; tbl < MT__T_COUNT; tbl++) {
    struct mt__batch *b = &t->batch[tbl];
    for (int r = 0; r < b->n; r++)
      if (batch_exec(t, tbl, r, 1) != MT_OK && !t->batch_error)
        t->batch_error = MT_ESQL;
    b->n = 0;
  }
  int rc = t->batch_error;
  t->batch_error = MT_OK;
  return rc;
}

/* Returns the value slots of a new row of `tbl` (all non-NULL), flushing a
 * full batch first. */
static int64_t *batch_row(mt_trace *t, int tbl, unsigned char **nulls)
{
  struct mt__batch *b = &t->batch[tbl];
  int nc = batch_tables[tbl].ncols;
  if (b->n == MT__BATCH) {
    if (batch_exec(t, tbl, 0, MT__BATCH) != MT_OK && !t->batch_error)
      t->batch_error = MT_ESQL;
    b->n = 0;
  }
  int64_t *v = &b->v[b->n * nc];
  *nulls = &b->null[b->n * nc];
  memset(*nulls, 0, (size_t)nc);
  b->n++;
  return v;
}

/* Stores v, or NULL when v < 0 ("unknown"). */
#define OPT(i, x) do { if ((x) < 0) nl[i] = 1; else v[i] = (x); } while (0)

int mt_trace_put_mem(mt_trace *t, const mt_mem_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_MEM, &nl);
  v[0] = e->ts; v[1] = e->dur; v[2] = e->op; v[3] = e->api; v[4] = e->kind; v[5] = e->device;
  v[6] = e->stream; v[7] = (int64_t)e->addr; v[8] = (int64_t)e->size; v[9] = e->thread;
  v[10] = e->stack; v[11] = e->result; v[12] = e->context;
  return t->batch_error;
}

int mt_trace_put_region(mt_trace *t, const mt_region_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_REGION, &nl);
  v[0] = e->ts; v[1] = e->op; v[2] = e->heap; v[3] = (int64_t)e->addr; v[4] = (int64_t)e->size;
  v[5] = e->stream; v[6] = e->thread; v[7] = e->stack;
  if (e->label_id > 0) v[8] = e->label_id; else nl[8] = 1;
  return t->batch_error;
}

int mt_trace_put_heap(mt_trace *t, const mt_heap_info *h)
{
  sqlite3_stmt *st = stmt(t, MT__S_HEAP);
  if (!st) return MT_ESQL;
  I64(st, 1, h->id); I64(st, 2, h->handle);
  if (h->domain_id > 0) I64(st, 3, h->domain_id); else sqlite3_bind_null(st, 3);
  if (h->name_id > 0) I64(st, 4, h->name_id); else sqlite3_bind_null(st, 4);
  I64(st, 5, h->usage); I64(st, 6, h->device); I64(st, 7, h->addr); I64(st, 8, h->size);
  I64(st, 9, h->created); bind_opt(st, 10, h->destroyed);
  return run(t, st);
}

static uint64_t hash_words(const int64_t *w, int n)
{
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < n; i++)
    h = (h ^ (uint64_t)w[i]) * 1099511628211ull, h ^= h >> 29;
  return h;
}

static int kconf_grow(mt_trace *t)
{
  size_t n = t->nkconfs ? t->nkconfs * 2 : 256;
  struct mt__kconf *k = calloc(n, sizeof *k);
  if (!k)
    return MT_ENOMEM;
  for (size_t i = 0; i < t->nkconfs; i++) {
    if (!t->kconfs[i].id)
      continue;
    size_t j = t->kconfs[i].hash & (n - 1);
    while (k[j].id)
      j = (j + 1) & (n - 1);
    k[j] = t->kconfs[i];
  }
  free(t->kconfs);
  t->kconfs = k;
  t->nkconfs = n;
  return MT_OK;
}

/* The kernel_configs id of a launch's repeating fields, inserted on first sight. */
static int64_t kconf_id(mt_trace *t, const mt_kernel_event *e)
{
  int64_t key[14] = { e->api, e->name_id, e->device, e->stream, e->grid[0], e->grid[1], e->grid[2],
                      e->block[0], e->block[1], e->block[2], e->smem, e->thread, e->stack, 0 };
  if ((t->kconfs_used + 1) * 2 > t->nkconfs && kconf_grow(t) != MT_OK)
    return 0;
  uint64_t h = hash_words(key, 13);
  size_t j = h & (t->nkconfs - 1);
  while (t->kconfs[j].id) {
    if (t->kconfs[j].hash == h && memcmp(t->kconfs[j].key, key, sizeof key) == 0)
      return t->kconfs[j].id;
    j = (j + 1) & (t->nkconfs - 1);
  }
  sqlite3_stmt *st = stmt(t, MT__S_KCONF);
  if (!st)
    return 0;
  if (!t->next_kconf_id)
    t->next_kconf_id = 1;
  int64_t id = t->next_kconf_id;
  I64(st, 1, id);
  for (int i = 0; i < 13; i++)
    I64(st, i + 2, key[i]);
  if (run(t, st) != MT_OK)
    return 0;
  memcpy(t->kconfs[j].key, key, sizeof key);
  t->kconfs[j].hash = h;
  t->kconfs[j].id = id;
  t->kconfs_used++;
  t->next_kconf_id++;
  return id;
}

int mt_trace_put_kernel(mt_trace *t, const mt_kernel_event *e)
{
  int64_t conf = kconf_id(t, e);
  if (!conf)
    return MT_ESQL;
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_LAUNCH, &nl);
  v[0] = e->ts; v[1] = e->dur; v[2] = conf; v[3] = e->correlation;
  OPT(4, e->gpu_start); OPT(5, e->gpu_end);
  return t->batch_error;
}

int mt_trace_put_memcpy(mt_trace *t, const mt_memcpy_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_MEMCPY, &nl);
  v[0] = e->ts; v[1] = e->dur; v[2] = e->api; v[3] = e->kind; v[4] = (int64_t)e->bytes;
  v[5] = (int64_t)e->dst; v[6] = (int64_t)e->src; v[7] = e->device; v[8] = e->stream; v[9] = e->thread;
  v[10] = e->stack; v[11] = e->correlation; OPT(12, e->gpu_start); OPT(13, e->gpu_end);
  return t->batch_error;
}

int mt_trace_put_comm(mt_trace *t, const mt_comm_info *c)
{
  sqlite3_stmt *st = stmt(t, MT__S_COMM);
  if (!st) return MT_ESQL;
  I64(st, 1, c->id); I64(st, 2, c->handle); bind_text_opt(st, 3, c->unique_id);
  I64(st, 4, c->nranks); I64(st, 5, c->rank); I64(st, 6, c->device); I64(st, 7, c->created);
  bind_opt(st, 8, c->destroyed);
  return run(t, st);
}

int mt_trace_put_nccl(mt_trace *t, const mt_nccl_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_NCCL, &nl);
  v[0] = e->ts; v[1] = e->dur; v[2] = e->op; v[3] = e->comm; v[4] = (int64_t)e->count; v[5] = e->dtype;
  v[6] = (int64_t)e->bytes; v[7] = e->peer; v[8] = e->stream; v[9] = e->thread; v[10] = e->stack;
  v[11] = e->correlation; OPT(12, e->gpu_start); OPT(13, e->gpu_end);
  return t->batch_error;
}

int mt_trace_put_range(mt_trace *t, const mt_range_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_RANGE, &nl);
  v[0] = e->ts; OPT(1, e->te); v[2] = e->kind; v[3] = e->domain_id; v[4] = e->name_id; v[5] = e->depth;
  v[6] = e->thread; v[7] = e->category;
  return t->batch_error;
}

int mt_trace_put_api(mt_trace *t, const mt_api_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_API, &nl);
  v[0] = e->ts; v[1] = e->dur; v[2] = e->api; v[3] = e->stream; v[4] = e->thread; v[5] = e->result;
  return t->batch_error;
}

int mt_trace_put_oom(mt_trace *t, const mt_oom_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_OOM, &nl);
  v[0] = e->ts; v[1] = e->device; v[2] = e->api; v[3] = e->source; v[4] = (int64_t)e->requested;
  OPT(5, e->free_bytes); OPT(6, e->total_bytes); v[7] = e->thread; v[8] = e->stack;
  return t->batch_error;
}

int mt_trace_put_gpu_memory(mt_trace *t, const mt_gpu_memory_event *e)
{
  unsigned char *nl;
  int64_t *v = batch_row(t, MT__T_GPUMEM, &nl);
  v[0] = e->ts; v[1] = e->op; v[2] = e->kind; v[3] = e->device; v[4] = e->stream; v[5] = (int64_t)e->addr;
  v[6] = (int64_t)e->size; OPT(7, e->pool_addr); v[8] = e->correlation;
  return t->batch_error;
}

int mt_trace_put_device(mt_trace *t, int id, const char *name, uint64_t total_bytes,
                        int cc_major, int cc_minor, const char *uuid)
{
  int64_t name_id = mt_trace_intern(t, name ? name : "");
  sqlite3_stmt *st = stmt(t, MT__S_DEVICE);
  if (!st || !name_id) return MT_ESQL;
  I64(st, 1, id); I64(st, 2, name_id); I64(st, 3, total_bytes); I64(st, 4, cc_major);
  I64(st, 5, cc_minor); bind_text_opt(st, 6, uuid);
  return run(t, st);
}

int mt_trace_put_thread(mt_trace *t, int64_t id, int64_t tid, const char *name)
{
  int64_t name_id = name && *name ? mt_trace_intern(t, name) : 0;
  sqlite3_stmt *st = stmt(t, MT__S_THREAD);
  if (!st) return MT_ESQL;
  I64(st, 1, id); I64(st, 2, tid);
  if (name_id > 0) I64(st, 3, name_id); else sqlite3_bind_null(st, 3);
  return run(t, st);
}

int mt_trace_put_stream(mt_trace *t, int64_t id, int device, uint64_t handle,
                        int priority, int flags, int64_t created)
{
  sqlite3_stmt *st = stmt(t, MT__S_STREAM);
  if (!st) return MT_ESQL;
  I64(st, 1, id); I64(st, 2, device); I64(st, 3, handle); I64(st, 4, priority);
  I64(st, 5, flags); bind_opt(st, 6, created);
  return run(t, st);
}

int mt_trace_put_module(mt_trace *t, int64_t id, const char *path, uint64_t base,
                        uint64_t size, const char *build_id)
{
  int64_t path_id = mt_trace_intern(t, path ? path : "");
  sqlite3_stmt *st = stmt(t, MT__S_MODULE);
  if (!st || !path_id) return MT_ESQL;
  I64(st, 1, id); I64(st, 2, path_id); I64(st, 3, base); I64(st, 4, size);
  bind_text_opt(st, 5, build_id);
  return run(t, st);
}

int mt_trace_put_frame(mt_trace *t, int64_t id, int64_t parent, uint64_t pc,
                       int64_t module, const char *symbol)
{
  int64_t sym_id = symbol && *symbol ? mt_trace_intern(t, symbol) : 0;
  sqlite3_stmt *st = stmt(t, MT__S_FRAME);
  if (!st) return MT_ESQL;
  I64(st, 1, id); I64(st, 2, parent); I64(st, 3, pc); I64(st, 4, module);
  if (sym_id > 0) I64(st, 5, sym_id); else sqlite3_bind_null(st, 5);
  return run(t, st);
}

int mt_trace_put_meta(mt_trace *t, const char *key, const char *value)
{
  sqlite3_stmt *st = stmt(t, MT__S_META);
  if (!st || !key) return MT_EINVAL;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
  bind_text_opt(st, 2, value);
  return run(t, st);
}

int mt_trace_set_rank(mt_trace *t, int rank, int world_size, const char *source)
{
  sqlite3_stmt *st;
  if (!t || !t->writable || rank < 0 || world_size < 1)
    return MT_EINVAL;
  if (sqlite3_prepare_v2(t->db, "UPDATE process SET rank = ?, world_size = ?", -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  I64(st, 1, rank);
  I64(st, 2, world_size);
  int rc = sqlite3_step(st) == SQLITE_DONE ? MT_OK : MT_ESQL;
  sqlite3_finalize(st);
  return rc == MT_OK && source ? mt_trace_put_meta(t, "rank.source", source) : rc;
}

int mt_trace_add_drops(mt_trace *t, const char *kind, int64_t count, const char *reason)
{
  sqlite3_stmt *st = stmt(t, MT__S_DROPS);
  if (!st || !kind) return MT_EINVAL;
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
  I64(st, 2, count);
  bind_text_opt(st, 3, reason);
  return run(t, st);
}

/* ---- interning -------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int intern_grow(mt_trace *t)
{
  size_t n = t->nslots ? t->nslots * 2 : 1024;
  struct mt__intern_slot *slots = calloc(n, sizeof *slots);
  if (!slots)
    return MT_ENOMEM;
  for (size_t i = 0; i < t->nslots; i++) {
    if (!t->slots[i].s)
      continue;
    size_t j = t->slots[i].hash & (n - 1);
    while (slots[j].s)
      j = (j + 1) & (n - 1);
    slots[j] = t->slots[i];
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = n;
  return MT_OK;
}

int64_t mt_trace_intern(mt_trace *t, const char *s)
{
  if (!t || !s)
    return 0;
  if ((t->nused + 1) * 2 > t->nslots && intern_grow(t) != MT_OK)
    return 0;
  uint64_t h = hash_str(s);
  size_t j = h & (t->nslots - 1);
  while (t->slots[j].s) {
    if (t->slots[j].hash == h && strcmp(t->slots[j].s, s) == 0)
      return t->slots[j].id;
    j = (j + 1) & (t->nslots - 1);
  }
  sqlite3_stmt *st = stmt(t, MT__S_STRING);
  if (!st)
    return 0;
  int64_t id = t->next_string_id;
  I64(st, 1, id);
  sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
  if (run(t, st) != MT_OK)
    return 0;
  char *copy = strdup(s);
  if (!copy)
    return 0;
  t->slots[j] = (struct mt__intern_slot){ copy, h, id };
  t->nused++;
  t->next_string_id++;
  return id;
}

/* Loads existing strings so a reopened trace keeps interning consistently. */
static int intern_load(mt_trace *t)
{
  sqlite3_stmt *st;
  t->next_string_id = 1;
  if (sqlite3_prepare_v2(t->db, "SELECT id, value FROM strings", -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *s = (const char *)sqlite3_column_text(st, 1);
    if (!s)
      continue;
    if ((t->nused + 1) * 2 > t->nslots && intern_grow(t) != MT_OK)
      break;
    uint64_t h = hash_str(s);
    size_t j = h & (t->nslots - 1);
    while (t->slots[j].s)
      j = (j + 1) & (t->nslots - 1);
    t->slots[j] = (struct mt__intern_slot){ strdup(s), h, id };
    t->nused++;
    if (id >= t->next_string_id)
      t->next_string_id = id + 1;
  }
  sqlite3_finalize(st);
  /* kernel configurations are not re-interned after a reopen: new ones
     continue after the highest id (duplicates of old ones are harmless) */
  if (sqlite3_prepare_v2(t->db, "SELECT coalesce(max(id), 0) + 1 FROM kernel_configs", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      t->next_kconf_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return MT_OK;
}

/* ---- life cycle ------------------------------------------------------- */

int mt_trace_begin(mt_trace *t)
{
  if (t->in_txn)
    return MT_OK;
  if (sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return MT_ESQL;
  t->in_txn = 1;
  return MT_OK;
}

int mt_trace_commit(mt_trace *t)
{
  int rc = batch_flush_all(t);
  if (!t->in_txn)
    return rc;
  t->in_txn = 0;
  if (sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    return MT_ESQL;
  return rc;
}

static int label_row(void *ctx, const char *e, int v, const char *l)
{
  sqlite3_stmt *st = ctx;
  sqlite3_bind_text(st, 1, e, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, v);
  sqlite3_bind_text(st, 3, l, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : 1;
}

int mt__apply_migrations(sqlite3 *db, int from, const char *path, mt_error *err)
{
  for (int i = 0; i < mt_migration_count; i++) {
    const mt_migration *m = &mt_migrations[i];
    if (m->version <= from)
      continue;
    char *msg = NULL;
    if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
      mt_error_set(err, MT_ESQL, "%s: migration %s failed: %s", path, m->name, msg ? msg : "?");
      sqlite3_free(msg);
      return MT_ESQL;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
    if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
      mt_error_set(err, MT_ESQL, "%s: cannot set schema version: %s", path, sqlite3_errmsg(db));
      return MT_ESQL;
    }
  }
  /* enum labels are rewritten whole: new values may have been appended */
  sqlite3_stmt *st;
  if (sqlite3_exec(db, "DELETE FROM enum_labels", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO enum_labels VALUES (?,?,?)", -1, &st, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_ESQL, "%s: cannot write enum labels: %s", path, sqlite3_errmsg(db));
    return MT_ESQL;
  }
  int rc = mt__enum_foreach(label_row, st);
  sqlite3_finalize(st);
  if (rc) {
    mt_error_set(err, MT_ESQL, "%s: cannot write enum labels: %s", path, sqlite3_errmsg(db));
    return MT_ESQL;
  }
  return MT_OK;
}

static mt_trace *trace_new(const char *path)
{
  mt_trace *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->path = strdup(path);
  t->next_string_id = 1;
  if (!t->path) {
    free(t);
    return NULL;
  }
  return t;
}

/* Writer connection settings: WAL so that a killed process leaves a
 * readable trace with every committed batch; no fsync (we survive process
 * death, not power loss, and must not stall the drain thread). */
static int writer_pragmas(sqlite3 *db)
{
  return sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; "
                          "PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;",
                      NULL, NULL, NULL);
}

int mt_trace_create(const char *path, const mt_process_info *info, mt_trace **out, mt_error *err)
{
  *out = NULL;
  if (!path || !info) {
    mt_error_set(err, MT_EINVAL, "trace: no path or process info");
    return MT_EINVAL;
  }
  if (access(path, F_OK) == 0) {
    mt_error_set(err, MT_EIO, "%s: already exists; not overwriting", path);
    return MT_EIO;
  }
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp)
    return MT_ENOMEM;
  snprintf(tmp, n, "%s.tmp-%ld", path, (long)getpid());
  unlink(tmp);

  mt_trace *t = trace_new(path);
  if (!t) {
    free(tmp);
    return MT_ENOMEM;
  }
  t->writable = 1;
  int rc = MT_ESQL;
  if (sqlite3_open_v2(tmp, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_EIO, "%s: cannot create: %s", path, t->db ? sqlite3_errmsg(t->db) : "out of memory");
    rc = MT_EIO;
    goto fail;
  }
  /* Build the schema in rollback mode, then switch to WAL once renamed. */
  if (sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
      mt__apply_migrations(t->db, 0, path, err) != MT_OK)
    goto fail_msg;
  {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(t->db, "INSERT INTO process VALUES (?,?,?,?,?,?,?,?,?,?,?,'monotonic',?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
      goto fail_sql;
    sqlite3_bind_text(st, 1, info->run_id, -1, SQLITE_TRANSIENT);
    I64(st, 2, info->rank); I64(st, 3, info->local_rank); I64(st, 4, info->world_size > 0 ? info->world_size : 1);
    sqlite3_bind_text(st, 5, info->host, -1, SQLITE_TRANSIENT);
    I64(st, 6, info->pid); I64(st, 7, info->ppid);
    sqlite3_bind_text(st, 8, info->command_line ? info->command_line : "", -1, SQLITE_TRANSIENT);
    I64(st, 9, info->start_ns); I64(st, 10, info->wall_offset_ns);
    bind_opt(st, 11, info->end_ns);
    sqlite3_bind_text(st, 12, info->producer ? info->producer : PACKAGE_STRING, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, info->stacks ? info->stacks : "none", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 14, info->cupti ? info->cupti : "unavailable", -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
      goto fail_sql;
  }
  if (sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    goto fail_sql;
  /* SQLite refuses to write a database renamed under it: close, rename,
     reopen under the final name. */
  sqlite3_close(t->db);
  t->db = NULL;
  if (rename(tmp, path) != 0) {
    mt_error_set(err, MT_EIO, "%s: cannot create: %s", path, strerror(errno));
    rc = MT_EIO;
    goto fail;
  }
  if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
      writer_pragmas(t->db) != SQLITE_OK) {
    rc = sql_fail(t, err, "cannot configure");
    sqlite3_close(t->db);
    t->db = NULL;
    unlink(path);
    goto fail_after_rename;
  }
  free(tmp);
  *out = t;
  return MT_OK;

fail_sql:
  sql_fail(t, err, "cannot create schema");
fail_msg:
  rc = err ? err->code : MT_ESQL;
fail:
  if (t->db)
    sqlite3_close(t->db);
  t->db = NULL;
  unlink(tmp);
fail_after_rename:
  free(tmp);
  mt_trace_close(t);
  return rc;
}

/* Indexes of the small event tables, built when the writer finalizes. */
static const char *const index_sql =
  "CREATE INDEX IF NOT EXISTS mem_events_by_ts ON mem_events(ts);"
  "CREATE INDEX IF NOT EXISTS region_events_by_ts ON region_events(ts);"
  "CREATE INDEX IF NOT EXISTS ranges_by_ts ON ranges(ts);"
  "CREATE INDEX IF NOT EXISTS nccl_calls_by_ts ON nccl_calls(ts);";
/* Kernel launches are most of a big trace's rows, and their time index
 * would nearly double their bytes on disk (about 18 -> 34 per launch) and
 * delay the traced process's exit: it is built at the first analysis. */
const char *const mt__analysis_index_sql =
  "CREATE INDEX IF NOT EXISTS kernel_launches_by_ts ON kernel_launches(ts);";

int mt_trace_ensure_indexes(mt_trace *t)
{
  if (!t->writable)
    return MT_EINVAL;
  if (sqlite3_exec(t->db, index_sql, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(t->db, mt__analysis_index_sql, NULL, NULL, NULL) != SQLITE_OK)
    return MT_ESQL;
  return MT_OK;
}

int mt_trace_finalize(mt_trace *t, int64_t end_ns)
{
  if (mt_trace_commit(t) != MT_OK)
    return MT_ESQL;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(t->db, "UPDATE process SET end_ns = ?", -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  I64(st, 1, end_ns);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE || sqlite3_exec(t->db, index_sql, NULL, NULL, NULL) != SQLITE_OK)
    return MT_ESQL;
  /* Fold the WAL back in: a finished trace is one self-contained file. */
  sqlite3_exec(t->db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
  return MT_OK;
}

void mt_trace_close(mt_trace *t)
{
  if (!t)
    return;
  if (t->db)
    mt_trace_commit(t);
  for (int i = 0; i < MT__S_COUNT; i++)
    sqlite3_finalize(t->stmt[i]);
  for (int i = 0; i < MT__T_COUNT; i++) {
    sqlite3_finalize(t->batch[i].one);
    sqlite3_finalize(t->batch[i].many);
  }
  free(t->kconfs);
  if (t->db)
    sqlite3_close(t->db);
  for (size_t i = 0; i < t->nslots; i++)
    free(t->slots[i].s);
  free(t->slots);
  for (int i = 0; i < 4; i++)
    free(t->proc_strings[i]);
  free(t->path);
  free(t);
}

/* Direct SQL sees every row put so far: pending batches are written first. */
sqlite3 *mt_trace_db(mt_trace *t)
{
  if (t->writable)
    batch_flush_all(t);
  return t->db;
}
const char *mt_trace_path(mt_trace *t) { return t->path; }

/* used by trace_check.c */
mt_trace *mt__trace_new(const char *path);
mt_trace *mt__trace_new(const char *path) { return trace_new(path); }
int mt__trace_load_strings(mt_trace *t);
int mt__trace_load_strings(mt_trace *t) { return intern_load(t); }
int mt__writer_pragmas(sqlite3 *db);
int mt__writer_pragmas(sqlite3 *db) { return writer_pragmas(db); }
