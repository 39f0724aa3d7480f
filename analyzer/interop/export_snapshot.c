/* Export of a trace as a PyTorch memory snapshot pickle (the dict
 * torch.cuda.memory._snapshot() returns: segments with their blocks at the
 * end of the trace, and device_traces of alloc / free_requested /
 * free_completed / segment_alloc / segment_free entries with frames), so
 * PyTorch's torch.cuda._memory_viz can render it.
 *
 * The pickle is protocol 4 and holds only dicts, lists, tuples of ints,
 * str, int, bool and None; repeated frame lists are memoized, as torch's
 * own pickles are. */
#include "config.h"
#include "analyzer/lib/analysis.h"
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/interop_internal.h"
#include "schemas/reader.h"

typedef struct pw {
  unsigned char *b;
  size_t n, cap;
  int oom;
  uint32_t memo;
} pw;

static void put(pw *w, const void *p, size_t n)
{
  if (w->oom || mt__igrow((void **)&w->b, &w->cap, w->n + n, 1)) {
    w->oom = 1;
    return;
  }
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

static void op(pw *w, unsigned char c)
{
  put(w, &c, 1);
}

static void le(pw *w, uint64_t v, int n)
{
  unsigned char b[8];
  for (int i = 0; i < n; i++)
    b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, (size_t)n);
}

