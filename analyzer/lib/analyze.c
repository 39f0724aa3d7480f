/* libmemtrace-analysis: one trace -> lifetimes, timeline, peaks, categories.
 *
 * The events of five tables are merged in time order (ORDER BY ts, rowid,
 * served by the *_by_ts indexes that mt_trace_finalize builds) together with
 * range ends and heap destructions, and walked three times:
 *   coverage  mem_events against the heaps table: which device allocations
 *             a heap covers (their bytes are allocated only through regions);
 *   pass 1    sizes only: the high-water marks of allocated and reserved,
 *             per-step and per-device peaks, the timeline samples;
 *   pass 2    every live allocation with its details; the live set is
 *             copied at the allocated peak (and at OOMs) and each copy is
 *             followed to its free, where its category is decided.
 * Rules: analyzer/README.md. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/lib/internal.h"

#define SIZE_MASK ((1ull << 47) - 1)   /* bit 47 tags packed values in pass 2 */
#define MAX_DEV 64
#define NO_TS INT64_MIN

/* ---- per-thread NVTX range stacks ------------------------------------- */

typedef struct frame {
  uint64_t seq;           /* unique per range instance: 1, 2, ... in start order */
  int step, layer, kind, rec;
  uint64_t phase_seq;     /* seq of the frame that gives the phase */
  const char *phase, *range;
  /* for mt_lifetimes_walk's range callback */
  int64_t ts, te, thread;
  int ctx_step;           /* step inside it, with the process's open step as fallback */
  mt__range_class cls;
  uint64_t kernels;
  int64_t kernel_ns;
} frame;

typedef struct tstack {
  frame *f;
  size_t n, cap;
} tstack;

typedef struct rend {   /* a pending range end */
  int64_t te;
  int64_t thread;
  uint64_t seq;
} rend;

/* Context of the thread at an event. */
typedef struct ctx {
  int step, layer, kind;
  uint64_t phase_seq;
  const char *phase, *range;
} ctx;

/* ---- objects (pass 2) ------------------------------------------------- */

typedef struct obj {
  mt_object o;
  int alloc_kind, free_kind, free_step;
  uint64_t alloc_phase_seq, free_phase_seq;
  int64_t label_id;
  int refs;              /* snapshots holding it */
  int live;
  int decided;
  uint64_t size0;        /* size when allocated (o.size: the latest) */
  mt_resize *resizes;    /* size changes (region resize), in time order */
  size_t nresizes;
  uint64_t seq;          /* allocation order (mt_lifetime.seq) */
  int end;               /* enum mt_lifetime_end */
  int workspace;         /* a library was lent it as workspace (mem_events op workspace) */
} obj;

static void obj_free(obj *o)
{
  free(o->resizes);
  free(o);
}

typedef struct heapinfo {
  int64_t id;
  int device;
  uint64_t addr, size;
  int64_t created, destroyed;   /* destroyed < 0: alive */
  uint64_t live_regions;
  int framework;                /* usage framework_pool: a framework's allocator */
} heapinfo;

typedef struct target {  /* a snapshot to take */
  int64_t ts;
  mt_snapshot *snap;
  mt__vec objs;          /* obj* */
  int taken;
} target;

typedef struct group_acc {
  int64_t label_id, stack;
  int is_tensor, category, rule;
  uint64_t count, total, max_size, peak;
} group_acc;

typedef struct kern_acc {
  int64_t name_id;
  uint64_t count;
  int64_t api_ns, gpu_ns;
  int has_gpu;
} kern_acc;

typedef struct st {
  mt_trace *t;
  sqlite3 *db;
  mt_rank *r;
  mt__strs *strs;
  mt_error *err;
  const mt_analysis_opts *opts;
  int pass;             /* 0 coverage, 1, 2 */

  /* ranges */
  mt__map threads;      /* thread -> tstack* */
  rend *ends;
  size_t nends, capends;
  uint64_t seq;
  mt__map rclass;       /* name_id -> packed class */
  int cur_step;         /* process-wide: last opened step range still open */
  int64_t last_thread;  /* thread of the last range push */
  /* the event at hand says nothing by its thread: a framework allocator's
     block, written by a poller thread long after (collector/python) */
  int ctx_any_thread;
  ctx ev;               /* context of the last memory event */

  /* heaps */
  heapinfo *heaps;
  size_t nheaps;
  mt__map heap_idx;     /* heaps.id -> index */
  size_t *by_destroyed, ndestroyed, destroyed_pos;
  size_t *by_addr;      /* heaps sorted by addr (size > 0) */
  size_t naddr;
  uint64_t max_heap_size;
  mt__map covered;      /* mem_events rowid set */

  /* live state */
  mt__map allocs;       /* (class, addr) -> v (pass1: packed size; pass2: obj*) */
  mt__map regions;      /* (heap, addr) -> same */
  int devids[MAX_DEV];
  int ndev;
  uint64_t cur_alloc[MAX_DEV], cur_res[MAX_DEV];
  uint64_t alloc_total, res_total, pinned;
  int64_t pending_ts;   /* last instant with a memory change, NO_TS if none */

  /* pass 1 results */
  mt__vec steps;        /* mt_step_peak */
  size_t sample_pos;    /* next timeline sample to record */

  /* pass 2 */
  target *targets;
  size_t ntargets;
  mt__vec live_objs_unused;
  mt__map groups;       /* (label/stack key) -> index+1 in groupv */
  mt__vec groupv;       /* group_acc */
  mt__map layer_act;    /* (step+1, layer+1) -> bytes */
  mt__map kern;         /* name_id -> index+1 */
  mt__vec kernv;
  mt__vec layerv;       /* mt_layer_stat, index = layer */
  mt_nccl_stat nccl[16];
  int nccl_gpu;
  int64_t *tl_diff[MT_CAT_COUNT];
  mt__map stackinfo;    /* stack id -> packed where / guess / call site */
  mt__map modkind;      /* modules.id -> module_kind() */
  sqlite3_stmt *frame_stmt;
  mt__vec orphans;      /* obj*: device allocations whose free was lost (allocated again) */
  uint64_t nobjs;       /* objects made so far (the next one's seq) */

  /* mt_lifetimes_walk: the consumer's callbacks (NULL: a report's analysis) */
  const mt_lifetime_visitor *visit;
  uint64_t visit_res;   /* reserved bytes last told to visit->reserved */
  int stop;             /* a callback asked to stop */
  int rowid_order;      /* memory only: region rows may be read in rowid order (restarted when unsorted) */
  int finished;         /* the trace was closed cleanly: 1, 0, or -1 not known yet */
  int64_t missing_frame; /* first frame id referred to and absent, or 0 */
  unsigned long damage0; /* mt_trace_damage_seen() when the walk began */
} st;

static int fail(st *s, int code, const char *what)
{
  mt_error_set(s->err, code, "%s: %s: %s", mt_trace_path(s->t), what, sqlite3_errmsg(s->db));
  return code;
}

/* A row the analysis cannot rely on (trace.h: MT_TIME_LIMIT, MT_SIZE_LIMIT). */
static int bad_row(st *s, const char *table, const char *col, int64_t v)
{
  mt_error_set(s->err, MT_ECORRUPT, "%s: damaged: %s.%s holds %lld, outside what a trace can hold",
               mt_trace_path(s->t), table, col, (long long)v);
  return MT_ECORRUPT;
}

/* References between tables that led nowhere, or lookups SQLite failed
 * (mt__str): the names and categories built on them would be wrong. */
static int check_refs(st *s, int rc)
{
  if (rc != MT_OK || !s->strs)
    return rc;
  /* a damaged page met by a statement whose caller took the error for the
     end of its rows (the corruption count says so) */
  if (mt_trace_damage_seen(NULL, 0) != s->damage0) {
    mt_error_set(s->err, MT_ECORRUPT, "%s: damaged: database disk image is malformed", mt_trace_path(s->t));
    return MT_ECORRUPT;
  }
  if (s->strs->sql_error) {
    mt_error_set(s->err, MT_ECORRUPT, "%s: damaged: %s", mt_trace_path(s->t), sqlite3_errstr(s->strs->sql_error));
    return MT_ECORRUPT;
  }
  if (s->strs->missing || s->missing_frame) {
    mt_error_set(s->err, MT_ECORRUPT, "%s: damaged: refers to %s id %lld, which the %s table lacks",
                 mt_trace_path(s->t), s->strs->missing ? "string" : "frame",
                 (long long)(s->strs->missing ? s->strs->missing : s->missing_frame),
                 s->strs->missing ? "strings" : "frames");
    return MT_ECORRUPT;
  }
  return MT_OK;
}

/* The walk reads kernels through the `kernels` view, a join of each launch
 * with its configuration: a launch whose configuration is not there would
 * vanish from the counts unnoticed.  count(*) reads the launches' smallest
 * index, about 50 ms per million launches. */
static int check_launches(st *s)
{
  sqlite3_stmt *q;
  int64_t n = -1;
  if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM kernel_launches", -1, &q, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  if (sqlite3_step(q) == SQLITE_ROW)
    n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  if (n < 0)
    return fail(s, MT_ECORRUPT, "damaged");
  if ((uint64_t)n != s->r->n_kernels) {
    mt_error_set(s->err, MT_ECORRUPT,
                 "%s: damaged: %llu of %lld kernel launches name a configuration the kernel_configs table lacks",
                 mt_trace_path(s->t), (unsigned long long)((uint64_t)n - s->r->n_kernels), (long long)n);
    return MT_ECORRUPT;
  }
  return MT_OK;
}

static int nomem(st *s)
{
  mt_error_set(s->err, MT_ENOMEM, "%s: out of memory", mt_trace_path(s->t));
  return MT_ENOMEM;
}

static int dev_slot(st *s, int device)
{
  for (int i = 0; i < s->ndev; i++)
    if (s->devids[i] == device)
      return i;
  if (s->ndev == MAX_DEV)
    return MAX_DEV - 1;
  s->devids[s->ndev] = device;
  return s->ndev++;
}

/* ---- ranges ------------------------------------------------------------ */

static void classify(st *s, int64_t name_id, mt__range_class *c)
{
  uint64_t *v = mt__map_get(&s->rclass, (uint64_t)name_id, 0);
  if (v) {
    uint64_t x = *v;
    c->step = (int)(int32_t)(x & 0xffffffffu);
    c->layer = (int)(int16_t)((x >> 32) & 0xffff);
    c->kind = (int)((x >> 48) & 0xff);
    c->exact_phase = (int)((x >> 56) & 1);
    return;
  }
  mt__classify_range(mt__str(s->strs, name_id), c);
  if (c->layer > 32767)
    c->layer = -1;
  uint64_t x = (uint64_t)(uint32_t)c->step | ((uint64_t)(uint16_t)(int16_t)c->layer << 32) |
               ((uint64_t)c->kind << 48) | ((uint64_t)c->exact_phase << 56);
  v = mt__map_put(&s->rclass, (uint64_t)name_id, 0, NULL);
  if (v)
    *v = x;
}

static const char *canonical(int kind)
{
  switch (kind) {
  case MT_PK_FWD: return "forward";
  case MT_PK_BWD: return "backward";
  case MT_PK_REC: return "recompute";
  case MT_PK_OPT: return "optimizer";
  default: return NULL;
  }
}

static tstack *thread_stack(st *s, int64_t thread, int create)
{
  uint64_t *v = create ? mt__map_put(&s->threads, (uint64_t)thread, 0, NULL)
                       : mt__map_get(&s->threads, (uint64_t)thread, 0);
  if (!v)
    return NULL;
  if (!*v) {
    if (!create)
      return NULL;
    tstack *ts = calloc(1, sizeof *ts);
    if (!ts)
      return NULL;
    *v = (uint64_t)(uintptr_t)ts;
  }
  return (tstack *)(uintptr_t)*v;
}

static void ends_push(st *s, rend e)
{
  if (s->nends == s->capends) {
    size_t nc = s->capends ? s->capends * 2 : 64;
    rend *n = realloc(s->ends, nc * sizeof *n);
    if (!n)
      return;
    s->ends = n;
    s->capends = nc;
  }
  size_t i = s->nends++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (s->ends[p].te <= e.te)
      break;
    s->ends[i] = s->ends[p];
    i = p;
  }
  s->ends[i] = e;
}

static rend ends_pop(st *s)
{
  rend top = s->ends[0], last = s->ends[--s->nends];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->nends)
      break;
    if (c + 1 < s->nends && s->ends[c + 1].te < s->ends[c].te)
      c++;
    if (s->ends[c].te >= last.te)
      break;
    s->ends[i] = s->ends[c];
    i = c;
  }
  if (s->nends)
    s->ends[i] = last;
  return top;
}

static int range_push(st *s, int64_t ts, int64_t te, int64_t name_id, int64_t thread)
{
  tstack *ts_ = thread_stack(s, thread, 1);
  if (!ts_)
    return nomem(s);
  if (ts_->n == ts_->cap) {
    size_t nc = ts_->cap ? ts_->cap * 2 : 16;
    frame *nf = realloc(ts_->f, nc * sizeof *nf);
    if (!nf)
      return nomem(s);
    ts_->f = nf;
    ts_->cap = nc;
  }
  mt__range_class c;
  classify(s, name_id, &c);
  const char *name = mt__str(s->strs, name_id);
  frame *parent = ts_->n ? &ts_->f[ts_->n - 1] : NULL;
  frame *f = &ts_->f[ts_->n++];
  f->seq = ++s->seq;
  f->step = c.step >= 0 ? c.step : parent ? parent->step : -1;
  f->layer = c.layer >= 0 ? c.layer : parent ? parent->layer : -1;
  f->rec = (parent && parent->rec) || c.kind == MT_PK_REC;
  f->kind = f->rec ? MT_PK_REC : c.kind != MT_PK_NONE ? c.kind : parent ? parent->kind : MT_PK_NONE;
  f->range = name;
  /* phase: nearest exact phase name; else the word of a classified name;
     else the outermost range */
  if (c.exact_phase) {
    f->phase = name;
    f->phase_seq = f->seq;
  } else if (parent && parent->phase && (parent->kind != MT_PK_NONE || c.kind == MT_PK_NONE)) {
    f->phase = parent->phase;
    f->phase_seq = parent->phase_seq;
  } else if (c.kind != MT_PK_NONE) {
    f->phase = canonical(c.kind);
    f->phase_seq = f->seq;
  } else if (parent) {
    f->phase = parent->phase;
    f->phase_seq = parent->phase_seq;
  } else {
    f->phase = name;   /* no phase word: the outermost range ("step 3") */
    f->phase_seq = f->seq;
  }
  if (c.step >= 0)
    s->cur_step = c.step;
  s->last_thread = thread;
  f->ts = ts;
  f->te = te;
  f->thread = thread;
  f->ctx_step = f->step >= 0 ? f->step : s->cur_step;
  f->cls = c;
  f->kernels = 0;
  f->kernel_ns = 0;
  rend e = { te < 0 ? INT64_MAX : te, thread, f->seq };
  ends_push(s, e);
  return MT_OK;
}

