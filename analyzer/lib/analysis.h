/* libmemtrace-analysis: what a trace (or a run directory of traces) says
 * about device memory.  Shared by `memtrace report`, `memtrace diff` and the
 * GUI; the rules are documented in analyzer/README.md.
 *
 * Model.  reserved(t) = bytes of live device allocations (mem_events);
 * allocated(t) = bytes of live tensor blocks (region_events inside heaps)
 * + live device allocations not covered by any heap.  The peak is the first
 * instant at which the maximum is reached; "instant" means: after every event
 * with that timestamp.  It is found in two passes over the events in time
 * order: pass 1 keeps sizes only and finds the high-water mark, pass 2 keeps
 * each live allocation's details, rebuilds the live set at the peak and
 * follows those allocations to their frees to categorise them.
 *
 * Memory: the live set (twice, at most), the heaps table and small
 * aggregates; never the whole event stream.
 *
 * Thread-safety: an mt_analysis is built by one thread; once built it is
 * read-only and may be read from several threads.  Distinct analyses may be
 * built concurrently. */
#ifndef MT_ANALYSIS_H
#define MT_ANALYSIS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "schemas/trace.h"

/* Categories of allocated bytes (cache_free is beside them, not inside). */
#define MT_CATEGORY_LIST(X) \
  X(PARAMETER, "parameter") \
  X(GRADIENT, "gradient") \
  X(OPTIMIZER_STATE, "optimizer_state") \
  X(ACTIVATION, "activation") \
  X(TEMPORARY, "temporary") \
  X(WORKSPACE, "workspace") \
  X(COMMUNICATION, "communication") \
  X(INPUT, "input") \
  X(OTHER, "other") \
  X(CACHE_FREE, "cache_free")
#define MT__CAT(n, l) MT_CAT_##n,
enum mt_category { MT_CATEGORY_LIST(MT__CAT) MT_CAT_COUNT };
#undef MT__CAT

/* The rule that put an allocation in its category, in the order tried. */
#define MT_RULE_LIST(X) \
  X(ANNOTATION, "annotation", "label prefix '<category>/' set by the program") \
  X(CALL_SITE, "call_site", "allocated inside NCCL (communication) or cuBLAS/cuDNN (workspace)") \
  X(FWD_BWD, "lifetime_fwd_bwd", "allocated in forward (or recompute), freed in backward of the same step") \
  X(SAME_PHASE, "lifetime_in_step", "allocated and freed inside one step (or one phase outside steps)") \
  X(NAME, "name", "name heuristic on the label or the allocating stack") \
  X(PERSISTENT, "persistent", "alive across steps, unannotated: parameter-like state of unknown kind") \
  X(UNKNOWN, "unknown", "no annotation, no phase information, no recognisable name") \
  X(CACHE, "cache", "reserved by an allocator but holding no tensor") \
  X(LIBRARY_WORKSPACE, "library_workspace", "lent to cuBLAS, cuBLASLt or cuDNN as workspace (tried after annotation)")
#define MT__RULE(n, l, d) MT_RULE_##n,
enum mt_rule { MT_RULE_LIST(MT__RULE) MT_RULE_COUNT };
#undef MT__RULE

/* Names; NULL for out-of-range values.  Pure lookups, thread-safe. */
const char *mt_category_name(int cat);
/* The category's colour, 0xRRGGBB: one palette for the HTML report, SVG and the viewer. */
unsigned mt_category_color(int cat);
int mt_category_from_name(const char *name);   /* -1 when unknown */
const char *mt_rule_name(int rule);
const char *mt_rule_text(int rule);

/* Text from a trace made safe for a terminal: control characters (C0,
 * newline and tab included; DEL; C1, U+0080..U+009F) and bytes that are
 * not UTF-8 are written as \n, \t, \xNN or \u00NN, so that a label cannot
 * move the cursor, restyle or retitle the terminal that shows it.  Every
 * text output (report, dump, info, the viewer's --list-live) goes through
 * this.  mt_text_escape writes into dst (always terminated, truncated to
 * len) and returns it; mt_text_escape_dup returns a malloc'd copy (NULL
 * when out of memory); mt_fputs_escaped writes to f. */
char *mt_text_escape(char *dst, size_t len, const char *s);
char *mt_text_escape_dup(const char *s);
int mt_fputs_escaped(const char *s, FILE *f);

/* Formats bytes the way people write them: binary units ("1.50 GiB",
 * "512 B").  Decimal GB are never printed, so GiB and GB stay distinct. */
