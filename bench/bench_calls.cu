// Collector benchmark child: times intercepted calls on the simulated
// runtime.  Built by nvcc with the shared runtime (so the launch goes
// through cudaLaunchKernel with a registered stub, as frameworks do).
//   bench_calls calls ROUNDS BATCH   -> median ns per cudaMalloc+cudaFree pair
//                                       and per cudaLaunchKernel, one line each
//   bench_calls flood N              -> N cudaLaunchKernel + N pairs as fast as
//                                       possible (sustained capture)
//   bench_calls rate R SECONDS       -> cudaLaunchKernel at R per second for
//                                       SECONDS (paced in 1 ms slices): does
//                                       the collector keep up with R, drop-free?
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>
#include <cuda_runtime.h>

__global__ void mt_bench_kernel(int *p) { if (p) *p = 1; }

static long long now_ns()
{
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "calls";
  cudaSetDevice(0);
  void *warm;
  cudaMalloc(&warm, 256);
  cudaFree(warm);
  if (!strcmp(mode, "calls")) {
    int rounds = argc > 2 ? atoi(argv[2]) : 200, batch = argc > 3 ? atoi(argv[3]) : 500;
    std::vector<double> pair, launch;
    void *args[1];
    int *nullp = nullptr;
    args[0] = &nullp;
    for (int r = 0; r < rounds; r++) {
      long long t0 = now_ns();
      for (int i = 0; i < batch; i++) {
        void *p;
        cudaMalloc(&p, 4096);
        cudaFree(p);
      }
      long long t1 = now_ns();
      for (int i = 0; i < batch; i++)
        cudaLaunchKernel((const void *)mt_bench_kernel, dim3(1), dim3(32), args, 0, 0);
      long long t2 = now_ns();
      pair.push_back((double)(t1 - t0) / batch);
      launch.push_back((double)(t2 - t1) / batch);
    }
    printf("pair %.1f\nlaunch %.1f\n", median(pair), median(launch));
  } else if (!strcmp(mode, "flood")) {
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    void *args[1];
    int *nullp = nullptr;
    args[0] = &nullp;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++)
      cudaLaunchKernel((const void *)mt_bench_kernel, dim3(1), dim3(32), args, 0, 0);
    long long t1 = now_ns();
    printf("flood_calls_ns %lld\n", t1 - t0);
  } else if (!strcmp(mode, "rate")) {
    double rate = argc > 2 ? atof(argv[2]) : 1e6;
    double secs = argc > 3 ? atof(argv[3]) : 5;
    void *args[1];
    int *nullp = nullptr;
    args[0] = &nullp;
    long long t0 = now_ns(), end = t0 + (long long)(secs * 1e9);
    long done = 0;
    // each 1 ms slice launches what the rate owes so far, then waits for the next slice
    for (long long slice = t0; slice < end; slice += 1000000) {
      long owed = (long)((double)(slice + 1000000 - t0) * rate / 1e9);
      for (; done < owed; done++)
        cudaLaunchKernel((const void *)mt_bench_kernel, dim3(1), dim3(32), args, 0, 0);
      while (now_ns() < slice + 1000000)
        ;
    }
    long long t1 = now_ns();
    printf("rate_launched %ld\nrate_achieved_per_s %.0f\n", done, done / ((t1 - t0) / 1e9));
  }
  return 0;
}
