/* simcublaslt.h: ground-truth queries of the simulated cuBLASLt
 * (libcublasLt.so.13 built in tests/sim/cublaslt).  Not part of cuBLASLt;
 * reach them with dlsym(RTLD_DEFAULT, "mt_sim_cublaslt_...") or ctypes.
 * Thread-safe. */
#ifndef MT_SIM_CUBLASLT_H
#define MT_SIM_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cublasLtMatmul calls accepted, and the kernels they launched. */
uint64_t mt_sim_cublaslt_matmul_count(void);
uint64_t mt_sim_cublaslt_launch_count(void);
/* The largest workspace an algorithm of a cublasLtMatmul call needed. */
uint64_t mt_sim_cublaslt_workspace_max_used(void);
/* The distinct (pointer, size) workspaces callers passed to cublasLtMatmul,
 * in first-use order: up to max into ptrs[] / sizes[]; returns the count.
 * The library allocates none itself. */
int mt_sim_cublaslt_workspaces(unsigned long long *ptrs, size_t *sizes, int max);

/* Internal: launches the split-K reduction kernel (lt_kernels.cu). */
int simcublaslt_launch_reduce(unsigned blocks, void *stream) __attribute__((visibility("hidden")));

#ifdef __cplusplus
}
#endif
#endif
