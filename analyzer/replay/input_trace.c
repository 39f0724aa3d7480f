/* Replay input from a trace file: tensor blocks (region_events inside
 * heaps), device allocations no heap covers (workspaces, NCCL buffers),
 * NVTX windows and the kernel time inside them.
 *
 * STOPGAP: analyzer/lib (libmemtrace-analysis) does not expose its
 * lifetimes yet (analysis.h keeps only the live set at the peak).  Once it
 * offers an iterator over lifetimes with phase/step/layer/category, this file
 * becomes a thin adapter over it; the rules below mirror analyzer/README.md. */
#include "config.h"
#include "analyzer/replay/input_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schemas/trace.h"

#define COL(i) sqlite3_column_int64(st, (i))
#define TXT(i) ((const char *)sqlite3_column_text(st, (i)))

struct open_t {
  int64_t heap;
  uint64_t addr;
  size_t idx;
};

static int classify(const char *name, int *kind, char *unit, size_t len, int *step)
{
  *step = -1;
  if (strncmp(name, "step ", 5) == 0 || strncmp(name, "iteration ", 10) == 0) {
    *step = atoi(strchr(name, ' ') + 1);
    *kind = MT_RP_W_STEP;
    return 0;
  }
  if (strcmp(name, "forward") == 0) { *kind = MT_RP_W_PHASE_FWD; return 0; }
  if (strcmp(name, "backward") == 0) { *kind = MT_RP_W_PHASE_BWD; return 0; }
  if (strcmp(name, "optimizer") == 0) { *kind = MT_RP_W_OPTIMIZER; return 0; }
  const char *dot = strrchr(name, '.');
  if (!dot || (size_t)(dot - name) + 1 > len)
    return -1;
  if (strcmp(dot, ".forward") == 0)
    *kind = MT_RP_W_FORWARD;
  else if (strcmp(dot, ".backward") == 0)
    *kind = MT_RP_W_BACKWARD;
  else if (strcmp(dot, ".recompute") == 0)
    *kind = MT_RP_W_RECOMPUTE;
  else
    return -1;
  memcpy(unit, name, (size_t)(dot - name));
  unit[dot - name] = 0;
  return 0;
}

static int64_t meta_int(sqlite3 *db, const char *key, int64_t dflt)
{
  sqlite3_stmt *q;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
    return dflt;
  sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

/* NCCL's buffers per communicator: channels * (nranks - 1) peer buffers of
 * one size and one smaller (work FIFO), learnt from the recorded ones. */
static void nccl_model(mt_rp_input *in)
{
  uint64_t big = 0, small = 0;
  size_t nbig = 0, nsmall = 0;
  int peers = 0;
  in->nccl_channels = 2;
  in->nccl_peer_bytes = 4ull << 20;
  in->nccl_fixed_bytes = 1ull << 20;
  for (int c = 0; c < in->ncomms; c++)
    peers += in->comm_nranks[c] > 1 ? in->comm_nranks[c] - 1 : 0;
  for (size_t i = 0; i < in->nt; i++)
    if (in->t[i].outside && in->t[i].cat == MT_RP_COMMUNICATION && in->t[i].bytes > big)
      big = in->t[i].bytes;
  for (size_t i = 0; i < in->nt; i++) {
    const mt_rp_tensor *x = &in->t[i];
    if (!x->outside || x->cat != MT_RP_COMMUNICATION)
      continue;
    if (x->bytes == big)
      nbig++;
    else {
      nsmall++;
      small = x->bytes;
    }
  }
  if (peers > 0 && nbig > 0 && nbig % (size_t)peers == 0) {
    in->nccl_channels = (int)(nbig / (size_t)peers);
    in->nccl_peer_bytes = big;
    in->nccl_fixed_bytes = nsmall == (size_t)in->ncomms ? small : 0;
  }
}

/* A region's size is the caching allocator's block, which includes an
 * unsplit remainder (a large-pool block is handed out whole when what is
 * left is <= 1 MiB; ORACLES section 5).  The request is recovered from the
 * same tensor elsewhere: blocks of one role ("layer.#.fc1.out", the layer
 * number dropped) that exceed the smallest block of that role by at most
 * 1 MiB, and are large-pool blocks, were that smallest request. */
struct role { char key[96]; uint64_t min; int used; };

static void role_key(const char *name, char *key, size_t len)
{
  size_t o = 0;
  for (const char *c = name; *c && o + 2 < len; c++) {
    if (*c >= '0' && *c <= '9' && c > name && c[-1] == '.') {
      while (c[1] >= '0' && c[1] <= '9')
        c++;
      key[o++] = '#';
      continue;
    }
    key[o++] = *c;
  }
  key[o] = 0;
}

static uint64_t str_hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Open-addressing table of roles (size a power of two, at most half full). */
static struct role *role_slot(struct role *r, size_t cap, const char *key)
{
  size_t i = (size_t)str_hash(key) & (cap - 1);
  while (r[i].used && strcmp(r[i].key, key) != 0)
    i = (i + 1) & (cap - 1);
  return &r[i];
}

static void requested_sizes(mt_rp_input *in)
{
  size_t cap = 1024, used = 0;
  struct role *r = calloc(cap, sizeof *r);
  char key[96];
  if (!r)
    return;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < in->nt; i++) {
      mt_rp_tensor *x = &in->t[i];
      if (x->outside || !x->name)
        continue;
      role_key(x->name, key, sizeof key);
      struct role *e = role_slot(r, cap, key);
      if (pass == 0) {
        if (!e->used) {
          if (2 * (used + 1) > cap) {
            /* grow and rehash */
            struct role *n = calloc(2 * cap, sizeof *n);
            if (!n) {
              free(r);
              return;
            }
            for (size_t j = 0; j < cap; j++)
              if (r[j].used)
                *role_slot(n, 2 * cap, r[j].key) = r[j];
            free(r);
            r = n;
            cap *= 2;
            e = role_slot(r, cap, key);
          }
          e->used = 1;
          snprintf(e->key, sizeof e->key, "%s", key);
          e->min = x->bytes;
          used++;
        } else if (x->bytes < e->min)
          e->min = x->bytes;
      } else if (e->used && x->bytes > e->min && x->bytes > (1u << 20) && x->bytes - e->min <= (1u << 20)) {
        x->bytes = e->min;
      }
    }
  free(r);
}

