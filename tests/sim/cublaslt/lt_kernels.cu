/* The split-K reduction kernel of the simulated cuBLASLt (the GEMM kernels
 * are tests/sim/cublas/gemm_kernels.cu, built again into this library so
 * that its launches come from libcublasLt.so.13).  Does no work. */
#include <cuda_runtime.h>
#include "tests/sim/cublaslt/simcublaslt.h"

extern "C" __global__ void splitKreduce_kernel() {}

extern "C" int simcublaslt_launch_reduce(unsigned blocks, void *stream)
{
	void *args[1] = {0};
	return (int)cudaLaunchKernel((const void *)splitKreduce_kernel, dim3(blocks ? blocks : 1), dim3(256), args, 0,
				     (cudaStream_t)stream);
}
