/* simtrain ground truth: the workload's own bookkeeping of what it holds on
 * the device, by category, with the peak, per-step peaks, event counts and
 * every tensor's lifetime; and the JSON writer.  Definitions in README.md.
 * Nothing here is computed by memtrace code. */
#ifndef ST_TRUTH_H
#define ST_TRUTH_H

#include <stdint.h>
#include <stdio.h>

enum st_cat {
	ST_CAT_PARAMETER, ST_CAT_GRADIENT, ST_CAT_OPTIMIZER_STATE, ST_CAT_ACTIVATION,
	ST_CAT_TEMPORARY, ST_CAT_WORKSPACE, ST_CAT_COMMUNICATION, ST_CAT_INPUT, ST_CAT__N
};
const char *st_cat_name(int cat);

struct st_trec {          /* one tensor (or outside allocation) */
	uint32_t name;        /* interned */
	int16_t cat;
	int16_t outside;      /* 1: a direct cudaMalloc, not a caching-allocator block */
	int32_t layer;
	uint64_t bytes;       /* block size as the caching allocator counts it */
	uint64_t requested;   /* bytes asked for */
	int64_t alloc_ns, free_ns;
};

struct st_step_peak { uint64_t allocated, reserved; };

struct st_truth {
	int rank;
	int pp_stage, layer_lo, layer_hi; /* pipeline stage and its layers [lo, hi) */
	uint64_t allocated, reserved, peak_allocated, peak_reserved;
	int64_t peak_ns, last_ns;
	int peak_step;
	char peak_phase[32], peak_range[128];
	uint64_t cat[ST_CAT__N], peak_cat[ST_CAT__N];
	struct {
		uint64_t alloc, free, kernel, nccl, range, mark, region_register, region_unregister,
			heap_register, heap_unregister, host_alloc, host_free;
	} ev;
	int keep_records;     /* write the tensors list */
	struct st_trec *recs;
	uint64_t nrecs, caprecs;
	uint64_t *freelist, nfree, capfree; /* reused record slots when !keep_records */
	uint64_t ntensors;    /* tensors ever recorded */
	char **names;
	uint32_t nnames, capnames;
	uint32_t *hash;       /* open addressing over names */
	uint32_t hashcap;
	int cur_step;         /* -1 outside steps */
	struct st_step_peak *steps;
	int nsteps;
	uint64_t model_state_bytes, host_model_state_bytes, host_pinned_bytes;
	uint64_t *layer_saved;   /* saved activation bytes per layer (requested sizes) */
	int nlayers;
	uint64_t nccl_comm_bytes, nccl_comm_allocs;
	uint64_t segments_created, workspace_allocs;
	int has_oom;
	struct {
		uint64_t requested, allocated, reserved;
		int step;
		char phase[32];
		char range[128];
	} oom;
	/* where the current phase / range names come from (nvtx module) */
	const char *(*phase_fn)(void);
	const char *(*range_fn)(void);
};

void st_truth_init(struct st_truth *t, int rank, int nsteps, int nlayers, int keep_records);
/* CLOCK_MONOTONIC in ns, made strictly increasing within the process so that
 * the tensors list orders every event. */
int64_t st_truth_now(struct st_truth *t);
/* Accounts a live block/allocation of bytes; returns its record index. */
uint64_t st_truth_alloc(struct st_truth *t, const char *name, int cat, int layer,
			uint64_t bytes, uint64_t requested, int outside);
void st_truth_free(struct st_truth *t, uint64_t rec);
/* Device reservation grew/shrank by delta (segments and outside allocations). */
void st_truth_reserve(struct st_truth *t, int64_t delta);
void st_truth_set_step(struct st_truth *t, int step);
/* Writes this rank's object {"rank": r, ...}. */
void st_truth_write_rank(const struct st_truth *t, FILE *f);
/* Writes the oom object (t->has_oom must be set). */
void st_truth_write_oom(const struct st_truth *t, FILE *f);
/* Writes s as a JSON string literal. */
void st_json_str(FILE *f, const char *s);

#endif
