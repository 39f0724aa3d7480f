/* Simulated NCCL: the public entry points (nccl.h) and simnccl.h.
 *
 * Calls run synchronously: a collective returns when this rank's result is in
 * recvbuff.  Between ncclGroupStart and the outermost ncclGroupEnd calls are
 * only recorded; ncclGroupEnd runs them, per communicator the collectives in
 * call order and then all sends and recvs together.  When a group spans
 * several communicators, each communicator's work runs on its own thread so
 * that no order between them can deadlock (ncclCommInitAll needs this too).
 * The stream argument is accepted and ignored. */
#include "tests/sim/nccl/nccl_int.h"
#include "tests/sim/nccl/simnccl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* nccl.h declares these without a prototype; give them one. */
void ncclResetDebugInit(void);
ncclResult_t ncclGroupStart(void);
ncclResult_t ncclGroupEnd(void);

static __thread char tl_error[512];
static __thread int tl_depth; /* ncclGroupStart nesting */

void mt__set_error(struct ncclComm *comm, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tl_error, sizeof tl_error, fmt, ap);
	va_end(ap);
	if (comm)
		snprintf(comm->last_error, sizeof comm->last_error, "%s", tl_error);
	if (getenv("MT_SIM_NCCL_DEBUG"))
		fprintf(stderr, "simnccl[%d]: %s\n", (int)getpid(), tl_error);
}

double mt__timeout_s(void)
{
	const char *s = getenv("MT_SIM_NCCL_TIMEOUT");
	if (s && *s) {
		char *end;
		double v = strtod(s, &end);
		if (end != s && v > 0)
			return v;
	}
	return 60.0;
}

static int env_int(const char *name, int dflt)
{
	const char *s = getenv(name);
	char *end;
	long v = s && *s ? strtol(s, &end, 10) : -1;
	return s && *s && !*end && v >= 0 && v < (1L << 30) ? (int)v : dflt;
}

/* Which simulated node (host) this process is on: MT_SIM_NODE; else the
 * node rank torchrun gives its workers (GROUP_RANK); else, on a cluster of
 * several simulated nodes (MT_SIM_NODES > 1), the global rank of the
 * launcher (RANK, OMPI_COMM_WORLD_RANK, PMI_RANK) over the devices per node
 * (MT_SIM_DEVICES, default 8); else 0. */
int mt__sim_node(void)
{
	int n = env_int("MT_SIM_NODE", -1);
	if (n >= 0)
		return n;
	if ((n = env_int("GROUP_RANK", -1)) >= 0)
		return n;
	if (env_int("MT_SIM_NODES", 1) > 1) {
		static const char *const ranks[] = { "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK" };
		int per = env_int("MT_SIM_DEVICES", 8);
		for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++)
			if ((n = env_int(ranks[i], -1)) >= 0 && per > 0)
				return n / per;
	}
	return 0;
}

NCCL_API ncclResult_t ncclGetVersion(int *version)
{
	if (!version)
		return ncclInvalidArgument;
	*version = NCCL_VERSION_CODE;
	return ncclSuccess;
}

NCCL_API const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
	case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
	case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
	case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
	case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
	case ncclRemoteError: return "remote process exited or there was a network error";
	case ncclInProgress: return "NCCL operation in progress";
	default: return "unknown result code";
	}
}

NCCL_API const char *ncclGetLastError(ncclComm_t comm)
{
	if (comm && comm->last_error[0])
		return comm->last_error;
	return tl_error;
}

NCCL_API void ncclResetDebugInit(void)
{
}

NCCL_API ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	if (!id)
		return ncclInvalidArgument;
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		mt__set_error(NULL, "getrandom: %s", strerror(errno));
		return ncclSystemError;
	}
	struct mt__uid u;
	memset(&u, 0, sizeof u);
	memcpy(u.magic, MT__ID_MAGIC, sizeof MT__ID_MAGIC);
	int len = snprintf(u.shm_name, sizeof u.shm_name, "/mtsimnccl.%d.", (int)getpid());
	for (size_t i = 0; i < sizeof rnd; i++)
		len += snprintf(u.shm_name + len, sizeof u.shm_name - (size_t)len, "%02x", rnd[i]);
	memset(id, 0, sizeof *id);
	memcpy(id->internal, &u, sizeof u);
	return ncclSuccess;
}

