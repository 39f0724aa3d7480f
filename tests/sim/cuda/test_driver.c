/* test_driver.c - the simulated driver (libcuda.so.1) against ground truth.
 *
 * Expected values come from the documented model, computed here by hand:
 * allocations round to 512 bytes, VMM granularity is 2 MiB, a kernel takes
 * 3000 ns + threads/8 ns, capacities come from the environment set in main.
 * cuGetProcAddress is checked against dlsym of each symbol. */
#define _GNU_SOURCE
#include <cuda.h>

#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/sim/cuda/sim_procs.h"
#include "tests/sim/cuda/simcuda.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define CAPACITY GiB

static CUcontext ctx0;

static uint64_t used0(void)
{
	size_t free_b = 0, total = 0;
	assert_int_equal(cuMemGetInfo_v2(&free_b, &total), CUDA_SUCCESS);
	assert_int_equal(total, CAPACITY);
	assert_int_equal(total - free_b, mt_sim_device_used_bytes(0));
	return total - free_b;
}

static int setup(void **state)
{
	(void)state;
	return cuCtxSetCurrent(ctx0) == CUDA_SUCCESS ? 0 : -1;
}

static void test_device_query(void **state)
{
	int n = 0, v = 0;
	CUdevice d;
	size_t total = 0;
	char name[256];
	CUuuid u0, u1;
	(void)state;
	assert_int_equal(cuDeviceGetCount(&n), CUDA_SUCCESS);
	assert_int_equal(n, 2);
	assert_int_equal(cuDeviceGet(&d, 1), CUDA_SUCCESS);
	assert_int_equal(d, 1);
	assert_int_equal(cuDeviceGet(&d, 2), CUDA_ERROR_INVALID_DEVICE);
	assert_int_equal(cuDeviceTotalMem_v2(&total, 1), CUDA_SUCCESS);
	assert_int_equal(total, CAPACITY);
	assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0), CUDA_SUCCESS);
	assert_int_equal(v, 9);
	assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0), CUDA_SUCCESS);
	assert_int_equal(v, 0);
	assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0), CUDA_SUCCESS);
	assert_int_equal(v, 132);
	assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuDeviceGetName(name, sizeof(name), 0), CUDA_SUCCESS);
	assert_true(strlen(name) > 0);
	assert_int_equal(cuDeviceGetUuid_v2(&u0, 0), CUDA_SUCCESS);
	assert_int_equal(cuDeviceGetUuid_v2(&u1, 1), CUDA_SUCCESS);
	assert_memory_not_equal(u0.bytes, u1.bytes, sizeof(u0.bytes));
	assert_int_equal(cuDriverGetVersion(&v), CUDA_SUCCESS);
	assert_int_equal(v, 13000);
	assert_int_equal(cuCtxGetDevice(&d), CUDA_SUCCESS);
	assert_int_equal(d, 0);
}

