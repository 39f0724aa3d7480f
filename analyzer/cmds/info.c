/* memtrace info: run metadata and event counts of a trace, or of every
 * trace of a run directory (one per traced process). */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/lib/analysis.h"
#include "schemas/reader.h"

static const char usage_text[] =
  "Usage: memtrace info [--json] TRACE|RUNDIR\n"
  "\n"
  "Prints a trace's run metadata (run id, rank, world size, process, capture\n"
  "settings) and its event counts; for a run directory, one entry per traced\n"
  "process, ordered by rank.\n"
  "\n"
  "Counts (\"events\"):\n"
  "  alloc, free        successful device allocation / free API calls (cudaMalloc,\n"
  "                     cudaMallocAsync, cudaMallocManaged, cuMemAlloc*, ...; each\n"
  "                     call the program made counts once, nested calls inside the\n"
  "                     runtime do not); failed calls are alloc_failed/free_failed\n"
  "  host_alloc, host_free  pinned host memory (cudaMallocHost, cudaHostAlloc, ...)\n"
  "  vmm_create, vmm_release, vmm_map, vmm_unmap  the VMM API (cuMemCreate, ...)\n"
  "  kernel             kernel launches      memcpy   copies and sets\n"
  "  nccl               NCCL collective and point-to-point calls (group start/end\n"
  "                     not counted)\n"
  "  range              NVTX ranges (push/pop and start/end) plus marks; also\n"
  "                     ranges_pushed and marks\n"
  "  region_register, region_unregister, heap_register, heap_unregister  NVTX memory API\n"
  "  oom                failed allocations for lack of memory\n"
  "\"dropped\" gives what the collector could not record (total and per kind).\n"
  "\n"
  "Options:\n"
  "  --json       one JSON object (for a run directory: {\"run_id\", \"ranks\": [...]})\n"
  "  -h, --help   this text\n"
  "\n"
  "Exit status: 0 ok, 2 usage error or a file that is not a readable trace.\n";

typedef struct mt_info_counts {
  int64_t alloc, free, alloc_failed, free_failed, host_alloc, host_free, vmm_create, vmm_release,
    vmm_map, vmm_unmap, kernel, memcpy, nccl, range, ranges_pushed, marks, region_register,
    region_unregister, heap_register, heap_unregister, api, oom, dropped, total;
} mt_info_counts;

/* A damaged table counts nothing (as info always did). */
static int64_t count(mt_trace *t, mt_table table, int code)
{
  int64_t n = mt_count_code(t, table, code);
  return n < 0 ? 0 : n;
}

/* Counts of one open trace, from the reader's row counts. */
static void counts_of(mt_trace *t, mt_info_counts *c)
{
  memset(c, 0, sizeof *c);
  mt_trace_counts n;
  if (mt_read_counts(t, &n) != MT_OK)
    memset(&n, 0, sizeof n);   /* as before: a table that cannot be read counts nothing */
  for (int op = 0; op < MT_CODES; op++)
    for (int kind = 0; kind < MT_CODES; kind++)
      for (int ok = 0; ok < 2; ok++) {
        int64_t k = n.mem[op][kind][ok];
        if (kind == MT_MEM_KIND_HOST_PINNED) {
          if (ok && op == MT_MEM_ALLOC) c->host_alloc += k;
          if (ok && op == MT_MEM_FREE) c->host_free += k;
          continue;
        }
        switch (op) {
        case MT_MEM_ALLOC: if (ok) c->alloc += k; else c->alloc_failed += k; break;
        case MT_MEM_FREE: if (ok) c->free += k; else c->free_failed += k; break;
        case MT_MEM_CREATE: if (ok) c->vmm_create += k; break;
        case MT_MEM_RELEASE: if (ok) c->vmm_release += k; break;
        case MT_MEM_MAP: if (ok) c->vmm_map += k; break;
        case MT_MEM_UNMAP: if (ok) c->vmm_unmap += k; break;
        default: break;
        }
      }
  c->kernel = n.rows[MT_TAB_KERNEL];
  c->memcpy = n.rows[MT_TAB_MEMCPY];
  int64_t groups = count(t, MT_TAB_NCCL, MT_NCCL_GROUP_START) + count(t, MT_TAB_NCCL, MT_NCCL_GROUP_END);
  c->nccl = n.rows[MT_TAB_NCCL] - groups;
  c->marks = count(t, MT_TAB_RANGE, MT_RANGE_MARK);
  c->ranges_pushed = n.rows[MT_TAB_RANGE] - c->marks;
  c->range = c->marks + c->ranges_pushed;
  c->region_register = count(t, MT_TAB_REGION, MT_REGION_REGISTER);
  c->region_unregister = count(t, MT_TAB_REGION, MT_REGION_UNREGISTER);
  c->heap_register = n.heaps;
  c->heap_unregister = n.heaps_destroyed;
  c->api = n.rows[MT_TAB_API];
  c->oom = n.rows[MT_TAB_OOM];
  c->dropped = n.dropped;
  c->total = n.rows[MT_TAB_MEM] + c->kernel + c->memcpy + c->nccl + groups + c->range + n.rows[MT_TAB_REGION] +
             c->api;
}

