/* The typed reader (reader.h).  Each event table has one SELECT that puts
 * ts first and resolves interned strings in SQL, and one decoder into the
 * writer's struct; a merged cursor steps the table whose current row is
 * earliest, decoding only the row it returns. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "schemas/reader.h"
#include "schemas/trace_internal.h"

#define I64(i) sqlite3_column_int64(st, (i))
#define OPT(i) (sqlite3_column_type(st, (i)) == SQLITE_NULL ? -1 : I64(i))
#define TXT(i) (sqlite3_column_text(st, (i)) ? (const char *)sqlite3_column_text(st, (i)) : "")

static void d_mem(sqlite3_stmt *st, mt_row *r)
{
  mt_mem_event *e = &r->u.mem;
  *e = (mt_mem_event){ .ts = I64(0), .dur = I64(1), .op = (int)I64(2), .api = (int)I64(3), .kind = (int)I64(4),
                       .device = (int)I64(5), .stream = I64(6), .addr = (uint64_t)I64(7),
                       .size = (uint64_t)I64(8), .thread = I64(9), .stack = I64(10), .result = (int)I64(11),
                       .context = (int)I64(12) };
}

static void d_region(sqlite3_stmt *st, mt_row *r)
{
  r->u.region = (mt_region_event){ .ts = I64(0), .op = (int)I64(1), .heap = I64(2), .addr = (uint64_t)I64(3),
                                   .size = (uint64_t)I64(4), .stream = I64(5), .thread = I64(6),
                                   .stack = I64(7), .label_id = I64(9) };
  r->name = TXT(8);
}

static void d_kernel(sqlite3_stmt *st, mt_row *r)
{
  r->u.kernel = (mt_kernel_event){ .ts = I64(0), .dur = I64(1), .api = (int)I64(2), .name_id = I64(18),
                                   .device = (int)I64(4), .stream = I64(5),
                                   .grid = { (uint32_t)I64(6), (uint32_t)I64(7), (uint32_t)I64(8) },
                                   .block = { (uint32_t)I64(9), (uint32_t)I64(10), (uint32_t)I64(11) },
                                   .smem = (uint32_t)I64(12), .thread = I64(13), .stack = I64(14),
                                   .correlation = I64(15), .gpu_start = OPT(16), .gpu_end = OPT(17) };
  r->name = TXT(3);
}

static void d_memcpy(sqlite3_stmt *st, mt_row *r)
{
  r->u.memcpy = (mt_memcpy_event){ .ts = I64(0), .dur = I64(1), .api = (int)I64(2), .kind = (int)I64(3),
                                   .bytes = (uint64_t)I64(4), .dst = (uint64_t)I64(5), .src = (uint64_t)I64(6),
                                   .device = (int)I64(7), .stream = I64(8), .thread = I64(9), .stack = I64(10),
                                   .correlation = I64(11), .gpu_start = OPT(12), .gpu_end = OPT(13) };
}

static void d_nccl(sqlite3_stmt *st, mt_row *r)
{
  r->u.nccl = (mt_nccl_event){ .ts = I64(0), .dur = I64(1), .op = (int)I64(2), .comm = I64(3),
                               .count = (uint64_t)I64(4), .dtype = (int)I64(5), .bytes = (uint64_t)I64(6),
                               .peer = (int)I64(7), .stream = I64(8), .thread = I64(9), .stack = I64(10),
                               .correlation = I64(11), .gpu_start = OPT(12), .gpu_end = OPT(13) };
}

static void d_range(sqlite3_stmt *st, mt_row *r)
{
  r->u.range = (mt_range_event){ .ts = I64(0), .te = OPT(1), .kind = (int)I64(2), .domain_id = I64(8),
                                 .name_id = I64(9), .depth = (int)I64(5), .thread = I64(6),
                                 .category = (int)I64(7) };
  r->domain = TXT(3);
  r->name = TXT(4);
}

static void d_api(sqlite3_stmt *st, mt_row *r)
{
  r->u.api = (mt_api_event){ .ts = I64(0), .dur = I64(1), .api = (int)I64(2), .stream = I64(3),
                             .thread = I64(4), .result = (int)I64(5) };
}

static void d_oom(sqlite3_stmt *st, mt_row *r)
{
  r->u.oom = (mt_oom_event){ .ts = I64(0), .device = (int)I64(1), .api = (int)I64(2), .source = (int)I64(3),
                             .requested = (uint64_t)I64(4), .free_bytes = OPT(5), .total_bytes = OPT(6),
                             .thread = I64(7), .stack = I64(8) };
}

static void d_gpumem(sqlite3_stmt *st, mt_row *r)
{
  r->u.gpu_memory = (mt_gpu_memory_event){ .ts = I64(0), .op = (int)I64(1), .kind = (int)I64(2),
                                           .device = (int)I64(3), .stream = I64(4), .addr = (uint64_t)I64(5),
                                           .size = (uint64_t)I64(6), .pool_addr = OPT(7),
                                           .correlation = I64(8) };
}

#define STR(col) "coalesce((SELECT value FROM strings WHERE id = " col "), '')"
static const struct {
  const char *name, *sql;
  void (*decode)(sqlite3_stmt *st, mt_row *r);
} tables[MT_TAB_COUNT] = {
  [MT_TAB_MEM] = { "mem_events", "SELECT ts, dur, op, api, kind, device, stream, addr, size, thread, stack, "
                                 "result, context FROM mem_events ORDER BY ts, rowid", d_mem },
  [MT_TAB_REGION] = { "region_events", "SELECT ts, op, heap, addr, size, stream, thread, stack, " STR("label_id")
                                       ", label_id FROM region_events ORDER BY ts, rowid", d_region },
  [MT_TAB_KERNEL] = { "kernels", "SELECT ts, dur, api, " STR("name_id") ", device, stream, grid_x, grid_y, "
                                 "grid_z, block_x, block_y, block_z, smem, thread, stack, correlation, gpu_start, "
                                 "gpu_end, name_id FROM kernels ORDER BY ts, rowid", d_kernel },
  [MT_TAB_MEMCPY] = { "memcpys", "SELECT ts, dur, api, kind, bytes, dst, src, device, stream, thread, stack, "
                                 "correlation, gpu_start, gpu_end FROM memcpys ORDER BY ts, rowid", d_memcpy },
  [MT_TAB_NCCL] = { "nccl_calls", "SELECT ts, dur, op, comm, count, dtype, bytes, peer, stream, thread, stack, "
                                  "correlation, gpu_start, gpu_end FROM nccl_calls ORDER BY ts, rowid", d_nccl },
  [MT_TAB_RANGE] = { "ranges", "SELECT ts, te, kind, " STR("domain_id") ", " STR("name_id") ", depth, thread, "
                               "category, domain_id, name_id FROM ranges ORDER BY ts, rowid", d_range },
  [MT_TAB_API] = { "api_calls", "SELECT ts, dur, api, stream, thread, result FROM api_calls ORDER BY ts, rowid",
                   d_api },
  [MT_TAB_OOM] = { "ooms", "SELECT ts, device, api, source, requested, free_bytes, total_bytes, thread, stack "
                           "FROM ooms ORDER BY ts, rowid", d_oom },
  [MT_TAB_GPU_MEMORY] = { "gpu_memory", "SELECT ts, op, kind, device, stream, addr, size, pool_addr, "
                                        "correlation FROM gpu_memory ORDER BY ts, rowid", d_gpumem },
};

const char *mt_table_name(mt_table t)
{
  return (unsigned)t < MT_TAB_COUNT ? tables[t].name : "?";
}

int mt_table_by_name(const char *name)
{
  for (int i = 0; i < MT_TAB_COUNT; i++)
    if (strcmp(name, tables[i].name) == 0)
      return i;
  return -1;
}

struct mt_cursor {
  mt_trace *t;
  sqlite3_stmt *st[MT_TAB_COUNT];
  int live[MT_TAB_COUNT];
  int pending;               /* table whose row was returned last: stepped on the next call */
};

