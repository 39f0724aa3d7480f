/* Import of torch.profiler / Kineto Chrome-trace JSON (gzipped or not; the
 * 2021 schema with capitalised categories and the newer one).  The
 * traceEvents array is streamed element by element (jstream.c); only the
 * events memtrace keeps are held, compactly, then sorted by time (Kineto
 * files are not time-ordered) and written.
 *
 * Mapping (docs/INTEROP.md): kernel -> kernels (+ nccl_calls for NCCL
 * kernels, with the collective metadata newer Kineto attaches);
 * gpu_memcpy/gpu_memset -> memcpys; cuda_runtime/cuda_driver -> api_calls
 * and, to keep their names, ranges in domain "cuda_api"; user_annotation and
 * ProfilerStep#N -> ranges; gpu_user_annotation -> ranges on a pseudo-thread
 * per stream; [memory] (CUDA) -> region_events in one framework heap per
 * device, plus device allocations that follow "Total Reserved". */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/jstream.h"

enum { K_KERNEL = 1, K_MEMCPY, K_MEMSET, K_RUNTIME, K_RANGE_CPU, K_RANGE_GPU, K_MEM, K_COMM };

typedef struct kev {
  int64_t ts, dur;            /* ns, Kineto clock */
  int64_t seq;
  uint8_t type;
  int8_t copy_kind;
  int16_t nccl_op;
  int32_t device;
  int64_t stream;
  uint32_t name, thread;      /* strpool ids */
  int64_t corr;
  uint32_t grid[3], block[3], smem;
  int64_t bytes;              /* memcpy bytes; [memory] Bytes (signed) */
  uint64_t addr;
  uint8_t no_addr;            /* [memory] without Addr (2021 Kineto): paired by size, pair_addr */
  int64_t total_alloc, total_reserved;
  int64_t count;              /* NCCL elements */
  int32_t dtype, group_size;
  uint32_t pg, pg_desc, pg_ranks;
} kev;

typedef struct krun {
  long off;                   /* byte offset in the spill file */
  size_t n;                   /* events */
} krun;

/* A CPU op that states a collective's size (record_param_comms, nccl:*),
 * kept for the NCCL kernels launched inside it whose own args lack one. */
typedef struct kcomm {
  int64_t ts, dur, count, bytes;
  uint32_t thread;
  int32_t dtype;
} kcomm;

/* A CUDA runtime call, kept for the kernels and copies it launched. */
typedef struct klaunch {
  int64_t ts, dur;
  uint32_t thread, name;
} klaunch;

typedef struct kctx {
  const char *path;
  mt_error *err;
  MT__IVEC(kev) ev;           /* the current run (all events when nothing spilled) */
  FILE *spill;                /* sorted runs, when the events outgrow spill_at */
  MT__IVEC(krun) runs;
  size_t spill_at;
  int64_t nev, tmin, tmax;
  int devseen[16];
  mt__strpool sp;
  int rank, world;
  int64_t base_ns;
  int have_base;
  char devname[16][128];
  uint64_t devmem[16];
  int devcc[16][2];
  int64_t cpu_mem_events, mem_without_addr, skipped;
} kctx;

static const char *jstr(json_object *o, const char *k)
{
  json_object *v;
  if (!o || !json_object_object_get_ex(o, k, &v) || !v)
    return NULL;
  return json_object_get_string(v);
}

static int jhas(json_object *o, const char *k)
{
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) && v;
}

static int64_t jint(json_object *o, const char *k, int64_t dflt)
{
  json_object *v;
  if (!o || !json_object_object_get_ex(o, k, &v) || !v)
    return dflt;
  if (json_object_is_type(v, json_type_int))
    return json_object_get_int64(v);
  if (json_object_is_type(v, json_type_double)) {
    double d = json_object_get_double(v);
    return d > -9.2e18 && d < 9.2e18 ? (int64_t)d : dflt;
  }
  if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    while (*s && !isdigit((unsigned char)*s) && *s != '-')
      s++;   /* "stream 7" */
    return *s ? strtoll(s, NULL, 10) : dflt;
  }
  return dflt;
}

/* A JSON number (µs) -> ns, exactly (json-c keeps the number's text). */
static int jtime(json_object *o, const char *k, int64_t *ns)
{
  json_object *v;
  if (!o || !json_object_object_get_ex(o, k, &v) || !v)
    return -1;
  if (json_object_is_type(v, json_type_int)) {
    int64_t x = json_object_get_int64(v);
    if (x > INT64_MAX / 1000 || x < INT64_MIN / 1000)
      return -1;
    *ns = x * 1000;
    return 0;
  }
  if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_string))
    return mt__dec_milli(json_object_get_string(v), ns);
  return -1;
}

static void arr3(json_object *o, const char *k, uint32_t out[3])
{
  json_object *v;
  out[0] = out[1] = out[2] = 0;
  if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_array))
    return;
  for (size_t i = 0; i < 3 && i < json_object_array_length(v); i++)
    out[i] = (uint32_t)json_object_get_int64(json_object_array_get_idx(v, i));
}

static int ieq(const char *a, const char *b)
{
  return a && strcasecmp(a, b) == 0;
}

