/* simtrain distributed runtime, per-rank side: NCCL wrappers that count
 * every collective / p2p call (ncclGroupStart/End are not counted), and the
 * accounting of NCCL's own device buffers through the simnccl API. */
#include "tests/sim/simtrain/simtrain.h"
#include "tests/sim/simtrain/gpu.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void st_nccl(struct st_rank *r, ncclResult_t rc, const char *what)
{
	if (rc != ncclSuccess) {
		fprintf(stderr, "simtrain rank %d: %s failed: %s\n", r->rank, what, ncclGetErrorString(rc));
		exit(3);
	}
}

static ncclDataType_t dtype_of(int bytes)
{
	switch (bytes) {
	case 2: return ncclBfloat16;
	case 4: return ncclFloat32;
	case 8: return ncclInt64;
	default: return ncclUint8;
	}
}

void st_allreduce(struct st_rank *r, ncclComm_t c, uint64_t ptr, uint64_t count, int bytes)
{
	void *p = (void *)(uintptr_t)ptr;
	r->truth.ev.nccl++;
	st_nccl(r, ncclAllReduce(p, p, count, dtype_of(bytes), ncclSum, c, st_gpu_compute_stream()),
		"ncclAllReduce");
}

void st_reduce_scatter(struct st_rank *r, ncclComm_t c, uint64_t send, uint64_t recv, uint64_t recvcount, int bytes)
{
	r->truth.ev.nccl++;
	st_nccl(r, ncclReduceScatter((void *)(uintptr_t)send, (void *)(uintptr_t)recv, recvcount,
				     dtype_of(bytes), ncclSum, c, st_gpu_compute_stream()),
		"ncclReduceScatter");
}

void st_allgather(struct st_rank *r, ncclComm_t c, uint64_t send, uint64_t recv, uint64_t sendcount, int bytes)
{
	r->truth.ev.nccl++;
	st_nccl(r, ncclAllGather((void *)(uintptr_t)send, (void *)(uintptr_t)recv, sendcount,
				 dtype_of(bytes), c, st_gpu_compute_stream()),
		"ncclAllGather");
}

void st_send(struct st_rank *r, ncclComm_t c, int peer, uint64_t ptr, uint64_t bytes)
{
	r->truth.ev.nccl++;
	st_nccl(r, ncclSend((void *)(uintptr_t)ptr, bytes, ncclUint8, peer, c, st_gpu_compute_stream()),
		"ncclSend");
}

void st_recv(struct st_rank *r, ncclComm_t c, int peer, uint64_t ptr, uint64_t bytes)
{
	r->truth.ev.nccl++;
	st_nccl(r, ncclRecv((void *)(uintptr_t)ptr, bytes, ncclUint8, peer, c, st_gpu_compute_stream()),
		"ncclRecv");
}

/* All-to-all as DeepSpeed-Ulysses does it: one grouped send/recv per peer. */
void st_alltoall(struct st_rank *r, ncclComm_t c, int n, uint64_t send, uint64_t recv, uint64_t bytes_total)
{
	uint64_t chunk = bytes_total / (uint64_t)n;
	int p;
	st_nccl(r, ncclGroupStart(), "ncclGroupStart");
	for (p = 0; p < n; p++) {
		st_send(r, c, p, send + (uint64_t)p * chunk, chunk);
		st_recv(r, c, p, recv + (uint64_t)p * chunk, chunk);
	}
	st_nccl(r, ncclGroupEnd(), "ncclGroupEnd");
}

/* NCCL allocates its buffers inside ncclCommInitRank; the simulated NCCL
 * says which (tests/sim/nccl/simnccl.h).  Looked up with dlsym so that the
 * program also links against a real libnccl. */
void st_nccl_account(struct st_rank *r, ncclComm_t c, const char *name)
{
	typedef int (*bufs_fn)(ncclComm_t, unsigned long long *, size_t *, int);
	bufs_fn bufs = (bufs_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mt_sim_nccl_comm_buffers");
	unsigned long long ptrs[256];
	size_t sizes[256];
	int n, i;
	char nm[96];
	if (!bufs) {
		fprintf(stderr, "simtrain: mt_sim_nccl_comm_buffers not found: NCCL buffers not accounted\n");
		return;
	}
	n = bufs(c, ptrs, sizes, 256);
	for (i = 0; i < n && i < 256; i++) {
		snprintf(nm, sizeof nm, "nccl.%s.buffer.%d", name, i);
		r->truth.ev.alloc++;
		r->truth.nccl_comm_allocs++;
		r->truth.nccl_comm_bytes += sizes[i];
		st_truth_reserve(&r->truth, (int64_t)sizes[i]);
		st_truth_alloc(&r->truth, nm, ST_CAT_COMMUNICATION, -1, sizes[i], sizes[i], 1);
	}
}