/* mt_lifetimes_walk: a range as its consumer sees it (depth: its index in
 * its thread's stack). */
static void emit_range(st *s, const frame *f, size_t depth)
{
  if (!s->visit || !s->visit->range || s->stop)
    return;
  mt_range_span r = { .seq = f->seq - 1, .ts = f->ts, .te = f->te, .name = f->range, .thread = f->thread,
                      .depth = (int)depth, .cls = f->cls, .step = f->ctx_step, .layer = f->layer,
                      .phase_kind = f->kind, .phase = f->phase, .kernels = f->kernels,
                      .kernel_ns = f->kernel_ns };
  if (s->visit->range(&r, s->visit->arg) != 0)
    s->stop = 1;
}

static void range_end(st *s, rend e)
{
  tstack *ts = thread_stack(s, e.thread, 0);
  if (!ts)
    return;
  for (size_t i = ts->n; i-- > 0;) {
    if (ts->f[i].seq == e.seq) {
      emit_range(s, &ts->f[i], i);
      mt__range_class c = { .step = -1 };
      if (ts->f[i].step >= 0 && (i == 0 || ts->f[i - 1].step != ts->f[i].step))
        c.step = ts->f[i].step;
      memmove(&ts->f[i], &ts->f[i + 1], (ts->n - i - 1) * sizeof *ts->f);
      ts->n--;
      if (c.step >= 0 && c.step == s->cur_step)
        s->cur_step = -1;
      return;
    }
  }
}

/* The range stack whose context an event of this thread takes: its own, or
 * when it has none open, that of the thread that last opened a range. */
static tstack *context_stack(st *s, int64_t thread)
{
  if (s->ctx_any_thread) {
    /* the innermost open range of any thread, the most recently opened;
       among threads inside a step or phase first (another thread's own
       range, a saver's or a prefetcher's, says nothing of the training) */
    tstack *best = NULL;
    int best_cls = 0;
    for (size_t i = 0; i < s->threads.cap; i++) {
      tstack *t = s->threads.e[i].used ? (tstack *)(uintptr_t)s->threads.e[i].v : NULL;
      if (!t || !t->n)
        continue;
      const frame *f = &t->f[t->n - 1];
      int cls = f->step >= 0 || f->kind != MT_PK_NONE;
      if (!best || cls > best_cls ||
          (cls == best_cls && (f->ts > best->f[best->n - 1].ts ||
                               (f->ts == best->f[best->n - 1].ts && f->seq > best->f[best->n - 1].seq)))) {
        best = t;
        best_cls = cls;
      }
    }
    return best;
  }
  tstack *ts = thread_stack(s, thread, 0);
  if ((!ts || !ts->n) && s->last_thread != thread)
    ts = thread_stack(s, s->last_thread, 0);
  return ts;
}

static void context_of(st *s, int64_t thread, ctx *c)
{
  tstack *ts = context_stack(s, thread);
  if (ts && ts->n) {
    frame *f = &ts->f[ts->n - 1];
    c->step = f->step >= 0 ? f->step : s->cur_step;
    c->layer = f->layer;
    c->kind = f->kind;
    c->phase_seq = f->phase_seq;
    c->phase = f->phase;
    c->range = f->range;
  } else {
    c->step = s->cur_step;
    c->layer = -1;
    c->kind = MT_PK_NONE;
    c->phase_seq = 0;
    c->phase = c->range = NULL;
  }
}

/* ---- stacks ------------------------------------------------------------ */

/* What a module is to the call-site rule: 1 runtime/driver/collector (look
 * further out), 2 cuBLAS/cuDNN (workspace), 3 NCCL (communication), 0 other. */
static int module_kind(st *s, int64_t module)
{
  if (module <= 0)
    return 0;
  uint64_t *v = mt__map_get(&s->modkind, (uint64_t)module, 0);
  if (v)
    return (int)*v;
  int k = 0;
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(s->db, "SELECT s.value FROM modules m JOIN strings s ON s.id = m.path_id WHERE m.id = ?",
                         -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(q, 1, module);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) {
      const char *path = (const char *)sqlite3_column_text(q, 0);
      const char *b = strrchr(path, '/');
      b = b ? b + 1 : path;
      if (!strncmp(b, "libcudart", 9) || !strncmp(b, "libcuda.", 8) || strstr(b, "memtrace"))
        k = 1;
      else if (!strncmp(b, "libcublas", 9) || !strncmp(b, "libcudnn", 8) || !strncmp(b, "libcublasLt", 11))
        k = 2;
      else if (!strncmp(b, "libnccl", 7))
        k = 3;
    }
    sqlite3_finalize(q);
  }
  v = mt__map_put(&s->modkind, (uint64_t)module, 0, NULL);
  if (v)
    *v = (uint64_t)k;
  return k;
}

/* Innermost symbolised frame of a stack; the name-heuristic category of the
 * first few frames (*guess, -1 none); and the call site (*site: the
 * category of the library whose code made the call -- cuBLAS/cuDNN ->
 * workspace, NCCL -> communication -- or -1).  Cached per stack id. */
static const char *stack_where2(st *s, int64_t stack, int *guess, int *site)
{
  *guess = *site = -1;
  if (stack <= 0)
    return NULL;
  uint64_t *v = mt__map_get(&s->stackinfo, (uint64_t)stack, 0);
  if (v) {
    *guess = (int)((*v >> 48) & 0xff) - 1;
    *site = (int)(*v >> 56) - 1;
    return (const char *)(uintptr_t)(*v & ((1ull << 48) - 1));
  }
  if (!s->frame_stmt &&
      sqlite3_prepare_v2(s->db, "SELECT parent, symbol_id, module FROM frames WHERE id = ?", -1, &s->frame_stmt,
                         NULL) != SQLITE_OK)
    return NULL;
  const char *where = NULL;
  int64_t id = stack;
  int site_done = 0;
  for (int depth = 0; id > 0 && depth < 12; depth++) {
    sqlite3_reset(s->frame_stmt);
    sqlite3_bind_int64(s->frame_stmt, 1, id);
    int frc = sqlite3_step(s->frame_stmt);
    if (frc != SQLITE_ROW) {
      if (frc != SQLITE_DONE && !s->strs->sql_error)
        s->strs->sql_error = frc;
      else if (frc == SQLITE_DONE && !s->missing_frame)
        s->missing_frame = id;
      break;
    }
    int64_t parent = sqlite3_column_int64(s->frame_stmt, 0);
    const char *sym = mt__str(s->strs, sqlite3_column_int64(s->frame_stmt, 1));
    int64_t module = sqlite3_column_int64(s->frame_stmt, 2);
    int mk = module_kind(s, module);
    if (!site_done && mk != 1) {
      site_done = 1;
      *site = mk == 2 ? MT_CAT_WORKSPACE : mk == 3 ? MT_CAT_COMMUNICATION : -1;
    }
    if (sym && *sym) {
      /* skip the CUDA entry points and the collector's own frames */
      int api = mk == 1 || strncmp(sym, "cuda", 4) == 0 || strncmp(sym, "cuMem", 5) == 0 || strstr(sym, "memtrace") ||
                strncmp(sym, "mt_", 3) == 0;
      if (!where && !api)
        where = sym;
      if (*guess < 0 && !api) {
        int g = mt__category_from_text(sym);
        if (g < 0 && strcasestr(sym, "gemm"))
          g = MT_CAT_WORKSPACE;
        *guess = g;
      }
    }
    id = parent;
  }
  sqlite3_reset(s->frame_stmt);
  v = mt__map_put(&s->stackinfo, (uint64_t)stack, 0, NULL);
  if (v)
    *v = ((uint64_t)(*site + 1) << 56) | ((uint64_t)(*guess + 1) << 48) | (uint64_t)(uintptr_t)where;
  return where;
}

static const char *stack_where(st *s, int64_t stack, int *guess)
{
  int site;
  return stack_where2(s, stack, guess, &site);
}

/* ---- categories -------------------------------------------------------- */

static void decide(st *s, obj *o)
{
  const char *label = o->o.label;
  if (label) {
    const char *slash = strchr(label, '/');
    if (slash && slash > label && (size_t)(slash - label) < 32) {
      char pre[32];
      memcpy(pre, label, (size_t)(slash - label));
      pre[slash - label] = 0;
      int c = mt_category_from_name(pre);
      if (c >= 0 && c != MT_CAT_CACHE_FREE) {
        o->o.category = c;
        o->o.rule = MT_RULE_ANNOTATION;
        return;
      }
    }
  }
  if (o->workspace) {
    o->o.category = MT_CAT_WORKSPACE;
    o->o.rule = MT_RULE_LIBRARY_WORKSPACE;
    return;
  }
  if (!o->o.is_tensor) {
    int guess, site = -1;
    if (o->o.context == MT_CTX_NCCL)
      site = MT_CAT_COMMUNICATION;
    else if (o->o.context == MT_CTX_BLAS || o->o.context == MT_CTX_DNN)
      site = MT_CAT_WORKSPACE;
    else
      stack_where2(s, o->o.stack, &guess, &site);
    if (site >= 0) {
      o->o.category = site;
      o->o.rule = MT_RULE_CALL_SITE;
      return;
    }
  }
  if (o->o.free_ts >= 0) {
    if (o->o.step >= 0 && o->free_step == o->o.step) {
      if ((o->alloc_kind == MT_PK_FWD || o->alloc_kind == MT_PK_REC) && o->free_kind == MT_PK_BWD) {
        o->o.category = MT_CAT_ACTIVATION;
        o->o.rule = MT_RULE_FWD_BWD;
      } else {
        o->o.category = MT_CAT_TEMPORARY;
        o->o.rule = MT_RULE_SAME_PHASE;
      }
      return;
    }
    if (o->o.step < 0 && o->free_step < 0 && o->alloc_phase_seq && o->alloc_phase_seq == o->free_phase_seq) {
      o->o.category = MT_CAT_TEMPORARY;
      o->o.rule = MT_RULE_SAME_PHASE;
      return;
    }
  }
  int g = mt__category_from_text(label);
  if (g < 0 && !o->o.is_tensor) {
    int sg;
    stack_where(s, o->o.stack, &sg);
    g = sg;
  }
  if (g >= 0) {
    o->o.category = g;
    o->o.rule = MT_RULE_NAME;
    return;
  }
  o->o.category = MT_CAT_OTHER;
  o->o.rule = (o->o.step >= 0 || o->alloc_phase_seq) ? MT_RULE_PERSISTENT : MT_RULE_UNKNOWN;
}

static int64_t sample_index_ceil(const mt_timeline *tl, int64_t ts)
{
  if (ts <= tl->t0)
    return 0;
  int64_t i = (ts - tl->t0 + tl->dt - 1) / tl->dt;
  return i > (int64_t)tl->n ? (int64_t)tl->n : i;
}

/* mt_lifetimes_walk: the settled object as its consumer sees it. */
static void emit_lifetime(st *s, const obj *o)
{
  int freed = o->o.free_ts >= 0;
  mt_lifetime l = { .obj = o->o, .seq = o->seq, .size0 = o->size0, .nresizes = o->nresizes,
                    .resizes = o->resizes, .phase_kind = o->alloc_kind,
                    .free_step = freed ? o->free_step : -1, .free_phase_kind = freed ? o->free_kind : MT_PK_NONE,
                    .end = o->end };
  if (s->visit->lifetime(&l, s->visit->arg) != 0)
    s->stop = 1;
}

/* Called once per object when its category can be decided (at its free, or
 * at the end of the trace for what is still live). */
static void settle(st *s, obj *o)
{
  decide(s, o);
  o->decided = 1;
  if (s->visit) {   /* a lifetimes walk: no report aggregates */
    if (s->visit->lifetime && !s->stop)
      emit_lifetime(s, o);
    return;
  }
  mt_timeline *tl = &s->r->timeline;
  if (tl->n && s->tl_diff[0]) {
    int64_t a = sample_index_ceil(tl, o->o.alloc_ts);
    int64_t b = o->o.free_ts < 0 ? (int64_t)tl->n : sample_index_ceil(tl, o->o.free_ts);
    if (b > a) {
      /* the size it had at each sample: resizes move it in between */
      int64_t *d = s->tl_diff[o->o.category], added = (int64_t)o->size0;
      d[a] += added;
      for (size_t k = 0; k < o->nresizes; k++) {
        int64_t i = sample_index_ceil(tl, o->resizes[k].ts);
        if (i >= b)
          break;
        int64_t delta = (int64_t)o->resizes[k].size - (int64_t)(k ? o->resizes[k - 1].size : o->size0);
        d[i > a ? i : a] += delta;
        added += delta;
      }
      d[b] -= added;
    }
  }
  /* group */
  uint64_t k1 = o->label_id > 0 ? (uint64_t)o->label_id : 0;
  uint64_t k2 = o->label_id > 0 ? 0 : ((uint64_t)o->o.stack << 8) | ((uint64_t)o->o.category << 1) | (uint64_t)o->o.is_tensor;
  int fresh;
  uint64_t *gi = mt__map_put(&s->groups, k1, k2, &fresh);
  if (gi) {
    if (fresh) {
      group_acc *g = mt__vec_push(&s->groupv);
      if (!g) {
        mt__map_del(&s->groups, k1, k2, NULL);
        return;
      }
      g->label_id = o->label_id;
      g->stack = o->o.stack;
      g->is_tensor = o->o.is_tensor;
      g->category = o->o.category;
      g->rule = o->o.rule;
      *gi = s->groupv.n;
    }
    group_acc *g = (group_acc *)s->groupv.p + (*gi - 1);
    g->count++;
    g->total += o->o.size;
    if (o->o.size > g->max_size)
      g->max_size = o->o.size;
  }
  if (o->o.category == MT_CAT_ACTIVATION && o->o.layer >= 0) {
    uint64_t *v = mt__map_put(&s->layer_act, (uint64_t)(o->o.step + 1), (uint64_t)o->o.layer + 1, NULL);
    if (v)
      *v += o->o.size;
  }
}

