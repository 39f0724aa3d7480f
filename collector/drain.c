/* The drain: one thread per traced process that moves records from the
 * per-thread rings into the trace (schemas/trace.h), in transactions
 * committed at least every 100 ms.  It owns the trace, all interning
 * (threads, streams, stacks, kernel names, strings, heaps, communicators)
 * and the drop counts.  Nothing here runs on a traced thread, except the
 * stop/flush/fork handshakes, which only set flags and wait. */
#define _GNU_SOURCE
#include "config.h"
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "collector/collector.h"
#include "schemas/trace.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

_Atomic(mt_tbuf *) mt__threads;

#define COMMIT_NS (100 * 1000000LL)
#define IDLE_SLEEP_NS (2 * 1000000L)

/* ---- a small open-addressing map: (k1, k2) -> v, drain-only ------------- */

typedef struct { uint64_t k1, k2, v; } mentry;
typedef struct { mentry *e; size_t cap, n; } map_t;

static uint64_t mix(uint64_t a, uint64_t b)
{
  uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2));
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

static int map_grow(map_t *m)
{
  size_t ncap = m->cap ? m->cap * 2 : 1024;
  mentry *ne = calloc(ncap, sizeof *ne);
  if (!ne)
    return -1;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->e[i].v)
      continue;
    size_t j = mix(m->e[i].k1, m->e[i].k2) & (ncap - 1);
    while (ne[j].v)
      j = (j + 1) & (ncap - 1);
    ne[j] = m->e[i];
  }
  free(m->e);
  m->e = ne;
  m->cap = ncap;
  return 0;
}

/* Values are never 0 (0 means "absent"). */
static uint64_t map_get(map_t *m, uint64_t k1, uint64_t k2)
{
  if (!m->cap)
    return 0;
  for (size_t j = mix(k1, k2) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (!m->e[j].v)
      return 0;
    if (m->e[j].k1 == k1 && m->e[j].k2 == k2)
      return m->e[j].v;
  }
}

static void map_put(map_t *m, uint64_t k1, uint64_t k2, uint64_t v)
{
  if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m) != 0)
    return;
  size_t j = mix(k1, k2) & (m->cap - 1);
  for (;; j = (j + 1) & (m->cap - 1)) {
    if (!m->e[j].v) {
      m->n++;
      break;
    }
    if (m->e[j].k1 == k1 && m->e[j].k2 == k2)
      break;
  }
  m->e[j].k1 = k1;
  m->e[j].k2 = k2;
  m->e[j].v = v;
}

/* Deletion with backward shift, so probes stay correct. */
static uint64_t map_del(map_t *m, uint64_t k1, uint64_t k2)
{
  if (!m->cap)
    return 0;
  size_t j = mix(k1, k2) & (m->cap - 1);
  for (;; j = (j + 1) & (m->cap - 1)) {
    if (!m->e[j].v)
      return 0;
    if (m->e[j].k1 == k1 && m->e[j].k2 == k2)
      break;
  }
  uint64_t v = m->e[j].v;
  size_t i = j;
  for (;;) {
    m->e[i].v = 0;
    size_t k = i;
    for (;;) {
      k = (k + 1) & (m->cap - 1);
      if (!m->e[k].v) {
        m->n--;
        return v;
      }
      size_t h = mix(m->e[k].k1, m->e[k].k2) & (m->cap - 1);
      /* move e[k] into the hole at i when its home is not in (i, k] */
      if ((i <= k) ? (h <= i || h > k) : (h <= i && h > k))
        break;
    }
    m->e[i] = m->e[k];
    i = k;
  }
}

/* ---- drain state ------------------------------------------------------- */

typedef struct open_range {
  int64_t ts, domain_id, name_id;
  int category;
  int kind;
} open_range;

typedef struct tstate {
  open_range *stack;
  int depth, cap;
  mt_region_event pending;   /* a region register waiting for its name */
  int has_pending;
} tstate;

typedef struct module {
  uint64_t base, size;
  int64_t id;
} module;

/* CUPTI: a kernel / memcpy / NCCL row waiting for its GPU times (matched
 * by correlation id).  Rows leave each queue in the order they entered, so
 * every table keeps its insert order. */
enum { PQ_KERNEL, PQ_MEMCPY, PQ_NCCL, PQ__N };
typedef struct parked {
  int done;
  uint32_t corr;
  int64_t since;      /* drain clock when parked */
  union {
    mt_kernel_event k;
    mt_memcpy_event m;
    mt_nccl_event n;
  } e;
} parked;
typedef struct pqueue {
  parked *v;
  uint64_t cap, head, tail;   /* sequence numbers; slot = seq & (cap - 1) */
} pqueue;
/* GPU times that came before their row. */
typedef struct early_act {
  uint32_t corr;
  int64_t start, end, since;
} early_act;
#define PARK_NS (2000 * 1000000LL)

static struct {
  mt_trace *t;
  pthread_t thread;
  int running;
  int64_t next_thread_id, next_stream_id, next_frame_id, next_heap_id, next_comm_id;
  map_t streams;       /* handle -> id */
  map_t live;          /* device address -> size (for free sizes) */
  map_t frames;        /* (parent, pc) -> frame id */
  map_t stacks;        /* (hash of PCs, n) -> frame id */
  map_t knames;        /* (kernel key, key kind) -> strings id */
  map_t pstrings;      /* registered string / domain pointer -> strings id */
  map_t heaps;         /* heap handle -> index into heapv + 1 */
  map_t regions;       /* region addr -> size */
  map_t region_heap;   /* region addr -> heaps.id */
  map_t comms;         /* comm handle -> index into commv + 1 */
  map_t startend;      /* range id -> index into sev + 1 */
  map_t fwlive;        /* device memory the framework channel wrote (MT_R_FW MEM) */
  /* The hooks' device allocations and mappings freed lately: the framework
   * channel reports a segment when it polls, possibly after its free. */
  struct gone { uint64_t addr; int op; int64_t freed; } gone[16384];
  size_t ngone;
  int64_t fw_ooms;
  mt_heap_info *heapv;
  size_t nheap, capheap;
  mt_comm_info *commv;
  size_t ncomm, capcomm;
  open_range *sev;
  size_t nsev, capsev;
  module *mods;
  size_t nmods;
  int64_t mods_refreshed;
  uint64_t self_lo, self_hi;
  uint64_t drops_written[MT_D__N];
  pqueue pq[PQ__N];
  map_t parked_by_corr;         /* corr -> (queue << 56 | seq) + 1 */
  map_t early_by_corr;          /* corr -> index into earlyv + 1 */
  early_act *earlyv;
  size_t nearly, capearly;
  uint64_t cupti_drops_written, cupti_records, cupti_unmatched, cupti_matched;
  int64_t early_swept;
  int rank_src;                 /* RS_*: where rank/world came from */
  int rank, world;
  int nccl_rank, nccl_world;    /* the largest NCCL communicator's */
  char path[4200];
  uint64_t events;
  int64_t last_commit;
} D;

