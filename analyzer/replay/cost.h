/* Cost model (docs/REPLAY.md "Cost model"): what a plan adds to a training
 * step's time on the target GPU, without running it.
 *
 * Compute: each operator of a unit's forward as a roofline on the device's
 * data sheet, max(FLOPs / peak, bytes moved / HBM bandwidth); the FLOPs and
 * bytes come from the PyTorch layer's operator records (meta op/<unit>/<i>,
 * collector/python/memtrace/_ops.py), else from the bytes the unit's forward
 * writes and the parameters it reads (memory-bound only, said so).  When the
 * recording has real CUPTI kernel times (a GPU, not the simulated stack),
 * the measured kernel time of each window replaces the model.  Backward =
 * 2 x forward.  Communication: bytes / link bandwidth; host traffic: bytes /
 * PCIe bandwidth. */
#ifndef MT_REPLAY_COST_H
#define MT_REPLAY_COST_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/replay/replay.h"

/* A data sheet (dense, SXM parts; vendor figures). */
typedef struct mt_rp_gpu {
  const char *key;          /* "h100": what --gpu takes */
  const char *match;        /* a word of the CUDA device name ("H100") */
  double tflops16;          /* dense bf16/fp16 tensor-core TFLOP/s */
  double tflops32;          /* fp32 TFLOP/s (PyTorch matmuls are fp32, not TF32, by default) */
  double hbm_gbs;           /* device memory GB/s */
  double link_gbs;          /* GPU-GPU link GB/s per direction (NVLink) */
  double host_gbs;          /* host link GB/s per direction (PCIe) */
} mt_rp_gpu;

/* By key ("h100") or by a CUDA device name containing its match word;
 * NULL when unknown. */
const mt_rp_gpu *mt_rp_gpu_find(const char *name);
/* The keys, comma-separated, for messages. */
const char *mt_rp_gpu_keys(void);

/* One operator of a unit's forward (from the PyTorch layer). */
typedef struct mt_rp_op {
  char name[40];            /* "aten.mm" */
  int32_t unit;             /* index into mt_rp_input.units */
  double flops;
  uint64_t read, written;   /* bytes */
  int saved;                /* autograd saved its output for the backward */
  int itemsize;             /* bytes per element of its output (fp32 matmuls run at the fp32 rate) */
  int64_t ns;               /* modeled time on the target device */
} mt_rp_op;

/* The cost model of an input (mt_rp_input.cost, owned by it). */
typedef struct mt_rp_costmodel {
  const mt_rp_gpu *gpu;     /* the target device */
  char device[96];          /* the recorded device name ("" unknown) */
  int simulated;            /* the recording ran on the simulated CUDA stack */
  int cupti;                /* the recording has CUPTI (GPU-side) kernel times */
  int measured;             /* those times are real and replace the model */
  mt_rp_op *ops;
  size_t nops;
  int64_t *unit_fwd_ns;     /* per unit: one forward (step 0, first occurrence); -1 unknown */
  size_t nunits;
  int64_t fwd_ns, opt_ns, comm_ns, step_ns; /* a step on the target device */
  double efficiency;        /* fraction of the data sheet's peaks reached (0.7) */
} mt_rp_costmodel;

/* Internal: reads what the model needs from an open trace's SQLite
 * connection (devices, process.cupti, kernels with GPU times, meta op/...)
 * into in->cost; mt_rp_input_from_trace calls it.  0, -1 out of memory. */
struct sqlite3;
int mt__rp_cost_read(struct sqlite3 *db, mt_rp_input *in);

/* (Re)builds in->cost's times for the target device: gpu (a key or a
 * device name) or NULL for the recorded device, else the H100.  0, or -1
 * with a message naming the problem. */
int mt_rp_cost_build(mt_rp_input *in, const char *gpu, char *err, size_t errlen);
void mt__rp_cost_free(mt_rp_input *in);

/* The time one forward of window W's unit takes on the target device (what
 * recomputing it costs); W's kernel time when the input has no model. */
int64_t mt_rp_cost_window_ns(const mt_rp_input *in, const mt_rp_window *W);
/* The share of it taken by the attention core (what selective
 * checkpointing recomputes). */
int64_t mt_rp_cost_attention_ns(const mt_rp_input *in, const mt_rp_window *W);

/* Selective checkpointing inside a unit (a layer checkpointed "with its
 * FLOP outputs saved", value 2 of mt_rp_plan.ckpt_layer): the outputs of
 * the operators that have FLOPs (matmuls, attention, convolutions) are kept
 * from the forward, the rest (norms, activations, dropout, adds) recomputed.
 * mt_rp_cost_partial: 1 when the unit has operator records (0: no such
 * placement), with the recompute time (*ns: the operators without FLOPs)
 * and the bytes kept (*kept: the FLOP outputs, in 512-byte blocks). */
int mt_rp_cost_partial(const mt_rp_input *in, int unit, int64_t *ns, uint64_t *kept);
/* Which of the tensors a unit's forward allocated (their requested bytes,
 * in allocation order) are outputs of operators with FLOPs: the operator
 * records matched in order by their bytes written (a tensor no operator
 * accounts for, e.g. an operator's internal buffer, is skipped).  flag[i]
 * = 1 for those; returns the count, -1 without records. */
int mt_rp_cost_flop_outputs(const mt_rp_input *in, int unit, const uint64_t *bytes, size_t n, unsigned char *flag);
/* The aten operators with FLOPs of a unit, ", "-separated (for the
 * PyTorch policy). */
void mt_rp_cost_flop_ops(const mt_rp_input *in, int unit, char *buf, size_t len);

/* The time a plan adds to a step (ns; may be negative), and its parts. */
typedef struct mt_rp_plan_cost {
  int64_t recompute_ns, comm_ns, host_ns, other_ns, added_ns, step_ns;
  double fraction;          /* added / step */
} mt_rp_plan_cost;
void mt_rp_cost_plan(const mt_rp_input *in, const mt_rp_plan *p, const mt_rp_result *r, mt_rp_plan_cost *c);
/* Where the model's numbers come from, one line ("H100 data sheet, FLOPs
 * from 214 PyTorch operator records"). */
void mt_rp_cost_describe(const mt_rp_input *in, char *buf, size_t len);
/* For the technique table's cost hooks: parameters read by a forward and
 * backward pass; an optimizer step with states of state_bytes. */
int64_t mt__rp_cost_param_pass_ns(const mt_rp_input *in);
int64_t mt__rp_cost_opt_ns(const mt_rp_input *in, double state_bytes);

#endif
