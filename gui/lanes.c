#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "schemas/trace.h"
#include "schemas/reader.h"
#include "analyzer/lib/analysis.h"
#include "analyzer/lib/mrseries.h"
#include "gui/lanes.h"
#include "gui/liveset.h"
#include "gui/units.h"

#define LOD_BASE_BUCKETS 65536
#define LOD_MIN_BUCKETS 64
#define MAX_RANGE_DEPTH 4

static const char *nccl_op_names[] = {
  "?", "allreduce", "reducescatter", "allgather", "broadcast", "reduce",
  "send", "recv", "alltoall", "group_start", "group_end",
};

typedef struct Builder {
  MtLane *lanes;
  size_t *caps;     /* allocated spans of each lane */
  size_t n, cap;
} Builder;

static MtLane *lane_get(Builder *b, MtLaneType type, int64_t key)
{
  for (size_t i = 0; i < b->n; i++)
    if (b->lanes[i].type == type && b->lanes[i].key == key)
      return &b->lanes[i];
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 8;
    b->lanes = g_renew(MtLane, b->lanes, b->cap);
    b->caps = g_renew(size_t, b->caps, b->cap);
  }
  b->caps[b->n] = 0;
  MtLane *l = &b->lanes[b->n++];
  memset(l, 0, sizeof *l);
  l->type = type;
  l->key = key;
  return l;
}

static void lane_push(MtLane *l, size_t *cap, const MtSpan *s)
{
  if (l->n == *cap) {
    *cap = *cap ? 2 * *cap : 256;
    l->spans = g_renew(MtSpan, l->spans, *cap);
  }
  l->spans[l->n++] = *s;
}

static int span_cmp(const void *a, const void *b)
{
  const MtSpan *x = a, *y = b;
  if (x->t0 != y->t0)
    return x->t0 < y->t0 ? -1 : 1;
  if (x->t1 != y->t1)
    return x->t1 > y->t1 ? -1 : 1;   /* outer first */
  return x->row < y->row ? -1 : x->row > y->row;
}

static void lane_finish(MtLane *l, int64_t origin, int64_t base, size_t nbase)
{
  int sorted = 1;
  l->maxdur = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (i && span_cmp(&l->spans[i - 1], &l->spans[i]) > 0)
      sorted = 0;
    if (l->spans[i].t1 - l->spans[i].t0 > l->maxdur)
      l->maxdur = l->spans[i].t1 - l->spans[i].t0;
  }
  if (!sorted)
    qsort(l->spans, l->n, sizeof *l->spans, span_cmp);

  /* level 0: exact busy time per bucket (nested ranges count once per depth
   * lane, and a lane holds one depth, so overlaps are rare) */
  int nlev = 1;
  for (size_t n = nbase; n > LOD_MIN_BUCKETS; n = (n + 3) / 4)
    nlev++;
  l->levels = g_new0(MtLodLevel, nlev);
  l->nlevels = nlev;
  l->levels[0].width = base;
  l->levels[0].n = nbase;
  l->levels[0].busy = g_new0(float, nbase);
  float *busy = l->levels[0].busy;
  for (size_t i = 0; i < l->n; i++) {
    int64_t a = l->spans[i].t0 - origin, b = l->spans[i].t1 - origin;
    if (b <= a)
      b = a + 1;   /* zero-length spans still mark their bucket */
    if (a < 0)
      a = 0;
    int64_t ba = a / base, bb = (b - 1) / base;
    if (ba >= (int64_t)nbase)
      continue;
    if (bb >= (int64_t)nbase)
      bb = (int64_t)nbase - 1;
    for (int64_t k = ba; k <= bb; k++) {
      int64_t lo = k * base, hi = lo + base;
      int64_t x0 = a > lo ? a : lo, x1 = b < hi ? b : hi;
      if (x1 > x0)
        busy[k] += (float)(x1 - x0);
    }
  }
  for (int lv = 1; lv < nlev; lv++) {
    MtLodLevel *p = &l->levels[lv - 1], *q = &l->levels[lv];
    q->width = p->width * 4;
    q->n = (p->n + 3) / 4;
    q->busy = g_new0(float, q->n);
    for (size_t k = 0; k < p->n; k++)
      q->busy[k / 4] += p->busy[k];
  }
}

