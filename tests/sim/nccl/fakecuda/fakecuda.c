/* A tiny stand-in libcuda.so.1 for the simulated NCCL's tests only: it
 * exports cuGetProcAddress_v2 and the few driver calls NCCL asks it for, hands
 * out malloc'ed memory as device memory, and counts allocations so that a
 * test can check what NCCL allocated without trusting NCCL's own count. */
#include <cuda.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static atomic_long n_alloc, n_free, bytes_live, bytes_total;
static int ctx_current;

EXPORT long fakecuda_stat(int which);
EXPORT long fakecuda_stat(int which)
{
	switch (which) {
	case 0: return atomic_load(&n_alloc);
	case 1: return atomic_load(&n_free);
	case 2: return atomic_load(&bytes_live);
	case 3: return atomic_load(&bytes_total);
	default: return -1;
	}
}

static CUresult f_init(unsigned int flags) { (void)flags; return CUDA_SUCCESS; }
static CUresult f_devget(CUdevice *d, int ord) { *d = ord; return CUDA_SUCCESS; }
static CUresult f_retain(CUcontext *c, CUdevice d) { *c = (CUcontext)(uintptr_t)(0x1000 + d); return CUDA_SUCCESS; }
static CUresult f_ctxset(CUcontext c) { ctx_current = c != NULL; return CUDA_SUCCESS; }
static CUresult f_ctxget(CUcontext *c) { *c = ctx_current ? (CUcontext)(uintptr_t)0x1000 : NULL; return CUDA_SUCCESS; }
static CUresult f_ctxdev(CUdevice *d) { *d = 0; return ctx_current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }

static CUresult f_alloc(CUdeviceptr *p, size_t n)
{
	if (!ctx_current)
		return CUDA_ERROR_INVALID_CONTEXT;
	size_t *b = malloc(n + 16);
	if (!b)
		return CUDA_ERROR_OUT_OF_MEMORY;
	b[0] = n;
	*p = (CUdeviceptr)(uintptr_t)(b + 2);
	atomic_fetch_add(&n_alloc, 1);
	atomic_fetch_add(&bytes_live, (long)n);
	atomic_fetch_add(&bytes_total, (long)n);
	return CUDA_SUCCESS;
}

static CUresult f_free(CUdeviceptr p)
{
	size_t *b = (size_t *)(uintptr_t)p - 2;
	atomic_fetch_add(&n_free, 1);
	atomic_fetch_sub(&bytes_live, (long)b[0]);
	free(b);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
				    cuuint64_t flags, CUdriverProcAddressQueryResult *status);
EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
				    cuuint64_t flags, CUdriverProcAddressQueryResult *status)
{
	static const struct { const char *name; void *fn; } tab[] = {
		{ "cuInit", (void *)f_init }, { "cuDeviceGet", (void *)f_devget },
		{ "cuDevicePrimaryCtxRetain", (void *)f_retain }, { "cuCtxSetCurrent", (void *)f_ctxset },
		{ "cuCtxGetCurrent", (void *)f_ctxget }, { "cuCtxGetDevice", (void *)f_ctxdev },
		{ "cuMemAlloc", (void *)f_alloc }, { "cuMemFree", (void *)f_free },
	};
	(void)cudaVersion;
	(void)flags;
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(symbol, tab[i].name) == 0) {
			*pfn = tab[i].fn;
			if (status)
				*status = CU_GET_PROC_ADDRESS_SUCCESS;
			return CUDA_SUCCESS;
		}
	*pfn = NULL;
	if (status)
		*status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	return CUDA_ERROR_NOT_FOUND;
}
