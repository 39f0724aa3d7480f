/* libmemtrace-interop: importers of other tools' traces into the memtrace
 * format, and exporters of memtrace traces to other tools' formats.
 *
 * Every importer writes through libmemtrace-trace (schemas/trace.h) only.
 * Inputs are untrusted: sizes, depths and counts are bounded, nothing from
 * a file is ever executed, and errors are one line naming the file.
 * Nothing here is thread-safe across calls sharing an output; separate
 * calls on separate files are independent. */
#ifndef MT_INTEROP_H
#define MT_INTEROP_H

#include <stdint.h>
#include "schemas/trace.h"

typedef enum mt_import_format {
  MT_FMT_AUTO = 0,
  MT_FMT_SNAPSHOT,        /* torch.cuda.memory._dump_snapshot pickle */
  MT_FMT_KINETO,          /* torch.profiler / Kineto Chrome-trace JSON (.gz or not) */
  MT_FMT_MEMTL,           /* torch.profiler export_memory_timeline raw JSON (.gz or not) */
  MT_FMT_NSYS,            /* Nsight Systems SQLite export */
} mt_import_format;

/* "snapshot", "kineto", ... -> format; MT_FMT_AUTO (and -1 return) if unknown. */
int mt_import_format_parse(const char *name, mt_import_format *out);
const char *mt_import_format_name(mt_import_format f);

/* Looks at the first bytes of `path` (decompressed when gzipped) and says
 * which format it is.  Returns MT_OK or an MT_E* code with a message. */
int mt_import_detect(const char *path, mt_import_format *out, mt_error *err);

/* What an import learned that its caller needs (run assembly). */
typedef struct mt_import_result {
  int rank;                 /* rank recorded in the input, or -1 if none */
  int world_size;           /* 0 if unknown */
  int64_t events;           /* rows written to event tables */
} mt_import_result;

/* Imports one input file into a NEW trace at `out_path` (must not exist).
 * On failure the partly written trace is removed and err names `in_path`.
 * `run_id` (may be NULL) is stored in process.run_id. */
int mt_import_file(const char *in_path, mt_import_format fmt, const char *out_path,
                   const char *run_id, mt_import_result *res, mt_error *err);

/* ---- export ------------------------------------------------------------ */

/* Writes a Chrome/Perfetto trace-event JSON file from one or more traces
 * (one process per trace/rank).  `out` is written as given (the caller
 * handles temporary names). */
int mt_export_perfetto(const char *const *traces, int ntraces, const char *out, mt_error *err);

/* How: memory counters thinned to at most 3 samples per series per bucket
 * (min, max, last: peaks exact; 0 buckets = every change), an optional time
 * range in ns from the run's start (the earliest process start), gzip. */
typedef struct mt_perfetto_opts {
  size_t counter_buckets;
  int has_range;
  int64_t range_t0, range_t1;
  int gzip;
} mt_perfetto_opts;
#define MT_PERFETTO_BUCKETS_DEFAULT 20000
#define MT_PERFETTO_OPTS_DEFAULT { .counter_buckets = MT_PERFETTO_BUCKETS_DEFAULT }
int mt_export_perfetto_opts(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                            mt_error *err);
/* The same records as Perfetto's protobuf trace (TracePackets: track
 * descriptors, track events, interned names; export_pftrace.c). */
int mt_export_perfetto_proto(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                             mt_error *err);

/* Writes a PyTorch memory snapshot pickle (plain dicts/lists/str/int,
 * protocol 4) that torch.cuda._memory_viz can render, from one trace. */
int mt_export_torch_snapshot(const char *trace, const char *out, mt_error *err);

/* ---- limits (fuzzing lowers them) ------------------------------------- */
typedef struct mt_interop_limits {
  uint64_t max_input_bytes;     /* decompressed bytes read from one file */
  uint64_t max_object_bytes;    /* one JSON element / pickle working memory */
  int max_depth;                /* JSON nesting */
} mt_interop_limits;
extern mt_interop_limits mt_interop_limits_current;

#endif
