/* libmemtrace-replay: what-if replay of a recorded run (docs/REPLAY.md).
 *
 * Input: one rank's tensor-level lifetimes (mt_rp_tensor) and its phase
 * windows (mt_rp_window), as the analysis library rebuilds them from a trace
 * (mt_rp_input_from_trace in input_trace.c, an adapter over
 * mt_lifetimes_walk); tests fill them by hand.
 * A plan (mt_rp_plan) names techniques; mt_rp_replay transforms the
 * lifetimes as the techniques would, runs the result through an allocator
 * model (alloc.h) and reports the new peaks with their costs.
 *
 * Ownership: an mt_rp_input owns its arrays and strings; results are plain
 * values.  The replay only reads its input, so one input may be replayed
 * from several threads at once (recommend does); building or finishing an
 * input is not thread-safe. */
#ifndef MT_REPLAY_H
#define MT_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/replay/alloc.h"

/* Same order and names as the analysis library's categories. */
enum mt_rp_cat {
  MT_RP_PARAMETER = 0, MT_RP_GRADIENT, MT_RP_OPTIMIZER_STATE, MT_RP_ACTIVATION, MT_RP_TEMPORARY,
  MT_RP_WORKSPACE, MT_RP_COMMUNICATION, MT_RP_INPUT, MT_RP_OTHER, MT_RP_NCAT
};
const char *mt_rp_cat_name(int cat);
int mt_rp_cat_parse(const char *s); /* -1 when unknown */

enum mt_rp_phase { MT_RP_PH_OTHER = 0, MT_RP_PH_FORWARD, MT_RP_PH_BACKWARD, MT_RP_PH_OPTIMIZER, MT_RP_PH_RECOMPUTE };

#define MT_RP_NEVER INT64_MAX

/* Streams of tensors a transformation adds that torch allocates on streams
 * of their own (FSDP2's all-gather copy-in and reduce-scatter streams): ids
 * no recording uses (trace stream ids count up from 1), since the caching
 * allocator never reuses a block across streams. */
#define MT_RP_STREAM_ALLGATHER (INT32_MAX - 1)
#define MT_RP_STREAM_REDUCE_SCATTER (INT32_MAX - 2)

typedef struct mt_rp_tensor {
  int64_t t_alloc, t_free;  /* ns; t_free = MT_RP_NEVER: alive at the end */
  int32_t s_alloc, s_free;  /* order among equal times (inserted events) */
  uint64_t bytes;           /* requested bytes */
  int32_t stream;
  int8_t cat;               /* enum mt_rp_cat */
  int8_t phase;             /* enum mt_rp_phase at allocation */
  int8_t outside;           /* 1: a device allocation of its own (workspace, NCCL) */
  int8_t flags;             /* MT_RP_F_* (set by transformations) */
  int32_t layer;            /* -1 none */
  int32_t step;             /* -1 outside steps */
  int32_t unit;             /* index into mt_rp_input.units, -1 none */
  int32_t pid;              /* job model (job.c): ((parameter + 1) << 4) | (state key + 1); 0 none */
  const char *name;         /* region label without its "<category>/" prefix, or NULL */
} mt_rp_tensor;

/* The job model's identity of a tensor: which parameter it is, or is the
 * gradient or optimizer state of (-1 unknown), and which state (-1 none). */
static inline int mt_rp_param_of(const mt_rp_tensor *x) { return (x->pid >> 4) - 1; }
static inline int mt_rp_skey_of(const mt_rp_tensor *x) { return (x->pid & 15) - 1; }

enum { MT_RP_F_RECOMPUTED = 1, MT_RP_F_INSERTED = 2 };
/* Flags bits 2-6 (job.c): a split reduction's staging buffer or semaphores
 * (torch's Reduce.cuh global reduce), with the batch divisor from which the
 * kernel no longer splits its rows across blocks and makes neither; 0: not one. */
#define MT_RP_F_SPLIT_SHIFT 2
static inline int mt_rp_split_limit(const mt_rp_tensor *x) { return (x->flags >> MT_RP_F_SPLIT_SHIFT) & 31; }
/* Whether tensor x is still made when the rows of the batch are divided by d. */
int mt_rp_made_at(const mt_rp_tensor *x, int d);