static int load_names(sqlite3 *db, MtLanes *L)
{
  sqlite3_stmt *st;
  const char *sql =
    "SELECT id, value FROM strings WHERE id IN "
    "(SELECT DISTINCT name_id FROM kernels UNION SELECT DISTINCT name_id FROM ranges)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(st, 1);
    char dm[1024];   /* kernel names as people read them */
    g_hash_table_insert(L->names, GINT_TO_POINTER((gint)sqlite3_column_int64(st, 0)),
                        g_strdup(v ? mt_demangle(v, dm, sizeof dm) : ""));
  }
  sqlite3_finalize(st);
  return 0;
}

/* A lane label for a range depth from what its names look like. */
static void label_range_lane(MtLanes *L, MtLane *l)
{
  size_t steps = 0, phases = 0, layers = 0;
  size_t look = l->n < 2000 ? l->n : 2000;
  for (size_t i = 0; i < look; i++) {
    const char *s = g_hash_table_lookup(L->names, GINT_TO_POINTER(l->spans[i].name));
    if (!s)
      continue;
    if (!g_ascii_strncasecmp(s, "step", 4) || !g_ascii_strncasecmp(s, "iteration", 9))
      steps++;
    else if (strstr(s, "forward") || strstr(s, "backward") || strstr(s, "optim") || strstr(s, "recompute"))
      phases++;
    if (strchr(s, '.') && strpbrk(s, "0123456789"))
      layers++;
  }
  const char *name = "ranges";
  if (steps * 2 > look)
    name = "steps";
  else if (layers * 2 > look)
    name = "layers";
  else if (phases * 2 > look)
    name = "phases";
  g_snprintf(l->label, sizeof l->label, "%s (NVTX %d)", name, (int)l->key);
}

MtLanes *mt_lanes_load(const char *path, GError **error)
{
  gint64 start = g_get_monotonic_time();
  mt_trace *t = NULL;
  mt_error err = { 0 };
  if (mt_view_trace_open(path, &t, &err) != MT_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.msg);
    return NULL;
  }
  sqlite3 *db = mt_trace_db(t);
  MtLanes *L = g_new0(MtLanes, 1);
  L->path = g_strdup(path);
  L->names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  load_names(db, L);

  Builder b = { 0 };
