/* Import of Nsight Systems SQLite exports (`nsys export -t sqlite`), old
 * (EXPORT_META_DATA, 2.x) and new (META_DATA_EXPORT, 3.x) schemas.
 *
 * Tables are created lazily by nsys, so each is looked up in sqlite_master
 * and its columns by name; enum labels come from the file's ENUM_* tables.
 * Exports older than the ENUM_* tables get CUPTI's documented values,
 * recorded in meta as import.nsys_enums=builtin.
 *
 * Mapping (docs/INTEROP.md): CUPTI_ACTIVITY_KIND_KERNEL -> kernels (+
 * nccl_calls for NCCL kernels); _MEMCPY/_MEMSET -> memcpys;
 * _RUNTIME -> api_calls, and ranges in domain "cuda_api" that keep the exact
 * function names; NVTX_EVENTS -> ranges; CUDA_GPU_MEMORY_USAGE_EVENTS ->
 * gpu_memory and mem_events.  Times stay nsys's ns (start_ns = 0;
 * wall_offset_ns = the session's UTC start). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyzer/interop/interop_internal.h"

typedef struct nctx {
  const char *path;
  sqlite3 *db;
  mt_trace *t;
  mt_error *err;
  int builtin_enums;
  mt__imap strmap;     /* nsys StringIds.id -> trace strings.id */
  mt__imap threads;    /* globalTid -> threads.id */
  mt__imap streams;    /* streamId -> 1 */
  mt__imap corr_api;   /* correlationId -> runtime row index in apis */
  MT__IVEC(int64_t) api_ts;
  MT__IVEC(int64_t) api_dur;
  MT__IVEC(int64_t) api_thread;
  MT__IVEC(int) api_enum;
  int64_t nthreads, events;
  int copy_kind[64];  /* ENUM_CUDA_MEMCPY_OPER id -> copy kind */
  int mem_kind[64];   /* ENUM_CUDA_MEM_KIND id -> mem kind (0 = not device memory) */
  int dealloc_op;     /* ENUM_CUDA_DEV_MEM_EVENT_OPER id of deallocation */
  int64_t dom_api;
  int64_t tend;
} nctx;

static int has_table(nctx *c, const char *name)
{
  sqlite3_stmt *st;
  int yes = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
  }
  return yes;
}

/* Column index by name in a prepared SELECT *, or -1. */
static int col(sqlite3_stmt *st, const char *name)
{
  for (int i = 0; i < sqlite3_column_count(st); i++)
    if (strcmp(sqlite3_column_name(st, i), name) == 0)
      return i;
  return -1;
}

static int64_t I(sqlite3_stmt *st, int i, int64_t dflt)
{
  return i < 0 || sqlite3_column_type(st, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, i);
}

static int sql_fail(nctx *c, const char *what)
{
  mt_error_set(c->err, MT_ECORRUPT, "%s: nsys export: %s: %s", c->path, what, sqlite3_errmsg(c->db));
  return MT_ECORRUPT;
}

/* Trace string id for an nsys StringIds id. */
static int64_t str_of(nctx *c, int64_t nsid)
{
  uint64_t v;
  if (nsid <= 0)
    return 0;
  if (mt__imap_get(&c->strmap, (uint64_t)nsid, &v))
    return (int64_t)v;
  sqlite3_stmt *st;
  int64_t id = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT value FROM StringIds WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, nsid);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      id = mt_trace_intern(c->t, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  mt__imap_put(&c->strmap, (uint64_t)nsid, (uint64_t)id);
  return id;
}

static const char *str_text(nctx *c, int64_t nsid, char *buf, size_t n)
{
  sqlite3_stmt *st;
  buf[0] = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT value FROM StringIds WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, nsid);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  return buf;
}

