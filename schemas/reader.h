/* The typed reader over the trace format: what a command, an exporter or the
 * viewer reads, so that none of them holds SQL of its own.  Rows come back
 * in the structs the writer takes (schemas/trace.h), one cursor per event
 * table or one cursor merging several in time order, with interned strings
 * already resolved.  Borrowed strings stay valid until the next call on the
 * same cursor (or walk).  Errors: MT_ESQL, and mt_trace_errmsg() says why. */
#ifndef MT_READER_H
#define MT_READER_H
#include <stdint.h>
#include "schemas/trace.h"

/* The event tables, in the order a merged cursor breaks time ties. */
typedef enum mt_table {
  MT_TAB_MEM, MT_TAB_REGION, MT_TAB_KERNEL, MT_TAB_MEMCPY, MT_TAB_NCCL, MT_TAB_RANGE, MT_TAB_API,
  MT_TAB_OOM, MT_TAB_GPU_MEMORY, MT_TAB_COUNT
} mt_table;
#define MT_TAB_BIT(t) (1u << (t))
#define MT_TAB_ALL ((1u << MT_TAB_COUNT) - 1)

/* "mem_events", "region_events", "kernels", ...: the SQL table's name. */
const char *mt_table_name(mt_table t);
/* The table called `name`, or -1. */
int mt_table_by_name(const char *name);

/* One event row.  ts is the row's time; the union member named by `table`
 * holds its columns (unknown times and sizes < 0, as the writer takes them;
 * a range never closed has te < 0).  `name`: a kernel's (mangled) name, a
 * range's name, a region's label; `domain`: a range's domain; "" when none. */
typedef struct mt_row {
  mt_table table;
  int64_t ts;
  const char *name, *domain;
  union {
    mt_mem_event mem;
    mt_region_event region;
    mt_kernel_event kernel;
    mt_memcpy_event memcpy;
    mt_nccl_event nccl;
    mt_range_event range;
    mt_api_event api;
    mt_oom_event oom;
    mt_gpu_memory_event gpu_memory;
  } u;
} mt_row;

typedef struct mt_cursor mt_cursor;
/* A cursor over the tables in `tables` (MT_TAB_BIT()s), each in (ts, insert
 * order), merged by ts; equal times come in mt_table order.  MT_OK. */
int mt_cursor_open(mt_trace *t, unsigned tables, mt_cursor **out);
/* 1: *row holds the next row; 0: no more; MT_ESQL: the trace is damaged. */
int mt_cursor_next(mt_cursor *c, mt_row *row);
void mt_cursor_close(mt_cursor *c);

/* ---- the small tables, in id (drops: kind) order ------------------------ */
typedef struct mt_device_row {
  int64_t id;
  const char *name, *uuid;           /* "" when unknown */
  uint64_t total_bytes;
  int64_t cc_major, cc_minor;
} mt_device_row;

typedef struct mt_comm_row {
  int64_t id;
  uint64_t handle;
  const char *unique_id;             /* "" when unknown */
  int64_t nranks, rank, device, created, destroyed; /* destroyed < 0: alive */
} mt_comm_row;

typedef struct mt_heap_row {
  int64_t id;
  uint64_t handle;
  int64_t usage, device;
  uint64_t addr, size;
  const char *name;                  /* "" when none */
  int64_t created, destroyed;        /* destroyed < 0: alive */
} mt_heap_row;

typedef struct mt_drop_row {
  const char *kind, *reason;         /* reason NULL when none */
  int64_t count;
} mt_drop_row;

/* Each calls fn once per row, stopping at fn's first non-zero return (which
 * it returns); MT_OK at the end, MT_ESQL on damage. */
int mt_read_devices(mt_trace *t, int (*fn)(void *ctx, const mt_device_row *r), void *ctx);
int mt_read_comms(mt_trace *t, int (*fn)(void *ctx, const mt_comm_row *r), void *ctx);
int mt_read_heaps(mt_trace *t, int (*fn)(void *ctx, const mt_heap_row *r), void *ctx);
int mt_read_drops(mt_trace *t, int (*fn)(void *ctx, const mt_drop_row *r), void *ctx);
/* meta's value for `key` copied into buf ("" when absent or NULL): 1 found,
 * 0 not.  _int: the value as SQLite reads a number from text (0 absent). */
int mt_read_meta(mt_trace *t, const char *key, char *buf, size_t len);
int64_t mt_read_meta_int(mt_trace *t, const char *key);

/* Row counts, for summaries (memtrace info), counted by SQLite without
 * reading the rows out.  mem: codes outside 1..MT_CODES-1 are counted at 0. */
#define MT_CODES 16
typedef struct mt_trace_counts {
  int64_t rows[MT_TAB_COUNT];             /* all rows of each event table */
  int64_t mem[MT_CODES][MT_CODES][2];     /* mem_events by op, kind, and result == 0 */
  int64_t heaps, heaps_destroyed;
  int64_t dropped;                        /* drops.count summed */
} mt_trace_counts;
int mt_read_counts(mt_trace *t, mt_trace_counts *c);
/* Rows of `table` whose code (op; ranges: kind) is `code`; -1 on damage or
 * for a table without one (kernels, memcpys, api_calls, ooms). */
int64_t mt_count_code(mt_trace *t, mt_table table, int code);

/* ---- stacks ------------------------------------------------------------- */
typedef struct mt_frame_row {
  int64_t id, parent;                /* parent 0: outermost */
  uint64_t pc;                       /* 0 for Python frames */
  int64_t module;
  const char *symbol;                /* NULL until symbolised */
} mt_frame_row;

/* Calls fn for the frames of `stack`, innermost first, at most max_frames,
 * stopping at a missing frame or fn's first non-zero return (returned).
 * The one place a stack id becomes frames. */
int mt_stack_walk(mt_trace *t, int64_t stack, int max_frames,
                  int (*fn)(void *ctx, const mt_frame_row *f), void *ctx);
/* The stack as text, one "  symbol\n" (or "  0x<pc>\n") line per frame,
 * innermost first; malloc'd ("" for none), NULL when out of memory. */
char *mt_stack_text(mt_trace *t, int64_t stack, int max_frames);

/* Why the last call on t failed (SQLite's message). */
const char *mt_trace_errmsg(mt_trace *t);
#endif