#define CAP(lane) (&b.caps[(lane) - b.lanes])
  int64_t tmin = INT64_MAX, tmax = INT64_MIN;
  sqlite3_stmt *st;

  /* ranges: one lane per depth (marks are drawn as thin spans) */
  if (sqlite3_prepare_v2(db, "SELECT rowid, ts, te, name_id, depth FROM ranges", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      MtSpan s = { .row = sqlite3_column_int64(st, 0), .t0 = sqlite3_column_int64(st, 1) };
      s.t1 = sqlite3_column_type(st, 2) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(st, 2);
      s.name = (int32_t)sqlite3_column_int64(st, 3);
      int depth = sqlite3_column_int(st, 4);
      if (depth >= MAX_RANGE_DEPTH)
        continue;
      s.aux = depth;
      MtLane *l = lane_get(&b, MT_LANE_RANGE, depth);
      lane_push(l, CAP(l), &s);
      if (s.t0 < tmin) tmin = s.t0;
      if (s.t1 > tmax) tmax = s.t1;
      if (s.t0 > tmax) tmax = s.t0;
    }
    sqlite3_finalize(st);
  }
  /* NCCL calls, one lane (group markers left out) */
  if (sqlite3_prepare_v2(db, "SELECT rowid, ts, dur, op, gpu_start, gpu_end FROM nccl_calls "
                              "WHERE op NOT IN (9, 10)", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      MtSpan s = { .row = sqlite3_column_int64(st, 0), .t0 = sqlite3_column_int64(st, 1) };
      s.t1 = s.t0 + sqlite3_column_int64(st, 2);
      s.name = sqlite3_column_int(st, 3);
      MtLane *l = lane_get(&b, MT_LANE_NCCL, 0);
      if (sqlite3_column_type(st, 4) != SQLITE_NULL && sqlite3_column_type(st, 5) != SQLITE_NULL) {
        s.t0 = sqlite3_column_int64(st, 4);
        s.t1 = sqlite3_column_int64(st, 5);
        l->gpu_times = 1;
      }
      lane_push(l, CAP(l), &s);
      if (s.t0 < tmin) tmin = s.t0;
      if (s.t1 > tmax) tmax = s.t1;
    }
    sqlite3_finalize(st);
  }
  /* kernels, one lane per stream */
  if (sqlite3_prepare_v2(db, "SELECT rowid, ts, dur, stream, name_id, gpu_start, gpu_end FROM kernels",
                         -1, &st, NULL) == SQLITE_OK) {
    MtLane *last = NULL;
    int64_t last_stream = INT64_MIN;
    while (sqlite3_step(st) == SQLITE_ROW) {
      MtSpan s = { .row = sqlite3_column_int64(st, 0), .t0 = sqlite3_column_int64(st, 1) };
      s.t1 = s.t0 + sqlite3_column_int64(st, 2);
      int64_t stream = sqlite3_column_int64(st, 3);
      s.name = (int32_t)sqlite3_column_int64(st, 4);
      MtLane *l = stream == last_stream && last ? last : lane_get(&b, MT_LANE_KERNEL, stream);
      if (sqlite3_column_type(st, 5) != SQLITE_NULL && sqlite3_column_type(st, 6) != SQLITE_NULL) {
        s.t0 = sqlite3_column_int64(st, 5);
        s.t1 = sqlite3_column_int64(st, 6);
        l->gpu_times = 1;
      }
      lane_push(l, CAP(l), &s);
      last = l;   /* lane_get may move the array: refetched when the stream changes */
      last_stream = stream;
      if (s.t0 < tmin) tmin = s.t0;
      if (s.t1 > tmax) tmax = s.t1;
    }
    sqlite3_finalize(st);
  }
#undef CAP
  g_free(b.caps);
  /* the exact allocated curve: the analysis library's lifetimes walk, read
     here beside the lanes so the window's loading threads stay as they are */
  mt_error xerr = { 0 };
  if (mt_mrseries_build(t, &L->exact, &xerr) != MT_OK)
    g_warning("exact curve of %s: %s", path, xerr.msg);
  mt_trace_close(t);

  if (tmin == INT64_MAX) {
    tmin = 0;
    tmax = 1;
  }
  /* ranges never closed run to the last event */
  for (size_t i = 0; i < b.n; i++)
    for (size_t k = 0; k < b.lanes[i].n; k++)
      if (b.lanes[i].spans[k].t1 == INT64_MIN)
        b.lanes[i].spans[k].t1 = tmax;
  L->t_first = tmin;
  L->t_last = tmax;
  L->lod_origin = tmin;
  int64_t span = tmax - tmin + 1;
  int64_t base = (span + LOD_BASE_BUCKETS - 1) / LOD_BASE_BUCKETS;
  if (base < 1)
    base = 1;
  size_t nbase = (size_t)((span + base - 1) / base);

  /* order: ranges by depth, NCCL, kernels by stream */
  for (size_t i = 1; i < b.n; i++)
    for (size_t j = i; j > 0; j--) {
      MtLane *x = &b.lanes[j - 1], *y = &b.lanes[j];
      if (x->type > y->type || (x->type == y->type && x->key > y->key)) {
        MtLane tmp = *x;
        *x = *y;
        *y = tmp;
      } else
        break;
    }
  for (size_t i = 0; i < b.n; i++) {
    MtLane *l = &b.lanes[i];
    lane_finish(l, tmin, base, nbase);
    L->nspans += l->n;
    if (l->type == MT_LANE_RANGE)
      label_range_lane(L, l);
    else if (l->type == MT_LANE_NCCL)
      g_snprintf(l->label, sizeof l->label, "NCCL");
    else
      g_snprintf(l->label, sizeof l->label, "stream %lld", (long long)l->key);
  }
  L->lanes = b.lanes;
  L->nlanes = b.n;
  L->load_seconds = (g_get_monotonic_time() - start) / 1e6;
  return L;
}