/* globalTid -> trace thread id (tid is the low 24 bits). */
static int64_t thread_of(nctx *c, int64_t gtid)
{
  uint64_t v;
  if (gtid <= 0)
    return 0;
  if (mt__imap_get(&c->threads, (uint64_t)gtid, &v))
    return (int64_t)v;
  int64_t id = ++c->nthreads;
  mt__imap_put(&c->threads, (uint64_t)gtid, (uint64_t)id);
  char name[256] = "";
  if (has_table(c, "ThreadNames")) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT nameId FROM ThreadNames WHERE globalTid = ?", -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(st, 1, gtid);
      if (sqlite3_step(st) == SQLITE_ROW)
        str_text(c, sqlite3_column_int64(st, 0), name, sizeof name);
      sqlite3_finalize(st);
    }
  }
  mt_trace_put_thread(c->t, id, gtid & 0xffffff, name[0] ? name : NULL);
  return id;
}

static void stream_of(nctx *c, int64_t stream, int device)
{
  if (!mt__imap_get(&c->streams, (uint64_t)stream, NULL)) {
    mt__imap_put(&c->streams, (uint64_t)stream, 1);
    mt_trace_put_stream(c->t, stream, device, (uint64_t)stream, 0, 0, 0);
  }
}

/* Reads ENUM_<name> (id, name) and calls map(ud, id, symbol). */
static int read_enum(nctx *c, const char *table, void (*map)(nctx *, int64_t, const char *))
{
  if (!has_table(c, table))
    return 0;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT id, name FROM \"%s\"", table);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
    return 0;
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *nm = (const char *)sqlite3_column_text(st, 1);
    if (nm)
      map(c, sqlite3_column_int64(st, 0), nm);
    n++;
  }
  sqlite3_finalize(st);
  return n;
}

static int ends(const char *s, const char *suf)
{
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static void map_copy(nctx *c, int64_t id, const char *nm)
{
  if (id < 0 || id >= 64)
    return;
  c->copy_kind[id] = ends(nm, "_HTOD") ? MT_COPY_H2D : ends(nm, "_DTOH") ? MT_COPY_D2H
                   : ends(nm, "_DTOD") || ends(nm, "_PTOP") ? MT_COPY_D2D : ends(nm, "_HTOH") ? MT_COPY_H2H
                   : MT_COPY_DEFAULT;
}

static void map_memkind(nctx *c, int64_t id, const char *nm)
{
  if (id < 0 || id >= 64)
    return;
  c->mem_kind[id] = ends(nm, "_DEVICE") ? MT_MEM_KIND_DEVICE : ends(nm, "_MANAGED") ? MT_MEM_KIND_MANAGED
                  : ends(nm, "_PINNED") ? MT_MEM_KIND_HOST_PINNED : 0;
}

static void map_memop(nctx *c, int64_t id, const char *nm)
{
  if (strstr(nm, "DEALLOC"))
    c->dealloc_op = (int)id;
}

/* NVTX event type id -> range kind, from ENUM_NSYS_EVENT_TYPE. */
static int nvtx_kind[256];
static void map_evtype(nctx *c, int64_t id, const char *nm)
{
  if (id < 0 || id >= 256)
    return;
  nvtx_kind[id] = strcmp(nm, "NvtxPushPopRange") == 0 || strcmp(nm, "NvtxtPushPopRange") == 0 ? MT_RANGE_PUSH_POP
                : strcmp(nm, "NvtxStartEndRange") == 0 || strcmp(nm, "NvtxtStartEndRange") == 0 ? MT_RANGE_START_END
                : strcmp(nm, "NvtxMark") == 0 || strcmp(nm, "NvtxtMark") == 0 ? MT_RANGE_MARK
                : strcmp(nm, "NvtxDomainCreate") == 0 ? -1 : 0;
}

static int do_runtime(nctx *c)
{
  if (!has_table(c, "CUPTI_ACTIVITY_KIND_RUNTIME"))
    return MT_OK;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT * FROM CUPTI_ACTIVITY_KIND_RUNTIME ORDER BY start", -1, &st, NULL) != SQLITE_OK)
    return sql_fail(c, "CUPTI_ACTIVITY_KIND_RUNTIME");
  int cs = col(st, "start"), ce = col(st, "end"), ct = col(st, "globalTid"), cc = col(st, "correlationId"),
      cn = col(st, "nameId"), cr = col(st, "returnValue");
  int rc = MT_OK, s;
  char nm[256];
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t ts = I(st, cs, 0), te = I(st, ce, ts), th = thread_of(c, I(st, ct, 0));
    int64_t nid = I(st, cn, 0);
    int api = mt__api_from_name(str_text(c, nid, nm, sizeof nm));
    mt_api_event a = { .ts = ts, .dur = (int64_t)((uint64_t)te - (uint64_t)ts), .api = api, .thread = th, .result = (int)I(st, cr, 0) };
    mt_range_event r = { .ts = ts, .te = te, .kind = MT_RANGE_PUSH_POP, .domain_id = c->dom_api,
                         .name_id = str_of(c, nid), .thread = th };
    if ((rc = mt_trace_put_api(c->t, &a)) || (rc = mt_trace_put_range(c->t, &r)))
      break;
    int64_t corr = I(st, cc, 0);
    if (corr) {
      mt__imap_put(&c->corr_api, (uint64_t)corr, c->api_ts.n);
      if (MT__IPUSH(c->api_ts, ts) || MT__IPUSH(c->api_dur, (int64_t)((uint64_t)te - (uint64_t)ts)) || MT__IPUSH(c->api_thread, th) ||
          MT__IPUSH(c->api_enum, api)) {
        rc = MT_ENOMEM;
        break;
      }
    }
    if (te > c->tend)
      c->tend = te;
    c->events++;
  }
  if (!rc && s != SQLITE_DONE)
    rc = sql_fail(c, "CUPTI_ACTIVITY_KIND_RUNTIME");
  sqlite3_finalize(st);
  return rc;
}