static void release_obj(st *s, obj *o)
{
  (void)s;
  o->live = 0;
  if (o->refs == 0)
    obj_free(o);
}

/* ---- memory events ----------------------------------------------------- */

enum { CLS_DEV = 1, CLS_HOST = 2, CLS_PHYS = 3, CLS_MAP = 4 };

static uint64_t pack(uint64_t size, int slot, int counted)
{
  return (size & SIZE_MASK) | ((uint64_t)slot << 48) | ((uint64_t)counted << 63);
}

typedef struct memrow {
  int64_t rowid, ts;
  int op, kind, device, result, context, api;
  uint64_t addr, size;
  int64_t thread, stack;
} memrow;

static obj *new_obj(st *s, int is_tensor, int device, int64_t heap, uint64_t addr, uint64_t size, int64_t ts,
                    int64_t stream, int64_t thread, int64_t stack, int64_t label_id, int context)
{
  obj *o = calloc(1, sizeof *o);
  if (!o)
    return NULL;
  ctx c;
  context_of(s, thread, &c);
  o->o.is_tensor = is_tensor;
  o->o.device = device;
  o->o.heap = heap;
  o->o.addr = addr;
  o->o.size = size;
  o->size0 = size;
  o->o.alloc_ts = ts;
  o->o.free_ts = -1;
  o->o.stream = stream;
  o->o.thread = thread;
  o->o.stack = stack;
  o->o.step = c.step;
  o->o.layer = c.layer;
  o->o.phase = c.phase;
  o->o.range = c.range;
  o->o.context = context;
  o->seq = s->nobjs++;
  o->alloc_kind = c.kind;
  o->alloc_phase_seq = c.phase_seq;
  o->label_id = label_id;
  o->o.label = label_id > 0 ? mt__str(s->strs, label_id) : NULL;
  /* the allocating frame names what has no label (stacks are cached by id) */
  if (!is_tensor || (stack > 0 && label_id <= 0)) {
    int g;
    o->o.where = stack_where(s, stack, &g);
  }
  o->live = 1;
  return o;
}

static void free_obj(st *s, obj *o, int64_t ts, int64_t thread, int end)
{
  ctx c;
  context_of(s, thread, &c);
  o->end = end;
  o->o.free_ts = ts;
  o->free_step = c.step;
  o->free_kind = c.kind;
  o->free_phase_seq = c.phase_seq;
  settle(s, o);
  release_obj(s, o);
}

static void note_event_ctx(st *s, int64_t thread)
{
  if (s->opts->memory_only)   /* no ranges read: no context */
    return;
  context_of(s, thread, &s->ev);
}

/* An OOM: a row of the ooms table (source > 0), or a failed allocation call
 * (source 0).  A failed call and the ooms row the collector wrote for it
 * (same device and size, at or after the call, within a second, not yet
 * matched) are one failure: the row is kept, with the call's context. */
static void add_oom(st *s, int64_t ts, int device, int api, int source, uint64_t requested, int64_t fb, int64_t tb)
{
  mt_rank *r = s->r;
  mt_oom *o = NULL;
  for (size_t i = 0; i < r->nooms; i++) {
    mt_oom *x = &r->ooms[i];
    if (x->device != device || x->requested != requested)
      continue;
    if (x->ts == ts && x->source == source)
      return;
    if (source == 0 && x->source > 0 && !x->matched && x->ts >= ts && x->ts - ts < 1000000000LL &&
        (!o || x->ts < o->ts))
      o = x;
  }
  if (!o) {
    mt_oom *n = realloc(r->ooms, (r->nooms + 1) * sizeof *n);
    if (!n)
      return;
    r->ooms = n;
    o = &r->ooms[r->nooms++];
    memset(o, 0, sizeof *o);
    o->ts = ts;
    o->device = device;
    o->api = api;
    o->source = source;
    o->requested = requested;
    o->free_bytes = fb;
    o->total_bytes = tb;
    o->step = -1;
  }
  if (source == 0) {
    o->matched = 1;
    o->step = s->ev.step;
    o->phase = s->ev.phase;
    o->range = s->ev.range;
  }
}

static int cmp_oom(const void *a, const void *b)
{
  const mt_oom *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static obj *live_block_at(st *s, uint64_t addr, int64_t ts);
static size_t heaps_from(st *s, uint64_t a);

static int on_mem(st *s, const memrow *m)
{
  mt_rank *r = s->r;
  if (m->op == MT_MEM_WORKSPACE) {
    /* not a memory change: the block lent to the library is a workspace */
    obj *o = s->pass == 2 && m->addr ? live_block_at(s, m->addr, m->ts) : NULL;
    if (o)
      o->workspace = 1;
    return MT_OK;
  }
  if (s->pass == 1)
    r->n_mem_events++;
  if (m->op == MT_MEM_ALLOC || m->op == MT_MEM_CREATE) {
    if (m->result != 0 || m->addr == 0) {
      if (s->pass == 1 && m->op == MT_MEM_ALLOC) {
        r->failed_allocs++;
        ctx keep = s->ev;   /* the peak's context is that of memory changes */
        note_event_ctx(s, m->thread);
        add_oom(s, m->ts, m->device, m->api, 0, m->size, -1, -1);
        s->ev = keep;
      }
      return MT_OK;
    }
  }
  int host = m->kind == MT_MEM_KIND_HOST_PINNED;
  int slot = dev_slot(s, m->device);
  switch (m->op) {
  case MT_MEM_ALLOC:
  case MT_MEM_CREATE:
  case MT_MEM_MAP: {
    int cls = host ? CLS_HOST : m->op == MT_MEM_CREATE ? CLS_PHYS : m->op == MT_MEM_MAP ? CLS_MAP : CLS_DEV;
    if (m->op == MT_MEM_MAP && m->result != 0)
      return MT_OK;
    /* reserved: device allocations and VMM physical memory; allocated:
       those (and mappings) no heap covers; unmapped physical memory is
       reserved but holds nothing */
    int reserves = !host && m->op != MT_MEM_MAP;
    int counted = !host && m->op != MT_MEM_CREATE && !mt__map_get(&s->covered, (uint64_t)m->rowid, 0);
    int fresh;
    uint64_t *v = mt__map_put(&s->allocs, cls, m->addr, &fresh);
    if (!v)
      return nomem(s);
    if (!fresh) {
      /* allocated twice without a free in between: a lost free (its bytes
         stay counted); pass 2 settles the first one at the end, alive */
      r->unknown_frees += s->pass == 1;
      if (s->pass == 2 && *v && !(*v & (1ull << 47))) {
        obj **orphan = mt__vec_push(&s->orphans);
        if (!orphan)
          return nomem(s);
        *orphan = (obj *)(uintptr_t)*v;
      }
    }
    if (host) {
      s->pinned += m->size;
      if (s->pinned > r->host_pinned_peak)
        r->host_pinned_peak = s->pinned;
    }
    if (reserves) {
      s->cur_res[slot] += m->size;
      s->res_total += m->size;
    }
    if (counted) {
      s->cur_alloc[slot] += m->size;
      s->alloc_total += m->size;
    }
    if (s->pass == 1) {
      *v = pack(m->size, slot, counted) | ((uint64_t)reserves << 62);
      if (!host && m->op != MT_MEM_MAP)
        r->n_device_allocs++;
    } else {
      obj *o = NULL;
      if (counted) {
        o = new_obj(s, 0, m->device, 0, m->addr, m->size, m->ts, 0, m->thread, m->stack, 0, m->context);
        if (!o)
          return nomem(s);
      }
      /* pass 2 keeps obj* for counted, and the packed size (odd tag) otherwise */
      *v = o ? (uint64_t)(uintptr_t)o : (pack(m->size, slot, 0) | ((uint64_t)reserves << 62)) | 1ull << 47;
      if (o) {
        /* remember reserves/slot in spare fields */
        o->o.rule = reserves;   /* overwritten by decide() */
        o->free_kind = slot;
      }
    }
    if (!host)
      s->pending_ts = m->ts;
    note_event_ctx(s, m->thread);
    return MT_OK;
  }
  case MT_MEM_FREE:
  case MT_MEM_RELEASE:
  case MT_MEM_UNMAP: {
    if (m->addr == 0)
      return MT_OK;
    int cls = host ? CLS_HOST : m->op == MT_MEM_RELEASE ? CLS_PHYS : m->op == MT_MEM_UNMAP ? CLS_MAP : CLS_DEV;
    uint64_t v;
    if (!mt__map_del(&s->allocs, cls, m->addr, &v)) {
      /* a host free may be recorded with a device kind, and vice versa */
      int other = cls == CLS_DEV ? CLS_HOST : cls == CLS_HOST ? CLS_DEV : 0;
      if (!other || !mt__map_del(&s->allocs, other, m->addr, &v)) {
        if (s->pass == 1)
          r->unknown_frees++;
        return MT_OK;
      }
      cls = other;
    }
    uint64_t size;
    int vslot, counted, reserves;
    obj *o = NULL;
    if (s->pass == 2 && !(v & (1ull << 47)) && v != 0) {
      o = (obj *)(uintptr_t)v;
      size = o->o.size;
      vslot = o->free_kind;
      reserves = o->o.rule;
      counted = 1;
    } else {
      size = v & ((1ull << 47) - 1) & SIZE_MASK;
      vslot = (int)((v >> 48) & 0x3f);
      counted = (int)(v >> 63);
      reserves = (int)((v >> 62) & 1);
    }
    if (cls == CLS_HOST) {
      s->pinned -= size;
      return MT_OK;
    }
    if (reserves) {
      s->cur_res[vslot] -= size;
      s->res_total -= size;
    }
    if (counted) {
      s->cur_alloc[vslot] -= size;
      s->alloc_total -= size;
    }
    if (o) {
      o->o.rule = 0;
      free_obj(s, o, m->ts, m->thread, MT_END_FREED);
    }
    s->pending_ts = m->ts;
    note_event_ctx(s, m->thread);
    return MT_OK;
  }
  default:
    return MT_OK;   /* va_reserve / va_free: address space, not memory */
  }
}

typedef struct regrow {
  int64_t ts;
  int op;
  int64_t heap;
  uint64_t addr, size;
  int64_t stream, thread, stack, label_id;
} regrow;

static heapinfo *heap_of(st *s, int64_t id)
{
  uint64_t *v = mt__map_get(&s->heap_idx, (uint64_t)id, 0);
  return v ? &s->heaps[*v] : NULL;
}

static int on_region_(st *s, const regrow *e);

static int on_region(st *s, const regrow *e)
{
  heapinfo *h = heap_of(s, e->heap);
  s->ctx_any_thread = h && h->framework;
  int rc = on_region_(s, e);
  s->ctx_any_thread = 0;
  return rc;
}

static int on_region_(st *s, const regrow *e)
{
  mt_rank *r = s->r;
  if (s->pass == 1)
    r->n_region_events++;
  heapinfo *h = heap_of(s, e->heap);
  int device = h ? h->device : 0;
  int slot = dev_slot(s, device);
  if (e->op == MT_REGION_REGISTER) {
    int fresh;
    uint64_t *v = mt__map_put(&s->regions, (uint64_t)e->heap, e->addr, &fresh);
    if (!v)
      return nomem(s);
    if (!fresh) {
      /* registered twice: the first one's unregister was lost */
      uint64_t old = *v;
      uint64_t osize = s->pass == 2 ? ((obj *)(uintptr_t)old)->o.size : old & SIZE_MASK;
      s->cur_alloc[slot] -= osize;
      s->alloc_total -= osize;
      if (s->pass == 1)
        r->unknown_unregisters++;
      else
        free_obj(s, (obj *)(uintptr_t)old, e->ts, e->thread, MT_END_REREGISTERED);
      if (h)
        h->live_regions--;
      v = mt__map_put(&s->regions, (uint64_t)e->heap, e->addr, &fresh);
      if (!v)
        return nomem(s);
    }
    if (s->pass == 1) {
      *v = e->size & SIZE_MASK;
      r->n_tensors++;
    } else {
      obj *o = new_obj(s, 1, device, e->heap, e->addr, e->size, e->ts, e->stream, e->thread, e->stack,
                       e->label_id, 0);
      if (!o)
        return nomem(s);
      *v = (uint64_t)(uintptr_t)o;
    }
    if (h)
      h->live_regions++;
    s->cur_alloc[slot] += e->size;
    s->alloc_total += e->size;
  } else if (e->op == MT_REGION_UNREGISTER || e->op == MT_REGION_RESIZE) {
    uint64_t *v = mt__map_get(&s->regions, (uint64_t)e->heap, e->addr);
    if (!v) {
      if (s->pass == 1)
        r->unknown_unregisters++;
      return MT_OK;
    }
    obj *o = s->pass == 2 ? (obj *)(uintptr_t)*v : NULL;
    uint64_t size = o ? o->o.size : *v & SIZE_MASK;
    s->cur_alloc[slot] -= size;
    s->alloc_total -= size;
    if (e->op == MT_REGION_RESIZE) {
      s->cur_alloc[slot] += e->size;
      s->alloc_total += e->size;
      if (o) {
        mt_resize *n = realloc(o->resizes, (o->nresizes + 1) * sizeof *n);
        if (!n)
          return nomem(s);
        o->resizes = n;
        n[o->nresizes].ts = e->ts;
        n[o->nresizes++].size = e->size;
        o->o.size = e->size;
      }
      else
        *v = e->size & SIZE_MASK;
    } else {
      mt__map_del(&s->regions, (uint64_t)e->heap, e->addr, NULL);
      if (h)
        h->live_regions--;
      if (o)
        free_obj(s, o, e->ts, e->thread, MT_END_FREED);
    }
  } else {
    return MT_OK;
  }
  s->pending_ts = e->ts;
  note_event_ctx(s, e->thread);
  return MT_OK;
}

/* Pass 2: the live object that starts at addr -- a framework allocator's
 * block (a region of a heap alive at ts that covers addr), else a device
 * allocation or mapping of its own; NULL when none.  A library is lent the
 * start of a block (PyTorch, cuDNN frontends), so no interior search. */
static obj *live_block_at(st *s, uint64_t addr, int64_t ts)
{
  /* heaps with a range: by address (as heap_covers_at); unbounded ones
     (size 0, not in by_addr) are looked at one by one */
  for (size_t i = heaps_from(s, addr), j = 0; i < s->naddr || (s->naddr < s->nheaps && j < s->nheaps); ) {
    heapinfo *h;
    if (i < s->naddr) {
      h = &s->heaps[s->by_addr[i++]];
      if (h->addr > addr) {
        i = s->naddr;   /* past it: the unbounded heaps remain */
        continue;
      }
      if (h->addr + h->size <= addr)
        continue;
    } else {
      h = &s->heaps[j++];
      if (h->size)
        continue;
    }
    if (h->created > ts || (h->destroyed >= 0 && h->destroyed <= ts) || !h->live_regions)
      continue;
    uint64_t *v = mt__map_get(&s->regions, (uint64_t)h->id, addr);
    if (v && *v)
      return (obj *)(uintptr_t)*v;
  }
  static const int cls[] = { CLS_DEV, CLS_MAP };
  for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++) {
    uint64_t *v = mt__map_get(&s->allocs, (uint64_t)cls[i], addr);
    if (v && *v && !(*v & (1ull << 47)))
      return (obj *)(uintptr_t)*v;
  }
  return NULL;
}

