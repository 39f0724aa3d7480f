/* simtrain device layer: the only file that calls the CUDA runtime (through
 * its dynamic symbols).  Device allocations, pinned host memory, copies,
 * streams and kernel launches. */
#ifndef ST_GPU_H
#define ST_GPU_H

#include <stddef.h>
#include <stdint.h>

/* Selects device dev for this process; 0 or a CUDA error code. */
int st_gpu_init(int dev);
/* cudaMalloc; 0 on success, non-zero when the device is full. */
int st_gpu_malloc(size_t size, uint64_t *ptr);
void st_gpu_free(uint64_t ptr);
/* cudaMallocHost / cudaFreeHost (pinned host memory). */
void *st_gpu_malloc_host(size_t size);
void st_gpu_free_host(void *p);
/* Async copies on the compute stream. */
void st_gpu_h2d(uint64_t dst, const void *src, size_t n);
void st_gpu_d2h(void *dst, uint64_t src, size_t n);
void st_gpu_sync(void);
/* Total device memory (cudaMemGetInfo), 0 if unknown. */
uint64_t st_gpu_total(void);
/* Stream handles: compute (the legacy default stream) and communication. */
void *st_gpu_compute_stream(void);
void *st_gpu_comm_stream(void);
/* Launches kernel k (enum st_kernel); aborts on a launch error. */
void st_gpu_launch(int k, unsigned grid);

/* cuBLAS (the process's one handle, created at the first GEMM on the
 * compute stream, never destroyed, as PyTorch's handle pool does).
 * C = op(A) op(B), m x n, inner k, batch > 1: strided batched.  bf16: bf16
 * operands (else fp32), fp32 compute.  Returns 0, or 1 when cuBLAS could not
 * allocate its workspace (CUBLAS_STATUS_ALLOC_FAILED); aborts otherwise. */
int st_gpu_gemm(int op, uint64_t m, uint64_t n, uint64_t k, uint64_t batch, int bf16);
/* Ground truth from the simulated cuBLAS (tests/sim/cublas/simcublas.h),
 * looked up with dlsym; -1 / 0 when the library is not the stand-in. */
int st_gpu_blas_workspaces(unsigned long long *ptrs, size_t *sizes, int max);
uint64_t st_gpu_blas_launches(void);
size_t st_gpu_blas_default_workspace(void);

#endif