/* Launch call of a GPU activity, by correlation id. */
static void launch(nctx *c, int64_t corr, int64_t gpu_ts, int64_t *ts, int64_t *dur, int64_t *th, int *api)
{
  uint64_t i;
  if (corr && mt__imap_get(&c->corr_api, (uint64_t)corr, &i)) {
    *ts = c->api_ts.v[i];
    *dur = c->api_dur.v[i];
    *th = c->api_thread.v[i];
    *api = c->api_enum.v[i];
  } else {
    *ts = gpu_ts;
    *dur = 0;
    *th = 0;
    *api = MT_API_UNKNOWN;
  }
}

static int nccl_op_from_kernel(const char *n)
{
  if (strstr(n, "AllReduce")) return MT_NCCL_ALLREDUCE;
  if (strstr(n, "ReduceScatter")) return MT_NCCL_REDUCESCATTER;
  if (strstr(n, "AllGather")) return MT_NCCL_ALLGATHER;
  if (strstr(n, "Broadcast")) return MT_NCCL_BROADCAST;
  if (strstr(n, "SendRecv") || strstr(n, "Send")) return MT_NCCL_SEND;
  if (strstr(n, "Recv")) return MT_NCCL_RECV;
  if (strstr(n, "Reduce")) return MT_NCCL_REDUCE;
  return 0;
}

