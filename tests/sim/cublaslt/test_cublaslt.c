/* test_cublaslt.c - the simulated cuBLASLt (libcublasLt.so.13) against the
 * rules its README documents and the simulated driver's own accounting.
 * Linked against the real cuBLASLt, cuBLAS and runtime; test_cublaslt.sh
 * runs it over the stand-ins (1 device, 256 MiB).
 *
 * Expected workspace needs are computed here from the documented split-K
 * rule: tiles = ceil(m/128) ceil(n/128) batch; s = min(132 / tiles, 16,
 * k / 256); need 4 s m n batch bytes when s >= 2 and it fits the
 * preference's maximum, else 0. */
#define _GNU_SOURCE
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes" /* cublasLt.h declares f() */
#include <cublasLt.h>
#pragma GCC diagnostic pop
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

#define GEMM_NN "sm90_xmma_gemm_bf16bf16_bf16f32_f32_nn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
#define GEMM_TN "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
#define REDUCE "splitKreduce_kernel"

static uint64_t (*used_bytes)(int);
static uint64_t (*launches)(const char *);
static int (*lt_workspaces)(unsigned long long *, size_t *, int);

static const float one = 1.0f, zero = 0.0f;

static int group_setup(void **state)
{
	void *cu;
	(void)state;
	cu = mt_sim_test_driver();
	if (!cu)
		return -1;
	*(void **)&used_bytes = mt_sim_test_sym(cu, "mt_sim_device_used_bytes");
	*(void **)&launches = mt_sim_test_sym(cu, "mt_sim_launch_count");
	*(void **)&lt_workspaces = mt_sim_test_sym(RTLD_DEFAULT, "mt_sim_cublaslt_workspaces");
	return 0;
}

/* The documented rule, computed here. */
static uint64_t expected_need(uint64_t m, uint64_t n, uint64_t k, uint64_t batch, uint64_t max_ws)
{
	uint64_t tiles = ((m + 127) / 128) * ((n + 127) / 128) * batch, s = 132 / tiles, need;
	if (s > 16)
		s = 16;
	if (s > k / 256)
		s = k / 256;
	if (s < 2)
		return 0;
	need = 4 * s * m * n * batch;
	return need <= max_ws ? need : 0;
}

struct prob {
	cublasLtMatmulDesc_t d;
	cublasLtMatrixLayout_t a, b, c;
	cublasLtMatmulPreference_t p;
};