enum mt_rp_wkind { MT_RP_W_FORWARD = 1, MT_RP_W_BACKWARD, MT_RP_W_RECOMPUTE, MT_RP_W_STEP,
                   MT_RP_W_PHASE_FWD, MT_RP_W_PHASE_BWD, MT_RP_W_OPTIMIZER };

/* An NVTX range that matters to replay: a unit's forward/backward/recompute
 * (layer.K.forward, embed.backward, ...), a step, or a phase. */
typedef struct mt_rp_window {
  int8_t kind;              /* enum mt_rp_wkind */
  int32_t unit;             /* index into units (unit windows), else -1 */
  int32_t layer;            /* -1 when the unit is not a numbered layer */
  int32_t step;
  int32_t occurrence;       /* n-th window of this unit and kind in the step (micro-batch) */
  int64_t ts, te;
  int64_t kernel_ns;        /* kernel time inside (GPU time when known, else launch time) */
} mt_rp_window;

/* A unit of the model: what a range prefix names ("layer.3", "embed"). */
typedef struct mt_rp_unit {
  char name[48];
  int32_t layer;            /* K for "layer.K" (or any "<prefix>.K"), else -1 */
} mt_rp_unit;

typedef struct mt_rp_input {
  int rank, world;          /* recorded rank and data-parallel world */
  int recorded_zero;        /* ZeRO stage the recording ran with (0 unless known) */
  int recorded_micro;       /* micro-batches per step in the recording (1 unless known) */
  int recorded_sp;          /* sequence-parallel degree of the recording (1 unless known) */
  int64_t recorded_batch, recorded_seq; /* the job's shape from a "memtrace.shape batch=B seq=S" range, 0 unknown */
  mt_rp_tensor *t;
  size_t nt, capt;
  mt_rp_window *w;
  size_t nw, capw;
  mt_rp_unit *units;
  size_t nunits, capunits;
  int nlayers;              /* numbered layers seen (max K + 1) */
  uint64_t comm_bytes_per_step; /* NCCL bytes sent per step (recorded) */
  int64_t comm_ns_per_step;
  double link_bytes_per_ns; /* assumed bandwidth for communication time; 0 = 25 GB/s */
  uint64_t recorded_peak_allocated, recorded_peak_reserved; /* from the trace, 0 = unknown */
  /* NCCL communicators of the recording (sizes) and the buffer model learnt
   * from their device buffers: NCCL connects each rank to its ring
   * neighbours only, so a communicator of n >= 2 ranks holds, whatever n,
   * per channel one receive buffer of nccl_peer_bytes and, in P2P read
   * mode, one send buffer of nccl_fixed_bytes (else 0).  NCCL 2.2x's
   * defaults when the recording has none: 2 channels of 4 MiB + 512 KiB +
   * 4,915,200 B (SIMPLE, LL, LL128; tests/sim/nccl/README.md). */
  int ncomms;
  int comm_nranks[16];
  int nccl_channels;
  uint64_t nccl_peer_bytes, nccl_fixed_bytes;
  int64_t t_first;          /* first recorded event (ns) */
  /* The job model (job.c, docs/REPLAY.md "Job model"), built by
   * mt_rp_input_finish from categories, names and windows alone, the same
   * for a live PyTorch recording, simtrain and an imported snapshot. */
  struct mt_rp_job {
    size_t nparams;         /* parameter identities (a name held by one tensor at a time) */
    size_t ngrads, nstates; /* gradient / optimizer-state tensors tied to a parameter */
    uint64_t param_bytes, grad_bytes, state_bytes; /* bytes of the first tensor of each identity / key */
    int nkeys;              /* optimizer-state keys: a state name after its parameter's, or the name */
    char keys[8][160];
    uint64_t key_bytes[8];
    size_t state_tensors;   /* optimizer-state tensors with a key */
    size_t opt_temps;       /* temporaries made and freed in the optimizer phase */
    int recorded_optimizer; /* enum mt_rp_optim from the keys (KEEP: unknown) */
    int flat;               /* one flat parameter buffer per unit ("<unit>.params": simtrain's layout) */
    int phases;             /* forward/backward phase windows: 0 none, 1 recorded, 2 the root module's */
    int unit_windows;       /* units with forward and backward windows */
    int root_unit;          /* the unit of the outermost forward window (the root module), -1 */
    size_t attn_maps;       /* attention-map tensors (mt__rp_attn_map) */
    size_t split_buffers;   /* split reductions' staging buffers and semaphores (mt_rp_split_limit) */
    /* dtype: bytes per parameter element, 2 when an optimizer-state key is
     * twice its parameter's size (fp32 master weights of half-precision
     * parameters: mixed precision), else 4; master_key that key or -1 */
    int param_esize, master_key;
    size_t named_acts;      /* activations/temporaries with a name (their dtype is known by module) */
  } job;
  char **strs;              /* owned copies of names */
  size_t nstrs, capstrs;
  struct mt_rp_costmodel *cost; /* the step-time model (cost.h), NULL: recorded kernel times */
} mt_rp_input;

