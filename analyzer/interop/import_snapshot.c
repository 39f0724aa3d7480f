/* Import of PyTorch memory snapshots (torch.cuda.memory._dump_snapshot).
 *
 * Mapping (docs/INTEROP.md):
 *   segment (cudaMalloc'd by the caching allocator)  -> heaps row (framework_pool)
 *                                                       + mem_events alloc/free
 *   trace alloc / free_completed                       -> region_events register/unregister
 *   segment_alloc/free, segment_map/unmap              -> mem_events alloc/free, map/unmap
 *   oom                                                -> ooms; snapshot -> a mark range
 *   frames                                             -> frames trie (stack ids)
 * State the trace cannot explain is synthesised at ts 0 with the label
 * "import/..." and counted in meta: blocks freed in the trace but allocated
 * before recording began, blocks and segments live at the dump but never
 * seen allocated. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/interop_internal.h"
#include "schemas/torch_actions.h"   /* the mapping, shared with the live PyTorch channel */

#define LABEL_PRE "import/allocated before recording began"
#define LABEL_UNSEEN "import/live at dump, allocation not recorded"

typedef struct seginst {
  uint64_t addr, size;
  int device;
  int64_t created, destroyed;   /* ns relative; destroyed < 0 = alive */
  int synthetic;                /* created before recording */
  const char *type;
  int64_t id;
  int vmm;                      /* an expandable segment (segment_map) */
} seginst;

typedef struct synth_block {
  uint64_t addr, size;
  int device;
  int64_t stream;
  int unseen;                   /* 1 = live at dump, never seen allocated */
  const mt_pv *frames;          /* the dump block's frames (unseen), or NULL */
  size_t free_entry;            /* the entry that frees it (pre-recording blocks) */
} synth_block;

typedef struct roles roles;   /* roles from frames, below */

typedef struct ctx {
  const char *path;
  mt_trace *t;
  mt_error *err;
  MT__IVEC(seginst) segs;
  MT__IVEC(synth_block) synth;
  mt__imap stack_by_list;        /* frames list pointer -> stack id */
  mt__imap frame_by_key;         /* hash(parent, symbol) -> frame id */
  mt__imap streams;              /* handle -> id */
  mt__imap fixups;               /* (device << 40 | entry) -> block size at the dump */
  int64_t next_frame, next_stream;
  int64_t t0;
  int time_from_index;
  int64_t pre_frees, unseen_live, mismatches, free_requested, entries, events, size_fixups;
  roles *roles;                  /* per device, when the entries have frames */
  struct addrset *live;          /* per device: live blocks by address (block sizes) */
  mt__imap bsize;                /* (device << 56 ^ addr) -> block size written */
  uint64_t requested, blocks;    /* bytes asked for / handed out, over the entries' allocs */
  int64_t block_mismatches;      /* blocks live at the dump whose size the rule got wrong */
  int64_t roles_labelled, roles_param;
} ctx;

static int64_t ev_ts(ctx *c, const mt_pv *e, size_t idx)
{
  if (c->time_from_index)
    return (int64_t)idx * 1000;
  int64_t us = mt_pv_int(mt_pv_get(e, "time_us"), 0);
  return us * 1000 - c->t0;
}

static int cmp_seg(const void *a, const void *b)
{
  const seginst *x = a, *y = b;
  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  return x->created < y->created ? -1 : x->created > y->created;
}

/* Segment instance covering addr at time ts (sorted by addr). */
static seginst *seg_at(ctx *c, int device, uint64_t addr, int64_t ts)
{
  size_t lo = 0, hi = c->segs.n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->segs.v[mid].addr <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  seginst *best = NULL;
  for (size_t k = lo, steps = 0; k > 0 && steps < 4096; k--, steps++) {
    seginst *s = &c->segs.v[k - 1];
    if (s->device == device && addr < s->addr + s->size && s->created <= ts &&
        (s->destroyed < 0 || s->destroyed >= ts)) {
      best = s;
      break;
    }
  }
  return best;
}

static int64_t stream_id(ctx *c, int device, uint64_t handle)
{
  uint64_t id;
  if (handle == 0)
    return 0;
  if (mt__imap_get(&c->streams, handle, &id))
    return (int64_t)id;
  id = (uint64_t)c->next_stream++;
  mt__imap_put(&c->streams, handle, id);
  mt_trace_put_stream(c->t, (int64_t)id, device, handle, 0, 0, 0);
  return (int64_t)id;
}

