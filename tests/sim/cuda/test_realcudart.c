/* test_realcudart.c - a program linked against the REAL libcudart.so.13
 * (-L$CUDA_DIR/lib64 -lcudart), run by test_realcudart.sh with
 * LD_LIBRARY_PATH on the stand-ins, MT_SIM_DEVICES=2 and
 * MT_SIM_DEVICE_MEMORY=256MiB.  Expected values are the CUDA API's documented
 * codes and the sizes the model documents (512-byte rounding, 3000 ns +
 * threads/8 per kernel), computed here. */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <fatbinary_section.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MiB (1ULL << 20)
#define CAPACITY (256 * MiB)
#define STANDIN_DIR "/tests/sim/cuda/.libs/"

/* Registration entry points of the runtime, as nvcc-generated code calls
 * them (declared in C++-only toolkit headers). */
void **__cudaRegisterFatBinary(void *fatCubin);
void __cudaRegisterFatBinaryEnd(void **fatCubinHandle);
void __cudaUnregisterFatBinary(void **fatCubinHandle);
void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun, const char *deviceName,
			    int thread_limit, uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize);

static void fake_stub(void)
{
}

static void unregistered_stub(void)
{
}

static const unsigned long long fake_fatbin[4] = { 0x00100001ba55ed50ULL, 0, 0, 0 };
static __fatBinC_Wrapper_t fake_wrapper = { FATBINC_MAGIC, 1, fake_fatbin, NULL };
static void **fatbin_handle;

static size_t used_bytes(void)
{
	size_t free_b = 0, total = 0;
	assert_int_equal(cudaMemGetInfo(&free_b, &total), cudaSuccess);
	assert_int_equal(total, CAPACITY);
	return total - free_b;
}

static void test_loaded_is_standin(void **state)
{
	char line[4096];
	int rt = 0, drv = 0, real = 0;
	Dl_info info;
	FILE *f;
	(void)state;
	assert_int_equal(cudaFree(NULL), cudaSuccess); /* initialises: libcuda is loaded */
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "libcudart.so")) {
			if (strstr(line, STANDIN_DIR))
				rt = 1;
			else
				real = 1;
		}
		if (strstr(line, "libcuda.so") && strstr(line, STANDIN_DIR))
			drv = 1;
	}
	fclose(f);
	assert_true(rt);
	assert_false(real);
	assert_true(drv);
	assert_true(dladdr((void *)cudaMalloc, &info));
	assert_non_null(strstr(info.dli_fname, STANDIN_DIR));
}

static void test_device_properties(void **state)
{
	int n = 0, v = 0, dev = -1;
	struct cudaDeviceProp p;
	(void)state;
	assert_int_equal(cudaGetDeviceCount(&n), cudaSuccess);
	assert_int_equal(n, 2);
	assert_int_equal(cudaGetDeviceProperties(&p, 1), cudaSuccess);
	assert_int_equal(p.major, 9);
	assert_int_equal(p.minor, 0);
	assert_int_equal(p.totalGlobalMem, CAPACITY);
	assert_int_equal(p.multiProcessorCount, 132);
	assert_int_equal(p.warpSize, 32);
	assert_int_equal(p.maxThreadsPerBlock, 1024);
	assert_int_equal(p.maxThreadsDim[2], 64);
	assert_int_equal(p.unifiedAddressing, 1);
	assert_true(strlen(p.name) > 0);
	assert_int_equal(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
	assert_int_equal(v, 9);
	assert_int_equal(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
	assert_int_equal(v, 132);
	assert_int_equal(cudaGetDevice(&dev), cudaSuccess);
	assert_int_equal(dev, 0);
	assert_int_equal(cudaSetDevice(2), cudaErrorInvalidDevice);
	assert_int_equal(cudaPeekAtLastError(), cudaErrorInvalidDevice);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidDevice);
	assert_int_equal(cudaGetLastError(), cudaSuccess);
	assert_int_equal(cudaSetDevice(1), cudaSuccess);
	assert_int_equal(cudaGetDevice(&dev), cudaSuccess);
	assert_int_equal(dev, 1);
	assert_int_equal(cudaSetDevice(0), cudaSuccess);
	assert_int_equal(cudaRuntimeGetVersion(&v), cudaSuccess);
	assert_int_equal(v, 13000);
	assert_int_equal(cudaDriverGetVersion(&v), cudaSuccess);
	assert_int_equal(v, 13000);
}

static void test_alloc_copy_roundtrip(void **state)
{
	void *d = NULL, *d2 = NULL, *pd = NULL;
	size_t u = used_bytes(), pitch = 0, i;
	static unsigned char src[MiB + 1], dst[MiB + 1];
	(void)state;
	assert_int_equal(cudaMalloc(&d, MiB + 1), cudaSuccess);
	assert_int_equal(used_bytes(), u + MiB + 512);
	assert_int_equal(cudaMalloc(&d2, MiB + 1), cudaSuccess);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 131 + 7);
	assert_int_equal(cudaMemcpy(d, src, sizeof(src), cudaMemcpyHostToDevice), cudaSuccess);
	assert_int_equal(cudaMemcpy(d2, d, sizeof(src), cudaMemcpyDeviceToDevice), cudaSuccess);
	memset(dst, 0, sizeof(dst));
	assert_int_equal(cudaMemcpy(dst, d2, sizeof(dst), cudaMemcpyDeviceToHost), cudaSuccess);
	assert_memory_equal(src, dst, sizeof(src));
	assert_int_equal(cudaMemset(d, 0x7e, 100), cudaSuccess);
	assert_int_equal(cudaMemcpy(dst, d, 101, cudaMemcpyDefault), cudaSuccess);
	assert_int_equal(dst[99], 0x7e);
	assert_int_equal(dst[100], src[100]);
	/* A host pointer as the device side of a H2D copy. */
	assert_int_equal(cudaMemcpy(dst, src, 10, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidValue);
	assert_int_equal(cudaMemcpy(d, src, 10, (enum cudaMemcpyKind)7), cudaErrorInvalidMemcpyDirection);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidMemcpyDirection);
	assert_int_equal(cudaFree(d), cudaSuccess);
	assert_int_equal(cudaFree(d2), cudaSuccess);
	assert_int_equal(cudaFree(d), cudaErrorInvalidValue);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidValue);
	assert_int_equal(used_bytes(), u);
	/* 100 bytes wide: 512-byte pitch; 10 rows: 5120 bytes. */
	assert_int_equal(cudaMallocPitch(&pd, &pitch, 100, 10), cudaSuccess);
	assert_int_equal(pitch, 512);
	assert_int_equal(used_bytes(), u + 5120);
	assert_int_equal(cudaFree(pd), cudaSuccess);
	assert_int_equal(cudaMalloc(&d, 0), cudaSuccess);
	assert_null(d);
	assert_int_equal(used_bytes(), u);
}

