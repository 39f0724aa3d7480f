/* Planner: checkpoint placement under a memory budget (a dynamic program in
 * the spirit of rotor, over one chain of layers), the revolve and knapsack
 * references of shared/ORACLES.md section 4, and `recommend`'s search over
 * plans, each verified by a full replay.  Pure functions; thread-safe. */
#ifndef MT_REPLAY_PLANNER_H
#define MT_REPLAY_PLANNER_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/replay/replay.h"
#include "analyzer/replay/cost.h"

/* One layer of the chain.  Memory model (docs/REPLAY.md): layers run
 * forward 0..n-1 then backward n-1..0; a layer keeps `saved` bytes until its
 * backward, or `kept` when checkpointed (then its forward is re-run, costing
 * `fwd_ns`, at the start of its backward); while layer i's backward runs,
 * its saved bytes plus `transient` are live above the stash of layers < i. */
typedef struct mt_rp_layer_cost {
  uint64_t saved, kept, transient;
  int64_t fwd_ns;
  /* the third choice (has_part): checkpointed with the outputs of its
   * operators with FLOPs saved (cost.h mt_rp_cost_partial): keeps `part`
   * bytes, recomputing costs part_ns */
  int has_part;
  uint64_t part;
  int64_t part_ns;
} mt_rp_layer_cost;

/* Peak of the chain for the placement ck (ck[i] = 0 none, 1 checkpointed,
 * 2 checkpointed with its FLOP outputs saved) above `base`, with `head`
 * live after the last forward. */
uint64_t mt_rp_chain_peak(const mt_rp_layer_cost *l, size_t n, const unsigned char *ck, uint64_t base,
                          uint64_t head);

/* Optimal placement: minimises the recompute time subject to
 * mt_rp_chain_peak <= budget, each layer one of its choices (a
 * multiple-choice knapsack over the chain, exact up to the quantum).  Memory is discretised in steps of quantum
 * bytes, rounding every requirement up (so a placement it returns always
 * fits); quantum 0 picks budget/4096.  Returns 0 and ck[] / *recompute_ns,
 * or -1 when no placement fits (ck = all layers then). */
int mt_rp_place_checkpoints(const mt_rp_layer_cost *l, size_t n, uint64_t base, uint64_t head, uint64_t budget,
                            uint64_t quantum, unsigned char *ck, int64_t *recompute_ns);
/* The same by trying every placement (3^n with partial choices, n <= 15;
 * 2^n without, n <= 24), for tests. */
int mt_rp_place_brute(const mt_rp_layer_cost *l, size_t n, uint64_t base, uint64_t head, uint64_t budget,
                      unsigned char *ck, int64_t *recompute_ns);

/* Revolve: minimal extra forward steps p(n, s) with s checkpoints. */
uint64_t mt_rp_revolve(unsigned n, unsigned s);

/* 0/1 knapsack: choose items to keep (saved, not recomputed) maximising the
 * runtime saved within budget memory.  mem in integer units.  Returns the
 * best value; keep[i] set. */
int64_t mt_rp_knapsack(const uint64_t *mem, const int64_t *value, size_t n, uint64_t budget, unsigned char *keep);

/* Per-layer costs of a recorded input (step 0, first micro-batch). */
int mt_rp_layer_costs(const mt_rp_input *in, mt_rp_layer_cost **out, size_t *n);

/* One recommended plan. */
typedef struct mt_rp_choice {
  mt_rp_plan plan;
  mt_rp_result result;
  char options[512];         /* the plan as command-line options */
  double compute_overhead;   /* extra compute (recompute and the techniques' own) / step time */
  double comm_overhead;      /* extra communication and host traffic / step time */
  double total_overhead;     /* added step time / step time (cost.h) */
  mt_rp_plan_cost cost;      /* what the plan adds to a step on the target GPU */
  int alters_training;       /* a technique that changes what or how it trains (technique.h) */
  int code_change;           /* places of a training script the plan changes (technique.h) */
  int fits;
  int verified_by_replay;    /* 1: result came from a full replay */
  char why[320];             /* why it ranks above the next plan ("" for the last) */
} mt_rp_choice;

/* What recommend could not consider on a recording, one line per
 * technique value ("--zero 1: sharding needs a world of ..."). */
typedef struct mt_rp_refusals {
  size_t n;
  char why[24][320];
} mt_rp_refusals;

typedef struct mt_rp_recommend_opts {
  uint64_t budget;            /* bytes, compared with peak reserved */
  int world;                  /* 0 = as recorded */
  double max_overhead;        /* fraction; < 0 = no limit */
  enum mt_rp_allocator allocator;
  int max_plans;              /* 0 = all explored */
  mt_rp_refusals *refused;    /* out (may be NULL): the techniques left out, and why */
  /* called after each replayed plan (from the worker threads, serialised) */
  void (*progress)(size_t done, size_t total, void *arg);
  void *progress_arg;
} mt_rp_recommend_opts;

/* Explores plans (the candidates of technique.c's table: checkpointing incl.
 * the optimal placement, ZeRO stages, offload, flash attention,
 * micro-batches, optimizers) on in, replaying each; plans using a technique
 * the job model cannot support are left out (o->refused says which).
 * *out: fitting plans ranked by overhead, then the closest non-fitting ones
 * (fits = 0).  *explored: plans replayed.  Caller frees *out. */
int mt_rp_recommend(const mt_rp_input *in, const mt_rp_recommend_opts *o, mt_rp_choice **out, size_t *n,
                    size_t *explored);

#endif
