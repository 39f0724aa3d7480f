/* The CUPTI test's second workload, on the driver API (simulated
 * libcuda.so.1): two threads, each launching kernels and async copies/sets
 * on its own two streams; the main thread adds sync copies on the legacy
 * stream, a stream-ordered pool allocation, pinned and managed memory, and
 * frees everything.  Prints "done". */
#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static CUmodule mod;
static CUcontext ctx;
static int bad;

#define CK(x) do { if ((x) != CUDA_SUCCESS) { fprintf(stderr, "%s failed\n", #x); __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED); } } while (0)

static void *worker(void *arg)
{
  int t = (int)(long)arg;
  CUstream s[2] = { 0, 0 };
  CUfunction f[2] = { 0, 0 };
  CUdeviceptr buf;
  char host[4096];
  memset(host, t, sizeof host);
  CK(cuCtxSetCurrent(ctx));
  CK(cuStreamCreate(&s[0], CU_STREAM_NON_BLOCKING));
  CK(cuStreamCreate(&s[1], 0));
  CK(cuModuleGetFunction(&f[0], mod, t ? "_Z8k_squarePf" : "_Z6k_axpyPfS_"));
  CK(cuModuleGetFunction(&f[1], mod, "_Z9k_reducePf"));
  CK(cuMemAlloc(&buf, 1 << 20));
  for (int i = 0; i < 40; i++) {
    CUstream st = s[i % 2];
    CK(cuLaunchKernel(f[i % 2], 64 + (unsigned)i, 1, 1, 128, 1, 1, 0, st, NULL, NULL));
    if (i % 5 == 0)
      CK(cuMemcpyHtoDAsync(buf, host, sizeof host, st));
    if (i % 7 == 0)
      CK(cuMemsetD32Async(buf, (unsigned)i, 1024, st));
  }
  CK(cuStreamSynchronize(s[0]));
  CK(cuStreamSynchronize(s[1]));
  CK(cuMemFree(buf));
  return NULL;
}

int main(void)
{
  CUdevice dev;
  CUdeviceptr d, pool;
  void *pinned;
  CUdeviceptr managed;
  char host[8192];
  pthread_t th[2];
  if (cuInit(0) != CUDA_SUCCESS) {
    /* no device: one hooked call (it fails), so that a trace exists */
    CUdeviceptr x = 0;
    cuMemAlloc(&x, 64);
    printf("no device\n");
    return 2;
  }
  CK(cuDeviceGet(&dev, 0));
  CK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cuCtxSetCurrent(ctx));
  CK(cuModuleLoadData(&mod, "simulated image"));
  CK(cuMemAlloc(&d, sizeof host));
  CK(cuMemAllocHost(&pinned, 1 << 16));
  CK(cuMemAllocManaged(&managed, 1 << 16, CU_MEM_ATTACH_GLOBAL));
  CK(cuMemAllocAsync(&pool, 3 << 20, NULL));
  memset(host, 1, sizeof host);
  CK(cuMemcpyHtoD(d, host, sizeof host));
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, worker, (void *)(long)i);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  CK(cuMemcpyDtoH(host, d, sizeof host));
  CK(cuMemsetD8(d, 0, sizeof host));
  CK(cuMemFreeAsync(pool, NULL));
  CK(cuMemFreeHost(pinned));
  CK(cuMemFree(managed));
  CK(cuMemFree(d));
  printf("done %d\n", bad);
  return bad != 0;
}