static int step(mt_cursor *c, int i)
{
  int s = sqlite3_step(c->st[i]);
  c->live[i] = s == SQLITE_ROW;
  return s == SQLITE_ROW || s == SQLITE_DONE ? MT_OK : MT_ESQL;
}

int mt_cursor_open(mt_trace *t, unsigned which, mt_cursor **out)
{
  mt_cursor *c = calloc(1, sizeof *c);
  *out = NULL;
  if (!c)
    return MT_ENOMEM;
  c->t = t;
  c->pending = -1;
  sqlite3 *db = mt_trace_db(t);
  for (int i = 0; i < MT_TAB_COUNT; i++) {
    if (!(which & MT_TAB_BIT(i)))
      continue;
    if (sqlite3_prepare_v2(db, tables[i].sql, -1, &c->st[i], NULL) != SQLITE_OK || step(c, i) != MT_OK) {
      mt_cursor_close(c);
      return MT_ESQL;
    }
  }
  *out = c;
  return MT_OK;
}

int mt_cursor_next(mt_cursor *c, mt_row *row)
{
  if (c->pending >= 0 && step(c, c->pending) != MT_OK)
    return MT_ESQL;
  c->pending = -1;
  int best = -1;
  int64_t best_ts = 0;
  for (int i = 0; i < MT_TAB_COUNT; i++) {
    if (!c->live[i])
      continue;
    int64_t ts = sqlite3_column_int64(c->st[i], 0);
    if (best < 0 || ts < best_ts) {
      best = i;
      best_ts = ts;
    }
  }
  if (best < 0)
    return 0;
  row->table = (mt_table)best;
  row->ts = best_ts;
  row->name = row->domain = "";
  tables[best].decode(c->st[best], row);
  c->pending = best;
  return 1;
}