static void test_oom(void **state)
{
	void *sentinel = (void *)0x1234, *p = sentinel, *keep = NULL;
	size_t u = used_bytes();
	(void)state;
	assert_int_equal(cudaMalloc(&p, CAPACITY + 1), cudaErrorMemoryAllocation);
	assert_ptr_equal(p, sentinel);
	assert_int_equal(used_bytes(), u);
	assert_int_equal(cudaGetLastError(), cudaErrorMemoryAllocation);
	assert_int_equal(cudaGetLastError(), cudaSuccess);
	assert_int_equal(cudaMalloc(&keep, 200 * MiB), cudaSuccess);
	assert_int_equal(cudaMalloc(&p, 100 * MiB), cudaErrorMemoryAllocation);
	assert_ptr_equal(p, sentinel);
	assert_int_equal(used_bytes(), u + 200 * MiB);
	assert_int_equal(cudaMallocAsync(&p, 100 * MiB, NULL), cudaErrorMemoryAllocation);
	assert_ptr_equal(p, sentinel);
	assert_int_equal(used_bytes(), u + 200 * MiB);
	assert_string_equal(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
	assert_string_equal(cudaGetErrorString(cudaErrorMemoryAllocation), "out of memory");
	assert_int_equal(cudaFree(keep), cudaSuccess);
	assert_int_equal(used_bytes(), u);
	(void)cudaGetLastError();
}

static void test_launch_by_stub(void **state)
{
	uint64_t (*count)(const char *);
	void *drv;
	struct cudaFuncAttributes fa;
	dim3 g = { 8, 1, 1 }, b = { 128, 1, 1 }, big = { 2048, 1, 1 };
	float *arg = NULL;
	void *args[] = { &arg };
	(void)state;
	assert_int_equal(cudaLaunchKernel((const void *)fake_stub, g, b, args, 0, NULL), cudaSuccess);
	assert_int_equal(cudaLaunchKernel((const void *)fake_stub, g, b, args, 0, NULL), cudaSuccess);
	assert_int_equal(cudaLaunchKernel((const void *)unregistered_stub, g, b, args, 0, NULL),
			 cudaErrorInvalidDeviceFunction);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidDeviceFunction);
	assert_int_equal(cudaLaunchKernel((const void *)fake_stub, g, big, args, 0, NULL),
			 cudaErrorInvalidConfiguration);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidConfiguration);
	assert_int_equal(cudaFuncGetAttributes(&fa, (const void *)fake_stub), cudaSuccess);
	assert_int_equal(fa.maxThreadsPerBlock, 1024);
	/* The driver saw the registered (mangled) name. */
	drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(drv);
	*(void **)&count = dlsym(drv, "mt_sim_launch_count");
	assert_non_null(count);
	assert_int_equal(count("_Z9fake_stubv"), 2);
	dlclose(drv);
}