static int do_kernels(nctx *c)
{
  if (!has_table(c, "CUPTI_ACTIVITY_KIND_KERNEL"))
    return MT_OK;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT * FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY start", -1, &st, NULL) != SQLITE_OK)
    return sql_fail(c, "CUPTI_ACTIVITY_KIND_KERNEL");
  int cs = col(st, "start"), ce = col(st, "end"), cd = col(st, "deviceId"), cst = col(st, "streamId"),
      cc = col(st, "correlationId"), cm = col(st, "mangledName"), cdn = col(st, "demangledName"),
      csn = col(st, "shortName"), gx = col(st, "gridX"), gy = col(st, "gridY"), gz = col(st, "gridZ"),
      bx = col(st, "blockX"), by = col(st, "blockY"), bz = col(st, "blockZ"), sm = col(st, "dynamicSharedMemory");
  int rc = MT_OK, s;
  mt__imap named = { 0 };
  char nm[512];
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t g0 = I(st, cs, 0), g1 = I(st, ce, g0), corr = I(st, cc, 0), ts, dur, th;
    int api, dev = (int)I(st, cd, 0);
    int64_t stream = I(st, cst, 0);
    stream_of(c, stream, dev);
    launch(c, corr, g0, &ts, &dur, &th, &api);
    int64_t mid = I(st, cm, 0) > 0 ? I(st, cm, 0) : I(st, cdn, 0);
    int64_t name = str_of(c, mid);
    if (name && !mt__imap_get(&named, (uint64_t)name, NULL)) {
      /* kernels.name_id is the mangled name; keep the names nsys shows */
      char key[64];
      mt__imap_put(&named, (uint64_t)name, 1);
      snprintf(key, sizeof key, "kernel.%lld.short", (long long)name);
      mt_trace_put_meta(c->t, key, str_text(c, I(st, csn, 0), nm, sizeof nm));
      snprintf(key, sizeof key, "kernel.%lld.demangled", (long long)name);
      mt_trace_put_meta(c->t, key, str_text(c, I(st, cdn, 0), nm, sizeof nm));
    }
    mt_kernel_event k = { .ts = ts, .dur = dur, .api = api ? api : MT_API_cudaLaunchKernel, .name_id = name,
                          .device = dev, .stream = stream,
                          .grid = { (uint32_t)I(st, gx, 0), (uint32_t)I(st, gy, 0), (uint32_t)I(st, gz, 0) },
                          .block = { (uint32_t)I(st, bx, 0), (uint32_t)I(st, by, 0), (uint32_t)I(st, bz, 0) },
                          .smem = (uint32_t)I(st, sm, 0), .thread = th, .correlation = corr, .gpu_start = g0,
                          .gpu_end = g1 };
    if ((rc = mt_trace_put_kernel(c->t, &k)))
      break;
    str_text(c, I(st, csn, 0), nm, sizeof nm);
    if (strncmp(nm, "nccl", 4) == 0) {
      mt_nccl_event n = { .ts = g0, .dur = (int64_t)((uint64_t)g1 - (uint64_t)g0), .op = nccl_op_from_kernel(nm), .peer = -1, .stream = stream,
                          .thread = th, .correlation = corr, .gpu_start = g0, .gpu_end = g1 };
      if ((rc = mt_trace_put_nccl(c->t, &n)))
        break;
    }
    if (g1 > c->tend)
      c->tend = g1;
    c->events++;
  }
  if (!rc && s != SQLITE_DONE)
    rc = sql_fail(c, "CUPTI_ACTIVITY_KIND_KERNEL");
  mt__imap_free(&named);
  sqlite3_finalize(st);
  return rc;
}

static int do_copies(nctx *c, const char *table, int memset_)
{
  if (!has_table(c, table))
    return MT_OK;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY start", table);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(c, table);
  int cs = col(st, "start"), ce = col(st, "end"), cd = col(st, "deviceId"), cst = col(st, "streamId"),
      cc = col(st, "correlationId"), cb = col(st, "bytes"), ck = col(st, "copyKind"), cv = col(st, "value");
  int rc = MT_OK, s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t g0 = I(st, cs, 0), g1 = I(st, ce, g0), corr = I(st, cc, 0), ts, dur, th;
    int api, dev = (int)I(st, cd, 0);
    int64_t stream = I(st, cst, 0), k = I(st, ck, 0);
    stream_of(c, stream, dev);
    launch(c, corr, g0, &ts, &dur, &th, &api);
    mt_memcpy_event m = { .ts = ts, .dur = dur, .api = api,
                          .kind = memset_ ? MT_COPY_MEMSET : (k >= 0 && k < 64 ? c->copy_kind[k] : MT_COPY_DEFAULT),
                          .bytes = (uint64_t)I(st, cb, 0), .src = memset_ ? (uint64_t)I(st, cv, 0) : 0,
                          .device = dev, .stream = stream, .thread = th, .correlation = corr, .gpu_start = g0,
                          .gpu_end = g1 };
    if ((rc = mt_trace_put_memcpy(c->t, &m)))
      break;
    if (g1 > c->tend)
      c->tend = g1;
    c->events++;
  }
  if (!rc && s != SQLITE_DONE)
    rc = sql_fail(c, table);
  sqlite3_finalize(st);
  return rc;
}