const char *mt_size_str(uint64_t bytes, char *buf, size_t len);

/* Parses "45ms", "1.5s", "120us", "300ns" (a bare number is milliseconds).
 * Returns 0 and *ns, or -1 when the text is not a time. */
int mt_parse_time(const char *text, int64_t *ns);

/* Parses "START:END" (two times as above, END after START).  Returns 0, or
 * -1 leaving *t0 and *t1 unspecified. */
int mt_parse_time_range(const char *text, int64_t *t0, int64_t *t1);

/* A C++ kernel name as people read it ("multi_tensor_adam_kernel()" for
 * "_Z24multi_tensor_adam_kernelv"): buf, or name itself when it is not
 * mangled or does not demangle.  Reports in JSON keep the mangled name. */
const char *mt_demangle(const char *name, char *buf, size_t len);

/* One allocation live at a snapshot (a tensor block, or a device allocation
 * no heap covers).  Strings are owned by the analysis. */
typedef struct mt_object {
  int is_tensor;             /* 1: region in a heap, 0: device allocation */
  int device;
  int64_t heap;              /* heaps.id for tensors, 0 otherwise */
  uint64_t addr, size;
  int64_t alloc_ts, free_ts; /* relative ns; free_ts < 0: still live at the end */
  int64_t stream, thread, stack;
  int step, layer;           /* -1 when unknown */
  const char *phase;         /* phase at allocation ("forward", ...), or NULL */
  const char *range;         /* innermost NVTX range at allocation, or NULL */
  const char *label;         /* region label, or NULL */
  const char *where;         /* innermost symbolised frame, or NULL */
  int context;               /* mem_events.context of the device allocation */
  int category, rule;
} mt_object;

/* A heap (allocator segment) live at a snapshot. */
typedef struct mt_segment_frag {
  int64_t heap;
  int device;
  uint64_t addr, size, used, largest_free;
  uint64_t nblocks;
} mt_segment_frag;

typedef struct mt_snapshot {
  int64_t ts;                /* relative ns */
  uint64_t allocated, reserved;
  uint64_t by_category[MT_CAT_COUNT];   /* cache_free = reserved - allocated (>= 0) */
  uint64_t by_rule[MT_RULE_COUNT];      /* bytes decided by each rule */
  size_t nobjects;
  mt_object *objects;        /* sorted by size, largest first */
  size_t nsegments;
  mt_segment_frag *segments; /* by free bytes, largest first */
  uint64_t largest_free_block;
  int step;
  const char *phase, *range;
} mt_snapshot;

typedef struct mt_oom {
  int64_t ts;
  int device, api, source;   /* source: enum mt_oom_source; 0 = failed mem_event */
  uint64_t requested;
  int64_t free_bytes, total_bytes;  /* < 0: unknown */
  int step;                  /* context of the failing call (-1 / NULL unknown) */
  const char *phase, *range;
  mt_snapshot at;            /* state at the failure (if among the first MT_MAX_OOMS) */
  int has_snapshot;
  int matched;               /* internal: an ooms row joined with its failed call */
} mt_oom;
#define MT_MAX_OOMS 4

typedef struct mt_step_peak {
  int step;
  uint64_t allocated, reserved;
  int64_t allocated_ts;
} mt_step_peak;

typedef struct mt_layer_stat {
  int layer;
  uint64_t activation_bytes;  /* activations allocated by this layer in the peak step (else max over steps) */
  uint64_t fwd_kernels, bwd_kernels;
  int64_t fwd_api_ns, bwd_api_ns;    /* launch-call time */
  int64_t fwd_gpu_ns, bwd_gpu_ns;    /* GPU time; < 0 unknown */
} mt_layer_stat;

typedef struct mt_kernel_stat {
  const char *name;
  uint64_t count;
  int64_t api_ns, gpu_ns;     /* gpu_ns < 0: no GPU times */
} mt_kernel_stat;

typedef struct mt_nccl_stat {
  int op;                     /* enum mt_nccl_op */
  uint64_t count, bytes;
  int64_t api_ns, gpu_ns;
} mt_nccl_stat;

/* Allocations aggregated by what names them: label, else allocating frame. */
typedef struct mt_alloc_group {
  const char *key;
  int category, rule;
  uint64_t count, total_bytes, max_size;
  uint64_t peak_bytes;        /* live at the allocated peak */
} mt_alloc_group;