int mt_info_trace_counts(const char *path, int64_t *events, int64_t *dropped, int *rank,
                         int64_t *pid, char *err, size_t errlen)
{
  int64_t nw;
  mt_trace *t = NULL;
  mt_error e = { 0 };
  if (mt_trace_open(path, MT_OPEN_READ, &t, &e) != MT_OK) {
    snprintf(err, errlen, "%s", e.msg);
    return -1;
  }
  mt_info_counts c;
  counts_of(t, &c);
  mt_process_info p;
  if (mt_trace_process(t, &p) == MT_OK) {
    *rank = p.rank;
    *pid = p.pid;
  }
  nw = mt_read_meta_int(t, "world_size.nccl");
  if (nw > 0 && *rank == 0)
    *rank = (int)mt_read_meta_int(t, "rank.nccl");
  *events = c.total;
  *dropped = c.dropped;
  mt_trace_close(t);
  return 0;
}

/* drops.kind is unique (the writer adds to a kind's row): one row a kind. */
static int j_drop(void *ctx, const mt_drop_row *r)
{
  json_object_object_add(ctx, r->kind, json_object_new_int64(r->count));
  return 0;
}

static int p_drop(void *ctx, const mt_drop_row *r)
{
  (void)ctx;
  printf("; %s %lld%s%s%s", r->kind, (long long)r->count, r->reason ? " (" : "", r->reason ? r->reason : "",
         r->reason ? ")" : "");
  return 0;
}

static json_object *jcounts(const mt_info_counts *c)
{
  json_object *o = json_object_new_object();
#define F(name) json_object_object_add(o, #name, json_object_new_int64(c->name))
  F(alloc); F(free); F(kernel); F(nccl); F(range); F(memcpy);
  F(alloc_failed); F(free_failed); F(host_alloc); F(host_free);
  F(vmm_create); F(vmm_release); F(vmm_map); F(vmm_unmap);
  F(ranges_pushed); F(marks); F(region_register); F(region_unregister);
  F(heap_register); F(heap_unregister); F(api); F(oom);
#undef F
  return o;
}

/* Builds the JSON object (or prints text) for one trace; `run` (rank,
 * world size, numbered across the run) from mt_run_ranks, or NULL. */