static int nccl_op_of(const char *coll, const char *kname)
{
  static const struct { const char *k; int op; } t[] = {
    { "allreduce", MT_NCCL_ALLREDUCE }, { "all_reduce", MT_NCCL_ALLREDUCE },
    { "reducescatter", MT_NCCL_REDUCESCATTER }, { "reduce_scatter", MT_NCCL_REDUCESCATTER },
    { "allgather", MT_NCCL_ALLGATHER }, { "all_gather", MT_NCCL_ALLGATHER },
    { "broadcast", MT_NCCL_BROADCAST }, { "alltoall", MT_NCCL_ALLTOALL }, { "all_to_all", MT_NCCL_ALLTOALL },
    { "sendrecv", MT_NCCL_SEND }, { "send", MT_NCCL_SEND }, { "recv", MT_NCCL_RECV },
    { "reduce", MT_NCCL_REDUCE },
  };
  char b[64];
  const char *src = coll && *coll ? coll : kname;
  size_t n = 0;
  /* kernel names: ncclKernel_AllReduce_RING_LL_Sum_float / ncclDevKernel_SendRecv */
  if (!coll || !*coll) {
    const char *u = strchr(kname, '_');
    src = u ? u + 1 : kname;
  }
  for (; src[n] && n < sizeof b - 1 && src[n] != '(' && (coll ? 1 : src[n] != '_'); n++)
    b[n] = (char)tolower((unsigned char)src[n]);
  b[n] = 0;
  const char *p = b;
  while (*p == '_')
    p++;   /* _allgather_base */
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strncmp(p, t[i].k, strlen(t[i].k)) == 0)
      return t[i].op;
  return 0;
}

/* ncclDataType_t and element size from Kineto's dtype names. */
static int dtype_of(const char *s, int *size)
{
  static const struct { const char *n; int v, sz; } t[] = {
    { "Char", 0, 1 }, { "Int8", 0, 1 }, { "Byte", 1, 1 }, { "Uint8", 1, 1 }, { "Int", 2, 4 }, { "Int32", 2, 4 },
    { "Uint32", 3, 4 }, { "Long", 4, 8 }, { "Int64", 4, 8 }, { "Uint64", 5, 8 }, { "Half", 6, 2 },
    { "Float16", 6, 2 }, { "Float", 7, 4 }, { "Float32", 7, 4 }, { "Double", 8, 8 }, { "Float64", 8, 8 },
    { "BFloat16", 9, 2 }, { "Bool", 1, 1 },
  };
  for (size_t i = 0; s && i < sizeof t / sizeof t[0]; i++)
    if (strcasecmp(s, t[i].n) == 0) {
      *size = t[i].sz;
      return t[i].v;
    }
  *size = 0;
  return -1;
}

/* A collective's elements, type and bytes from its event's args: torch
 * 2.x's "In msg nelems"/"dtype" (kernels and record_param_comms), else the
 * first input's "Input Dims"/"Input type" (record_shapes).  0: not stated. */
static int64_t comm_size(json_object *args, int64_t *count, int32_t *dtype)
{
  int64_t n = jint(args, "In msg nelems", -1);
  const char *ty = jstr(args, "dtype");
  json_object *dims, *types;
  if (n < 0 && json_object_object_get_ex(args, "Input Dims", &dims) && json_object_is_type(dims, json_type_array) &&
      json_object_array_length(dims) > 0) {
    json_object *d0 = json_object_array_get_idx(dims, 0);
    if (json_object_is_type(d0, json_type_array) && json_object_array_length(d0) > 0) {
      n = 1;
      for (size_t i = 0; i < json_object_array_length(d0) && n >= 0; i++) {
        int64_t d = json_object_get_int64(json_object_array_get_idx(d0, i));
        n = d < 0 || (d > 0 && n > ((int64_t)1 << 50) / d) ? -1 : n * d;
      }
    }
    if (!ty && json_object_object_get_ex(args, "Input type", &types) && json_object_is_type(types, json_type_array) &&
        json_object_array_length(types) > 0)
      ty = json_object_get_string(json_object_array_get_idx(types, 0));
  }
  if (n < 0 || n > ((int64_t)1 << 50))
    n = 0;   /* not an element count */
  int sz;
  *dtype = dtype_of(ty, &sz);
  *count = n;
  return n * sz;
}

static uint32_t sp(kctx *k, const char *s)
{
  return s ? mt__sp_intern(&k->sp, s, strlen(s)) : 0;
}

static int cmp_ev(const void *a, const void *b);

/* External merge sort: a full buffer is sorted and appended to a temporary
 * file as one run; the writer merges the runs.  Memory stays at one buffer
 * (spill_at events) plus a small read buffer per run. */
static int spill_run(kctx *k)
{
  if (k->ev.n == 0)
    return MT_OK;
  MT__ISORT(k->ev, cmp_ev);
  if (!k->spill && !(k->spill = tmpfile())) {
    mt_error_set(k->err, MT_EIO, "%s: cannot create a temporary file to sort events", k->path);
    return MT_EIO;
  }
  krun r = { ftell(k->spill), k->ev.n };
  if (r.off < 0 || fwrite(k->ev.v, sizeof *k->ev.v, k->ev.n, k->spill) != k->ev.n || MT__IPUSH(k->runs, r)) {
    mt_error_set(k->err, MT_EIO, "%s: cannot write sorted events to a temporary file", k->path);
    return MT_EIO;
  }
  k->ev.n = 0;
  return MT_OK;
}

#define KCUR_BUF 256
typedef struct kcur {
  long off;
  size_t left, bi, bn;
  kev buf[KCUR_BUF];
} kcur;

/* Events in time order: the in-memory buffer, or a merge of the runs. */
typedef struct kit {
  kctx *k;
  size_t i;                   /* in-memory position */
  kcur *c;
  size_t nc, *heap, hn;
} kit;