static ncclResult_t init_rank(ncclComm_t *out, int nranks, ncclUniqueId id, int rank, int dev)
{
	if (!out)
		return ncclInvalidArgument;
	*out = NULL;
	struct mt__uid u;
	memcpy(&u, id.internal, sizeof u);
	if (memcmp(u.magic, MT__ID_MAGIC, sizeof MT__ID_MAGIC) != 0 ||
	    !memchr(u.shm_name, 0, sizeof u.shm_name) || u.shm_name[0] != '/') {
		mt__set_error(NULL, "ncclCommInitRank: not a unique id made by ncclGetUniqueId");
		return ncclInvalidArgument;
	}
	if (nranks < 1 || rank < 0 || rank >= nranks) {
		mt__set_error(NULL, "ncclCommInitRank: rank %d out of range for nranks %d", rank, nranks);
		return ncclInvalidArgument;
	}
	struct ncclComm *c = calloc(1, sizeof *c);
	if (!c)
		return ncclSystemError;
	c->rank = rank;
	c->nranks = nranks;
	c->node = mt__sim_node();
	if (mt__driver_prepare(dev, &c->cudev) != 0) {
		mt__set_error(NULL, "%s", mt__driver_error());
		free(c);
		return ncclSystemError;
	}
	ncclResult_t rc = mt__shm_join(c, &u);
	if (rc != ncclSuccess) {
		free(c);
		return rc;
	}
	rc = mt__driver_alloc_buffers(c);
	if (rc != ncclSuccess) {
		char msg[600];
		snprintf(msg, sizeof msg, "rank %d failed to allocate its buffers: %s", rank, c->last_error);
		mt__mark_broken(c, msg);
		mt__shm_leave(c, 0);
		free(c);
		return rc;
	}
	*out = c;
	return ncclSuccess;
}

struct initall_arg {
	ncclComm_t *comm;
	int nranks, rank, dev, threaded;
	ncclUniqueId id;
	ncclResult_t rc;
};

static void *initall_thread(void *p)
{
	struct initall_arg *a = p;
	a->rc = init_rank(a->comm, a->nranks, a->id, a->rank, a->dev);
	return NULL;
}

/* Inits inside a group wait for ncclGroupEnd, which runs them concurrently
 * (one process may hold several ranks of one communicator). */
static __thread struct initall_arg *tl_inits;
static __thread int tl_ninits, tl_capinits;

static ncclResult_t init_or_defer(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	if (tl_depth == 0)
		return init_rank(comm, nranks, id, rank, -1);
	if (!comm)
		return ncclInvalidArgument;
	*comm = NULL;
	if (tl_ninits == tl_capinits) {
		int cap = tl_capinits ? 2 * tl_capinits : 8;
		struct initall_arg *p = realloc(tl_inits, (size_t)cap * sizeof *p);
		if (!p)
			return ncclSystemError;
		tl_inits = p;
		tl_capinits = cap;
	}
	tl_inits[tl_ninits++] = (struct initall_arg){ comm, nranks, rank, -1, 0, id, ncclSuccess };
	return ncclSuccess;
}

static ncclResult_t run_inits(struct initall_arg *a, int n)
{
	ncclResult_t rc = ncclSuccess;
	pthread_t *t = n > 1 ? calloc((size_t)n, sizeof *t) : NULL;
	for (int i = 0; i < n; i++)
		a[i].threaded = t && pthread_create(&t[i], NULL, initall_thread, &a[i]) == 0;
	for (int i = 0; i < n; i++)
		if (!a[i].threaded)
			initall_thread(&a[i]);
	for (int i = 0; i < n; i++) {
		if (a[i].threaded)
			pthread_join(t[i], NULL);
		if (a[i].rc != ncclSuccess && rc == ncclSuccess)
			rc = a[i].rc;
	}
	free(t);
	return rc;
}

