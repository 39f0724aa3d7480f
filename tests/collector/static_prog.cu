// An nvcc-built program on the static runtime (nvcc's default): it has no
// CUDA imports and reaches the driver only through cuGetProcAddress, so the
// collector sees it only through its cuGetProcAddress interposition.
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

__global__ void mt_static_fill(float *p, float v, int n)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = v;
}

__global__ void mt_static_scale(float *p, float s, int n)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] *= s;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 10;
  float host[256];
  for (int i = 0; i < n; i++) {
    float *d = nullptr;
    if (cudaMalloc(&d, 256 * sizeof(float)) != cudaSuccess) return 1;
    mt_static_fill<<<2, 128>>>(d, 1.0f, 256);
    mt_static_scale<<<2, 128>>>(d, 2.0f, 256);
    if (cudaMemcpy(host, d, sizeof host, cudaMemcpyDeviceToHost) != cudaSuccess) return 1;
    if (cudaFree(d) != cudaSuccess) return 1;
  }
  cudaDeviceSynchronize();
  printf("static done %d\n", n);
  return 0;
}
