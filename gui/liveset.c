#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "schemas/trace.h"
#include "gui/liveset.h"

typedef struct Key {
  int64_t a, b;
} Key;

static guint key_hash(gconstpointer p)
{
  const Key *k = p;
  uint64_t h = (uint64_t)k->a * 0x9E3779B97F4A7C15ull ^ (uint64_t)k->b * 0xC2B2AE3D27D4EB4Full;
  return (guint)(h ^ (h >> 32));
}

static gboolean key_eq(gconstpointer x, gconstpointer y)
{
  const Key *a = x, *b = y;
  return a->a == b->a && a->b == b->b;
}

static int by_size(const void *x, const void *y)
{
  const MtLiveObject *a = x, *b = y;
  if (a->size != b->size)
    return a->size > b->size ? -1 : 1;
  return a->alloc_ts < b->alloc_ts ? -1 : a->alloc_ts > b->alloc_ts;
}

int mt_view_trace_open(const char *path, mt_trace **out, mt_error *err)
{
  int rc = MT_EIO;
  for (int i = 0; i < 100; i++) {
    rc = mt_trace_open(path, MT_OPEN_READ, out, err);
    if (rc == MT_OK) {
      sqlite3_busy_timeout(mt_trace_db(*out), 10000);
      return rc;
    }
    /* the first open of a finished trace builds an index (schemas/): a
     * second connection at that moment sees "locked", or no tables */
    if (!strstr(err->msg, "locked") && !strstr(err->msg, "busy") &&
        !(i < 20 && strstr(err->msg, "without memtrace tables")))
      return rc;
    g_usleep(100000);
  }
  return rc;
}

static const char *intern(MtLiveSet *s, const char *str)
{
  return str ? g_string_chunk_insert_const(s->strings, str) : NULL;
}

static MtLiveSet *from_snapshot(const mt_rank *r)
{
  MtLiveSet *s = g_new0(MtLiveSet, 1);
  s->strings = g_string_chunk_new(4096);
  s->ts = r->peak.ts;
  s->from_analysis = 1;
  s->n = r->peak.nobjects;
  s->objects = g_new0(MtLiveObject, s->n ? s->n : 1);
  for (size_t i = 0; i < s->n; i++) {
    const mt_object *o = &r->peak.objects[i];
    MtLiveObject *m = &s->objects[i];
    m->is_tensor = o->is_tensor;
    m->device = o->device;
    m->heap = o->heap;
    m->addr = o->addr;
    m->size = o->size;
    m->alloc_ts = o->alloc_ts;
    m->free_ts = o->free_ts;
    m->stack = o->stack;
    m->label = intern(s, o->label);
    m->where = intern(s, o->where);
    m->phase = intern(s, o->range ? o->range : o->phase);
    m->step = o->step;
    m->layer = o->layer;
    m->category = o->category;
    m->rule = o->rule;
    s->total += o->size;
  }
  return s;
}

typedef struct Heap {
  int64_t id;
  uint64_t addr, size;
} Heap;