NCCL_API ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	return init_or_defer(comm, nranks, id, rank);
}

NCCL_API ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id,
					     int rank, ncclConfig_t *config)
{
	(void)config; /* always blocking: init completes here, or at ncclGroupEnd */
	return init_or_defer(comm, nranks, id, rank);
}

/* Scalable init: nId roots each made an id and every rank holds all of
 * them; the first serves as the rendezvous of all ranks (one shm segment
 * needs no spreading of the bootstrap). */
NCCL_API ncclResult_t ncclCommInitRankScalable(ncclComm_t *newcomm, int nranks, int myrank, int nId,
					       ncclUniqueId *commIds, ncclConfig_t *config)
{
	(void)config;
	if (nId < 1 || !commIds) {
		mt__set_error(NULL, "ncclCommInitRankScalable: %d ids at %p", nId, (void *)commIds);
		return ncclInvalidArgument;
	}
	return init_or_defer(newcomm, nranks, commIds[0], myrank);
}

NCCL_API ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist)
{
	if (!comms || ndev < 1)
		return ncclInvalidArgument;
	ncclUniqueId id;
	ncclResult_t rc = ncclGetUniqueId(&id);
	if (rc != ncclSuccess)
		return rc;
	struct initall_arg *a = calloc((size_t)ndev, sizeof *a);
	if (!a)
		return ncclSystemError;
	for (int i = 0; i < ndev; i++) {
		comms[i] = NULL;
		a[i] = (struct initall_arg){ &comms[i], ndev, i, devlist ? devlist[i] : i, 0, id,
					     ncclSuccess };
	}
	rc = run_inits(a, ndev);
	if (rc != ncclSuccess)
		for (int i = 0; i < ndev; i++)
			if (comms[i]) {
				ncclCommDestroy(comms[i]);
				comms[i] = NULL;
			}
	free(a);
	return rc;
}

struct split_entry {
	int color, key;
	ncclUniqueId id;
};

static int cmp_split(const void *a, const void *b)
{
	const struct split_entry *const *x = a, *const *y = b;
	if ((*x)->key != (*y)->key)
		return (*x)->key < (*y)->key ? -1 : 1;
	return *x < *y ? -1 : *x > *y; /* then by parent rank: entries are in rank order */
}

static ncclResult_t check_comm(ncclComm_t comm);

/* Collective over comm: every rank contributes (color, key, a fresh id); the
 * ranks of one color join the id of the first of them in (key, rank) order. */
NCCL_API ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm,
				    ncclConfig_t *config)
{
	(void)config;
	ncclResult_t rc = check_comm(comm);
	if (rc != ncclSuccess || !newcomm)
		return rc != ncclSuccess ? rc : ncclInvalidArgument;
	*newcomm = NULL;
	struct split_entry mine = { color, key, { { 0 } } };
	rc = ncclGetUniqueId(&mine.id);
	if (rc != ncclSuccess)
		return rc;
	int n = comm->nranks;
	struct split_entry *all = calloc((size_t)n, sizeof *all);
	struct split_entry **same = calloc((size_t)n, sizeof *same);
	if (!all || !same) {
		free(all);
		free(same);
		return ncclSystemError;
	}
	struct mt__op op = { .kind = MT__ALLGATHER, .sendbuff = &mine, .recvbuff = all,
			     .count = sizeof mine, .dtype = ncclUint8, .comm = comm };
	rc = mt__run_collective(&op); /* directly: a split is never deferred */
	if (rc == ncclSuccess && color != NCCL_SPLIT_NOCOLOR) {
		int m = 0, me = -1;
		for (int r = 0; r < n; r++)
			if (all[r].color == color)
				same[m++] = &all[r];
		qsort(same, (size_t)m, sizeof *same, cmp_split);
		for (int i = 0; i < m; i++)
			if (same[i] == &all[comm->rank])
				me = i;
		rc = init_rank(newcomm, m, same[0]->id, me, comm->cudev);
	}
	free(all);
	free(same);
	return rc;
}

