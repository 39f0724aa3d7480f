/* Export to the Chrome trace-event JSON that the Perfetto UI and
 * chrome://tracing load.  One process per trace (rank); one track per CUDA
 * stream (kernels, copies), per stream for NCCL calls, per thread for NVTX
 * ranges and CUDA API calls; memory counters per device (reserved,
 * allocated) and allocated bytes per category (the prefix of region labels,
 * "category/name"; "unlabeled" otherwise).
 *
 * Slices on one track never overlap: a slice that would overlap the one
 * before it goes to the next lane of that track ("stream 7 #2"), so nested
 * NVTX ranges appear as stacked lanes.
 *
 * Size.  A long run has a memory event per allocation (tens of millions):
 * one counter sample each made a 500-step run 2.6 GiB of JSON, past what
 * Perfetto's UI loads.  Counters are thinned: the span is cut into
 * `counter_buckets` equal buckets, and each series keeps, per bucket it
 * changes in, its minimum, its maximum (the first instant it is reached)
 * and its last value, each at its own time -- so every peak and trough is
 * exact in value and time, and the value at each bucket's end is right.
 * Each series is its own counter event (one arg), so thinning one does not
 * move another.  A time range keeps slices that overlap it and counters
 * inside it (each series' value at its start first).  The file is gzip
 * compressed when asked (Perfetto and chrome://tracing open .json.gz). */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* fopencookie */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "analyzer/interop/interop_internal.h"
#include "analyzer/interop/export_perfetto.h"
#include "analyzer/lib/analysis.h"

typedef struct slice {
  int64_t ts, te;          /* ns, common clock */
  int64_t name;            /* strings.id, or -1 - enum label index */
  const char *label;       /* when name == 0 */
  int track;
  int cat;                 /* 0 kernel, 1 memcpy, 2 nccl, 3 range, 4 api, 5 mark */
} slice;

typedef struct track {
  char name[96];
  MT__IVEC(int64_t) lane_end;
} track;

typedef mt__pf_ex ex;

/* One counter series being thinned (see the header comment). */
typedef struct thin {
  int64_t bucket;
  int have;
  int64_t minv, min_ts, maxv, max_ts, lastv, last_ts;
} thin;

static void counter_point(ex *e, int pid, const char *name, const char *arg, int64_t ts, int64_t v)
{
  e->sink->counter(e, pid, name, 1, &arg, &v, ts);
}

static void thin_flush(ex *e, thin *t, int pid, const char *name, const char *arg)
{
  if (!t->have)
    return;
  int64_t ts[3] = { t->min_ts, t->max_ts, t->last_ts }, v[3] = { t->minv, t->maxv, t->lastv };
  /* in time order, each instant once */
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (ts[j] < ts[i]) {
        int64_t x = ts[i]; ts[i] = ts[j]; ts[j] = x;
        x = v[i]; v[i] = v[j]; v[j] = x;
      }
  for (int i = 0; i < 3; i++)
    if (i == 0 || ts[i] != ts[i - 1])
      counter_point(e, pid, name, arg, ts[i], v[i]);
  t->have = 0;
}

/* The series takes value v at ts (after every change at ts). */
static void thin_put(ex *e, thin *t, int64_t width, int64_t origin, int pid, const char *name, const char *arg,
                     int64_t ts, int64_t v)
{
  if (width <= 0) {
    counter_point(e, pid, name, arg, ts, v);
    return;
  }
  int64_t b = (ts - origin) / width;
  if (t->have && b != t->bucket)
    thin_flush(e, t, pid, name, arg);
  if (!t->have) {
    *t = (thin){ .bucket = b, .have = 1, .minv = v, .min_ts = ts, .maxv = v, .max_ts = ts, .lastv = v, .last_ts = ts };
    return;
  }
  if (v < t->minv) {
    t->minv = v;
    t->min_ts = ts;
  }
  if (v > t->maxv) {
    t->maxv = v;
    t->max_ts = ts;
  }
  t->lastv = v;
  t->last_ts = ts;
}