void mt_rp_input_init(mt_rp_input *in);
void mt_rp_input_free(mt_rp_input *in);
/* Appends a tensor (copied; name copied).  Returns its index or -1. */
long mt_rp_input_add(mt_rp_input *in, const mt_rp_tensor *t);
/* Returns the unit index for a name like "layer.3" or "embed", adding it. */
int mt_rp_input_unit(mt_rp_input *in, const char *name);
/* The same for a window's unit, the whole name ("model.embed" is a unit of
 * its own, not "model"; "model.blocks.3" is layer 3). */
int mt_rp_input_unit_exact(mt_rp_input *in, const char *name);
/* Appends a window; occurrence is computed here. */
long mt_rp_input_add_window(mt_rp_input *in, const mt_rp_window *w);
/* Derives units/layers of tensors from their names and windows, sorts
 * windows, numbers occurrences.  Call once after adding everything. */
void mt_rp_input_finish(mt_rp_input *in);
/* Internal (job.c): the job model of a finished input; mt_rp_input_finish calls it. */
void mt__rp_job_build(mt_rp_input *in);
int mt__rp_attn_map(const char *name);
/* Tensors whose dtype does not follow the compute precision: masks
 * (bool/uint8) and softmax statistics (fp32 logsumexp). */
int mt__rp_fixed_dtype(const char *name);

/* Techniques: the options of the table in technique.c (technique.h). */
enum mt_rp_ckpt { MT_RP_CK_NONE = 0, MT_RP_CK_ALL, MT_RP_CK_EVERY, MT_RP_CK_LAYERS, MT_RP_CK_SELECTIVE };
enum mt_rp_optim { MT_RP_OPT_KEEP = 0, MT_RP_OPT_ADAMW, MT_RP_OPT_SGD, MT_RP_OPT_LION, MT_RP_OPT_ADAFACTOR,
                   MT_RP_OPT_ADAM_MINI, MT_RP_OPT_ADAM8BIT };
enum mt_rp_offload { MT_RP_OFF_NONE = 0, MT_RP_OFF_OPTIMIZER, MT_RP_OFF_PARAMS };
enum mt_rp_prec { MT_RP_PREC_KEEP = 0, MT_RP_PREC_FP32, MT_RP_PREC_BF16, MT_RP_PREC_FP16, MT_RP_PREC_FP8 };
int mt__rp_prec_bytes(enum mt_rp_prec p);   /* bytes per element: fp32 4, bf16/fp16 2, fp8 1 */
/* Whether a module path or parameter name lies under one of the
 * comma-separated prefixes (at a '.' boundary); 1 when list is empty. */
int mt__rp_under(const char *list, const char *name);
/* How a tensor grows with the sequence length (power 1, 2, 3) by its
 * module: attention maps 2 (triangle attention 3, MSA column attention 1),
 * pair representations 2, the rest 1. */
int mt__rp_seq_power(const char *name);

#define MT_RP_MAX_LAYERS 4096