/* C (m x n) = A^T (k x m)^T . B (k x n), bf16, as PyTorch's addmm does. */
static void make(struct prob *pr, uint64_t m, uint64_t n, uint64_t k, uint64_t max_ws)
{
	cublasOperation_t t = CUBLAS_OP_T;
	assert_int_equal(cublasLtMatmulDescCreate(&pr->d, CUBLAS_COMPUTE_32F, CUDA_R_32F), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatmulDescSetAttribute(pr->d, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutCreate(&pr->a, CUDA_R_16BF, k, m, (int64_t)k), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutCreate(&pr->b, CUDA_R_16BF, k, n, (int64_t)k), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutCreate(&pr->c, CUDA_R_16BF, m, n, (int64_t)m), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatmulPreferenceCreate(&pr->p), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatmulPreferenceSetAttribute(pr->p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
							      sizeof max_ws),
			 CUBLAS_STATUS_SUCCESS);
}

static void unmake(struct prob *pr)
{
	assert_int_equal(cublasLtMatmulPreferenceDestroy(pr->p), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutDestroy(pr->a), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutDestroy(pr->b), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatrixLayoutDestroy(pr->c), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatmulDescDestroy(pr->d), CUBLAS_STATUS_SUCCESS);
}

static size_t heuristic(cublasLtHandle_t h, struct prob *pr, cublasLtMatmulHeuristicResult_t *r)
{
	int n = 0;
	assert_int_equal(cublasLtMatmulAlgoGetHeuristic(h, pr->d, pr->a, pr->b, pr->c, pr->c, pr->p, 1, r, &n),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(r->state, CUBLAS_STATUS_SUCCESS);
	return r->workspaceSize;
}

/* The stand-in answered, and it is the toolkit's version. */
static void test_bound_to_standin(void **state)
{
	Dl_info di;
	(void)state;
	assert_true(dladdr((void *)cublasLtMatmul, &di) != 0);
	assert_non_null(strstr(di.dli_fname, "tests/sim/cublaslt/.libs/libcublasLt.so.13"));
	assert_int_equal(cublasLtGetVersion(), CUBLAS_VERSION);
}

static void test_heuristic_workspace(void **state)
{
	static const uint64_t shapes[][4] = {
		{256, 256, 256, 1}, {128, 128, 8192, 1}, {128, 128, 8192, 1 << 19}, {1024, 4096, 4096, 1 << 20},
		{64, 64, 1024, 1 << 20}, {128, 384, 8192, 32 << 20},
	};
	cublasLtHandle_t h;
	size_t i;
	int nonzero = 0;
	(void)state;
	assert_int_equal(cublasLtCreate(&h), CUBLAS_STATUS_SUCCESS);
	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		struct prob pr;
		cublasLtMatmulHeuristicResult_t r;
		uint64_t want = expected_need(shapes[i][0], shapes[i][1], shapes[i][2], 1, shapes[i][3]);
		make(&pr, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
		assert_int_equal(heuristic(h, &pr, &r), want);
		assert_true(r.workspaceSize <= shapes[i][3]); /* never above the preference */
		nonzero += want > 0;
		unmake(&pr);
	}
	assert_true(nonzero >= 2); /* the rule splits some of these */
	assert_int_equal(cublasLtDestroy(h), CUBLAS_STATUS_SUCCESS);
}

static void test_matmul_workspace_and_kernels(void **state)
{
	cublasLtHandle_t h;
	struct prob pr;
	cublasLtMatmulHeuristicResult_t r;
	uint64_t used = used_bytes(0), g0 = launches(GEMM_TN), r0 = launches(REDUCE);
	void *ws;
	size_t need;
	unsigned long long ptrs[256];
	size_t sizes[256];
	int n, i, seen = 0;
	(void)state;
	assert_int_equal(cudaMalloc(&ws, 1 << 20), cudaSuccess);
	used = used_bytes(0);
	assert_int_equal(cublasLtCreate(&h), CUBLAS_STATUS_SUCCESS);
	make(&pr, 128, 128, 8192, 1 << 20);
	need = heuristic(h, &pr, &r);
	assert_int_equal(need, 1 << 20);
	/* less workspace than the algorithm needs: refused, nothing launched */
	assert_int_equal(cublasLtMatmul(h, pr.d, &one, (void *)0x1000, pr.a, (void *)0x2000, pr.b, &zero, (void *)0x3000,
					pr.c, (void *)0x3000, pr.c, &r.algo, ws, need / 2, NULL),
			 CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(launches(GEMM_TN), g0);
	/* enough: the split GEMM and its reduction, on the stream */
	assert_int_equal(cublasLtMatmul(h, pr.d, &one, (void *)0x1000, pr.a, (void *)0x2000, pr.b, &zero, (void *)0x3000,
					pr.c, (void *)0x3000, pr.c, &r.algo, ws, 1 << 20, NULL),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(GEMM_TN), g0 + 1);
	assert_int_equal(launches(REDUCE), r0 + 1);
	/* the library allocated nothing; it recorded the buffer it was given */
	assert_int_equal(used_bytes(0), used);
	n = lt_workspaces(ptrs, sizes, 256);
	for (i = 0; i < n; i++)
		seen += ptrs[i] == (unsigned long long)(uintptr_t)ws && sizes[i] == (1 << 20);
	assert_int_equal(seen, 1);
	unmake(&pr);
	assert_int_equal(cublasLtDestroy(h), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cudaFree(ws), cudaSuccess);
}

/* cuBLAS documents that a cublasHandle_t is a valid cublasLtHandle_t. */
static void test_cublas_handle_cast(void **state)
{
	cublasHandle_t bh;
	struct prob pr;
	cublasLtMatmulHeuristicResult_t r;
	cublasOperation_t nn = CUBLAS_OP_N;
	uint64_t g0 = launches(GEMM_NN);
	(void)state;
	assert_int_equal(cublasCreate(&bh), CUBLAS_STATUS_SUCCESS);
	make(&pr, 256, 256, 256, 0);
	assert_int_equal(cublasLtMatmulDescSetAttribute(pr.d, CUBLASLT_MATMUL_DESC_TRANSA, &nn, sizeof nn),
			 CUBLAS_STATUS_SUCCESS);
	cublasLtMatrixLayoutDestroy(pr.a);
	assert_int_equal(cublasLtMatrixLayoutCreate(&pr.a, CUDA_R_16BF, 256, 256, 256), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(heuristic((cublasLtHandle_t)bh, &pr, &r), 0);
	assert_int_equal(cublasLtMatmul((cublasLtHandle_t)bh, pr.d, &one, (void *)0x1000, pr.a, (void *)0x2000, pr.b,
					&zero, (void *)0x3000, pr.c, (void *)0x3000, pr.c, NULL, NULL, 0, NULL),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(launches(GEMM_NN), g0 + 1);
	unmake(&pr);
	assert_int_equal(cublasDestroy(bh), CUBLAS_STATUS_SUCCESS);
}

static void test_attributes_and_errors(void **state)
{
	cublasLtHandle_t h;
	struct prob pr;
	cublasLtMatmulHeuristicResult_t r;
	int32_t small = 1, batch = 0;
	uint64_t rows = 0;
	size_t written = 0;
	int n = 5;
	(void)state;
	assert_int_equal(cublasLtCreate(&h), CUBLAS_STATUS_SUCCESS);
	make(&pr, 256, 128, 64, 0);
	/* sizes as the header documents: MAX_WORKSPACE_BYTES is a uint64_t */
	assert_int_equal(cublasLtMatmulPreferenceSetAttribute(pr.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &small,
							      sizeof small),
			 CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(cublasLtMatrixLayoutGetAttribute(pr.c, CUBLASLT_MATRIX_LAYOUT_ROWS, NULL, 0, &written),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(written, sizeof rows);
	assert_int_equal(cublasLtMatrixLayoutGetAttribute(pr.c, CUBLASLT_MATRIX_LAYOUT_ROWS, &rows, sizeof rows, &written),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(rows, 256);
	assert_int_equal(cublasLtMatrixLayoutGetAttribute(pr.c, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch,
							  &written),
			 CUBLAS_STATUS_SUCCESS);
	assert_int_equal(batch, 1); /* documented default */
	/* B of the wrong shape: no algorithm */
	cublasLtMatrixLayoutDestroy(pr.b);
	assert_int_equal(cublasLtMatrixLayoutCreate(&pr.b, CUDA_R_16BF, 32, 128, 32), CUBLAS_STATUS_SUCCESS);
	assert_int_equal(cublasLtMatmulAlgoGetHeuristic(h, pr.d, pr.a, pr.b, pr.c, pr.c, pr.p, 1, &r, &n),
			 CUBLAS_STATUS_INVALID_VALUE);
	assert_int_equal(n, 0);
	assert_int_equal(cublasLtMatmulAlgoGetHeuristic(NULL, pr.d, pr.a, pr.b, pr.c, pr.c, pr.p, 1, &r, &n),
			 CUBLAS_STATUS_NOT_INITIALIZED);
	unmake(&pr);
	assert_int_equal(cublasLtDestroy(h), CUBLAS_STATUS_SUCCESS);
}

/* A function the stand-in does not simulate answers as documented for
 * unsupported configurations, instead of being missing. */
static void test_stub(void **state)
{
	cublasLtMatrixTransformDesc_t t;
	(void)state;
	assert_int_equal(cublasLtMatrixTransformDescCreate(&t, CUDA_R_32F), CUBLAS_STATUS_NOT_SUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_to_standin),
		cmocka_unit_test(test_heuristic_workspace),
		cmocka_unit_test(test_matmul_workspace_and_kernels),
		cmocka_unit_test(test_cublas_handle_cast),
		cmocka_unit_test(test_attributes_and_errors),
		cmocka_unit_test(test_stub),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