static int sql_fail(mt_trace *t, char *err, size_t errlen)
{
  snprintf(err, errlen, "%s: damaged trace: %s", mt_trace_path(t), sqlite3_errmsg(mt_trace_db(t)));
  return -1;
}

/* Phase / step of the innermost phase window containing ts. */
static void phase_at(const mt_rp_input *in, int64_t ts, int *phase, int *step)
{
  *phase = MT_RP_PH_OTHER;
  *step = -1;
  for (size_t i = 0; i < in->nw; i++) {
    const mt_rp_window *w = &in->w[i];
    if (ts < w->ts || ts > w->te)
      continue;
    if (w->kind == MT_RP_W_STEP)
      *step = w->step;
    else if (w->kind == MT_RP_W_PHASE_FWD)
      *phase = MT_RP_PH_FORWARD;
    else if (w->kind == MT_RP_W_PHASE_BWD)
      *phase = MT_RP_PH_BACKWARD;
    else if (w->kind == MT_RP_W_OPTIMIZER)
      *phase = MT_RP_PH_OPTIMIZER;
  }
}

int mt_rp_input_from_trace(const char *path, mt_rp_input *in, char *err, size_t errlen)
{
  mt_trace *t = NULL;
  mt_error e;
  mt_rp_input_init(in);
  if (mt_trace_open(path, 0, &t, &e) != MT_OK) {
    snprintf(err, errlen, "%s", e.msg);
    return -1;
  }
  mt_process_info pi;
  sqlite3 *db = mt_trace_db(t);
  sqlite3_stmt *st;
  if (mt_trace_process(t, &pi) == MT_OK) {
    in->rank = pi.rank;
    in->world = pi.world_size > 0 ? pi.world_size : 1;
    /* no rank in the environment (a launcher that forks without RANK): the
     * collector's guess from the largest NCCL communicator, the rule of the
     * analysis library (analyze.c, mt__effective_rank; not exported yet) */
    int64_t nw = meta_int(db, "world_size.nccl", -1);
    if (nw > 0 && pi.world_size <= 1 && pi.rank == 0) {
      in->rank = (int)meta_int(db, "rank.nccl", 0);
      in->world = (int)nw;
    }
  }
  /* communicators: their sizes (the recording's data-parallel degree is the
   * largest one for a run without SP/PP) */
  if (sqlite3_prepare_v2(db, "SELECT nranks FROM communicators ORDER BY created, id", -1, &st, NULL) != SQLITE_OK)
    goto sqlerr;
  while (sqlite3_step(st) == SQLITE_ROW)
    if (in->ncomms < (int)(sizeof in->comm_nranks / sizeof in->comm_nranks[0]))
      in->comm_nranks[in->ncomms++] = (int)COL(0);
  sqlite3_finalize(st);
  /* windows */
  if (sqlite3_prepare_v2(db, "SELECT r.ts, coalesce(r.te, r.ts), s.value FROM ranges r JOIN strings s ON "
                             "s.id = r.name_id WHERE r.kind != 3 ORDER BY r.ts", -1, &st, NULL) != SQLITE_OK)
    goto sqlerr;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *name = TXT(2);
    int kind, step;
    char unit[48];
    if (!name || classify(name, &kind, unit, sizeof unit, &step) != 0)
      continue;
    mt_rp_window w = { 0 };
    w.kind = (int8_t)kind;
    w.ts = COL(0);
    w.te = COL(1);
    w.step = step;
    w.unit = kind == MT_RP_W_FORWARD || kind == MT_RP_W_BACKWARD || kind == MT_RP_W_RECOMPUTE
             ? mt_rp_input_unit(in, unit) : -1;
    w.layer = -1;
    mt_rp_input_add_window(in, &w);
  }
  sqlite3_finalize(st);
  /* steps of non-step windows */
  for (size_t i = 0; i < in->nw; i++)
    if (in->w[i].kind != MT_RP_W_STEP)
      for (size_t j = 0; j < in->nw; j++)
        if (in->w[j].kind == MT_RP_W_STEP && in->w[i].ts >= in->w[j].ts && in->w[i].ts <= in->w[j].te)
          in->w[i].step = in->w[j].step;
  /* kernel time per window: prefix sums over kernels in time order */
  {
    int64_t *kt = NULL, *ks = NULL;
    size_t nk = 0, ck = 0;
    if (sqlite3_prepare_v2(db, "SELECT ts, CASE WHEN gpu_end IS NOT NULL THEN gpu_end - gpu_start ELSE dur END "
                               "FROM kernels ORDER BY ts", -1, &st, NULL) != SQLITE_OK)
      goto sqlerr;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (nk == ck) {
        ck = ck ? 2 * ck : 4096;
        kt = realloc(kt, ck * sizeof *kt);
        ks = realloc(ks, (ck + 1) * sizeof *ks);
        if (!kt || !ks)
          abort();
      }
      kt[nk] = COL(0);
      ks[nk + 1] = (nk ? ks[nk] : 0) + COL(1);
      nk++;
    }
    sqlite3_finalize(st);
    if (ks)
      ks[0] = 0;
    for (size_t i = 0; i < in->nw && nk; i++) {
      size_t lo = 0, hi = nk, a, b;
      while (lo < hi) { size_t m = (lo + hi) / 2; if (kt[m] < in->w[i].ts) lo = m + 1; else hi = m; }
      a = lo;
      lo = a, hi = nk;
      while (lo < hi) { size_t m = (lo + hi) / 2; if (kt[m] <= in->w[i].te) lo = m + 1; else hi = m; }
      b = lo;
      in->w[i].kernel_ns = ks[b] - ks[a];
    }
    free(kt);
    free(ks);
  }
  /* tensor blocks */
  {
    struct open_t *op = NULL;
    size_t no = 0, co = 0;
    if (sqlite3_prepare_v2(db, "SELECT r.ts, r.op, r.heap, r.addr, r.size, r.stream, s.value FROM region_events r "
                               "LEFT JOIN strings s ON s.id = r.label_id ORDER BY r.ts, r.rowid", -1, &st, NULL) != SQLITE_OK)
      goto sqlerr;
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t ts = COL(0), heap = COL(2);
      uint64_t addr = (uint64_t)COL(3);
      if (COL(1) == 1) {
        mt_rp_tensor x = { 0 };
        const char *label = TXT(6);
        char nm[256];
        x.t_alloc = ts;
        x.t_free = MT_RP_NEVER;
        x.bytes = (uint64_t)COL(4);
        x.stream = (int32_t)COL(5);
        x.layer = x.unit = -1;
        x.cat = -1;
        if (label) {
          const char *sl = strchr(label, '/');
          if (sl) {
            snprintf(nm, sizeof nm, "%.*s", (int)(sl - label), label);
            int c = mt_rp_cat_parse(nm);
            if (c >= 0) {
              x.cat = (int8_t)c;
              label = sl + 1;
            }
          }
        }
        x.name = label;
        long idx = mt_rp_input_add(in, &x);
        if (idx < 0)
          abort();
        if (no == co) {
          co = co ? 2 * co : 1024;
          op = realloc(op, co * sizeof *op);
          if (!op)
            abort();
        }
        op[no++] = (struct open_t){ heap, addr, (size_t)idx };
      } else if (COL(1) == 2) {
        for (size_t i = no; i-- > 0;)
          if (op[i].addr == addr) {
            in->t[op[i].idx].t_free = ts;
            op[i] = op[--no];
            break;
          }
      }
    }
    sqlite3_finalize(st);
    free(op);
  }
  /* device allocations no heap covers */
  if (sqlite3_prepare_v2(db, "SELECT m.ts, m.op, m.addr, m.size, m.context FROM mem_events m WHERE m.kind IN (1, 4) "
                             "AND m.result = 0 AND m.op IN (1, 2) AND NOT EXISTS (SELECT 1 FROM heaps h WHERE "
                             "h.addr = m.addr) ORDER BY m.ts, m.rowid", -1, &st, NULL) != SQLITE_OK)
    goto sqlerr;
  {
    struct open_t *op = NULL;
    size_t no = 0, co = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      uint64_t addr = (uint64_t)COL(2);
      if (COL(1) == 1) {
        mt_rp_tensor x = { 0 };
        x.t_alloc = COL(0);
        x.t_free = MT_RP_NEVER;
        x.bytes = (uint64_t)COL(3);
        x.outside = 1;
        x.layer = x.unit = -1;
        x.cat = COL(4) == 1 ? MT_RP_COMMUNICATION : COL(4) == 2 || COL(4) == 3 ? MT_RP_WORKSPACE : MT_RP_OTHER;
        long idx = mt_rp_input_add(in, &x);
        if (idx < 0)
          abort();
        if (no == co) {
          co = co ? 2 * co : 64;
          op = realloc(op, co * sizeof *op);
          if (!op)
            abort();
        }
        op[no++] = (struct open_t){ 0, addr, (size_t)idx };
      } else {
        for (size_t i = no; i-- > 0;)
          if (op[i].addr == addr) {
            in->t[op[i].idx].t_free = COL(0);
            op[i] = op[--no];
            break;
          }
      }
    }
    free(op);
  }
  sqlite3_finalize(st);
  /* phases, steps and the categories of unannotated blocks */
  for (size_t i = 0; i < in->nt; i++) {
    mt_rp_tensor *x = &in->t[i];
    int ph, stp, fph, fst;
    phase_at(in, x->t_alloc, &ph, &stp);
    x->phase = (int8_t)ph;
    x->step = stp;
    if (x->cat >= 0)
      continue;
    if (x->name && strstr(x->name, "workspace"))
      x->cat = MT_RP_WORKSPACE;
    else if (x->t_free != MT_RP_NEVER) {
      phase_at(in, x->t_free, &fph, &fst);
      x->cat = ph == MT_RP_PH_FORWARD && fph == MT_RP_PH_BACKWARD && fst == stp ? MT_RP_ACTIVATION : MT_RP_TEMPORARY;
    } else
      x->cat = MT_RP_OTHER;
  }
  requested_sizes(in);
  in->t_first = in->nt ? in->t[0].t_alloc : 0;
  for (size_t i = 0; i < in->nt; i++)
    if (in->t[i].t_alloc < in->t_first)
      in->t_first = in->t[i].t_alloc;
  nccl_model(in);
  mt_rp_input_finish(in);
  mt_trace_close(t);
  return 0;
