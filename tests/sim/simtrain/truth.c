/* simtrain ground truth: see truth.h. */
#include "tests/sim/simtrain/truth.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *cat_names[ST_CAT__N] = {
	"parameter", "gradient", "optimizer_state", "activation", "temporary",
	"workspace", "communication", "input"
};

const char *st_cat_name(int cat)
{
	return cat >= 0 && cat < ST_CAT__N ? cat_names[cat] : "other";
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "simtrain: out of host memory\n");
		abort();
	}
	return p;
}

void st_truth_init(struct st_truth *t, int rank, int nsteps, int nlayers, int keep_records)
{
	memset(t, 0, sizeof *t);
	t->rank = rank;
	t->cur_step = -1;
	t->peak_step = -1;
	t->nsteps = nsteps;
	t->steps = calloc((size_t)nsteps + 1, sizeof *t->steps);
	t->nlayers = nlayers;
	t->layer_saved = calloc((size_t)nlayers + 1, sizeof *t->layer_saved);
	t->keep_records = keep_records;
	t->hashcap = 1u << 12;
	t->hash = calloc(t->hashcap, sizeof *t->hash);
	if (!t->steps || !t->layer_saved || !t->hash)
		abort();
	snprintf(t->peak_phase, sizeof t->peak_phase, "init");
}