static ncclResult_t check_comm(ncclComm_t comm)
{
	if (!comm || !comm->shm) {
		mt__set_error(NULL, "invalid communicator");
		return ncclInvalidArgument;
	}
	return ncclSuccess;
}

static void comm_free(ncclComm_t comm, int abort)
{
	mt__driver_free_buffers(comm);
	mt__shm_leave(comm, abort);
	free(comm);
}

NCCL_API ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
	return check_comm(comm);
}

NCCL_API ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	if (!comm)
		return ncclSuccess;
	comm_free(comm, 0);
	return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommAbort(ncclComm_t comm)
{
	if (!comm)
		return ncclSuccess;
	comm_free(comm, 1);
	return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError)
{
	ncclResult_t rc = check_comm(comm);
	if (rc != ncclSuccess || !asyncError)
		return rc != ncclSuccess ? rc : ncclInvalidArgument;
	*asyncError = atomic_load(&comm->shm->broken) ? ncclRemoteError : ncclSuccess;
	return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommCount(const ncclComm_t comm, int *count)
{
	ncclResult_t rc = check_comm(comm);
	if (rc == ncclSuccess && !count)
		rc = ncclInvalidArgument;
	if (rc == ncclSuccess)
		*count = comm->nranks;
	return rc;
}

NCCL_API ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device)
{
	ncclResult_t rc = check_comm(comm);
	if (rc == ncclSuccess && !device)
		rc = ncclInvalidArgument;
	if (rc == ncclSuccess)
		*device = comm->cudev;
	return rc;
}

NCCL_API ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank)
{
	ncclResult_t rc = check_comm(comm);
	if (rc == ncclSuccess && !rank)
		rc = ncclInvalidArgument;
	if (rc == ncclSuccess)
		*rank = comm->rank;
	return rc;
}

/* ---- groups ------------------------------------------------------------- */

static __thread struct mt__op *tl_ops;
static __thread int tl_nops, tl_capops;
static __thread ncclResult_t tl_group_rc;

struct comm_work {
	struct ncclComm *comm;
	struct mt__op **ops;
	int n, threaded;
	ncclResult_t rc;
};

static ncclResult_t run_comm_ops(struct ncclComm *c, struct mt__op **ops, int n)
{
	int np = 0;
	for (int i = 0; i < n; i++) {
		if (ops[i]->kind == MT__SEND || ops[i]->kind == MT__RECV) {
			ops[np++] = ops[i]; /* compacts the p2p ops to the front, in order */
			continue;
		}
		ncclResult_t rc = mt__run_collective(ops[i]);
		if (rc != ncclSuccess)
			return rc;
	}
	return np ? mt__run_p2p(c, ops, np) : ncclSuccess;
}

static void *comm_work_thread(void *p)
{
	struct comm_work *w = p;
	w->rc = run_comm_ops(w->comm, w->ops, w->n);
	return NULL;
}

