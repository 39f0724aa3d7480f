/* simtrain: entry point and rank processes.
 *  world 1: train in this process.
 *  --world N (no RANK in the environment): create the ncclUniqueIds, fork N
 *    rank processes (device = rank), wait, merge their truth into --truth.
 *  RANK/WORLD_SIZE set (torchrun-style launcher): join as that rank; the
 *    unique ids come through a rendezvous file (README.md), and the rank
 *    writes FILE.rank<r>.json. */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MODE_SINGLE, MODE_FORKED, MODE_LAUNCHED };

static struct st_opts opts;
static int mode = MODE_SINGLE;
static ncclUniqueId *ids;   /* [3 * world]: grad groups, sp groups, pp groups */

static uint64_t parameters(const struct st_opts *o)
{
	return o->arch == ST_ARCH_EVOFORMER ? st_evo_parameters(o) : st_gpt_parameters(o);
}

static void write_header(FILE *f)
{
	fprintf(f, "{\"world_size\": %d, \"parameters\": %llu, \"clock\": \"monotonic\",\n \"config\": ", opts.world,
		(unsigned long long)parameters(&opts));
	st_opts_json(&opts, f);
}

static void fmt_bytes(char *buf, size_t n, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
	else
		snprintf(buf, n, "%.2f MiB", (double)b / (double)(1ull << 20));
}

static int merge_launched(int world);

void st_write_rank_truth(struct st_rank *r)
{
	char path[4096], tmp[4200];
	FILE *f;
	if (!opts.truth)
		return;
	if (mode == MODE_SINGLE)
		snprintf(path, sizeof path, "%s", opts.truth);
	else if (mode == MODE_FORKED)
		snprintf(path, sizeof path, "%s.rank%d.part", opts.truth, r->rank);
	else
		snprintf(path, sizeof path, "%s.rank%d.json", opts.truth, r->rank);
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "simtrain: cannot write %s: %s\n", tmp, strerror(errno));
		return;
	}
	if (mode != MODE_FORKED) {
		write_header(f);
		if (r->truth.has_oom) {
			fputs(",\n \"oom\": ", f);
			st_truth_write_oom(&r->truth, f);
		}
		fputs(",\n \"ranks\": [", f);
	}
	st_truth_write_rank(&r->truth, f);
	if (mode != MODE_FORKED)
		fputs("]}\n", f);
	/* renamed into place whole, so that a merging rank 0 never reads half */
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "simtrain: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return;
	}
	if (mode == MODE_LAUNCHED && r->rank == 0 && merge_launched(r->world) != 0)
		fprintf(stderr, "simtrain: cannot write %s\n", opts.truth);
}

void st_oom(struct st_rank *r, uint64_t requested)
{
	struct st_truth *t = &r->truth;
	char a[32], b[32], c[32], d[32], e[32];
	uint64_t total = st_gpu_total();
	t->has_oom = 1;
	t->oom.requested = requested;
	t->oom.allocated = t->allocated;
	t->oom.reserved = t->reserved;
	t->oom.step = t->cur_step;
	snprintf(t->oom.phase, sizeof t->oom.phase, "%s", st_report_phase());
	snprintf(t->oom.range, sizeof t->oom.range, "%s", st_report_range());
	fmt_bytes(a, sizeof a, requested);
	fmt_bytes(b, sizeof b, total);
	fmt_bytes(c, sizeof c, total > t->reserved ? total - t->reserved : 0);
	fmt_bytes(d, sizeof d, t->allocated);
	fmt_bytes(e, sizeof e, t->reserved - t->allocated);
	fprintf(stderr,
		"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate %s (%llu bytes). GPU %d has a total "
		"capacity of %s of which %s is free. Of the allocated memory %s (%llu bytes) is allocated by PyTorch, "
		"and %s is reserved by PyTorch but unallocated (reserved %llu bytes). [simtrain rank %d, step %d, %s, %s]\n",
		a, (unsigned long long)requested, r->rank, b, c, d, (unsigned long long)t->allocated, e,
		(unsigned long long)t->reserved, r->rank, t->cur_step, t->oom.phase, t->oom.range);
	st_write_rank_truth(r);
	fflush(NULL);
	_exit(1);
}