/* Where the process's rank comes from, most trusted last: the launcher's
 * environment, else torch.distributed's default group, else the largest
 * NCCL communicator (a sub-communicator's rank is not the job's). */
enum { RS_NONE, RS_NCCL, RS_TORCH, RS_ENV };

static _Atomic int stop_req;      /* 0 run, 1 stop + finalize, 2 stop + commit only */
static _Atomic int stopped;
static _Atomic int pause_req, paused;
static _Atomic uint64_t flush_req, flush_ack;
static char stop_why[32];

static const char *const drop_kind_name[MT_D__N] = {
  "alloc", "kernel", "memcpy", "api", "nccl", "range", "region", "other"
};

/* ---- the trace file ------------------------------------------------------ */

static int env_int(const char *const *names, int dflt)
{
  for (; *names; names++) {
    const char *v = getenv(*names);
    if (v && *v) {
      char *end;
      long x = strtol(v, &end, 10);
      if (end != v)
        return (int)x;
    }
  }
  return dflt;
}

static void mkdir_p(const char *dir)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0777);
      *p = '/';
    }
  }
  mkdir(buf, 0777);
}

static char *read_cmdline(void)
{
  FILE *f = fopen("/proc/self/cmdline", "r");
  if (!f)
    return strdup("");
  char *buf = calloc(1, 65536);
  size_t n = buf ? fread(buf, 1, 65535, f) : 0;
  fclose(f);
  if (!buf)
    return strdup("");
  for (size_t i = 0; i + 1 < n; i++)
    if (buf[i] == 0)
      buf[i] = ' ';
  return buf;
}

static int phdr_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
  (void)sz; (void)arg;
  uint64_t lo = UINT64_MAX, hi = 0;
  char build_id[41] = "";
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD) {
      uint64_t a = info->dlpi_addr + ph->p_vaddr;
      if (a < lo) lo = a;
      if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    } else if (ph->p_type == PT_NOTE) {
      const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
      const char *end = p + ph->p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        const char *name = p + sizeof *nh;
        const unsigned char *desc = (const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
          for (unsigned k = 0; k < nh->n_descsz && k < 20; k++)
            sprintf(build_id + 2 * k, "%02x", desc[k]);
        }
        p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
      }
    }
  }
  if (hi <= lo)
    return 0;
  for (size_t i = 0; i < D.nmods; i++)
    if (D.mods[i].base == lo)
      return 0;
  module *nm = realloc(D.mods, (D.nmods + 1) * sizeof *nm);
  if (!nm)
    return 0;
  D.mods = nm;
  char path[4096];
  const char *name = info->dlpi_name;
  if (!name || !*name) {
    ssize_t k = readlink("/proc/self/exe", path, sizeof path - 1);
    path[k > 0 ? k : 0] = 0;
    name = path;
  }
  int64_t id = (int64_t)D.nmods + 1;
  D.mods[D.nmods++] = (module){ lo, hi - lo, id };
  mt_trace_put_module(D.t, id, name, lo, hi - lo, build_id[0] ? build_id : NULL);
  return 0;
}

static void modules_refresh(void)
{
  dl_iterate_phdr(phdr_cb, NULL);
  D.mods_refreshed = mt__now();
}

static int64_t module_of(uint64_t pc, int retry)
{
  for (size_t i = 0; i < D.nmods; i++)
    if (pc >= D.mods[i].base && pc < D.mods[i].base + D.mods[i].size)
      return D.mods[i].id;
  if (retry && mt__now() - D.mods_refreshed > 1000000000LL) {
    modules_refresh();
    return module_of(pc, 0);
  }
  return 0;
}

static void note_gone(uint64_t addr, int op, int64_t ts)
{
  D.gone[D.ngone++ % (sizeof D.gone / sizeof D.gone[0])] = (struct gone){ addr, op, ts };
}

/* Did the hooks record an allocation (op) at addr that was still live at
 * ts (freed at or after it, give or take the 1 ms the allocator's clock may
 * be apart from ours)? */
static int was_gone(uint64_t addr, int op, int64_t ts)
{
  size_t n = D.ngone < sizeof D.gone / sizeof D.gone[0] ? D.ngone : sizeof D.gone / sizeof D.gone[0];
  for (size_t i = 0; i < n; i++)
    if (D.gone[i].addr == addr && D.gone[i].op == op && D.gone[i].freed >= ts - 1000000)
      return 1;
  return 0;
}