/* A heap went away: whatever regions it still had go with it. */
static void on_heap_destroyed(st *s, heapinfo *h, int64_t ts)
{
  if (!h->live_regions)
    return;
  int slot = dev_slot(s, h->device);
  for (size_t i = 0; i < s->regions.cap; i++) {
    mt__map_ent *en = &s->regions.e[i];
    if (!en->used || (int64_t)en->k1 != h->id)
      continue;
    obj *o = s->pass == 2 ? (obj *)(uintptr_t)en->v : NULL;
    uint64_t size = o ? o->o.size : en->v & SIZE_MASK;
    s->cur_alloc[slot] -= size;
    s->alloc_total -= size;
    if (o)
      free_obj(s, o, ts, o->o.thread, MT_END_HEAP_DESTROYED);
    mt__map_del(&s->regions, en->k1, en->k2, NULL);
    i--;   /* backward shift may have moved an entry into slot i */
    if (--h->live_regions == 0)
      break;
  }
  s->pending_ts = ts;
}

/* ---- instants and snapshots -------------------------------------------- */

static mt_step_peak *step_peak(st *s, int step)
{
  mt_step_peak *p = s->steps.p;
  for (size_t i = s->steps.n; i-- > 0;)
    if (p[i].step == step)
      return &p[i];
  mt_step_peak *n = mt__vec_push(&s->steps);
  if (n)
    n->step = step;
  return n;
}

/* The state after every event at ts. */
static void instant(st *s, int64_t ts)
{
  mt_rank *r = s->r;
  if (s->visit && s->visit->reserved && !s->stop && s->res_total != s->visit_res) {
    s->visit_res = s->res_total;
    if (s->visit->reserved(ts, s->res_total, s->visit->arg) != 0)
      s->stop = 1;
  }
  if (s->pass != 1)
    return;
  if (s->alloc_total > r->peak_allocated) {
    r->peak_allocated = s->alloc_total;
    r->peak_allocated_ts = ts;
    r->peak.step = s->ev.step;
    r->peak.phase = s->ev.phase;
    r->peak.range = s->ev.range;
  }
  if (s->res_total > r->peak_reserved) {
    r->peak_reserved = s->res_total;
    r->peak_reserved_ts = ts;
    r->peak_reserved_step = s->ev.step;
    r->peak_reserved_phase = s->ev.phase;
  }
  uint64_t frag = s->res_total > s->alloc_total ? s->res_total - s->alloc_total : 0;
  if (frag > r->max_fragmentation) {
    r->max_fragmentation = frag;
    r->max_fragmentation_ts = ts;
  }
  int step = s->ev.step;
  if (step >= 0) {
    mt_step_peak *p = step_peak(s, step);
    if (p) {
      if (s->alloc_total > p->allocated) {
        p->allocated = s->alloc_total;
        p->allocated_ts = ts;
      }
      if (s->res_total > p->reserved)
        p->reserved = s->res_total;
    }
  }
  for (int i = 0; i < s->ndev; i++) {
    mt_device_peak *d = NULL;
    for (size_t j = 0; j < r->ndevices; j++)
      if (r->devices[j].device == s->devids[i])
        d = &r->devices[j];
    if (!d) {
      mt_device_peak *n = realloc(r->devices, (r->ndevices + 1) * sizeof *n);
      if (!n)
        continue;
      r->devices = n;
      d = &r->devices[r->ndevices++];
      memset(d, 0, sizeof *d);
      d->device = s->devids[i];
    }
    if (s->cur_alloc[i] > d->peak_allocated) {
      d->peak_allocated = s->cur_alloc[i];
      d->allocated_ts = ts;
    }
    if (s->cur_res[i] > d->peak_reserved) {
      d->peak_reserved = s->cur_res[i];
      d->reserved_ts = ts;
    }
  }
  mt_timeline *tl = &r->timeline;
  if (tl->n) {
    int64_t b = sample_index_ceil(tl, ts);
    if (b < (int64_t)tl->n) {
      if (s->alloc_total > tl->allocated_max[b])
        tl->allocated_max[b] = s->alloc_total;
      if (s->res_total > tl->reserved_max[b])
        tl->reserved_max[b] = s->res_total;
    }
  }
}

static int take_snapshot(st *s, target *tg)
{
  tg->taken = 1;
  tg->snap->ts = tg->ts;
  tg->snap->allocated = s->alloc_total;
  tg->snap->reserved = s->res_total;
  tg->objs.elem = sizeof(obj *);
  mt__map *maps[2] = { &s->regions, &s->allocs };
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < maps[m]->cap; i++) {
      mt__map_ent *en = &maps[m]->e[i];
      if (!en->used || (m == 1 && (en->v & (1ull << 47))))
        continue;
      obj *o = (obj *)(uintptr_t)en->v;
      obj **slot = mt__vec_push(&tg->objs);
      if (!slot)
        return nomem(s);
      *slot = o;
      o->refs++;
    }
  return MT_OK;
}

static int before_event(st *s, int64_t ts)
{
  /* timeline samples: state at t_i for every t_i < ts (pass 1) */
  mt_timeline *tl = &s->r->timeline;
  if (s->pass == 1 && tl->n) {
    while (s->sample_pos < tl->n && tl->t0 + (int64_t)s->sample_pos * tl->dt < ts) {
      tl->allocated[s->sample_pos] = s->alloc_total;
      tl->reserved[s->sample_pos] = s->res_total;
      s->sample_pos++;
    }
  }
  if (s->pass == 2)
    for (size_t i = 0; i < s->ntargets; i++)
      if (!s->targets[i].taken && s->targets[i].ts < ts) {
        int rc = take_snapshot(s, &s->targets[i]);
        if (rc != MT_OK)
          return rc;
      }
  return MT_OK;
}

/* ---- kernels and NCCL (pass 2) ----------------------------------------- */

static mt_layer_stat *layer_stat(st *s, int layer)
{
  if (layer < 0 || layer > 100000)
    return NULL;
  s->layerv.elem = sizeof(mt_layer_stat);
  while (s->layerv.n <= (size_t)layer) {
    mt_layer_stat *l = mt__vec_push(&s->layerv);
    if (!l)
      return NULL;
    l->layer = (int)s->layerv.n - 1;
    l->fwd_gpu_ns = l->bwd_gpu_ns = -1;
  }
  return (mt_layer_stat *)s->layerv.p + layer;
}

static void on_kernel(st *s, int64_t ts, int64_t dur, int64_t name_id, int64_t thread, int64_t gs, int64_t ge,
                      int has_gpu)
{
  (void)ts;
  if (s->visit) {
    /* a lifetimes walk: the kernel's time goes to every range of the stack
       whose context it takes (the per-layer rule below) */
    tstack *st_ = context_stack(s, thread);
    for (size_t i = 0; st_ && i < st_->n; i++) {
      st_->f[i].kernels++;
      st_->f[i].kernel_ns += has_gpu ? ge - gs : dur;
    }
    return;
  }
  s->r->n_kernels++;
  int fresh;
  uint64_t *v = mt__map_put(&s->kern, (uint64_t)name_id, 0, &fresh);
  if (v) {
    if (fresh) {
      kern_acc *k = mt__vec_push(&s->kernv);
      if (!k) {
        mt__map_del(&s->kern, (uint64_t)name_id, 0, NULL);
        return;
      }
      k->name_id = name_id;
      *v = s->kernv.n;
    }
    kern_acc *k = (kern_acc *)s->kernv.p + (*v - 1);
    k->count++;
    k->api_ns += dur;
    if (has_gpu) {
      k->gpu_ns += ge - gs;
      k->has_gpu = 1;
    }
  }
  ctx c;
  context_of(s, thread, &c);
  if (c.layer >= 0 && c.kind != MT_PK_NONE && c.kind != MT_PK_OPT && c.kind != MT_PK_OTHER) {
    mt_layer_stat *l = layer_stat(s, c.layer);
    if (!l)
      return;
    int fwd = c.kind == MT_PK_FWD;
    (*(fwd ? &l->fwd_kernels : &l->bwd_kernels))++;
    *(fwd ? &l->fwd_api_ns : &l->bwd_api_ns) += dur;
    if (has_gpu) {
      int64_t *g = fwd ? &l->fwd_gpu_ns : &l->bwd_gpu_ns;
      if (*g < 0)
        *g = 0;
      *g += ge - gs;
    }
  }
}

static void on_nccl(st *s, int op, int64_t dur, uint64_t bytes, int64_t gs, int64_t ge, int has_gpu)
{
  s->r->n_nccl++;
  if (op < 0 || op >= 16)
    return;
  mt_nccl_stat *n = &s->nccl[op];
  n->op = op;
  n->count++;
  n->bytes += bytes;
  n->api_ns += dur;
  if (has_gpu) {
    if (n->gpu_ns < 0)
      n->gpu_ns = 0;
    n->gpu_ns += ge - gs;
  }
}

/* ---- the merged walk --------------------------------------------------- */

enum { C_RANGE, C_MEM, C_REGION, C_KERNEL, C_NCCL, NCUR };

/* Each input of the walk: its table, the rows it takes (NULL: all) and the
 * columns read, all integers (a NULL time as -1; gpu times as 0 with a
 * column saying whether both are known), in (ts, rowid) order. */
typedef struct source {
  const char *table, *where, *cols;
  int ncols;
} source;

#define GPU_COLS "coalesce(gpu_start, 0), coalesce(gpu_end, 0), gpu_start IS NOT NULL AND gpu_end IS NOT NULL"
static const source sources[NCUR] = {
  { "ranges", "kind != 3", "ts, coalesce(te, -1), name_id, thread", 4 },
  { "mem_events", NULL, "ts, rowid, op, kind, device, addr, size, thread, stack, result, context, api", 12 },
  { "region_events", NULL, "ts, op, heap, addr, size, stream, thread, stack, label_id", 9 },
  { "kernels", NULL, "ts, dur, name_id, thread, " GPU_COLS, 7 },
  { "nccl_calls", NULL, "ts, dur, op, bytes, " GPU_COLS, 7 },
};

/* memory only: the region columns pass 1 uses without ranges (ts, op, heap,
   addr, size); the others read as 0.  Fewer columns: less SQLite work per
   row on region-heavy traces. */
static const source region_memory_only = { "region_events", NULL, "ts, op, heap, addr, size", 5 };

#define I64(st_, i) sqlite3_column_int64((st_), (i))

/* One of the walk's inputs: a statement, or the same rows read ahead in
 * another thread (prefetch.c). */
typedef struct cursor {
  sqlite3_stmt *q;
  mt__prefetch *pf;
  const int64_t *row;   /* pf's current row */
} cursor;

static inline int64_t col(const cursor *c, int i)
{
  return c->pf ? c->row[i] : I64(c->q, i);
}

/* The next row: MT_OK and *live = 1 (a row) or 0 (no more); else an error
 * code (MT__ERETRY from a memory-only read-ahead in rowid order that could
 * not go on: the pass starts again). */
static int cursor_step(st *s, cursor *c, int *live)
{
  if (c->pf) {
    c->row = mt__prefetch_next(c->pf);
    *live = c->row != NULL;
    int rc = c->row ? MT_OK : mt__prefetch_status(c->pf);
    return rc == MT_OK || s->opts->memory_only ? rc : fail(s, MT_ECORRUPT, "damaged");
  }
  int st_ = sqlite3_step(c->q);
  *live = st_ == SQLITE_ROW;
  return st_ == SQLITE_ROW || st_ == SQLITE_DONE ? MT_OK : fail(s, MT_ECORRUPT, "damaged");
}

