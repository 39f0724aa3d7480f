/* Kernels of the simulated cuDNN (names in cudnn_kernels.h).  They do no
 * work.  Built by nvcc -cudart shared into libcudnn.so.9, so nvcc's
 * registration runs when the library loads and every launch is a
 * cudaLaunchKernel from inside the library. */
#include <cuda_runtime.h>
#include "cudnn_kernels.h"

#define SCD_DEF(id, name) extern "C" __global__ void name() {}
SIMCUDNN_KERNEL_LIST(SCD_DEF)
#undef SCD_DEF

static const void *const kernel_fn[SCD_K__N] = {
#define SCD_FN(id, name) (const void *)name,
	SIMCUDNN_KERNEL_LIST(SCD_FN)
#undef SCD_FN
};

extern "C" int simcudnn_launch(int idx, unsigned blocks, void *stream)
{
	void *args[1] = {0};
	if (idx < 0 || idx >= SCD_K__N)
		return (int)cudaErrorInvalidDeviceFunction;
	return (int)cudaLaunchKernel(kernel_fn[idx], dim3(blocks), dim3(128), args, 0, (cudaStream_t)stream);
}
