/* simcublas.h: ground-truth queries of the simulated cuBLAS (libcublas.so.13
 * built in tests/sim/cublas).  They are not part of cuBLAS: a workload that
 * must record what the library allocated and launched asks here instead of
 * guessing.  A program linked against the real libcublas (as simtrain is)
 * reaches them with dlsym(RTLD_DEFAULT, "mt_sim_cublas_...").
 *
 * Include with -I$(top_srcdir): #include "tests/sim/cublas/simcublas.h".
 * All functions are thread-safe. */
#ifndef MT_SIM_CUBLAS_H
#define MT_SIM_CUBLAS_H

#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The first members of a cuBLAS handle.  cuBLAS documents that a
 * cublasHandle_t may be used as a cublasLtHandle_t (PyTorch casts it), so
 * the simulated cuBLASLt reads these from either kind of handle. */
struct mt_sim_blas_head {
	unsigned magic; /* MT_SIM_CUBLAS_MAGIC or MT_SIM_CUBLASLT_MAGIC */
	int device;     /* the current device at create */
};
#define MT_SIM_CUBLAS_MAGIC 0x6375626cu   /* "cubl" */
#define MT_SIM_CUBLASLT_MAGIC 0x63626c74u /* "cblt" */

/* Bytes of one default workspace as the library would allocate it now for
 * the calling thread's current device: CUBLAS_WORKSPACE_CONFIG if set and
 * valid, else 32 MiB (":4096:8") on compute capability 9.x and
 * 8,519,680 B (":4096:2:16:8") on others. */
size_t mt_sim_cublas_default_workspace_bytes(void);

/* Process-wide counters since load: cudaMalloc calls the library made for
 * default workspaces, the cudaFree calls that released them, and the bytes
 * still live. */
uint64_t mt_sim_cublas_workspace_allocs(void);
uint64_t mt_sim_cublas_workspace_frees(void);
uint64_t mt_sim_cublas_workspace_bytes(void);

/* The live default workspaces of handle h, in allocation order: up to max
 * (device pointer, size) pairs into ptrs[] / sizes[] (either may be NULL).
 * Returns the total count, or -1 for an invalid handle. */
int mt_sim_cublas_handle_workspaces(cublasHandle_t h, unsigned long long *ptrs, size_t *sizes, int max);

/* The distinct (pointer, size) buffers callers gave with cublasSetWorkspace
 * (PyTorch gives memory of its caching allocator), in first-use order: up
 * to max into ptrs[] / sizes[] (either may be NULL).  Returns the count. */
int mt_sim_cublas_user_workspaces(unsigned long long *ptrs, size_t *sizes, int max);

/* Kernels the library launched (cudaLaunchKernel calls that succeeded). */
uint64_t mt_sim_cublas_launch_count(void);

#ifdef __cplusplus
}
#endif
#endif