static int one(const char *path, int json, json_object **out, const int *run)
{
  mt_trace *t = NULL;
  mt_error e = { 0 };
  if (mt_trace_open(path, MT_OPEN_READ, &t, &e) != MT_OK)
    return mt_usage_error("info", "%s", e.msg);
  mt_process_info p;
  if (mt_trace_process(t, &p) != MT_OK) {
    mt_errorf("%s: no process row", path);
    mt_trace_close(t);
    return MT_EXIT_FAIL;
  }
  mt_info_counts c;
  counts_of(t, &c);
  /* A process whose environment had no rank: the collector's guess from
   * its largest NCCL communicator (meta rank.nccl / world_size.nccl). */
  const char *rank_source = p.world_size > 1 || p.rank > 0 ? "environment" : "none";
  int64_t nr = mt_read_meta_int(t, "rank.nccl");
  int64_t nw = mt_read_meta_int(t, "world_size.nccl");
  char src[32];
  mt_read_meta(t, "rank.source", src, sizeof src);
  if (src[0]) {
    rank_source = src;   /* the collector's: environment, torch.distributed, nccl */
  } else if (nw > 0 && p.world_size <= 1 && p.rank == 0) {
    p.rank = (int)nr;
    p.world_size = (int)nw;
    rank_source = "nccl";
  }
  if (run && run[2]) {
    p.rank = run[0];
    p.world_size = run[1];
    rank_source = "nccl-run";
  }
  if (json) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "run_id", json_object_new_string(p.run_id));
    json_object_object_add(o, "rank", json_object_new_int(p.rank));
    json_object_object_add(o, "local_rank", json_object_new_int(p.local_rank));
    json_object_object_add(o, "world_size", json_object_new_int(p.world_size));
    json_object_object_add(o, "rank_source", json_object_new_string(rank_source));
    json_object_object_add(o, "host", json_object_new_string(p.host));
    json_object_object_add(o, "pid", json_object_new_int64(p.pid));
    json_object_object_add(o, "command_line", json_object_new_string(p.command_line ? p.command_line : ""));
    json_object_object_add(o, "producer", json_object_new_string(p.producer ? p.producer : ""));
    json_object_object_add(o, "complete", json_object_new_boolean(p.end_ns >= 0));
    json_object_object_add(o, "duration_ns", p.end_ns >= 0 ? json_object_new_int64(p.end_ns) : NULL);
    json_object_object_add(o, "stacks", json_object_new_string(p.stacks ? p.stacks : ""));
    json_object_object_add(o, "cupti", json_object_new_string(p.cupti ? p.cupti : ""));
    json_object_object_add(o, "events", jcounts(&c));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "total", json_object_new_int64(c.dropped));
    mt_read_drops(t, j_drop, d);
    json_object_object_add(o, "dropped", d);
    *out = o;
  } else {
    /* the trace's own strings: control characters escaped (mt_text_escape) */
    char e1[256], e2[1024], e3[256], e4[64], e5[64];
    printf("%s\n", path);
    printf("  run %s  rank %d/%d (local %d; from %s)  pid %lld on %s\n", mt_text_escape(e1, sizeof e1, p.run_id), p.rank,
           p.world_size, p.local_rank, rank_source, (long long)p.pid, mt_text_escape(e3, sizeof e3, p.host));
    printf("  command: %s\n", mt_text_escape(e2, sizeof e2, p.command_line));
    printf("  %s; stacks %s; cupti %s; %s\n", mt_text_escape(e1, sizeof e1, p.producer ? p.producer : "?"),
           mt_text_escape(e4, sizeof e4, p.stacks ? p.stacks : "?"), mt_text_escape(e5, sizeof e5, p.cupti ? p.cupti : "?"),
           p.end_ns >= 0 ? "complete" : "INCOMPLETE (the process did not close its trace)");
    printf("  events: %lld alloc, %lld free, %lld kernel, %lld memcpy, %lld nccl, %lld range "
           "(%lld marks), %lld host_alloc, %lld region_register, %lld oom\n",
           (long long)c.alloc, (long long)c.free, (long long)c.kernel, (long long)c.memcpy,
           (long long)c.nccl, (long long)c.range, (long long)c.marks, (long long)c.host_alloc,
           (long long)c.region_register, (long long)c.oom);
    printf("  dropped: %lld", (long long)c.dropped);
    if (c.dropped)   /* per kind, with the collector's reason: what the loss touches */
      mt_read_drops(t, p_drop, NULL);
    printf("%s\n", c.dropped ? " -- the counts above are incomplete" : "");
  }
  mt_trace_close(t);
  return MT_EXIT_OK;
}

typedef struct ent { char *path; int rank; int64_t pid; } ent;