int64_t st_truth_now(struct st_truth *t)
{
	struct timespec ts;
	int64_t ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (ns <= t->last_ns)
		ns = t->last_ns + 1;
	t->last_ns = ns;
	return ns;
}

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void rehash(struct st_truth *t)
{
	uint32_t cap = t->hashcap * 2, i;
	uint32_t *h = calloc(cap, sizeof *h);
	if (!h)
		abort();
	for (i = 0; i < t->nnames; i++) {
		uint32_t j = str_hash(t->names[i]) & (cap - 1);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hashcap = cap;
}

static uint32_t intern(struct st_truth *t, const char *s)
{
	uint32_t j = str_hash(s) & (t->hashcap - 1);
	while (t->hash[j]) {
		if (!strcmp(t->names[t->hash[j] - 1], s))
			return t->hash[j] - 1;
		j = (j + 1) & (t->hashcap - 1);
	}
	if (t->nnames == t->capnames) {
		t->capnames = t->capnames ? 2 * t->capnames : 256;
		t->names = xrealloc(t->names, t->capnames * sizeof *t->names);
	}
	t->names[t->nnames] = strdup(s);
	t->hash[j] = ++t->nnames;
	if (2 * t->nnames > t->hashcap)
		rehash(t);
	return t->nnames - 1;
}

static void note_step_peak(struct st_truth *t)
{
	struct st_step_peak *sp;
	if (t->cur_step < 0 || t->cur_step >= t->nsteps)
		return;
	sp = &t->steps[t->cur_step];
	if (t->allocated > sp->allocated)
		sp->allocated = t->allocated;
	if (t->reserved > sp->reserved)
		sp->reserved = t->reserved;
}

void st_truth_set_step(struct st_truth *t, int step)
{
	t->cur_step = step;
	note_step_peak(t);
}

uint64_t st_truth_alloc(struct st_truth *t, const char *name, int cat, int layer,
			uint64_t bytes, uint64_t requested, int outside)
{
	uint64_t idx;
	struct st_trec *r;
	int64_t now = st_truth_now(t);
	t->ntensors++;
	if (!t->keep_records && t->nfree) {
		idx = t->freelist[--t->nfree];
	} else {
		if (t->nrecs == t->caprecs) {
			t->caprecs = t->caprecs ? 2 * t->caprecs : 4096;
			t->recs = xrealloc(t->recs, t->caprecs * sizeof *t->recs);
		}
		idx = t->nrecs++;
	}
	r = &t->recs[idx];
	r->name = t->keep_records ? intern(t, name) : 0;
	r->cat = (int16_t)cat;
	r->outside = (int16_t)outside;
	r->layer = layer;
	r->bytes = bytes;
	r->requested = requested;
	r->alloc_ns = now;
	r->free_ns = -1;
	t->allocated += bytes;
	t->cat[cat] += bytes;
	if (t->allocated > t->peak_allocated) {
		t->peak_allocated = t->allocated;
		t->peak_ns = now;
		t->peak_step = t->cur_step;
		memcpy(t->peak_cat, t->cat, sizeof t->cat);
		snprintf(t->peak_phase, sizeof t->peak_phase, "%s", t->phase_fn ? t->phase_fn() : "");
		snprintf(t->peak_range, sizeof t->peak_range, "%s", t->range_fn ? t->range_fn() : "");
	}
	note_step_peak(t);
	return idx;
}

void st_truth_free(struct st_truth *t, uint64_t rec)
{
	struct st_trec *r = &t->recs[rec];
	r->free_ns = st_truth_now(t);
	t->allocated -= r->bytes;
	t->cat[r->cat] -= r->bytes;
	if (!t->keep_records) {
		if (t->nfree == t->capfree) {
			t->capfree = t->capfree ? 2 * t->capfree : 4096;
			t->freelist = xrealloc(t->freelist, t->capfree * sizeof *t->freelist);
		}
		t->freelist[t->nfree++] = rec;
	}
}

void st_truth_reserve(struct st_truth *t, int64_t delta)
{
	t->reserved = (uint64_t)((int64_t)t->reserved + delta);
	if (t->reserved > t->peak_reserved)
		t->peak_reserved = t->reserved;
	note_step_peak(t);
}

void st_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void write_cats(FILE *f, const uint64_t *c)
{
	int i;
	fputc('{', f);
	for (i = 0; i < ST_CAT__N; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", cat_names[i], (unsigned long long)c[i]);
	fputc('}', f);
}

void st_truth_write_oom(const struct st_truth *t, FILE *f)
{
	fprintf(f, "{\"rank\": %d, \"requested_bytes\": %llu, \"allocated_bytes\": %llu, "
		"\"reserved_bytes\": %llu, \"step\": %d, \"phase\": ",
		t->rank, (unsigned long long)t->oom.requested, (unsigned long long)t->oom.allocated,
		(unsigned long long)t->oom.reserved, t->oom.step);
	st_json_str(f, t->oom.phase);
	fputs(", \"range\": ", f);
	st_json_str(f, t->oom.range);
	fputc('}', f);
}

void st_truth_write_rank(const struct st_truth *t, FILE *f)
{
	uint64_t i;
	int s;
	fprintf(f, "{\"rank\": %d, \"clock\": \"monotonic\",\n  \"peak_allocated_bytes\": %llu, "
		"\"peak_reserved_bytes\": %llu, \"peak_time_ns\": %lld, \"peak_step\": %d, \"peak_phase\": ",
		t->rank, (unsigned long long)t->peak_allocated, (unsigned long long)t->peak_reserved,
		(long long)t->peak_ns, t->peak_step);
	st_json_str(f, t->peak_phase);
	fputs(", \"peak_range\": ", f);
	st_json_str(f, t->peak_range);
	fputs(",\n  \"peak_category_bytes\": ", f);
	write_cats(f, t->peak_cat);
	fprintf(f, ",\n  \"final_allocated_bytes\": %llu, \"final_reserved_bytes\": %llu",
		(unsigned long long)t->allocated, (unsigned long long)t->reserved);
	fprintf(f, ",\n  \"model_state_bytes\": %llu, \"host_model_state_bytes\": %llu, "
		"\"host_pinned_bytes\": %llu, \"nccl_comm_bytes\": %llu, \"nccl_comm_allocs\": %llu, "
		"\"segments_created\": %llu, \"workspace_allocs\": %llu",
		(unsigned long long)t->model_state_bytes, (unsigned long long)t->host_model_state_bytes,
		(unsigned long long)t->host_pinned_bytes, (unsigned long long)t->nccl_comm_bytes,
		(unsigned long long)t->nccl_comm_allocs, (unsigned long long)t->segments_created,
		(unsigned long long)t->workspace_allocs);
	fprintf(f, ",\n  \"pp_stage\": %d, \"stage_layers\": [%d, %d]", t->pp_stage, t->layer_lo, t->layer_hi);
	fprintf(f, ",\n  \"tensor_count\": %llu", (unsigned long long)t->ntensors);
	fputs(",\n  \"layer_saved_activation_bytes\": [", f);
	for (s = 0; s < t->nlayers; s++)
		fprintf(f, "%s%llu", s ? ", " : "", (unsigned long long)t->layer_saved[s]);
	fputs("],\n  \"step_peaks\": [", f);
	for (s = 0; s < t->nsteps; s++)
		fprintf(f, "%s{\"step\": %d, \"allocated\": %llu, \"reserved\": %llu}", s ? ", " : "", s,
			(unsigned long long)t->steps[s].allocated, (unsigned long long)t->steps[s].reserved);
	fprintf(f, "],\n  \"events\": {\"alloc\": %llu, \"free\": %llu, \"kernel\": %llu, \"nccl\": %llu, "
		"\"range\": %llu, \"region_register\": %llu, \"region_unregister\": %llu, "
		"\"ranges_pushed\": %llu, \"marks\": %llu, \"heap_register\": %llu, \"heap_unregister\": %llu, "
		"\"host_alloc\": %llu, \"host_free\": %llu}",
		(unsigned long long)t->ev.alloc, (unsigned long long)t->ev.free,
		(unsigned long long)t->ev.kernel, (unsigned long long)t->ev.nccl,
		(unsigned long long)(t->ev.range + t->ev.mark), (unsigned long long)t->ev.region_register,
		(unsigned long long)t->ev.region_unregister, (unsigned long long)t->ev.range,
		(unsigned long long)t->ev.mark, (unsigned long long)t->ev.heap_register,
		(unsigned long long)t->ev.heap_unregister, (unsigned long long)t->ev.host_alloc,
		(unsigned long long)t->ev.host_free);
	if (t->has_oom) {
		fputs(",\n  \"oom\": ", f);
		st_truth_write_oom(t, f);
	}
	fputs(",\n  \"tensors\": [", f);
	if (t->keep_records) {
		for (i = 0; i < t->nrecs; i++) {
			const struct st_trec *r = &t->recs[i];
			fprintf(f, "%s\n    {\"id\": %llu, \"name\": ", i ? "," : "", (unsigned long long)i);
			st_json_str(f, t->names[r->name]);
			fprintf(f, ", \"category\": \"%s\", \"layer\": %d, \"bytes\": %llu, \"requested\": %llu, "
				"\"outside\": %s, \"alloc_ns\": %lld, \"free_ns\": %lld}",
				cat_names[r->cat], r->layer, (unsigned long long)r->bytes,
				(unsigned long long)r->requested, r->outside ? "true" : "false",
				(long long)r->alloc_ns, (long long)r->free_ns);
		}
	}
	fputs("]}", f);
}