static void p_int(pw *w, int64_t v)
{
  if (v >= 0 && v < 256) {
    op(w, 'K');
    le(w, (uint64_t)v, 1);
  } else if (v >= 0 && v < 65536) {
    op(w, 'M');
    le(w, (uint64_t)v, 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op(w, 'J');
    le(w, (uint64_t)(uint32_t)(int32_t)v, 4);
  } else {
    op(w, 0x8a);   /* LONG1, 8 bytes two's complement */
    op(w, 8);
    le(w, (uint64_t)v, 8);
  }
}

static void p_str(pw *w, const char *s)
{
  size_t n = strlen(s ? s : "");
  if (n < 256) {
    op(w, 0x8c);
    op(w, (unsigned char)n);
  } else {
    op(w, 'X');
    le(w, n, 4);
  }
  put(w, s ? s : "", n);
}

static uint32_t memoize(pw *w)
{
  op(w, 0x94);
  return w->memo++;
}

static void p_get(pw *w, uint32_t idx)
{
  if (idx < 256) {
    op(w, 'h');
    op(w, (unsigned char)idx);
  } else {
    op(w, 'j');
    le(w, idx, 4);
  }
}

static void kv_str(pw *w, const char *k, const char *v) { p_str(w, k); p_str(w, v); }
static void kv_int(pw *w, const char *k, int64_t v) { p_str(w, k); p_int(w, v); }

typedef struct sctx {
  mt_trace *t;
  sqlite3 *db;
  pw w;
  mt__imap stack_memo;   /* stack id -> memo index + 1 */
  regex_t re;
  int64_t wall0;         /* start_ns + wall_offset_ns */
} sctx;

struct frames_out { sctx *c; int open; };

/* One frame as memory_viz wants it: a Python "file:line function" symbol
 * split, any other symbol as the name of "??" (unsymbolised: ""). */
static int p_frame(void *ctx, const mt_frame_row *f)
{
  struct frames_out *x = ctx;
  sctx *c = x->c;
  if (x->open == 0) {
    op(&c->w, '(');
  }
  const char *sym = f->symbol ? f->symbol : "";
  regmatch_t mm[4];
  char file[1024] = "??", name[4096];
  int64_t line = 0;
  snprintf(name, sizeof name, "%s", sym);
  if (regexec(&c->re, sym, 4, mm, 0) == 0) {
    snprintf(file, sizeof file, "%.*s", (int)(mm[1].rm_eo - mm[1].rm_so), sym + mm[1].rm_so);
    line = strtoll(sym + mm[2].rm_so, NULL, 10);
    snprintf(name, sizeof name, "%s", sym + mm[3].rm_so);
  }
  op(&c->w, '}');
  op(&c->w, '(');
  kv_str(&c->w, "name", name);
  kv_str(&c->w, "filename", file);
  kv_int(&c->w, "line", line);
  op(&c->w, 'u');
  if (++x->open == 1000) {
    op(&c->w, 'e');
    x->open = 0;
  }
  return 0;
}

/* The frames list of a stack (innermost first), memoized. */
static void p_frames(sctx *c, int64_t stack)
{
  uint64_t m;
  if (stack > 0 && mt__imap_get(&c->stack_memo, (uint64_t)stack, &m)) {
    p_get(&c->w, (uint32_t)m);
    return;
  }
  op(&c->w, ']');
  if (stack <= 0) {
    return;
  }
  uint32_t idx = memoize(&c->w);
  struct frames_out x = { c, 0 };
  mt_stack_walk(c->t, stack, 4096, p_frame, &x);
  if (x.open)
    op(&c->w, 'e');
  mt__imap_put(&c->stack_memo, (uint64_t)stack, idx);
}

typedef struct blk {
  uint64_t addr, size;
  int64_t stack;
} blk;

static int cmp_blk(const void *a, const void *b)
{
  const blk *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void p_block(sctx *c, uint64_t addr, uint64_t size, const char *state, int64_t stack)
{
  op(&c->w, '}');
  op(&c->w, '(');
  kv_int(&c->w, "address", (int64_t)addr);
  kv_int(&c->w, "size", (int64_t)size);
  kv_int(&c->w, "requested_size", (int64_t)size);
  kv_str(&c->w, "state", state);
  p_str(&c->w, "frames");
  p_frames(c, stack);
  op(&c->w, 'u');
}

static void p_segment(sctx *c, int device, uint64_t addr, uint64_t size, const char *type, blk *b, size_t nb)
{
  uint64_t used = 0;
  for (size_t i = 0; i < nb; i++)
    used += b[i].size;
  op(&c->w, '}');
  op(&c->w, '(');
  kv_int(&c->w, "device", device);
  kv_int(&c->w, "address", (int64_t)addr);
  kv_int(&c->w, "total_size", (int64_t)size);
  kv_int(&c->w, "allocated_size", (int64_t)used);
  kv_int(&c->w, "active_size", (int64_t)used);
  kv_int(&c->w, "requested_size", (int64_t)used);
  kv_int(&c->w, "stream", 0);
  kv_str(&c->w, "segment_type", type);
  p_str(&c->w, "segment_pool_id");
  p_int(&c->w, 0);
  p_int(&c->w, 0);
  op(&c->w, 0x86);   /* TUPLE2 */
  p_str(&c->w, "is_expandable");
  op(&c->w, 0x89);
  p_str(&c->w, "frames");
  op(&c->w, ']');
  p_str(&c->w, "blocks");
  op(&c->w, ']');
  op(&c->w, '(');
  uint64_t at = addr;
  int open = 0;
  for (size_t i = 0; i <= nb; i++) {
    uint64_t next = i < nb ? b[i].addr : addr + size;
    if (next > at) {
      p_block(c, at, next - at, "inactive", 0);
      open++;
    }
    if (i < nb) {
      p_block(c, b[i].addr, b[i].size, "active_allocated", b[i].stack);
      open++;
      at = b[i].addr + b[i].size;
    }
    if (open >= 500) {
      op(&c->w, 'e');
      op(&c->w, '(');
      open = 0;
    }
  }
  op(&c->w, 'e');
  op(&c->w, 'u');
}

/* Segments (with blocks) alive at the end of the trace. */
static int write_segments(sctx *c)
{
  sqlite3_stmt *hs, *rs;
  int nseg = 0;
  op(&c->w, ']');
  op(&c->w, '(');
  /* heaps alive at the end whose range is one device allocation of the
   * same address and size are the allocator's segments (a pool spanning
   * many allocations, or synthetic ones, is not one segment) */
  if (sqlite3_prepare_v2(c->db, "SELECT h.id, h.device, h.addr, h.size, COALESCE(s.value, '') FROM heaps h "
                                "LEFT JOIN strings s ON s.id = h.name_id WHERE h.destroyed IS NULL AND h.size > 0 "
                                "AND EXISTS (SELECT 1 FROM mem_events m WHERE m.addr = h.addr AND m.size = h.size "
                                "AND m.op IN (1, 7) AND m.result = 0) ORDER BY h.addr", -1, &hs, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_prepare_v2(c->db, "WITH e AS (SELECT addr, size, op, stack, ROW_NUMBER() OVER (PARTITION BY addr "
                                "ORDER BY ts DESC, rowid DESC) rn FROM region_events WHERE heap = ?) "
                                "SELECT addr, size, stack FROM e WHERE rn = 1 AND op = 1 ORDER BY addr", -1, &rs,
                         NULL) != SQLITE_OK) {
    sqlite3_finalize(hs);
    return -1;
  }
  MT__IVEC(blk) bl = { 0 };
  while (sqlite3_step(hs) == SQLITE_ROW) {
    bl.n = 0;
    sqlite3_reset(rs);
    sqlite3_bind_int64(rs, 1, sqlite3_column_int64(hs, 0));
    uint64_t sa = (uint64_t)sqlite3_column_int64(hs, 2), ss = (uint64_t)sqlite3_column_int64(hs, 3);
    while (sqlite3_step(rs) == SQLITE_ROW) {
      blk b = { (uint64_t)sqlite3_column_int64(rs, 0), (uint64_t)sqlite3_column_int64(rs, 1),
                sqlite3_column_int64(rs, 2) };
      if (b.addr < sa || b.addr + b.size > sa + ss)
        continue;   /* not inside: cannot be drawn in this segment */
      if (MT__IPUSH(bl, b))
        break;
    }
    MT__ISORT(bl, cmp_blk);
    /* drop overlaps (inconsistent input) so the blocks tile the segment */
    size_t k = 0;
    for (size_t i = 0; i < bl.n; i++)
      if (k == 0 || bl.v[i].addr >= bl.v[k - 1].addr + bl.v[k - 1].size)
        bl.v[k++] = bl.v[i];
    const char *nm = (const char *)sqlite3_column_text(hs, 4);
    p_segment(c, sqlite3_column_int(hs, 1), sa, ss, nm && strstr(nm, "small") ? "small" : "large", bl.v, k);
    if (++nseg % 500 == 0) {
      op(&c->w, 'e');
      op(&c->w, '(');
    }
  }
  sqlite3_finalize(hs);
  sqlite3_finalize(rs);
  /* without allocator heaps: each live device allocation is one segment,
   * used whole */
  if (nseg == 0 &&
      sqlite3_prepare_v2(c->db, "WITH e AS (SELECT device, addr, size, op, stack, ROW_NUMBER() OVER (PARTITION BY "
                                "device, addr ORDER BY ts DESC, rowid DESC) rn FROM mem_events WHERE result = 0 AND "
                                "op IN (1, 2)) SELECT device, addr, size, stack FROM e WHERE rn = 1 AND op = 1 "
                                "ORDER BY device, addr", -1, &hs, NULL) == SQLITE_OK) {
    while (sqlite3_step(hs) == SQLITE_ROW) {
      blk b = { (uint64_t)sqlite3_column_int64(hs, 1), (uint64_t)sqlite3_column_int64(hs, 2),
                sqlite3_column_int64(hs, 3) };
      p_segment(c, sqlite3_column_int(hs, 0), b.addr, b.size, "large", &b, 1);
      if (++nseg % 500 == 0) {
        op(&c->w, 'e');
        op(&c->w, '(');
      }
    }
    sqlite3_finalize(hs);
  }
  op(&c->w, 'e');
  free(bl.v);
  return nseg;
}

static void entry(sctx *c, const char *action, uint64_t addr, uint64_t size, uint64_t stream, int64_t ts,
                  int64_t stack)
{
  op(&c->w, '}');
  op(&c->w, '(');
  kv_str(&c->w, "action", action);
  kv_int(&c->w, "addr", (int64_t)addr);
  kv_int(&c->w, "size", (int64_t)size);
  kv_int(&c->w, "stream", (int64_t)stream);
  kv_int(&c->w, "time_us", (c->wall0 + ts) / 1000);
  p_str(&c->w, "frames");
  p_frames(c, stack);
  op(&c->w, 'u');
}

/* device_traces: one list per device, entries in time order.  State the
 * importer synthesised (labels "import/...", or "<category>/import/..." when
 * its roles from frames gave it a category; api 'import') is left out:
 * it was never an event. */
static void write_traces(sctx *c, int ndev)
{
  op(&c->w, ']');
  op(&c->w, '(');
  sqlite3_stmt *st;
  const char *sql =
    "SELECT ts, 0 AS k, r.op, r.addr, r.size, COALESCE(s.handle, 0), r.stack, r.rowid FROM region_events r "
    "LEFT JOIN heaps h ON h.id = r.heap LEFT JOIN streams s ON s.id = r.stream "
    "LEFT JOIN strings l ON l.id = r.label_id WHERE COALESCE(h.device, 0) = ?1 "
    "AND (l.value IS NULL OR (l.value NOT LIKE 'import/%' AND l.value NOT LIKE '%/import/live at dump%' "
    "AND l.value NOT LIKE '%/import/allocated before recording%')) "
    "UNION ALL SELECT ts, 1, m.op, m.addr, m.size, COALESCE(s.handle, 0), m.stack, m.rowid FROM mem_events m "
    "LEFT JOIN streams s ON s.id = m.stream WHERE m.device = ?1 AND m.result = 0 AND m.op IN (1, 2) "
    "AND m.api != 92 ORDER BY 1, 2 DESC, 8";
  for (int d = 0; d < ndev; d++) {
    op(&c->w, ']');
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
      continue;
    sqlite3_bind_int(st, 1, d);
    int open = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (open == 0)
        op(&c->w, '(');
      int seg = sqlite3_column_int(st, 1), o = sqlite3_column_int(st, 2);
      uint64_t addr = (uint64_t)sqlite3_column_int64(st, 3), size = (uint64_t)sqlite3_column_int64(st, 4);
      uint64_t stream = (uint64_t)sqlite3_column_int64(st, 5);
      int64_t ts = sqlite3_column_int64(st, 0), stack = sqlite3_column_int64(st, 6);
      if (seg) {
        entry(c, o == 1 ? "segment_alloc" : "segment_free", addr, size, stream, ts, stack);
        open++;
      } else if (o == 1) {
        entry(c, "alloc", addr, size, stream, ts, stack);
        open++;
      } else if (o == 2) {
        entry(c, "free_requested", addr, size, stream, ts, stack);
        entry(c, "free_completed", addr, size, stream, ts, stack);
        open += 2;
      }
      if (open >= 1000) {
        op(&c->w, 'e');
        open = 0;
      }
    }
    if (open)
      op(&c->w, 'e');
    sqlite3_finalize(st);
    if ((d + 1) % 500 == 0) {
      op(&c->w, 'e');
      op(&c->w, '(');
    }
  }
  op(&c->w, 'e');
}

static int no_lifetime(const mt_lifetime *l, void *arg)
{
  (void)l;
  (void)arg;
  return 0;
}

int mt_export_torch_snapshot(const char *trace, const char *out, mt_error *err)
{
  mt_trace *t = NULL;
  int rc = mt_trace_open(trace, MT_OPEN_READ, &t, err);
  if (rc)
    return rc;
  /* the rows, and the strings and frames they name, checked as the
     analysis checks them (one walk) before any is copied */
  mt_lifetime_visitor check = { .lifetime = no_lifetime };
  if ((rc = mt_lifetimes_walk(t, &check, err)) != MT_OK) {
    mt_trace_close(t);
    return rc;
  }
  sctx c = { .t = t, .db = mt_trace_db(t) };
  mt_process_info pi;
  mt_trace_process(t, &pi);
  c.wall0 = pi.start_ns + pi.wall_offset_ns;
  regcomp(&c.re, "^([^ ]+):([0-9]+) (.*)$", REG_EXTENDED);
  int ndev = 1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c.db, "SELECT MAX(m) FROM (SELECT MAX(device) m FROM mem_events UNION ALL "
                               "SELECT MAX(device) FROM heaps UNION ALL SELECT MAX(id) FROM devices)", -1, &st,
                         NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      ndev = sqlite3_column_int(st, 0) + 1;
    sqlite3_finalize(st);
  }
  if (ndev < 1 || ndev > 1024)
    ndev = 1;
  op(&c.w, 0x80);
  op(&c.w, 4);
  op(&c.w, '}');
  op(&c.w, '(');
  p_str(&c.w, "segments");
  if (write_segments(&c) < 0)
    rc = MT_ESQL;
  p_str(&c.w, "device_traces");
  write_traces(&c, ndev);
  p_str(&c.w, "allocator_settings");
  op(&c.w, '}');
  p_str(&c.w, "external_annotations");
  op(&c.w, ']');
  op(&c.w, 'u');
  op(&c.w, '.');
  if (!rc && c.w.oom)
    rc = MT_ENOMEM;
  if (rc) {
    mt_error_set(err, rc, "%s: cannot read the trace for export", trace);
  } else {
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(c.w.b, 1, c.w.n, f) != c.w.n || fclose(f) != 0) {
      mt_error_set(err, MT_EIO, "%s: cannot write", out);
      rc = MT_EIO;
    }
  }
  regfree(&c.re);
  free(c.w.b);
  mt__imap_free(&c.stack_memo);
  mt_trace_close(t);
  return rc;
}