static int do_nvtx(nctx *c)
{
  if (!has_table(c, "NVTX_EVENTS"))
    return MT_OK;
  sqlite3_stmt *st;
  mt__imap domains = { 0 };
  int rc = MT_OK, s;
  if (sqlite3_prepare_v2(c->db, "SELECT * FROM NVTX_EVENTS ORDER BY start", -1, &st, NULL) != SQLITE_OK)
    return sql_fail(c, "NVTX_EVENTS");
  int cs = col(st, "start"), ce = col(st, "end"), cty = col(st, "eventType"), ctx = col(st, "text"),
      cti = col(st, "textId"), cg = col(st, "globalTid"), cdom = col(st, "domainId"), ccat = col(st, "category");
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t ty = I(st, cty, 0);
    int kind = ty >= 0 && ty < 256 ? nvtx_kind[ty] : 0;
    int64_t name = 0;
    if (ctx >= 0 && sqlite3_column_text(st, ctx))
      name = mt_trace_intern(c->t, (const char *)sqlite3_column_text(st, ctx));
    else if (I(st, cti, 0) > 0)
      name = str_of(c, I(st, cti, 0));
    if (kind == -1) {   /* domain creation: remember its name */
      mt__imap_put(&domains, (uint64_t)I(st, cdom, 0), (uint64_t)name);
      continue;
    }
    if (!kind)
      continue;
    uint64_t dom = 0;
    mt__imap_get(&domains, (uint64_t)I(st, cdom, 0), &dom);
    int64_t ts = I(st, cs, 0), te = kind == MT_RANGE_MARK ? ts : I(st, ce, -1);
    mt_range_event r = { .ts = ts, .te = te, .kind = kind, .domain_id = (int64_t)dom, .name_id = name,
                         .thread = thread_of(c, I(st, cg, 0)), .category = (int)I(st, ccat, 0) };
    if ((rc = mt_trace_put_range(c->t, &r)))
      break;
    if (te > c->tend)
      c->tend = te;
    c->events++;
  }
  if (!rc && s != SQLITE_DONE)
    rc = sql_fail(c, "NVTX_EVENTS");
  sqlite3_finalize(st);
  mt__imap_free(&domains);
  return rc;
}

static int do_gpu_memory(nctx *c)
{
  if (!has_table(c, "CUDA_GPU_MEMORY_USAGE_EVENTS"))
    return MT_OK;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT * FROM CUDA_GPU_MEMORY_USAGE_EVENTS ORDER BY start", -1, &st, NULL) !=
      SQLITE_OK)
    return sql_fail(c, "CUDA_GPU_MEMORY_USAGE_EVENTS");
  int cs = col(st, "start"), cd = col(st, "deviceId"), ca = col(st, "address"), cb = col(st, "bytes"),
      ck = col(st, "memKind"), co = col(st, "memoryOperationType"), cc = col(st, "correlationId");
  int rc = MT_OK, s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t ts = I(st, cs, 0), k = I(st, ck, 0), corr = I(st, cc, 0), lts, ldur, th;
    int api, op = I(st, co, 0) == c->dealloc_op ? MT_MEM_FREE : MT_MEM_ALLOC;
    int kind = k >= 0 && k < 64 ? c->mem_kind[k] : 0;
    launch(c, corr, ts, &lts, &ldur, &th, &api);
    mt_gpu_memory_event g = { .ts = ts, .op = op, .kind = kind ? kind : MT_MEM_KIND_DEVICE,
                              .device = (int)I(st, cd, 0), .addr = (uint64_t)I(st, ca, 0),
                              .size = (uint64_t)I(st, cb, 0), .pool_addr = -1, .correlation = corr };
    if ((rc = mt_trace_put_gpu_memory(c->t, &g)))
      break;
    if (kind) {
      mt_mem_event m = { .ts = ts, .dur = 0, .op = op, .api = api, .kind = kind, .device = g.device,
                         .addr = g.addr, .size = g.size, .thread = th };
      if ((rc = mt_trace_put_mem(c->t, &m)))
        break;
    }
    c->events++;
  }
  if (!rc && s != SQLITE_DONE)
    rc = sql_fail(c, "CUDA_GPU_MEMORY_USAGE_EVENTS");
  sqlite3_finalize(st);
  return rc;
}

