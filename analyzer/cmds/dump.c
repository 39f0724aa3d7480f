/* memtrace dump: a trace's content as text, events merged in time order
 * (what `uftrace dump` and `sysprof-cat` are to theirs). */
#include "config.h"
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/lib/analysis.h"
#include "schemas/reader.h"

static const char *lbl(const char *e, int v, char *buf, size_t n)
{
  const char *l = mt_enum_label(e, v);
  if (l)
    return l;
  snprintf(buf, n, "%s#%d", e, v);
  return buf;
}

/* A trace's string as dump prints it: control characters escaped
 * (mt_text_escape).  Valid until four more calls (a line uses at most
 * four). */
static const char *esc(const char *s)
{
  static char *ring[4];
  static unsigned next;
  char **slot = &ring[next++ % 4];
  free(*slot);
  *slot = mt_text_escape_dup(s);
  return *slot ? *slot : "?";
}

#define LL(x) ((long long)(x))
#define LLU(x) ((unsigned long long)(x))

/* GPU-side times exist only with CUPTI: printed when known. */
static void gpu_times(FILE *f, int64_t start, int64_t end)
{
  if (start >= 0)
    fprintf(f, " gpu=%lld..%lld", LL(start), LL(end));
  fputc('\n', f);
}

static void p_mem(FILE *f, const mt_row *r)
{
  const mt_mem_event *e = &r->u.mem;
  char a[32], b[32], c[32], d[32];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld addr=0x%llx size=%llu dur=%lld thread=%lld stack=%lld result=%lld",
          lbl("mem_op", e->op, a, sizeof a), lbl("api", e->api, b, sizeof b), lbl("mem_kind", e->kind, c, sizeof c),
          LL(e->device), LL(e->stream), LLU(e->addr), LLU(e->size), LL(e->dur), LL(e->thread), LL(e->stack),
          LL(e->result));
  if (e->context)
    fprintf(f, " context=%s", lbl("alloc_context", e->context, d, sizeof d));
  fputc('\n', f);
}

static void p_region(FILE *f, const mt_row *r)
{
  const mt_region_event *e = &r->u.region;
  char a[32];
  fprintf(f, "%-9s heap=%lld addr=0x%llx size=%llu stream=%lld thread=%lld stack=%lld%s%s\n",
          lbl("region_op", e->op, a, sizeof a), LL(e->heap), LLU(e->addr), LLU(e->size), LL(e->stream),
          LL(e->thread), LL(e->stack), *r->name ? " label=" : "", esc(r->name));
}

static void p_kernel(FILE *f, const mt_row *r)
{
  const mt_kernel_event *e = &r->u.kernel;
  char a[32], dm[1024];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld grid=%lldx%lldx%lld block=%lldx%lldx%lld smem=%lld dur=%lld thread=%lld stack=%lld corr=%lld",
          "kernel", lbl("api", e->api, a, sizeof a), mt_demangle(esc(r->name), dm, sizeof dm), LL(e->device),
          LL(e->stream), LL(e->grid[0]), LL(e->grid[1]), LL(e->grid[2]), LL(e->block[0]), LL(e->block[1]),
          LL(e->block[2]), LL(e->smem), LL(e->dur), LL(e->thread), LL(e->stack), LL(e->correlation));
  gpu_times(f, e->gpu_start, e->gpu_end);
}

static void p_memcpy(FILE *f, const mt_row *r)
{
  const mt_memcpy_event *e = &r->u.memcpy;
  char a[32], b[32];
  fprintf(f, "%-9s %s %s bytes=%llu dst=0x%llx src=0x%llx dev=%lld stream=%lld dur=%lld thread=%lld",
          "memcpy", lbl("api", e->api, a, sizeof a), lbl("copy_kind", e->kind, b, sizeof b), LLU(e->bytes),
          LLU(e->dst), LLU(e->src), LL(e->device), LL(e->stream), LL(e->dur), LL(e->thread));
  gpu_times(f, e->gpu_start, e->gpu_end);
}

static void p_nccl(FILE *f, const mt_row *r)
{
  const mt_nccl_event *e = &r->u.nccl;
  char a[32];
  fprintf(f, "%-9s %s comm=%lld count=%llu dtype=%lld bytes=%llu peer=%lld stream=%lld dur=%lld thread=%lld",
          "nccl", lbl("nccl_op", e->op, a, sizeof a), LL(e->comm), LLU(e->count), LL(e->dtype), LLU(e->bytes),
          LL(e->peer), LL(e->stream), LL(e->dur), LL(e->thread));
  gpu_times(f, e->gpu_start, e->gpu_end);
}