void mt_cursor_close(mt_cursor *c)
{
  if (!c)
    return;
  for (int i = 0; i < MT_TAB_COUNT; i++)
    sqlite3_finalize(c->st[i]);
  free(c);
}

/* Runs `sql`, calling row(st, fn, ctx) per result row. */
typedef void (*anyfn)(void);
static int each(mt_trace *t, const char *sql, int (*row)(sqlite3_stmt *st, anyfn fn, void *ctx), anyfn fn,
                void *ctx)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(mt_trace_db(t), sql, -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  int s, rc = MT_OK;
  while ((s = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = row(st, fn, ctx)) != 0)
      break;
  if (rc == MT_OK && s != SQLITE_DONE)
    rc = MT_ESQL;
  sqlite3_finalize(st);
  return rc;
}

static int r_device(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  mt_device_row r = { .id = I64(0), .name = TXT(1), .total_bytes = (uint64_t)I64(2), .cc_major = I64(3),
                      .cc_minor = I64(4), .uuid = TXT(5) };
  return ((int (*)(void *, const mt_device_row *))fn)(ctx, &r);
}

int mt_read_devices(mt_trace *t, int (*fn)(void *ctx, const mt_device_row *r), void *ctx)
{
  return each(t, "SELECT d.id, s.value, d.total_bytes, d.cc_major, d.cc_minor, d.uuid FROM devices d "
                 "LEFT JOIN strings s ON s.id = d.name_id ORDER BY d.id", r_device, (anyfn)fn, ctx);
}

static int r_comm(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  mt_comm_row r = { .id = I64(0), .handle = (uint64_t)I64(1), .unique_id = TXT(2), .nranks = I64(3),
                    .rank = I64(4), .device = I64(5), .created = I64(6), .destroyed = OPT(7) };
  return ((int (*)(void *, const mt_comm_row *))fn)(ctx, &r);
}

int mt_read_comms(mt_trace *t, int (*fn)(void *ctx, const mt_comm_row *r), void *ctx)
{
  return each(t, "SELECT id, handle, unique_id, nranks, rank, device, created, destroyed FROM communicators "
                 "ORDER BY id", r_comm, (anyfn)fn, ctx);
}

static int r_heap(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  mt_heap_row r = { .id = I64(0), .handle = (uint64_t)I64(1), .usage = I64(2), .device = I64(3),
                    .addr = (uint64_t)I64(4), .size = (uint64_t)I64(5), .name = TXT(6), .created = I64(7),
                    .destroyed = OPT(8) };
  return ((int (*)(void *, const mt_heap_row *))fn)(ctx, &r);
}

int mt_read_heaps(mt_trace *t, int (*fn)(void *ctx, const mt_heap_row *r), void *ctx)
{
  return each(t, "SELECT h.id, h.handle, h.usage, h.device, h.addr, h.size, s.value, h.created, h.destroyed "
                 "FROM heaps h LEFT JOIN strings s ON s.id = h.name_id ORDER BY h.id", r_heap, (anyfn)fn, ctx);
}

static int r_drop(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  mt_drop_row r = { .kind = TXT(0), .count = I64(1), .reason = (const char *)sqlite3_column_text(st, 2) };
  return ((int (*)(void *, const mt_drop_row *))fn)(ctx, &r);
}

int mt_read_drops(mt_trace *t, int (*fn)(void *ctx, const mt_drop_row *r), void *ctx)
{
  return each(t, "SELECT kind, count, reason FROM drops ORDER BY kind", r_drop, (anyfn)fn, ctx);
}