/* Frames list (innermost first) -> stack id (id of innermost frame). */
static int64_t stack_id(ctx *c, const mt_pv *frames)
{
  if (!frames || frames->type != MT_PV_LIST || frames->n == 0)
    return 0;
  uint64_t id;
  if (mt__imap_get(&c->stack_by_list, (uint64_t)(uintptr_t)frames, &id))
    return (int64_t)id;
  int64_t parent = 0;
  char sym[4096];
  for (size_t k = frames->n; k > 0; k--) {
    const mt_pv *f = frames->items[k - 1];
    const char *name = mt_pv_str(mt_pv_get(f, "name"), "?");
    const char *file = mt_pv_str(mt_pv_get(f, "filename"), "");
    int64_t line = mt_pv_int(mt_pv_get(f, "line"), 0);
    if (line > 0 && *file && strcmp(file, "??") != 0)
      snprintf(sym, sizeof sym, "%s:%lld %s", file, (long long)line, name);
    else
      snprintf(sym, sizeof sym, "%s", name);
    uint64_t key = mt__ihash_str(sym, strlen(sym), mt__ihash64((uint64_t)parent + 1));
    /* collisions of 64-bit hashes are ignored: one would merge two frames */
    if (mt__imap_get(&c->frame_by_key, key, &id)) {
      parent = (int64_t)id;
      continue;
    }
    int64_t fid = c->next_frame++;
    if (mt_trace_put_frame(c->t, fid, parent, 0, 0, sym) != MT_OK)
      return 0;
    mt__imap_put(&c->frame_by_key, key, (uint64_t)fid);
    parent = fid;
  }
  mt__imap_put(&c->stack_by_list, (uint64_t)(uintptr_t)frames, (uint64_t)parent);
  return parent;
}

/* ---- roles from frames (docs/INTEROP.md, "Roles from frames") ----------
 * A snapshot names no tensor, but each entry's frames say what made it:
 * torch.optim's Python code (Optimizer.step, _init_group) -> the optimizer;
 * the autograd engine (Engine::evaluate_function / thread_main, or
 * Tensor.backward on the main thread) -> the backward; any other Python
 * frame -> the forward (module forwards, the loss, the batch).  Consecutive
 * allocations of one role form a run (a phase); what an allocation is
 * follows from its role and from where its free falls:
 *   optimizer: freed inside its run -> temporary, else optimizer state;
 *   backward:  freed inside its run -> temporary, else gradient;
 *   forward:   freed inside its run -> temporary, freed in a backward run or
 *              live at the dump -> activation, else temporary.
 * Blocks live at the dump that no entry allocated, without frames, were
 * made before recording and outlive every step: parameters.  The label is
 * "<category>/<first frame outside torch>" (what the program wrote there),
 * and phases and steps become ranges, so the report and the replay see a
 * job as they do a live PyTorch recording. */
enum { RO_NONE = 0, RO_FWD, RO_BWD, RO_OPT };
/* categories, spelt as the analysis's (label prefix "<category>/") */
enum { RC_NONE = 0, RC_PARAM, RC_GRAD, RC_STATE, RC_ACT, RC_TEMP };
static const char *const rc_name[] = { "", "parameter", "gradient", "optimizer_state", "activation", "temporary" };
static const char *const ro_phase[] = { "", "forward", "backward", "optimizer" };

