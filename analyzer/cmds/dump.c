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
#include "schemas/trace.h"
#include "analyzer/lib/analysis.h"

/* One time-ordered cursor per event table.  Each SELECT puts ts first and
 * resolves interned strings, so printing needs no further lookups. */
struct cursor {
  const char *table;
  const char *sql;
  void (*print)(FILE *f, sqlite3_stmt *st);
  sqlite3_stmt *st;
  int live;
};

static const char *lbl(const char *e, int v, char *buf, size_t n)
{
  const char *l = mt_enum_label(e, v);
  if (l)
    return l;
  snprintf(buf, n, "%s#%d", e, v);
  return buf;
}

#define COL64(i) ((long long)sqlite3_column_int64(st, (i)))
#define COLU(i) ((unsigned long long)sqlite3_column_int64(st, (i)))
#define COLS(i) esc(sqlite3_column_text(st, (i)) ? (const char *)sqlite3_column_text(st, (i)) : "")

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
#define GPU(i) (sqlite3_column_type(st, (i)) == SQLITE_NULL ? -1LL : COL64(i))

/* GPU-side times exist only with CUPTI: printed when known. */
static void gpu_times(FILE *f, sqlite3_stmt *st, int col)
{
  if (sqlite3_column_type(st, col) != SQLITE_NULL)
    fprintf(f, " gpu=%lld..%lld", (long long)sqlite3_column_int64(st, col),
            (long long)sqlite3_column_int64(st, col + 1));
  fputc('\n', f);
}

static void p_mem(FILE *f, sqlite3_stmt *st)
{
  char a[32], b[32], c[32], d[32];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld addr=0x%llx size=%llu dur=%lld thread=%lld stack=%lld result=%lld",
          lbl("mem_op", (int)COL64(2), a, sizeof a), lbl("api", (int)COL64(3), b, sizeof b),
          lbl("mem_kind", (int)COL64(4), c, sizeof c), COL64(5), COL64(6), COLU(7), COLU(8), COL64(1),
          COL64(9), COL64(10), COL64(11));
  if (COL64(12))
    fprintf(f, " context=%s", lbl("alloc_context", (int)COL64(12), d, sizeof d));
  fputc('\n', f);
}

static void p_region(FILE *f, sqlite3_stmt *st)
{
  char a[32];
  fprintf(f, "%-9s heap=%lld addr=0x%llx size=%llu stream=%lld thread=%lld stack=%lld%s%s\n",
          lbl("region_op", (int)COL64(1), a, sizeof a), COL64(2), COLU(3), COLU(4), COL64(5),
          COL64(6), COL64(7), *COLS(8) ? " label=" : "", COLS(8));
}

static void p_kernel(FILE *f, sqlite3_stmt *st)
{
  char a[32], dm[1024];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld grid=%lldx%lldx%lld block=%lldx%lldx%lld smem=%lld dur=%lld thread=%lld stack=%lld corr=%lld",
          "kernel", lbl("api", (int)COL64(2), a, sizeof a), mt_demangle(COLS(3), dm, sizeof dm), COL64(4), COL64(5), COL64(6),
          COL64(7), COL64(8), COL64(9), COL64(10), COL64(11), COL64(12), COL64(1), COL64(13),
          COL64(14), COL64(15));
  gpu_times(f, st, 16);
}

static void p_memcpy(FILE *f, sqlite3_stmt *st)
{
  char a[32], b[32];
  fprintf(f, "%-9s %s %s bytes=%llu dst=0x%llx src=0x%llx dev=%lld stream=%lld dur=%lld thread=%lld",
          "memcpy", lbl("api", (int)COL64(2), a, sizeof a), lbl("copy_kind", (int)COL64(3), b, sizeof b),
          COLU(4), COLU(5), COLU(6), COL64(7), COL64(8), COL64(1), COL64(9));
  gpu_times(f, st, 12);
}

static void p_nccl(FILE *f, sqlite3_stmt *st)
{
  char a[32];
  fprintf(f, "%-9s %s comm=%lld count=%llu dtype=%lld bytes=%llu peer=%lld stream=%lld dur=%lld thread=%lld",
          "nccl", lbl("nccl_op", (int)COL64(2), a, sizeof a), COL64(3), COLU(4), COL64(5), COLU(6),
          COL64(7), COL64(8), COL64(1), COL64(9));
  gpu_times(f, st, 12);
}