static int create_trace(void)
{
  static const char *const rank_v[] = { "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                        "SLURM_PROCID", NULL };
  static const char *const world_v[] = { "WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                         "SLURM_NTASKS", NULL };
  static const char *const local_v[] = { "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
                                         "MPI_LOCALRANKID", "SLURM_LOCALID", NULL };
  mt_process_info pi;
  memset(&pi, 0, sizeof pi);
  snprintf(pi.run_id, sizeof pi.run_id, "%s", mt__cfg.run_id);
  pi.rank = env_int(rank_v, -1);
  D.rank_src = pi.rank >= 0 ? RS_ENV : RS_NONE;
  if (pi.rank < 0)
    pi.rank = 0;
  pi.world_size = env_int(world_v, 1);
  D.rank = pi.rank;
  D.world = pi.world_size;
  pi.local_rank = env_int(local_v, 0);
  gethostname(pi.host, sizeof pi.host - 1);
  pi.pid = getpid();
  pi.ppid = getppid();
  char *cmd = read_cmdline();
  pi.command_line = cmd ? cmd : "";
  pi.start_ns = mt__start_ns;
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  pi.wall_offset_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - mt__now();
  pi.end_ns = -1;
  pi.producer = "memtrace-collector " PACKAGE_VERSION;
  pi.stacks = mt__cfg.stacks ? "native" : "none";
  pi.cupti = mt__cupti_start();

  mkdir_p(mt__cfg.run_dir);
  char path[4200];
  int rc = MT_EIO;
  mt_error err = { 0 };
  for (int n = 0; n < 100; n++) {
    if (n == 0)
      snprintf(path, sizeof path, "%s/rank%d.%ld.mtrace", mt__cfg.run_dir, pi.rank, (long)pi.pid);
    else
      snprintf(path, sizeof path, "%s/rank%d.%ld.%d.mtrace", mt__cfg.run_dir, pi.rank, (long)pi.pid, n);
    if (access(path, F_OK) == 0)
      continue;
    rc = mt_trace_create(path, &pi, &D.t, &err);
    if (rc == MT_OK || access(path, F_OK) != 0)
      break;
  }
  free(cmd);
  snprintf(D.path, sizeof D.path, "%s", path);
  if (rc != MT_OK) {
    fprintf(stderr, "memtrace: collector: %s\n", err.msg[0] ? err.msg : "cannot create the trace");
    return -1;
  }
  Dl_info di;
  if (dladdr((void *)create_trace, &di) && di.dli_fbase)
    D.self_lo = (uint64_t)di.dli_fbase;
  mt_trace_begin(D.t);
  modules_refresh();
  for (size_t i = 0; i < D.nmods; i++)
    if (D.mods[i].base == D.self_lo)
      D.self_hi = D.mods[i].base + D.mods[i].size;
  if (*mt__cupti_reason())
    mt_trace_put_meta(D.t, "cupti.reason", mt__cupti_reason());
  if (mt__cupti_active()) {
    char cv[32];
    snprintf(cv, sizeof cv, "%u", mt__cupti_version());
    mt_trace_put_meta(D.t, "cupti.version", cv);
  }
  char v[64];
  snprintf(v, sizeof v, "%zu", mt__cfg.buffer_bytes);
  mt_trace_put_meta(D.t, "collector.buffer_bytes", v);
  if (D.rank_src == RS_ENV)
    mt_trace_put_meta(D.t, "rank.source", "environment");
  D.last_commit = mt__now();
  return 0;
}

static void commit(void);

/* A rank learnt while recording: written at once and committed, so that a
 * process killed afterwards keeps it. */
static void learn_rank(int rank, int world, int src)
{
  if (rank < 0 || world < 1 || rank >= world || src < D.rank_src)
    return;
  if (src == D.rank_src && (src != RS_NCCL || world <= D.world))
    return;
  D.rank_src = src;
  D.rank = rank;
  D.world = world;
  mt_trace_set_rank(D.t, rank, world, src == RS_TORCH ? "torch.distributed" : "nccl");
  commit();
}

/* ---- ids ------------------------------------------------------------------ */

static int64_t stream_id(uint64_t handle, int device, int64_t ts)
{
  if (!handle)
    return 0;
  uint64_t id = map_get(&D.streams, handle, 0);
  if (!id) {
    id = (uint64_t)++D.next_stream_id;
    map_put(&D.streams, handle, 0, id);
    mt_trace_put_stream(D.t, (int64_t)id, device, handle, 0, 0, ts);
  }
  return (int64_t)id;
}

static int64_t intern_ptr(uint64_t ptr)
{
  if (!ptr)
    return 0;
  uint64_t id = map_get(&D.pstrings, ptr, 0);
  if (!id) {
    id = (uint64_t)mt_trace_intern(D.t, (const char *)(uintptr_t)ptr);
    if (id)
      map_put(&D.pstrings, ptr, 0, id);
  }
  return (int64_t)id;
}

/* kind: 1 host stub, 2 CUfunction; bit 7 set when the launch failed (then
 * the key is never passed to the driver: it may not be a function at all). */
static int64_t kernel_name(uint64_t key, int kind)
{
  int failed = kind & 0x80;
  kind &= 0x7f;
  uint64_t id = map_get(&D.knames, key, (uint64_t)kind);
  if (id)
    return (int64_t)id;
  char *name = mt__names_get(key);
  char buf[512];
  if (!name && kind == 2 && !failed) {
    typedef int (*fgn)(const char **, void *);
    fgn f = (fgn)mt__driver_real("cuFuncGetName");
    const char *s = NULL;
    if (f && f(&s, (void *)(uintptr_t)key) == 0 && s)
      name = strdup(s);
  }
  if (!name) {
    Dl_info di;
    if (kind == 1 && !failed && dladdr((void *)(uintptr_t)key, &di) && di.dli_sname)
      snprintf(buf, sizeof buf, "%s", di.dli_sname);
    else
      snprintf(buf, sizeof buf, "%s@0x%llx", kind == 1 ? "stub" : "function", (unsigned long long)key);
    name = strdup(buf);
  }
  id = (uint64_t)mt_trace_intern(D.t, name ? name : "?");
  free(name);
  if (id && !failed)
    map_put(&D.knames, key, (uint64_t)kind, id);
  return (int64_t)id;
}

/* Interns the stack stored after r (innermost first) as a frames trie
 * path; returns the innermost frame id, 0 when none. */
static int64_t stack_id(mt_tbuf *b, uint64_t pos, const mt_rec *r)
{
  int n = r->nframes;
  if (!n)
    return 0;
  uint64_t pcs[MT_MAX_FRAMES];
  for (int i = 0; i < n; i++) {
    const mt_rec *s = &b->slots[(pos + 1 + (uint64_t)i / 8) & b->mask];
    memcpy(&pcs[i], (const char *)s + 8 * (i % 8), 8);
  }
  int lo = 0;
  while (lo < n && pcs[lo] >= D.self_lo && pcs[lo] < D.self_hi)
    lo++;   /* the collector's own frames */
  if (lo >= n)
    return 0;
  uint64_t h = 0x12345;
  for (int i = lo; i < n; i++)
    h = mix(h, pcs[i]);
  uint64_t id = map_get(&D.stacks, h, (uint64_t)(n - lo));
  if (id)
    return (int64_t)id;
  uint64_t parent = 0;
  for (int i = n - 1; i >= lo; i--) {
    uint64_t f = map_get(&D.frames, parent, pcs[i]);
    if (!f) {
      f = (uint64_t)++D.next_frame_id;
      map_put(&D.frames, parent, pcs[i], f);
      if ((pcs[i] & MT_PYFRAME_MASK) == MT_PYFRAME_TAG) {   /* a Python frame of the framework channel */
        const char *sym = mt__fw_pyframe(pcs[i] & ~MT_PYFRAME_MASK);
        mt_trace_put_frame(D.t, (int64_t)f, (int64_t)parent, 0, 0, sym ? sym : "?");
      } else {
        mt_trace_put_frame(D.t, (int64_t)f, (int64_t)parent, pcs[i], module_of(pcs[i], 1), NULL);
      }
    }
    parent = f;
  }
  map_put(&D.stacks, h, (uint64_t)(n - lo), parent);
  return (int64_t)parent;
}

static void text_of(mt_tbuf *b, uint64_t pos, const mt_rec *r, char *out)
{
  unsigned first = ((unsigned)r->nframes + 7) / 8;
  size_t len = r->ntext;
  for (size_t i = 0; i < len; i += 64) {
    const mt_rec *s = &b->slots[(pos + 1 + first + i / 64) & b->mask];
    memcpy(out + i, s, len - i < 64 ? len - i : 64);
  }
  out[len] = 0;
}

static size_t dtype_size(int dt)
{
  switch (dt) {
  case 0: case 1: case 10: case 11: return 1;
  case 6: case 9: return 2;
  case 2: case 3: case 7: return 4;
  case 4: case 5: case 8: return 8;
  default: return 1;
  }
}

static tstate *tstate_of(mt_tbuf *b)
{
  if (!b->drain_state)
    b->drain_state = calloc(1, sizeof(tstate));
  return b->drain_state;
}

static void put_range(const open_range *o, int64_t te, int depth, int64_t thread)
{
  mt_range_event e = { o->ts, te, o->kind, o->domain_id, o->name_id, depth, thread, o->category };
  mt_trace_put_range(D.t, &e);
}

static mt_heap_info *heap_of(uint64_t handle, int64_t ts)
{
  uint64_t i = map_get(&D.heaps, handle, 0);
  if (i)
    return &D.heapv[i - 1];
  if (D.nheap == D.capheap) {
    size_t nc = D.capheap ? D.capheap * 2 : 16;
    mt_heap_info *nv = realloc(D.heapv, nc * sizeof *nv);
    if (!nv)
      return NULL;
    D.heapv = nv;
    D.capheap = nc;
  }
  mt_heap_info *h = &D.heapv[D.nheap++];
  memset(h, 0, sizeof *h);
  h->id = ++D.next_heap_id;
  h->handle = handle;
  h->created = ts;
  h->destroyed = -1;
  map_put(&D.heaps, handle, 0, D.nheap);
  return h;
}

/* ---- CUPTI: rows waiting for GPU times ------------------------------------ */

static void put_parked(int q, parked *p)
{
  if (q == PQ_KERNEL)
    mt_trace_put_kernel(D.t, &p->e.k);
  else if (q == PQ_MEMCPY)
    mt_trace_put_memcpy(D.t, &p->e.m);
  else
    mt_trace_put_nccl(D.t, &p->e.n);
}

static void set_gpu_times(int q, parked *p, int64_t gs, int64_t ge)
{
  int64_t *s = q == PQ_KERNEL ? &p->e.k.gpu_start : q == PQ_MEMCPY ? &p->e.m.gpu_start : &p->e.n.gpu_start;
  int64_t *e = q == PQ_KERNEL ? &p->e.k.gpu_end : q == PQ_MEMCPY ? &p->e.m.gpu_end : &p->e.n.gpu_end;
  *s = gs;
  *e = ge;
}

static int64_t gpu_rel(int64_t mono)
{
  return mono < 0 ? -1 : mono - mt__start_ns;
}

static void early_remove(size_t i)
{
  map_del(&D.early_by_corr, D.earlyv[i].corr, 0);
  if (i != D.nearly - 1) {
    D.earlyv[i] = D.earlyv[D.nearly - 1];
    map_put(&D.early_by_corr, D.earlyv[i].corr, 0, i + 1);
  }
  D.nearly--;
}

/* A row with a correlation id while CUPTI is active: written now when its
 * GPU times came first and nothing waits before it, else queued. */
static void park(int q, parked *p)
{
  uint64_t ei = map_get(&D.early_by_corr, p->corr, 0);
  if (ei) {
    early_act *a = &D.earlyv[ei - 1];
    set_gpu_times(q, p, gpu_rel(a->start), gpu_rel(a->end));
    early_remove(ei - 1);
    p->done = 1;
    D.cupti_matched++;
  }
  pqueue *Q = &D.pq[q];
  if (p->done && Q->head == Q->tail) {
    put_parked(q, p);
    return;
  }
  if (Q->tail - Q->head == Q->cap) {
    uint64_t nc = Q->cap ? Q->cap * 2 : 1024;
    parked *nv = malloc(nc * sizeof *nv);
    if (!nv) {
      put_parked(q, p);   /* no memory: without GPU times, in order */
      return;
    }
    for (uint64_t x = Q->head; x < Q->tail; x++)
      nv[x & (nc - 1)] = Q->v[x & (Q->cap - 1)];
    free(Q->v);
    Q->v = nv;
    Q->cap = nc;
  }
  p->since = mt__now();
  Q->v[Q->tail & (Q->cap - 1)] = *p;
  if (!p->done)
    map_put(&D.parked_by_corr, p->corr, 0, ((uint64_t)q << 56 | Q->tail) + 1);
  Q->tail++;
}

/* Writes the rows at the head of each queue that have their times, or
 * waited PARK_NS (all of them when `all`); forgets GPU times that found no
 * row within PARK_NS. */
static void release_parked(int all)
{
  int64_t now = mt__now();
  for (int q = 0; q < PQ__N; q++) {
    pqueue *Q = &D.pq[q];
    while (Q->head < Q->tail) {
      parked *p = &Q->v[Q->head & (Q->cap - 1)];
      if (!p->done && !all && now - p->since < PARK_NS)
        break;
      if (!p->done)
        map_del(&D.parked_by_corr, p->corr, 0);
      put_parked(q, p);
      Q->head++;
    }
  }
  /* the sweep is O(waiting records): every 100 ms, not every pass */
  if (!all && now - D.early_swept < COMMIT_NS)
    return;
  D.early_swept = now;
  for (size_t i = D.nearly; i-- > 0;)
    if (all || now - D.earlyv[i].since >= PARK_NS) {
      early_remove(i);
      D.cupti_unmatched++;
    }
}

static void on_gpu_act(const mt_gpu_act *a, void *arg)
{
  (void)arg;
  D.cupti_records++;
  if (a->type == MT_GPU_MEMORY) {
    mt_gpu_memory_event g = { gpu_rel(a->start), a->op, a->mem, a->device, 0, a->addr, a->bytes,
                              a->pool ? (int64_t)a->pool : -1, a->correlation };
    mt_trace_put_gpu_memory(D.t, &g);
    return;
  }
  if (!a->correlation)
    return;
  uint64_t v = map_get(&D.parked_by_corr, a->correlation, 0);
  if (v) {
    int q = (int)((v - 1) >> 56);
    uint64_t seq = (v - 1) & ((1ull << 56) - 1);
    pqueue *Q = &D.pq[q];
    parked *p = &Q->v[seq & (Q->cap - 1)];
    set_gpu_times(q, p, gpu_rel(a->start), gpu_rel(a->end));
    p->done = 1;
    map_del(&D.parked_by_corr, a->correlation, 0);
    D.cupti_matched++;
    return;
  }
  if (map_get(&D.early_by_corr, a->correlation, 0))
    return;   /* a second record of one call (e.g. a graph): the first counts */
  if (D.nearly == D.capearly) {
    size_t nc = D.capearly ? D.capearly * 2 : 256;
    early_act *nv = realloc(D.earlyv, nc * sizeof *nv);
    if (!nv)
      return;
    D.earlyv = nv;
    D.capearly = nc;
  }
  D.earlyv[D.nearly] = (early_act){ a->correlation, a->start, a->end, mt__now() };
  map_put(&D.early_by_corr, a->correlation, 0, ++D.nearly);
}

static void cupti_pass(int all)
{
  if (!mt__cupti_active())
    return;
  mt__cupti_poll(on_gpu_act, NULL);
  release_parked(all);
}

/* ---- records -> rows --------------------------------------------------- */

static void flush_pending(tstate *s)
{
  if (s && s->has_pending) {
    mt_trace_put_region(D.t, &s->pending);
    s->has_pending = 0;
  }
}

static void consume(mt_tbuf *b, uint64_t pos, const mt_rec *r)
{
  int64_t ts = r->ts - mt__start_ns;
  char text[256];
  D.events++;
  if (b->drain_state && !(r->type == MT_R_REGION && r->op == 0))
    flush_pending(b->drain_state);
  switch (r->type) {
  case MT_R_MEM: {
    mt_mem_event e;
    memset(&e, 0, sizeof e);
    e.ts = ts;
    e.dur = r->dur;
    e.op = r->op;
    e.api = r->api;
    e.kind = r->kind;
    e.device = r->device;
    e.addr = r->p[0];
    e.size = r->p[1];
    e.thread = b->id;
    e.stack = stack_id(b, pos, r);
    e.result = r->result;
    e.context = (int)r->p[3];
    e.stream = stream_id(r->p[2], r->device, ts);
    if (r->op == MT_MEM_ALLOC || r->op == MT_MEM_CREATE) {
      if (r->result == 0 && r->p[0])
        map_put(&D.live, r->p[0], r->op, r->p[1] ? r->p[1] : 1);
    } else if (r->op == MT_MEM_MAP || r->op == MT_MEM_UNMAP) {   /* for MT_R_FW MEM */
      if (r->op == MT_MEM_MAP && r->result == 0)
        map_put(&D.live, r->p[0], MT_MEM_MAP, 1);
      else if (map_del(&D.live, r->p[0], MT_MEM_MAP))
        note_gone(r->p[0], MT_MEM_MAP, ts);
    } else if (r->op == MT_MEM_FREE || r->op == MT_MEM_RELEASE) {
      int started = r->op == MT_MEM_FREE ? MT_MEM_ALLOC : MT_MEM_CREATE;
      uint64_t sz = map_del(&D.live, r->p[0], started);
      if (sz)
        note_gone(r->p[0], started, ts);
      if (!e.size && sz)
        e.size = sz;
    }
    mt_trace_put_mem(D.t, &e);
    break;
  }
  case MT_R_OOM_INFO: {
    /* follows the failed MT_R_MEM on the same ring */
    mt_oom_event o = { ts, r->device, r->api, MT_OOM_DRIVER, r->p[2],
                       r->p[3] ? (int64_t)r->p[0] : -1, r->p[3] ? (int64_t)r->p[1] : -1, b->id, 0 };
    mt_trace_put_oom(D.t, &o);
    D.events--;
    break;
  }
  case MT_R_KERNEL: {
    mt_kernel_event e;
    memset(&e, 0, sizeof e);
    e.ts = ts;
    e.dur = r->dur;
    e.api = r->api;
    e.name_id = kernel_name(r->p[0], r->kind);
    e.device = r->device;
    e.stream = stream_id(r->p[1], r->device, ts);
    e.grid[0] = (uint32_t)r->p[2];
    e.grid[1] = (uint32_t)(r->p[2] >> 32) & 0xffff;
    e.grid[2] = (uint32_t)(r->p[2] >> 48);
    e.block[0] = (uint32_t)r->p[3] & 0x7ff;
    e.block[1] = (uint32_t)(r->p[3] >> 11) & 0x7ff;
    e.block[2] = (uint32_t)(r->p[3] >> 22) & 0x3ff;
    e.smem = (uint32_t)(r->p[3] >> 32);
    e.thread = b->id;
    e.stack = stack_id(b, pos, r);
    e.correlation = r->corr;
    e.gpu_start = e.gpu_end = -1;
    if (r->corr && mt__cupti_active()) {
      parked p = { .corr = r->corr };
      p.e.k = e;
      park(PQ_KERNEL, &p);
    } else {
      mt_trace_put_kernel(D.t, &e);
    }
    break;
  }
  case MT_R_MEMCPY: {
    mt_memcpy_event e = { ts, r->dur, r->api, r->kind, r->p[0], r->p[1], r->p[2], r->device,
                          stream_id(r->p[3], r->device, ts), b->id, stack_id(b, pos, r), r->corr, -1, -1 };
    if (r->corr && mt__cupti_active()) {
      parked p = { .corr = r->corr };
      p.e.m = e;
      park(PQ_MEMCPY, &p);
    } else {
      mt_trace_put_memcpy(D.t, &e);
    }
    break;
  }
  case MT_R_API: {
    mt_api_event e = { ts, r->dur, r->api, stream_id(r->p[0], r->device, ts), b->id, r->result };
    mt_trace_put_api(D.t, &e);
    break;
  }
  case MT_R_STREAM: {
    if (r->result == 0 && r->p[0]) {
      uint64_t id = map_get(&D.streams, r->p[0], 0);
      if (!id) {
        id = (uint64_t)++D.next_stream_id;
        map_put(&D.streams, r->p[0], 0, id);
      }
      mt_trace_put_stream(D.t, (int64_t)id, r->device, r->p[0], (int)(int64_t)r->p[2], (int)r->p[1], ts);
    }
    mt_api_event e = { ts, r->dur, r->api, stream_id(r->p[0], r->device, ts), b->id, r->result };
    mt_trace_put_api(D.t, &e);
    break;
  }
  case MT_R_NCCL: {
    int dt = (int)(r->p[2] & 0xff);
    int peer = (int)(int32_t)(r->p[2] >> 8);
    uint64_t ci = map_get(&D.comms, r->p[0], 0);
    mt_nccl_event e = { ts, r->dur, r->op, ci ? D.commv[ci - 1].id : 0, r->p[1], dt,
                        r->p[1] * dtype_size(dt), peer, stream_id(r->p[3], r->device, ts), b->id,
                        stack_id(b, pos, r), r->corr, -1, -1 };
    if (r->op == MT_NCCL_GROUP_START || r->op == MT_NCCL_GROUP_END)
      e.dtype = -1, e.bytes = 0, e.count = 0;
    if (r->corr && mt__cupti_active()) {
      parked p = { .corr = r->corr };
      p.e.n = e;
      park(PQ_NCCL, &p);
    } else {
      mt_trace_put_nccl(D.t, &e);
    }
    break;
  }
  case MT_R_COMM: {
    D.events--;
    uint64_t ci = map_get(&D.comms, r->p[0], 0);
    if (r->op == 1 && r->result == 0) {
      if (!ci) {
        if (D.ncomm == D.capcomm) {
          size_t nc = D.capcomm ? D.capcomm * 2 : 8;
          mt_comm_info *nv = realloc(D.commv, nc * sizeof *nv);
          if (!nv)
            break;
          D.commv = nv;
          D.capcomm = nc;
        }
        ci = ++D.ncomm;
        map_put(&D.comms, r->p[0], 0, ci);
      }
      mt_comm_info *c = &D.commv[ci - 1];
      memset(c, 0, sizeof *c);
      c->id = ++D.next_comm_id;
      c->handle = r->p[0];
      snprintf(c->unique_id, sizeof c->unique_id, "%016llx%016llx", (unsigned long long)r->p[1],
               (unsigned long long)r->p[2]);
      c->nranks = (int)(uint32_t)r->p[3];
      c->rank = (int)(int32_t)(r->p[3] >> 32);
      c->device = r->device;
      c->created = ts;
      c->destroyed = -1;
      mt_trace_put_comm(D.t, c);
      if (c->nranks > D.nccl_world) {
        char v[24];
        D.nccl_world = c->nranks;
        D.nccl_rank = c->rank;
        snprintf(v, sizeof v, "%d", D.nccl_rank);
        mt_trace_put_meta(D.t, "rank.nccl", v);
        snprintf(v, sizeof v, "%d", D.nccl_world);
        mt_trace_put_meta(D.t, "world_size.nccl", v);
        learn_rank(c->rank, c->nranks, RS_NCCL);
      }
    } else if (r->op == 2 && ci) {
      mt_comm_info *c = &D.commv[ci - 1];
      c->destroyed = ts;
      mt_trace_put_comm(D.t, c);
      map_del(&D.comms, r->p[0], 0);
    }
    break;
  }
  case MT_R_PUSH:
  case MT_R_MARK: {
    open_range o = { ts, intern_ptr(r->p[0]), 0, (int)r->p[2], r->kind };
    if (r->ntext) {
      text_of(b, pos, r, text);
      o.name_id = mt_trace_intern(D.t, text);
    } else {
      o.name_id = intern_ptr(r->p[1]);
    }
    tstate *s = tstate_of(b);
    if (r->type == MT_R_MARK) {
      put_range(&o, ts, s ? s->depth : 0, b->id);
    } else if (r->kind == MT_RANGE_START_END) {
      D.events--;   /* counted when it ends */
      if (D.nsev == D.capsev) {
        size_t nc = D.capsev ? D.capsev * 2 : 64;
        open_range *nv = realloc(D.sev, nc * sizeof *nv);
        if (!nv)
          break;
        D.sev = nv;
        D.capsev = nc;
      }
      D.sev[D.nsev++] = o;
      map_put(&D.startend, r->p[3], 0, D.nsev);
    } else if (s) {
      D.events--;
      if (s->depth == s->cap) {
        int nc = s->cap ? s->cap * 2 : 16;
        open_range *nv = realloc(s->stack, (size_t)nc * sizeof *nv);
        if (!nv)
          break;
        s->stack = nv;
        s->cap = nc;
      }
      s->stack[s->depth++] = o;
    }
    break;
  }
  case MT_R_POP: {
    if (r->kind == MT_RANGE_START_END) {
      uint64_t i = map_del(&D.startend, r->p[3], 0);
      if (i)
        put_range(&D.sev[i - 1], ts, 0, b->id);
      else
        D.events--;
    } else {
      tstate *s = tstate_of(b);
      if (s && s->depth > 0) {
        s->depth--;
        put_range(&s->stack[s->depth], ts, s->depth, b->id);
      } else {
        D.events--;
      }
    }
    break;
  }
  case MT_R_HEAP: {
    mt_heap_info *h = heap_of(r->p[0], ts);
    if (!h)
      break;
    if (r->op == 1) {
      /* a live heap recorded again (renamed from a snapshot, an expandable
         segment grown) keeps the time it was created */
      if (!h->usage || h->destroyed >= 0)
        h->created = ts;
      h->destroyed = -1;
      h->domain_id = intern_ptr(r->p[3]);
      if (r->ntext) {
        text_of(b, pos, r, text);
        h->name_id = mt_trace_intern(D.t, text);
      }
      h->usage = r->kind;
      h->device = r->device;
      h->addr = r->p[1];
      h->size = r->p[2];
    } else if (r->op == 2) {
      h->destroyed = ts;
    }
    mt_trace_put_heap(D.t, h);
    break;
  }
  case MT_R_REGION: {
    tstate *s = tstate_of(b);
    if (r->op == 0) {   /* a name for the region registered just before */
      D.events--;
      if (s && s->has_pending && s->pending.addr == r->p[1] && r->ntext) {
        text_of(b, pos, r, text);
        s->pending.label_id = mt_trace_intern(D.t, text);
      }
      break;
    }
    mt_heap_info *h = r->p[0] ? heap_of(r->p[0], ts) : NULL;
    /* dur: the block's stream handle (framework allocator blocks), else 0 */
    mt_region_event e = { ts, r->op, h ? h->id : 0, r->p[1], r->p[2], stream_id((uint64_t)r->dur, r->device, ts),
                          b->id, stack_id(b, pos, r), 0 };
    if (r->op == MT_REGION_REGISTER) {
      map_put(&D.regions, r->p[1], 0, r->p[2] ? r->p[2] : 1);
      if (e.heap)
        map_put(&D.region_heap, r->p[1], 0, (uint64_t)e.heap);
    } else if (r->op == MT_REGION_UNREGISTER) {
      uint64_t sz = map_del(&D.regions, r->p[1], 0);
      if (!e.size)
        e.size = sz;
      e.heap = (int64_t)map_del(&D.region_heap, r->p[1], 0);
    } else if (r->op == MT_REGION_RESIZE) {
      map_put(&D.regions, r->p[1], 0, r->p[2] ? r->p[2] : 1);
      e.heap = (int64_t)map_get(&D.region_heap, r->p[1], 0);
    }
    if (r->op == MT_REGION_REGISTER && s) {
      s->pending = e;
      s->has_pending = 1;
    } else {
      mt_trace_put_region(D.t, &e);
    }
    break;
  }
  case MT_R_FW:
    /* The framework channel (hooks_framework.c). */
    if (r->op == MT_FW_MEM) {
      /* The allocator's own report of a device allocation: the hooks
       * normally recorded the call already (their record is consumed
       * first: it was committed before the framework polled). */
      int op = r->kind, starts = op == MT_MEM_ALLOC || op == MT_MEM_MAP;
      if (starts ? map_get(&D.live, r->p[0], op) != 0 || was_gone(r->p[0], op, ts)
                 : !map_del(&D.fwlive, r->p[0], 0)) {
        D.events--;
        break;
      }
      if (starts)
        map_put(&D.fwlive, r->p[0], 0, r->p[1] ? r->p[1] : 1);
      mt_mem_event e;
      memset(&e, 0, sizeof e);
      e.ts = ts;
      e.op = op;
      e.api = r->api;
      e.kind = r->result;
      e.device = r->device;
      e.addr = r->p[0];
      e.size = r->p[1];
      e.thread = b->id;
      e.context = MT_CTX_FRAMEWORK;
      e.stack = stack_id(b, pos, r);   /* the allocator entry's Python frames, if any */
      e.stream = stream_id(r->p[2], r->device, ts);
      mt_trace_put_mem(D.t, &e);
    } else if (r->op == MT_FW_OOM) {
      mt_oom_event o = { ts, r->device, r->api, MT_OOM_ALLOCATOR, r->p[0], (int64_t)r->p[1], (int64_t)r->p[2],
                         b->id, 0 };
      mt_trace_put_oom(D.t, &o);
      if (r->ntext) {
        char key[48];
        text_of(b, pos, r, text);
        snprintf(key, sizeof key, "torch.oom.%lld", (long long)D.fw_ooms++);
        mt_trace_put_meta(D.t, key, text);
      }
    } else if (r->op == MT_FW_RANK) {
      D.events--;
      learn_rank((int)r->p[0], (int)r->p[1], RS_TORCH);
    } else if (r->op == MT_FW_LOST && r->ntext) {
      D.events--;
      text_of(b, pos, r, text);
      char *eq = strchr(text, '=');
      if (eq)
        *eq++ = 0;
      mt_trace_add_drops(D.t, text, (int64_t)r->p[0], eq);
    } else if (r->op == MT_FW_META && r->ntext) {
      D.events--;
      text_of(b, pos, r, text);
      char *eq = strchr(text, '=');
      if (eq) {
        *eq = 0;
        mt_trace_put_meta(D.t, text, eq + 1);
      }
    } else {
      D.events--;
    }
    break;
  case MT_R_THREAD_NAME:
    D.events--;
    if (r->ntext) {
      text_of(b, pos, r, text);
      mt_trace_put_thread(D.t, b->id, b->tid, text);
    }
    break;
  default:
    D.events--;
    break;
  }
}

/* One pass over every ring; returns the records consumed. */
static uint64_t drain_pass(void)
{
  uint64_t total = 0;
  for (mt_tbuf *b = atomic_load_explicit(&mt__threads, memory_order_acquire); b; b = b->next) {
    if (b->unmapped)
      continue;
    if (!b->written) {
      b->id = ++D.next_thread_id;
      mt_trace_put_thread(D.t, b->id, b->tid, NULL);
      b->written = 1;
    }
    int dead = atomic_load_explicit(&b->dead, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&b->head, memory_order_acquire);
    uint64_t n = 0;
    while (tail < head) {
      const mt_rec *r = &b->slots[tail & b->mask];
      consume(b, tail, r);
      tail += 1 + (uint64_t)r->nx;
      if (++n % 256 == 0)
        atomic_store_explicit(&b->tail, tail, memory_order_release);
    }
    atomic_store_explicit(&b->tail, tail, memory_order_release);
    total += n;
    if (dead && tail == atomic_load_explicit(&b->head, memory_order_acquire)) {
      /* thread gone and its ring empty: keep its drop counts, free the ring */
      tstate *s = b->drain_state;
      if (s) {
        flush_pending(s);
        for (int i = s->depth - 1; i >= 0; i--)
          put_range(&s->stack[i], -1, i, b->id);
        free(s->stack);
        free(s);
        b->drain_state = NULL;
      }
      munmap(b->slots, b->map_bytes);
      b->unmapped = 1;
    }
  }
  return total;
}

static void write_drops(void)
{
  uint64_t sum[MT_D__N] = { 0 };
  for (mt_tbuf *b = atomic_load_explicit(&mt__threads, memory_order_acquire); b; b = b->next)
    for (int k = 0; k < MT_D__N; k++)
      sum[k] += atomic_load_explicit(&b->drops[k], memory_order_relaxed);
  for (int k = 0; k < MT_D__N; k++) {
    if (sum[k] > D.drops_written[k]) {
      mt_trace_add_drops(D.t, drop_kind_name[k], (int64_t)(sum[k] - D.drops_written[k]),
                         "ring buffer full");
      D.drops_written[k] = sum[k];
    }
  }
}

static int any_drops(void)
{
  for (mt_tbuf *b = atomic_load_explicit(&mt__threads, memory_order_acquire); b; b = b->next)
    for (int k = 0; k < MT_D__N; k++)
      if (atomic_load_explicit(&b->drops[k], memory_order_relaxed))
        return 1;
  return mt__cupti_active() && mt__cupti_dropped() > 0;
}

static void write_cupti_drops(void)
{
  uint64_t d = mt__cupti_dropped();
  if (d > D.cupti_drops_written) {
    mt_trace_add_drops(D.t, "cupti", (int64_t)(d - D.cupti_drops_written),
                       "activity records CUPTI dropped (cuptiActivityGetNumDroppedRecords)");
    D.cupti_drops_written = d;
  }
}

static void commit(void)
{
  write_drops();
  if (mt__cupti_active())
    write_cupti_drops();
  mt_trace_commit(D.t);
  mt_trace_begin(D.t);
  D.last_commit = mt__now();
}

static void finish(int finalize)
{
  /* two passes catch records committed while the first ran */
  drain_pass();
  drain_pass();
  for (mt_tbuf *b = atomic_load(&mt__threads); b; b = b->next) {
    tstate *s = b->drain_state;
    flush_pending(s);
    if (s)
      for (int i = s->depth - 1; i >= 0; i--)
        put_range(&s->stack[i], -1, i, b->id);
  }
  for (size_t i = 0; i < D.startend.cap; i++)
    if (D.startend.e[i].v)
      put_range(&D.sev[D.startend.e[i].v - 1], -1, 0, 0);
  char v[64];
  if (mt__cupti_active()) {
    /* every buffer CUPTI holds, then every row that waits: with its GPU
     * times or without (a crash does not wait for CUPTI) */
    if (finalize)
      mt__cupti_flush();
    cupti_pass(1);
    write_cupti_drops();
    snprintf(v, sizeof v, "%llu", (unsigned long long)D.cupti_records);
    mt_trace_put_meta(D.t, "cupti.records", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)D.cupti_matched);
    mt_trace_put_meta(D.t, "cupti.matched", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)D.cupti_unmatched);
    mt_trace_put_meta(D.t, "cupti.unmatched", v);
  }
  snprintf(v, sizeof v, "%llu", (unsigned long long)D.events);
  mt_trace_put_meta(D.t, "collector.events", v);
  if (stop_why[0])
    mt_trace_put_meta(D.t, "collector.end", stop_why);
  write_drops();
  mt_trace_commit(D.t);
  if (finalize)
    mt_trace_finalize(D.t, mt__now() - mt__start_ns);
  mt_trace_close(D.t);
  D.t = NULL;
  if (finalize && D.events == 0 && D.rank_src == RS_NONE && !any_drops()) {
    /* A launcher (torchrun's agent imports torch) or a helper process that
     * captured nothing: its empty file would read as one more rank 0. */
    unlink(D.path);
    return;
  }
  if (finalize && D.rank_src != RS_ENV && D.rank != 0) {
    /* the file name follows: rank<r>.<pid>.mtrace */
    char np[4300];
    const char *slash = strrchr(D.path, '/');
    snprintf(np, sizeof np, "%.*s/rank%d.%ld.mtrace", slash ? (int)(slash - D.path) : 1,
             slash ? D.path : ".", D.rank, (long)getpid());
    if (access(np, F_OK) != 0)
      rename(D.path, np);
  }
}

