/* libmemtrace-trace: the small writer/reader library over the trace schema.
 *
 * A trace is one SQLite file per traced process (schemas/README.md lists
 * every table and column).  The collector, the importers, the analyzer and
 * the tests all go through this API, so the format has one owner.
 *
 * Conventions: functions return MT_OK (0) or a negative MT_E* code and, when
 * given an mt_error, fill it with a one-line message that names the file.
 * An mt_trace is not thread-safe: one thread writes it (the collector's drain
 * thread), or one reader uses it at a time. */
#ifndef MT_TRACE_H
#define MT_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "schemas/enums.h"

#define MT_SCHEMA_VERSION 2

enum {
  MT_OK = 0,
  MT_EIO = -1,        /* cannot open, read or write the file */
  MT_ENOTTRACE = -2,  /* not a SQLite file, or SQLite without memtrace tables */
  MT_ENEWER = -3,     /* written by a newer memtrace */
  MT_EOLDER = -4,     /* older schema; mt_trace_upgrade() can bring it forward */
  MT_ECORRUPT = -5,   /* truncated or damaged */
  MT_EINVAL = -6,     /* bad argument */
  MT_ESQL = -7,       /* unexpected SQLite failure */
  MT_ENOMEM = -8,
};

typedef struct mt_error {
  int code;
  char msg[512];
} mt_error;

typedef struct mt_trace mt_trace;

/* What a trace records about its process (table `process`). */
typedef struct mt_process_info {
  char run_id[64];
  int rank, local_rank, world_size;
  char host[256];
  int64_t pid, ppid;
  const char *command_line;   /* borrowed */
  int64_t start_ns;           /* CLOCK_MONOTONIC, absolute */
  int64_t wall_offset_ns;     /* CLOCK_REALTIME - CLOCK_MONOTONIC */
  int64_t end_ns;             /* relative; -1 while open / when unknown */
  const char *producer;       /* borrowed; "memtrace-collector 0.1.0" */
  const char *stacks;         /* borrowed; "none", "native", ... */
  const char *cupti;          /* borrowed; "active", "unavailable", "disabled" */
} mt_process_info;

/* Event records, one per table.  Times are ns relative to start_ns. */
typedef struct mt_mem_event {
  int64_t ts, dur;
  int op, api, kind, device;
  int64_t stream;
  uint64_t addr, size;
  int64_t thread, stack;
  int result;
  int context;               /* enum mt_alloc_context */
} mt_mem_event;

typedef struct mt_region_event {
  int64_t ts;
  int op;
  int64_t heap;
  uint64_t addr, size;
  int64_t stream, thread, stack;
  int64_t label_id;          /* 0 = none */
} mt_region_event;

typedef struct mt_heap_info {
  int64_t id;                /* assigned by the caller, >= 1 */
  uint64_t handle;
  int64_t domain_id, name_id;
  int usage, device;
  uint64_t addr, size;
  int64_t created, destroyed; /* destroyed < 0: still alive */
} mt_heap_info;

typedef struct mt_kernel_event {
  int64_t ts, dur;
  int api;
  int64_t name_id;
  int device;
  int64_t stream;
  uint32_t grid[3], block[3];
  uint32_t smem;
  int64_t thread, stack;
  int64_t correlation;
  int64_t gpu_start, gpu_end;  /* < 0: unknown */
} mt_kernel_event;

typedef struct mt_memcpy_event {
  int64_t ts, dur;
  int api, kind;
  uint64_t bytes, dst, src;
  int device;
  int64_t stream, thread, stack, correlation;
  int64_t gpu_start, gpu_end;
} mt_memcpy_event;

typedef struct mt_comm_info {
  int64_t id;                /* >= 1 */
  uint64_t handle;
  char unique_id[72];        /* hex, "" if unknown */
  int nranks, rank, device;
  int64_t created, destroyed;
} mt_comm_info;

typedef struct mt_nccl_event {
  int64_t ts, dur;
  int op;
  int64_t comm;
  uint64_t count;
  int dtype;
  uint64_t bytes;
  int peer;
  int64_t stream, thread, stack, correlation;
  int64_t gpu_start, gpu_end;
} mt_nccl_event;

typedef struct mt_range_event {
  int64_t ts, te;            /* te < 0: never closed */
  int kind;
  int64_t domain_id, name_id;
  int depth;
  int64_t thread;
  int category;
} mt_range_event;

typedef struct mt_api_event {
  int64_t ts, dur;
  int api;
  int64_t stream, thread;
  int result;
} mt_api_event;

typedef struct mt_oom_event {
  int64_t ts;
  int device, api, source;
  uint64_t requested;
  int64_t free_bytes, total_bytes;  /* < 0: unknown */
  int64_t thread, stack;
} mt_oom_event;

typedef struct mt_gpu_memory_event {
  int64_t ts;
  int op, kind, device;
  int64_t stream;
  uint64_t addr, size;
  int64_t pool_addr;         /* < 0: none */
  int64_t correlation;
} mt_gpu_memory_event;