static void init_comm(struct st_rank *r, ncclComm_t *c, int size, int gid, int grank, const char *name)
{
	*c = NULL;
	if (size <= 1)
		return;
	st_nccl(r, ncclCommInitRank(c, size, ids[gid], grank), "ncclCommInitRank");
	st_nccl_account(r, *c, name);
}

static int run_rank(int rank, int world)
{
	static struct st_rank R;
	struct st_rank *r = &R;
	int rc, ndev;
	const char *e;
	memset(r, 0, sizeof *r);
	r->o = &opts;
	r->rank = rank;
	r->world = world;
	r->sp = opts.sp;
	r->pp = opts.pp;
	r->dp = st_opts_dp(&opts);
	r->sp_rank = rank % r->sp;
	r->dp_rank = (rank / r->sp) % r->dp;
	r->pp_stage = rank / (r->sp * r->dp);
	r->pbytes = opts.bf16 ? 2 : 4;
	r->abytes = opts.bf16 ? 2 : 4;
	if (opts.sp_ulysses || opts.sp == 1) {
		r->nd = r->dp * r->sp;
		r->nd_rank = r->dp_rank * r->sp + r->sp_rank;
	} else {
		r->nd = r->dp;
		r->nd_rank = r->dp_rank;
	}
	r->layer_lo = r->pp_stage * opts.layers / r->pp;
	r->layer_hi = (r->pp_stage + 1) * opts.layers / r->pp;
	st_truth_init(&r->truth, rank, opts.steps, opts.layers, opts.truth_tensors);
	r->truth.pp_stage = r->pp_stage;
	r->truth.layer_lo = r->layer_lo;
	r->truth.layer_hi = r->layer_hi;
	st_report_init(&r->truth);
	st_tensor_setup(r);
	e = getenv("LOCAL_RANK");
	ndev = e ? atoi(e) : rank;
	rc = st_gpu_init(ndev);
	if (rc) {
		fprintf(stderr, "simtrain rank %d: cudaSetDevice(%d) failed (%d)\n", rank, ndev, rc);
		return 2;
	}
	if (world > 1) {
		int pp = r->pp, sp = r->sp, dp = r->dp;
		if (opts.sp_ulysses || sp == 1)
			init_comm(r, &r->grad_comm, r->nd, r->pp_stage, r->nd_rank, "grad");
		else
			init_comm(r, &r->grad_comm, r->nd, r->pp_stage * sp + r->sp_rank, r->nd_rank, "grad");
		init_comm(r, &r->sp_comm, sp, world + r->pp_stage * dp + r->dp_rank, r->sp_rank, "sp");
		init_comm(r, &r->pp_comm, pp, 2 * world + r->dp_rank * sp + r->sp_rank, r->pp_stage, "pp");
	}
	if (opts.arch == ST_ARCH_EVOFORMER)
		st_evo_units(r);
	else
		st_gpt_units(r);
	/* the job's shape, for replay's --batch/--seq (docs/REPLAY.md): the
	 * Evoformer has no batch dimension (one crop; --batch is not used) */
	if (opts.arch == ST_ARCH_EVOFORMER)
		st_range_push("memtrace.shape seq=%d", opts.residues);
	else
		st_range_push("memtrace.shape batch=%d seq=%d", opts.batch, opts.seq);
	st_range_pop();
	rc = st_train(r);
	st_write_rank_truth(r);
	return rc;
}

/* --- launcher mode: rendezvous through a file --- */

