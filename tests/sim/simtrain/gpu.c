/* simtrain device layer: see gpu.h. */
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/kernels.h"
#include "tests/sim/simtrain/simtrain.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static cudaStream_t comm_stream;

static void check(cudaError_t e, const char *what)
{
	if (e != cudaSuccess) {
		fprintf(stderr, "simtrain: %s failed: %s (%d)\n", what, cudaGetErrorString(e), (int)e);
		exit(2);
	}
}

int st_gpu_init(int dev)
{
	cudaError_t e = cudaSetDevice(dev);
	if (e != cudaSuccess)
		return (int)e;
	e = cudaStreamCreateWithFlags(&comm_stream, cudaStreamNonBlocking);
	return (int)e;
}

int st_gpu_malloc(size_t size, uint64_t *ptr)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, size);
	if (e == cudaErrorMemoryAllocation) {
		(void)cudaGetLastError(); /* clear the sticky last error, as PyTorch does */
		return 1;
	}
	check(e, "cudaMalloc");
	*ptr = (uint64_t)(uintptr_t)p;
	return 0;
}

void st_gpu_free(uint64_t ptr)
{
	check(cudaFree((void *)(uintptr_t)ptr), "cudaFree");
}

void *st_gpu_malloc_host(size_t size)
{
	void *p = NULL;
	check(cudaMallocHost(&p, size ? size : 1), "cudaMallocHost");
	return p;
}

void st_gpu_free_host(void *p)
{
	check(cudaFreeHost(p), "cudaFreeHost");
}

void st_gpu_h2d(uint64_t dst, const void *src, size_t n)
{
	check(cudaMemcpyAsync((void *)(uintptr_t)dst, src, n, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync");
}

void st_gpu_d2h(void *dst, uint64_t src, size_t n)
{
	check(cudaMemcpyAsync(dst, (const void *)(uintptr_t)src, n, cudaMemcpyDeviceToHost, 0), "cudaMemcpyAsync");
}

void st_gpu_sync(void)
{
	check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

uint64_t st_gpu_total(void)
{
	size_t fr = 0, tot = 0;
	if (cudaMemGetInfo(&fr, &tot) != cudaSuccess)
		return 0;
	return tot;
}

void *st_gpu_compute_stream(void)
{
	return NULL;
}

void *st_gpu_comm_stream(void)
{
	return comm_stream;
}

void st_gpu_launch(int k, unsigned grid)
{
	int e = st_kernel_launch(k, grid, NULL);
	if (e != 0)
		check((cudaError_t)e, "cudaLaunchKernel");
}

/* ------------------------------------------------------------- cuBLAS */

static cublasHandle_t blas;

int st_gpu_gemm(int op, uint64_t m, uint64_t n, uint64_t k, uint64_t batch, int bf16)
{
	static const float one = 1.0f, zero = 0.0f;
	cublasOperation_t ta = op == ST_GEMM_TN ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasOperation_t tb = op == ST_GEMM_NT ? CUBLAS_OP_T : CUBLAS_OP_N;
	cudaDataType dt = bf16 ? CUDA_R_16BF : CUDA_R_32F;
	int im = (int)m, in = (int)n, ik = (int)k;
	cublasStatus_t st;
	if (!blas) {
		if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(blas, NULL) != CUBLAS_STATUS_SUCCESS) {
			fprintf(stderr, "simtrain: cublasCreate failed\n");
			exit(2);
		}
	}
	if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff || batch > 0x7fffffff) {
		fprintf(stderr, "simtrain: GEMM too large (%llu x %llu x %llu)\n", (unsigned long long)m,
			(unsigned long long)n, (unsigned long long)k);
		exit(2);
	}
	/* operands: NULL (the kernels do no math); leading dimensions as packed */
	if (batch > 1)
		st = cublasGemmStridedBatchedEx(blas, ta, tb, im, in, ik, &one, NULL, dt, ta == CUBLAS_OP_N ? im : ik,
						(long long)m * (long long)k, NULL, dt, tb == CUBLAS_OP_N ? ik : in,
						(long long)k * (long long)n, &zero, NULL, dt, im, (long long)m * (long long)n,
						(int)batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	else
		st = cublasGemmEx(blas, ta, tb, im, in, ik, &one, NULL, dt, ta == CUBLAS_OP_N ? im : ik, NULL, dt,
				  tb == CUBLAS_OP_N ? ik : in, &zero, NULL, dt, im, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	if (st == CUBLAS_STATUS_ALLOC_FAILED)
		return 1;
	if (st != CUBLAS_STATUS_SUCCESS) {
		fprintf(stderr, "simtrain: cuBLAS GEMM failed: %s\n", cublasGetStatusName(st));
		exit(2);
	}
	return 0;
}

static void *blas_sym(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	static int warned;
	if (!p && !warned) {
		warned = 1;
		fprintf(stderr, "simtrain: %s not found (not the simulated cuBLAS): workspace and cuBLAS "
			"kernels not in the truth\n", name);
	}
	return p;
}

int st_gpu_blas_workspaces(unsigned long long *ptrs, size_t *sizes, int max)
{
	typedef int (*fn_t)(cublasHandle_t, unsigned long long *, size_t *, int);
	static fn_t fn;
	if (!fn)
		fn = (fn_t)(uintptr_t)blas_sym("mt_sim_cublas_handle_workspaces");
	return fn && blas ? fn(blas, ptrs, sizes, max) : -1;
}

uint64_t st_gpu_blas_launches(void)
{
	typedef uint64_t (*fn_t)(void);
	static fn_t fn;
	if (!fn)
		fn = (fn_t)(uintptr_t)blas_sym("mt_sim_cublas_launch_count");
	return fn ? fn() : 0;
}

size_t st_gpu_blas_default_workspace(void)
{
	typedef size_t (*fn_t)(void);
	static fn_t fn;
	if (!fn)
		fn = (fn_t)(uintptr_t)blas_sym("mt_sim_cublas_default_workspace_bytes");
	return fn ? fn() : 0;
}