static void p_range(FILE *f, sqlite3_stmt *st)
{
  char a[32];
  if (sqlite3_column_type(st, 1) == SQLITE_NULL)
    fprintf(f, "%-9s %s \"%s\" domain=\"%s\" depth=%lld thread=%lld end=never\n", "range",
            lbl("range_kind", (int)COL64(2), a, sizeof a), COLS(4), COLS(3), COL64(5), COL64(6));
  else
    fprintf(f, "%-9s %s \"%s\" domain=\"%s\" depth=%lld thread=%lld end=%lld\n", "range",
            lbl("range_kind", (int)COL64(2), a, sizeof a), COLS(4), COLS(3), COL64(5), COL64(6), COL64(1));
}

static void p_api(FILE *f, sqlite3_stmt *st)
{
  char a[32];
  fprintf(f, "%-9s %s stream=%lld dur=%lld thread=%lld result=%lld\n", "api",
          lbl("api", (int)COL64(2), a, sizeof a), COL64(3), COL64(1), COL64(4), COL64(5));
}

static void p_oom(FILE *f, sqlite3_stmt *st)
{
  char a[32], b[32];
  fprintf(f, "%-9s %s %s dev=%lld requested=%llu free=%lld total=%lld thread=%lld stack=%lld\n", "oom",
          lbl("oom_source", (int)COL64(3), a, sizeof a), lbl("api", (int)COL64(2), b, sizeof b),
          COL64(1), COLU(4), GPU(5), GPU(6), COL64(7), COL64(8));
}

static void p_gpumem(FILE *f, sqlite3_stmt *st)
{
  char a[32], b[32];
  fprintf(f, "%-9s %s %s dev=%lld stream=%lld addr=0x%llx size=%llu corr=%lld\n", "gpu-mem",
          lbl("mem_op", (int)COL64(1), a, sizeof a), lbl("mem_kind", (int)COL64(2), b, sizeof b),
          COL64(3), COL64(4), COLU(5), COLU(6), COL64(8));
}

#define STR(col) "coalesce((SELECT value FROM strings WHERE id = " col "), '')"
static struct cursor cursors[] = {
  { "mem_events", "SELECT ts, dur, op, api, kind, device, stream, addr, size, thread, stack, result, context "
                  "FROM mem_events ORDER BY ts, rowid", p_mem, NULL, 0 },
  { "region_events", "SELECT ts, op, heap, addr, size, stream, thread, stack, " STR("label_id")
                     " FROM region_events ORDER BY ts, rowid", p_region, NULL, 0 },
  { "kernels", "SELECT ts, dur, api, " STR("name_id") ", device, stream, grid_x, grid_y, grid_z, "
               "block_x, block_y, block_z, smem, thread, stack, correlation, gpu_start, gpu_end "
               "FROM kernels ORDER BY ts, rowid", p_kernel, NULL, 0 },
  { "memcpys", "SELECT ts, dur, api, kind, bytes, dst, src, device, stream, thread, stack, correlation, "
               "gpu_start, gpu_end FROM memcpys ORDER BY ts, rowid", p_memcpy, NULL, 0 },
  { "nccl_calls", "SELECT ts, dur, op, comm, count, dtype, bytes, peer, stream, thread, stack, correlation, "
                  "gpu_start, gpu_end FROM nccl_calls ORDER BY ts, rowid", p_nccl, NULL, 0 },
  { "ranges", "SELECT ts, te, kind, " STR("domain_id") ", " STR("name_id") ", depth, thread, category "
              "FROM ranges ORDER BY ts, rowid", p_range, NULL, 0 },
  { "api_calls", "SELECT ts, dur, api, stream, thread, result FROM api_calls ORDER BY ts, rowid", p_api, NULL, 0 },
  { "ooms", "SELECT ts, device, api, source, requested, free_bytes, total_bytes, thread, stack "
            "FROM ooms ORDER BY ts, rowid", p_oom, NULL, 0 },
  { "gpu_memory", "SELECT ts, op, kind, device, stream, addr, size, pool_addr, correlation "
                  "FROM gpu_memory ORDER BY ts, rowid", p_gpumem, NULL, 0 },
};
#define NCURSORS (sizeof cursors / sizeof cursors[0])