static int rendezvous(int rank, int world)
{
	const char *dir = getenv("MT_SIM_RENDEZVOUS");
	const char *addr = getenv("MASTER_ADDR"), *port = getenv("MASTER_PORT");
	char path[4096], tmp[4200];
	size_t n = 3 * (size_t)world;
	time_t start = time(NULL);
	int i;
	snprintf(path, sizeof path, "%s/simtrain-ncclid-%s-%s.bin", dir ? dir : "/tmp", addr ? addr : "localhost",
		 port ? port : "0");
	if (rank == 0) {
		FILE *f;
		for (i = 0; i < (int)n; i++)
			if (ncclGetUniqueId(&ids[i]) != ncclSuccess)
				return -1;
		snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
		f = fopen(tmp, "wb");
		if (!f || fwrite(ids, sizeof *ids, n, f) != n || fclose(f) != 0)
			return -1;
		return rename(tmp, path);
	}
	for (i = 0; i < 6000; i++) {
		struct stat st;
		if (stat(path, &st) == 0 && st.st_mtime + 5 >= start) {
			FILE *f = fopen(path, "rb");
			if (f && fread(ids, sizeof *ids, n, f) == n) {
				fclose(f);
				return 0;
			}
			if (f)
				fclose(f);
		}
		usleep(10000);
	}
	fprintf(stderr, "simtrain rank %d: no rendezvous file %s\n", rank, path);
	return -1;
}

/* --- merging per-rank truth into one document --- */

static time_t start_time;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, k;
	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		k = fread(buf + n, 1, cap - n, f);
		if (k == 0)
			break;
		n += k;
	}
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* The rank object inside a per-rank file: the whole part (fork mode), or
 * the single element of "ranks" of a whole document (launcher mode).  Cuts
 * the text in place; NULL when malformed. */
static char *rank_object(char *text, int whole)
{
	char *p, *q;
	if (!whole)
		return text;
	p = strstr(text, "\n \"ranks\": [");
	q = strrchr(text, ']');
	if (!p || !q || q < p)
		return NULL;
	*q = 0;
	return p + strlen("\n \"ranks\": [");
}

/* The rank's "oom": {...} object (before its tensors list), or NULL. */
static const char *oom_of(const char *obj, size_t *len)
{
	const char *t = strstr(obj, "\"tensors\": ["), *p = strstr(obj, "\"oom\": {"), *q;
	if (!p || (t && p > t))
		return NULL;
	p += 7;
	q = strchr(p, '}');
	if (!q)
		return NULL;
	*len = (size_t)(q - p + 1);
	return p;
}

/* Writes FILE from the ranks' files FILE.rank<r>.part (fork mode) or
 * FILE.rank<r>.json (whole documents, launcher mode): the header, the first
 * oom of any rank, and every rank object in rank order ({"rank": r,
 * "missing": true} for a file that is not there).  Written to a temporary
 * name and renamed.  Returns 0, or -1 when FILE cannot be written. */