/* Whether the trace was closed cleanly: no writer, so a second connection
 * sees what the first does. */
static int trace_finished(st *s)
{
  mt_process_info p;
  return mt_trace_process(s->t, &p) == MT_OK && p.end_ns >= 0;
}

/* An input's rows read ahead in another thread, or NULL: a finished trace
 * on a file, with MEMTRACE_THREADS not 1.  The memory-only pass reads its
 * region rows in rowid order (cheaper than through the time index; the
 * pass starts again in (ts, rowid) order on this connection when they are
 * not in time order) and its other inputs on this connection; the other
 * walks read every input in (ts, rowid) order (a lifetimes walk cannot
 * start again once it has called back). */
static mt__prefetch *read_ahead(st *s, int i, const source *src)
{
  const char *e = getenv("MEMTRACE_THREADS");
  const char *path = mt_trace_path(s->t);
  if ((e && atoi(e) == 1) || !path || !*path || (s->opts->memory_only && (i != C_REGION || !s->rowid_order)))
    return NULL;
  if (s->finished < 0)
    s->finished = trace_finished(s);
  if (!s->finished)
    return NULL;
  return mt__prefetch_start(path, src->table, src->where, src->cols, src->ncols, !s->opts->memory_only);
}

/* Opens input i at its first row: read ahead when it can be, else (also
 * when the read-ahead fails before its first row: nothing was walked yet)
 * a statement on the trace's connection. */
static int cursor_open(st *s, int i, cursor *c, int *live)
{
  const source *src = i == C_REGION && s->opts->memory_only ? &region_memory_only : &sources[i];
  if ((c->pf = read_ahead(s, i, src))) {
    c->row = mt__prefetch_next(c->pf);
    if (c->row || mt__prefetch_status(c->pf) == MT_OK) {
      *live = c->row != NULL;
      return MT_OK;
    }
    mt__prefetch_stop(c->pf);
    c->pf = NULL;
  }
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT %s FROM %s%s%s ORDER BY ts, rowid", src->cols, src->table,
           src->where ? " WHERE " : "", src->where ? src->where : "");
  if (sqlite3_prepare_v2(s->db, sql, -1, &c->q, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  return cursor_step(s, c, live);
}

static int out_of_time(int64_t t)
{
  return t < -MT_TIME_LIMIT || t > MT_TIME_LIMIT;
}

/* What the walk relies on in a row, checked as it is read (no pass of its
 * own): times in order and within MT_TIME_LIMIT, durations not negative,
 * sizes within MT_SIZE_LIMIT, extents that do not wrap the address space.
 * The time index's end points were checked when the trace was opened;
 * a row between them that breaks the order means a damaged index. */
static int check_row(st *s, int i, const cursor *c, int64_t *last)
{
  static const char *const table[NCUR] = { "ranges", "mem_events", "region_events", "kernels", "nccl_calls" };
  int64_t ts = col(c, 0);
  if (out_of_time(ts))
    return bad_row(s, table[i], "ts", ts);
  if (ts < *last) {
    mt_error_set(s->err, MT_ECORRUPT, "%s: damaged: %s out of time order (%lld after %lld; index damaged)",
                 mt_trace_path(s->t), table[i], (long long)ts, (long long)*last);
    return MT_ECORRUPT;
  }
  *last = ts;
  switch (i) {
  case C_RANGE:
    if (col(c, 1) != -1 && out_of_time(col(c, 1)))
      return bad_row(s, table[i], "te", col(c, 1));
    break;
  case C_MEM:
  case C_REGION: {
    int sz = i == C_MEM ? 6 : 4, ad = i == C_MEM ? 5 : 3;
    uint64_t size = (uint64_t)col(c, sz), addr = (uint64_t)col(c, ad);
    if (size > MT_SIZE_LIMIT)
      return bad_row(s, table[i], "size", col(c, sz));
    if (addr > UINT64_MAX - size)
      return bad_row(s, table[i], "addr", col(c, ad));
    break;
  }
  case C_KERNEL:
  case C_NCCL:
    if (col(c, 1) < 0 || col(c, 1) > MT_TIME_LIMIT)
      return bad_row(s, table[i], "dur", col(c, 1));
    if (i == C_NCCL && (uint64_t)col(c, 3) > MT_SIZE_LIMIT)
      return bad_row(s, table[i], "bytes", col(c, 3));
    if (col(c, 6) && (out_of_time(col(c, 4)) || out_of_time(col(c, 5))))
      return bad_row(s, table[i], "gpu_start", col(c, 4));
    break;
  }
  return MT_OK;
}

static int walk(st *s)
{
  cursor cur[NCUR] = { 0 };
  int live[NCUR] = { 0 };
  int64_t head[NCUR];   /* ts of each cursor's current row */
  int64_t last[NCUR];   /* ts of each cursor's previous row */
  int rc = MT_OK;
  for (int i = 0; i < NCUR; i++)
    last[i] = INT64_MIN;
  int mem = !s->visit || s->visit->lifetime;   /* a lifetimes walk reads what its callbacks need */
  int want[NCUR] = { !s->opts->memory_only, mem, mem, s->pass == 2 && (!s->visit || s->visit->range),
                     s->pass == 2 && !s->visit };
  for (int i = 0; i < NCUR; i++) {
    if (!want[i])
      continue;
    if ((rc = cursor_open(s, i, &cur[i], &live[i])) != MT_OK)
      goto out;
    if (live[i])
      head[i] = col(&cur[i], 0);
  }
  s->pending_ts = NO_TS;
  s->destroyed_pos = 0;
  for (;;) {
    if (s->stop)
      goto out;
    int best = -1;
    int64_t bts = INT64_MAX;
    for (int i = 0; i < NCUR; i++)
      if (live[i] && head[i] < bts) {
        bts = head[i];
        best = i;
      }
    /* heap destructions: after the events of their instant */
    heapinfo *hd = NULL;
    if (s->destroyed_pos < s->ndestroyed) {
      heapinfo *h = &s->heaps[s->by_destroyed[s->destroyed_pos]];
      if (h->destroyed < bts) {
        hd = h;
        bts = h->destroyed;
        best = -2;
      }
    }
    /* range ends come before anything at or after their end time */
    if (s->nends && s->ends[0].te <= bts && s->ends[0].te != INT64_MAX) {
      if (s->pending_ts != NO_TS && s->ends[0].te > s->pending_ts) {
        instant(s, s->pending_ts);
        s->pending_ts = NO_TS;
      }
      range_end(s, ends_pop(s));
      continue;
    }
    if (best == -1)
      break;
    if (s->pending_ts != NO_TS && bts > s->pending_ts) {
      instant(s, s->pending_ts);
      s->pending_ts = NO_TS;
    }
    if ((rc = before_event(s, bts)) != MT_OK)
      goto out;
    if (best == -2) {
      s->destroyed_pos++;
      on_heap_destroyed(s, hd, hd->destroyed);
      continue;
    }
    cursor *c = &cur[best];
    if ((rc = check_row(s, best, c, &last[best])) != MT_OK)
      goto out;
    switch (best) {
    case C_RANGE:
      s->r->n_ranges += s->pass == 1;
      rc = range_push(s, col(c, 0), col(c, 1), col(c, 2), col(c, 3));
      break;
    case C_MEM: {
      memrow m = { .ts = col(c, 0), .rowid = col(c, 1), .op = (int)col(c, 2), .kind = (int)col(c, 3),
                   .device = (int)col(c, 4), .addr = (uint64_t)col(c, 5), .size = (uint64_t)col(c, 6),
                   .thread = col(c, 7), .stack = col(c, 8), .result = (int)col(c, 9), .context = (int)col(c, 10),
                   .api = (int)col(c, 11) };
      rc = on_mem(s, &m);
      break;
    }
    case C_REGION: {
      regrow e = { .ts = col(c, 0), .op = (int)col(c, 1), .heap = col(c, 2), .addr = (uint64_t)col(c, 3),
                   .size = (uint64_t)col(c, 4) };
      if (!s->opts->memory_only) {
        e.stream = col(c, 5);
        e.thread = col(c, 6);
        e.stack = col(c, 7);
        e.label_id = col(c, 8);
      }
      rc = on_region(s, &e);
      break;
    }
    case C_KERNEL:
      on_kernel(s, col(c, 0), col(c, 1), col(c, 2), col(c, 3), col(c, 4), col(c, 5), (int)col(c, 6));
      break;
    case C_NCCL: {
      int g = (int)col(c, 6);
      on_nccl(s, (int)col(c, 2), col(c, 1), (uint64_t)col(c, 3), col(c, 4), col(c, 5), g);
      s->nccl_gpu |= g;
      break;
    }
    }
    if (rc != MT_OK)
      goto out;
    if ((rc = cursor_step(s, c, &live[best])) != MT_OK)
      goto out;
    if (live[best])
      head[best] = col(c, 0);
  }
  if (s->pending_ts != NO_TS)
    instant(s, s->pending_ts);
  if ((rc = before_event(s, INT64_MAX)) != MT_OK)
    goto out;
out:
  for (int i = 0; i < NCUR; i++) {
    sqlite3_finalize(cur[i].q);
    mt__prefetch_stop(cur[i].pf);
  }
  return rc;
}

/* Clears the live state and range stacks between passes. */
static void reset_state(st *s)
{
  for (size_t i = 0; i < s->threads.cap; i++)
    if (s->threads.e[i].used) {
      tstack *t = (tstack *)(uintptr_t)s->threads.e[i].v;
      if (t)
        free(t->f);
      free(t);
    }
  mt__map_free(&s->threads);
  mt__map_init(&s->threads, 16);
  s->nends = 0;
  s->seq = 0;
  s->cur_step = -1;
  s->last_thread = 0;
  mt__map_free(&s->allocs);
  mt__map_free(&s->regions);
  mt__map_init(&s->allocs, 1024);
  mt__map_init(&s->regions, 1024);
  memset(s->cur_alloc, 0, sizeof s->cur_alloc);
  memset(s->cur_res, 0, sizeof s->cur_res);
  s->alloc_total = s->res_total = s->pinned = 0;
  for (size_t i = 0; i < s->nheaps; i++)
    s->heaps[i].live_regions = 0;
  memset(&s->ev, 0, sizeof s->ev);
  s->ev.step = s->ev.layer = -1;
}

/* ---- coverage ---------------------------------------------------------- */

static int cmp_destroyed(const void *a, const void *b, void *h_)
{
  const heapinfo *h = h_;
  int64_t x = h[*(const size_t *)a].destroyed, y = h[*(const size_t *)b].destroyed;
  return x < y ? -1 : x > y;
}

static int cmp_addr(const void *a, const void *b, void *h_)
{
  const heapinfo *h = h_;
  uint64_t x = h[*(const size_t *)a].addr, y = h[*(const size_t *)b].addr;
  return x < y ? -1 : x > y;
}

static int cmp_created(const void *a, const void *b, void *h_)
{
  const heapinfo *h = h_;
  int64_t x = h[*(const size_t *)a].created, y = h[*(const size_t *)b].created;
  return x < y ? -1 : x > y;
}

static int load_heaps(st *s)
{
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(s->db, "SELECT id, device, addr, size, coalesce(created, 0), coalesce(destroyed, -1), "
                                "usage FROM heaps ORDER BY id", -1, &q, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  mt__vec v = { .elem = sizeof(heapinfo) };
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    heapinfo *h = mt__vec_push(&v);
    if (!h) {
      sqlite3_finalize(q);
      mt__vec_free(&v);
      return nomem(s);
    }
    h->id = I64(q, 0);
    h->device = (int)I64(q, 1);
    h->addr = (uint64_t)I64(q, 2);
    h->size = (uint64_t)I64(q, 3);
    h->created = I64(q, 4);
    h->destroyed = I64(q, 5);
    h->framework = I64(q, 6) == MT_HEAP_FRAMEWORK_POOL;
    if (h->addr > UINT64_MAX - h->size || h->created < -MT_TIME_LIMIT || h->created > MT_TIME_LIMIT ||
        h->destroyed < -MT_TIME_LIMIT || h->destroyed > MT_TIME_LIMIT) {
      int wraps = h->addr > UINT64_MAX - h->size;
      int64_t bad = wraps ? (int64_t)h->addr : h->created;
      sqlite3_finalize(q);
      mt__vec_free(&v);   /* h pointed into v */
      return bad_row(s, "heaps", wraps ? "addr" : "created", bad);
    }
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) {
    mt__vec_free(&v);
    return fail(s, MT_ECORRUPT, "damaged");
  }
  s->heaps = v.p;
  s->nheaps = v.n;
  mt__map_init(&s->heap_idx, s->nheaps + 1);
  s->by_destroyed = malloc((s->nheaps + 1) * sizeof(size_t));
  s->by_addr = malloc((s->nheaps + 1) * sizeof(size_t));
  if (!s->by_destroyed || !s->by_addr)
    return nomem(s);
  for (size_t i = 0; i < s->nheaps; i++) {
    uint64_t *slot = mt__map_put(&s->heap_idx, (uint64_t)s->heaps[i].id, 0, NULL);
    if (!slot)
      return nomem(s);
    *slot = i;
    if (s->heaps[i].destroyed >= 0)
      s->by_destroyed[s->ndestroyed++] = i;
    if (s->heaps[i].size > 0) {
      s->by_addr[s->naddr++] = i;
      if (s->heaps[i].size > s->max_heap_size)
        s->max_heap_size = s->heaps[i].size;
    }
  }
  qsort_r(s->by_destroyed, s->ndestroyed, sizeof(size_t), cmp_destroyed, s->heaps);
  qsort_r(s->by_addr, s->naddr, sizeof(size_t), cmp_addr, s->heaps);
  return MT_OK;
}

/* Index in by_addr of the first heap that may cover address a (none
 * starts more than the largest heap's size below it). */
static size_t heaps_from(st *s, uint64_t a)
{
  uint64_t lo = a > s->max_heap_size ? a - s->max_heap_size : 0;
  size_t l = 0, h = s->naddr;
  while (l < h) {
    size_t m = (l + h) / 2;
    if (s->heaps[s->by_addr[m]].addr < lo)
      l = m + 1;
    else
      h = m;
  }
  return l;
}

/* Is [a, a+n) overlapped by a heap alive at ts? */
static int heap_covers_at(st *s, uint64_t a, uint64_t n, int64_t ts)
{
  if (!s->naddr)
    return 0;
  for (size_t i = heaps_from(s, a); i < s->naddr; i++) {
    heapinfo *hp = &s->heaps[s->by_addr[i]];
    if (hp->addr >= a + n)
      break;
    if (hp->addr + hp->size > a && hp->created <= ts && (hp->destroyed < 0 || hp->destroyed > ts))
      return 1;
  }
  return 0;
}

/* Marks the device allocations and mappings that heaps cover: those inside
 * a heap alive when they were made, and those alive when a heap over them
 * was created. */
static int coverage(st *s)
{
  if (!s->naddr)
    return MT_OK;
  size_t *order = malloc(s->naddr * sizeof *order);
  if (!order)
    return nomem(s);
  memcpy(order, s->by_addr, s->naddr * sizeof *order);
  qsort_r(order, s->naddr, sizeof *order, cmp_created, s->heaps);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(s->db, "SELECT ts, rowid, op, kind, addr, size, result FROM mem_events "
                                "WHERE op IN (1, 2, 7, 8) ORDER BY ts, rowid", -1, &q, NULL) != SQLITE_OK) {
    free(order);
    return fail(s, MT_ECORRUPT, "damaged");
  }
  mt__map live;   /* (cls, addr) -> rowid; sizes in a second map */
  mt__map sizes;
  mt__map_init(&live, 256);
  mt__map_init(&sizes, 256);
  size_t hp = 0;
  int rc = MT_OK, srow;
  for (;;) {
    srow = sqlite3_step(q);
    int64_t ts = srow == SQLITE_ROW ? I64(q, 0) : INT64_MAX;
    /* heaps created before this event: cover what is live under them */
    while (hp < s->naddr && s->heaps[order[hp]].created < ts) {
      heapinfo *h = &s->heaps[order[hp++]];
      /* a cudaMalloc'd segment is one allocation at the heap's address;
         an expandable segment is many mappings, made before the history
         entry that names the heap (so all of them are searched) */
      uint64_t *rid = mt__map_get(&live, CLS_DEV, h->addr);
      if (rid) {
        mt__map_put(&s->covered, *rid, 0, NULL);
        continue;
      }
      for (size_t i = 0; i < live.cap; i++) {
        if (!live.e[i].used)
          continue;
        uint64_t *sz = mt__map_get(&sizes, live.e[i].v, 0);
        uint64_t a = live.e[i].k2, n = sz ? *sz : 1;
        if (a < h->addr + h->size && a + n > h->addr)
          mt__map_put(&s->covered, live.e[i].v, 0, NULL);
      }
    }
    if (srow != SQLITE_ROW)
      break;
    int op = (int)I64(q, 2), kind = (int)I64(q, 3);
    uint64_t addr = (uint64_t)I64(q, 4), size = (uint64_t)I64(q, 5);
    int64_t rowid = I64(q, 1);
    if (kind == MT_MEM_KIND_HOST_PINNED || addr == 0 || I64(q, 6) != 0)
      continue;
    int cls = op == MT_MEM_ALLOC || op == MT_MEM_FREE ? CLS_DEV : CLS_MAP;
    if (op == MT_MEM_ALLOC || op == MT_MEM_MAP) {
      uint64_t *v = mt__map_put(&live, cls, addr, NULL);
      uint64_t *z = mt__map_put(&sizes, (uint64_t)rowid, 0, NULL);
      if (!v || !z) {
        rc = nomem(s);
        break;
      }
      *v = (uint64_t)rowid;
      *z = size;
      if (heap_covers_at(s, addr, size ? size : 1, ts))
        mt__map_put(&s->covered, (uint64_t)rowid, 0, NULL);
    } else {
      uint64_t old;
      if (mt__map_del(&live, cls, addr, &old))
        mt__map_del(&sizes, old, 0, NULL);
    }
  }
  if (rc == MT_OK && srow != SQLITE_DONE)
    rc = fail(s, MT_ECORRUPT, "damaged");
  sqlite3_finalize(q);
  mt__map_free(&live);
  mt__map_free(&sizes);
  free(order);
  return rc;
}