/* Run ops[0..n): partitioned by communicator, in call order within each. */
static ncclResult_t run_ops(struct mt__op *ops, int n)
{
	if (n == 0)
		return ncclSuccess;
	struct mt__op **ptrs = malloc((size_t)n * sizeof *ptrs);
	struct comm_work *w = calloc((size_t)n, sizeof *w);
	pthread_t *t = calloc((size_t)n, sizeof *t);
	ncclResult_t rc = ncclSuccess;
	if (!ptrs || !w || !t) {
		rc = ncclSystemError;
		goto out;
	}
	int nw = 0, k = 0;
	for (int i = 0; i < n; i++) { /* one comm_work per distinct comm */
		int j;
		for (j = 0; j < nw && w[j].comm != ops[i].comm; j++)
			;
		if (j == nw)
			w[nw++].comm = ops[i].comm;
	}
	for (int j = 0; j < nw; j++) {
		w[j].ops = ptrs + k;
		for (int i = 0; i < n; i++)
			if (ops[i].comm == w[j].comm)
				ptrs[k++] = &ops[i];
		w[j].n = (int)(ptrs + k - w[j].ops);
	}
	if (nw == 1) {
		rc = run_comm_ops(w[0].comm, w[0].ops, w[0].n);
		goto out;
	}
	for (int j = 0; j < nw; j++)
		w[j].threaded = pthread_create(&t[j], NULL, comm_work_thread, &w[j]) == 0;
	for (int j = 0; j < nw; j++)
		if (!w[j].threaded) /* no thread: run it here, after the others started */
			w[j].rc = run_comm_ops(w[j].comm, w[j].ops, w[j].n);
	for (int j = 0; j < nw; j++) {
		if (w[j].threaded)
			pthread_join(t[j], NULL);
		if (w[j].rc != ncclSuccess && rc == ncclSuccess)
			rc = w[j].rc;
	}
out:
	free(ptrs);
	free(w);
	free(t);
	return rc;
}

NCCL_API ncclResult_t ncclGroupStart(void)
{
	if (tl_depth++ == 0) {
		tl_nops = 0;
		tl_ninits = 0;
		tl_group_rc = ncclSuccess;
	}
	return ncclSuccess;
}

NCCL_API ncclResult_t ncclGroupEnd(void)
{
	if (tl_depth == 0) {
		mt__set_error(NULL, "ncclGroupEnd without ncclGroupStart");
		return ncclInvalidUsage;
	}
	if (--tl_depth > 0)
		return ncclSuccess;
	ncclResult_t rc = tl_group_rc;
	if (rc == ncclSuccess && tl_ninits)
		rc = run_inits(tl_inits, tl_ninits);
	if (rc == ncclSuccess)
		rc = run_ops(tl_ops, tl_nops);
	tl_nops = 0;
	tl_ninits = 0;
	return rc;
}

/* Validate, then run now or record for ncclGroupEnd. */
static ncclResult_t submit(struct mt__op op)
{
	ncclResult_t rc = check_comm(op.comm);
	if (rc != ncclSuccess)
		goto bad;
	struct ncclComm *c = op.comm;
	const char *why = NULL;
	int reduces = op.kind == MT__ALLREDUCE || op.kind == MT__REDUCE || op.kind == MT__REDUCESCATTER;
	if (mt__type_size(op.dtype) == 0)
		why = "unknown datatype";
	else if (reduces && !mt__type_reducible(op.dtype))
		why = "datatype cannot be reduced by the simulated NCCL (fp8)";
	else if (reduces && (int)op.redop >= (int)ncclNumOps &&
		 (int)op.redop < (int)ncclNumOps + (int)(sizeof c->premul / sizeof c->premul[0]) &&
		 c->premul[op.redop - ncclNumOps].used) {
		struct mt__premul *pm = &c->premul[op.redop - ncclNumOps];
		if (pm->dtype != op.dtype)
			why = "PreMulSum op used with another datatype than it was made for";
		op.premul = 1;
		op.scalar = pm->residence == ncclScalarDevice ? mt__scalar_value(pm->ptr, pm->dtype) : pm->value;
		op.redop = ncclSum;
	} else if (reduces && ((int)op.redop < 0 || op.redop >= ncclNumOps))
		why = "unknown reduction op";
	else if ((op.kind == MT__REDUCE || op.kind == MT__BROADCAST || op.kind == MT__SEND ||
		  op.kind == MT__RECV) && (op.root < 0 || op.root >= c->nranks))
		why = op.kind == MT__SEND || op.kind == MT__RECV ? "peer out of range" : "root out of range";
	else if (op.count && op.kind != MT__RECV && !op.sendbuff &&
		 !(op.kind == MT__BROADCAST && c->rank != op.root))
		why = "sendbuff is NULL";
	else if (op.count && op.kind != MT__SEND && !op.recvbuff &&
		 !(op.kind == MT__REDUCE && c->rank != op.root))
		why = "recvbuff is NULL";
	if (why) {
		mt__set_error(c, "%s", why);
		rc = ncclInvalidArgument;
		goto bad;
	}
	if (atomic_load(&c->shm->broken)) {
		mt__set_error(c, "communicator broken: %s", c->shm->broken_msg);
		rc = ncclRemoteError;
		goto bad;
	}
	if (tl_depth == 0)
		return run_ops(&op, 1);
	if (tl_nops == tl_capops) {
		int cap = tl_capops ? tl_capops * 2 : 64;
		struct mt__op *p = realloc(tl_ops, (size_t)cap * sizeof *p);
		if (!p) {
			rc = ncclSystemError;
			goto bad;
		}
		tl_ops = p;
		tl_capops = cap;
	}
	tl_ops[tl_nops++] = op;
	return ncclSuccess;
bad:
	if (tl_depth > 0 && tl_group_rc == ncclSuccess)
		tl_group_rc = rc;
	return rc;
}