typedef struct mt_device_peak {
  int device;
  uint64_t peak_allocated, peak_reserved;
  int64_t allocated_ts, reserved_ts;
} mt_device_peak;

/* Sampled timeline: sample i is the state at t0 + i*dt. */
typedef struct mt_timeline {
  size_t n;
  int64_t t0, dt;
  uint64_t *allocated, *reserved;         /* samples */
  uint64_t *allocated_max, *reserved_max; /* max over (t_{i-1}, t_i] */
  uint64_t *by_category[MT_CAT_COUNT];    /* samples (cache_free = reserved - allocated) */
} mt_timeline;

typedef struct mt_rank {
  char *path;
  char run_id[64];
  int rank, local_rank, world_size;
  char host[256];
  int64_t pid, start_ns, end_ns;          /* end_ns < 0: never closed */
  char *command_line, *producer, *cupti;
  int incomplete;
  char *incomplete_reason;                /* what is missing, one line */
  uint64_t dropped;                       /* sum of the drops table */
  char *drops_detail;                     /* "kernel 3 (buffer full), ..." or NULL */
  char *import_lacks;                     /* what an importer could not provide (meta import.lacks), or NULL */
  char *gpus;                             /* "NAME (cuda:N, SIZE); ..." from the devices table, or NULL */
  int64_t first_ts, last_ts;

  /* the peaks */
  uint64_t peak_allocated, peak_reserved;
  int64_t peak_allocated_ts, peak_reserved_ts;
  int peak_reserved_step;
  const char *peak_reserved_phase;
  mt_snapshot peak;                       /* at the allocated peak */
  uint64_t max_fragmentation;             /* max of reserved - allocated */
  int64_t max_fragmentation_ts;
  uint64_t host_pinned_peak, host_pinned_end;
  uint64_t live_end_allocated, live_end_reserved;

  /* counts */
  uint64_t n_mem_events, n_region_events, n_ranges, n_kernels, n_nccl;
  uint64_t n_device_allocs, n_tensors;
  uint64_t unknown_frees, unknown_unregisters, failed_allocs;

  size_t ndevices;
  mt_device_peak *devices;
  size_t nsteps;
  mt_step_peak *steps;
  size_t nlayers;
  mt_layer_stat *layers;
  size_t nkernels;
  mt_kernel_stat *kernels;               /* by total time, largest first */
  size_t nnccl;
  mt_nccl_stat *nccl;
  int64_t comm_gpu_ns, compute_gpu_ns, overlap_gpu_ns;  /* < 0 without GPU times */
  size_t ngroups;
  mt_alloc_group *groups;                /* by peak_bytes then total_bytes */
  size_t nooms;
  mt_oom *ooms;
  mt_timeline timeline;

  /* 1: a memory-only result (mt_analysis_opts.memory_only): the timeline's
   * allocated/reserved samples and maxima, the peaks' values and times,
   * per-device peaks, counts of memory events and the OOMs are final; no
   * categories (timeline.by_category holds cache_free only), no snapshot
   * objects, steps, phases, layers, kernels or NCCL calls. */
  int memory_only;

  void *priv;                            /* string storage */
} mt_rank;

typedef struct mt_analysis {
  size_t nranks;
  mt_rank *ranks;             /* sorted by rank, then pid */
  char *path;
  int is_run_dir;
  size_t job_peak_index;      /* the rank whose allocated peak is the job's */
  double imbalance;           /* max / mean of peak allocated (1.0 = even) */
  uint64_t dropped;           /* over all ranks */
  int incomplete;             /* any rank incomplete */
  int mixed_runs;             /* the directory holds traces of several run ids */
} mt_analysis;

typedef struct mt_analysis_opts {
  int rank;                   /* only this rank; -1 = all */
  size_t timeline_samples;    /* 0 = default (400) */
  size_t max_objects;         /* objects kept per snapshot; 0 = default (200) */
  size_t max_groups;          /* 0 = default (100) */
  /* 1: only the first pass over the memory tables (mem_events,
   * region_events, heaps): no ranges, kernels or NCCL calls are read and
   * nothing is categorised.  Its timeline's allocated, reserved,
   * allocated_max and reserved_max equal the full analysis's sample for
   * sample (same t0, dt, n), as do the peaks' values and times; meant to
   * be drawn while the full analysis runs (progressive loading). */
  int memory_only;
} mt_analysis_opts;

