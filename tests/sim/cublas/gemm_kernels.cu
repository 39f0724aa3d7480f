/* Kernels of the simulated cuBLAS (names in gemm_kernels.h).  They do no
 * work; the simulated driver gives them time.  Built by nvcc -cudart shared
 * into libcublas.so.13, so that nvcc's registration code
 * (__cudaRegisterFatBinary / __cudaRegisterFunction) runs when the library
 * is loaded and every GEMM is a cudaLaunchKernel called from inside the
 * library, as with real cuBLAS. */
#include <cuda_runtime.h>
#include "gemm_kernels.h"

#define SCB_DEF(fam, ly) extern "C" __global__ void SIMCUBLAS_NAME(fam, ly)() {}
SIMCUBLAS_KERNEL_LIST(SCB_DEF)
#undef SCB_DEF

#define SCB_AUX_DEF(id, name) extern "C" __global__ void name() {}
SIMCUBLAS_AUX_LIST(SCB_AUX_DEF)
#undef SCB_AUX_DEF

static const void *const aux_fn[SCB_K__NAUX] = {
#define SCB_AUX_FN(id, name) (const void *)name,
	SIMCUBLAS_AUX_LIST(SCB_AUX_FN)
#undef SCB_AUX_FN
};

#define SCB_STR2(x) #x
#define SCB_STR(x) SCB_STR2(x)

static const void *const kernel_fn[SIMCUBLAS_NKERNELS] = {
#define SCB_FN(fam, ly) (const void *)SIMCUBLAS_NAME(fam, ly),
	SIMCUBLAS_KERNEL_LIST(SCB_FN)
#undef SCB_FN
};

static const char *const kernel_names[SIMCUBLAS_NKERNELS] = {
#define SCB_NM(fam, ly) SCB_STR(SIMCUBLAS_NAME(fam, ly)),
	SIMCUBLAS_KERNEL_LIST(SCB_NM)
#undef SCB_NM
};

extern "C" const char *simcublas_kernel_name(int idx)
{
	return idx >= 0 && idx < SIMCUBLAS_NKERNELS ? kernel_names[idx] : "?";
}

extern "C" int simcublas_launch(int idx, unsigned gx, unsigned gy, unsigned gz, unsigned block, void *stream)
{
	void *args[1] = {0};
	if (idx < 0 || idx >= SIMCUBLAS_NKERNELS)
		return (int)cudaErrorInvalidDeviceFunction;
	return (int)cudaLaunchKernel(kernel_fn[idx], dim3(gx, gy, gz), dim3(block), args, 0,
				     (cudaStream_t)stream);
}

extern "C" int simcublas_launch_aux(int id, unsigned blocks, unsigned threads, void *stream)
{
	void *args[1] = {0};
	if (id < 0 || id >= SCB_K__NAUX)
		return (int)cudaErrorInvalidDeviceFunction;
	return (int)cudaLaunchKernel(aux_fn[id], dim3(blocks ? blocks : 1), dim3(threads), args, 0, (cudaStream_t)stream);
}
