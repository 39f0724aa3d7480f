/* test_cublas.c - the simulated cuBLAS (libcublas.so.13) against the
 * simulated driver's own accounting.  Linked against the real cuBLAS and
 * runtime; test_cublas.sh runs it over the stand-ins (2 devices, 256 MiB).
 *
 * Expected values are computed here from the documented behaviour: one
 * default workspace per (handle, stream), 32 MiB on the sm_90 simulated
 * device (CUBLAS_WORKSPACE_CONFIG :4096:8), cudaMalloc'ed by the library on
 * the first GEMM and freed by cublasDestroy; none with cublasSetWorkspace
 * (until cublasSetStream resets it); one launch per GEMM with cuBLAS's kernel
 * name; grid = ceil(m/128) x ceil(n/128) x batch. */
#define _GNU_SOURCE
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/cublas/simtest.h"

#define MiB (1ULL << 20)
#define WS_SM90 (32 * MiB)

#define BF16_TN "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
#define BF16_NT "sm90_xmma_gemm_bf16bf16_bf16f32_f32_nt_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
#define TF32_NN "sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n_tilesize128x128x32_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
#define SGEMM_NN "ampere_sgemm_128x64_nn"

/* simulated driver (libcuda.so.1, loaded by the runtime) */
static uint64_t (*used_bytes)(int);
static uint64_t (*alloc_count)(int);
static uint64_t (*launches)(const char *);
static int (*dev_of_ptr)(const void *);
/* simulated cuBLAS (not in the real library we linked against) */
static uint64_t (*ws_allocs)(void), (*ws_frees)(void), (*ws_bytes)(void), (*blas_launches)(void);
static size_t (*ws_default)(void);
static int (*handle_ws)(cublasHandle_t, unsigned long long *, size_t *, int);

static const float one = 1.0f, zero = 0.0f;

static int group_setup(void **state)
{
	void *cu;
	(void)state;
	cu = mt_sim_test_driver();
	if (!cu)
		return -1;
	*(void **)&used_bytes = mt_sim_test_sym(cu, "mt_sim_device_used_bytes");
	*(void **)&alloc_count = mt_sim_test_sym(cu, "mt_sim_device_alloc_count");
	*(void **)&launches = mt_sim_test_sym(cu, "mt_sim_launch_count");
	*(void **)&dev_of_ptr = mt_sim_test_sym(cu, "mt_sim_device_of_ptr");
	*(void **)&ws_allocs = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_workspace_allocs");
	*(void **)&ws_frees = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_workspace_frees");
	*(void **)&ws_bytes = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_workspace_bytes");
	*(void **)&blas_launches = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_launch_count");
	*(void **)&ws_default = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_default_workspace_bytes");
	*(void **)&handle_ws = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublas_handle_workspaces");
	return 0;
}

static cublasStatus_t bf16_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k)
{
	int lda = ta == CUBLAS_OP_N ? m : k, ldb = tb == CUBLAS_OP_N ? k : n;
	return cublasGemmEx(h, ta, tb, m, n, k, &one, (void *)0x1000, CUDA_R_16BF, lda, (void *)0x2000, CUDA_R_16BF,
			    ldb, &zero, (void *)0x3000, CUDA_R_16BF, m > 0 ? m : 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

/* The stand-in, not the real library, answered (version node and symbols). */
static void test_bound_to_standin(void **state)
{
	Dl_info di;
	(void)state;
	assert_true(dladdr((void *)cublasGemmEx, &di) != 0);
	assert_non_null(strstr(di.dli_fname, "tests/sim/cublas/.libs/libcublas.so.13"));
	assert_int_equal(ws_default(), WS_SM90);
}

static void test_workspace_once_per_handle_stream(void **state)
{
	cublasHandle_t h;
	cudaStream_t s2;
	uint64_t used = used_bytes(0), nalloc = alloc_count(0), a0 = ws_allocs(), f0 = ws_frees();
	unsigned long long ptrs[4];
	size_t sizes[4];
	(void)state;
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used); /* create allocates nothing */
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 256, 256, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + WS_SM90);
	assert_int_equal(alloc_count(0), nalloc + 1);
	assert_int_equal(ws_allocs(), a0 + 1);
	assert_int_equal(ws_bytes(), WS_SM90);
	assert_int_equal(handle_ws(h, ptrs, sizes, 4), 1);
	assert_int_equal(sizes[0], WS_SM90);
	assert_int_equal(dev_of_ptr((void *)(uintptr_t)ptrs[0]), 0);
	/* the same stream again: nothing new */
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + WS_SM90);
	assert_int_equal(ws_allocs(), a0 + 1);
	/* another stream: its own workspace */
	assert_int_equal(cudaStreamCreate(&s2), cudaSuccess);
	assert_int_equal(cublasSetStream(h, s2), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + WS_SM90); /* lazily */
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + 2 * WS_SM90);
	assert_int_equal(alloc_count(0), nalloc + 2);
	assert_int_equal(cublasSetStream(h, NULL), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(ws_allocs(), a0 + 2);
	/* destroy frees both, through cudaFree */
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(alloc_count(0), nalloc);
	assert_int_equal(ws_frees(), f0 + 2);
	assert_int_equal(ws_bytes(), 0);
	assert_int_equal(cudaStreamDestroy(s2), cudaSuccess);
}