static void jstr(FILE *f, const char *s)
{
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void sep(ex *e)
{
  fputs(e->first ? "\n" : ",\n", e->f);
  e->first = 0;
}

static void us(FILE *f, int64_t ns)
{
  if (ns < 0) {
    fputc('-', f);
    ns = -ns;
  }
  fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

/* ---- the JSON writer ---- */
static void json_counter(ex *e, int pid, const char *name, int n, const char *const *args, const int64_t *v,
                         int64_t ts)
{
  sep(e);
  fprintf(e->f, "{\"ph\":\"C\",\"pid\":%d,\"name\":", pid);
  jstr(e->f, name);
  fputs(",\"ts\":", e->f);
  us(e->f, ts);
  fputs(",\"args\":{", e->f);
  for (int i = 0; i < n; i++) {
    if (i)
      fputc(',', e->f);
    jstr(e->f, args[i]);
    fprintf(e->f, ":%lld", (long long)v[i]);
  }
  fputs("}}", e->f);
}

static void json_begin(ex *e, int64_t lost)
{
  fprintf(e->f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"memtrace export\",\"dropped_events\":%lld},"
                "\"traceEvents\":[", (long long)lost);
}

static void json_process(ex *e, int pid, const char *nm, int sort, int64_t lost)
{
  FILE *f = e->f;
  sep(e);
  fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":", pid);
  jstr(f, nm);
  fprintf(f, "}}");
  sep(e);
  fprintf(f, "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}}", pid,
          sort);
  if (lost > 0) {
    sep(e);
    fprintf(f, "{\"ph\":\"M\",\"name\":\"process_labels\",\"pid\":%d,\"tid\":0,\"args\":{\"labels\":"
               "\"%lld events dropped: memory counters are incomplete\"}}", pid, (long long)lost);
  }
}

static void json_slice(ex *e, int pid, int tid, int64_t ts, int64_t te, const char *cat, const char *name,
                       int instant)
{
  FILE *f = e->f;
  sep(e);
  if (instant) {
    fprintf(f, "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%d,\"ts\":", pid, tid);
    us(f, ts);
  } else {
    fprintf(f, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", pid, tid);
    us(f, ts);
    fputs(",\"dur\":", f);
    us(f, te - ts);
  }
  fprintf(f, ",\"cat\":\"%s\",\"name\":", cat);
  jstr(f, name);
  fputc('}', f);
}

static void json_lane(ex *e, int pid, int tid, const char *name)
{
  FILE *f = e->f;
  sep(e);
  fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":", pid, tid);
  jstr(f, name);
  fputs("}}", f);
  sep(e);
  fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":%d,\"args\":{\"sort_index\":%d}}",
          pid, tid, tid);
}

static int json_rank_end(ex *e, int pid)
{
  (void)e;
  (void)pid;
  return MT_OK;
}

static void json_end(ex *e)
{
  fputs("\n]}\n", e->f);
}

static void json_free(ex *e)
{
  (void)e;
}

static const mt__pf_sink json_sink = {
  .begin = json_begin, .process = json_process, .slice = json_slice, .lane = json_lane,
  .counter = json_counter, .rank_end = json_rank_end, .end = json_end, .free = json_free,
};

static int cmp_slice(const void *a, const void *b)
{
  const slice *x = a, *y = b;
  if (x->track != y->track)
    return x->track < y->track ? -1 : 1;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->te > y->te ? -1 : x->te < y->te;   /* longer first */
}

typedef struct delta {
  int64_t ts;
  int device, cat;         /* cat -1: reserved */
  int64_t bytes;
} delta;