/* ---- writing ---------------------------------------------------------- */

/* Creates a new trace at `path` (which must not exist), applies every
 * migration and writes the process row.  The file is created under a
 * temporary name and renamed into place, so a failed create leaves nothing.
 * Returns MT_OK and sets *out (caller closes), or an error. */
int mt_trace_create(const char *path, const mt_process_info *info,
                    mt_trace **out, mt_error *err);

/* Batching: the writer collects rows in one transaction between begin and
 * commit.  Events written outside begin/commit autocommit (slow). */
int mt_trace_begin(mt_trace *t);
int mt_trace_commit(mt_trace *t);

/* Interns a string; returns its id (>= 1), or 0 on failure/NULL input.
 * Ids are stable for the life of the file. */
int64_t mt_trace_intern(mt_trace *t, const char *s);

int mt_trace_put_mem(mt_trace *t, const mt_mem_event *e);
int mt_trace_put_region(mt_trace *t, const mt_region_event *e);
int mt_trace_put_heap(mt_trace *t, const mt_heap_info *h);     /* insert or replace */
int mt_trace_put_kernel(mt_trace *t, const mt_kernel_event *e);
int mt_trace_put_memcpy(mt_trace *t, const mt_memcpy_event *e);
int mt_trace_put_comm(mt_trace *t, const mt_comm_info *c);     /* insert or replace */
int mt_trace_put_nccl(mt_trace *t, const mt_nccl_event *e);
int mt_trace_put_range(mt_trace *t, const mt_range_event *e);
int mt_trace_put_api(mt_trace *t, const mt_api_event *e);
int mt_trace_put_oom(mt_trace *t, const mt_oom_event *e);
int mt_trace_put_gpu_memory(mt_trace *t, const mt_gpu_memory_event *e);
int mt_trace_put_device(mt_trace *t, int id, const char *name, uint64_t total_bytes,
                        int cc_major, int cc_minor, const char *uuid);
int mt_trace_put_thread(mt_trace *t, int64_t id, int64_t tid, const char *name);
int mt_trace_put_stream(mt_trace *t, int64_t id, int device, uint64_t handle,
                        int priority, int flags, int64_t created);
int mt_trace_put_module(mt_trace *t, int64_t id, const char *path, uint64_t base,
                        uint64_t size, const char *build_id);
int mt_trace_put_frame(mt_trace *t, int64_t id, int64_t parent, uint64_t pc,
                       int64_t module, const char *symbol);
int mt_trace_put_meta(mt_trace *t, const char *key, const char *value);
/* Rewrites the process row's rank and world size (a rank learnt after the
 * trace was created: torch.distributed, an NCCL communicator) and records
 * where it came from in meta `rank.source`.  In the open transaction. */
int mt_trace_set_rank(mt_trace *t, int rank, int world_size, const char *source);
/* Adds `count` to the drop counter of `kind`. */
int mt_trace_add_drops(mt_trace *t, const char *kind, int64_t count, const char *reason);

/* Marks the trace complete (process.end_ns) and builds the analysis
 * indexes.  Call once, after the last event. */
int mt_trace_finalize(mt_trace *t, int64_t end_ns);

/* ---- reading ---------------------------------------------------------- */

enum { MT_OPEN_READ = 0, MT_OPEN_WRITE = 1 };

/* Opens an existing trace after checking that it is one: a SQLite file
 * (not truncated), with memtrace tables and a schema version this build
 * understands.  MT_EOLDER is returned (and nothing opened) for older
 * traces unless `flags` is MT_OPEN_WRITE, which upgrades them in place.
 * On success *out must be closed by the caller. */
int mt_trace_open(const char *path, int flags, mt_trace **out, mt_error *err);

/* Applies the missing migrations to an older trace, in one transaction. */
int mt_trace_upgrade(const char *path, int *from_version, mt_error *err);

/* The schema version stored in the file (PRAGMA user_version). */
int mt_trace_version(mt_trace *t);

/* Reads the process row.  String fields point into `t` and stay valid
 * until the next call or close. */
int mt_trace_process(mt_trace *t, mt_process_info *out);

/* The underlying connection, for SQL queries by the analyzer.  Owned by t. */
sqlite3 *mt_trace_db(mt_trace *t);
const char *mt_trace_path(mt_trace *t);

/* Builds the analysis indexes if they are missing (idempotent; needs a
 * writable trace; a read-only one is analysed without them). */
int mt_trace_ensure_indexes(mt_trace *t);

void mt_trace_close(mt_trace *t);

/* Formats a SQLite/system failure into err with the file name. */
void mt_error_set(mt_error *err, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* The migrations compiled into this build (schemas/NNNN-*.sql). */
typedef struct mt_migration {
  int version;
  const char *name;
  const char *sql;
} mt_migration;
extern const mt_migration mt_migrations[];
extern const int mt_migration_count;

#endif
