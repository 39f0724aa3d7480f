/* simtrain device layer: see gpu.h. */
#include "tests/sim/simtrain/gpu.h"
#include "tests/sim/simtrain/kernels.h"

#include <cuda_runtime_api.h>
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