NCCL_API ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
				    ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
				    cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__ALLREDUCE, .sendbuff = sendbuff,
		.recvbuff = recvbuff, .count = count, .dtype = datatype, .redop = op,
		.comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count,
				 ncclDataType_t datatype, ncclRedOp_t op, int root,
				 ncclComm_t comm, cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__REDUCE, .sendbuff = sendbuff,
		.recvbuff = recvbuff, .count = count, .dtype = datatype, .redop = op,
		.root = root, .comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
					ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
					cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__REDUCESCATTER, .sendbuff = sendbuff,
		.recvbuff = recvbuff, .count = recvcount, .dtype = datatype, .redop = op,
		.comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
				    ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__ALLGATHER, .sendbuff = sendbuff,
		.recvbuff = recvbuff, .count = sendcount, .dtype = datatype,
		.comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count,
				    ncclDataType_t datatype, int root, ncclComm_t comm,
				    cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__BROADCAST, .sendbuff = sendbuff,
		.recvbuff = recvbuff, .count = count, .dtype = datatype, .root = root,
		.comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root,
				ncclComm_t comm, cudaStream_t stream)
{
	return ncclBroadcast(buff, buff, count, datatype, root, comm, stream);
}

NCCL_API ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype,
			       int peer, ncclComm_t comm, cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__SEND, .sendbuff = sendbuff, .count = count,
		.dtype = datatype, .root = peer, .comm = comm, .stream = stream });
}

NCCL_API ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer,
			       ncclComm_t comm, cudaStream_t stream)
{
	return submit((struct mt__op){ .kind = MT__RECV, .recvbuff = recvbuff, .count = count,
		.dtype = datatype, .root = peer, .comm = comm, .stream = stream });
}

/* ---- custom reduction ops ---------------------------------------------- */

NCCL_API ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t *op, void *scalar, ncclDataType_t datatype,
					       ncclScalarResidence_t residence, ncclComm_t comm)
{
	ncclResult_t rc = check_comm(comm);
	if (rc != ncclSuccess)
		return rc;
	if (!op || !scalar || !mt__type_reducible(datatype) ||
	    (residence != ncclScalarDevice && residence != ncclScalarHostImmediate)) {
		mt__set_error(comm, "ncclRedOpCreatePreMulSum: invalid argument");
		return ncclInvalidArgument;
	}
	for (int i = 0; i < (int)(sizeof comm->premul / sizeof comm->premul[0]); i++)
		if (!comm->premul[i].used) {
			comm->premul[i] = (struct mt__premul){ 1, (int)residence, datatype, scalar,
							       mt__scalar_value(scalar, datatype) };
			*op = (ncclRedOp_t)(ncclNumOps + i);
			return ncclSuccess;
		}
	mt__set_error(comm, "ncclRedOpCreatePreMulSum: more than %d live ops",
		      (int)(sizeof comm->premul / sizeof comm->premul[0]));
	return ncclInvalidUsage;
}

