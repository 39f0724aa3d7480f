/* Replay input from a trace file: a thin adapter over libmemtrace-analysis
 * (mt_lifetimes_walk), so the replay sees the allocations, their phase,
 * step and category exactly as `memtrace report` does.  What stays here is
 * the replay's own view: NVTX windows from the ranges (steps, phases, unit
 * forward/backward/recompute with their kernel time), the requested sizes
 * recovered from block sizes, and NCCL's buffer model. */
#include "config.h"
#include "analyzer/replay/input_trace.h"
#include "analyzer/replay/cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/lib/analysis.h"
#include "schemas/trace.h"

/* NCCL's buffers per communicator of n >= 2 ranks (replay.h): channels
 * receive buffers of one size, and in P2P read mode as many smaller send
 * buffers, learnt from the recorded ones. */
static void nccl_model(mt_rp_input *in)
{
  uint64_t big = 0, small = 0;
  size_t nbig = 0, nsmall = 0;
  int multi = 0;
  in->nccl_channels = 2;
  in->nccl_peer_bytes = (4ull << 20) + 524288 + 4915200;
  in->nccl_fixed_bytes = 0;
  for (int c = 0; c < in->ncomms; c++)
    multi += in->comm_nranks[c] > 1;
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
  if (multi > 0 && nbig > 0 && nbig % (size_t)multi == 0) {
    in->nccl_channels = (int)(nbig / (size_t)multi);
    in->nccl_peer_bytes = big;
    in->nccl_fixed_bytes = nsmall == nbig ? small : 0;
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

/* A range that is a replay window, kept until the walk ends (ranges are
 * reported at their end; units are numbered in start order). */
struct span {
  uint64_t seq;
  int8_t kind;
  int32_t step;
  int64_t ts, te, kernel_ns;
  char unit[48];
};

struct walk {
  mt_rp_input *in;
  size_t *index;            /* lifetime seq -> index in in->t */
  size_t cap;
  struct span *sp;
  size_t nsp, capsp;
  int64_t t_last;           /* last time seen: the end of ranges never closed */
  int nomem;
};

/* Which window a range is: a step, a phase (the whole name a phase word),
 * or a unit's forward/backward/recompute (the unit is the name without its
 * last word: "layer.3.forward" -> "layer.3").  -1: none. */
static int window_kind(const mt_range_span *r, char *unit, size_t len)
{
  if (r->cls.step >= 0)
    return MT_RP_W_STEP;
  if (r->cls.exact_phase)
    return r->cls.kind == MT_PHASE_FORWARD ? MT_RP_W_PHASE_FWD
           : r->cls.kind == MT_PHASE_BACKWARD ? MT_RP_W_PHASE_BWD
           : r->cls.kind == MT_PHASE_OPTIMIZER ? MT_RP_W_OPTIMIZER : -1;
  int kind = r->cls.kind == MT_PHASE_FORWARD ? MT_RP_W_FORWARD
             : r->cls.kind == MT_PHASE_BACKWARD ? MT_RP_W_BACKWARD
             : r->cls.kind == MT_PHASE_RECOMPUTE ? MT_RP_W_RECOMPUTE : -1;
  if (kind < 0 || !r->name)
    return -1;
  size_t n = strlen(r->name);
  while (n > 0 && !strchr("./: ", r->name[n - 1]))
    n--;
  if (n < 2 || n > len)   /* no unit before the separator, or too long */
    return -1;
  memcpy(unit, r->name, n - 1);
  unit[n - 1] = 0;
  /* a module path (PyTorch's "model.blocks.3.attn"): the unit is the module
     that ends in its index; its submodules' windows are inside the block's */
  for (const char *c = unit; *c; c++)
    if (*c == '.' && c[1] >= '0' && c[1] <= '9') {
      size_t d = strspn(c + 1, "0123456789");
      if (c[1 + d] == '.')
        return -1;
    }
  return kind;
}

static int on_range(const mt_range_span *r, void *arg)
{
  struct walk *w = arg;
  struct span x = { .seq = r->seq, .step = r->step, .ts = r->ts, .te = r->te, .kernel_ns = r->kernel_ns };
  int kind = window_kind(r, x.unit, sizeof x.unit);
  if (r->te > w->t_last)
    w->t_last = r->te;
  if (r->name && strncmp(r->name, "memtrace.shape ", 15) == 0) {
    /* the job's own statement of its shape */
    const char *b = strstr(r->name, "batch="), *q = strstr(r->name, "seq=");
    if (b)
      w->in->recorded_batch = strtoll(b + 6, NULL, 10);
    if (q)
      w->in->recorded_seq = strtoll(q + 4, NULL, 10);
    return 0;
  }
  if (kind < 0)
    return 0;
  x.kind = (int8_t)kind;
  if (kind == MT_RP_W_STEP)
    x.step = r->cls.step;
  if (w->nsp == w->capsp) {
    size_t c = w->capsp ? 2 * w->capsp : 256;
    struct span *n = realloc(w->sp, c * sizeof *n);
    if (!n) {
      w->nomem = 1;
      return 1;
    }
    w->sp = n;
    w->capsp = c;
  }
  w->sp[w->nsp++] = x;
  return 0;
}

static int8_t rp_phase(int kind)
{
  switch (kind) {
  case MT_PHASE_FORWARD: return MT_RP_PH_FORWARD;
  case MT_PHASE_BACKWARD: return MT_RP_PH_BACKWARD;
  case MT_PHASE_RECOMPUTE: return MT_RP_PH_RECOMPUTE;
  case MT_PHASE_OPTIMIZER: return MT_RP_PH_OPTIMIZER;
  default: return MT_RP_PH_OTHER;
  }
}

/* A lifetime as the replay's tensor: the category the analysis decided (its
 * order is the replay's), the size when allocated (the replay models no
 * resize), the label without its "<category>/" annotation. */
static int on_lifetime(const mt_lifetime *l, void *arg)
{
  struct walk *w = arg;
  const mt_object *o = &l->obj;
  mt_rp_tensor x = { 0 };
  x.t_alloc = o->alloc_ts;
  x.t_free = o->free_ts < 0 ? MT_RP_NEVER : o->free_ts;
  x.bytes = l->size0;
  x.stream = (int32_t)o->stream;
  x.outside = (int8_t)!o->is_tensor;
  x.cat = (int8_t)(o->category >= 0 && o->category < MT_RP_NCAT ? o->category : MT_RP_OTHER);
  x.phase = rp_phase(l->phase_kind);
  x.step = o->step;
  x.layer = x.unit = -1;   /* from the name, by mt_rp_input_finish */
  x.name = o->label;
  if (x.name && o->rule == MT_RULE_ANNOTATION && strchr(x.name, '/'))
    x.name = strchr(x.name, '/') + 1;
  int64_t last = o->free_ts > o->alloc_ts ? o->free_ts : o->alloc_ts;
  if (last > w->t_last)
    w->t_last = last;
  if (l->seq >= w->cap) {
    size_t c = w->cap ? w->cap : 1024;
    while (c <= l->seq)
      c *= 2;
    size_t *n = realloc(w->index, c * sizeof *n);
    if (!n) {
      w->nomem = 1;
      return 1;
    }
    w->index = n;
    w->cap = c;
  }
  long idx = mt_rp_input_add(w->in, &x);
  if (idx < 0) {
    w->nomem = 1;
    return 1;
  }
  w->index[l->seq] = (size_t)idx;
  return 0;
}

static int cmp_span(const void *a, const void *b)
{
  const struct span *x = a, *y = b;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Tensors in allocation order, windows in start order (units numbered as
 * they first start). */
static int arrange(struct walk *w)
{
  mt_rp_input *in = w->in;
  if (in->nt) {
    mt_rp_tensor *t = malloc(in->nt * sizeof *t);
    if (!t)
      return -1;
    for (size_t i = 0; i < in->nt; i++)
      t[i] = in->t[w->index[i]];
    free(in->t);
    in->t = t;
    in->capt = in->nt;
  }
  if (w->nsp > 1)
    qsort(w->sp, w->nsp, sizeof *w->sp, cmp_span);
  for (size_t i = 0; i < w->nsp; i++) {
    const struct span *x = &w->sp[i];
    mt_rp_window win = { 0 };
    win.kind = x->kind;
    win.ts = x->ts;
    win.te = x->te >= 0 ? x->te : (w->t_last > x->ts ? w->t_last : x->ts);
    win.step = x->step;
    win.kernel_ns = x->kernel_ns;
    win.layer = -1;
    win.unit = -1;
    if (x->kind == MT_RP_W_FORWARD || x->kind == MT_RP_W_BACKWARD || x->kind == MT_RP_W_RECOMPUTE)
      win.unit = mt_rp_input_unit_exact(in, x->unit);
    if (mt_rp_input_add_window(in, &win) < 0)
      return -1;
  }
  return 0;
}

int mt_rp_input_from_trace(const char *path, mt_rp_input *in, char *err, size_t errlen)
{
  mt_trace *t = NULL;
  mt_error e = { 0 };
  mt_rp_input_init(in);
  if (mt_trace_open(path, 0, &t, &e) != MT_OK) {
    snprintf(err, errlen, "%s", e.msg);
    return -1;
  }
  struct walk w = { .in = in, .t_last = INT64_MIN };
  mt_lifetime_visitor v = { .lifetime = on_lifetime, .range = on_range, .arg = &w };
  mt_communicator comms[16];
  size_t ncomms = 0;
  int world = 0;
  int rc = mt_trace_rank(t, &in->rank, &world, &e);
  if (rc == MT_OK)
    rc = mt_trace_communicators(t, comms, sizeof comms / sizeof comms[0], &ncomms, &e);
  if (rc == MT_OK)
    rc = mt_lifetimes_walk(t, &v, &e);
  if (rc == MT_OK && (w.nomem || arrange(&w) != 0)) {
    snprintf(e.msg, sizeof e.msg, "%s: out of memory", path);
    rc = MT_ENOMEM;
  }
  /* what the cost model reads (device, kernel times, operator records) */
  if (rc == MT_OK && mt__rp_cost_read(mt_trace_db(t), in) != 0) {
    snprintf(e.msg, sizeof e.msg, "%s: out of memory", path);
    rc = MT_ENOMEM;
  }
  free(w.index);
  free(w.sp);
  mt_trace_close(t);
  if (rc != MT_OK) {
    snprintf(err, errlen, "%s", e.msg);
    mt_rp_input_free(in);
    return -1;
  }
  /* the recorded data-parallel degree is the world (recordings are taken
     without SP/PP); communicator sizes feed the NCCL buffer model */
  in->world = world > 0 ? world : 1;
  for (size_t i = 0; i < ncomms && i < sizeof in->comm_nranks / sizeof in->comm_nranks[0]; i++)
    in->comm_nranks[in->ncomms++] = comms[i].nranks;
  requested_sizes(in);
  in->t_first = in->nt ? in->t[0].t_alloc : 0;
  for (size_t i = 0; i < in->nt; i++)
    if (in->t[i].t_alloc < in->t_first)
      in->t_first = in->t[i].t_alloc;
  nccl_model(in);
  mt_rp_input_finish(in);
  char cerr[160];
  if (mt_rp_cost_build(in, NULL, cerr, sizeof cerr) != 0) {
    snprintf(err, errlen, "%s: %s", path, cerr);
    mt_rp_input_free(in);
    return -1;
  }
  return 0;
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