/* ---- results ----------------------------------------------------------- */

static int cmp_obj_size(const void *a, const void *b)
{
  const mt_object *x = a, *y = b;
  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  return x->alloc_ts < y->alloc_ts ? -1 : x->alloc_ts > y->alloc_ts;
}

static int cmp_obj_heap_addr(const void *a, const void *b)
{
  const mt_object *x = a, *y = b;
  if (x->heap != y->heap)
    return x->heap < y->heap ? -1 : 1;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* An object's size at ts (o.size is its last): region resizes move it. */
static uint64_t size_at(const obj *o, int64_t ts)
{
  uint64_t size = o->size0;
  for (size_t k = 0; k < o->nresizes && o->resizes[k].ts <= ts; k++)
    size = o->resizes[k].size;
  return size;
}

static int cmp_seg(const void *a, const void *b)
{
  const mt_segment_frag *x = a, *y = b;
  uint64_t fx = x->size - x->used, fy = y->size - y->used;
  if (x->largest_free != y->largest_free)
    return x->largest_free > y->largest_free ? -1 : 1;
  return fx > fy ? -1 : fx < fy;
}

/* Fills a snapshot from its live-set copy (after every object is settled). */
static int finish_snapshot(st *s, target *tg)
{
  mt_snapshot *sn = tg->snap;
  size_t n = tg->objs.n;
  /* the objects as they were at ts (sizes before later resizes) */
  mt_object *v = malloc((n + 1) * sizeof *v);
  if (!v)
    return nomem(s);
  for (size_t i = 0; i < n; i++) {
    obj *o = ((obj **)tg->objs.p)[i];
    v[i] = o->o;
    v[i].size = size_at(o, sn->ts);
    sn->by_category[v[i].category] += v[i].size;
    sn->by_rule[v[i].rule] += v[i].size;
  }
  sn->by_category[MT_CAT_CACHE_FREE] = sn->reserved > sn->allocated ? sn->reserved - sn->allocated : 0;
  sn->by_rule[MT_RULE_CACHE] = sn->by_category[MT_CAT_CACHE_FREE];
  /* fragmentation: the free gaps of each heap alive at ts */
  mt__sort(v, n, sizeof *v, cmp_obj_heap_addr);
  mt__vec segs = { .elem = sizeof(mt_segment_frag) };
  size_t j = 0;
  for (size_t hi = 0; hi < s->naddr; hi++) {
    heapinfo *h = &s->heaps[s->by_addr[hi]];
    if (h->created > sn->ts || (h->destroyed >= 0 && h->destroyed <= sn->ts))
      continue;
    mt_segment_frag *f = mt__vec_push(&segs);
    if (!f) {
      free(v);
      mt__vec_free(&segs);
      return nomem(s);
    }
    f->heap = h->id;
    f->device = h->device;
    f->addr = h->addr;
    f->size = h->size;
  }
  /* objects sorted by heap id; segments by address: index segments by heap id */
  mt__map seg_of;
  mt__map_init(&seg_of, segs.n + 1);
  mt_segment_frag *sv = segs.p;
  for (size_t i = 0; i < segs.n; i++) {
    uint64_t *x = mt__map_put(&seg_of, (uint64_t)sv[i].heap, 0, NULL);
    if (x)
      *x = i + 1;
  }
  for (size_t i = 0; i < n; i = j) {
    j = i;
    while (j < n && v[j].heap == v[i].heap)
      j++;
    if (!v[i].is_tensor)
      continue;
    uint64_t *x = mt__map_get(&seg_of, (uint64_t)v[i].heap, 0);
    if (!x)
      continue;
    mt_segment_frag *f = &sv[*x - 1];
    uint64_t pos = f->addr, end = f->addr + f->size;
    /* blocks outside their heap's range (an import that lacks segment
       addresses gives a synthetic range): its layout is unknown, and gaps
       measured against it would be the range's size (4 EiB) */
    size_t out = 0;
    for (size_t k = i; k < j; k++)
      out += v[k].addr < f->addr || v[k].addr - f->addr > f->size || v[k].size > end - v[k].addr;
    if (out) {
      f->nblocks = UINT64_MAX;
      continue;
    }
    for (size_t k = i; k < j; k++) {
      const mt_object *o = &v[k];
      if (o->addr > pos && o->addr <= end && o->addr - pos > f->largest_free)
        f->largest_free = o->addr - pos;
      if (o->addr + o->size > pos)
        pos = o->addr + o->size;
      f->used += o->size;
      f->nblocks++;
    }
    if (end > pos && end - pos > f->largest_free)
      f->largest_free = end - pos;
    if (f->used > f->size)
      f->used = f->size;
  }
  size_t known = 0;
  for (size_t i = 0; i < segs.n; i++) {
    if (sv[i].nblocks == UINT64_MAX)   /* layout unknown: left out */
      continue;
    if (sv[i].nblocks == 0)
      sv[i].largest_free = sv[i].size;
    if (sv[i].largest_free > sn->largest_free_block)
      sn->largest_free_block = sv[i].largest_free;
    sv[known++] = sv[i];
  }
  segs.n = known;
  mt__map_free(&seg_of);
  mt__sort(sv, segs.n, sizeof *sv, cmp_seg);
  sn->segments = sv;
  sn->nsegments = segs.n;
  /* the largest objects */
  mt__sort(v, n, sizeof *v, cmp_obj_size);
  size_t keep = n < s->opts->max_objects ? n : s->opts->max_objects;
  mt_object *kept = realloc(v, (keep + 1) * sizeof *v);
  sn->objects = kept ? kept : v;
  sn->nobjects = keep;
  return MT_OK;
}

static int cmp_kern(const void *a, const void *b)
{
  const mt_kernel_stat *x = a, *y = b;
  int64_t tx = x->gpu_ns > 0 ? x->gpu_ns : x->api_ns, ty = y->gpu_ns > 0 ? y->gpu_ns : y->api_ns;
  return tx > ty ? -1 : tx < ty;
}

static int cmp_group(const void *a, const void *b)
{
  const mt_alloc_group *x = a, *y = b;
  if (x->peak_bytes != y->peak_bytes)
    return x->peak_bytes > y->peak_bytes ? -1 : 1;
  if (x->total_bytes != y->total_bytes)
    return x->total_bytes > y->total_bytes ? -1 : 1;
  return strcmp(x->key, y->key);
}

static int build_groups(st *s, target *peak)
{
  mt_rank *r = s->r;
  group_acc *g = s->groupv.p;
  /* bytes live at the peak, per group */
  obj **v = peak ? peak->objs.p : NULL;
  for (size_t i = 0; peak && i < peak->objs.n; i++) {
    obj *o = v[i];
    uint64_t k1 = o->label_id > 0 ? (uint64_t)o->label_id : 0;
    uint64_t k2 = o->label_id > 0 ? 0 : ((uint64_t)o->o.stack << 8) | ((uint64_t)o->o.category << 1) | (uint64_t)o->o.is_tensor;
    uint64_t *gi = mt__map_get(&s->groups, k1, k2);
    if (gi)
      g[*gi - 1].peak += size_at(o, peak->ts);
  }
  /* name each group; merge the ones whose names coincide */
  mt__vec out = { .elem = sizeof(mt_alloc_group) };
  mt__map byname;
  mt__map_init(&byname, s->groupv.n + 1);
  for (size_t i = 0; i < s->groupv.n; i++) {
    char buf[512];
    const char *key;
    if (g[i].label_id > 0) {
      key = mt__str(s->strs, g[i].label_id);
      if (!key)
        key = "(unnamed)";
    } else {
      int guess;
      const char *where = stack_where(s, g[i].stack, &guess);
      if (where)
        snprintf(buf, sizeof buf, "%s at %s", g[i].is_tensor ? "tensor" : "cudaMalloc", where);
      else
        snprintf(buf, sizeof buf, "(unlabelled %s %s)", mt_category_name(g[i].category),
                 g[i].is_tensor ? "tensors" : "device allocations");
      key = buf;
    }
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
      h = (h ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t *slot = NULL;
    int fresh = 1;
    for (uint64_t probe = 0;; probe++) {
      slot = mt__map_put(&byname, h, probe, &fresh);
      if (!slot)
        return nomem(s);
      if (fresh || strcmp(((mt_alloc_group *)out.p)[*slot - 1].key, key) == 0)
        break;
    }
    if (fresh) {
      mt_alloc_group *ng = mt__vec_push(&out);
      if (!ng)
        return nomem(s);
      ng->key = mt__strdup(s->strs, key);
      ng->category = g[i].category;
      ng->rule = g[i].rule;
      *slot = out.n;
    }
    mt_alloc_group *ng = (mt_alloc_group *)out.p + (*slot - 1);
    ng->count += g[i].count;
    ng->total_bytes += g[i].total;
    ng->peak_bytes += g[i].peak;
    if (g[i].max_size > ng->max_size)
      ng->max_size = g[i].max_size;
  }
  mt__map_free(&byname);
  mt__sort(out.p, out.n, sizeof(mt_alloc_group), cmp_group);
  size_t keep = out.n < s->opts->max_groups ? out.n : s->opts->max_groups;
  r->groups = out.p;
  r->ngroups = keep;
  return MT_OK;
}

/* Merged GPU busy intervals of NCCL calls vs. kernels: how much of the
 * communication time ran while a compute kernel ran. */
static int overlap(st *s)
{
  mt_rank *r = s->r;
  r->comm_gpu_ns = r->compute_gpu_ns = r->overlap_gpu_ns = -1;
  sqlite3_stmt *qc = NULL, *qk = NULL;
  int rc = MT_OK;
  if (sqlite3_prepare_v2(s->db, "SELECT gpu_start, gpu_end FROM nccl_calls WHERE gpu_start IS NOT NULL AND "
                                "gpu_end IS NOT NULL ORDER BY gpu_start", -1, &qc, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "SELECT k.gpu_start, k.gpu_end FROM kernels k LEFT JOIN strings n ON n.id = k.name_id "
                                "WHERE k.gpu_start IS NOT NULL AND k.gpu_end IS NOT NULL AND "
                                "coalesce(n.value, '') NOT LIKE 'nccl%' ORDER BY k.gpu_start", -1, &qk, NULL) !=
          SQLITE_OK) {
    rc = fail(s, MT_ECORRUPT, "damaged");
    goto out;
  }
  mt__vec comm = { .elem = 2 * sizeof(int64_t) };
  int64_t total = 0;
  int qrc;
  while ((qrc = sqlite3_step(qc)) == SQLITE_ROW) {
    int64_t a = I64(qc, 0), b = I64(qc, 1);
    int64_t *last = comm.n ? (int64_t *)comm.p + 2 * (comm.n - 1) : NULL;
    if (last && a <= last[1]) {
      if (b > last[1])
        last[1] = b;
      continue;
    }
    int64_t *e = mt__vec_push(&comm);
    if (!e) {
      mt__vec_free(&comm);
      rc = nomem(s);
      goto out;
    }
    e[0] = a;
    e[1] = b;
  }
  if (qrc != SQLITE_DONE) {
    mt__vec_free(&comm);
    rc = fail(s, MT_ECORRUPT, "damaged");
    goto out;
  }
  for (size_t i = 0; i < comm.n; i++)
    total += ((int64_t *)comm.p)[2 * i + 1] - ((int64_t *)comm.p)[2 * i];
  int64_t compute = 0, ov = 0, ca = 0, cb = -1;
  size_t ci = 0;
  int any = 0;
  for (;;) {
    int row = sqlite3_step(qk) == SQLITE_ROW;
    int64_t a = row ? I64(qk, 0) : INT64_MAX, b = row ? I64(qk, 1) : INT64_MAX;
    if (row)
      any = 1;
    if (cb >= 0 && (!row || a > cb)) {
      /* flush [ca, cb] */
      compute += cb - ca;
      while (ci < comm.n && ((int64_t *)comm.p)[2 * ci + 1] <= ca)
        ci++;
      for (size_t k = ci; k < comm.n && ((int64_t *)comm.p)[2 * k] < cb; k++) {
        int64_t lo = ((int64_t *)comm.p)[2 * k], hi = ((int64_t *)comm.p)[2 * k + 1];
        if (lo < ca)
          lo = ca;
        if (hi > cb)
          hi = cb;
        if (hi > lo)
          ov += hi - lo;
      }
      cb = -1;
    }
    if (!row)
      break;
    if (cb < 0) {
      ca = a;
      cb = b;
    } else if (b > cb)
      cb = b;
  }
  if (comm.n)
    r->comm_gpu_ns = total;
  if (any)
    r->compute_gpu_ns = compute;
  if (comm.n && any)
    r->overlap_gpu_ns = ov;
  mt__vec_free(&comm);
out:
  sqlite3_finalize(qc);
  sqlite3_finalize(qk);
  return rc;
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

void mt__effective_rank(mt_trace *t, const mt_process_info *p, int *rank, int *world)
{
  *rank = p->rank;
  *world = p->world_size;
  /* no rank in the environment (a launcher that forks without RANK): the
     collector's guess from the largest NCCL communicator, as memtrace info */
  int64_t nw = meta_int(mt_trace_db(t), "world_size.nccl", -1);
  if (nw > 0 && p->world_size <= 1 && p->rank == 0) {
    *rank = (int)meta_int(mt_trace_db(t), "rank.nccl", 0);
    *world = (int)nw;
  }
}

static int load_process(st *s)
{
  mt_rank *r = s->r;
  mt_process_info p;
  mt_error e = { 0 };
  if (mt_trace_process(s->t, &p) != MT_OK)
    return fail(s, MT_ECORRUPT, "damaged (process record)");
  (void)e;
  snprintf(r->run_id, sizeof r->run_id, "%s", p.run_id);
  snprintf(r->host, sizeof r->host, "%s", p.host);
  mt__effective_rank(s->t, &p, &r->rank, &r->world_size);
  r->local_rank = p.local_rank;
  r->pid = p.pid;
  r->start_ns = p.start_ns;
  r->end_ns = p.end_ns;
  r->command_line = strdup(p.command_line ? p.command_line : "");
  r->producer = strdup(p.producer ? p.producer : "");
  r->cupti = strdup(p.cupti ? p.cupti : "");
  r->path = strdup(mt_trace_path(s->t));
  if (!r->command_line || !r->producer || !r->cupti || !r->path)
    return nomem(s);
  /* drops */
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(s->db, "SELECT kind, sum(count), group_concat(DISTINCT reason) FROM drops GROUP BY kind "
                                "ORDER BY kind", -1, &q, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  char buf[1024] = "";
  size_t len = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    int64_t c = I64(q, 1);
    r->dropped += (uint64_t)(c > 0 ? c : 0);
    const char *k = (const char *)sqlite3_column_text(q, 0), *why = (const char *)sqlite3_column_text(q, 2);
    if (c > 0 && len < sizeof buf - 1)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s %lld%s%s%s", len ? ", " : "", k ? k : "?",
                              (long long)c, why && *why ? " (" : "", why && *why ? why : "", why && *why ? ")" : "");
  }
  sqlite3_finalize(q);
  if (len) {
    if (len >= sizeof buf)
      len = sizeof buf - 1;
    r->drops_detail = strdup(buf);
  }
  /* an importer says what the source format could not give */
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'import.lacks'", -1, &q, NULL) == SQLITE_OK) {
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
      r->import_lacks = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
  }
  /* the GPUs the trace ran on, for the rank's header */
  if (sqlite3_prepare_v2(s->db, "SELECT d.id, s.value, d.total_bytes FROM devices d LEFT JOIN strings s ON "
                                "s.id = d.name_id ORDER BY d.id", -1, &q, NULL) == SQLITE_OK) {
    char g[1024] = "", sz[32];
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n < sizeof g - 1) {
      const char *nm = (const char *)sqlite3_column_text(q, 1);
      int64_t tb = I64(q, 2);
      n += (size_t)snprintf(g + n, sizeof g - n, "%s%s (cuda:%lld%s%s)", n ? "; " : "", nm && *nm ? nm : "cuda",
                            (long long)I64(q, 0), tb > 0 ? ", " : "", tb > 0 ? mt_size_str((uint64_t)tb, sz, sizeof sz) : "");
    }
    sqlite3_finalize(q);
    if (n)
      r->gpus = strdup(g);
  }
  if (r->end_ns < 0) {
    r->incomplete = 1;
    r->incomplete_reason = strdup(
        "the process never closed its trace (killed or crashed): events of its last unwritten batch are "
        "missing, the end time is unknown, and what was live at the end was never freed");
  }
  /* the ooms table */
  if (sqlite3_prepare_v2(s->db, "SELECT ts, device, api, source, requested, coalesce(free_bytes, -1), "
                                "coalesce(total_bytes, -1) FROM ooms ORDER BY ts, rowid", -1, &q, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  while (sqlite3_step(q) == SQLITE_ROW)
    add_oom(s, I64(q, 0), (int)I64(q, 1), (int)I64(q, 2), (int)I64(q, 3), (uint64_t)I64(q, 4), I64(q, 5), I64(q, 6));
  sqlite3_finalize(q);
  /* time span */
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  /* one aggregate per subquery: SQLite answers a lone min() or max() from
     the time index in O(log n), both in one SELECT by scanning it (0.6 s on
     7.4 M region events) */
  static const char *const span[] = {
    "SELECT (SELECT min(ts) FROM mem_events), (SELECT max(ts) FROM mem_events)",
    "SELECT (SELECT min(ts) FROM region_events), (SELECT max(ts) FROM region_events)" };
  for (int i = 0; i < 2; i++) {
    if (sqlite3_prepare_v2(s->db, span[i], -1, &q, NULL) != SQLITE_OK)
      return fail(s, MT_ECORRUPT, "damaged");
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
      if (I64(q, 0) < lo)
        lo = I64(q, 0);
      if (I64(q, 1) > hi)
        hi = I64(q, 1);
    }
    sqlite3_finalize(q);
  }
  if (lo == INT64_MAX)
    lo = hi = 0;
  r->first_ts = lo;
  r->last_ts = hi;
  return MT_OK;
}

static int timeline_init(st *s)
{
  mt_timeline *tl = &s->r->timeline;
  size_t n = s->opts->timeline_samples ? s->opts->timeline_samples : 400;
  tl->n = n;
  tl->t0 = s->r->first_ts;
  int64_t span = s->r->last_ts - s->r->first_ts;
  tl->dt = span > 0 ? (span + (int64_t)n - 2) / (int64_t)(n - 1) : 1;
  if (tl->dt < 1)
    tl->dt = 1;
  tl->allocated = calloc(n, sizeof(uint64_t));
  tl->reserved = calloc(n, sizeof(uint64_t));
  tl->allocated_max = calloc(n, sizeof(uint64_t));
  tl->reserved_max = calloc(n, sizeof(uint64_t));
  if (!tl->allocated || !tl->reserved || !tl->allocated_max || !tl->reserved_max)
    return nomem(s);
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    tl->by_category[c] = calloc(n, sizeof(uint64_t));
    s->tl_diff[c] = calloc(n + 1, sizeof(int64_t));
    if (!tl->by_category[c] || !s->tl_diff[c])
      return nomem(s);
  }
  return MT_OK;
}

