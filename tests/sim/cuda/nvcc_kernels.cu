// nvcc_kernels.cu - real __global__ kernels launched with <<<>>>, run on the
// simulated stack by test_nvcc.sh.  Built twice: on the stand-in static
// runtime (nvcc's default -cudart static) and on the real shared runtime.
// Kernels do no device work in the simulation; what is checked is that the
// launches are accepted, reach the driver under their mangled names, and take
// the documented simulated time.  Prints "FAIL: ..." and exits 1 on error.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

__global__ void scale(float *x, float a, int n)  // _Z5scalePffi
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] *= a;
}

__global__ void fill(int *p, int v)  // _Z4fillPii
{
	p[threadIdx.x] = v;
}

namespace mt {
__global__ void touch(char *p)  // _ZN2mt5touchEPc
{
	p[threadIdx.x] = 1;
}
}  // namespace mt

static int failures;

#define CHECK(cond, what)                                         \
	do {                                                      \
		if (!(cond)) {                                    \
			printf("FAIL: %s (line %d)\n", what, __LINE__); \
			failures++;                               \
		}                                                 \
	} while (0)

int main()
{
	float *x = nullptr;
	int *ip = nullptr;
	char *cp = nullptr;
	cudaStream_t s;
	cudaEvent_t e0, e1;
	float ms = 0;

	CHECK(cudaMalloc(&x, 1024 * sizeof(float)) == cudaSuccess, "cudaMalloc x");
	CHECK(cudaMalloc(&ip, 32 * sizeof(int)) == cudaSuccess, "cudaMalloc ip");
	CHECK(cudaMalloc(&cp, 256) == cudaSuccess, "cudaMalloc cp");
	CHECK(cudaStreamCreate(&s) == cudaSuccess, "cudaStreamCreate");
	CHECK(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess, "cudaEventCreate");

	CHECK(cudaEventRecord(e0, s) == cudaSuccess, "record e0");
	scale<<<4, 256, 0, s>>>(x, 2.0f, 1024);  // 1024 threads: 3000 + 128 ns
	CHECK(cudaGetLastError() == cudaSuccess, "scale launch");
	CHECK(cudaEventRecord(e1, s) == cudaSuccess, "record e1");
	CHECK(cudaEventSynchronize(e1) == cudaSuccess, "sync e1");
	CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess, "elapsed");
	CHECK(ms > 0.0031275f && ms < 0.0031285f, "elapsed is 3128 ns");

	scale<<<1, 32>>>(x, 0.5f, 32);
	CHECK(cudaGetLastError() == cudaSuccess, "second scale launch");
	fill<<<1, 32, 0, s>>>(ip, 7);
	CHECK(cudaGetLastError() == cudaSuccess, "fill launch");
	mt::touch<<<dim3(2, 2), dim3(8, 8)>>>(cp);
	CHECK(cudaGetLastError() == cudaSuccess, "touch launch");
	fill<<<1, 2048>>>(ip, 1);  // too many threads per block
	CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "bad launch -> cudaErrorInvalidConfiguration");
	CHECK(cudaDeviceSynchronize() == cudaSuccess, "cudaDeviceSynchronize");

	// The driver's view, through its sim API (dlopen: no link-time import).
	void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	CHECK(drv != nullptr, "libcuda.so.1 loaded by the runtime");
	if (drv) {
		uint64_t (*count)(const char *) = (uint64_t(*)(const char *))dlsym(drv, "mt_sim_launch_count");
		CHECK(count != nullptr, "mt_sim_launch_count");
		if (count) {
			CHECK(count("_Z5scalePffi") == 2, "2 launches of scale");
			CHECK(count("_Z4fillPii") == 1, "1 launch of fill");
			CHECK(count("_ZN2mt5touchEPc") == 1, "1 launch of mt::touch");
			CHECK(count(nullptr) == 4, "4 launches in all");
		}
	}
	CHECK(cudaFree(x) == cudaSuccess && cudaFree(ip) == cudaSuccess && cudaFree(cp) == cudaSuccess, "cudaFree");
	CHECK(cudaEventDestroy(e0) == cudaSuccess && cudaEventDestroy(e1) == cudaSuccess, "cudaEventDestroy");
	CHECK(cudaStreamDestroy(s) == cudaSuccess, "cudaStreamDestroy");
	if (!failures)
		printf("all checks passed\n");
	return failures ? 1 : 0;
}