static void p_range(FILE *f, const mt_row *r)
{
  const mt_range_event *e = &r->u.range;
  char a[32];
  if (e->te < 0)
    fprintf(f, "%-9s %s \"%s\" domain=\"%s\" depth=%lld thread=%lld end=never\n", "range",
            lbl("range_kind", e->kind, a, sizeof a), esc(r->name), esc(r->domain), LL(e->depth), LL(e->thread));
  else
    fprintf(f, "%-9s %s \"%s\" domain=\"%s\" depth=%lld thread=%lld end=%lld\n", "range",
            lbl("range_kind", e->kind, a, sizeof a), esc(r->name), esc(r->domain), LL(e->depth), LL(e->thread),
            LL(e->te));
}

static void p_api(FILE *f, const mt_row *r)
{
  const mt_api_event *e = &r->u.api;
  char a[32];
  fprintf(f, "%-9s %s stream=%lld dur=%lld thread=%lld result=%lld\n", "api", lbl("api", e->api, a, sizeof a),
          LL(e->stream), LL(e->dur), LL(e->thread), LL(e->result));
}

static void p_oom(FILE *f, const mt_row *r)
{
  const mt_oom_event *e = &r->u.oom;
  char a[32], b[32];
  fprintf(f, "%-9s %s %s dev=%lld requested=%llu free=%lld total=%lld thread=%lld stack=%lld\n", "oom",
          lbl("oom_source", e->source, a, sizeof a), lbl("api", e->api, b, sizeof b), LL(e->device),
          LLU(e->requested), LL(e->free_bytes), LL(e->total_bytes), LL(e->thread), LL(e->stack));
}

static void p_gpumem(FILE *f, const mt_row *r)
{
  const mt_gpu_memory_event *e = &r->u.gpu_memory;
  char a[32], b[32];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld addr=0x%llx size=%llu corr=%lld\n", "gpu-mem",
          lbl("mem_op", e->op, a, sizeof a), lbl("mem_kind", e->kind, b, sizeof b), LL(e->device), LL(e->stream),
          LLU(e->addr), LLU(e->size), LL(e->correlation));
}

static void (*const printers[MT_TAB_COUNT])(FILE *f, const mt_row *r) = {
  [MT_TAB_MEM] = p_mem, [MT_TAB_REGION] = p_region, [MT_TAB_KERNEL] = p_kernel, [MT_TAB_MEMCPY] = p_memcpy,
  [MT_TAB_NCCL] = p_nccl, [MT_TAB_RANGE] = p_range, [MT_TAB_API] = p_api, [MT_TAB_OOM] = p_oom,
  [MT_TAB_GPU_MEMORY] = p_gpumem,
};

static int sql_error(mt_trace *t)
{
  mt_errorf("%s: damaged: %s", mt_trace_path(t), mt_trace_errmsg(t));
  return MT_EXIT_USAGE;
}

static int h_device(void *f, const mt_device_row *d)
{
  char b[32];
  fprintf(f, "# device %lld \"%s\" %s sm_%lld%lld\n", LL(d->id), esc(d->name),
          mt_fmt_bytes(d->total_bytes, b, sizeof b), LL(d->cc_major), LL(d->cc_minor));
  return 0;
}

static int h_comm(void *f, const mt_comm_row *c)
{
  fprintf(f, "# communicator %lld handle 0x%llx id %s rank %lld/%lld device %lld\n", LL(c->id), LLU(c->handle),
          esc(c->unique_id), LL(c->rank), LL(c->nranks), LL(c->device));
  return 0;
}

static int h_heap(void *f, const mt_heap_row *h)
{
  char a[32];
  fprintf(f, "# heap %lld handle 0x%llx %s dev=%lld addr=0x%llx size=%llu name=\"%s\"\n", LL(h->id),
          LLU(h->handle), lbl("heap_usage", (int)h->usage, a, sizeof a), LL(h->device), LLU(h->addr),
          LLU(h->size), esc(h->name));
  return 0;
}