int mt_read_meta(mt_trace *t, const char *key, char *buf, size_t len)
{
  sqlite3_stmt *st;
  int found = 0;
  if (len)
    buf[0] = 0;
  if (sqlite3_prepare_v2(mt_trace_db(t), "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    found = 1;
    if (len)
      snprintf(buf, len, "%s", TXT(0));
  }
  sqlite3_finalize(st);
  return found;
}

int64_t mt_read_meta_int(mt_trace *t, const char *key)
{
  sqlite3_stmt *st;
  int64_t v = 0;
  if (sqlite3_prepare_v2(mt_trace_db(t), "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = I64(0);
  sqlite3_finalize(st);
  return v;
}

static int code(int64_t v)
{
  return v > 0 && v < MT_CODES ? (int)v : 0;
}

static int c_mem(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  (void)fn;
  mt_trace_counts *c = ctx;
  c->mem[code(I64(0))][code(I64(1))][I64(2) ? 1 : 0] += I64(3);
  return 0;
}

static int c_one(sqlite3_stmt *st, anyfn fn, void *ctx)
{
  (void)fn;
  *(int64_t *)ctx = I64(0);
  return 0;
}

/* count(*) without WHERE is SQLite's fast b-tree count; a GROUP BY would
 * sort every row (0.2 s for 750k region events), so codes are counted
 * one WHERE at a time, as asked. */
int mt_read_counts(mt_trace *t, mt_trace_counts *c)
{
  memset(c, 0, sizeof *c);
  int rc = each(t, "SELECT op, kind, result = 0, count(*) FROM mem_events GROUP BY 1, 2, 3", c_mem, NULL, c);
  for (int i = 0; rc == MT_OK && i < MT_TAB_COUNT; i++) {
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
    rc = each(t, sql, c_one, NULL, &c->rows[i]);
  }
  if (rc == MT_OK)
    rc = each(t, "SELECT count(*) FROM heaps", c_one, NULL, &c->heaps);
  if (rc == MT_OK)
    rc = each(t, "SELECT count(*) FROM heaps WHERE destroyed IS NOT NULL", c_one, NULL, &c->heaps_destroyed);
  if (rc == MT_OK)
    rc = each(t, "SELECT coalesce(sum(count), 0) FROM drops", c_one, NULL, &c->dropped);
  return rc;
}

int64_t mt_count_code(mt_trace *t, mt_table table, int code)
{
  static const char *const column[MT_TAB_COUNT] = {
    [MT_TAB_MEM] = "op", [MT_TAB_REGION] = "op", [MT_TAB_NCCL] = "op", [MT_TAB_RANGE] = "kind",
    [MT_TAB_GPU_MEMORY] = "op",
  };
  if ((unsigned)table >= MT_TAB_COUNT || !column[table])
    return -1;
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s = %d", tables[table].name, column[table], code);
  int64_t n = -1;
  return each(t, sql, c_one, NULL, &n) == MT_OK ? n : -1;
}

int mt_stack_walk(mt_trace *t, int64_t stack, int max_frames,
                  int (*fn)(void *ctx, const mt_frame_row *f), void *ctx)
{
  sqlite3_stmt *st = mt__stmt(t, MT__S_STACK);
  if (!st)
    return MT_ESQL;
  int rc = MT_OK;
  for (int i = 0; stack > 0 && i < max_frames; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, stack);
    if (sqlite3_step(st) != SQLITE_ROW)
      break;
    mt_frame_row f = { .id = stack, .parent = I64(0), .pc = (uint64_t)I64(1), .module = I64(2),
                       .symbol = (const char *)sqlite3_column_text(st, 3) };
    if ((rc = fn(ctx, &f)) != 0)
      break;
    stack = f.parent;
  }
  sqlite3_reset(st);
  return rc;
}

struct text { char *s; size_t n, cap; };

static int text_frame(void *ctx, const mt_frame_row *f)
{
  struct text *x = ctx;
  char pc[24];
  const char *sym = f->symbol;
  if (!sym) {
    snprintf(pc, sizeof pc, "0x%llx", (unsigned long long)f->pc);
    sym = pc;
  }
  size_t add = strlen(sym) + 3;
  if (x->n + add + 1 > x->cap) {
    size_t cap = (x->n + add + 1) * 2;
    char *s = realloc(x->s, cap);
    if (!s)
      return MT_ENOMEM;
    x->s = s;
    x->cap = cap;
  }
  x->n += (size_t)snprintf(x->s + x->n, x->cap - x->n, "  %s\n", sym);
  return 0;
}

char *mt_stack_text(mt_trace *t, int64_t stack, int max_frames)
{
  struct text x = { calloc(1, 64), 0, 64 };
  if (!x.s)
    return NULL;
  if (mt_stack_walk(t, stack, max_frames, text_frame, &x) == MT_ENOMEM) {
    free(x.s);
    return NULL;
  }
  return x.s;
}

const char *mt_trace_errmsg(mt_trace *t)
{
  return sqlite3_errmsg(mt_trace_db(t));
}
