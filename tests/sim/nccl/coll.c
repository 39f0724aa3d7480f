/* Simulated NCCL: the data paths.
 *
 * Collectives run in steps over each rank's collective slot in the shared
 * segment.  A slot has two halves used alternately (by the comm's step
 * counter, which advances identically on every rank), so one barrier per step
 * suffices: a rank writes its part into half step%2, waits at the barrier,
 * then reads what it needs from every rank's half step%2.  The half written at
 * step k was last read at step k-2, and every rank finished those reads
 * before it arrived at barrier k-1.  Every rank reduces the contributions in
 * rank order 0..n-1, so all ranks get bitwise identical results.
 *
 * Point-to-point uses one byte ring per ordered (src, dst) pair; sends and
 * recvs between a pair match in order, and all the sends and recvs of a group
 * are progressed together, so paired exchanges cannot deadlock. */
#include "tests/sim/nccl/nccl_int.h"

#include <string.h>

static void move(void *dst, const void *src, size_t n)
{
	if (dst != src && n)
		memmove(dst, src, n);
}

static ncclResult_t allreduce_like(struct mt__op *op, int root /* -1: all */)
{
	struct ncclComm *c = op->comm;
	size_t es = mt__type_size(op->dtype);
	size_t per = c->shm->half_bytes / es;
	const char *send = op->sendbuff;
	char *recv = op->recvbuff;
	for (size_t off = 0; off < op->count; off += per) {
		size_t n = op->count - off < per ? op->count - off : per;
		int h = (int)(c->step & 1);
		memcpy(mt__slot(c, c->rank, h), send + off * es, n * es);
		ncclResult_t rc = mt__barrier(c);
		if (rc != ncclSuccess)
			return rc;
		if (root < 0 || root == c->rank) {
			char *dst = recv + off * es;
			move(dst, mt__slot(c, 0, h), n * es);
			for (int r = 1; r < c->nranks; r++)
				mt__reduce(dst, mt__slot(c, r, h), n, op->dtype, op->redop);
			if (op->redop == ncclAvg)
				mt__divide(dst, n, op->dtype, c->nranks);
			if (op->premul)
				mt__scale(dst, n, op->dtype, op->scalar);
		}
		c->step++;
	}
	return ncclSuccess;
}

static ncclResult_t broadcast(struct mt__op *op)
{
	struct ncclComm *c = op->comm;
	size_t es = mt__type_size(op->dtype);
	size_t per = c->shm->half_bytes / es;
	const char *send = op->sendbuff;
	char *recv = op->recvbuff;
	for (size_t off = 0; off < op->count; off += per) {
		size_t n = op->count - off < per ? op->count - off : per;
		int h = (int)(c->step & 1);
		if (c->rank == op->root) {
			memcpy(mt__slot(c, c->rank, h), send + off * es, n * es);
			move(recv + off * es, send + off * es, n * es);
		}
		ncclResult_t rc = mt__barrier(c);
		if (rc != ncclSuccess)
			return rc;
		if (c->rank != op->root)
			memcpy(recv + off * es, mt__slot(c, op->root, h), n * es);
		c->step++;
	}
	return ncclSuccess;
}

static ncclResult_t allgather(struct mt__op *op)
{
	struct ncclComm *c = op->comm;
	size_t es = mt__type_size(op->dtype);
	size_t per = c->shm->half_bytes / es;
	const char *send = op->sendbuff;
	char *recv = op->recvbuff;
	for (size_t off = 0; off < op->count; off += per) {
		size_t n = op->count - off < per ? op->count - off : per;
		int h = (int)(c->step & 1);
		memcpy(mt__slot(c, c->rank, h), send + off * es, n * es);
		ncclResult_t rc = mt__barrier(c);
		if (rc != ncclSuccess)
			return rc;
		for (int r = 0; r < c->nranks; r++)
			move(recv + ((size_t)r * op->count + off) * es, mt__slot(c, r, h), n * es);
		c->step++;
	}
	return ncclSuccess;
}