static void test_alloc_accounting(void **state)
{
	CUdeviceptr a = 0, b = 0;
	uint64_t u = used0();
	unsigned char buf[1000], back[1000];
	size_t i;
	(void)state;
	assert_int_equal(cuMemAlloc_v2(&a, 1), CUDA_SUCCESS);
	assert_int_equal(used0(), u + 512);
	assert_int_equal(cuMemAlloc_v2(&b, 1000), CUDA_SUCCESS);
	assert_int_equal(used0(), u + 512 + 1024);
	assert_true(a >= MT_SIM_DEVICE_VA_BASE && a < MT_SIM_DEVICE_VA_BASE + MT_SIM_DEVICE_VA_STRIDE);
	assert_int_equal(a % 512, 0);
	assert_int_equal(b % 512, 0);
	assert_int_equal(mt_sim_device_of_ptr((void *)(uintptr_t)b), 0);
	assert_int_equal(mt_sim_device_of_ptr(buf), -1);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(cuMemcpyHtoD_v2(b, buf, sizeof(buf)), CUDA_SUCCESS);
	assert_int_equal(cuMemcpyDtoD_v2(b, b, 0), CUDA_SUCCESS);
	memset(back, 0, sizeof(back));
	assert_int_equal(cuMemcpyDtoH_v2(back, b, sizeof(back)), CUDA_SUCCESS);
	assert_memory_equal(buf, back, sizeof(buf));
	/* Past the end of the allocation (1024 taken) and into host memory. */
	assert_int_equal(cuMemcpyHtoD_v2(b + 512, buf, 1000), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemcpyHtoD_v2((CUdeviceptr)(uintptr_t)back, buf, 10), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemsetD32_v2(b, 0x01020304u, 256), CUDA_SUCCESS);
	assert_int_equal(cuMemcpyDtoH_v2(back, b, 8), CUDA_SUCCESS);
	assert_int_equal(((uint32_t *)back)[1], 0x01020304u);
	assert_int_equal(cuMemFree_v2(a), CUDA_SUCCESS);
	assert_int_equal(cuMemFree_v2(a), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemFree_v2(b + 512), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemFree_v2(b), CUDA_SUCCESS);
	assert_int_equal(cuMemAlloc_v2(&a, 0), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(used0(), u);
}

static void test_oom(void **state)
{
	CUdeviceptr p = 0x1234, big = 0;
	uint64_t u = used0();
	(void)state;
	assert_int_equal(cuMemAlloc_v2(&p, CAPACITY + 1), CUDA_ERROR_OUT_OF_MEMORY);
	assert_int_equal(p, 0x1234); /* untouched */
	assert_int_equal(used0(), u);
	assert_int_equal(cuMemAlloc_v2(&big, 768 * MiB), CUDA_SUCCESS);
	assert_int_equal(used0(), u + 768 * MiB);
	assert_int_equal(cuMemAlloc_v2(&p, 512 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
	assert_int_equal(p, 0x1234);
	assert_int_equal(used0(), u + 768 * MiB);
	/* Exactly the rest fits. */
	assert_int_equal(cuMemAlloc_v2(&p, CAPACITY - u - 768 * MiB), CUDA_SUCCESS);
	assert_int_equal(used0(), CAPACITY);
	assert_int_equal(cuMemFree_v2(p), CUDA_SUCCESS);
	assert_int_equal(cuMemFree_v2(big), CUDA_SUCCESS);
	assert_int_equal(used0(), u);
}

static long rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &rss), 2);
	fclose(f);
	return rss;
}

static void test_untouched_costs_no_rss(void **state)
{
	CUdeviceptr p;
	long before, after;
	long page = sysconf(_SC_PAGESIZE);
	(void)state;
	before = rss_pages();
	assert_int_equal(cuMemAlloc_v2(&p, 900 * MiB), CUDA_SUCCESS);
	assert_int_equal(cuMemsetD8_v2(p, 0xab, MiB), CUDA_SUCCESS); /* touch 1 MiB */
	after = rss_pages();
	assert_true((after - before) * page < (long)(16 * MiB));
	assert_int_equal(cuMemFree_v2(p), CUDA_SUCCESS);
}