static int cur_fill(kit *it, kcur *c)
{
  size_t n = c->left < KCUR_BUF ? c->left : KCUR_BUF;
  if (fseek(it->k->spill, c->off, SEEK_SET) != 0 || fread(c->buf, sizeof *c->buf, n, it->k->spill) != n)
    return -1;
  c->off += (long)(n * sizeof *c->buf);
  c->left -= n;
  c->bi = 0;
  c->bn = n;
  return 0;
}

static int cur_less(kit *it, size_t a, size_t b)
{
  return cmp_ev(&it->c[a].buf[it->c[a].bi], &it->c[b].buf[it->c[b].bi]) < 0;
}

static void heap_down(kit *it, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < it->hn && cur_less(it, it->heap[l], it->heap[m]))
      m = l;
    if (l + 1 < it->hn && cur_less(it, it->heap[l + 1], it->heap[m]))
      m = l + 1;
    if (m == i)
      return;
    size_t t = it->heap[i];
    it->heap[i] = it->heap[m];
    it->heap[m] = t;
    i = m;
  }
}

/* [memory] events without Addr (the 2021 Kineto schema: Device Type/Id and
 * Bytes only): each allocation gets a synthetic address; a free takes the
 * latest live allocation of the same size on its device (the caching
 * allocator frees whole blocks), or one of its own when none (allocated
 * before recording).  Every pass replays the same time order, so each makes
 * the same pairs.  The allocated curve is then the running sum of Bytes. */
struct pnode { uint64_t addr, next; };
typedef struct kpair {
  mt__imap head;               /* (device, size) -> 1 + index of the newest live node */
  MT__IVEC(struct pnode) nodes;
  uint64_t n;
} kpair;

static uint64_t pair_addr(kpair *p, const kev *v)
{
  uint64_t size = (uint64_t)(v->bytes > 0 ? v->bytes : -v->bytes), key = ((uint64_t)(v->device & 0xff) << 56) ^ size;
  uint64_t h = 0, a = (1ull << 61) + (++p->n << 4);   /* below the synthetic segments at 2^62 */
  if (v->bytes > 0) {
    mt__imap_get(&p->head, key, &h);
    struct pnode nd = { a, h };
    if (MT__IPUSH(p->nodes, nd) == 0)
      mt__imap_put(&p->head, key, p->nodes.n);
    return a;
  }
  if (mt__imap_get(&p->head, key, &h) && h) {
    struct pnode *nd = &p->nodes.v[h - 1];
    mt__imap_put(&p->head, key, nd->next);
    return nd->addr;
  }
  return a;
}

static void pair_free(kpair *p)
{
  mt__imap_free(&p->head);
  free(p->nodes.v);
  memset(p, 0, sizeof *p);
}

static int kit_open(kit *it, kctx *k)
{
  memset(it, 0, sizeof *it);
  it->k = k;
  if (!k->runs.n)
    return MT_OK;
  it->nc = k->runs.n;
  it->c = calloc(it->nc, sizeof *it->c);
  it->heap = calloc(it->nc, sizeof *it->heap);
  if (!it->c || !it->heap)
    return MT_ENOMEM;
  for (size_t r = 0; r < it->nc; r++) {
    it->c[r].off = k->runs.v[r].off;
    it->c[r].left = k->runs.v[r].n;
    if (cur_fill(it, &it->c[r]) != 0)
      return MT_EIO;
    if (it->c[r].bn)
      it->heap[it->hn++] = r;
  }
  for (size_t i = it->hn; i > 0; i--)
    heap_down(it, i - 1);
  return MT_OK;
}

/* 1 and *out set, 0 at the end, -1 on a read error. */
static int kit_next(kit *it, kev *out)
{
  if (!it->nc) {
    if (it->i >= it->k->ev.n)
      return 0;
    *out = it->k->ev.v[it->i++];
    return 1;
  }
  if (!it->hn)
    return 0;
  kcur *c = &it->c[it->heap[0]];
  *out = c->buf[c->bi++];
  if (c->bi == c->bn) {
    if (c->left && cur_fill(it, c) != 0)
      return -1;
    if (c->bi == c->bn) {   /* run exhausted */
      it->heap[0] = it->heap[--it->hn];
    }
  }
  if (it->hn)
    heap_down(it, 0);
  return 1;
}

static void kit_close(kit *it)
{
  free(it->c);
  free(it->heap);
  it->c = NULL;
  it->heap = NULL;
  it->nc = it->hn = 0;
}