static void test_streams_events(void **state)
{
	cudaStream_t s, s2;
	cudaEvent_t e0, e1, e2, nt;
	float ms = -1;
	void *p = NULL;
	size_t u = used_bytes();
	dim3 g = { 8, 1, 1 }, b = { 128, 1, 1 };
	void *args[1] = { &p };
	(void)state;
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	assert_int_equal(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), cudaSuccess);
	assert_int_equal(cudaEventCreate(&e0), cudaSuccess);
	assert_int_equal(cudaEventCreateWithFlags(&e1, cudaEventDefault), cudaSuccess);
	assert_int_equal(cudaEventCreate(&e2), cudaSuccess);
	assert_int_equal(cudaEventCreateWithFlags(&nt, cudaEventDisableTiming), cudaSuccess);
	assert_int_equal(cudaMallocAsync(&p, 3000, s), cudaSuccess);
	assert_int_equal(used_bytes(), u + 3072);
	assert_int_equal(cudaEventRecord(e0, s), cudaSuccess);
	/* 8 x 128 threads: 3000 + 1024/8 = 3128 ns. */
	assert_int_equal(cudaLaunchKernel((const void *)fake_stub, g, b, args, 0, s), cudaSuccess);
	assert_int_equal(cudaEventRecord(e1, s), cudaSuccess);
	assert_int_equal(cudaEventSynchronize(e1), cudaSuccess);
	assert_int_equal(cudaEventQuery(e1), cudaSuccess);
	assert_int_equal(cudaEventElapsedTime(&ms, e0, e1), cudaSuccess);
	assert_float_equal(ms, 0.003128f, 1e-7f);
	assert_int_equal(cudaStreamWaitEvent(s2, e1, 0), cudaSuccess);
	assert_int_equal(cudaLaunchKernel((const void *)fake_stub, g, b, args, 0, s2), cudaSuccess);
	assert_int_equal(cudaEventRecord(e2, s2), cudaSuccess);
	assert_int_equal(cudaEventElapsedTime(&ms, e0, e2), cudaSuccess);
	assert_float_equal(ms, 0.006256f, 1e-7f);
	assert_int_equal(cudaEventRecord(nt, s), cudaSuccess);
	assert_int_equal(cudaEventElapsedTime(&ms, e0, nt), cudaErrorInvalidResourceHandle);
	assert_int_equal(cudaGetLastError(), cudaErrorInvalidResourceHandle);
	assert_int_equal(cudaMemsetAsync(p, 0, 3000, s), cudaSuccess);
	assert_int_equal(cudaFreeAsync(p, s), cudaSuccess);
	assert_int_equal(cudaStreamSynchronize(s), cudaSuccess);
	assert_int_equal(used_bytes(), u);
	assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
	assert_int_equal(cudaEventDestroy(e0), cudaSuccess);
	assert_int_equal(cudaEventDestroy(e1), cudaSuccess);
	assert_int_equal(cudaEventDestroy(e2), cudaSuccess);
	assert_int_equal(cudaEventDestroy(nt), cudaSuccess);
	assert_int_equal(cudaStreamDestroy(s), cudaSuccess);
	assert_int_equal(cudaStreamDestroy(s2), cudaSuccess);
}

static void test_host_and_managed(void **state)
{
	void *h = NULL, *h2 = NULL, *m = NULL;
	size_t u = used_bytes();
	(void)state;
	assert_int_equal(cudaMallocHost(&h, 100000), cudaSuccess);
	memset(h, 1, 100000);
	assert_int_equal(cudaHostAlloc(&h2, 5000, cudaHostAllocPortable | cudaHostAllocMapped), cudaSuccess);
	assert_int_equal(cudaMallocManaged(&m, 12345, cudaMemAttachGlobal), cudaSuccess);
	((volatile char *)m)[12344] = 2;
	assert_int_equal(used_bytes(), u); /* none of it is device memory */
	assert_int_equal(cudaMallocManaged(&m, 0, cudaMemAttachGlobal), cudaErrorInvalidValue);
	(void)cudaGetLastError();
	assert_int_equal(cudaFreeHost(h), cudaSuccess);
	assert_int_equal(cudaFreeHost(h2), cudaSuccess);
	assert_int_equal(cudaFree(m), cudaSuccess);
}

static void test_device_reset(void **state)
{
	void *p = NULL;
	size_t u;
	(void)state;
	assert_int_equal(cudaDeviceReset(), cudaSuccess);
	u = used_bytes();
	assert_int_equal(u, 0);
	assert_int_equal(cudaMalloc(&p, 1000), cudaSuccess);
	assert_int_equal(used_bytes(), 1024);
	assert_int_equal(cudaDeviceReset(), cudaSuccess);
	assert_int_equal(used_bytes(), 0); /* the reset freed it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loaded_is_standin),
		cmocka_unit_test(test_device_properties),
		cmocka_unit_test(test_alloc_copy_roundtrip),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_launch_by_stub),
		cmocka_unit_test(test_streams_events),
		cmocka_unit_test(test_host_and_managed),
		cmocka_unit_test(test_device_reset),
	};
	int rc;
	fatbin_handle = __cudaRegisterFatBinary(&fake_wrapper);
	__cudaRegisterFunction(fatbin_handle, (const char *)fake_stub, (char *)"_Z9fake_stubv", "_Z9fake_stubv", -1,
			       NULL, NULL, NULL, NULL, NULL);
	__cudaRegisterFatBinaryEnd(fatbin_handle);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	__cudaUnregisterFatBinary(fatbin_handle);
	return rc;
}