NCCL_API ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm)
{
	ncclResult_t rc = check_comm(comm);
	if (rc != ncclSuccess)
		return rc;
	int i = (int)op - (int)ncclNumOps;
	if (i < 0 || i >= (int)(sizeof comm->premul / sizeof comm->premul[0]) || !comm->premul[i].used) {
		mt__set_error(comm, "ncclRedOpDestroy: op %d was not made by ncclRedOpCreatePreMulSum", (int)op);
		return ncclInvalidArgument;
	}
	comm->premul[i].used = 0;
	return ncclSuccess;
}

/* ---- not implemented (stubs.c) ------------------------------------------ */

ncclResult_t mt__not_implemented(const char *name, ncclResult_t rc)
{
	/* once per name: a list of names said, under a lock */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static const char *said[64];
	static int nsaid;
	int first = 1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < nsaid; i++)
		if (said[i] == name)
			first = 0;
	if (first && nsaid < 64)
		said[nsaid++] = name;
	pthread_mutex_unlock(&mu);
	mt__set_error(NULL, "%s is not implemented by the simulated NCCL (memtrace tests/sim/nccl)", name);
	if (first)
		fprintf(stderr, "simnccl[%d]: %s is not implemented by the simulated NCCL; returning %s\n",
			(int)getpid(), name, rc == ncclInvalidUsage ? "ncclInvalidUsage" : "an error");
	return rc;
}

/* ---- memory and registration -------------------------------------------- */

/* ncclMemAlloc: NCCL allocates through cuMem (VMM) rounded up to the
 * allocation granularity (2 MiB here, the simulated driver's and H100's);
 * the simulated one takes the rounded size from cuMemAlloc_v2.  It is the
 * caller's memory (PyTorch's NCCL MemPool), not NCCL's own buffers. */
#define MT__MEM_GRANULARITY ((size_t)2 << 20)

NCCL_API ncclResult_t ncclMemAlloc(void **ptr, size_t size)
{
	if (!ptr || size == 0) {
		mt__set_error(NULL, "ncclMemAlloc: %s", !ptr ? "ptr is NULL" : "size is 0");
		return ncclInvalidArgument;
	}
	size = (size + MT__MEM_GRANULARITY - 1) / MT__MEM_GRANULARITY * MT__MEM_GRANULARITY;
	return mt__driver_user_alloc(ptr, size);
}

NCCL_API ncclResult_t ncclMemFree(void *ptr)
{
	return ptr ? mt__driver_user_free(ptr) : ncclSuccess;
}

/* Buffer and window registration: nothing to set up (no NIC, no NVLink
 * mappings); a handle that says which buffer it is. */
struct mt__reg {
	void *buff;
	size_t size;
	ncclComm_t comm;
};

static ncclResult_t reg_new(ncclComm_t comm, void *buff, size_t size, void **out)
{
	ncclResult_t rc = check_comm(comm);
	if (rc != ncclSuccess)
		return rc;
	if (!out) {
		mt__set_error(comm, "registration: handle pointer is NULL");
		return ncclInvalidArgument;
	}
	struct mt__reg *r = malloc(sizeof *r);
	if (!r)
		return ncclSystemError;
	*r = (struct mt__reg){ buff, size, comm };
	*out = r;
	return ncclSuccess;
}

static ncclResult_t reg_free(ncclComm_t comm, void *handle)
{
	struct mt__reg *r = handle;
	if (!r || r->comm != comm) {
		mt__set_error(comm, "deregistration: not a handle of this communicator");
		return ncclInvalidArgument;
	}
	free(r);
	return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommRegister(const ncclComm_t comm, void *buff, size_t size, void **handle)
{
	return reg_new(comm, buff, size, handle);
}

NCCL_API ncclResult_t ncclCommDeregister(const ncclComm_t comm, void *handle)
{
	return reg_free(comm, handle);
}

NCCL_API ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void *buff, size_t size, ncclWindow_t *win,
					     int winFlags)
{
	(void)winFlags;
	return reg_new(comm, buff, size, (void **)win);
}

NCCL_API ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t win)
{
	return reg_free(comm, win);
}