static int cmp_delta(const void *a, const void *b)
{
  const delta *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

#define MAXCAT 32
#define MAXDEV 64

typedef MT__IVEC(track) trackvec;

static int track_of(trackvec *tracks, const char *name)
{
  for (size_t i = 0; i < tracks->n; i++)
    if (strcmp(tracks->v[i].name, name) == 0)
      return (int)i;
  track t = { 0 };
  snprintf(t.name, sizeof t.name, "%s", name);
  if (MT__IPUSH(*tracks, t))
    return -1;
  return (int)tracks->n - 1;
}

/* Events the trace says were lost (table drops): the numbers drawn from it
 * are short by them, so the export states them (otherData, and a process
 * label in the viewer). */
static int64_t dropped_of(mt_trace *t)
{
  sqlite3_stmt *q;
  int64_t n = 0;
  if (sqlite3_prepare_v2(mt_trace_db(t), "SELECT coalesce(sum(count), 0) FROM drops", -1, &q, NULL) == SQLITE_OK) {
    if (sqlite3_step(q) == SQLITE_ROW)
      n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
  }
  return n;
}

static int export_one(ex *e, mt_trace *t, int pid, int64_t t0, int rank)
{
  sqlite3 *db = mt_trace_db(t);
  mt_process_info pi;
  mt_trace_process(t, &pi);
  pi.rank = rank;   /* the run's (mt_run_ranks) */
  int64_t base = pi.start_ns - t0;
  char nm[512];
  snprintf(nm, sizeof nm, "rank %d%s%s (%s)", pi.rank, pi.host[0] ? " " : "", pi.host, pi.producer ? pi.producer : "");
  e->sink->process(e, pid, nm, pi.rank, dropped_of(t));

  /* strings */
  MT__IVEC(char *) strs = { 0 };
  sqlite3_stmt *st;
  int rc = MT_OK;
  if (sqlite3_prepare_v2(db, "SELECT id, value FROM strings ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t id = sqlite3_column_int64(st, 0);
      if (id < 0 || id > (1 << 26))
        continue;
      while ((int64_t)strs.n <= id)
        if (MT__IPUSH(strs, NULL))
          break;
      const unsigned char *v = sqlite3_column_text(st, 1);
      if ((int64_t)strs.n > id) {
        free(strs.v[id]);   /* a damaged table may repeat an id */
        strs.v[id] = strdup(v ? (const char *)v : "");
      }
    }
    sqlite3_finalize(st);
  }
#define S(id) ((id) > 0 && (size_t)(id) < strs.n && strs.v[id] ? strs.v[id] : "?")

  trackvec tracks = { 0 };
  MT__IVEC(slice) sl = { 0 };
  int has_api_ranges = 0;
  char tn[96];
  /* kernels and copies: their stream's track, GPU times when known */
  static const char *const qs[] = {
    "SELECT stream, COALESCE(gpu_start, ts), COALESCE(gpu_end, ts + dur), name_id, 0 FROM kernels",
    "SELECT stream, COALESCE(gpu_start, ts), COALESCE(gpu_end, ts + dur), 0, kind FROM memcpys",
    "SELECT stream, COALESCE(gpu_start, ts), COALESCE(gpu_end, ts + dur), 0, op FROM nccl_calls",
  };
  for (int q = 0; q < 3; q++) {
    if (sqlite3_prepare_v2(db, qs[q], -1, &st, NULL) != SQLITE_OK)
      continue;
    while (sqlite3_step(st) == SQLITE_ROW) {
      slice s = { .ts = sqlite3_column_int64(st, 1) + base, .te = sqlite3_column_int64(st, 2) + base,
                  .name = sqlite3_column_int64(st, 3), .cat = q };
      if (q == 1)
        s.label = mt_enum_label("copy_kind", sqlite3_column_int(st, 4));
      if (q == 2)
        s.label = mt_enum_label("nccl_op", sqlite3_column_int(st, 4));
      if (!s.label)
        s.label = q == 1 ? "memcpy" : "nccl";
      snprintf(tn, sizeof tn, q == 2 ? "stream %lld nccl" : "stream %lld", (long long)sqlite3_column_int64(st, 0));
      if ((s.track = track_of(&tracks, tn)) < 0 || MT__IPUSH(sl, s)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    sqlite3_finalize(st);
  }
  /* ranges: per thread; CUDA API calls imported as ranges get their own track */
  if (!rc && sqlite3_prepare_v2(db,
        "SELECT r.ts, COALESCE(r.te, r.ts), r.name_id, r.thread, r.kind, COALESCE(d.value, ''), "
        "COALESCE(t.tid, 0), COALESCE(tn.value, '') FROM ranges r LEFT JOIN strings d ON d.id = r.domain_id "
        "LEFT JOIN threads t ON t.id = r.thread LEFT JOIN strings tn ON tn.id = t.name_id", -1, &st, NULL) ==
        SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *dom = (const char *)sqlite3_column_text(st, 5);
      const char *thn = (const char *)sqlite3_column_text(st, 7);
      int api = dom && strcmp(dom, "cuda_api") == 0;
      has_api_ranges |= api;
      slice s = { .ts = sqlite3_column_int64(st, 0) + base, .te = sqlite3_column_int64(st, 1) + base,
                  .name = sqlite3_column_int64(st, 2), .cat = api ? 4 : sqlite3_column_int(st, 4) == 3 ? 5 : 3 };
      if (s.te < s.ts)
        s.te = s.ts;
      if (thn && *thn)
        snprintf(tn, sizeof tn, "%s%s", thn, api ? " cuda api" : "");
      else
        snprintf(tn, sizeof tn, "thread %lld%s", (long long)sqlite3_column_int64(st, 6), api ? " cuda api" : "");
      if ((s.track = track_of(&tracks, tn)) < 0 || MT__IPUSH(sl, s)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    sqlite3_finalize(st);
  }
  if (!rc && !has_api_ranges &&
      sqlite3_prepare_v2(db, "SELECT a.ts, a.ts + a.dur, a.api, COALESCE(t.tid, 0) FROM api_calls a "
                             "LEFT JOIN threads t ON t.id = a.thread", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      slice s = { .ts = sqlite3_column_int64(st, 0) + base, .te = sqlite3_column_int64(st, 1) + base, .cat = 4,
                  .label = mt_enum_label("api", sqlite3_column_int(st, 2)) };
      if (!s.label)
        s.label = "api";
      snprintf(tn, sizeof tn, "thread %lld cuda api", (long long)sqlite3_column_int64(st, 3));
      if ((s.track = track_of(&tracks, tn)) < 0 || MT__IPUSH(sl, s)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    sqlite3_finalize(st);
  }
  if (!rc && (e->r0 > INT64_MIN || e->r1 < INT64_MAX)) {
    size_t k = 0;
    for (size_t i = 0; i < sl.n; i++)
      if (sl.v[i].te >= e->r0 && sl.v[i].ts <= e->r1)
        sl.v[k++] = sl.v[i];
    sl.n = k;
  }
  MT__ISORT(sl, cmp_slice);
  static const char *const cats[] = { "kernel", "memcpy", "nccl", "nvtx", "cuda_api", "mark" };
  int max_lanes = 0;
  for (size_t i = 0; !rc && i < sl.n; i++) {
    slice *s = &sl.v[i];
    track *tr = &tracks.v[s->track];
    size_t lane = 0;
    if (s->cat != 5) {
      while (lane < tr->lane_end.n && tr->lane_end.v[lane] > s->ts)
        lane++;
      if (lane == tr->lane_end.n && MT__IPUSH(tr->lane_end, s->te)) {
        rc = MT_ENOMEM;
        break;
      }
      tr->lane_end.v[lane] = s->te;
    }
    if ((int)lane + 1 > max_lanes)
      max_lanes = (int)lane + 1;
    int tid = s->track * 256 + (int)(lane < 255 ? lane : 255) + 1;
    e->sink->slice(e, pid, tid, s->ts, s->te, cats[s->cat], s->name ? S(s->name) : s->label, s->cat == 5);
  }
  /* track names, one per lane used */
  for (size_t i = 0; !rc && i < tracks.n; i++)
    for (size_t l = 0; l < tracks.v[i].lane_end.n || l == 0; l++) {
      char lnm[128];
      if (l == 0)
        snprintf(lnm, sizeof lnm, "%s", tracks.v[i].name);
      else
        snprintf(lnm, sizeof lnm, "%s #%zu", tracks.v[i].name, l + 1);
      int tid = (int)i * 256 + (int)(l < 255 ? l : 255) + 1;
      e->sink->lane(e, pid, tid, lnm);
      if (l >= 254)
        break;
    }

  /* memory counters */
  MT__IVEC(delta) dl = { 0 };
  char catname[MAXCAT][48];
  int ncat = 0;
  mt__imap live = { 0 };   /* addr ^ device -> size (mem) */
  mt__imap rlive = { 0 };  /* heap << 48 ^ addr -> cat << 56 | size */
  if (!rc && sqlite3_prepare_v2(db, "SELECT ts, op, device, addr, size FROM mem_events WHERE result = 0 "
                                    "AND op IN (1, 2, 5, 6) ORDER BY ts, rowid", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      int op = sqlite3_column_int(st, 1), dev = sqlite3_column_int(st, 2);
      uint64_t addr = (uint64_t)sqlite3_column_int64(st, 3), size = (uint64_t)sqlite3_column_int64(st, 4), v;
      uint64_t key = addr ^ ((uint64_t)(dev & 0xff) << 56) ^ (op >= 5 ? 1ull << 55 : 0);
      delta d = { .ts = sqlite3_column_int64(st, 0) + base, .device = dev, .cat = -1 };
      if (op == 1 || op == 5) {
        mt__imap_put(&live, key, size);
        d.bytes = (int64_t)size;
      } else if (mt__imap_get(&live, key, &v)) {
        mt__imap_del(&live, key);
        d.bytes = -(int64_t)v;
      } else {
        continue;
      }
      if (dev >= 0 && dev < MAXDEV && MT__IPUSH(dl, d)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    sqlite3_finalize(st);
  }
  if (!rc && sqlite3_prepare_v2(db, "SELECT r.ts, r.op, COALESCE(h.device, 0), r.heap, r.addr, r.size, "
                                    "COALESCE(s.value, '') FROM region_events r LEFT JOIN heaps h ON h.id = r.heap "
                                    "LEFT JOIN strings s ON s.id = r.label_id ORDER BY r.ts, r.rowid", -1, &st,
                                    NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      int op = sqlite3_column_int(st, 1), dev = sqlite3_column_int(st, 2);
      uint64_t key = ((uint64_t)sqlite3_column_int64(st, 3) << 48) ^ (uint64_t)sqlite3_column_int64(st, 4), v;
      uint64_t size = (uint64_t)sqlite3_column_int64(st, 5) & ((1ull << 56) - 1);
      delta d = { .ts = sqlite3_column_int64(st, 0) + base, .device = dev };
      if (op == 1) {
        const char *lab = (const char *)sqlite3_column_text(st, 6);
        char pre[48] = "unlabeled";
        const char *sl_ = lab ? strchr(lab, '/') : NULL;
        if (sl_ && sl_ > lab && (size_t)(sl_ - lab) < sizeof pre) {
          memcpy(pre, lab, (size_t)(sl_ - lab));
          pre[sl_ - lab] = 0;
        }
        int c = 0;
        while (c < ncat && strcmp(catname[c], pre) != 0)
          c++;
        if (c == ncat) {
          if (ncat < MAXCAT) {
            snprintf(catname[ncat], sizeof catname[ncat], "%s", pre);
            ncat++;
          } else {
            c = MAXCAT - 1;
          }
        }
        d.cat = c;
        d.bytes = (int64_t)size;
        mt__imap_put(&rlive, key, ((uint64_t)c << 56) | size);
      } else if (op == 2 && mt__imap_get(&rlive, key, &v)) {
        mt__imap_del(&rlive, key);
        d.cat = (int)(v >> 56);
        d.bytes = -(int64_t)(v & ((1ull << 56) - 1));
      } else {
        continue;
      }
      if (dev >= 0 && dev < MAXDEV && MT__IPUSH(dl, d)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    sqlite3_finalize(st);
  }
  mt__imap_free(&live);
  mt__imap_free(&rlive);
  MT__ISORT(dl, cmp_delta);
  int64_t (*bycat)[MAXCAT] = calloc(MAXDEV, sizeof *bycat);
  /* series per device: 0 reserved, 1 allocated, 2 + c label prefix c */
  thin (*th)[MAXCAT + 2] = calloc(MAXDEV, sizeof *th);
  int64_t reserved[MAXDEV] = { 0 }, alloc[MAXDEV] = { 0 };
  int have_regions[MAXDEV] = { 0 };
  uint64_t seen = 0;       /* devices with events so far */
  if (!bycat || !th)
    rc = MT_ENOMEM;
  /* bucket width over the span kept */
  int64_t lo = dl.n ? dl.v[0].ts : 0, hi = dl.n ? dl.v[dl.n - 1].ts : 0;
  if (e->r0 > lo)
    lo = e->r0;
  if (e->r1 < hi)
    hi = e->r1;
  int64_t width = e->o && e->o->counter_buckets > 0 && hi > lo ? (hi - lo) / (int64_t)e->o->counter_buckets + 1 : 0;
  int started = e->r0 == INT64_MIN;
  char cname[MAXDEV][3][64];
  for (int dev = 0; dev < MAXDEV; dev++) {
    snprintf(cname[dev][0], sizeof cname[dev][0], "memory cuda:%d", dev);
    snprintf(cname[dev][1], sizeof cname[dev][1], "allocated by label prefix cuda:%d", dev);
  }
#define PUT(dev, k, ts_, v_) \
  thin_put(e, &th[dev][k], width, lo, pid, (k) < 2 ? cname[dev][0] : cname[dev][1], \
           (k) == 0 ? "reserved" : (k) == 1 ? "allocated" : catname[(k) - 2], ts_, v_)
  for (size_t i = 0; !rc && i < dl.n;) {
    int64_t ts = dl.v[i].ts;
    if (ts > e->r1)
      break;
    if (!started && ts >= e->r0) {
      /* each series' value where the range starts */
      started = 1;
      for (int dev = 0; dev < MAXDEV; dev++) {
        if (!(seen & (1ull << dev)))
          continue;
        PUT(dev, 0, e->r0, reserved[dev]);
        if (have_regions[dev]) {
          PUT(dev, 1, e->r0, alloc[dev]);
          for (int c = 0; c < ncat; c++)
            PUT(dev, 2 + c, e->r0, bycat[dev][c]);
        }
      }
    }
    uint64_t touched = 0, changed = 0;
    for (; i < dl.n && dl.v[i].ts == ts; i++) {
      delta *d = &dl.v[i];
      if (d->cat < 0) {
        reserved[d->device] += d->bytes;
      } else {
        alloc[d->device] += d->bytes;
        bycat[d->device][d->cat] += d->bytes;
        have_regions[d->device] = 1;
        changed |= 1ull << d->cat;
      }
      touched |= 1ull << (d->device & 63);
    }
    seen |= touched;
    if (!started)
      continue;
    for (int dev = 0; dev < MAXDEV; dev++) {
      if (!(touched & (1ull << dev)))
        continue;
      PUT(dev, 0, ts, reserved[dev]);
      if (have_regions[dev]) {
        PUT(dev, 1, ts, alloc[dev]);
        for (int c = 0; c < ncat; c++)
          if (changed & (1ull << c))
            PUT(dev, 2 + c, ts, bycat[dev][c]);
      }
    }
  }
  for (int dev = 0; th && dev < MAXDEV; dev++)
    for (int k = 0; k < ncat + 2; k++)
      thin_flush(e, &th[dev][k], pid, k < 2 ? cname[dev][0] : cname[dev][1],
                 k == 0 ? "reserved" : k == 1 ? "allocated" : catname[k - 2]);
#undef PUT
  free(th);
  free(bycat);
  free(dl.v);

  /* categories as the analysis library decides them, on its sampled
   * timeline (all devices of the rank together) */
  if (!rc) {
    mt_analysis_opts ao = { .rank = -1, .timeline_samples = 2000 };
    mt_rank rk;
    mt_error aerr;
    memset(&rk, 0, sizeof rk);
    int arc = mt_analyze_trace(t, &ao, &rk, &aerr);
    if (arc != MT_OK)
      mt_rank_free(&rk);   /* what a failed analysis had built */
    if (arc == MT_ECORRUPT) {
      /* the rows the export copied are the ones the analysis refused */
      if (e->err)
        *e->err = aerr;
      rc = arc;
    } else if (arc == MT_OK) {
      const mt_timeline *tl = &rk.timeline;
      const char *cn[MT_CAT_COUNT];
      int64_t cv[MT_CAT_COUNT];
      for (int c = 0; c < MT_CAT_COUNT; c++)
        cn[c] = mt_category_name(c);
      for (size_t i = 0; i < tl->n; i++) {
        int64_t ts = base + tl->t0 + (int64_t)i * tl->dt;
        if (ts < e->r0 || ts > e->r1)
          continue;
        for (int c = 0; c < MT_CAT_COUNT; c++)
          cv[c] = (int64_t)(tl->by_category[c] ? tl->by_category[c][i] : 0);
        e->sink->counter(e, pid, "allocated by category", MT_CAT_COUNT, cn, cv, ts);
      }
      mt_rank_free(&rk);
    }
  }
  if (!rc && e->oom)
    rc = MT_ENOMEM;
  if (!rc)
    rc = e->sink->rank_end(e, pid);
  for (size_t i = 0; i < tracks.n; i++)
    free(tracks.v[i].lane_end.v);
  free(tracks.v);
  free(sl.v);
  for (size_t i = 0; i < strs.n; i++)
    free(strs.v[i]);
  free(strs.v);
  if (rc == MT_ENOMEM)
    mt_error_set(e->err, rc, "%s: out of memory", e->out);
  return rc;
#undef S
}

/* stdio over zlib: the writer's fprintf calls go through gzwrite */
static ssize_t gz_cookie_write(void *c, const char *buf, size_t n)
{
  size_t done = 0;
  while (done < n) {
    unsigned chunk = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
    int w = gzwrite((gzFile)c, buf + done, chunk);
    if (w <= 0)
      return done ? (ssize_t)done : -1;
    done += (size_t)w;
  }
  return (ssize_t)done;
}

static int gz_cookie_close(void *c)
{
  return gzclose((gzFile)c) == Z_OK ? 0 : -1;
}

int mt_export_perfetto(const char *const *traces, int ntraces, const char *out, mt_error *err)
{
  mt_perfetto_opts o = MT_PERFETTO_OPTS_DEFAULT;
  return mt_export_perfetto_opts(traces, ntraces, out, &o, err);
}

int mt_export_perfetto_opts(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                            mt_error *err)
{
  return mt__export_perfetto_with(traces, ntraces, out, o, &json_sink, err);
}

int mt__export_perfetto_with(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                             const mt__pf_sink *sink, mt_error *err)
{
  mt_trace **ts = calloc((size_t)ntraces, sizeof *ts);
  int rc = MT_OK;
  int64_t t0 = INT64_MAX;
  if (!ts)
    return MT_ENOMEM;
  for (int i = 0; i < ntraces && !rc; i++) {
    rc = mt_trace_open(traces[i], MT_OPEN_READ, &ts[i], err);
    if (!rc) {
      mt_process_info pi;
      mt_trace_process(ts[i], &pi);
      if (pi.start_ns < t0)
        t0 = pi.start_ns;
    }
  }
  ex e = { .first = 1, .out = out, .err = err, .o = o, .r0 = INT64_MIN, .r1 = INT64_MAX, .sink = sink };
  if (o && o->has_range) {
    e.r0 = o->range_t0;
    e.r1 = o->range_t1;
  }
  if (!rc) {
    if (o && o->gzip) {
      gzFile gz = gzopen(out, "wb6");
      static const cookie_io_functions_t io = { .write = gz_cookie_write, .close = gz_cookie_close };
      if (gz && !(e.f = fopencookie(gz, "w", io)))
        gzclose(gz);
    } else
      e.f = fopen(out, "w");
    if (!e.f) {
      mt_error_set(err, MT_EIO, "%s: cannot create", out);
      rc = MT_EIO;
    }
  }
  if (!rc) {
    /* a large stdio buffer: fewer, larger compressor calls */
    setvbuf(e.f, NULL, _IOFBF, 1 << 20);
    int64_t lost = 0;
    for (int i = 0; i < ntraces; i++)
      lost += dropped_of(ts[i]);
    sink->begin(&e, lost);
    int *rr = calloc(2 * (size_t)ntraces, sizeof *rr);
    if (!rr || mt_run_ranks((char *const *)traces, (size_t)ntraces, rr, rr + ntraces, NULL) != MT_OK)
      mt_error_set(err, rc = MT_ENOMEM, "%s: out of memory", out);
    for (int i = 0; i < ntraces && !rc; i++)
      rc = export_one(&e, ts[i], i, t0, rr[i]);
    free(rr);
    if (!rc && e.oom)
      mt_error_set(err, rc = MT_ENOMEM, "%s: out of memory", out);
    if (!rc)
      sink->end(&e);
    sink->free(&e);
    if (fflush(e.f) != 0 || ferror(e.f)) {
      mt_error_set(err, MT_EIO, "%s: write failed", out);
      rc = MT_EIO;
    }
    if (fclose(e.f) != 0 && !rc) {
      mt_error_set(err, MT_EIO, "%s: write failed", out);
      rc = MT_EIO;
    }
  }
  for (int i = 0; i < ntraces; i++)
    if (ts[i])
      mt_trace_close(ts[i]);
  free(ts);
  return rc;
}