void mt_lanes_free(MtLanes *L)
{
  if (!L)
    return;
  for (size_t i = 0; i < L->nlanes; i++) {
    for (int k = 0; k < L->lanes[i].nlevels; k++)
      g_free(L->lanes[i].levels[k].busy);
    g_free(L->lanes[i].levels);
    g_free(L->lanes[i].spans);
  }
  g_free(L->lanes);
  g_hash_table_unref(L->names);
  mt_mrseries_free(L->exact);
  g_free(L->path);
  g_free(L);
}

const char *mt_lanes_span_name(const MtLanes *L, const MtLane *lane, const MtSpan *s)
{
  if (lane->type == MT_LANE_NCCL)
    return s->name > 0 && s->name <= 10 ? nccl_op_names[s->name] : "nccl";
  const char *n = g_hash_table_lookup(L->names, GINT_TO_POINTER(s->name));
  return n ? n : "?";
}

size_t mt_lane_first_from(const MtLane *lane, int64_t t)
{
  int64_t key = t - lane->maxdur;
  size_t lo = 0, hi = lane->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (lane->spans[mid].t0 < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

size_t mt_lane_end_after(const MtLane *lane, int64_t t)
{
  size_t lo = 0, hi = lane->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (lane->spans[mid].t0 <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

const MtSpan *mt_lane_span_at(const MtLane *lane, int64_t t, int64_t slop)
{
  const MtSpan *best = NULL;
  size_t i = mt_lane_first_from(lane, t - slop), e = mt_lane_end_after(lane, t + slop);
  int64_t bestd = INT64_MAX;
  for (; i < e; i++) {
    const MtSpan *s = &lane->spans[i];
    if (s->t1 + slop < t || s->t0 - slop > t)
      continue;
    int64_t d = t < s->t0 ? s->t0 - t : t > s->t1 ? t - s->t1 : 0;
    /* inside beats near; among those inside, the shortest */
    if (d < bestd || (d == bestd && best && s->t1 - s->t0 < best->t1 - best->t0)) {
      best = s;
      bestd = d;
    }
  }
  return best;
}

double mt_lane_busy(const MtLanes *L, const MtLane *lane, int64_t a, int64_t b, int64_t resolution)
{
  if (!lane->nlevels || b <= a)
    return 0;
  int lv = 0;
  while (lv + 1 < lane->nlevels && lane->levels[lv + 1].width <= resolution)
    lv++;
  const MtLodLevel *L0 = &lane->levels[lv];
  int64_t w = L0->width;
  a -= L->lod_origin;
  b -= L->lod_origin;
  if (b <= 0)
    return 0;
  if (a < 0)
    a = 0;
  int64_t ka = a / w, kb = (b - 1) / w;
  if (ka >= (int64_t)L0->n)
    return 0;
  if (kb >= (int64_t)L0->n)
    kb = (int64_t)L0->n - 1;
  double sum = 0;
  for (int64_t k = ka; k <= kb; k++) {
    int64_t lo = k * w, hi = lo + w;
    int64_t x0 = a > lo ? a : lo, x1 = b < hi ? b : hi;
    sum += L0->busy[k] * ((double)(x1 - x0) / (double)w);
  }
  return sum;
}

const char *mt_lanes_phase_at(const MtLanes *L, int64_t t, char *buf, size_t len)
{
  buf[0] = 0;
  if (!L)
    return buf;
  size_t used = 0;
  for (size_t i = 0; i < L->nlanes; i++) {
    const MtLane *lane = &L->lanes[i];
    if (lane->type != MT_LANE_RANGE)
      continue;
    const MtSpan *s = mt_lane_span_at(lane, t, 0);
    if (!s)
      continue;
    int w = g_snprintf(buf + used, len - used, "%s%s", used ? " > " : "", mt_lanes_span_name(L, lane, s));
    if (w < 0 || (size_t)w >= len - used)
      break;
    used += (size_t)w;
  }
  return buf;
}

char *mt_lanes_describe(const MtLanes *L, const MtLane *lane, const MtSpan *s)
{
  GString *out = g_string_new(NULL);
  char a[64], b[64], d[64];
  g_string_append_printf(out, "%s\n%s%s: %s .. %s (%s)\n", mt_lanes_span_name(L, lane, s),
                         lane->label, lane->type != MT_LANE_RANGE && !lane->gpu_times ? " (API call times: no GPU times)" : "",
                         mt_time_str(s->t0, s->t1 - s->t0, a, sizeof a),
                         mt_time_str(s->t1, s->t1 - s->t0, b, sizeof b), mt_dur_str(s->t1 - s->t0, d, sizeof d));
  mt_trace *t = NULL;
  mt_error err = { 0 };
  if (mt_view_trace_open(L->path, &t, &err) != MT_OK)
    return g_string_free(out, FALSE);
  sqlite3 *db = mt_trace_db(t);
  sqlite3_stmt *st = NULL;
  int64_t stack = 0;
  if (lane->type == MT_LANE_KERNEL &&
      sqlite3_prepare_v2(db, "SELECT grid_x, grid_y, grid_z, block_x, block_y, block_z, smem, stack, correlation, "
                             "ts, dur FROM kernels WHERE rowid = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, s->row);
    if (sqlite3_step(st) == SQLITE_ROW) {
      g_string_append_printf(out, "grid %d x %d x %d, block %d x %d x %d, %d B dynamic shared memory\n",
                             sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                             sqlite3_column_int(st, 3), sqlite3_column_int(st, 4), sqlite3_column_int(st, 5),
                             sqlite3_column_int(st, 6));
      stack = sqlite3_column_int64(st, 7);
      g_string_append_printf(out, "launch call at %s, %s\n",
                             mt_time_str(sqlite3_column_int64(st, 9), sqlite3_column_int64(st, 10), a, sizeof a),
                             mt_dur_str(sqlite3_column_int64(st, 10), d, sizeof d));
    }
  } else if (lane->type == MT_LANE_NCCL &&
             sqlite3_prepare_v2(db, "SELECT n.bytes, n.count, n.dtype, n.peer, n.stack, c.nranks, c.rank, c.unique_id "
                                    "FROM nccl_calls n LEFT JOIN communicators c ON c.id = n.comm "
                                    "WHERE n.rowid = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, s->row);
    if (sqlite3_step(st) == SQLITE_ROW) {
      char sz[32];
      g_string_append_printf(out, "%s (%lld elements, dtype %d)%s\n",
                             mt_size_str((uint64_t)sqlite3_column_int64(st, 0), sz, sizeof sz),
                             (long long)sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2),
                             sqlite3_column_int(st, 3) >= 0 ? ", with a peer/root" : "");
      if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        g_string_append_printf(out, "communicator of %d ranks (this is rank %d)\n", sqlite3_column_int(st, 5),
                               sqlite3_column_int(st, 6));
      stack = sqlite3_column_int64(st, 4);
    }
  }
  if (st)
    sqlite3_finalize(st);
  if (stack) {
    char *stk = mt_stack_text(t, stack, 12);
    g_string_append_printf(out, "stack:\n%s", stk ? stk : "");
    free(stk);
  }
  mt_trace_close(t);
  return g_string_free(out, FALSE);
}