static int on_event(kctx *k, json_object *e)
{
  if (!json_object_is_type(e, json_type_object))
    return MT_OK;
  const char *ph = jstr(e, "ph"), *cat = jstr(e, "cat"), *name = jstr(e, "name");
  json_object *args = NULL;
  json_object_object_get_ex(e, "args", &args);
  if (args && !json_object_is_type(args, json_type_object))
    args = NULL;
  kev v = { 0 };
  if (!ph || !name)
    return MT_OK;
  if (jtime(e, "ts", &v.ts) != 0)
    return MT_OK;
  if ((ph[0] == 'i' || ph[0] == 'I') && strcmp(name, "[memory]") == 0) {
    if (jint(args, "Device Type", 0) != 1) {   /* c10::DeviceType::CUDA */
      k->cpu_mem_events++;
      return MT_OK;
    }
    if (!jhas(args, "Addr")) {   /* kept: pair_addr gives it an address */
      k->mem_without_addr++;
      v.no_addr = 1;
    }
    v.type = K_MEM;
    v.device = (int32_t)jint(args, "Device Id", 0);
    v.addr = (uint64_t)jint(args, "Addr", 0);
    v.bytes = jint(args, "Bytes", 0);
    v.total_alloc = jint(args, "Total Allocated", -1);
    v.total_reserved = jint(args, "Total Reserved", -1);
    const int64_t lim = (int64_t)1 << 56;   /* 64 PiB: beyond it, not a size */
    if (v.bytes <= -lim || v.bytes >= lim || v.total_alloc < -1 || v.total_alloc >= lim ||
        v.total_reserved < -1 || v.total_reserved >= lim) {
      k->skipped++;
      return MT_OK;
    }
  } else if (ph[0] == 'X' && cat) {
    int64_t d = 0;
    jtime(e, "dur", &d);
    v.dur = d < 0 ? 0 : d;
    if (ieq(cat, "kernel")) {
      v.type = K_KERNEL;
    } else if (ieq(cat, "gpu_memcpy") || ieq(cat, "memcpy")) {
      v.type = K_MEMCPY;
      v.copy_kind = strstr(name, "HtoD") ? MT_COPY_H2D : strstr(name, "DtoH") ? MT_COPY_D2H
                  : strstr(name, "DtoD") || strstr(name, "PtoP") ? MT_COPY_D2D : strstr(name, "HtoH") ? MT_COPY_H2H
                  : MT_COPY_DEFAULT;
    } else if (ieq(cat, "gpu_memset") || ieq(cat, "memset")) {
      v.type = K_MEMSET;
      v.copy_kind = MT_COPY_MEMSET;
    } else if (ieq(cat, "cuda_runtime") || ieq(cat, "runtime") || ieq(cat, "cuda_driver")) {
      v.type = K_RUNTIME;
    } else if (ieq(cat, "user_annotation") ||
               ((ieq(cat, "cpu_op") || ieq(cat, "operator")) && strncmp(name, "ProfilerStep#", 13) == 0)) {
      v.type = K_RANGE_CPU;
    } else if (ieq(cat, "gpu_user_annotation")) {
      v.type = K_RANGE_GPU;
    } else if ((ieq(cat, "cpu_op") || ieq(cat, "operator")) &&
               (strcmp(name, "record_param_comms") == 0 || strncmp(name, "nccl:", 5) == 0)) {
      v.type = K_COMM;
      v.bytes = comm_size(args, &v.count, &v.dtype);
      if (v.bytes <= 0)
        return MT_OK;
    } else {
      return MT_OK;
    }
    v.device = (int32_t)jint(args, "device", v.type == K_COMM ? -1 : 0);
    v.stream = jint(args, "stream", jint(e, "tid", 0));
    v.corr = jint(args, "correlation", 0);
    if (v.type != K_COMM)
      v.bytes = jint(args, "bytes", 0);
    if (v.type == K_KERNEL) {
      arr3(args, "grid", v.grid);
      arr3(args, "block", v.block);
      v.smem = (uint32_t)jint(args, "shared memory", 0);
      if (strncmp(name, "nccl", 4) == 0) {
        v.nccl_op = (int16_t)nccl_op_of(jstr(args, "Collective name"), name);
        v.bytes = comm_size(args, &v.count, &v.dtype);
        v.group_size = (int32_t)jint(args, "Group size", 0);
        v.pg = sp(k, jstr(args, "Process Group Name"));
        v.pg_desc = sp(k, jstr(args, "Process Group Description"));
        v.pg_ranks = sp(k, jstr(args, "Process Group Ranks"));
        if (!v.nccl_op)
          v.nccl_op = -1;
      }
    }
  } else {
    return MT_OK;
  }
  v.name = sp(k, name);
  const char *tid = jstr(e, "tid");
  v.thread = sp(k, tid ? tid : "0");
  v.seq = k->nev++;
  if (k->nev == 1 || v.ts < k->tmin)
    k->tmin = v.ts;
  if (k->nev == 1 || v.ts + v.dur > k->tmax)
    k->tmax = v.ts + v.dur;
  if (v.type != K_RUNTIME && v.type != K_RANGE_CPU && v.type != K_COMM && v.device >= 0 && v.device < 16)
    k->devseen[v.device] = 1;
  if (MT__IPUSH(k->ev, v)) {
    mt_error_set(k->err, MT_ENOMEM, "%s: out of memory", k->path);
    return MT_ENOMEM;
  }
  if (k->ev.n >= k->spill_at)
    return spill_run(k);
  return MT_OK;
}

static int cb(void *ud, const char *key, int in_array, json_object *v)
{
  kctx *k = ud;
  if (in_array)
    return on_event(k, v);
  if (strcmp(key, "distributedInfo") == 0) {
    k->rank = (int)jint(v, "rank", -1);
    k->world = (int)jint(v, "world_size", 0);
  } else if (strcmp(key, "baseTimeNanoseconds") == 0 && json_object_is_type(v, json_type_int)) {
    k->base_ns = json_object_get_int64(v);
    k->have_base = 1;
  } else if (strcmp(key, "deviceProperties") == 0 && json_object_is_type(v, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(v); i++) {
      json_object *d = json_object_array_get_idx(v, i);
      int64_t id = jint(d, "id", -1);
      if (id < 0 || id >= 16)
        continue;
      snprintf(k->devname[id], sizeof k->devname[id], "%s", jstr(d, "name") ? jstr(d, "name") : "");
      k->devmem[id] = (uint64_t)jint(d, "totalGlobalMem", 0);
      k->devcc[id][0] = (int)jint(d, "computeMajor", 0);
      k->devcc[id][1] = (int)jint(d, "computeMinor", 0);
    }
  } else if (strcmp(key, "traceEvents") == 0) {
    /* a traceEvents that is not an array */
    mt_error_set(k->err, MT_ECORRUPT, "%s: traceEvents is not an array", k->path);
    return MT_ECORRUPT;
  }
  return MT_OK;
}