static void test_async_pool(void **state)
{
	CUstream s;
	CUdeviceptr p = 0, q = 0;
	uint64_t u = used0();
	(void)state;
	assert_int_equal(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	assert_int_equal(cuMemAllocAsync(&p, 3 * MiB, s), CUDA_SUCCESS);
	assert_int_equal(cuMemAllocAsync(&q, 100, NULL), CUDA_SUCCESS);
	assert_int_equal(used0(), u + 3 * MiB + 512);
	assert_int_equal(mt_sim_pool_used_bytes(0), 3 * MiB + 512);
	assert_int_equal(cuMemAllocAsync(&p, CAPACITY, s), CUDA_ERROR_OUT_OF_MEMORY);
	assert_int_equal(cuMemFreeAsync(p, s), CUDA_SUCCESS);
	assert_int_equal(cuMemFreeAsync(p, s), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemFreeAsync(q, s), CUDA_SUCCESS);
	assert_int_equal(cuStreamSynchronize(s), CUDA_SUCCESS);
	assert_int_equal(mt_sim_pool_used_bytes(0), 0);
	assert_int_equal(used0(), u);
	assert_int_equal(cuStreamDestroy_v2(s), CUDA_SUCCESS);
}

static void test_vmm_cycle(void **state)
{
	CUmemAllocationProp prop;
	CUmemAccessDesc acc;
	CUmemGenericAllocationHandle h;
	CUdeviceptr va = 0;
	size_t g = 0;
	uint64_t u = used0(), u1 = mt_sim_device_used_bytes(1);
	unsigned char pat[4096], back[4096];
	size_t i;
	(void)state;
	memset(&prop, 0, sizeof(prop));
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = 1;
	assert_int_equal(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
	assert_int_equal(g, 2 * MiB);
	assert_int_equal(cuMemCreate(&h, 3 * MiB, &prop, 0), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemCreate(&h, 2 * CAPACITY, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
	assert_int_equal(cuMemCreate(&h, 4 * MiB, &prop, 0), CUDA_SUCCESS);
	/* Counted at creation, on the device of the handle. */
	assert_int_equal(mt_sim_device_used_bytes(1), u1 + 4 * MiB);
	assert_int_equal(used0(), u);
	assert_int_equal(cuMemAddressReserve(&va, 8 * MiB, 0, 0, 0), CUDA_SUCCESS);
	assert_true(va >= MT_SIM_VMM_VA_BASE && va < MT_SIM_VMM_VA_BASE + MT_SIM_VMM_VA_SIZE);
	assert_int_equal(va % (2 * MiB), 0);
	assert_int_equal(mt_sim_vmm_reserved_bytes(), 8 * MiB);
	assert_int_equal(mt_sim_device_used_bytes(1), u1 + 4 * MiB); /* VA is free */
	assert_int_equal(cuMemMap(va, 4 * MiB, 0, h, 0), CUDA_SUCCESS);
	assert_int_equal(cuMemMap(va + 2 * MiB, 2 * MiB, 0, h, 0), CUDA_ERROR_INVALID_VALUE); /* overlap */
	/* No access before cuMemSetAccess. */
	assert_int_equal(cuMemcpyHtoD_v2(va, pat, sizeof(pat)), CUDA_ERROR_INVALID_VALUE);
	acc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	acc.location.id = 1;
	acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	assert_int_equal(cuMemSetAccess(va, 4 * MiB, &acc, 1), CUDA_SUCCESS);
	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i ^ 0x5a);
	assert_int_equal(cuMemcpyHtoD_v2(va + 3 * MiB, pat, sizeof(pat)), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_of_ptr((void *)(uintptr_t)va), 1);
	assert_int_equal(cuMemUnmap(va, 2 * MiB), CUDA_ERROR_INVALID_VALUE); /* part of a mapping */
	assert_int_equal(cuMemUnmap(va, 4 * MiB), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_of_ptr((void *)(uintptr_t)va), -1);
	/* Same physical memory at another address keeps the bytes. */
	assert_int_equal(cuMemMap(va + 4 * MiB, 4 * MiB, 0, h, 0), CUDA_SUCCESS);
	assert_int_equal(cuMemSetAccess(va + 4 * MiB, 4 * MiB, &acc, 1), CUDA_SUCCESS);
	memset(back, 0, sizeof(back));
	assert_int_equal(cuMemcpyDtoH_v2(back, va + 7 * MiB, sizeof(back)), CUDA_SUCCESS);
	assert_memory_equal(pat, back, sizeof(pat));
	/* Released while mapped: memory stays until the unmap. */
	assert_int_equal(cuMemRelease(h), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_used_bytes(1), u1 + 4 * MiB);
	assert_int_equal(cuMemAddressFree(va, 8 * MiB), CUDA_ERROR_INVALID_VALUE); /* still mapped */
	assert_int_equal(cuMemUnmap(va + 4 * MiB, 4 * MiB), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_used_bytes(1), u1);
	assert_int_equal(cuMemAddressFree(va, 4 * MiB), CUDA_ERROR_INVALID_VALUE); /* not the reservation */
	assert_int_equal(cuMemAddressFree(va, 8 * MiB), CUDA_SUCCESS);
	assert_int_equal(mt_sim_vmm_reserved_bytes(), 0);
}

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static void test_getprocaddress(void **state)
{
	static const struct {
		const char *name, *symbol;
	} procs[] = {
#define ENTRY(n, sym, ver) { n, #sym },
		MT_SIM_DRIVER_PROCS(ENTRY)
#undef ENTRY
	};
	size_t i;
	void *fn;
	CUdriverProcAddressQueryResult st;
	getproc_fn gp = (getproc_fn)dlsym(RTLD_DEFAULT, "cuGetProcAddress_v2");
	CUresult (*ver)(int *);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*mfree)(CUdeviceptr);
	CUdeviceptr p;
	int v = 0;
	(void)state;
	assert_non_null(gp);
	assert_true(sizeof(procs) / sizeof(procs[0]) >= 60);
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		void *truth = dlsym(RTLD_DEFAULT, procs[i].symbol);
		assert_non_null(truth);
		fn = NULL;
		st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		assert_int_equal(gp(procs[i].name, &fn, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st), CUDA_SUCCESS);
		assert_int_equal(st, CU_GET_PROC_ADDRESS_SUCCESS);
		assert_ptr_equal(fn, truth);
		fn = NULL;
		assert_int_equal(gp(procs[i].symbol, &fn, 13000, 0, NULL), CUDA_SUCCESS);
		assert_ptr_equal(fn, truth);
	}
	/* Names the real runtime asks for, spelled its way. */
	assert_int_equal(gp("cuMemAlloc", &fn, 13000, 0, &st), CUDA_SUCCESS);
	assert_ptr_equal(fn, dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"));
	assert_int_equal(gp("cuLaunchKernel_ptsz", &fn, 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st),
			 CUDA_SUCCESS);
	assert_ptr_equal(fn, dlsym(RTLD_DEFAULT, "cuLaunchKernel"));
	assert_int_equal(gp("cuGetProcAddress", &fn, 11080, 0, &st), CUDA_SUCCESS);
	assert_ptr_equal(fn, dlsym(RTLD_DEFAULT, "cuGetProcAddress"));
	fn = (void *)1;
	assert_int_equal(gp("cuNoSuchFunction", &fn, 13000, 0, &st), CUDA_ERROR_NOT_FOUND);
	assert_int_equal(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
	assert_null(fn);
	assert_int_equal(gp("cuMemAllocAsync", &fn, 11000, 0, &st), CUDA_ERROR_NOT_FOUND);
	assert_int_equal(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	/* The pointers work. */
	assert_int_equal(gp("cuDriverGetVersion", (void **)&ver, 13000, 0, NULL), CUDA_SUCCESS);
	assert_int_equal(ver(&v), CUDA_SUCCESS);
	assert_int_equal(v, 13000);
	assert_int_equal(gp("cuMemAlloc", (void **)&alloc, 13000, 0, NULL), CUDA_SUCCESS);
	assert_int_equal(gp("cuMemFree", (void **)&mfree, 13000, 0, NULL), CUDA_SUCCESS);
	v = (int)mt_sim_device_alloc_count(0);
	assert_int_equal(alloc(&p, 4096), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_alloc_count(0), (uint64_t)v + 1);
	assert_int_equal(mfree(p), CUDA_SUCCESS);
	assert_int_equal(mt_sim_device_alloc_count(0), (uint64_t)v);
}

static void test_streams_events(void **state)
{
	CUmodule m;
	CUfunction f, g;
	CUstream s, s2;
	CUevent e0, e1, e2, enot, etiming;
	float ms = 0;
	const char *name;
	static const char image[] = "not a real cubin";
	(void)state;
	assert_int_equal(cuModuleLoadData(&m, image), CUDA_SUCCESS);
	assert_int_equal(cuModuleGetFunction(&f, m, "_Z2k1Pf"), CUDA_SUCCESS);
	assert_int_equal(cuModuleGetFunction(&g, m, "_Z2k2v"), CUDA_SUCCESS);
	assert_int_equal(cuFuncGetName(&name, f), CUDA_SUCCESS);
	assert_string_equal(name, "_Z2k1Pf");
	assert_int_equal(cuStreamCreate(&s, 0), CUDA_SUCCESS);
	assert_int_equal(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	assert_int_equal(cuEventCreate(&e0, 0), CUDA_SUCCESS);
	assert_int_equal(cuEventCreate(&e1, 0), CUDA_SUCCESS);
	assert_int_equal(cuEventCreate(&e2, 0), CUDA_SUCCESS);
	assert_int_equal(cuEventCreate(&enot, 0), CUDA_SUCCESS);
	assert_int_equal(cuEventCreate(&etiming, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);

	assert_int_equal(cuEventRecord(e0, s), CUDA_SUCCESS);
	/* 4 x 256 threads: 3000 + 1024/8 = 3128 ns; 1000 x 1000: 3000 + 125000. */
	assert_int_equal(cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, s, NULL, NULL), CUDA_SUCCESS);
	assert_int_equal(cuLaunchKernel(g, 1000, 1, 1, 1000, 1, 1, 0, s, NULL, NULL), CUDA_SUCCESS);
	assert_int_equal(cuEventRecord(e1, s), CUDA_SUCCESS);
	assert_int_equal(cuEventElapsedTime_v2(&ms, e0, e1), CUDA_SUCCESS);
	assert_float_equal(ms, 0.131128f, 1e-6f);
	/* s2 waits for e1, then runs one more 3128 ns kernel. */
	assert_int_equal(cuStreamWaitEvent(s2, e1, 0), CUDA_SUCCESS);
	assert_int_equal(cuLaunchKernel(f, 2, 2, 1, 16, 16, 1, 0, s2, NULL, NULL), CUDA_SUCCESS);
	assert_int_equal(cuEventRecord(e2, s2), CUDA_SUCCESS);
	assert_int_equal(cuEventElapsedTime_v2(&ms, e0, e2), CUDA_SUCCESS);
	assert_float_equal(ms, 0.134256f, 1e-6f);
	/* The legacy stream waits for the blocking stream s. */
	assert_true(mt_sim_stream_busy_ns(NULL) >= mt_sim_stream_busy_ns(s));
	assert_int_equal(mt_sim_launch_count("_Z2k1Pf"), 2);
	assert_int_equal(mt_sim_launch_count("_Z2k2v"), 1);

	assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuEventElapsedTime_v2(&ms, e0, enot), CUDA_ERROR_INVALID_HANDLE);
	assert_int_equal(cuEventRecord(etiming, s), CUDA_SUCCESS);
	assert_int_equal(cuEventElapsedTime_v2(&ms, e0, etiming), CUDA_ERROR_INVALID_HANDLE);
	assert_int_equal(cuEventQuery(e1), CUDA_SUCCESS);
	assert_int_equal(cuEventSynchronize(e1), CUDA_SUCCESS);
	assert_int_equal(cuStreamSynchronize(s), CUDA_SUCCESS);
	assert_int_equal(cuStreamQuery(s2), CUDA_SUCCESS);
	assert_int_equal(cuCtxSynchronize(), CUDA_SUCCESS);
	assert_int_equal(cuEventDestroy_v2(e0), CUDA_SUCCESS);
	assert_int_equal(cuEventDestroy_v2(e1), CUDA_SUCCESS);
	assert_int_equal(cuEventDestroy_v2(e2), CUDA_SUCCESS);
	assert_int_equal(cuEventDestroy_v2(enot), CUDA_SUCCESS);
	assert_int_equal(cuEventDestroy_v2(etiming), CUDA_SUCCESS);
	assert_int_equal(cuStreamDestroy_v2(s), CUDA_SUCCESS);
	assert_int_equal(cuStreamDestroy_v2(s2), CUDA_SUCCESS);
	assert_int_equal(cuModuleUnload(m), CUDA_SUCCESS);
}

static void test_host_and_managed(void **state)
{
	void *h = NULL;
	CUdeviceptr m;
	uint64_t u = used0(), pinned = mt_sim_host_pinned_bytes(), managed = mt_sim_managed_bytes();
	(void)state;
	assert_int_equal(cuMemHostAlloc(&h, 10000, CU_MEMHOSTALLOC_PORTABLE), CUDA_SUCCESS);
	assert_int_equal(mt_sim_host_pinned_bytes(), pinned + 10000);
	assert_int_equal(used0(), u);
	memset(h, 0x11, 10000);
	assert_int_equal(cuMemFreeHost(h), CUDA_SUCCESS);
	assert_int_equal(cuMemFreeHost(h), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(mt_sim_host_pinned_bytes(), pinned);
	assert_int_equal(cuMemAllocHost_v2(&h, 1), CUDA_SUCCESS);
	assert_int_equal(cuMemFreeHost(h), CUDA_SUCCESS);
	assert_int_equal(cuMemAllocManaged(&m, MiB, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
	assert_true(m >= MT_SIM_MANAGED_VA_BASE && m < MT_SIM_MANAGED_VA_BASE + MT_SIM_MANAGED_VA_SIZE);
	assert_int_equal(mt_sim_managed_bytes(), managed + MiB);
	assert_int_equal(used0(), u);
	((volatile char *)(uintptr_t)m)[MiB - 1] = 1; /* host-accessible */
	assert_int_equal(cuMemFree_v2(m), CUDA_SUCCESS);
	assert_int_equal(mt_sim_managed_bytes(), managed);
}

static void *no_ctx_thread(void *arg)
{
	CUdeviceptr p;
	(void)arg;
	return (void *)(intptr_t)cuMemAlloc_v2(&p, 16);
}

static void test_no_context(void **state)
{
	pthread_t t;
	void *rc;
	(void)state;
	assert_int_equal(pthread_create(&t, NULL, no_ctx_thread, NULL), 0);
	assert_int_equal(pthread_join(t, &rc), 0);
	assert_int_equal((intptr_t)rc, CUDA_ERROR_INVALID_CONTEXT);
}

#define NTHREADS 8
#define NPAIRS 10000

static void *stress_thread(void *arg)
{
	intptr_t id = (intptr_t)arg, bad = 0;
	int i;
	if (cuCtxSetCurrent(ctx0) != CUDA_SUCCESS)
		return (void *)1;
	for (i = 0; i < NPAIRS; i++) {
		CUdeviceptr p;
		size_t sz = (size_t)((i % 7) + 1) * 1000 + (size_t)id;
		if (cuMemAlloc_v2(&p, sz) != CUDA_SUCCESS) {
			bad++;
			continue;
		}
		((volatile unsigned char *)(uintptr_t)p)[sz - 1] = (unsigned char)id;
		if (((volatile unsigned char *)(uintptr_t)p)[sz - 1] != (unsigned char)id)
			bad++;
		if (cuMemFree_v2(p) != CUDA_SUCCESS)
			bad++;
	}
	return (void *)bad;
}

static void test_thread_stress(void **state)
{
	pthread_t t[NTHREADS];
	uint64_t u = used0(), n = mt_sim_device_alloc_count(0);
	intptr_t i;
	void *bad;
	(void)state;
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress_thread, (void *)i), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
	assert_int_equal(used0(), u);
	assert_int_equal(mt_sim_device_alloc_count(0), n);
}

static void test_fork_child(void **state)
{
	CUdeviceptr p, q;
	pid_t pid;
	int status = -1;
	uint64_t u = used0();
	static const char msg[] = "made by the parent";
	(void)state;
	assert_int_equal(cuMemAlloc_v2(&p, sizeof(msg)), CUDA_SUCCESS);
	assert_int_equal(cuMemcpyHtoD_v2(p, msg, sizeof(msg)), CUDA_SUCCESS);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char back[sizeof(msg)];
		int ok = cuMemcpyDtoH_v2(back, p, sizeof(msg)) == CUDA_SUCCESS && !memcmp(back, msg, sizeof(msg)) &&
			 cuMemAlloc_v2(&q, 5000) == CUDA_SUCCESS &&
			 mt_sim_device_used_bytes(0) == u + 512 + 5120 && cuMemFree_v2(q) == CUDA_SUCCESS &&
			 cuMemFree_v2(p) == CUDA_SUCCESS && mt_sim_device_used_bytes(0) == u;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's model is its own copy. */
	assert_int_equal(used0(), u + 512);
	assert_int_equal(cuMemFree_v2(p), CUDA_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_device_query, setup),
		cmocka_unit_test_setup(test_alloc_accounting, setup),
		cmocka_unit_test_setup(test_oom, setup),
		cmocka_unit_test_setup(test_untouched_costs_no_rss, setup),
		cmocka_unit_test_setup(test_async_pool, setup),
		cmocka_unit_test_setup(test_vmm_cycle, setup),
		cmocka_unit_test_setup(test_getprocaddress, setup),
		cmocka_unit_test_setup(test_streams_events, setup),
		cmocka_unit_test_setup(test_host_and_managed, setup),
		cmocka_unit_test_setup(test_no_context, setup),
		cmocka_unit_test_setup(test_thread_stress, setup),
		cmocka_unit_test_setup(test_fork_child, setup),
	};
	CUdeviceptr p;
	/* The model reads its configuration at first use. */
	setenv("MT_SIM_DEVICES", "2", 1);
	setenv("MT_SIM_DEVICE_MEMORY", "1GiB", 1);
	unsetenv("MT_SIM_TIME_SCALE");
	unsetenv("MT_SIM_ALLOC_GRANULARITY");
	if (cuMemAlloc_v2(&p, 1) != CUDA_ERROR_NOT_INITIALIZED) {
		fprintf(stderr, "cuMemAlloc before cuInit did not answer CUDA_ERROR_NOT_INITIALIZED\n");
		return 1;
	}
	if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx0, 0) != CUDA_SUCCESS)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