static int merge_files(int world, int whole, int remove_parts)
{
	char path[4096], tmp[4200];
	char **objs = calloc((size_t)world, sizeof *objs), **texts = calloc((size_t)world, sizeof *texts);
	FILE *out;
	int r, have_oom = 0;
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", opts.truth, (int)getpid());
	out = fopen(tmp, "w");
	if (!out || !objs || !texts)
		return -1;
	for (r = 0; r < world; r++) {
		snprintf(path, sizeof path, "%s.rank%d.%s", opts.truth, r, whole ? "json" : "part");
		texts[r] = slurp(path);
		objs[r] = texts[r] ? rank_object(texts[r], whole) : NULL;
		if (objs[r] && remove_parts)
			unlink(path);
	}
	write_header(out);
	for (r = 0; r < world && !have_oom; r++) {
		size_t n;
		const char *o = objs[r] ? oom_of(objs[r], &n) : NULL;
		if (o) {
			fputs(",\n \"oom\": ", out);
			fwrite(o, 1, n, out);
			have_oom = 1;
		}
	}
	fputs(",\n \"ranks\": [", out);
	for (r = 0; r < world; r++) {
		if (r)
			fputs(",\n", out);
		if (objs[r])
			fputs(objs[r], out);
		else
			fprintf(out, "{\"rank\": %d, \"missing\": true}", r);
		free(texts[r]);
	}
	fputs("]}\n", out);
	free(objs);
	free(texts);
	if (fclose(out) != 0 || rename(tmp, opts.truth) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Launcher mode, rank 0, after writing its own file: waits until every
 * rank's FILE.rank<r>.json (written after this run started, minus 5 s) is
 * there, at most MT_SIM_MERGE_TIMEOUT seconds (default 60), then merges
 * them into FILE, keeping the per-rank files. */
static int merge_launched(int world)
{
	const char *e = getenv("MT_SIM_MERGE_TIMEOUT");
	double limit = e ? atof(e) : 60.0;
	struct timespec t0, now;
	char path[4096];
	int r, missing;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		missing = 0;
		for (r = 0; r < world; r++) {
			struct stat st;
			snprintf(path, sizeof path, "%s.rank%d.json", opts.truth, r);
			if (stat(path, &st) != 0 || st.st_mtime + 5 < start_time)
				missing++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!missing || (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) >= limit)
			break;
		usleep(50000);
	}
	if (missing)
		fprintf(stderr, "simtrain rank 0: %d rank truth file(s) missing after %.0f s; merged without them\n",
			missing, limit);
	return merge_files(world, 1, 0);
}

int main(int argc, char **argv)
{
	int rc = st_opts_parse(&opts, argc, argv), r, status, failed = 0;
	const char *erank = getenv("RANK"), *eworld = getenv("WORLD_SIZE");
	pid_t *pids;
	start_time = time(NULL);
	if (rc)
		return rc < 0 ? 2 : 0;
	if (erank && eworld) {
		int rank = atoi(erank), world = atoi(eworld);
		if (world != opts.world && opts.world != 1) {
			fprintf(stderr, "simtrain: WORLD_SIZE %d but --world %d\n", world, opts.world);
			return 2;
		}
		opts.world = world;
		if (world % (opts.sp * opts.pp)) {
			fprintf(stderr, "simtrain: WORLD_SIZE must be a multiple of --sp * --pp\n");
			return 2;
		}
		mode = world > 1 ? MODE_LAUNCHED : MODE_SINGLE;
		ids = calloc(3 * (size_t)world, sizeof *ids);
		if (world > 1 && rendezvous(rank, world) != 0)
			return 2;
		return run_rank(rank, world);
	}
	if (opts.world == 1)
		return run_rank(0, 1);
	/* fork mode */
	mode = MODE_FORKED;
	ids = calloc(3 * (size_t)opts.world, sizeof *ids);
	for (r = 0; r < 3 * opts.world; r++)
		if (ncclGetUniqueId(&ids[r]) != ncclSuccess) {
			fprintf(stderr, "simtrain: ncclGetUniqueId failed\n");
			return 2;
		}
	if (!getenv("MT_SIM_DEVICES")) {
		char n[16];
		snprintf(n, sizeof n, "%d", opts.world);
		setenv("MT_SIM_DEVICES", n, 1);
	}
	fflush(NULL);
	pids = calloc((size_t)opts.world, sizeof *pids);
	for (r = 0; r < opts.world; r++) {
		pids[r] = fork();
		if (pids[r] == 0)
			_exit(run_rank(r, opts.world));
		if (pids[r] < 0) {
			perror("simtrain: fork");
			return 2;
		}
	}
	for (r = 0; r < opts.world; r++) {
		if (waitpid(pids[r], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "simtrain: rank %d failed (%s %d)\n", r,
				WIFEXITED(status) ? "exit" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			if (!failed || (WIFEXITED(status) && WEXITSTATUS(status) == 1))
				failed = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
		}
	}
	if (opts.truth && merge_files(opts.world, 0, 1) != 0)
		fprintf(stderr, "simtrain: cannot write %s\n", opts.truth);
	return failed;
}
