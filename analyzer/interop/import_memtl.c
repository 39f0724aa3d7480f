/* Import of torch.profiler export_memory_timeline raw files: a JSON list of
 * [t_ns, action, bytes, category] (action 1 PREEXISTING, 2 CREATE,
 * 3 INCREMENT_VERSION, 4 DESTROY; bytes are signed; category 0 Parameter,
 * 1 Optimizer state, 2 Input, 3 Temporary, 4 Activation, 5 Gradient,
 * 6 Autograd detail, 7 Unknown; -1 = none).
 *
 * There are no addresses, so each positive entry registers a region at a
 * synthetic address and each negative one unregisters the newest live
 * region of the same category and size; the region's label carries the
 * category ("activation/...").  PREEXISTING entries (t = -1) land at ts 0;
 * the first timed entry at 1 µs. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/jstream.h"

typedef struct tl_ev {
  int64_t t, bytes, seq;
  int action, cat;
} tl_ev;

typedef struct tctx {
  const char *path;
  mt_error *err;
  MT__IVEC(tl_ev) ev;
} tctx;

static const char *const cat_label[] = {
  "parameter/torch.profiler Parameter", "optimizer_state/torch.profiler Optimizer state",
  "input/torch.profiler Input", "temporary/torch.profiler Temporary",
  "activation/torch.profiler Activation", "gradient/torch.profiler Gradient",
  "other/torch.profiler Autograd detail", "other/torch.profiler Unknown",
};
#define NCAT 8

static int cb(void *ud, const char *key, int in_array, json_object *v)
{
  tctx *c = ud;
  if (!in_array || !json_object_is_type(v, json_type_array) || json_object_array_length(v) < 4) {
    mt_error_set(c->err, MT_ECORRUPT, "%s: not a memory timeline: entries must be [t, action, bytes, category]",
                 c->path);
    return MT_ECORRUPT;
  }
  tl_ev e = { .seq = (int64_t)c->ev.n };
  json_object *x[4];
  for (int i = 0; i < 4; i++) {
    x[i] = json_object_array_get_idx(v, (size_t)i);
    if (!json_object_is_type(x[i], json_type_int)) {
      mt_error_set(c->err, MT_ECORRUPT, "%s: not a memory timeline: entry %zu has a non-integer field", c->path,
                   c->ev.n);
      return MT_ECORRUPT;
    }
  }
  e.t = json_object_get_int64(x[0]);
  e.action = (int)json_object_get_int64(x[1]);
  e.bytes = json_object_get_int64(x[2]);
  e.cat = (int)json_object_get_int64(x[3]);
  if (e.action < 1 || e.action > 4 || e.cat < -1 || e.cat >= NCAT || e.t < -1 ||
      e.bytes > (int64_t)1 << 50 || e.bytes < -((int64_t)1 << 50)) {
    mt_error_set(c->err, MT_ECORRUPT, "%s: not a memory timeline: entry %zu out of range", c->path, c->ev.n);
    return MT_ECORRUPT;
  }
  if (MT__IPUSH(c->ev, e)) {
    mt_error_set(c->err, MT_ENOMEM, "%s: out of memory", c->path);
    return MT_ENOMEM;
  }
  return MT_OK;
}

static int cmp(const void *a, const void *b)
{
  const tl_ev *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int mt__import_memtl(const char *in, const char *out, const char *run_id, mt_import_result *res, mt_error *err)
{
  tctx c = { .path = in, .err = err };
  mt_trace *t = NULL;
  mt__imap live = { 0 };   /* hash(cat, size) -> count of live regions, chained below */
  MT__IVEC(uint64_t) *stacks = NULL;   /* per (cat,size) key: LIFO of addresses */
  size_t nstacks = 0, capstacks = 0;
  int rc = mt__js_stream(in, "", cb, &c, err);
  if (rc)
    goto done;
  if (c.ev.n == 0) {
    rc = MT_ECORRUPT;
    mt_error_set(err, rc, "%s: empty memory timeline", in);
    goto done;
  }
  MT__ISORT(c.ev, cmp);
  int64_t tmin = -1, tmax = 0;
  for (size_t i = 0; i < c.ev.n; i++)
    if (c.ev.v[i].t >= 0) {
      if (tmin < 0)
        tmin = c.ev.v[i].t;
      tmax = c.ev.v[i].t;
    }
  int64_t start = tmin >= 1000 ? tmin - 1000 : 0;
  mt_process_info pi;
  mt__import_process(&pi, in, "import:memory-timeline", run_id, -1, 0, start, 0);
  if ((rc = mt_trace_create(out, &pi, &t, err)))
    goto done;
  mt_trace_begin(t);
  mt_trace_put_meta(t, "import.format", "memory-timeline");
  mt_trace_put_meta(t, "import.source", in);
  mt_trace_put_meta(t, "import.lacks", "addresses (synthetic, one per tensor version), device, segments "
                                       "(reserved memory), kernels, NCCL calls, stacks");
  mt_trace_put_device(t, 0, "cuda", 0, 0, 0, NULL);
  mt_heap_info h = { .id = 1, .name_id = mt_trace_intern(t, "torch-caching-allocator"),
                     .usage = MT_HEAP_FRAMEWORK_POOL, .created = 0, .destroyed = -1 };
  mt_trace_put_heap(t, &h);
  int64_t labels[NCAT + 1];
  for (int i = 0; i < NCAT; i++)
    labels[i] = mt_trace_intern(t, cat_label[i]);
  labels[NCAT] = mt_trace_intern(t, "other/torch.profiler no category");
  uint64_t next_addr = 1ull << 40;
  int64_t unmatched = 0, events = 0;
  for (size_t i = 0; i < c.ev.n && !rc; i++) {
    tl_ev *e = &c.ev.v[i];
    if (e->bytes == 0)
      continue;
    int ci = e->cat < 0 ? NCAT : e->cat;
    uint64_t key = ((uint64_t)ci << 56) ^ (uint64_t)(e->bytes < 0 ? -e->bytes : e->bytes), si;
    if (!mt__imap_get(&live, key, &si)) {
      if (mt__igrow((void **)&stacks, &capstacks, nstacks + 1, sizeof *stacks)) {
        rc = MT_ENOMEM;
        break;
      }
      memset(&stacks[nstacks], 0, sizeof *stacks);
      si = nstacks++;
      mt__imap_put(&live, key, si);
    }
    int64_t ts = e->t < 0 ? 0 : e->t - start;
    mt_region_event r = { .ts = ts, .heap = 1, .size = (uint64_t)(e->bytes < 0 ? -e->bytes : e->bytes),
                          .label_id = labels[ci] };
    if (e->bytes > 0) {
      r.op = MT_REGION_REGISTER;
      r.addr = next_addr;
      next_addr += (r.size + 511) & ~511ull;
      if (MT__IPUSH(stacks[si], r.addr)) {
        rc = MT_ENOMEM;
        break;
      }
    } else {
      r.op = MT_REGION_UNREGISTER;
      if (stacks[si].n == 0) {
        /* freed without a record of its creation: create it at the start */
        mt_region_event pre = r;
        pre.op = MT_REGION_REGISTER;
        pre.ts = 0;
        pre.addr = next_addr;
        next_addr += (r.size + 511) & ~511ull;
        rc = mt_trace_put_region(t, &pre);
        r.addr = pre.addr;
        unmatched++;
      } else {
        r.addr = stacks[si].v[--stacks[si].n];
      }
    }
    if (!rc)
      rc = mt_trace_put_region(t, &r);
    events++;
  }
  if (!rc) {
    char nb[32];
    snprintf(nb, sizeof nb, "%lld", (long long)unmatched);
    mt_trace_put_meta(t, "import.unmatched_frees", nb);
    snprintf(nb, sizeof nb, "%zu", c.ev.n);
    mt_trace_put_meta(t, "import.entries", nb);
    rc = mt_trace_commit(t);
  }
  if (!rc)
    rc = mt_trace_finalize(t, tmax > start ? tmax - start : 0);
  if (rc)
    mt_error_set(err, rc, "%s: cannot write the imported trace %s", in, out);
  if (res && !rc)
    res->events = events;
done:
  if (t)
    mt_trace_close(t);
  for (size_t i = 0; i < nstacks; i++)
    free(stacks[i].v);
  free(stacks);
  mt__imap_free(&live);
  free(c.ev.v);
  return rc;
}

int mt__fuzz_memtl_buf(const unsigned char *buf, size_t len, mt_error *err)
{
  tctx c = { .path = "fuzz", .err = err };
  int rc = mt__js_stream_buf(buf, len, "fuzz", "", cb, &c, err);
  if (!rc)
    MT__ISORT(c.ev, cmp);
  free(c.ev.v);
  return rc;
}