static void *drain_main(void *arg)
{
  (void)arg;
  mt__t_in = MT_F_SELF;
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  if (create_trace() != 0) {
    atomic_store(&mt__state, MT_S_DONE);
    atomic_store(&stopped, 1);
    return NULL;
  }
  for (;;) {
    int st = atomic_load(&stop_req);
    if (st) {
      finish(st == 1);
      atomic_store(&stopped, 1);
      return NULL;
    }
    if (atomic_load(&pause_req)) {
      atomic_store(&paused, 1);
      while (atomic_load(&pause_req) && !atomic_load(&stop_req)) {
        struct timespec z = { 0, 200000 };
        nanosleep(&z, NULL);
      }
      atomic_store(&paused, 0);
      continue;
    }
    uint64_t fr = atomic_load(&flush_req);
    uint64_t n = drain_pass();
    cupti_pass(0);
    int64_t now = mt__now();
    if (fr != atomic_load(&flush_ack)) {
      drain_pass();
      commit();
      atomic_store(&flush_ack, fr);
    } else if (now - D.last_commit >= COMMIT_NS) {
      commit();
    }
    if (n == 0) {
      struct timespec z = { 0, IDLE_SLEEP_NS };
      nanosleep(&z, NULL);
    }
  }
}

int mt__drain_start(void)
{
  atomic_store(&stop_req, 0);
  atomic_store(&stopped, 0);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&D.thread, &a, drain_main, NULL);
  pthread_attr_destroy(&a);
  if (rc == 0)
    D.running = 1;
  return rc;
}