static int cmp_ev(const void *a, const void *b)
{
  const kev *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the collected events.  */
static int write_trace(kctx *k, const char *out, const char *run_id, mt_import_result *res)
{
  kpair pairs = { 0 };
  mt_error *err = k->err;
  int rc;
  if (k->runs.n) {   /* the last run joins the others in the file */
    if ((rc = spill_run(k)))
      return rc;
  } else {
    MT__ISORT(k->ev, cmp_ev);
  }
  int64_t t0 = k->nev ? k->tmin : 0, tend = k->nev ? k->tmax : 0;
  MT__IVEC(klaunch) launches = { 0 };
  MT__IVEC(kcomm) cops = { 0 };   /* in ts order, as pass 1 reads them */
  kit it = { 0 };
  kev ev;
  int more = 0;
  MT__IVEC(uint64_t) segstack[16];
  memset(segstack, 0, sizeof segstack);
  mt_process_info pi;
  mt__import_process(&pi, k->path, "import:kineto", run_id, k->rank, k->world, t0,
                     k->have_base ? k->base_ns : 0);
  pi.cupti = "active";
  mt_trace *t = NULL;
  rc = mt_trace_create(out, &pi, &t, err);
  if (rc)
    return rc;
  mt__imap thread_ids = { 0 }, streams = { 0 }, comms = { 0 }, corr = { 0 }, live = { 0 };
  mt__imap strid = { 0 };   /* strpool id -> trace string id */
  int64_t nthreads = 0, ncomms = 0, events = 0;
  mt_trace_begin(t);
  mt_trace_put_meta(t, "import.format", "kineto");
  mt_trace_put_meta(t, "import.source", k->path);
#define SID(pid) ({ uint64_t _v = 0; uint32_t _p = (pid); \
    if (_p && !mt__imap_get(&strid, _p, &_v)) { _v = (uint64_t)mt_trace_intern(t, mt__sp_get(&k->sp, _p)); \
      mt__imap_put(&strid, _p, _v); } (int64_t)_v; })

  /* devices */
  for (int d = 0; d < 16; d++)
    if (k->devseen[d] || k->devname[d][0]) {
      char nm[160];
      snprintf(nm, sizeof nm, "%s", k->devname[d][0] ? k->devname[d] : "cuda");
      mt_trace_put_device(t, d, nm, k->devmem[d], k->devcc[d][0], k->devcc[d][1], NULL);
    }

  int64_t dom_api = mt_trace_intern(t, "cuda_api"), dom_gpu = mt_trace_intern(t, "gpu_user_annotation");
  int64_t heap_of[16] = { 0 };
  int64_t lab_pre = mt_trace_intern(t, "import/allocated before recording began");
  int64_t lab_base = mt_trace_intern(t, "import/allocated before recording began (unattributed)");
  /* memory: pass 1 finds frees of blocks allocated before recording */
  int64_t first_alloc_before[16], first_reserved[16];
  for (int d = 0; d < 16; d++)
    first_alloc_before[d] = first_reserved[d] = -1;
  int64_t pre_frees = 0;
  uint64_t pre_bytes[16] = { 0 };
  /* pass 1: correlation -> runtime call (launch times of kernels and
   * copies), and the memory events' view of the time before recording */
  if ((rc = kit_open(&it, k)))
    goto io_fail;
  while ((more = kit_next(&it, &ev)) == 1) {
    kev *v = &ev;
    if (v->type == K_COMM) {
      kcomm c = { v->ts, v->dur, v->count, v->bytes, v->thread, v->dtype };
      if (MT__IPUSH(cops, c)) {
        rc = MT_ENOMEM;
        break;
      }
      continue;
    }
    if (v->type == K_RUNTIME && v->corr) {
      klaunch l = { v->ts, v->dur, v->thread, v->name };
      if (MT__IPUSH(launches, l) || mt__imap_put(&corr, (uint64_t)v->corr, launches.n - 1)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    if (v->type != K_MEM || v->device < 0 || v->device >= 16)
      continue;
    if (v->no_addr)
      v->addr = pair_addr(&pairs, v);
    int d = v->device;
    uint64_t key = v->addr ^ ((uint64_t)d << 56);
    if (first_alloc_before[d] < 0 && v->total_alloc >= 0) {
      first_alloc_before[d] = v->total_alloc - v->bytes;
      first_reserved[d] = v->total_reserved;
    }
    if (!heap_of[d]) {
      heap_of[d] = d + 1;
      /* The pool's range is the synthetic segment range (from 2^62), so
       * analyzers see the reserved bytes as covered by this heap and count
       * allocated bytes from its regions (whose real addresses lie outside:
       * Kineto does not say which segment holds a block). */
      mt_heap_info h = { .id = d + 1, .name_id = mt_trace_intern(t, "torch-caching-allocator"),
                         .usage = MT_HEAP_FRAMEWORK_POOL, .device = d, .addr = 1ull << 62,
                         .size = (1ull << 62) - 1, .created = 0, .destroyed = -1 };
      mt_trace_put_heap(t, &h);
    }
    if (v->bytes > 0) {
      mt__imap_put(&live, key, (uint64_t)v->bytes);
    } else if (v->bytes < 0) {
      if (!mt__imap_del(&live, key)) {
        mt_region_event r = { .ts = 0, .op = MT_REGION_REGISTER, .heap = heap_of[d], .addr = v->addr,
                              .size = (uint64_t)-v->bytes, .label_id = lab_pre };
        mt_trace_put_region(t, &r);
        pre_frees++;
        pre_bytes[d] += (uint64_t)-v->bytes;
        events++;
      }
    }
  }
  kit_close(&it);
  if (more < 0)
    rc = MT_EIO;
  mt__imap_free(&live);
  if (rc)
    goto io_fail;
  /* the rest of what was allocated before the first event, one block */
  uint64_t seg_base = 1ull << 62;
  int64_t reserved[16] = { 0 };
  for (int d = 0; d < 16; d++) {
    if (first_alloc_before[d] > (int64_t)pre_bytes[d]) {
      mt_region_event r = { .ts = 0, .op = MT_REGION_REGISTER, .heap = heap_of[d], .addr = 0,
                            .size = (uint64_t)first_alloc_before[d] - pre_bytes[d], .label_id = lab_base };
      mt_trace_put_region(t, &r);
      events++;
    }
    if (first_reserved[d] > 0) {
      mt_mem_event m = { .ts = 0, .op = MT_MEM_ALLOC, .api = MT_API_import, .kind = MT_MEM_KIND_DEVICE,
                         .device = d, .addr = seg_base, .size = (uint64_t)first_reserved[d],
                         .context = MT_CTX_FRAMEWORK };
      mt_trace_put_mem(t, &m);
      MT__IPUSH(segstack[d], seg_base);
      MT__IPUSH(segstack[d], (uint64_t)first_reserved[d]);
      seg_base += (uint64_t)first_reserved[d];
      reserved[d] = first_reserved[d];
      events++;
    }
  }

  /* pass 2: the events, in time order */
  pair_free(&pairs);
  if ((rc = kit_open(&it, k)))
    goto io_fail;
  while ((more = kit_next(&it, &ev)) == 1) {
    kev *v = &ev;
    int64_t ts = v->ts - t0;
    uint64_t tid;
    if (v->type == K_COMM)
      continue;   /* pass 1 kept it for the kernels */
    if (v->type == K_RANGE_GPU) {
      char nm[64];
      snprintf(nm, sizeof nm, "gpu stream %lld", (long long)v->stream);
      v->thread = sp(k, nm);
    }
    if (!mt__imap_get(&thread_ids, v->thread, &tid)) {
      tid = (uint64_t)++nthreads;
      mt__imap_put(&thread_ids, v->thread, tid);
      const char *tn = mt__sp_get(&k->sp, v->thread);
      mt_trace_put_thread(t, (int64_t)tid, v->type == K_RANGE_GPU ? 0 : strtoll(tn ? tn : "0", NULL, 10),
                          v->type == K_RANGE_GPU ? tn : NULL);
    }
    if ((v->type == K_KERNEL || v->type == K_MEMCPY || v->type == K_MEMSET) && v->stream >= 0 &&
        !mt__imap_get(&streams, (uint64_t)v->stream, NULL)) {
      mt__imap_put(&streams, (uint64_t)v->stream, 1);
      mt_trace_put_stream(t, v->stream, v->device, (uint64_t)v->stream, 0, 0, 0);
    }
    /* launch call, when the runtime event is there */
    int64_t lts = ts, ldur = 0, lthread = 0;
    int lapi = MT_API_UNKNOWN;
    uint64_t ri;
    if (v->corr && v->type != K_RUNTIME && mt__imap_get(&corr, (uint64_t)v->corr, &ri)) {
      klaunch *r = &launches.v[ri];
      lts = r->ts - t0;
      ldur = r->dur;
      uint64_t rt;
      lthread = mt__imap_get(&thread_ids, r->thread, &rt) ? (int64_t)rt : 0;
      lapi = mt__api_from_name(mt__sp_get(&k->sp, r->name));
    }
    switch (v->type) {
    case K_KERNEL: {
      mt_kernel_event ke = { .ts = lts, .dur = ldur, .api = lapi ? lapi : MT_API_cudaLaunchKernel,
                             .name_id = SID(v->name), .device = v->device, .stream = v->stream,
                             .grid = { v->grid[0], v->grid[1], v->grid[2] },
                             .block = { v->block[0], v->block[1], v->block[2] }, .smem = v->smem,
                             .thread = lthread, .correlation = v->corr, .gpu_start = ts, .gpu_end = ts + v->dur };
      rc = mt_trace_put_kernel(t, &ke);
      if (!rc && v->nccl_op && v->bytes <= 0 && v->corr && mt__imap_get(&corr, (uint64_t)v->corr, &ri)) {
        /* the size from the innermost op that states one around the launch on its thread */
        klaunch *r = &launches.v[ri];
        size_t lo = 0, hi = cops.n;
        while (lo < hi) {   /* first op starting after the launch */
          size_t mid = (lo + hi) / 2;
          if (cops.v[mid].ts <= r->ts)
            lo = mid + 1;
          else
            hi = mid;
        }
        for (size_t j = lo; j-- > 0 && lo - j <= 256;)
          if (cops.v[j].thread == r->thread && cops.v[j].ts + cops.v[j].dur >= r->ts) {
            v->count = cops.v[j].count;
            v->dtype = cops.v[j].dtype;
            v->bytes = cops.v[j].bytes;
            break;
          }
      }
      if (!rc && v->nccl_op) {
        uint64_t cid = 0;
        uint64_t ckey = v->pg ? v->pg : 0xffffffffu;
        if (!mt__imap_get(&comms, ckey, &cid)) {
          cid = (uint64_t)++ncomms;
          mt__imap_put(&comms, ckey, cid);
          const char *pgn = mt__sp_get(&k->sp, v->pg), *ranks = mt__sp_get(&k->sp, v->pg_ranks);
          int myrank = -1;
          if (ranks && k->rank >= 0) {   /* position of this rank in "[0, 1]" */
            int pos = 0;
            for (const char *p = ranks; *p; p++)
              if (isdigit((unsigned char)*p)) {
                if (strtol(p, NULL, 10) == k->rank)
                  myrank = pos;
                pos++;
                while (isdigit((unsigned char)p[1]))
                  p++;
              }
          }
          mt_comm_info ci = { .id = (int64_t)cid, .nranks = v->group_size, .rank = myrank, .device = v->device,
                              .created = 0, .destroyed = -1 };
          snprintf(ci.unique_id, sizeof ci.unique_id, "%s", pgn ? pgn : "");
          mt_trace_put_comm(t, &ci);
          char key[64];
          snprintf(key, sizeof key, "comm.%llu.pg_name", (unsigned long long)cid);
          mt_trace_put_meta(t, key, pgn ? pgn : "");
          snprintf(key, sizeof key, "comm.%llu.pg_desc", (unsigned long long)cid);
          mt_trace_put_meta(t, key, mt__sp_get(&k->sp, v->pg_desc) ? mt__sp_get(&k->sp, v->pg_desc) : "");
          snprintf(key, sizeof key, "comm.%llu.ranks", (unsigned long long)cid);
          mt_trace_put_meta(t, key, ranks ? ranks : "");
        }
        mt_nccl_event ne = { .ts = ts, .dur = v->dur, .op = v->nccl_op > 0 ? v->nccl_op : 0, .comm = (int64_t)cid,
                             .count = (uint64_t)v->count, .dtype = v->dtype, .bytes = (uint64_t)v->bytes,
                             .peer = -1, .stream = v->stream, .thread = lthread, .correlation = v->corr,
                             .gpu_start = ts, .gpu_end = ts + v->dur };
        rc = mt_trace_put_nccl(t, &ne);
      }
      break;
    }
    case K_MEMCPY: case K_MEMSET: {
      mt_memcpy_event me = { .ts = lts, .dur = ldur, .api = lapi, .kind = v->copy_kind, .bytes = (uint64_t)v->bytes,
                             .device = v->device, .stream = v->stream, .thread = lthread,
                             .correlation = v->corr, .gpu_start = ts, .gpu_end = ts + v->dur };
      rc = mt_trace_put_memcpy(t, &me);
      break;
    }
    case K_RUNTIME: {
      mt_api_event ae = { .ts = ts, .dur = v->dur, .api = mt__api_from_name(mt__sp_get(&k->sp, v->name)),
                          .thread = (int64_t)tid };
      rc = mt_trace_put_api(t, &ae);
      mt_range_event re = { .ts = ts, .te = ts + v->dur, .kind = MT_RANGE_PUSH_POP, .domain_id = dom_api,
                            .name_id = SID(v->name), .thread = (int64_t)tid };
      if (!rc)
        rc = mt_trace_put_range(t, &re);
      break;
    }
    case K_RANGE_CPU: case K_RANGE_GPU: {
      mt_range_event re = { .ts = ts, .te = ts + v->dur, .kind = MT_RANGE_PUSH_POP,
                            .domain_id = v->type == K_RANGE_GPU ? dom_gpu : 0, .name_id = SID(v->name),
                            .thread = (int64_t)tid };
      rc = mt_trace_put_range(t, &re);
      break;
    }
    case K_MEM: {
      int d = v->device;
      if (d < 0 || d >= 16)
        break;
      if (v->no_addr && v->bytes != 0)
        v->addr = pair_addr(&pairs, v);
      if (v->bytes != 0) {
        mt_region_event r = { .ts = ts, .op = v->bytes > 0 ? MT_REGION_REGISTER : MT_REGION_UNREGISTER,
                              .heap = heap_of[d], .addr = v->addr,
                              .size = (uint64_t)(v->bytes > 0 ? v->bytes : -v->bytes), .thread = (int64_t)tid };
        rc = mt_trace_put_region(t, &r);
      }
      /* device memory follows Total Reserved: grow by one segment, shrink
       * by releasing the newest ones (the addresses are synthetic) */
      if (!rc && v->total_reserved >= 0 && v->total_reserved != reserved[d]) {
        int64_t delta = v->total_reserved - reserved[d];
        if (delta > 0) {
          mt_mem_event m = { .ts = ts, .op = MT_MEM_ALLOC, .api = MT_API_import, .kind = MT_MEM_KIND_DEVICE,
                             .device = d, .addr = seg_base, .size = (uint64_t)delta, .context = MT_CTX_FRAMEWORK };
          rc = mt_trace_put_mem(t, &m);
          MT__IPUSH(segstack[d], seg_base);
          MT__IPUSH(segstack[d], (uint64_t)delta);
          seg_base += (uint64_t)delta;
        } else {
          int64_t left = -delta;
          while (!rc && left > 0 && segstack[d].n >= 2) {
            uint64_t sz = segstack[d].v[--segstack[d].n], ad = segstack[d].v[--segstack[d].n];
            mt_mem_event m = { .ts = ts, .op = MT_MEM_FREE, .api = MT_API_import, .kind = MT_MEM_KIND_DEVICE,
                               .device = d, .addr = ad, .size = sz, .context = MT_CTX_FRAMEWORK };
            rc = mt_trace_put_mem(t, &m);
            left -= (int64_t)sz;
          }
          if (!rc && left < 0) {   /* freed part of a segment: keep the rest */
            mt_mem_event m = { .ts = ts, .op = MT_MEM_ALLOC, .api = MT_API_import, .kind = MT_MEM_KIND_DEVICE,
                               .device = d, .addr = seg_base, .size = (uint64_t)-left,
                               .context = MT_CTX_FRAMEWORK };
            rc = mt_trace_put_mem(t, &m);
            MT__IPUSH(segstack[d], seg_base);
            MT__IPUSH(segstack[d], (uint64_t)-left);
            seg_base += (uint64_t)-left;
          }
        }
        reserved[d] = v->total_reserved;
      }
      break;
    }
    }
    if (rc)
      break;
    events++;
  }
  kit_close(&it);
  if (!rc && more < 0)
    goto io_fail;
  if (!rc) {
    char nb[32];
#define META_I(key, val) (snprintf(nb, sizeof nb, "%lld", (long long)(val)), mt_trace_put_meta(t, key, nb))
    META_I("import.pre_recording_frees", pre_frees);
    META_I("import.cpu_memory_events_skipped", k->cpu_mem_events);
    META_I("import.memory_events_without_addr", k->mem_without_addr);
    META_I("import.memory_events_out_of_range", k->skipped);
    mt_trace_put_meta(t, "import.synthesized_label",
                      "import/allocated before recording began; device allocations follow 'Total Reserved' "
                      "at synthetic addresses from 2^62 (api 'import')");
    mt_trace_put_meta(t, "import.lacks", k->mem_without_addr
                      ? "stacks, categories (no tensor roles), segment addresses, launch parameters of NCCL "
                        "calls other than the kernel's, memory addresses (each free is paired with the latest "
                        "live allocation of its size, so allocated is the running sum of Bytes)"
                      : "stacks, categories (no tensor roles), segment addresses, launch "
                        "parameters of NCCL calls other than the kernel's");
    rc = mt_trace_commit(t);
  }
  if (!rc)
    rc = mt_trace_finalize(t, tend - t0);
  if (rc)
    mt_error_set(err, rc, "%s: cannot write the imported trace %s", k->path, out);
  goto cleanup;
io_fail:
  kit_close(&it);
  if (!rc)
    rc = MT_EIO;
  mt_error_set(err, rc, rc == MT_ENOMEM ? "%s: out of memory" : "%s: cannot read back the sorted events", k->path);
cleanup:
  mt_trace_close(t);
  pair_free(&pairs);
  free(launches.v);
  free(cops.v);
  for (int d = 0; d < 16; d++)
    free(segstack[d].v);
  mt__imap_free(&thread_ids);
  mt__imap_free(&streams);
  mt__imap_free(&comms);
  mt__imap_free(&corr);
  mt__imap_free(&strid);
  if (res && !rc) {
    res->rank = k->rank;
    res->world_size = k->world;
    res->events = events;
  }
  return rc;
}

int mt__import_kineto(const char *in, const char *out, const char *run_id, mt_import_result *res, mt_error *err)
{
  kctx *k = calloc(1, sizeof *k);
  if (!k)
    return MT_ENOMEM;
  k->path = in;
  k->err = err;
  k->rank = -1;
  /* events held before a sorted run goes to a temporary file (about 160
   * bytes each); MT_INTEROP_SORT_EVENTS lowers it for tests */
  k->spill_at = 1u << 20;
  const char *se = getenv("MT_INTEROP_SORT_EVENTS");
  if (se && atol(se) > 0)
    k->spill_at = (size_t)atol(se);
  int rc = mt__js_stream(in, "traceEvents", cb, k, err);
  if (!rc)
    rc = write_trace(k, out, run_id, res);
  if (k->spill)
    fclose(k->spill);
  free(k->runs.v);
  free(k->ev.v);
  mt__sp_free(&k->sp);
  free(k);
  return rc;
}

int mt__fuzz_kineto_buf(const unsigned char *buf, size_t len, mt_error *err)
{
  kctx *k = calloc(1, sizeof *k);
  if (!k)
    return MT_ENOMEM;
  k->path = "fuzz";
  k->err = err;
  k->rank = -1;
  k->spill_at = 16;   /* small runs, so the merge is exercised too */
  int rc = mt__js_stream_buf(buf, len, "fuzz", "traceEvents", cb, k, err);
  if (!rc && k->runs.n)
    rc = spill_run(k);
  else if (!rc)
    MT__ISORT(k->ev, cmp_ev);
  if (!rc) {
    kit it;
    kev ev, prev;
    int more, n = 0;
    if (kit_open(&it, k) == MT_OK)
      while ((more = kit_next(&it, &ev)) == 1) {
        if (n++ && cmp_ev(&prev, &ev) > 0)
          abort();   /* the merge must come out sorted */
        prev = ev;
      }
    kit_close(&it);
  }
  if (k->spill)
    fclose(k->spill);
  free(k->runs.v);
  free(k->ev.v);
  mt__sp_free(&k->sp);
  free(k);
  return rc;
}