static ncclResult_t reducescatter(struct mt__op *op)
{
	struct ncclComm *c = op->comm;
	size_t es = mt__type_size(op->dtype);
	size_t per = c->shm->half_bytes / (size_t)c->nranks / es; /* elements per piece */
	if (per == 0) {
		mt__set_error(c, "collective slot too small for %d ranks (MT_SIM_NCCL_CHUNK)", c->nranks);
		return ncclInternalError;
	}
	const char *send = op->sendbuff;
	char *recv = op->recvbuff;
	for (size_t off = 0; off < op->count; off += per) {
		size_t n = op->count - off < per ? op->count - off : per;
		int h = (int)(c->step & 1);
		char *mine = mt__slot(c, c->rank, h);
		for (int b = 0; b < c->nranks; b++)
			memcpy(mine + (size_t)b * per * es, send + ((size_t)b * op->count + off) * es, n * es);
		ncclResult_t rc = mt__barrier(c);
		if (rc != ncclSuccess)
			return rc;
		char *dst = recv + off * es;
		size_t piece = (size_t)c->rank * per * es;
		move(dst, mt__slot(c, 0, h) + piece, n * es);
		for (int r = 1; r < c->nranks; r++)
			mt__reduce(dst, mt__slot(c, r, h) + piece, n, op->dtype, op->redop);
		if (op->redop == ncclAvg)
			mt__divide(dst, n, op->dtype, c->nranks);
		if (op->premul)
			mt__scale(dst, n, op->dtype, op->scalar);
		c->step++;
	}
	return ncclSuccess;
}

ncclResult_t mt__run_collective(struct mt__op *op)
{
	switch (op->kind) {
	case MT__ALLREDUCE: return allreduce_like(op, -1);
	case MT__REDUCE: return allreduce_like(op, op->root);
	case MT__BROADCAST: return broadcast(op);
	case MT__ALLGATHER: return allgather(op);
	case MT__REDUCESCATTER: return reducescatter(op);
	default: return ncclInternalError;
	}
}

/* Copy up to n bytes into / out of a ring at stream position pos. */
static void ring_put(char *data, size_t cap, uint64_t pos, const char *src, size_t n)
{
	size_t at = (size_t)(pos % cap), first = cap - at < n ? cap - at : n;
	memcpy(data + at, src, first);
	memcpy(data, src + first, n - first);
}

static void ring_get(const char *data, size_t cap, uint64_t pos, char *dst, size_t n)
{
	size_t at = (size_t)(pos % cap), first = cap - at < n ? cap - at : n;
	memcpy(dst, data + at, first);
	memcpy(dst + first, data, n - first);
}

static size_t p2p_step(struct ncclComm *c, struct mt__op *op)
{
	size_t bytes = op->count * mt__type_size(op->dtype);
	size_t cap = c->shm->ring_bytes, m;
	if (op->kind == MT__SEND) {
		struct mt__ring *rg = mt__ring(c, c->rank, op->root);
		uint64_t w = atomic_load_explicit(&rg->written, memory_order_relaxed);
		uint64_t r = atomic_load_explicit(&rg->read, memory_order_acquire);
		size_t space = cap - (size_t)(w - r);
		m = bytes - op->done < space ? bytes - op->done : space;
		if (m) {
			ring_put(mt__ringdata(c, c->rank, op->root), cap, w,
				 (const char *)op->sendbuff + op->done, m);
			atomic_store_explicit(&rg->written, w + m, memory_order_release);
		}
	} else {
		struct mt__ring *rg = mt__ring(c, op->root, c->rank);
		uint64_t w = atomic_load_explicit(&rg->written, memory_order_acquire);
		uint64_t r = atomic_load_explicit(&rg->read, memory_order_relaxed);
		size_t avail = (size_t)(w - r);
		m = bytes - op->done < avail ? bytes - op->done : avail;
		if (m) {
			ring_get(mt__ringdata(c, op->root, c->rank), cap, r,
				 (char *)op->recvbuff + op->done, m);
			atomic_store_explicit(&rg->read, r + m, memory_order_release);
		}
	}
	op->done += m;
	return m;
}

ncclResult_t mt__run_p2p(struct ncclComm *c, struct mt__op **ops, int n)
{
	double deadline = mt__now() + mt__timeout_s();
	for (;;) {
		uint64_t seen = atomic_load(&c->shm->change_seq);
		int pending = 0;
		size_t moved = 0;
		for (int i = 0; i < n; i++) {
			struct mt__op *op = ops[i];
			size_t bytes = op->count * mt__type_size(op->dtype);
			if (op->done == bytes)
				continue;
			int blocked = 0; /* an earlier op to the same peer, same way, goes first */
			for (int j = 0; j < i && !blocked; j++)
				blocked = ops[j]->kind == op->kind && ops[j]->root == op->root &&
					  ops[j]->done < ops[j]->count * mt__type_size(ops[j]->dtype);
			if (!blocked)
				moved += p2p_step(c, op);
			if (op->done < bytes)
				pending++;
		}
		if (moved) {
			mt__notify(c);
			deadline = mt__now() + mt__timeout_s();
		}
		if (!pending)
			return ncclSuccess;
		if (!moved) {
			ncclResult_t rc = mt__wait_change(c, seen, deadline);
			if (rc != ncclSuccess)
				return rc;
		}
	}
}
