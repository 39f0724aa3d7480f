/* Shared by the cmocka tests of the simulated libraries (tests/sim/cublas,
 * cublaslt, cudnn): they are linked against the REAL libraries and reach
 * the simulation's ground truth by dlsym. */
#ifndef MT_SIM_TEST_H
#define MT_SIM_TEST_H

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* name in lib (a dlopen handle or RTLD_DEFAULT); aborts when missing. */
static inline void *mt_sim_test_sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "missing %s: %s\n", name, dlerror());
		abort();
	}
	return p;
}

/* Device 0 current with its context, and the simulated driver the runtime
 * loaded (for its mt_sim_* functions); NULL on failure. */
static inline void *mt_sim_test_driver(void)
{
	if (cudaSetDevice(0) != cudaSuccess || cudaFree(NULL) != cudaSuccess)
		return NULL;
	return dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
}

#endif
