/* libmemtrace-trace reader side: recognising a trace, refusing what is not
 * one with a message that names the file, and upgrading older schemas. */
#include "config.h"
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "schemas/trace_internal.h"

mt_trace *mt__trace_new(const char *path);
int mt__trace_load_strings(mt_trace *t);
int mt__writer_pragmas(sqlite3 *db);

static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int mt__check_file(const char *path, mt_error *err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    return MT_EIO;
  }
  struct stat sb;
  unsigned char h[100];
  ssize_t n = 0;
  if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    close(fd);
    mt_error_set(err, MT_EINVAL, "%s: is a directory, not a trace file", path);
    return MT_EINVAL;
  }
  if (sb.st_size > 0)
    n = read(fd, h, sizeof h);
  close(fd);
  if (sb.st_size == 0) {
    mt_error_set(err, MT_ENOTTRACE, "%s: empty file, not a memtrace trace", path);
    return MT_ENOTTRACE;
  }
  if (n < (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16) != 0) {
    mt_error_set(err, MT_ENOTTRACE, "%s: not a memtrace trace (not an SQLite database)", path);
    return MT_ENOTTRACE;
  }
  uint64_t page = be16(h + 16);
  if (page == 1)
    page = 65536;
  if (page < 512 || (page & (page - 1))) {
    mt_error_set(err, MT_ECORRUPT, "%s: damaged (bad page size %llu in header)", path,
                 (unsigned long long)page);
    return MT_ECORRUPT;
  }
  uint64_t pages = be32(h + 28);
  /* A process killed during a WAL checkpoint leaves the file shorter than
     its new header says while the WAL still holds every page: SQLite
     recovers that, so the size is only checked without a WAL beside it. */
  char wal[4096];
  struct stat wb;
  int has_wal = snprintf(wal, sizeof wal, "%s-wal", path) < (int)sizeof wal && stat(wal, &wb) == 0 &&
                wb.st_size > 0;
  /* the in-header size is valid only when it was written with the header */
  if (!has_wal && pages && be32(h + 92) == be32(h + 24) && (uint64_t)sb.st_size < pages * page) {
    mt_error_set(err, MT_ECORRUPT,
                 "%s: truncated trace (file has %lld bytes, its header says %llu)", path,
                 (long long)sb.st_size, (unsigned long long)(pages * page));
    return MT_ECORRUPT;
  }
  if (!has_wal && (uint64_t)sb.st_size % page) {
    mt_error_set(err, MT_ECORRUPT, "%s: truncated trace (%lld bytes is not a whole number of %llu-byte pages)",
                 path, (long long)sb.st_size, (unsigned long long)page);
    return MT_ECORRUPT;
  }
  return MT_OK;
}

static int read_version(sqlite3 *db, int *version)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? MT_OK : MT_ESQL;
}

/* 1 if the table exists, 0 if not, -1 if SQLite could not say (busy, I/O). */
static int has_table(sqlite3 *db, const char *name)
{
  sqlite3_stmt *st;
  int found = -1;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
  }
  return found;
}

/* ---- damage ------------------------------------------------------------ */

/* SQLite reports every corruption it meets through its log (one call per
 * SQLITE_CORRUPT_BKPT), also where the failing statement's caller only
 * looked for SQLITE_ROW: counting them is what keeps a damaged page from
 * passing for the end of a table. */
static atomic_ulong damage_seen;
static char damage_msg[256];

static void on_sqlite_log(void *arg, int code, const char *msg)
{
  (void)arg;
  if ((code & 0xff) != SQLITE_CORRUPT)
    return;
  if (atomic_fetch_add(&damage_seen, 1) == 0)
    snprintf(damage_msg, sizeof damage_msg, "%s", msg ? msg : "");
}

int mt_trace_watch_damage(void)
{
  return sqlite3_config(SQLITE_CONFIG_LOG, on_sqlite_log, NULL) == SQLITE_OK ? MT_OK : MT_ESQL;
}

unsigned long mt_trace_damage_seen(char *msg, size_t len)
{
  unsigned long n = atomic_load(&damage_seen);
  if (msg && len)
    snprintf(msg, len, "%s", n ? "SQLite found the file malformed" : "");
  return n;
}

/* The small tables every reader looks rows up in (strings, frames, heaps...):
 * SQLite checks their b-trees (PRAGMA quick_check) when the trace is
 * opened.  The event tables are not checked here: every analysis reads
 * them whole, and a damaged page there is reported as it is met (above). */