MtLiveSet *mt_liveset_at(const mt_rank *r, int64_t ts, GError **error)
{
  if (ts == r->peak_allocated_ts && r->peak.nobjects)
    return from_snapshot(r);

  mt_trace *t = NULL;
  mt_error err = { 0 };
  if (mt_view_trace_open(r->path, &t, &err) != MT_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.msg);
    return NULL;
  }
  sqlite3 *db = mt_trace_db(t);
  MtLiveSet *s = g_new0(MtLiveSet, 1);
  s->strings = g_string_chunk_new(4096);
  s->ts = ts;

  GArray *heaps = g_array_new(FALSE, FALSE, sizeof(Heap));
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT id, addr, size FROM heaps", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      Heap h = { sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                 (uint64_t)sqlite3_column_int64(st, 2) };
      g_array_append_val(heaps, h);
    }
    sqlite3_finalize(st);
  }

  /* live objects keyed by (device or -heap, addr) */
  GHashTable *live = g_hash_table_new_full(key_hash, key_eq, g_free, g_free);
  struct {
    const char *sql;
    int tensor;
  } src[2] = {
    { "SELECT ts, op, device, addr, size, stack, 0 FROM mem_events WHERE result = 0 AND op IN (1, 2) "
      "ORDER BY ts, rowid", 0 },
    { "SELECT r.ts, r.op, r.heap, r.addr, r.size, r.stack, r.label_id FROM region_events r "
      "ORDER BY r.ts, r.rowid", 1 },
  };
  for (int k = 0; k < 2; k++) {
    if (sqlite3_prepare_v2(db, src[k].sql, -1, &st, NULL) != SQLITE_OK)
      continue;
    size_t pending = 0;   /* live objects whose free we still look for */
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t ets = sqlite3_column_int64(st, 0);
      int op = sqlite3_column_int(st, 1);
      Key key = { src[k].tensor ? -sqlite3_column_int64(st, 2) : sqlite3_column_int64(st, 2),
                  sqlite3_column_int64(st, 3) };
      int is_alloc = src[k].tensor ? op == MT_REGION_REGISTER : op == MT_MEM_ALLOC;
      int is_free = src[k].tensor ? op == MT_REGION_UNREGISTER : op == MT_MEM_FREE;
      if (ets > ts) {
        /* after the instant: only looking for the frees of what is live */
        if (!pending)
          break;
        MtLiveObject *o = is_free ? g_hash_table_lookup(live, &key) : NULL;
        if (o && o->free_ts < 0 && o->is_tensor == src[k].tensor) {
          o->free_ts = ets;
          pending--;
        }
        continue;
      }
      if (is_alloc) {
        MtLiveObject *o = g_new0(MtLiveObject, 1);
        o->is_tensor = src[k].tensor;
        o->device = src[k].tensor ? -1 : (int)key.a;
        o->heap = src[k].tensor ? -key.a : 0;
        o->addr = (uint64_t)key.b;
        o->size = (uint64_t)sqlite3_column_int64(st, 4);
        o->alloc_ts = ets;
        o->free_ts = -1;
        o->stack = sqlite3_column_int64(st, 5);
        o->category = o->rule = -1;
        o->step = o->layer = -1;
        int64_t lid = sqlite3_column_int64(st, 6);
        if (lid)
          o->label = (const char *)(intptr_t)lid;   /* resolved below */
        Key *kk = g_new(Key, 1);
        *kk = key;
        if (g_hash_table_replace(live, kk, o))   /* seen twice: the later one wins */
          pending++;
      } else if (is_free) {
        if (g_hash_table_remove(live, &key))
          pending--;
      } else if (src[k].tensor && op == MT_REGION_RESIZE) {
        MtLiveObject *o = g_hash_table_lookup(live, &key);
        if (o)
          o->size = (uint64_t)sqlite3_column_int64(st, 4);
      }
    }
    sqlite3_finalize(st);
  }

  /* peak snapshot: categories for the objects it shares with this instant */
  GHashTable *peak = g_hash_table_new(key_hash, key_eq);
  Key *pkeys = g_new(Key, r->peak.nobjects ? r->peak.nobjects : 1);
  for (size_t i = 0; i < r->peak.nobjects; i++) {
    pkeys[i].a = (int64_t)r->peak.objects[i].addr;
    pkeys[i].b = r->peak.objects[i].alloc_ts;
    g_hash_table_insert(peak, &pkeys[i], (gpointer)&r->peak.objects[i]);
  }

  sqlite3_stmt *lab = NULL, *sym = NULL;
  sqlite3_prepare_v2(db, "SELECT value FROM strings WHERE id = ?", -1, &lab, NULL);
  sqlite3_prepare_v2(db, "SELECT s.value FROM frames f JOIN strings s ON s.id = f.symbol_id WHERE f.id = ?", -1,
                     &sym, NULL);
  GArray *out = g_array_new(FALSE, FALSE, sizeof(MtLiveObject));
  GHashTableIter it;
  gpointer kp, vp;
  g_hash_table_iter_init(&it, live);
  while (g_hash_table_iter_next(&it, &kp, &vp)) {
    MtLiveObject o = *(MtLiveObject *)vp;
    if (!o.is_tensor) {
      int covered = 0;
      for (guint h = 0; h < heaps->len && !covered; h++) {
        const Heap *hp = &g_array_index(heaps, Heap, h);
        if (hp->size && hp->addr < o.addr + o.size && o.addr < hp->addr + hp->size)
          covered = 1;
      }
      if (covered)
        continue;
    }
    int64_t lid = (int64_t)(intptr_t)o.label;
    o.label = NULL;
    if (lid && lab) {
      sqlite3_bind_int64(lab, 1, lid);
      if (sqlite3_step(lab) == SQLITE_ROW)
        o.label = intern(s, (const char *)sqlite3_column_text(lab, 0));
      sqlite3_reset(lab);
    }
    if (o.stack && sym) {
      sqlite3_bind_int64(sym, 1, o.stack);
      if (sqlite3_step(sym) == SQLITE_ROW)
        o.where = intern(s, (const char *)sqlite3_column_text(sym, 0));
      sqlite3_reset(sym);
    }
    Key pk = { (int64_t)o.addr, o.alloc_ts };
    const mt_object *po = g_hash_table_lookup(peak, &pk);
    if (po) {
      o.category = po->category;
      o.rule = po->rule;
      o.phase = intern(s, po->range ? po->range : po->phase);
      o.step = po->step;
      o.layer = po->layer;
    }
    s->total += o.size;
    g_array_append_val(out, o);
  }
  if (lab)
    sqlite3_finalize(lab);
  if (sym)
    sqlite3_finalize(sym);
  g_hash_table_unref(peak);
  g_free(pkeys);
  g_hash_table_unref(live);
  g_array_unref(heaps);
  mt_trace_close(t);

  s->n = out->len;
  s->objects = (MtLiveObject *)g_array_free(out, FALSE);
  qsort(s->objects, s->n, sizeof *s->objects, by_size);
  return s;
}

void mt_liveset_free(MtLiveSet *s)
{
  if (!s)
    return;
  g_free(s->objects);
  g_string_chunk_free(s->strings);
  g_free(s);
}