static int sql_error(mt_trace *t)
{
  mt_errorf("%s: damaged: %s", mt_trace_path(t), sqlite3_errmsg(mt_trace_db(t)));
  return MT_EXIT_USAGE;
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

  sqlite3 *db = mt_trace_db(t);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT d.id, s.value, d.total_bytes, d.cc_major, d.cc_minor FROM devices d "
                             "LEFT JOIN strings s ON s.id = d.name_id ORDER BY d.id", -1, &st, NULL) != SQLITE_OK)
    return sql_error(t);
  while (sqlite3_step(st) == SQLITE_ROW) {
    char b[32];
    fprintf(f, "# device %lld \"%s\" %s sm_%lld%lld\n", COL64(0), COLS(1), mt_fmt_bytes(COLU(2), b, sizeof b),
            COL64(3), COL64(4));
  }
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(db, "SELECT id, handle, unique_id, nranks, rank, device FROM communicators ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_error(t);
  while (sqlite3_step(st) == SQLITE_ROW)
    fprintf(f, "# communicator %lld handle 0x%llx id %s rank %lld/%lld device %lld\n", COL64(0), COLU(1),
            COLS(2), COL64(4), COL64(3), COL64(5));
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(db, "SELECT h.id, h.handle, h.usage, h.device, h.addr, h.size, s.value FROM heaps h "
                             "LEFT JOIN strings s ON s.id = h.name_id ORDER BY h.id", -1, &st, NULL) != SQLITE_OK)
    return sql_error(t);
  while (sqlite3_step(st) == SQLITE_ROW) {
    char a[32];
    fprintf(f, "# heap %lld handle 0x%llx %s dev=%lld addr=0x%llx size=%llu name=\"%s\"\n", COL64(0), COLU(1),
            lbl("heap_usage", (int)COL64(2), a, sizeof a), COL64(3), COLU(4), COLU(5), COLS(6));
  }
  sqlite3_finalize(st);
  return MT_EXIT_OK;
}

static int print_drops(FILE *f, mt_trace *t)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(mt_trace_db(t), "SELECT kind, count, coalesce(reason, '') FROM drops ORDER BY kind",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_error(t);
  long long total = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    fprintf(f, "# dropped %s: %lld%s%s\n", COLS(0), COL64(1), *COLS(2) ? " — " : "", COLS(2));
    total += COL64(1);
  }
  sqlite3_finalize(st);
  fprintf(f, "# dropped events: %lld\n", total);
  return MT_EXIT_OK;
}

static int dump(mt_trace *t, const char *only, int header)
{
  FILE *f = stdout;
  int rc = MT_EXIT_OK;
  if (header && (rc = print_header(f, t)) != MT_EXIT_OK)
    return rc;
  sqlite3 *db = mt_trace_db(t);
  for (size_t i = 0; i < NCURSORS; i++) {
    struct cursor *c = &cursors[i];
    c->live = 0;
    c->st = NULL;
    if (only && strcmp(only, c->table) != 0)
      continue;
    if (sqlite3_prepare_v2(db, c->sql, -1, &c->st, NULL) != SQLITE_OK) {
      rc = sql_error(t);
      goto out;
    }
    int s = sqlite3_step(c->st);
    if (s == SQLITE_ROW)
      c->live = 1;
    else if (s != SQLITE_DONE) {
      rc = sql_error(t);
      goto out;
    }
  }
  for (;;) {
    struct cursor *best = NULL;
    for (size_t i = 0; i < NCURSORS; i++)
      if (cursors[i].live && (!best || sqlite3_column_int64(cursors[i].st, 0) < sqlite3_column_int64(best->st, 0)))
        best = &cursors[i];
    if (!best)
      break;
    fprintf(f, "%14lld ", (long long)sqlite3_column_int64(best->st, 0));
    best->print(f, best->st);
    int s = sqlite3_step(best->st);
    if (s == SQLITE_DONE)
      best->live = 0;
    else if (s != SQLITE_ROW) {
      rc = sql_error(t);
      goto out;
    }
  }
  if (header)
    rc = print_drops(f, t);
out:
  for (size_t i = 0; i < NCURSORS; i++) {
    sqlite3_finalize(cursors[i].st);
    cursors[i].st = NULL;
  }
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
  int header = 1, c;
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
  if (only) {
    size_t i;
    for (i = 0; i < NCURSORS && strcmp(only, cursors[i].table) != 0; i++)
      ;
    if (i == NCURSORS)
      return mt_usage_error("dump", "no event table '%s'", only);
  }
  if (optind != argc - 1)
    return mt_usage_error("dump", optind == argc ? "no trace file given" : "one trace file at a time");
  mt_trace *t;
  mt_error err = { 0 };
  if (mt_trace_open(argv[optind], MT_OPEN_READ, &t, &err) != MT_OK) {
    mt_errorf("%s", err.msg);
    return MT_EXIT_USAGE;
  }
  int rc = dump(t, only, header);
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