typedef struct mt_rp_plan {
  enum mt_rp_ckpt ckpt;
  int ckpt_every;
  unsigned char ckpt_layer[MT_RP_MAX_LAYERS];
  int zero;                 /* -1 = as recorded */
  int world;                /* ranks in all (simtrain's --world: dp x sp x pp); 0 = as recorded */
  int sp;                   /* 0/1 = none */
  int sp_ulysses;
  int tp;                   /* tensor parallel degree, 0/1 = none */
  enum mt_rp_offload offload;
  int offload_layerwise;    /* --offload optimizer:layerwise (GRASS): states on the host, one unit's in for its update */
  int offload_nvme;         /* --offload nvme (ZeRO-Infinity): states on NVMe, two pinned swap buffers on the host */
  uint64_t host_memory;     /* --host-memory: pinned host bytes available (0 = unlimited) */
  int micro_batches;        /* 0/1 = as recorded */
  enum mt_rp_optim optimizer;
  int flash;
  int pp, pp_1f1b;
  int pp_stage;             /* the stage to replay; -1 = every stage (the result is the highest) */
  int train_layers;         /* 0 = all */
  char train_only[256];     /* --train-only: module path prefixes trained, the rest frozen ("" = all) */
  int64_t chunk;            /* --chunk N: attention maps made N rows (residues) at a time, never kept whole */
  int64_t batch, seq;       /* --batch / --seq: the new size (0 = as recorded) */
  int64_t batch_rec, seq_rec; /* the recorded size given as N/R (0 = the recording's own) */
  enum mt_rp_prec precision; /* compute precision (fp32 master weights below fp32); KEEP = as recorded */
  enum mt_rp_allocator allocator;
  uint64_t capacity;        /* device bytes for OOM prediction; 0 = unlimited */
} mt_rp_plan;

void mt_rp_plan_init(mt_rp_plan *p);
/* Applies one option (name without "--", value) to p, by the technique
 * table (technique.h) or the allocator model.  Returns 1 when the
 * option is a plan option and was applied, 0 when it is not a plan option,
 * -1 when its value is invalid (message in err). */
int mt_rp_plan_option(mt_rp_plan *p, const char *name, const char *value, char *err, size_t errlen);
/* Writes the plan as simtrain/memtrace options ("--checkpoint all --zero 3"). */
void mt_rp_plan_describe(const mt_rp_plan *p, char *buf, size_t len);

typedef struct mt_rp_result {
  uint64_t peak_allocated, peak_reserved;
  int64_t peak_ts;
  uint64_t by_cat[MT_RP_NCAT];    /* allocated bytes per category at the allocated peak */
  uint64_t cache_free;            /* reserved - allocated at that instant */
  int64_t recompute_ns;           /* extra forward time */
  uint64_t extra_comm_bytes;      /* per step, relative to the recording (may be 0) */
  int64_t extra_comm_ns;
  int64_t offload_bytes;          /* host<->device traffic per step added */
  uint64_t host_pinned;           /* pinned host bytes the plan's offload needs (0 without one) */
  int host_oom;                   /* 1: more than the plan's --host-memory */
  uint64_t ooms;                  /* with a capacity: requests the model refused */
  size_t nevents;                 /* events replayed */
  int stage;                      /* pipeline: the stage of the highest peak (-1 without one) */
  int nstages;
  uint64_t stage_peak_allocated[64], stage_peak_reserved[64];
} mt_rp_result;

/* Replays in under plan p.  Returns 0, or -1 when out of memory. */
int mt_rp_replay(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_result *out);
/* Sampled predicted memory: sample i is the state at t0 + i*dt (ns, on the replayed stream's time axis,
 * which starts where the recording starts); *_max are the maxima over (t_{i-1}, t_i]. */
typedef struct mt_rp_timeline {
  size_t n;
  int64_t t0, dt;
  uint64_t *allocated, *reserved, *allocated_max, *reserved_max;
} mt_rp_timeline;
/* mt_rp_replay, and the predicted allocated/reserved sampled on n points (n >= 2) from the first to the last
 * replayed event of the highest-peak stage (the only stage without pipeline parallelism). Returns 0, or -1 when out of memory. */
int mt_rp_replay_timeline(const mt_rp_input *in, const mt_rp_plan *p, size_t n, mt_rp_result *out, mt_rp_timeline *tl);
void mt_rp_timeline_free(mt_rp_timeline *tl);
/* The recording itself through the plan's allocator (no technique). */
int mt_rp_baseline(const mt_rp_input *in, enum mt_rp_allocator a, mt_rp_result *out);

/* Lower level: the transformed lifetimes (caller frees *out with free()),
 * and a run of lifetimes through an allocator model. */
int mt_rp_transform(const mt_rp_input *in, const mt_rp_plan *p, mt_rp_tensor **out, size_t *nout,
                    mt_rp_result *cost);
int mt_rp_simulate(const mt_rp_tensor *t, size_t n, enum mt_rp_allocator a, uint64_t capacity,
                   mt_rp_result *out);

#endif