static void test_two_handles_two_devices(void **state)
{
	cublasHandle_t h0, h1;
	uint64_t u0 = used_bytes(0), u1 = used_bytes(1);
	(void)state;
	assert_int_equal(cublasCreate(&h0), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaSetDevice(1), cudaSuccess);
	assert_int_equal(cublasCreate(&h1), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h1, CUBLAS_OP_T, CUBLAS_OP_N, 128, 128, 128), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(1), u1 + WS_SM90);
	assert_int_equal(used_bytes(0), u0);
	assert_int_equal(cudaSetDevice(0), cudaSuccess);
	assert_int_equal(bf16_gemm(h0, CUBLAS_OP_T, CUBLAS_OP_N, 128, 128, 128), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), u0 + WS_SM90);
	assert_int_equal(cublasDestroy(h0), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaSetDevice(1), cudaSuccess);
	assert_int_equal(cublasDestroy(h1), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaSetDevice(0), cudaSuccess);
	assert_int_equal(used_bytes(0), u0);
	assert_int_equal(used_bytes(1), u1);
}

static void test_set_workspace_suppresses(void **state)
{
	cublasHandle_t h;
	void *buf = NULL;
	uint64_t used, a0 = ws_allocs();
	(void)state;
	assert_int_equal(cudaMalloc(&buf, 4 * MiB), cudaSuccess);
	used = used_bytes(0);
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	/* PyTorch's order: set the stream, then the workspace from its allocator */
	assert_int_equal(cublasSetStream(h, NULL), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasSetWorkspace(h, (char *)buf + 8, 4 * MiB - 8), CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(cublasSetWorkspace(h, buf, 4 * MiB), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 512, 512, 512), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(ws_allocs(), a0);
	assert_int_equal(handle_ws(h, NULL, NULL, 0), 0);
	/* cublasSetStream resets the handle to the default pool */
	assert_int_equal(cublasSetStream(h, NULL), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 512, 512, 512), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + WS_SM90);
	assert_int_equal(ws_allocs(), a0 + 1);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used);
	/* (NULL, 0): no workspace at all */
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasSetWorkspace(h, NULL, 0), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 512, 512, 512), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaFree(buf), cudaSuccess);
}

static void test_workspace_config(void **state)
{
	cublasHandle_t h;
	uint64_t used = used_bytes(0);
	(void)state;
	setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:2:16:8", 1);
	assert_int_equal(ws_default(), 4096 * 1024 * 2 + 16 * 1024 * 8);
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used + 8519680);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0", 1);
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	unsetenv("CUBLAS_WORKSPACE_CONFIG");
	assert_int_equal(ws_default(), WS_SM90);
}

static void test_kernel_names(void **state)
{
	cublasHandle_t h;
	uint64_t tn = launches(BF16_TN), nt = launches(BF16_NT), all = launches(NULL), bl = blas_launches();
	uint64_t sg = launches(SGEMM_NN), tf = launches(TF32_NN);
	float beta = 0;
	(void)state;
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 1000, 300, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, 100, 100, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(BF16_TN), tn + 1);
	assert_int_equal(launches(BF16_NT), nt + 1);
	assert_int_equal(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64, &one, (float *)0x1000, 64,
				     (float *)0x2000, 64, &beta, (float *)0x3000, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(SGEMM_NN), sg + 1);
	assert_int_equal(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64, &one, (void *)0x1000, CUDA_R_32F, 64,
				      (void *)0x2000, CUDA_R_32F, 64, &beta, (void *)0x3000, CUDA_R_32F, 64,
				      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(TF32_NN), tf + 1);
	/* strided batched: one launch, batch in grid z; 70000 batches need two */
	assert_int_equal(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 256, 256, 64, &one, (void *)0x1000,
						    CUDA_R_16BF, 64, 256 * 64, (void *)0x2000, CUDA_R_16BF, 64,
						    256 * 64, &beta, (void *)0x3000, CUDA_R_16BF, 256, 256 * 256, 8,
						    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(BF16_TN), tn + 2);
	assert_int_equal(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 16, 16, 16, &one, (void *)0x1000,
						    CUDA_R_16BF, 16, 256, (void *)0x2000, CUDA_R_16BF, 16, 256,
						    &beta, (void *)0x3000, CUDA_R_16BF, 16, 256, 70000,
						    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(BF16_TN), tn + 4);
	assert_int_equal(launches(NULL), all + 7);
	assert_int_equal(blas_launches(), bl + 7);
	/* bad arguments: an error, no launch */
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, -1, 4, 4), CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64, &one, (void *)0x1000, CUDA_R_16BF, 32,
				      (void *)0x2000, CUDA_R_16BF, 64, &beta, (void *)0x3000, CUDA_R_16BF, 64,
				      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64, &one, (void *)0x1000, CUDA_R_16BF, 64,
				      (void *)0x2000, CUDA_R_32F, 64, &beta, (void *)0x3000, CUDA_R_16BF, 64,
				      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), CUBLAS_STATUS_NOT_SUPPORTED);
	/* m = 0: quick return */
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 0, 4, 4), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(NULL), all + 7);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasDestroy(NULL), CUBLAS_STATUS_NOT_INITIALIZED);
}