/* ---- all-to-all, gather, scatter: grouped sends and receives ------------ */

/* As NCCL builds them itself (and PyTorch did before NCCL 2.28 had them):
 * one group of ncclSend/ncclRecv, so that they progress together. */
static ncclResult_t p2p_group(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t dt,
			      int root, ncclComm_t comm, cudaStream_t stream, int kind)
{
	ncclResult_t rc = check_comm(comm);
	size_t es = mt__type_size(dt);
	if (rc != ncclSuccess)
		return rc;
	if (es == 0) {
		mt__set_error(comm, "unknown datatype");
		return ncclInvalidArgument;
	}
	if (kind != 0 && (root < 0 || root >= comm->nranks)) {
		mt__set_error(comm, "root out of range");
		return ncclInvalidArgument;
	}
	size_t blk = count * es;
	ncclGroupStart();
	for (int p = 0; p < comm->nranks; p++) {
		const char *sb = (const char *)sendbuff + (size_t)p * blk;
		char *rb = (char *)recvbuff + (size_t)p * blk;
		if (kind == 0) { /* all-to-all: block p to rank p, block p from rank p */
			ncclSend(sb, count, dt, p, comm, stream);
			ncclRecv(rb, count, dt, p, comm, stream);
		} else if (kind == 1) { /* gather: every rank's block to the root, at its rank's place */
			if (p == comm->rank)
				ncclSend(sendbuff, count, dt, root, comm, stream);
			if (comm->rank == root)
				ncclRecv(rb, count, dt, p, comm, stream);
		} else { /* scatter: the root's block p to rank p */
			if (comm->rank == root)
				ncclSend(sb, count, dt, p, comm, stream);
			if (p == comm->rank)
				ncclRecv(recvbuff, count, dt, root, comm, stream);
		}
	}
	return ncclGroupEnd();
}

NCCL_API ncclResult_t ncclAlltoAll(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
				   ncclComm_t comm, cudaStream_t stream)
{
	return p2p_group(sendbuff, recvbuff, count, datatype, 0, comm, stream, 0);
}

NCCL_API ncclResult_t ncclGather(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
				 int root, ncclComm_t comm, cudaStream_t stream)
{
	return p2p_group(sendbuff, recvbuff, count, datatype, root, comm, stream, 1);
}

NCCL_API ncclResult_t ncclScatter(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
				  int root, ncclComm_t comm, cudaStream_t stream)
{
	return p2p_group(sendbuff, recvbuff, count, datatype, root, comm, stream, 2);
}

/* ---- simnccl.h ---------------------------------------------------------- */

NCCL_API size_t mt_sim_nccl_process_buffer_bytes(void)
{
	size_t live, peak;
	uint64_t a, f;
	mt__driver_totals(&live, &peak, &a, &f);
	return live;
}

NCCL_API size_t mt_sim_nccl_process_buffer_peak(void)
{
	size_t live, peak;
	uint64_t a, f;
	mt__driver_totals(&live, &peak, &a, &f);
	return peak;
}

NCCL_API unsigned long long mt_sim_nccl_process_buffer_allocs(void)
{
	size_t live, peak;
	uint64_t a, f;
	mt__driver_totals(&live, &peak, &a, &f);
	return a;
}

NCCL_API size_t mt_sim_nccl_comm_buffer_bytes(ncclComm_t comm)
{
	return comm ? comm->dev_bytes : 0;
}

NCCL_API int mt_sim_nccl_comm_buffer_count(ncclComm_t comm)
{
	return comm ? comm->ndev_bufs : 0;
}

NCCL_API int mt_sim_nccl_comm_buffers(ncclComm_t comm, unsigned long long *ptrs, size_t *sizes,
				      int max)
{
	if (!comm)
		return 0;
	for (int i = 0; i < comm->ndev_bufs && i < max; i++) {
		if (ptrs)
			ptrs[i] = (unsigned long long)comm->dev_bufs[i];
		if (sizes)
			sizes[i] = comm->dev_sizes[i];
	}
	return comm->ndev_bufs;
}