sqlerr:
  sql_fail(t, err, errlen);
  mt_trace_close(t);
  mt_rp_input_free(in);
  return -1;
}

#include <dirent.h>
#include <sys/stat.h>

static int str_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int mt_rp_run_files(const char *path, char ***out, char *err, size_t errlen)
{
  struct stat sb;
  if (stat(path, &sb) != 0) {
    snprintf(err, errlen, "%s: no such trace or run directory", path);
    return -1;
  }
  char **v = NULL;
  int n = 0;
  if (!S_ISDIR(sb.st_mode)) {
    v = malloc(sizeof *v);
    if (!v || !(v[0] = strdup(path)))
      return -1;
    *out = v;
    return 1;
  }
  DIR *d = opendir(path);
  if (!d) {
    snprintf(err, errlen, "%s: cannot read the directory", path);
    return -1;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l < 7 || strcmp(de->d_name + l - 7, ".mtrace") != 0)
      continue;
    char **w = realloc(v, (size_t)(n + 1) * sizeof *v);
    if (!w)
      break;
    v = w;
    size_t len = strlen(path) + l + 2;
    v[n] = malloc(len);
    if (!v[n])
      break;
    snprintf(v[n], len, "%s/%s", path, de->d_name);
    n++;
  }
  closedir(d);
  if (n == 0) {
    free(v);
    snprintf(err, errlen, "%s: no *.mtrace files in the directory", path);
    return -1;
  }
  qsort(v, (size_t)n, sizeof *v, str_cmp);
  *out = v;
  return n;
}