static void drop_live(st *s)
{
  mt__map *maps[2] = { &s->regions, &s->allocs };
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < maps[m]->cap; i++) {
      mt__map_ent *en = &maps[m]->e[i];
      if (!en->used || (m == 1 && (en->v & (1ull << 47))))
        continue;
      release_obj(s, (obj *)(uintptr_t)en->v);
      en->used = 0;
    }
}

static void st_free(st *s)
{
  if (s->pass == 2)
    drop_live(s);
  obj **ov = s->orphans.p;
  for (size_t i = 0; i < s->orphans.n; i++)
    release_obj(s, ov[i]);
  mt__vec_free(&s->orphans);
  reset_state(s);   /* frees range stacks; pass-2 objects are freed by the caller first */
  mt__map_free(&s->threads);
  mt__map_free(&s->allocs);
  mt__map_free(&s->regions);
  free(s->ends);
  mt__map_free(&s->rclass);
  free(s->heaps);
  mt__map_free(&s->heap_idx);
  free(s->by_destroyed);
  free(s->by_addr);
  mt__map_free(&s->covered);
  mt__vec_free(&s->steps);
  for (size_t i = 0; i < s->ntargets; i++) {
    obj **v = s->targets[i].objs.p;
    for (size_t j = 0; j < s->targets[i].objs.n; j++)
      if (--v[j]->refs == 0 && !v[j]->live)
        obj_free(v[j]);
    mt__vec_free(&s->targets[i].objs);
  }
  free(s->targets);
  mt__map_free(&s->groups);
  mt__vec_free(&s->groupv);
  mt__map_free(&s->layer_act);
  mt__map_free(&s->kern);
  mt__vec_free(&s->kernv);
  mt__vec_free(&s->layerv);
  for (int c = 0; c < MT_CAT_COUNT; c++)
    free(s->tl_diff[c]);
  mt__map_free(&s->stackinfo);
  mt__map_free(&s->modkind);
  sqlite3_finalize(s->frame_stmt);
}

static int cmp_obj_seq(const void *a, const void *b)
{
  const obj *x = *(obj *const *)a, *y = *(obj *const *)b;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Settles every object still live at the end of the trace and frees those
 * no snapshot holds.  A lifetimes walk settles them in allocation order. */
static int settle_live(st *s)
{
  mt__map *maps[2] = { &s->regions, &s->allocs };
  if (s->visit) {
    for (int m = 0; m < 2; m++)
      for (size_t i = 0; i < maps[m]->cap; i++) {
        mt__map_ent *en = &maps[m]->e[i];
        if (!en->used || (m == 1 && (en->v & (1ull << 47))))
          continue;
        obj **slot = mt__vec_push(&s->orphans);
        if (!slot)
          return nomem(s);
        *slot = (obj *)(uintptr_t)en->v;
        if (m == 1)
          ((obj *)(uintptr_t)en->v)->o.rule = 0;
        en->used = 0;
      }
    maps[0]->n = maps[1]->n = 0;
    mt__sort(s->orphans.p, s->orphans.n, sizeof(obj *), cmp_obj_seq);
  }
  /* device allocations allocated again without a free (and, for a
     lifetimes walk, everything live): never freed as far as the trace says */
  obj **ov = s->orphans.p;
  for (size_t i = 0; i < s->orphans.n; i++) {
    ov[i]->o.rule = 0;
    ov[i]->o.free_ts = -1;
    ov[i]->end = MT_END_ALIVE;
    settle(s, ov[i]);
    release_obj(s, ov[i]);
  }
  mt__vec_free(&s->orphans);
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < maps[m]->cap; i++) {
      mt__map_ent *en = &maps[m]->e[i];
      if (!en->used || (m == 1 && (en->v & (1ull << 47))))
        continue;
      obj *o = (obj *)(uintptr_t)en->v;
      if (m == 1)
        o->o.rule = 0;
      o->o.free_ts = -1;
      o->end = MT_END_ALIVE;
      settle(s, o);
      release_obj(s, o);
      en->used = 0;
    }
  maps[0]->n = maps[1]->n = 0;
  return MT_OK;
}

static int cmp_step(const void *a, const void *b)
{
  const mt_step_peak *x = a, *y = b;
  return x->step - y->step;
}