static void wait_flag(_Atomic int *f, int timeout_ms)
{
  for (int i = 0; i < timeout_ms * 5 && !atomic_load(f); i++) {
    struct timespec z = { 0, 200000 };
    nanosleep(&z, NULL);
  }
}

void mt__drain_stop(int finalize, const char *why, int timeout_ms)
{
  if (!D.running || pthread_equal(pthread_self(), D.thread))
    return;
  snprintf(stop_why, sizeof stop_why, "%s", why ? why : "");
  atomic_store(&stop_req, finalize ? 1 : 2);
  wait_flag(&stopped, timeout_ms);
  D.running = 0;
}

int mt__drain_flush(int timeout_ms)
{
  if (!D.running)
    return -1;
  uint64_t want = atomic_fetch_add(&flush_req, 1) + 1;
  for (int i = 0; i < timeout_ms * 5 && atomic_load(&flush_ack) < want; i++) {
    struct timespec z = { 0, 200000 };
    nanosleep(&z, NULL);
  }
  return atomic_load(&flush_ack) >= want ? 0 : -1;
}

void mt__drain_fork_prepare(void)
{
  if (!D.running || pthread_equal(pthread_self(), D.thread))
    return;
  atomic_store(&pause_req, 1);
  wait_flag(&paused, 2000);
}

void mt__drain_fork_parent(void)
{
  atomic_store(&pause_req, 0);
}

void mt__drain_fork_child(void)
{
  /* The drain thread does not exist here, and the parent's connection must
   * not be touched: forget it all (the memory stays with the child). */
  memset(&D, 0, sizeof D);
  atomic_store(&pause_req, 0);
  atomic_store(&paused, 0);
  atomic_store(&stop_req, 0);
  atomic_store(&stopped, 0);
  atomic_store(&flush_req, 0);
  atomic_store(&flush_ack, 0);
  stop_why[0] = 0;
}