static int ends_with_s(const char *s, const char *suf)
{
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Whether a Python file is torch's own (or code torch generated). */
static int torch_file(const char *f)
{
  return strstr(f, "/torch/") || strncmp(f, "torch/", 6) == 0 || strstr(f, "torchinductor") ||
         strstr(f, "/_inductor/") || f[0] == '<';
}

/* Role of a frames list (innermost first) and its site: the first Python
 * frame outside torch, "dir/file.py:line function". */
static int frames_role(const mt_pv *frames, char *site, size_t n)
{
  int role = RO_NONE, py = 0;
  if (site)
    site[0] = 0;
  for (size_t k = 0; frames && frames->type == MT_PV_LIST && k < frames->n; k++) {
    const mt_pv *f = frames->items[k];
    const char *name = mt_pv_str(mt_pv_get(f, "name"), "");
    const char *file = mt_pv_str(mt_pv_get(f, "filename"), "");
    int isp = ends_with_s(file, ".py");
    if (role == RO_NONE) {
      if (isp && strstr(file, "torch/optim/"))
        role = RO_OPT;
      else if (strstr(name, "autograd::Engine::evaluate_function") || strstr(name, "autograd::Engine::thread_main") ||
               (isp && strcmp(name, "backward") == 0 &&
                (ends_with_s(file, "torch/_tensor.py") || ends_with_s(file, "torch/autograd/__init__.py"))))
        role = RO_BWD;
    }
    if (isp) {
      py = 1;
      /* optimizer state: the line in the optimizer that made it (torch's
         _init_group makes each state on its own line), else the program's */
      if (site && !site[0] && (role == RO_OPT || !torch_file(file))) {
        const char *b = file + strlen(file);
        int slashes = 0;
        while (b > file && !(b[-1] == '/' && ++slashes == 2))
          b--;
        snprintf(site, n, "%s:%lld %s", b, (long long)mt_pv_int(mt_pv_get(f, "line"), 0), name);
      }
    }
  }
  return role == RO_NONE && py ? RO_FWD : role;
}

struct roles {
  unsigned char *role;   /* per entry: role of an alloc */
  unsigned char *cat;    /* per entry: RC_* of an alloc */
  unsigned char *at;     /* per entry: role of the run the entry falls in */
  int nruns;
};

static void roles_free(roles *r)
{
  free(r->role);
  free(r->cat);
  free(r->at);
}

/* Roles and categories of one device's entries. */
static int roles_of(const mt_pv *tr, roles *r)
{
  size_t n = tr->n;
  r->role = calloc(n + 1, 1);
  r->cat = calloc(n + 1, 1);
  r->at = calloc(n + 1, 1);
  size_t *free_at = malloc((n + 1) * sizeof *free_at), *next = malloc((n + 1) * sizeof *next);
  mt__imap live = { 0 };
  int rc = MT_ENOMEM;
  if (!r->role || !r->cat || !r->at || !free_at || !next)
    goto out;
  int cur = RO_NONE;
  for (size_t i = 0; i < n; i++) {
    const mt_pv *e = tr->items[i];
    const char *a = mt_pv_str(mt_pv_get(e, "action"), "");
    uint64_t addr = (uint64_t)mt_pv_int(mt_pv_get(e, "addr"), 0), v;
    free_at[i] = n;
    if (strcmp(a, "alloc") == 0) {
      r->role[i] = (unsigned char)frames_role(mt_pv_get(e, "frames"), NULL, 0);
      if (r->role[i] != RO_NONE && r->role[i] != cur) {
        cur = r->role[i];
        r->nruns++;
      }
      if (mt__imap_put(&live, addr, i))
        goto out;
    } else if (strcmp(a, "free_completed") == 0 && mt__imap_get(&live, addr, &v)) {
      free_at[v] = i;
      mt__imap_del(&live, addr);
    }
    r->at[i] = (unsigned char)cur;
  }
  /* next[i]: the first entry after i in another run */
  size_t nx = n;
  for (size_t i = n; i-- > 0;) {
    next[i] = nx;
    if (i > 0 && r->at[i] != r->at[i - 1])
      nx = i;
  }
  for (size_t i = 0; i < n; i++) {
    int ro = r->role[i], c = RC_NONE;
    size_t f = free_at[i];
    int inside = f < next[i], dump = f >= n;
    if (ro == RO_OPT)
      c = inside ? RC_TEMP : RC_STATE;
    else if (ro == RO_BWD)
      c = inside ? RC_TEMP : RC_GRAD;
    else if (ro == RO_FWD)
      c = !inside && (dump || r->at[f] == RO_BWD) ? RC_ACT : RC_TEMP;
    r->cat[i] = (unsigned char)c;
  }
  rc = MT_OK;
out:
  free(free_at);
  free(next);
  mt__imap_free(&live);
  return rc;
}

/* A compact text form of plain values for meta (allocator settings). */
static void pv_text(const mt_pv *v, char *b, size_t n, size_t *pos, int depth)
{
#define OUT(...) do { if (*pos < n) *pos += (size_t)snprintf(b + *pos, n - *pos, __VA_ARGS__); } while (0)
  if (!v || depth > 8) {
    OUT("...");
    return;
  }
  switch (v->type) {
  case MT_PV_NONE: OUT("None"); break;
  case MT_PV_BOOL: OUT(v->i ? "True" : "False"); break;
  case MT_PV_INT: OUT("%lld", (long long)v->i); break;
  case MT_PV_FLOAT: OUT("%g", v->f); break;
  case MT_PV_STR: OUT("'%s'", v->s); break;
  case MT_PV_BYTES: OUT("b'...'"); break;
  case MT_PV_DICT:
    OUT("{");
    for (size_t i = 0; i + 1 < v->n; i += 2) {
      pv_text(v->items[i], b, n, pos, depth + 1);
      OUT(": ");
      pv_text(v->items[i + 1], b, n, pos, depth + 1);
      if (i + 2 < v->n)
        OUT(", ");
    }
    OUT("}");
    break;
  default:
    OUT(v->type == MT_PV_TUPLE ? "(" : "[");
    for (size_t i = 0; i < v->n; i++) {
      pv_text(v->items[i], b, n, pos, depth + 1);
      if (i + 1 < v->n)
        OUT(", ");
    }
    OUT(v->type == MT_PV_TUPLE ? ")" : "]");
  }
#undef OUT
}

static int bad(ctx *c, const char *what)
{
  mt_error_set(c->err, MT_ECORRUPT, "%s: not a PyTorch memory snapshot: %s", c->path, what);
  return MT_ECORRUPT;
}

static int is_list(const mt_pv *v)
{
  return v && (v->type == MT_PV_LIST || v->type == MT_PV_TUPLE);
}

/* ---- block sizes ------------------------------------------------------
 * A trace entry says the size asked for; torch's allocated bytes
 * (max_memory_allocated, memory_viz) count the block the caching allocator
 * handed out.  The importer writes blocks (one convention for every block,
 * live at the dump or not): the allocator takes the free block that starts
 * at the address, which runs to the next live block of its segment (free
 * neighbours are merged), and splits it only when the rest is >= 512 B
 * (small pool) or > 1 MiB (large pool); requests round up to 512 B
 * (ORACLES section 5).  Expandable segments: the rounded request.  The
 * requested bytes are summed beside (meta import.requested_bytes). */
typedef struct addrset {
  uint64_t *a;
  size_t n, cap;
} addrset;

static size_t as_lb(const addrset *s, uint64_t x)
{
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (s->a[m] < x)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

static int as_add(addrset *s, uint64_t x)
{
  size_t i = as_lb(s, x);
  if (i < s->n && s->a[i] == x)
    return 0;
  if (s->n == s->cap && mt__igrow((void **)&s->a, &s->cap, s->n + 1, sizeof *s->a))
    return MT_ENOMEM;
  memmove(s->a + i + 1, s->a + i, (s->n - i) * sizeof *s->a);
  s->a[i] = x;
  s->n++;
  return 0;
}

static void as_del(addrset *s, uint64_t x)
{
  size_t i = as_lb(s, x);
  if (i < s->n && s->a[i] == x) {
    memmove(s->a + i, s->a + i + 1, (s->n - i - 1) * sizeof *s->a);
    s->n--;
  }
}

static uint64_t block_size(const seginst *s, const addrset *live, uint64_t addr, uint64_t size)
{
  uint64_t r = size < 512 ? 512 : (size + 511) / 512 * 512;
  if (!s || s->vmm)
    return r;
  size_t i = as_lb(live, addr + 1);
  uint64_t end = s->addr + s->size;
  if (i < live->n && live->a[i] < end)
    end = live->a[i];
  if (end <= addr || end - addr < r)
    return r;
  uint64_t rest = end - addr - r;
  int small = strcmp(s->type, "small") == 0;
  return (small ? rest >= 512 : rest > (1u << 20)) ? r : end - addr;
}

/* Pass 1: simulate segments and blocks through the trace; find what must be
 * synthesised at the start.  No writing. */
static int simulate(ctx *c, const mt_pv *segments, const mt_pv *traces)
{
  mt__imap live = { 0 }, seglive = { 0 };   /* addr -> size / addr -> seg index+1 */
  mt__imap live_entry = { 0 };               /* addr -> device << 40 | entry index */
  int rc = MT_OK;
  for (size_t d = 0; traces && d < traces->n; d++) {
    const mt_pv *tr = traces->items[d];
    if (!is_list(tr))
      return bad(c, "device_traces entry is not a list");
    for (size_t i = 0; i < tr->n; i++) {
      const mt_pv *e = tr->items[i];
      const char *a = mt_pv_str(mt_pv_get(e, "action"), NULL);
      if (!a)
        return bad(c, "trace entry without an action");
      uint64_t addr = (uint64_t)mt_pv_int(mt_pv_get(e, "addr"), 0);
      uint64_t size = (uint64_t)mt_pv_int(mt_pv_get(e, "size"), 0);
      int64_t ts = ev_ts(c, e, i);
      uint64_t key = addr ^ ((uint64_t)d << 56), v;
      c->entries++;
      if (strcmp(a, "alloc") == 0) {
        mt__imap_put(&live, key, size);
        mt__imap_put(&live_entry, key, ((uint64_t)d << 40) | i);
      } else if (strcmp(a, "free_completed") == 0) {
        if (mt__imap_get(&live, key, &v)) {
          mt__imap_del(&live, key);
        } else {
          synth_block s = { addr, size, (int)d, (int64_t)mt_pv_int(mt_pv_get(e, "stream"), 0), 0, NULL, i };
          if (MT__IPUSH(c->synth, s))
            return MT_ENOMEM;
          c->pre_frees++;
        }
      } else if (strcmp(a, "free_requested") == 0) {
        c->free_requested++;
      } else if (strcmp(a, "segment_alloc") == 0 || strcmp(a, "segment_map") == 0) {
        if (strcmp(a, "segment_map") == 0 && mt__imap_get(&seglive, key, &v))
          continue;   /* growing an expandable segment already known */
        seginst s = { addr, size, (int)d, ts, -1, 0, "large", 0, strcmp(a, "segment_map") == 0 };
        if (MT__IPUSH(c->segs, s))
          return MT_ENOMEM;
        mt__imap_put(&seglive, key, c->segs.n);
      } else if (strcmp(a, "segment_free") == 0 || strcmp(a, "segment_unmap") == 0) {
        if (mt__imap_get(&seglive, key, &v)) {
          c->segs.v[v - 1].destroyed = ts;
          mt__imap_del(&seglive, key);
        } else {
          seginst s = { addr, size, (int)d, 0, ts, 1, "large", 0, 0 };
          if (MT__IPUSH(c->segs, s))
            return MT_ENOMEM;
        }
      }
    }
  }
  /* Segments at the dump that the trace did not create. */
  for (size_t i = 0; segments && i < segments->n; i++) {
    const mt_pv *s = segments->items[i];
    uint64_t addr = (uint64_t)mt_pv_int(mt_pv_get(s, "address"), 0);
    int dev = (int)mt_pv_int(mt_pv_get(s, "device"), 0);
    uint64_t key = addr ^ ((uint64_t)dev << 56), v;
    uint64_t total = (uint64_t)mt_pv_int(mt_pv_get(s, "total_size"), 0);
    if (mt__imap_get(&seglive, key, &v)) {
      c->segs.v[v - 1].size = total;   /* expandable segments grow */
      c->segs.v[v - 1].type = mt_pv_str(mt_pv_get(s, "segment_type"), "large");
      mt__imap_del(&seglive, key);
    } else {
      seginst si = { addr, total, dev, 0, -1, 1, mt_pv_str(mt_pv_get(s, "segment_type"), "large"), 0, 0 };
      if (MT__IPUSH(c->segs, si))
        return MT_ENOMEM;
    }
    const mt_pv *blocks = mt_pv_get(s, "blocks");
    for (size_t b = 0; is_list(blocks) && b < blocks->n; b++) {
      const mt_pv *bl = blocks->items[b];
      const char *st = mt_pv_str(mt_pv_get(bl, "state"), "");
      if (strcmp(st, "active_allocated") != 0 && strcmp(st, "active_pending_free") != 0)
        continue;
      uint64_t ba = (uint64_t)mt_pv_int(mt_pv_get(bl, "address"), 0);
      uint64_t bs = (uint64_t)mt_pv_int(mt_pv_get(bl, "size"), 0);
      uint64_t bk = ba ^ ((uint64_t)dev << 56);
      if (mt__imap_get(&live, bk, &v) && v == bs) {
        mt__imap_del(&live, bk);
        continue;
      }
      if (mt__imap_get(&live, bk, &v)) {
        /* Same allocation, but the trace holds the requested size of a block
         * the allocator did not split (torch records orig_size); the dump's
         * block size is what was taken from the segment. */
        uint64_t ent;
        if ((uint64_t)mt_pv_int(mt_pv_get(bl, "requested_size"), -1) == v &&
            mt__imap_get(&live_entry, bk, &ent)) {
          mt__imap_put(&c->fixups, ent, bs);
          c->size_fixups++;
          mt__imap_del(&live, bk);
          continue;
        }
        c->mismatches++;
        mt__imap_del(&live, bk);
      }
      synth_block sb = { ba, bs, dev, 0, 1, mt_pv_get(bl, "frames"), 0 };
      if (MT__IPUSH(c->synth, sb))
        return MT_ENOMEM;
      c->unseen_live++;
    }
  }
  /* Blocks the trace leaves allocated that the dump does not list.  (Only
   * meaningful when the dump has segments: a trace-only file has none.) */
  if (segments && segments->n)
    for (size_t i = 0; i < live.cap; i++)
      c->mismatches += live.used[i] == 1;
  mt__imap_free(&live);
  mt__imap_free(&seglive);
  mt__imap_free(&live_entry);
  return rc;
}

int mt__import_snapshot(const char *in, const char *out, const char *run_id, mt_import_result *res,
                        mt_error *err)
{
  unsigned char *buf = NULL;
  size_t len = 0;
  mt_pickle *pk = NULL;
  mt_pv *root = NULL;
  ctx c = { .path = in, .err = err, .next_frame = 1, .next_stream = 1 };
  int rc = mt__read_all(in, &buf, &len, err);
  if (rc)
    return rc;
  rc = mt_pickle_load(buf, len, in, &pk, &root, err);
  free(buf);
  if (rc)
    return rc;

  const mt_pv *segments = mt_pv_get(root, "segments");
  const mt_pv *traces = mt_pv_get(root, "device_traces");
  if (root->type == MT_PV_LIST) {   /* very old torch: the list of segments only */
    segments = root;
    traces = NULL;
  } else if (root->type != MT_PV_DICT || (!segments && !traces)) {
    rc = bad(&c, "no 'segments' or 'device_traces'");
    goto done;
  }
  if ((segments && !is_list(segments)) || (traces && !is_list(traces))) {
    rc = bad(&c, "'segments' or 'device_traces' is not a list");
    goto done;
  }
  for (size_t i = 0; segments && i < segments->n; i++) {
    const mt_pv *s = segments->items[i], *bl = mt_pv_get(s, "blocks");
    if (!s || s->type != MT_PV_DICT || !mt_pv_get(s, "address") || !mt_pv_get(s, "total_size") ||
        (bl && !is_list(bl))) {
      rc = bad(&c, "a segment is not a dict with address, total_size and a list of blocks");
      goto done;
    }
    for (size_t b = 0; bl && b < bl->n; b++)
      if (!bl->items[b] || bl->items[b]->type != MT_PV_DICT) {
        rc = bad(&c, "a block is not a dict");
        goto done;
      }
  }
  for (size_t d = 0; traces && d < traces->n; d++) {
    const mt_pv *tr = traces->items[d];
    for (size_t i = 0; is_list(tr) && i < tr->n; i++)
      if (!tr->items[i] || tr->items[i]->type != MT_PV_DICT) {
        rc = bad(&c, "a trace entry is not a dict");
        goto done;
      }
  }

  /* Time origin: the earliest trace entry. */
  int64_t t0 = INT64_MAX, tmax = 0;
  int have_time = 1, have_frames = 0;
  for (size_t d = 0; traces && d < traces->n; d++) {
    const mt_pv *tr = traces->items[d];
    for (size_t i = 0; is_list(tr) && i < tr->n; i++) {
      const mt_pv *tu = mt_pv_get(tr->items[i], "time_us");
      if (!tu || tu->type != MT_PV_INT) {
        have_time = 0;
        continue;
      }
      if (tu->i < 0 || tu->i > INT64_MAX / 1000) {
        rc = bad(&c, "time_us out of range");
        goto done;
      }
      if (tu->i * 1000 < t0)
        t0 = tu->i * 1000;
      if (tu->i * 1000 > tmax)
        tmax = tu->i * 1000;
      const mt_pv *fr = mt_pv_get(tr->items[i], "frames");
      if (is_list(fr) && fr->n)
        have_frames = 1;
    }
  }
  if (t0 == INT64_MAX || !have_time) {
    c.time_from_index = 1;
    t0 = 0;
    tmax = 0;
  }
  c.t0 = t0;
  if ((rc = simulate(&c, segments, traces)))
    goto done;
  MT__ISORT(c.segs, cmp_seg);

  mt_process_info pi;
  mt__import_process(&pi, in, "import:torch-snapshot", run_id, -1, 0, t0, 0);
  pi.stacks = have_frames ? "native+python" : "none";
  if ((rc = mt_trace_create(out, &pi, &c.t, err)))
    goto done;
  mt_trace *t = c.t;
  mt_trace_begin(t);
  mt_trace_put_meta(t, "import.format", "torch-snapshot");
  mt_trace_put_meta(t, "import.source", in);
  mt_trace_put_meta(t, "import.time", c.time_from_index ? "entry order (no time_us): 1 us per entry" : "time_us");
  const mt_pv *as = mt_pv_get(root, "allocator_settings");
  if (as) {
    char tb[4096];
    size_t pos = 0;
    pv_text(as, tb, sizeof tb, &pos, 0);
    mt_trace_put_meta(t, "torch.allocator_settings", tb);
  }

  /* Devices. */
  int maxdev = traces ? (int)traces->n - 1 : -1;
  for (size_t i = 0; i < c.segs.n; i++)
    if (c.segs.v[i].device > maxdev)
      maxdev = c.segs.v[i].device;
  for (int d = 0; d <= maxdev && d < 1024; d++) {
    char nm[32];
    snprintf(nm, sizeof nm, "cuda:%d", d);
    mt_trace_put_device(t, d, nm, 0, 0, 0, NULL);
  }

  /* Heaps, one per segment instance, and their device allocations. */
  int64_t heap_name[2] = { mt_trace_intern(t, "torch-caching-allocator/large"),
                           mt_trace_intern(t, "torch-caching-allocator/small") };
  for (size_t i = 0; i < c.segs.n; i++) {
    seginst *s = &c.segs.v[i];
    s->id = (int64_t)i + 1;
    mt_heap_info h = { .id = s->id, .handle = s->addr, .name_id = heap_name[strcmp(s->type, "small") == 0],
                       .usage = MT_HEAP_FRAMEWORK_POOL, .device = s->device, .addr = s->addr, .size = s->size,
                       .created = s->created, .destroyed = s->destroyed };
    if ((rc = mt_trace_put_heap(t, &h)))
      goto write_fail;
    if (s->synthetic) {
      mt_mem_event m = { .ts = 0, .op = MT_MEM_ALLOC, .api = MT_API_import, .kind = MT_MEM_KIND_DEVICE,
                         .device = s->device, .addr = s->addr, .size = s->size, .context = MT_CTX_FRAMEWORK };
      if ((rc = mt_trace_put_mem(t, &m)))
        goto write_fail;
      c.events++;
    }
  }
  int64_t lab_pre = mt_trace_intern(t, LABEL_PRE), lab_unseen = mt_trace_intern(t, LABEL_UNSEEN);
  int64_t unknown_heap = 0;
  /* roles of every device's entries (when the entries have frames) */
  size_t ndev = traces ? traces->n : 0;
  c.live = ndev ? calloc(ndev, sizeof *c.live) : NULL;
  if (ndev && !c.live) {
    rc = MT_ENOMEM;
    goto write_fail;
  }
  if (have_frames && ndev) {
    c.roles = calloc(ndev, sizeof *c.roles);
    for (size_t d = 0; c.roles && d < ndev; d++)
      if (is_list(traces->items[d]) && (rc = roles_of(traces->items[d], &c.roles[d])))
        goto write_fail;
  }
  for (size_t i = 0; i < c.synth.n; i++) {
    synth_block *b = &c.synth.v[i];
    seginst *s = seg_at(&c, b->device, b->addr, 0);
    int64_t lab = b->unseen ? lab_unseen : lab_pre;
    if (c.roles) {
      /* a block live at the dump by the frames that made it (none: a
       * parameter, made before the steps); one made before recording by
       * what frees it: the optimizer (zero_grad) a gradient, the backward
       * an activation */
      char site[512], l[700];
      int cat = RC_NONE;
      const mt_pv *fr = b->frames;
      if (b->unseen) {
        int ro = frames_role(fr, site, sizeof site);
        cat = ro == RO_OPT ? RC_STATE : ro == RO_BWD ? RC_GRAD : ro == RO_FWD ? RC_ACT : RC_PARAM;
      } else if ((size_t)b->device < ndev && b->free_entry < traces->items[b->device]->n) {
        fr = mt_pv_get(traces->items[b->device]->items[b->free_entry], "frames");
        int ro = frames_role(fr, site, sizeof site);
        cat = ro == RO_OPT ? RC_GRAD : ro == RO_BWD ? RC_ACT : RC_NONE;
        site[0] = 0;
      }
      if (cat != RC_NONE) {
        /* "<category>/import/...": still a synthesised block (the exporter leaves those out) */
        snprintf(l, sizeof l, "%s/%s%s%s%s%s", rc_name[cat], b->unseen ? LABEL_UNSEEN : LABEL_PRE,
                 site[0] ? ": " : "", site,
                 cat == RC_PARAM ? " (no frames: made before the steps, lives through them)" : "",
                 !b->unseen ? (cat == RC_GRAD ? " (freed by the optimizer)" : " (freed in a backward)") : "");
        lab = mt_trace_intern(t, l);
        c.roles_param += cat == RC_PARAM;
        c.roles_labelled++;
      }
    }
    /* made before recording: its free entry says the size asked for */
    uint64_t bs = b->unseen ? b->size : block_size(NULL, NULL, b->addr, b->size);
    mt_region_event r = { .ts = 0, .op = MT_REGION_REGISTER, .heap = s ? s->id : unknown_heap, .addr = b->addr,
                          .size = bs, .stream = stream_id(&c, b->device, (uint64_t)b->stream),
                          .label_id = lab };
    if ((rc = mt_trace_put_region(t, &r)))
      goto write_fail;
    c.events++;
    if ((size_t)b->device < ndev &&
        ((rc = as_add(&c.live[b->device], b->addr)) ||
         (rc = mt__imap_put(&c.bsize, b->addr ^ ((uint64_t)b->device << 56), bs))))
      goto write_fail;
  }

  /* The trace entries, in order. */
  for (size_t d = 0; traces && d < traces->n; d++) {
    const mt_pv *tr = traces->items[d];
    for (size_t i = 0; i < tr->n; i++) {
      const mt_pv *e = tr->items[i];
      const char *a = mt_pv_str(mt_pv_get(e, "action"), "");
      uint64_t addr = (uint64_t)mt_pv_int(mt_pv_get(e, "addr"), 0);
      uint64_t size = (uint64_t)mt_pv_int(mt_pv_get(e, "size"), 0);
      int64_t ts = ev_ts(&c, e, i);
      int64_t stream = stream_id(&c, (int)d, (uint64_t)mt_pv_int(mt_pv_get(e, "stream"), 0));
      int64_t stack = stack_id(&c, mt_pv_get(e, "frames"));
      if (ts + c.t0 > tmax)
        tmax = ts + c.t0;
      mt_torch_action ta = mt_torch_action_parse(a);
      int op, api, kind;
      if (mt_torch_region_op(ta)) {
        seginst *s = seg_at(&c, (int)d, addr, ts);
        mt_region_event r = { .ts = ts, .op = mt_torch_region_op(ta),
                              .heap = s ? s->id : unknown_heap, .addr = addr, .size = size, .stream = stream,
                              .stack = stack };
        uint64_t fixed, key = addr ^ ((uint64_t)d << 56);
        if (a[0] == 'a') {
          c.requested += size;
          r.size = block_size(s, &c.live[d], addr, size);
          /* a block live at the dump: the dump says its size; the rule must agree */
          if (mt__imap_get(&c.fixups, ((uint64_t)d << 40) | i, &fixed) && fixed != r.size) {
            c.block_mismatches++;
            r.size = fixed;
          }
          c.blocks += r.size;
          if ((rc = as_add(&c.live[d], addr)) || (rc = mt__imap_put(&c.bsize, key, r.size)))
            goto write_fail;
        } else {
          if (mt__imap_get(&c.bsize, key, &fixed)) {
            r.size = fixed;
            mt__imap_del(&c.bsize, key);
          }
          as_del(&c.live[d], addr);
        }
        const char *um = mt_pv_str(mt_pv_get(e, "user_metadata"), "");
        if (a[0] == 'a' && *um)
          r.label_id = mt_trace_intern(t, um);
        else if (a[0] == 'a' && c.roles && c.roles[d].cat[i] != RC_NONE) {
          char site[512], lab[600];
          int ro = frames_role(mt_pv_get(e, "frames"), site, sizeof site);
          snprintf(lab, sizeof lab, "%s/%s", rc_name[c.roles[d].cat[i]],
                   site[0] ? site : ro == RO_BWD ? "autograd backward" : ro_phase[ro]);
          r.label_id = mt_trace_intern(t, lab);
          c.roles_labelled++;
        }
        rc = mt_trace_put_region(t, &r);
      } else if (mt_torch_segment_mem(ta, &op, &api, &kind)) {
        mt_mem_event m = { .ts = ts, .op = op, .api = api, .kind = kind, .device = (int)d,
                           .stream = stream, .addr = addr, .size = size, .stack = stack,
                           .context = MT_CTX_FRAMEWORK };
        rc = mt_trace_put_mem(t, &m);
      } else if (ta == MT_TA_OOM) {
        mt_oom_event o = { .ts = ts, .device = (int)d, .api = MT_API_torch, .source = MT_OOM_ALLOCATOR,
                           .requested = size, .free_bytes = mt_pv_int(mt_pv_get(e, "device_free"), -1),
                           .total_bytes = -1, .stack = stack };
        rc = mt_trace_put_oom(t, &o);
      } else if (ta == MT_TA_SNAPSHOT) {
        mt_range_event r = { .ts = ts, .te = ts, .kind = MT_RANGE_MARK,
                             .name_id = mt_trace_intern(t, "torch.memory snapshot") };
        rc = mt_trace_put_range(t, &r);
      } else {
        continue;   /* free_requested: the block is freed at free_completed */
      }
      if (rc)
        goto write_fail;
      c.events++;
    }
  }

  /* External annotations (START/END pairs) -> ranges. */
  const mt_pv *ann = mt_pv_get(root, "external_annotations");
  if (!c.time_from_index && is_list(ann)) {
    int64_t dom = mt_trace_intern(t, "torch.external_annotations");
    for (size_t i = 0; i < ann->n; i++) {
      const mt_pv *a = ann->items[i];
      if (strcmp(mt_pv_str(mt_pv_get(a, "stage"), ""), "START") != 0)
        continue;
      const char *nm = mt_pv_str(mt_pv_get(a, "name"), "?");
      int64_t ts = mt_pv_int(mt_pv_get(a, "time_us"), 0) * 1000 - c.t0, te = -1;
      for (size_t j = i + 1; j < ann->n; j++) {
        const mt_pv *b = ann->items[j];
        if (strcmp(mt_pv_str(mt_pv_get(b, "stage"), ""), "END") == 0 &&
            strcmp(mt_pv_str(mt_pv_get(b, "name"), ""), nm) == 0) {
          te = mt_pv_int(mt_pv_get(b, "time_us"), 0) * 1000 - c.t0;
          break;
        }
      }
      mt_range_event r = { .ts = ts, .te = te, .kind = MT_RANGE_START_END, .domain_id = dom,
                           .name_id = mt_trace_intern(t, nm) };
      if ((rc = mt_trace_put_range(t, &r)))
        goto write_fail;
    }
  }

  /* Steps (up to the end of an optimizer run), then phases (runs of one
   * role): a step is written before the phases it holds, so at equal start
   * times the phase is inside the step. */
  for (size_t d = 0; c.roles && d < ndev; d++) {
    const mt_pv *tr = traces->items[d];
    const roles *ro = &c.roles[d];
    int64_t dom = mt_trace_intern(t, "import.frames");
    for (int pass = 0; pass < 2; pass++) {
      int64_t step_ts = -1;
      int step = 0;
      for (size_t i = 0; is_list(tr) && i < tr->n; i++) {
        if (ro->at[i] == RO_NONE || (i > 0 && ro->at[i] == ro->at[i - 1]))
          continue;
        size_t j = i + 1;
        while (j < tr->n && ro->at[j] == ro->at[i])
          j++;
        int64_t ts = ev_ts(&c, tr->items[i], i), te = j < tr->n ? ev_ts(&c, tr->items[j], j) : tmax - c.t0;
        if (step_ts < 0)
          step_ts = ts;
        char sn[32];
        mt_range_event r = { .ts = ts, .te = te, .kind = MT_RANGE_START_END, .domain_id = dom,
                             .name_id = mt_trace_intern(t, ro_phase[ro->at[i]]) };
        if (pass == 0) {
          if (ro->at[i] != RO_OPT)
            continue;
          snprintf(sn, sizeof sn, "step %d", step++);
          r.ts = step_ts;
          r.name_id = mt_trace_intern(t, sn);
          step_ts = -1;
        }
        if ((rc = mt_trace_put_range(t, &r)))
          goto write_fail;
        if (ro->at[i] == RO_OPT)
          step_ts = -1;
      }
    }
  }

  char nb[32];
#define META_I(k, v) (snprintf(nb, sizeof nb, "%lld", (long long)(v)), mt_trace_put_meta(t, k, nb))
  META_I("import.entries", c.entries);
  META_I("import.pre_recording_frees", c.pre_frees);
  META_I("import.live_at_dump_unseen", c.unseen_live);
  META_I("import.replay_mismatches", c.mismatches);
  META_I("import.free_requested", c.free_requested);
  META_I("import.size_from_dump", c.size_fixups);
  META_I("import.segments_at_dump", segments ? (int64_t)segments->n : 0);
  mt_trace_put_meta(t, "import.synthesized_label", LABEL_PRE "; " LABEL_UNSEEN);
  mt_trace_put_meta(t, "import.size", "block: the caching allocator's (512 B rounding, an unsplit remainder "
                                      "included), what torch.cuda.max_memory_allocated counts");
  META_I("import.requested_bytes", (int64_t)c.requested);
  META_I("import.block_bytes", (int64_t)c.blocks);
  META_I("import.block_size_mismatches", c.block_mismatches);
  if (c.roles) {
    META_I("import.roles.labelled", c.roles_labelled);
    META_I("import.roles.parameters_inferred", c.roles_param);
    mt_trace_put_meta(t, "import.roles", "categories, phases and steps from frames (docs/INTEROP.md, Roles from frames)");
  }
  mt_trace_put_meta(t, "import.lacks", c.roles ? "kernels, NCCL calls, thread ids, tensor names (roles come from frames)"
                                               : "kernels, NCCL calls, categories (no frames: no tensor roles), thread ids");
  if ((rc = mt_trace_commit(t)))
    goto write_fail;
  if ((rc = mt_trace_finalize(t, tmax > c.t0 ? tmax - c.t0 : 0)))
    goto write_fail;
  if (res) {
    res->rank = -1;
    res->world_size = 0;
    res->events = c.events;
  }
  goto done;
write_fail:
  mt_error_set(err, rc, "%s: cannot write the imported trace %s", in, out);
done:
  if (c.t)
    mt_trace_close(c.t);
  for (size_t d = 0; c.roles && traces && d < traces->n; d++)
    roles_free(&c.roles[d]);
  for (size_t d = 0; c.live && traces && d < traces->n; d++)
    free(c.live[d].a);
  free(c.live);
  mt__imap_free(&c.bsize);
  free(c.roles);
  free(c.segs.v);
  free(c.synth.v);
  mt__imap_free(&c.stack_by_list);
  mt__imap_free(&c.frame_by_key);
  mt__imap_free(&c.streams);
  mt__imap_free(&c.fixups);
  mt_pickle_free(pk);
  return rc;
}