/* The walk's state for one trace; r receives the strings (r->priv). */
static int st_init(st *s, mt_trace *t, const mt_analysis_opts *opts, mt_rank *r, mt_error *err)
{
  s->t = t;
  s->damage0 = mt_trace_damage_seen(NULL, 0);
  s->db = mt_trace_db(t);
  s->r = r;
  s->err = err;
  s->opts = opts;
  s->groupv.elem = sizeof(group_acc);
  s->kernv.elem = sizeof(kern_acc);
  s->steps.elem = sizeof(mt_step_peak);
  s->orphans.elem = sizeof(obj *);
  r->peak.step = r->peak_reserved_step = -1;
  mt__map_init(&s->rclass, 64);
  mt__map_init(&s->covered, 64);
  mt__map_init(&s->groups, 256);
  mt__map_init(&s->layer_act, 64);
  mt__map_init(&s->kern, 256);
  mt__map_init(&s->stackinfo, 64);
  mt__map_init(&s->modkind, 16);
  mt__strs *strs = calloc(1, sizeof *strs);
  if (!strs)
    return nomem(s);
  r->priv = strs;
  s->strs = strs;
  mt__map_init(&strs->ids, 256);
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM strings WHERE id = ?", -1, &strs->lookup, NULL) != SQLITE_OK)
    return fail(s, MT_ECORRUPT, "damaged");
  return MT_OK;
}

static int analyze(mt_trace *t, const mt_analysis_opts *opts_in, mt_rank *r, mt_error *err, int rowid_order);

int mt_analyze_trace(mt_trace *t, const mt_analysis_opts *opts_in, mt_rank *r, mt_error *err)
{
  /* memory only: the region rows are first read ahead in rowid order
     (cheaper than through the time index, and the same order when the rows
     were written in time order, as the collector writes them); if they
     were not (or the read-ahead failed), the pass starts again in
     (ts, rowid) order on this connection */
  int rc = analyze(t, opts_in, r, err, 1);
  if (rc == MT__ERETRY) {
    mt_rank_free(r);
    rc = analyze(t, opts_in, r, err, 0);
  }
  return rc;
}

static int analyze(mt_trace *t, const mt_analysis_opts *opts_in, mt_rank *r, mt_error *err, int rowid_order)
{
  mt_analysis_opts opts = { .rank = -1 };
  if (opts_in)
    opts = *opts_in;
  if (!opts.max_objects)
    opts.max_objects = 200;
  if (!opts.max_groups)
    opts.max_groups = 100;
  st s_ = { .rowid_order = rowid_order, .finished = -1 }, *s = &s_;
  int rc = st_init(s, t, &opts, r, err);
  mt__strs *strs = r->priv;
  if (rc != MT_OK)
    goto out;
  if ((rc = load_process(s)) != MT_OK || (rc = load_heaps(s)) != MT_OK || (rc = timeline_init(s)) != MT_OK)
    goto out;
  s->pass = 0;
  if ((rc = coverage(s)) != MT_OK)
    goto out;
  /* pass 1: the high-water marks */
  s->pass = 1;
  reset_state(s);
  if ((rc = walk(s)) != MT_OK)
    goto out;
  mt__sort(r->ooms, r->nooms, sizeof *r->ooms, cmp_oom);
  r->live_end_allocated = s->alloc_total;
  r->live_end_reserved = s->res_total;
  r->host_pinned_end = s->pinned;
  if (opts.memory_only) {
    /* memory only: the pass-1 results; cache_free is reserved - allocated,
       the rest needs pass 2 */
    mt_timeline *tl = &r->timeline;
    for (size_t i = 0; i < tl->n; i++)
      tl->by_category[MT_CAT_CACHE_FREE][i] =
          tl->reserved[i] > tl->allocated[i] ? tl->reserved[i] - tl->allocated[i] : 0;
    r->memory_only = 1;
    r->peak.ts = r->peak_allocated_ts;   /* no ranges read: step -1, no phase */
    goto out;
  }
  /* pass 2: the live set at the peak and at the first OOMs */
  s->pass = 2;
  reset_state(s);
  size_t noom = r->nooms < MT_MAX_OOMS ? r->nooms : MT_MAX_OOMS;
  s->targets = calloc(1 + noom, sizeof *s->targets);
  if (!s->targets) {
    rc = nomem(s);
    goto out;
  }
  s->targets[0].ts = r->peak_allocated > 0 ? r->peak_allocated_ts : r->first_ts;
  s->targets[0].snap = &r->peak;
  for (size_t i = 0; i < noom; i++) {
    s->targets[1 + i].ts = r->ooms[i].ts;
    s->targets[1 + i].snap = &r->ooms[i].at;
    r->ooms[i].has_snapshot = 1;
  }
  s->ntargets = 1 + noom;
  for (int i = 0; i < 16; i++)
    s->nccl[i].gpu_ns = -1;
  if ((rc = walk(s)) != MT_OK || (rc = settle_live(s)) != MT_OK || (rc = check_launches(s)) != MT_OK)
    goto out;
  for (size_t i = 0; i < s->ntargets; i++) {
    int step = s->targets[i].snap->step;
    const char *ph = s->targets[i].snap->phase, *rg = s->targets[i].snap->range;
    if ((rc = finish_snapshot(s, &s->targets[i])) != MT_OK)
      goto out;
    if (i > 0) {   /* context of an OOM: from the failed call's time */
      s->targets[i].snap->step = -1;
    } else {
      s->targets[i].snap->step = step;
      s->targets[i].snap->phase = ph;
      s->targets[i].snap->range = rg;
    }
  }
  r->peak.ts = r->peak_allocated_ts;
  /* timeline by category */
  mt_timeline *tl = &r->timeline;
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    int64_t acc = 0;
    for (size_t i = 0; i < tl->n; i++) {
      acc += s->tl_diff[c][i];
      tl->by_category[c][i] = acc > 0 ? (uint64_t)acc : 0;
    }
  }
  for (size_t i = 0; i < tl->n; i++)
    tl->by_category[MT_CAT_CACHE_FREE][i] = tl->reserved[i] > tl->allocated[i] ? tl->reserved[i] - tl->allocated[i] : 0;
  if ((rc = build_groups(s, &s->targets[0])) != MT_OK)
    goto out;
  /* steps */
  mt__sort(s->steps.p, s->steps.n, sizeof(mt_step_peak), cmp_step);
  r->steps = s->steps.p;
  r->nsteps = s->steps.n;
  s->steps.p = NULL;
  s->steps.n = 0;
  /* layers: activation bytes of the peak step (else the largest step) */
  for (size_t i = 0; i < s->layer_act.cap; i++) {
    mt__map_ent *en = &s->layer_act.e[i];
    if (!en->used)
      continue;
    int step = (int)en->k1 - 1, layer = (int)en->k2 - 1;
    mt_layer_stat *l = layer_stat(s, layer);
    if (!l)
      continue;
    if (r->peak.step >= 0 ? step == r->peak.step : en->v > l->activation_bytes)
      l->activation_bytes = en->v;
  }
  r->layers = s->layerv.p;
  r->nlayers = s->layerv.n;
  s->layerv.p = NULL;
  s->layerv.n = 0;
  /* kernels */
  kern_acc *ka = s->kernv.p;
  r->kernels = calloc(s->kernv.n + 1, sizeof *r->kernels);
  if (!r->kernels) {
    rc = nomem(s);
    goto out;
  }
  for (size_t i = 0; i < s->kernv.n; i++) {
    const char *nm = mt__str(strs, ka[i].name_id);
    r->kernels[i].name = nm ? nm : "(unnamed)";
    r->kernels[i].count = ka[i].count;
    r->kernels[i].api_ns = ka[i].api_ns;
    r->kernels[i].gpu_ns = ka[i].has_gpu ? ka[i].gpu_ns : -1;
  }
  r->nkernels = s->kernv.n;
  mt__sort(r->kernels, r->nkernels, sizeof *r->kernels, cmp_kern);
  r->nccl = calloc(16, sizeof *r->nccl);
  if (!r->nccl) {
    rc = nomem(s);
    goto out;
  }
  for (int i = 0; i < 16; i++)
    if (s->nccl[i].count)
      r->nccl[r->nnccl++] = s->nccl[i];
  rc = overlap(s);
out:
  rc = check_refs(s, rc);
  st_free(s);
  /* the trace may be closed after this: no statement may outlive it */
  if (strs) {
    sqlite3_finalize(strs->lookup);
    strs->lookup = NULL;
  }
  return rc;
}

void mt_rank_free(mt_rank *r)
{
  if (!r)
    return;
  free(r->path);
  free(r->command_line);
  free(r->producer);
  free(r->cupti);
  free(r->incomplete_reason);
  free(r->drops_detail);
  free(r->import_lacks);
  free(r->gpus);
  free(r->peak.objects);
  free(r->peak.segments);
  for (size_t i = 0; i < r->nooms; i++) {
    free(r->ooms[i].at.objects);
    free(r->ooms[i].at.segments);
  }
  free(r->ooms);
  free(r->devices);
  free(r->steps);
  free(r->layers);
  free(r->kernels);
  free(r->nccl);
  free(r->groups);
  free(r->timeline.allocated);
  free(r->timeline.reserved);
  free(r->timeline.allocated_max);
  free(r->timeline.reserved_max);
  for (int c = 0; c < MT_CAT_COUNT; c++)
    free(r->timeline.by_category[c]);
  if (r->priv) {
    mt__strs_free(r->priv);
    free(r->priv);
  }
  memset(r, 0, sizeof *r);
}

/* ---- lifetimes for other consumers (analysis.h) ------------------------ */

typedef struct open_range {
  frame *f;
  size_t depth;
} open_range;

static int cmp_open_range(const void *a, const void *b)
{
  const open_range *x = a, *y = b;
  return x->f->seq < y->f->seq ? -1 : x->f->seq > y->f->seq;
}

/* The ranges never closed, in start order. */
static int emit_open_ranges(st *s)
{
  if (!s->visit->range || s->stop)
    return MT_OK;
  mt__vec open = { .elem = sizeof(open_range) };
  for (size_t i = 0; i < s->threads.cap; i++) {
    tstack *ts = s->threads.e[i].used ? (tstack *)(uintptr_t)s->threads.e[i].v : NULL;
    for (size_t j = 0; ts && j < ts->n; j++) {
      open_range *o = mt__vec_push(&open);
      if (!o) {
        mt__vec_free(&open);
        return nomem(s);
      }
      o->f = &ts->f[j];
      o->depth = j;
      ts->f[j].te = -1;
    }
  }
  mt__sort(open.p, open.n, sizeof(open_range), cmp_open_range);
  open_range *v = open.p;
  for (size_t i = 0; i < open.n && !s->stop; i++)
    emit_range(s, v[i].f, v[i].depth);
  mt__vec_free(&open);
  return MT_OK;
}

int mt_lifetimes_walk(mt_trace *t, const mt_lifetime_visitor *v, mt_error *err)
{
  if (!t || !v) {
    mt_error_set(err, MT_EINVAL, "mt_lifetimes_walk: no trace or no visitor");
    return MT_EINVAL;
  }
  mt_analysis_opts opts = { .rank = -1 };
  mt_rank r = { 0 };
  st s_ = { .finished = -1 }, *s = &s_;
  s->visit = v;
  int rc = st_init(s, t, &opts, &r, err);
  /* the same passes as a report's pass 2, without snapshots, kernels
     summaries or NCCL calls: heap coverage first, then the merged walk */
  if (rc == MT_OK && v->lifetime)
    rc = load_heaps(s);
  if (rc == MT_OK && v->lifetime)
    rc = coverage(s);
  if (rc == MT_OK) {
    s->pass = 2;
    reset_state(s);
    rc = walk(s);
  }
  if (rc == MT_OK && !s->stop)
    rc = settle_live(s);
  if (rc == MT_OK)
    rc = emit_open_ranges(s);
  rc = check_refs(s, rc);
  st_free(s);
  mt_rank_free(&r);
  return rc;
}

int mt_lifetimes_foreach(mt_trace *t, int (*cb)(const mt_lifetime *, void *), void *arg, mt_error *err)
{
  mt_lifetime_visitor v = { .lifetime = cb, .arg = arg };
  return mt_lifetimes_walk(t, &v, err);
}

int mt_ranges_foreach(mt_trace *t, int (*cb)(const mt_range_span *, void *), void *arg, mt_error *err)
{
  mt_lifetime_visitor v = { .range = cb, .arg = arg };
  return mt_lifetimes_walk(t, &v, err);
}

int mt_trace_rank(mt_trace *t, int *rank, int *world, mt_error *err)
{
  mt_process_info p;
  int rc = mt_trace_process(t, &p);
  if (rc != MT_OK) {
    mt_error_set(err, MT_ECORRUPT, "%s: damaged (process record)", mt_trace_path(t));
    return MT_ECORRUPT;
  }
  mt__effective_rank(t, &p, rank, world);
  return MT_OK;
}

int mt_trace_communicators(mt_trace *t, mt_communicator *out, size_t max, size_t *n, mt_error *err)
{
  sqlite3 *db = mt_trace_db(t);
  sqlite3_stmt *q;
  *n = 0;
  if (sqlite3_prepare_v2(db, "SELECT id, nranks, rank, device, created, coalesce(destroyed, -1) "
                             "FROM communicators ORDER BY created, id", -1, &q, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_ECORRUPT, "%s: damaged: %s", mt_trace_path(t), sqlite3_errmsg(db));
    return MT_ECORRUPT;
  }
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (*n < max) {
      mt_communicator *c = &out[*n];
      c->id = I64(q, 0);
      c->nranks = (int)I64(q, 1);
      c->rank = (int)I64(q, 2);
      c->device = (int)I64(q, 3);
      c->created = I64(q, 4);
      c->destroyed = I64(q, 5);
    }
    (*n)++;
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) {
    mt_error_set(err, MT_ECORRUPT, "%s: damaged: %s", mt_trace_path(t), sqlite3_errmsg(db));
    return MT_ECORRUPT;
  }
  return MT_OK;
}