static int cmp_ent(const void *a, const void *b)
{
  const ent *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  return strcmp(x->path, y->path);
}

/* The traces of a run directory, sorted by rank then pid; caller frees. */
int mt_info_list_traces(const char *dir, char ***paths, size_t *n)
{
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  ent *v = NULL;
  size_t k = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (len < 7 || strcmp(de->d_name + len - 7, ".mtrace") != 0)
      continue;
    ent *nv = realloc(v, (k + 1) * sizeof *nv);
    if (!nv)
      break;
    v = nv;
    size_t plen = strlen(dir) + len + 2;
    v[k].path = malloc(plen);
    snprintf(v[k].path, plen, "%s/%s", dir, de->d_name);
    /* rank<r>.<pid>[.n].mtrace */
    v[k].rank = 0;
    v[k].pid = 0;
    sscanf(de->d_name, "rank%d.%" SCNd64, &v[k].rank, &v[k].pid);
    k++;
  }
  closedir(d);
  if (k)
    qsort(v, k, sizeof *v, cmp_ent);
  *paths = calloc(k + 1, sizeof **paths);
  for (size_t i = 0; i < k; i++)
    (*paths)[i] = v[i].path;
  free(v);
  *n = k;
  return 0;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int json = 0, c;
  optind = 0;   /* 0: glibc re-initialises, so options may follow operands (GNU order) */
  opterr = 0;
  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
    switch (c) {
    case 'j': json = 1; break;
    case 'h': fputs(usage_text, stdout); return MT_EXIT_OK;
    default:
      return mt_usage_error("info", "unknown option '%s' (see 'memtrace info --help')", argv[optind - 1]);
    }
  }
  if (optind >= argc)
    return mt_usage_error("info", "expected a trace or a run directory (see 'memtrace info --help')");
  if (optind + 1 < argc)
    return mt_usage_error("info", "expected one trace or run directory, got %d arguments", argc - optind);
  const char *path = argv[optind];
  struct stat sb;
  if (stat(path, &sb) != 0)
    return mt_usage_error("info", "%s: %s", path, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) {
    json_object *o = NULL;
    int rc = one(path, json, &o, NULL);
    if (rc == MT_EXIT_OK && o) {
      puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put(o);
    }
    return rc;
  }
  char **paths = NULL;
  size_t n = 0;
  if (mt_info_list_traces(path, &paths, &n) != 0)
    return mt_usage_error("info", "%s: cannot read the directory", path);
  if (n == 0) {
    free(paths);
    return mt_usage_error("info", "%s: no traces (*.mtrace) in this directory", path);
  }
  int rc = MT_EXIT_OK;
  json_object *arr = json ? json_object_new_array() : NULL;
  char run_id[64] = "";
  int *rr = calloc(3 * n, sizeof *rr);
  if (!rr || mt_run_ranks(paths, n, rr, rr + n, rr + 2 * n) != MT_OK) {
    free(rr);
    rr = NULL;
  }
  for (size_t i = 0; i < n; i++) {
    json_object *o = NULL;
    int ovr[3] = { rr ? rr[i] : 0, rr ? rr[n + i] : 1, rr ? rr[2 * n + i] : 0 };
    int r = one(paths[i], json, &o, rr ? ovr : NULL);
    if (r != MT_EXIT_OK)
      rc = r;
    if (o) {
      if (!run_id[0])
        snprintf(run_id, sizeof run_id, "%s", json_object_get_string(json_object_object_get(o, "run_id")));
      json_object_array_add(arr, o);
    }
    free(paths[i]);
  }
  free(paths);
  free(rr);
  if (json) {
    json_object *top = json_object_new_object();
    json_object_object_add(top, "run_dir", json_object_new_string(path));
    json_object_object_add(top, "run_id", json_object_new_string(run_id));
    json_object_object_add(top, "ranks", arr);
    puts(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(top);
  }
  return rc;
}

const mt_cmd mt_cmd_info = {
  "info",
  "run metadata and event counts of a trace or run directory",
  usage_text,
  run,
};