/* The GPUs this process ran on (deviceId of its kernels, copies and
 * memsets, through the per-process views), each described by its
 * TARGET_INFO_GPU row; exports without that table (newer nsys when GPU
 * info was not collected) still give the index.  A process with no GPU
 * activity: every GPU the export lists. */
static int put_devices(nctx *c)
{
  static const char *const act[] = { "CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY",
                                     "CUPTI_ACTIVITY_KIND_MEMSET" };
  int64_t used[64];
  int nused = 0, rc = MT_OK;
  char *sql = sqlite3_mprintf("SELECT NULL WHERE 0");
  for (int i = 0; i < 3 && sql; i++)
    if (has_table(c, act[i])) {
      char *u = sqlite3_mprintf("%s UNION SELECT deviceId FROM \"%w\"", sql, act[i]);
      sqlite3_free(sql);
      sql = u;
    }
  if (!sql)
    return MT_ENOMEM;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW && nused < 64)
      if (sqlite3_column_type(st, 0) != SQLITE_NULL)
        used[nused++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_free(sql);
  int gpu = has_table(c, "TARGET_INFO_GPU");
  if (gpu && sqlite3_prepare_v2(c->db, nused ? "SELECT * FROM TARGET_INFO_GPU WHERE id = ?"
                                             : "SELECT * FROM TARGET_INFO_GPU ORDER BY id", -1, &st, NULL) != SQLITE_OK)
    gpu = 0;
  int ci = gpu ? col(st, "id") : -1, cn = gpu ? col(st, "name") : -1, cm = gpu ? col(st, "totalMemory") : -1,
      cma = gpu ? col(st, "computeMajor") : -1, cmi = gpu ? col(st, "computeMinor") : -1,
      cu = gpu ? col(st, "uuid") : -1;
  for (int k = 0; rc == MT_OK && (k < nused || (!nused && gpu)); k++) {
    int row = 0;
    if (gpu) {
      if (nused) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, used[k]);
      }
      row = sqlite3_step(st) == SQLITE_ROW;
    }
    if (!row && !nused)
      break;
    const char *nm = row && cn >= 0 ? (const char *)sqlite3_column_text(st, cn) : NULL;
    rc = mt_trace_put_device(c->t, row ? (int)I(st, ci, 0) : (int)used[k], nm && *nm ? nm : "cuda",
                             row ? (uint64_t)I(st, cm, 0) : 0, row ? (int)I(st, cma, 0) : 0,
                             row ? (int)I(st, cmi, 0) : 0,
                             row && cu >= 0 ? (const char *)sqlite3_column_text(st, cu) : NULL);
  }
  if (gpu)
    sqlite3_finalize(st);
  return rc;
}

/* One process of the export (gpid > 0: only its rows, by temporary views
 * that shadow every table with a globalPid or globalTid column; 0: all)
 * as the trace of rank/world. */
