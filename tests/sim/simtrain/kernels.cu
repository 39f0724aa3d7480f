/* simtrain kernels: they do nothing; the simulated runtime gives them time.
 * Compiled by nvcc -cudart shared: nvcc registers them with
 * __cudaRegisterFatBinary/__cudaRegisterFunction at load time.  They are
 * launched with an explicit cudaLaunchKernel(&kernel, ...) rather than
 * <<<>>>: since CUDA 13, <<<>>> compiles to the private __cudaLaunchKernel,
 * while frameworks' launches (and what the collector hooks) go through the
 * public dynamic cudaLaunchKernel symbol. */
#include <cuda_runtime.h>
#include "kernels.h"

#define ST_K_DEF(n) __global__ void n() {}
ST_KERNEL_LIST(ST_K_DEF)
#undef ST_K_DEF

extern "C" int st_kernel_launch(int k, unsigned grid, void *stream)
{
	cudaStream_t s = (cudaStream_t)stream;
	const void *fn;
	void *args[1] = {0};
	if (grid == 0)
		grid = 1;
	switch (k) {
#define ST_K_CASE(n) case K_##n: fn = (const void *)n; break;
	ST_KERNEL_LIST(ST_K_CASE)
#undef ST_K_CASE
	default:
		return (int)cudaErrorInvalidValue;
	}
	return (int)cudaLaunchKernel(fn, dim3(grid), dim3(256), args, 0, s);
}