static int print_header(FILE *f, mt_trace *t)
{
  mt_process_info p;
  if (mt_trace_process(t, &p) != MT_OK)
    return sql_error(t);
  fprintf(f, "# memtrace trace %s (schema %d, %s)\n", esc(mt_trace_path(t)), mt_trace_version(t), esc(p.producer));
  fprintf(f, "# run %s rank %d/%d local_rank %d host %s pid %lld ppid %lld\n", esc(p.run_id), p.rank,
          p.world_size, p.local_rank, esc(p.host), (long long)p.pid, (long long)p.ppid);
  fprintf(f, "# command: %s\n", esc(p.command_line));
  fprintf(f, "# clock monotonic start_ns %lld wall_offset_ns %lld; ", (long long)p.start_ns,
          (long long)p.wall_offset_ns);
  if (p.end_ns >= 0)
    fprintf(f, "end %lld ns\n", (long long)p.end_ns);
  else
    fprintf(f, "INCOMPLETE: the process did not close its trace (killed?)\n");
  fprintf(f, "# stacks %s, cupti %s\n", esc(p.stacks), esc(p.cupti));
  if (mt_read_devices(t, h_device, f) != MT_OK || mt_read_comms(t, h_comm, f) != MT_OK ||
      mt_read_heaps(t, h_heap, f) != MT_OK)
    return sql_error(t);
  return MT_EXIT_OK;
}

struct drops { FILE *f; long long total; };

static int h_drop(void *ctx, const mt_drop_row *d)
{
  struct drops *x = ctx;
  fprintf(x->f, "# dropped %s: %lld%s%s\n", esc(d->kind), LL(d->count), d->reason && *d->reason ? " — " : "",
          esc(d->reason ? d->reason : ""));
  x->total += d->count;
  return 0;
}

static int print_drops(FILE *f, mt_trace *t)
{
  struct drops x = { f, 0 };
  if (mt_read_drops(t, h_drop, &x) != MT_OK)
    return sql_error(t);
  fprintf(f, "# dropped events: %lld\n", x.total);
  return MT_EXIT_OK;
}

static int dump(mt_trace *t, int only, int header)
{
  FILE *f = stdout;
  int rc = MT_EXIT_OK;
  if (header && (rc = print_header(f, t)) != MT_EXIT_OK)
    return rc;
  mt_cursor *c;
  if (mt_cursor_open(t, only >= 0 ? MT_TAB_BIT(only) : MT_TAB_ALL, &c) != MT_OK)
    return sql_error(t);
  mt_row r;
  int s;
  while ((s = mt_cursor_next(c, &r)) == 1) {
    fprintf(f, "%14lld ", LL(r.ts));
    printers[r.table](f, &r);
  }
  mt_cursor_close(c);
  if (s < 0)
    rc = sql_error(t);
  else if (header)
    rc = print_drops(f, t);
  if (rc == MT_EXIT_OK && (fflush(f) != 0 || ferror(f))) {
    mt_errorf("dump: cannot write output");
    rc = MT_EXIT_FAIL;
  }
  return rc;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "table", required_argument, NULL, 't' },
    { "no-header", no_argument, NULL, 'H' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *only = NULL;
  int header = 1, c, table = -1;
  opterr = 0;
  optind = 0;   /* 0: glibc re-initialises, so options may follow operands (GNU order) */
  while ((c = getopt_long(argc, argv, "t:Hh", opts, NULL)) != -1) {
    switch (c) {
    case 't': only = optarg; break;
    case 'H': header = 0; break;
    case 'h': fputs(mt_cmd_dump.usage, stdout); return MT_EXIT_OK;
    default: return mt_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (only && (table = mt_table_by_name(only)) < 0)
    return mt_usage_error("dump", "no event table '%s'", only);
  if (optind != argc - 1)
    return mt_usage_error("dump", optind == argc ? "no trace file given" : "one trace file at a time");
  mt_trace *t;
  mt_error err = { 0 };
  if (mt_trace_open(argv[optind], MT_OPEN_READ, &t, &err) != MT_OK) {
    mt_errorf("%s", err.msg);
    return MT_EXIT_USAGE;
  }
  int rc = dump(t, table, header);
  mt_trace_close(t);
  return rc;
}

const mt_cmd mt_cmd_dump = {
  "dump", "print a trace's content as text, in time order",
  "Usage: memtrace dump [OPTIONS] TRACE\n"
  "\n"
  "Prints the trace's process record, devices, communicators and heaps, then\n"
  "every event in time order, one per line: time in ns since the trace\n"
  "started, the kind of event and its fields; finally the drop counters.\n"
  "\n"
  "Options:\n"
  "  -t, --table NAME   only the events of one table (mem_events, region_events,\n"
  "                     kernels, memcpys, nccl_calls, ranges, api_calls, ooms,\n"
  "                     gpu_memory)\n"
  "  -H, --no-header    events only\n"
  "  -h, --help         this text\n"
  "\n"
  "Exit status: 0 on success, 2 if TRACE is not a readable memtrace trace\n"
  "(the message names the file and the problem).\n",
  run,
};