static int import_one(const char *in, const char *out, const char *run_id, int64_t gpid, int rank, int world,
                      mt_import_result *res, mt_error *err)
{
  nctx c = { .path = in, .err = err, .dealloc_op = 1 };
  int rc = MT_OK;
  if (sqlite3_open_v2(in, &c.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", in, c.db ? sqlite3_errmsg(c.db) : "out of memory");
    sqlite3_close(c.db);
    return MT_EIO;
  }
  sqlite3_exec(c.db, "PRAGMA trusted_schema = OFF", NULL, NULL, NULL);
  if (gpid > 0) {
    sqlite3_stmt *vt;
    if (sqlite3_prepare_v2(c.db, "SELECT name, sql LIKE '%globalPid%' FROM main.sqlite_master WHERE type = 'table' "
                           "AND (sql LIKE '%globalPid%' OR sql LIKE '%globalTid%')", -1, &vt, NULL) == SQLITE_OK) {
      while (sqlite3_step(vt) == SQLITE_ROW) {
        const char *tn = (const char *)sqlite3_column_text(vt, 0);
        /* both ids carry the pid in bits 24-47 */
        char *sql = sqlite3_mprintf("CREATE TEMP VIEW \"%w\" AS SELECT * FROM main.\"%w\" WHERE "
                                    "((%s >> 24) & 16777215) = %lld", tn, tn,
                                    sqlite3_column_int(vt, 1) ? "globalPid" : "globalTid", (long long)gpid);
        if (sql)
          sqlite3_exec(c.db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
      }
      sqlite3_finalize(vt);
    }
  }
  sqlite3_exec(c.db, "PRAGMA query_only = 1", NULL, NULL, NULL);
  if (!has_table(&c, "StringIds") || (!has_table(&c, "META_DATA_EXPORT") && !has_table(&c, "EXPORT_META_DATA") &&
                                      !has_table(&c, "CUPTI_ACTIVITY_KIND_KERNEL"))) {
    mt_error_set(err, MT_ECORRUPT, "%s: SQLite, but not an Nsight Systems export (no StringIds/export metadata)", in);
    sqlite3_close(c.db);
    return MT_ECORRUPT;
  }
  /* enums: from the file; CUPTI's documented values only when absent */
  for (int i = 0; i < 64; i++)
    c.copy_kind[i] = MT_COPY_DEFAULT;
  if (!read_enum(&c, "ENUM_CUDA_MEMCPY_OPER", map_copy)) {
    c.builtin_enums = 1;
    map_copy(&c, 1, "_HTOD"); map_copy(&c, 2, "_DTOH"); map_copy(&c, 8, "_DTOD");
    map_copy(&c, 9, "_HTOH"); map_copy(&c, 10, "_PTOP");
  }
  if (!read_enum(&c, "ENUM_CUDA_MEM_KIND", map_memkind)) {
    c.builtin_enums = 1;
    map_memkind(&c, 1, "_PINNED"); map_memkind(&c, 2, "_DEVICE"); map_memkind(&c, 4, "_MANAGED");
  }
  read_enum(&c, "ENUM_CUDA_DEV_MEM_EVENT_OPER", map_memop);
  memset(nvtx_kind, 0, sizeof nvtx_kind);
  if (!read_enum(&c, "ENUM_NSYS_EVENT_TYPE", map_evtype)) {
    c.builtin_enums = 1;
    map_evtype(&c, 34, "NvtxMark"); map_evtype(&c, 59, "NvtxPushPopRange");
    map_evtype(&c, 60, "NvtxStartEndRange"); map_evtype(&c, 75, "NvtxDomainCreate");
  }

  int64_t wall = 0, pid = 0;
  sqlite3_stmt *st;
  if (has_table(&c, "TARGET_INFO_SESSION_START_TIME") &&
      sqlite3_prepare_v2(c.db, "SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      wall = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  if (has_table(&c, "CUPTI_ACTIVITY_KIND_KERNEL") &&
      sqlite3_prepare_v2(c.db, "SELECT globalPid FROM CUPTI_ACTIVITY_KIND_KERNEL LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      pid = (sqlite3_column_int64(st, 0) >> 24) & 0xffffff;
    sqlite3_finalize(st);
  }
  mt_process_info pi;
  mt__import_process(&pi, in, "import:nsys", run_id, rank, world, 0, wall);
  pi.pid = pid;
  pi.cupti = "active";
  if ((rc = mt_trace_create(out, &pi, &c.t, err))) {
    sqlite3_close(c.db);
    return rc;
  }
  mt_trace_begin(c.t);
  mt_trace_put_meta(c.t, "import.format", "nsys");
  mt_trace_put_meta(c.t, "import.source", in);
  mt_trace_put_meta(c.t, "import.nsys_enums", c.builtin_enums ? "builtin (this export has no ENUM_* tables)" : "file");
  static const char *const metas[] = { "META_DATA_EXPORT", "EXPORT_META_DATA" };
  for (int m = 0; m < 2; m++) {
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT name, value FROM %s", metas[m]);
    if (has_table(&c, metas[m]) && sqlite3_prepare_v2(c.db, sql, -1, &st, NULL) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        char key[160];
        snprintf(key, sizeof key, "nsys.%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
        mt_trace_put_meta(c.t, key, sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
      }
      sqlite3_finalize(st);
    }
  }
  rc = put_devices(&c);
  c.dom_api = mt_trace_intern(c.t, "cuda_api");
  if (!rc) rc = do_runtime(&c);
  if (!rc) rc = do_kernels(&c);
  if (!rc) rc = do_copies(&c, "CUPTI_ACTIVITY_KIND_MEMCPY", 0);
  if (!rc) rc = do_copies(&c, "CUPTI_ACTIVITY_KIND_MEMSET", 1);
  if (!rc) rc = do_nvtx(&c);
  if (!rc) rc = do_gpu_memory(&c);
  if (!rc) {
    mt_trace_put_meta(c.t, "import.lacks", "tensor-level memory (no allocator blocks), stacks, categories, "
                                           "NCCL counts and communicators (kernels only)");
    rc = mt_trace_commit(c.t);
  }
  if (!rc)
    rc = mt_trace_finalize(c.t, c.tend);
  if (rc && (!err || err->code == 0 || rc != MT_ECORRUPT))
    mt_error_set(err, rc, "%s: cannot write the imported trace %s", in, out);
  if (res && !rc)
    res->events = c.events;
  mt_trace_close(c.t);
  sqlite3_close(c.db);
  mt__imap_free(&c.strmap);
  mt__imap_free(&c.threads);
  mt__imap_free(&c.streams);
  mt__imap_free(&c.corr_api);
  free(c.api_ts.v);
  free(c.api_dur.v);
  free(c.api_thread.v);
  free(c.api_enum.v);
  return rc;
}

/* An export of several GPU processes (one per GPU under torchrun/mpirun) is
 * a run: OUT becomes a run directory with one trace per process, ranks in
 * pid order (the export does not record ranks); one process: the trace OUT. */
int mt__import_nsys(const char *in, const char *out, const char *run_id, mt_import_result *res, mt_error *err)
{
  int64_t pids[256];
  int np = 0;
  sqlite3 *db = NULL;
  sqlite3_stmt *st;
  if (sqlite3_open_v2(in, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT DISTINCT (globalPid >> 24) & 16777215 FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY 1",
                         -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW && np < 256)
      pids[np++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (np <= 1)
    return import_one(in, out, run_id, 0, -1, 0, res, err);
  if (mkdir(out, 0777) != 0) {
    mt_error_set(err, MT_EIO, "%s: cannot create the run directory: %s", out, strerror(errno));
    return MT_EIO;
  }
  char rid[64];
  if (!run_id) {   /* the ranks of one run share its id */
    snprintf(rid, sizeof rid, "import-nsys-%lld", (long long)pids[0]);
    run_id = rid;
  }
  int64_t events = 0;
  int rc = MT_OK, k;
  for (k = 0; k < np && rc == MT_OK; k++) {
    char path[4096];
    mt_import_result r = { 0 };
    snprintf(path, sizeof path, "%s/rank%d.%lld.mtrace", out, k, (long long)pids[k]);
    rc = import_one(in, path, run_id, pids[k], k, np, &r, err);
    events += r.events;
  }
  if (rc != MT_OK) {   /* nothing half-written */
    for (int j = 0; j < k; j++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/rank%d.%lld.mtrace", out, j, (long long)pids[j]);
      unlink(path);
    }
    rmdir(out);
    return rc;
  }
  if (res)
    res->events = events;
  return MT_OK;
}