static const char *const ref_tables[] = {
  "process", "meta", "strings", "enum_labels", "devices", "threads", "streams", "modules", "frames",
  "heaps", "kernel_configs", "communicators", "drops",
};

/* The event tables and their time columns. */
static const char *const timed_tables[] = {
  "mem_events", "region_events", "ranges", "nccl_calls", "kernel_launches", "memcpys", "api_calls", "ooms",
  "gpu_memory",
};

/* One integer from a query, or an error code (a query on a damaged page). */
static int query_i64(sqlite3 *db, const char *sql, int64_t *v, int *is_null)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return sqlite3_extended_errcode(db);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *is_null = sqlite3_column_type(st, 0) == SQLITE_NULL;
    *v = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

#define DAMAGED(...) (mt_error_set(err, MT_ECORRUPT, __VA_ARGS__), MT_ECORRUPT)

/* What the readers rely on and SQLite cannot know: the process row's times,
 * the heaps' extents, and every event table's time range (from the time
 * indexes: O(log n) each), within MT_TIME_LIMIT / MT_SIZE_LIMIT.  The rows
 * in between are checked by the walk that reads them (analyzer/lib).
 * Cost: docs/PERFORMANCE.md ("Checking a trace when it is opened"). */
static int validate(sqlite3 *db, const char *path, mt_error *err)
{
  char sql[512];
  int64_t v;
  int null = 0, rc;
  for (size_t i = 0; i < sizeof ref_tables / sizeof *ref_tables; i++) {
    if (has_table(db, ref_tables[i]) != 1)
      continue;
    snprintf(sql, sizeof sql, "PRAGMA quick_check(%s)", ref_tables[i]);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
      return DAMAGED("%s: damaged: %s", path, sqlite3_errmsg(db));
    rc = sqlite3_step(st);
    char what[200] = "";
    if (rc == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      if (t && strcmp(t, "ok") != 0)
        snprintf(what, sizeof what, "%s", t);
    } else {
      snprintf(what, sizeof what, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    for (char *c = what; *c; c++)
      if (*c == '\n')
        *c = ' ';
    if (*what)
      return DAMAGED("%s: damaged: table %s: %s", path, ref_tables[i], what);
  }
  /* process times: absolute start and wall offset are added to relative
     times when printed */
  static const struct { const char *sql, *what; int64_t lo, hi; int null_ok; } proc[] = {
    { "SELECT start_ns FROM process", "process.start_ns", -((int64_t)1 << 62), (int64_t)1 << 62, 0 },
    { "SELECT wall_offset_ns FROM process", "process.wall_offset_ns", -((int64_t)1 << 62), (int64_t)1 << 62, 0 },
    { "SELECT end_ns FROM process", "process.end_ns", 0, MT_TIME_LIMIT, 1 },
    /* importers describe an unbounded pool as one heap of 2^62 - 1 bytes
       (import_kineto.c); the walk checks that no extent wraps */
    { "SELECT max(abs(size)) FROM heaps", "heaps.size", 0, (int64_t)1 << 62, 1 },
    { "SELECT max(abs(created)) FROM heaps", "heaps.created", 0, MT_TIME_LIMIT, 1 },
    { "SELECT max(abs(destroyed)) FROM heaps", "heaps.destroyed", 0, MT_TIME_LIMIT, 1 },
  };
  for (size_t i = 0; i < sizeof proc / sizeof *proc; i++) {
    if ((rc = query_i64(db, proc[i].sql, &v, &null)) != SQLITE_OK && rc != SQLITE_DONE) {
      if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_ERROR)
        return DAMAGED("%s: damaged: %s: %s", path, proc[i].what, sqlite3_errmsg(db));
      mt_error_set(err, MT_EIO, "%s: cannot read: %s", path, sqlite3_errmsg(db));
      return MT_EIO;
    }
    if (rc == SQLITE_DONE || (null && proc[i].null_ok))
      continue;
    if (null || v < proc[i].lo || v > proc[i].hi)
      return DAMAGED("%s: damaged: %s is %lld, outside [%lld, %lld]", path, proc[i].what, (long long)v,
                     (long long)proc[i].lo, (long long)proc[i].hi);
  }
  for (size_t i = 0; i < sizeof timed_tables / sizeof *timed_tables; i++) {
    if (has_table(db, timed_tables[i]) != 1)
      continue;
    for (int m = 0; m < 2; m++) {
      snprintf(sql, sizeof sql, "SELECT %s(ts) FROM %s", m ? "max" : "min", timed_tables[i]);
      if ((rc = query_i64(db, sql, &v, &null)) != SQLITE_OK)
        return DAMAGED("%s: damaged: %s: %s", path, timed_tables[i], sqlite3_errmsg(db));
      if (!null && (v < -MT_TIME_LIMIT || v > MT_TIME_LIMIT))
        return DAMAGED("%s: damaged: %s.ts holds %lld ns, outside the +-%lld ns a trace can span", path,
                       timed_tables[i], (long long)v, (long long)MT_TIME_LIMIT);
    }
  }
  return MT_OK;
}

static int classify_sqlite_error(sqlite3 *db, int rc)
{
  (void)db;
  rc &= 0xff;
  if (rc == SQLITE_NOTADB)
    return MT_ENOTTRACE;
  if (rc == SQLITE_CORRUPT)
    return MT_ECORRUPT;
  return MT_ESQL;
}

static int open_checked(const char *path, int flags, sqlite3 **out, int *version, mt_error *err)
{
  int rc = mt__check_file(path, err);
  if (rc != MT_OK)
    return rc;
  sqlite3 *db = NULL;
  int oflags = flags == MT_OPEN_WRITE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  /* one thread uses a connection at a time (trace.h): no per-call locking */
  if (sqlite3_open_v2(path, &db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return MT_EIO;
  }
  /* another process (or a first analysis building its index) may hold a
     write lock for a moment: wait for it rather than misreport the file */
  sqlite3_busy_timeout(db, 10000);
  if (read_version(db, version) != MT_OK) {
    int code = classify_sqlite_error(db, sqlite3_extended_errcode(db));
    mt_error_set(err, code, "%s: %s: %s", path,
                 code == MT_ENOTTRACE ? "not a memtrace trace" : code == MT_ECORRUPT ? "damaged" : "cannot read",
                 sqlite3_errmsg(db));
    sqlite3_close(db);
    return code;
  }
  int has_process = *version == 0 ? 0 : has_table(db, "process");
  if (has_process < 0) {
    int code = classify_sqlite_error(db, sqlite3_extended_errcode(db));
    code = code == MT_ECORRUPT ? code : MT_EIO;
    mt_error_set(err, code, "%s: %s: %s", path, code == MT_ECORRUPT ? "damaged" : "cannot read",
                 sqlite3_errmsg(db));
    sqlite3_close(db);
    return code;
  }
  if (!has_process) {
    mt_error_set(err, MT_ENOTTRACE, "%s: not a memtrace trace (an SQLite database without memtrace tables)", path);
    sqlite3_close(db);
    return MT_ENOTTRACE;
  }
  if (*version > MT_SCHEMA_VERSION) {
    mt_error_set(err, MT_ENEWER,
                 "%s: written by a newer memtrace (schema version %d; this build reads up to %d): upgrade memtrace",
                 path, *version, MT_SCHEMA_VERSION);
    sqlite3_close(db);
    return MT_ENEWER;
  }
  *out = db;
  return MT_OK;
}

int mt_trace_upgrade(const char *path, int *from_version, mt_error *err)
{
  sqlite3 *db;
  int version = 0;
  int rc = open_checked(path, MT_OPEN_WRITE, &db, &version, err);
  if (rc != MT_OK)
    return rc;
  if (from_version)
    *from_version = version;
  if (version == MT_SCHEMA_VERSION) {
    sqlite3_close(db);
    return MT_OK;
  }
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_EIO, "%s: cannot upgrade: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return MT_EIO;
  }
  rc = mt__apply_migrations(db, version, path, err);
  if (rc == MT_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    mt_error_set(err, MT_ESQL, "%s: cannot upgrade: %s", path, sqlite3_errmsg(db));
    rc = MT_ESQL;
  }
  if (rc != MT_OK)
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
}

/* The first analysis of a finished trace builds the index the writer left
 * out (trace.c: mt__analysis_index_sql), through a short-lived writable
 * connection.  A trace still being written (no end time), or one we may not
 * write, is left alone and read without it. */
static void build_analysis_index(const char *path, sqlite3 *ro)
{
  sqlite3_stmt *st;
  int finished = 0, indexed = 1;
  if (sqlite3_prepare_v2(ro, "SELECT (SELECT end_ns IS NOT NULL FROM process), "
                             "EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'kernel_launches_by_ts')",
                         -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) {
      finished = sqlite3_column_int(st, 0);
      indexed = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
  }
  if (!finished || indexed || access(path, W_OK) != 0)
    return;
  /* In WAL mode readers are not blocked while the index is built; without
     WAL (a finished trace), other readers wait on their busy timeout. */
  sqlite3 *rw = NULL;
  if (sqlite3_open_v2(path, &rw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(rw, 2000);
    sqlite3_exec(rw, mt__analysis_index_sql, NULL, NULL, NULL);
  }
  sqlite3_close(rw);
}

int mt_trace_open(const char *path, int flags, mt_trace **out, mt_error *err)
{
  *out = NULL;
  sqlite3 *db;
  int version = 0;
  int rc = open_checked(path, flags, &db, &version, err);
  if (rc != MT_OK)
    return rc;
  if (version < MT_SCHEMA_VERSION) {
    sqlite3_close(db);
    if (flags != MT_OPEN_WRITE) {
      mt_error_set(err, MT_EOLDER,
                   "%s: trace schema version %d is older than this memtrace's (%d): run 'memtrace upgrade %s'",
                   path, version, MT_SCHEMA_VERSION, path);
      return MT_EOLDER;
    }
    if ((rc = mt_trace_upgrade(path, NULL, err)) != MT_OK)
      return rc;
    if ((rc = open_checked(path, flags, &db, &version, err)) != MT_OK)
      return rc;
  }
  if (flags == MT_OPEN_READ) {
    build_analysis_index(path, db);
    if ((rc = validate(db, path, err)) != MT_OK) {
      sqlite3_close(db);
      return rc;
    }
  }
  mt_trace *t = mt__trace_new(path);
  if (!t) {
    sqlite3_close(db);
    return MT_ENOMEM;
  }
  t->db = db;
  t->writable = flags == MT_OPEN_WRITE;
  sqlite3_busy_timeout(db, 10000);
  /* A process row must be there: its absence means a create that never finished. */
  sqlite3_stmt *st;
  rc = MT_OK;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM process", -1, &st, NULL) != SQLITE_OK) {
    rc = classify_sqlite_error(db, sqlite3_extended_errcode(db));
  } else {
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW)
      rc = classify_sqlite_error(db, sqlite3_extended_errcode(db));
    else if (sqlite3_column_int(st, 0) != 1)
      rc = MT_ECORRUPT;
    sqlite3_finalize(st);
  }
  if (rc == MT_OK && t->writable && (mt__trace_load_strings(t) != MT_OK || mt__writer_pragmas(db) != SQLITE_OK))
    rc = MT_ESQL;
  if (rc != MT_OK) {
    mt_error_set(err, rc, "%s: damaged: %s", path,
                 rc == MT_ECORRUPT && sqlite3_errcode(db) == SQLITE_OK ? "no process record" : sqlite3_errmsg(db));
    mt_trace_close(t);
    return rc;
  }
  *out = t;
  return MT_OK;
}

int mt_trace_version(mt_trace *t)
{
  int v = -1;
  read_version(t->db, &v);
  return v;
}

int mt_trace_process(mt_trace *t, mt_process_info *p)
{
  memset(p, 0, sizeof *p);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(t->db,
                         "SELECT run_id, rank, local_rank, world_size, host, pid, ppid, command_line, "
                         "start_ns, wall_offset_ns, end_ns, producer, stacks, cupti FROM process",
                         -1, &st, NULL) != SQLITE_OK)
    return MT_ESQL;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return MT_ECORRUPT;
  }
  snprintf(p->run_id, sizeof p->run_id, "%s", (const char *)sqlite3_column_text(st, 0));
  p->rank = sqlite3_column_int(st, 1);
  p->local_rank = sqlite3_column_int(st, 2);
  p->world_size = sqlite3_column_int(st, 3);
  snprintf(p->host, sizeof p->host, "%s", (const char *)sqlite3_column_text(st, 4));
  p->pid = sqlite3_column_int64(st, 5);
  p->ppid = sqlite3_column_int64(st, 6);
  p->start_ns = sqlite3_column_int64(st, 8);
  p->wall_offset_ns = sqlite3_column_int64(st, 9);
  p->end_ns = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 10);
  const int cols[4] = { 7, 11, 12, 13 };
  for (int i = 0; i < 4; i++) {
    free(t->proc_strings[i]);
    const char *s = (const char *)sqlite3_column_text(st, cols[i]);
    t->proc_strings[i] = strdup(s ? s : "");
  }
  sqlite3_finalize(st);
  p->command_line = t->proc_strings[0];
  p->producer = t->proc_strings[1];
  p->stacks = t->proc_strings[2];
  p->cupti = t->proc_strings[3];
  return MT_OK;
}