/* Analyses a trace file or a run directory (every *.mtrace in it is one
 * process).  Returns MT_OK and *out (free with mt_analysis_free), or an
 * MT_E* code with a one-line message naming the file in err.  Traces that
 * were never closed are analysed and marked incomplete, not refused. */
/* The rank and world size of each trace of one run directory (`paths`, n;
 * `rank`, `world` and `joined` hold n each, `joined` may be NULL): each
 * trace's own, except a job whose ranks all came from NCCL communicators
 * none of which spans it, numbered across the run (analyzer/lib/ranks.c;
 * joined[i] = 1 there).  MT_OK, or MT_ENOMEM. */
int mt_run_ranks(char *const *paths, size_t n, int *rank, int *world, int *joined);

int mt_analysis_run(const char *path, const mt_analysis_opts *opts, mt_analysis **out, mt_error *err);

/* Analyses one open trace into *out (zeroed by the caller).  Returns MT_OK
 * or an MT_E* code with err set.  The trace stays the caller's. */
int mt_analyze_trace(mt_trace *t, const mt_analysis_opts *opts, mt_rank *out, mt_error *err);

void mt_rank_free(mt_rank *r);
void mt_analysis_free(mt_analysis *a);

/* Why the largest free block of snapshot s (of rank r) is unknown, or NULL
 * when s->largest_free_block is a measure: a trace without device memory
 * events has no allocator state, and memory without a known segment layout
 * (an import that lacks block addresses or segments) has no gaps to
 * measure.  Reports print null / "unknown (REASON)", never a made-up 0. */
static inline const char *mt_largest_free_unknown(const mt_rank *r, const mt_snapshot *s)
{
  if (!r->n_mem_events && !r->n_region_events)
    return "no device memory events in the trace";
  if (!s->nsegments && (s->nobjects || s->allocated))
    return "the trace does not say which segment holds each block";
  return NULL;
}

/* ---- Lifetimes: the analysis's own walk, for other consumers ----------
 *
 * The replay (analyzer/replay) and anything else that needs every
 * allocation, not only the state at the peak, reads it here: the same
 * event merge, heap coverage, range context (phase, step, layer) and
 * category rules as mt_analyze_trace, so a lifetime's category is the one
 * the report gives that allocation (analyzer/README.md, "Lifetimes"). */

/* What the innermost classified range says an event is part of (recompute
 * wins over the phase around it). */
enum mt_phase_kind {
  MT_PHASE_NONE = 0,   /* no range, or no range with a phase word */
  MT_PHASE_FORWARD,
  MT_PHASE_BACKWARD,
  MT_PHASE_RECOMPUTE,
  MT_PHASE_OPTIMIZER,
  MT_PHASE_OTHER       /* init, zero_grad, data, eval, validation */
};

/* How a lifetime ended. */
enum mt_lifetime_end {
  MT_END_FREED = 0,        /* cudaFree / unregister / unmap */
  MT_END_HEAP_DESTROYED,   /* its heap went away with it still registered */
  MT_END_REREGISTERED,     /* its address was registered again in its heap: the unregister was lost */
  MT_END_ALIVE             /* alive at the end of the trace (or its free was lost) */
};

typedef struct mt_resize {
  int64_t ts;              /* relative ns */
  uint64_t size;           /* size from ts on */
} mt_resize;

/* One allocation from its allocation to its end: a tensor block (a region
 * in a heap) or a device allocation (or VMM mapping) that no heap covers --
 * exactly the allocations whose bytes make up allocated(t). */
typedef struct mt_lifetime {
  mt_object obj;           /* as a snapshot shows it: alloc_ts, free_ts (< 0: never freed), size (its
                              last), step/layer/phase/range at allocation, label, category, rule */
  uint64_t seq;            /* allocation order in the merged walk: 0, 1, ... without gaps */
  uint64_t size0;          /* size when allocated */
  size_t nresizes;         /* region resizes, in time order (size0 -> resizes[0].size -> ...) */
  const mt_resize *resizes;
  int phase_kind;          /* enum mt_phase_kind at allocation */
  int free_step;           /* step at the free; -1 unknown or never freed */
  int free_phase_kind;     /* enum mt_phase_kind at the free; MT_PHASE_NONE when never freed */
  int end;                 /* enum mt_lifetime_end */
} mt_lifetime;