static void test_handle_api(void **state)
{
	cublasHandle_t h;
	cudaStream_t s, got = (cudaStream_t)1;
	cublasMath_t m;
	int v = 0;
	(void)state;
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasGetStream(h, &got), CUBLAS_STATUS_SUCCESS);
	assert_null(got);
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	assert_int_equal(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasGetStream(h, &got), CUBLAS_STATUS_SUCCESS);
	assert_ptr_equal(got, s);
	assert_int_equal(cublasGetMathMode(h, &m), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(m, CUBLAS_DEFAULT_MATH);
	assert_int_equal(cublasSetMathMode(h, (cublasMath_t)7), CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(cublasSetMathMode(h, (cublasMath_t)(CUBLAS_TF32_TENSOR_OP_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasGetVersion(h, &v), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(v / 10000, 13);
	assert_string_equal(cublasGetStatusName(CUBLAS_STATUS_ALLOC_FAILED), "CUBLAS_STATUS_ALLOC_FAILED");
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaStreamDestroy(s), cudaSuccess);
}

/* Device full: the workspace cudaMalloc fails -> CUBLAS_STATUS_ALLOC_FAILED,
 * nothing launched, nothing allocated; after a free it succeeds. */
static void test_alloc_failed(void **state)
{
	cublasHandle_t h;
	void *big = NULL;
	size_t fr = 0, tot = 0;
	uint64_t all, used;
	(void)state;
	assert_int_equal(cudaMemGetInfo(&fr, &tot), cudaSuccess);
	assert_int_equal(cudaMalloc(&big, fr - 16 * MiB), cudaSuccess);
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	all = launches(NULL);
	used = used_bytes(0);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_ALLOC_FAILED);
	assert_int_equal(launches(NULL), all);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(cudaGetLastError(), cudaSuccess);
	assert_int_equal(cudaFree(big), cudaSuccess);
	assert_int_equal(bf16_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 64, 64, 64), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(NULL), all + 1);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

/* Level 1 and 2: one gemv kernel, dot's two kernels; neither takes a
 * workspace; a host-mode dot writes its result. */
static void test_gemv_dot(void **state)
{
	cublasHandle_t h;
	uint64_t used = used_bytes(0), t0 = launches("gemv2T_kernel"), d0 = launches("dot_kernel"),
		 r0 = launches("reduce_1Block_kernel");
	float res = 42.0f;
	(void)state;
	assert_int_equal(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasSgemv(h, CUBLAS_OP_T, 64, 32, &one, (float *)0x1000, 64, (float *)0x2000, 1, &zero,
				     (float *)0x3000, 1),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches("gemv2T_kernel"), t0 + 1);
	assert_int_equal(cublasSgemv(h, CUBLAS_OP_N, 64, 32, &one, (float *)0x1000, 16, (float *)0x2000, 1, &zero,
				     (float *)0x3000, 1),
			 CUBLAS_STATUS_INVALID_VALUE); /* lda < m */
	assert_int_equal(cublasSdot(h, 1000, (float *)0x1000, 1, (float *)0x2000, 1, &res), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches("dot_kernel"), d0 + 1);
	assert_int_equal(launches("reduce_1Block_kernel"), r0 + 1);
	assert_true(res == 0.0f);
	assert_int_equal(used_bytes(0), used);
	assert_int_equal(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_to_standin),
		cmocka_unit_test(test_workspace_once_per_handle_stream),
		cmocka_unit_test(test_two_handles_two_devices),
		cmocka_unit_test(test_set_workspace_suppresses),
		cmocka_unit_test(test_workspace_config),
		cmocka_unit_test(test_kernel_names),
		cmocka_unit_test(test_handle_api),
		cmocka_unit_test(test_alloc_failed),
		cmocka_unit_test(test_gemv_dot),
	};
	return cmocka_run_group_tests_name("simcublas", tests, group_setup, NULL);
}
