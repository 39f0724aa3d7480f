/* simnccl.h: ground-truth queries of the simulated NCCL (libnccl.so.2 built
 * in tests/sim/nccl).  They are not part of NCCL; a workload that wants to
 * record what the communication library allocated calls them after
 * ncclCommInitRank, so that nothing has to be guessed.
 *
 * Build with -I$(top_srcdir) and include "tests/sim/nccl/simnccl.h"; link
 * tests/sim/nccl/libnccl.la (or -Ltests/sim/nccl/.libs -lnccl).
 * All functions are thread-safe for a live communicator and return 0 for
 * NULL. */
#ifndef MT_SIM_NCCL_H
#define MT_SIM_NCCL_H

#include <stddef.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of device memory the communicator allocated through the driver
 * (cuMemAlloc_v2): nchannels * (nranks - 1) * NCCL_BUFFSIZE + work FIFO. */
size_t mt_sim_nccl_comm_buffer_bytes(ncclComm_t comm);

/* Number of cuMemAlloc_v2 calls that made those bytes, all still live. */
int mt_sim_nccl_comm_buffer_count(ncclComm_t comm);

/* Copy up to max (device pointer, size) pairs, in allocation order, into
 * ptrs[] and sizes[] (either may be NULL); returns the total count. */
int mt_sim_nccl_comm_buffers(ncclComm_t comm, unsigned long long *ptrs, size_t *sizes, int max);

/* Every communicator of the calling process together: live bytes of NCCL
 * device buffers, the highest live bytes so far, and cuMemAlloc_v2 calls. */
size_t mt_sim_nccl_process_buffer_bytes(void);
size_t mt_sim_nccl_process_buffer_peak(void);
unsigned long long mt_sim_nccl_process_buffer_allocs(void);

#ifdef __cplusplus
}
#endif
#endif