/* A classified NVTX range name (analyzer/README.md, "Phases"). */
typedef struct mt_range_class {
  int step;                /* "step N", "iteration N", ...: N; else -1 */
  int layer;               /* last purely numeric dot-separated component; else -1 */
  int kind;                /* enum mt_phase_kind of the name's last word (or whole name) */
  int exact_phase;         /* the whole name is a phase word ("forward", "init") */
} mt_range_class;

/* Classifies a range name.  Pure, thread-safe; name may be NULL. */
void mt_range_classify(const char *name, mt_range_class *out);

/* One NVTX push/pop or start/end range (marks excluded). */
typedef struct mt_range_span {
  uint64_t seq;            /* start order (ts, rowid): 0, 1, ... without gaps */
  int64_t ts, te;          /* relative ns; te < 0: never closed */
  const char *name;        /* NULL when unnamed */
  int64_t thread;
  int depth;               /* ranges open around it on its thread (0: outermost) */
  mt_range_class cls;      /* its own name's class */
  int step, layer;         /* context inside it (own or inherited; step falls back to the open step
                              range of the process), -1 unknown */
  int phase_kind;          /* enum mt_phase_kind inside it */
  const char *phase;       /* phase name inside it (as mt_object.phase) */
  uint64_t kernels;        /* kernel launches attributed to it: launched while it was open, on the
                              thread whose context is its stack (the per-layer rule of the report) */
  int64_t kernel_ns;       /* their time: GPU time when recorded, else launch-call time */
} mt_range_span;

/* What to call during mt_lifetimes_walk.  Either callback may be NULL (the
 * tables only it needs are then not read).  A callback returns 0 to go on,
 * anything else to stop the walk. */
typedef struct mt_lifetime_visitor {
  /* Once per lifetime, when it ends: at its free (frees in time order), then
   * those alive at the end of the trace in allocation order (seq).  With
   * seq the caller can restore allocation order in O(n). */
  int (*lifetime)(const mt_lifetime *l, void *arg);
  /* Once per range, when it ends (ends in time order), then the ranges
   * never closed, in start order. */
  int (*range)(const mt_range_span *r, void *arg);
  void *arg;
  /* After every instant at which the reserved bytes (as the report counts
   * them) changed: their total then.  May be NULL. */
  int (*reserved)(int64_t ts, uint64_t total, void *arg);
} mt_lifetime_visitor;

/* Walks one open trace in time order and reports its lifetimes and ranges.
 * Pointers inside what the callbacks receive are valid only during the call.
 * Memory: the live set and the open ranges, never the event stream.
 * Returns MT_OK (also when a callback stopped the walk) or an MT_E* code
 * with err set.  The trace stays the caller's; one walk per trace at a
 * time (it uses the trace's connection); distinct traces may be walked
 * from several threads. */
int mt_lifetimes_walk(mt_trace *t, const mt_lifetime_visitor *v, mt_error *err);

/* Conveniences over mt_lifetimes_walk with one callback. */
int mt_lifetimes_foreach(mt_trace *t, int (*cb)(const mt_lifetime *, void *), void *arg, mt_error *err);
int mt_ranges_foreach(mt_trace *t, int (*cb)(const mt_range_span *, void *), void *arg, mt_error *err);

/* The process's effective rank and world size: the process row's, or when
 * the environment had none (world <= 1 and rank 0), the collector's guess
 * from its largest NCCL communicator (meta rank.nccl, world_size.nccl) --
 * the rule mt_rank.rank/world_size follow.  *world may be 0 (unknown).
 * Returns MT_OK or an MT_E* code with err set. */
int mt_trace_rank(mt_trace *t, int *rank, int *world, mt_error *err);

/* A NCCL communicator of the process (communicators table). */
typedef struct mt_communicator {
  int64_t id;
  int nranks, rank, device;
  int64_t created, destroyed;   /* relative ns; destroyed < 0: never */
} mt_communicator;

/* The communicators in creation order (created, id): the first max into
 * out (out may be NULL when max is 0), their total count into *n.
 * Returns MT_OK or an MT_E* code with err set. */
int mt_trace_communicators(mt_trace *t, mt_communicator *out, size_t max, size_t *n, mt_error *err);

/* The analysis as a JSON document following schemas/report.schema.json.
 * Returns a new json-c object (caller puts it), or NULL when out of memory.
 * Times are absolute CLOCK_MONOTONIC ns (process.start_ns + relative ts). */
struct json_object;
struct json_object *mt_analysis_json(const mt_analysis *a);
#define MT_REPORT_FORMAT_VERSION 1

#endif
