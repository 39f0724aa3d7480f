/* test_cudnn.c - the simulated cuDNN (libcudnn.so.9) backend API against
 * the rules its README documents and the simulated driver's accounting.
 * Linked against the real cuDNN and runtime; test_cudnn.sh runs it over the
 * stand-ins (1 device, 256 MiB).
 *
 * An attention backward graph (SDPA_BWD) on Q of dims b, h, s, d needs
 * 4 b h s (d + 1) bytes of workspace (README); a convolution none. */
#define _GNU_SOURCE
#include <cudnn.h>
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

#define BPROP "cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_3_64x128x128_4x1x1_kernel0_0"
#define DOT_DO_O "cudnn_generated_fort_native_sdpa_sm90_flash_bprop_dot_do_o_kernel0_0"
#define CONVERT "cudnn_generated_fort_native_sdpa_sm90_flash_bprop_convert_dq_kernel0_0"
#define FPROP_CONV "sm90_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x32_warpgroupsize1x1x1_g1_execute_kernel__5x_cudnn"

static uint64_t (*used_bytes)(int);
static uint64_t (*launches)(const char *);

static int group_setup(void **state)
{
	void *cu;
	(void)state;
	cu = mt_sim_test_driver();
	if (!cu)
		return -1;
	*(void **)&used_bytes = mt_sim_test_sym(cu, "mt_sim_device_used_bytes");
	*(void **)&launches = mt_sim_test_sym(cu, "mt_sim_launch_count");
	return 0;
}

static cudnnBackendDescriptor_t create(cudnnBackendDescriptorType_t t)
{
	cudnnBackendDescriptor_t d = NULL;
	assert_int_equal(cudnnBackendCreateDescriptor(t, &d), CUDNN_STATUS_SUCCESS);
	return d;
}

static void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t, int64_t c,
		const void *v)
{
	assert_int_equal(cudnnBackendSetAttribute(d, n, t, c, v), CUDNN_STATUS_SUCCESS);
}

static cudnnBackendDescriptor_t tensor(int64_t uid, const int64_t dims[4])
{
	cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
	int64_t strides[4] = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1}, align = 16;
	cudnnDataType_t dt = CUDNN_DATA_BFLOAT16;
	set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
	set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
	set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
	set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
	set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
	assert_int_equal(cudnnBackendFinalize(t), CUDNN_STATUS_SUCCESS);
	return t;
}

/* graph of one operation -> heuristics -> the first engine config (copied
 * into our descriptor) -> plan.  Returns the plan; *cfg_ws the config's
 * workspace size. */
static cudnnBackendDescriptor_t plan_for(cudnnHandle_t h, cudnnBackendDescriptor_t op, int64_t *cfg_ws)
{
	cudnnBackendDescriptor_t g = create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
	cudnnBackendDescriptor_t heur = create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
	cudnnBackendDescriptor_t cfg = create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
	cudnnBackendDescriptor_t plan = create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
	cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
	int64_t n = -1, count = -1;
	set(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
	set(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
	assert_int_equal(cudnnBackendFinalize(g), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnBackendGetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT, CUDNN_TYPE_INT64, 1,
						  &n, &count),
			 CUDNN_STATUS_SUCCESS);
	assert_true(count >= 1);
	set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
	set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
	assert_int_equal(cudnnBackendFinalize(heur), CUDNN_STATUS_SUCCESS);
	/* the count first, then the configs into our descriptors */
	assert_int_equal(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
						  &n, NULL),
			 CUDNN_STATUS_SUCCESS);
	assert_true(n >= 1);
	assert_int_equal(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
						  &n, &cfg),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
						  cfg_ws),
			 CUDNN_STATUS_SUCCESS);
	/* everything set as attributes was copied: ours can go */
	assert_int_equal(cudnnBackendDestroyDescriptor(g), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnBackendDestroyDescriptor(heur), CUDNN_STATUS_SUCCESS);
	set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
	set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
	assert_int_equal(cudnnBackendDestroyDescriptor(cfg), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnBackendFinalize(plan), CUDNN_STATUS_SUCCESS);
	return plan;
}

static cudnnBackendDescriptor_t pack(void *ws)
{
	cudnnBackendDescriptor_t vp = create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
	int64_t uids[1] = {1};
	void *ptrs[1] = {(void *)0x1000};
	set(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 1, uids);
	set(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 1, ptrs);
	if (ws)
		set(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
	assert_int_equal(cudnnBackendFinalize(vp), CUDNN_STATUS_SUCCESS);
	return vp;
}

static void test_bound_to_standin(void **state)
{
	Dl_info di;
	(void)state;
	assert_true(dladdr((void *)cudnnBackendExecute, &di) != 0);
	assert_non_null(strstr(di.dli_fname, "tests/sim/cudnn/.libs/libcudnn.so.9"));
	assert_int_equal(cudnnGetVersion(), CUDNN_VERSION);
}

static void test_sdpa_backward(void **state)
{
	static const int64_t qdims[4] = {2, 4, 64, 32};
	const int64_t want = 4 * 2 * 4 * 64 * (32 + 1);
	cudnnHandle_t h;
	cudnnBackendDescriptor_t op, q, plan, vp;
	int64_t cfg_ws = -1, plan_ws = -1, n;
	uint64_t used, k0 = launches(BPROP), k1 = launches(DOT_DO_O), k2 = launches(CONVERT);
	void *ws;
	(void)state;
	assert_int_equal(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
	op = create(CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR);
	q = tensor(1, qdims);
	set(op, CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &q);
	assert_int_equal(cudnnBackendDestroyDescriptor(q), CUDNN_STATUS_SUCCESS); /* copied */
	assert_int_equal(cudnnBackendFinalize(op), CUDNN_STATUS_SUCCESS);
	plan = plan_for(h, op, &cfg_ws);
	assert_int_equal(cfg_ws, want);
	assert_int_equal(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
						  &n, &plan_ws),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(plan_ws, want);
	/* no workspace: refused, nothing launched */
	vp = pack(NULL);
	assert_int_equal(cudnnBackendExecute(h, plan, vp), CUDNN_STATUS_BAD_PARAM);
	assert_int_equal(launches(BPROP), k0);
	cudnnBackendDestroyDescriptor(vp);
	/* with one: the three kernels, and the library allocated nothing */
	assert_int_equal(cudaMalloc(&ws, (size_t)want), cudaSuccess);
	used = used_bytes(0);
	vp = pack(ws);
	assert_int_equal(cudnnBackendExecute(h, plan, vp), CUDNN_STATUS_SUCCESS);
	assert_int_equal(launches(DOT_DO_O), k1 + 1);
	assert_int_equal(launches(BPROP), k0 + 1);
	assert_int_equal(launches(CONVERT), k2 + 1);
	assert_int_equal(used_bytes(0), used);
	cudnnBackendDestroyDescriptor(vp);
	cudnnBackendDestroyDescriptor(plan);
	cudnnBackendDestroyDescriptor(op);
	assert_int_equal(cudaFree(ws), cudaSuccess);
	assert_int_equal(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

static void test_conv_forward(void **state)
{
	static const int64_t x[4] = {8, 3, 32, 32}, w[4] = {16, 3, 3, 3}, y[4] = {8, 16, 32, 32};
	cudnnHandle_t h;
	cudnnBackendDescriptor_t op, tx, tw, ty, plan, vp;
	int64_t cfg_ws = -1;
	uint64_t k0 = launches(FPROP_CONV);
	(void)state;
	assert_int_equal(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
	op = create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
	tx = tensor(1, x), tw = tensor(2, w), ty = tensor(3, y);
	set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx);
	set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw);
	set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty);
	assert_int_equal(cudnnBackendFinalize(op), CUDNN_STATUS_SUCCESS);
	plan = plan_for(h, op, &cfg_ws);
	assert_int_equal(cfg_ws, 0);
	vp = pack(NULL);
	assert_int_equal(cudnnBackendExecute(h, plan, vp), CUDNN_STATUS_SUCCESS);
	assert_int_equal(launches(FPROP_CONV), k0 + 1);
	cudnnBackendDestroyDescriptor(vp);
	cudnnBackendDestroyDescriptor(plan);
	cudnnBackendDestroyDescriptor(op);
	cudnnBackendDestroyDescriptor(tx);
	cudnnBackendDestroyDescriptor(tw);
	cudnnBackendDestroyDescriptor(ty);
	assert_int_equal(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

/* Legacy batch norm: no workspace; a reserve only with an activation, one
 * bit per element (README); one kernel per call. */
static void test_batchnorm(void **state)
{
	cudnnHandle_t h;
	cudnnTensorDescriptor_t x, bn;
	size_t ws = 1, rs = 1;
	float one = 1, zero = 0;
	uint64_t k0 = launches("cudnn_bn_fw_tr_1C11_kernel_NCHW"), k1 = launches("cudnn_bn_bw_1C11_kernel_new");
	(void)state;
	assert_int_equal(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnCreateTensorDescriptor(&x), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnCreateTensorDescriptor(&bn), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 8, 16, 10, 10),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnSetTensor4dDescriptor(bn, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 16, 1, 1),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
				 h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN, x, NULL, x, bn, NULL, &ws),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(ws, 0);
	assert_int_equal(cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, CUDNN_BATCHNORM_SPATIAL,
									       CUDNN_BATCHNORM_OPS_BN, NULL, x, &rs),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(rs, 0);
	assert_int_equal(cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
				 h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN_ACTIVATION, NULL, x, &rs),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(rs, (8 * 16 * 10 * 10 + 31) / 32 * 4);
	/* with an activation and no reserve: refused, nothing launched */
	assert_int_equal(cudnnBatchNormalizationForwardTrainingEx(
				 h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN_ACTIVATION, &one, &zero, x,
				 (void *)0x1000, NULL, NULL, x, (void *)0x2000, bn, (void *)0x3000, (void *)0x4000, 0.1,
				 NULL, NULL, 1e-5, NULL, NULL, NULL, NULL, 0, NULL, 0),
			 CUDNN_STATUS_BAD_PARAM);
	assert_int_equal(launches("cudnn_bn_fw_tr_1C11_kernel_NCHW"), k0);
	assert_int_equal(cudnnBatchNormalizationForwardTrainingEx(
				 h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN, &one, &zero, x, (void *)0x1000, NULL,
				 NULL, x, (void *)0x2000, bn, (void *)0x3000, (void *)0x4000, 0.1, NULL, NULL, 1e-5, NULL,
				 NULL, NULL, NULL, 0, NULL, 0),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(launches("cudnn_bn_fw_tr_1C11_kernel_NCHW"), k0 + 1);
	assert_int_equal(cudnnBatchNormalizationBackwardEx(h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN, &one,
							   &zero, &one, &zero, x, (void *)0x1000, NULL, NULL, x,
							   (void *)0x2000, NULL, NULL, x, (void *)0x5000, bn,
							   (void *)0x3000, (void *)0x4000, (void *)0x6000,
							   (void *)0x7000, 1e-5, NULL, NULL, NULL, NULL, 0, NULL, 0),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(launches("cudnn_bn_bw_1C11_kernel_new"), k1 + 1);
	/* a per-channel descriptor that is not 1 x C x 1 x 1 for the spatial mode */
	assert_int_equal(cudnnSetTensor4dDescriptor(bn, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 8, 1, 1),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
				 h, CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_OPS_BN, x, NULL, x, bn, NULL, &ws),
			 CUDNN_STATUS_BAD_PARAM);
	assert_int_equal(cudnnDestroyTensorDescriptor(x), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnDestroyTensorDescriptor(bn), CUDNN_STATUS_SUCCESS);
	assert_int_equal(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

static void test_errors(void **state)
{
	cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR), g;
	int64_t uid = 7, got = 0, n = -1;
	char msg[256];
	(void)state;
	set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
	assert_int_equal(cudnnBackendFinalize(t), CUDNN_STATUS_SUCCESS);
	/* finalized: no more setting */
	assert_int_equal(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid),
			 CUDNN_STATUS_BAD_PARAM);
	assert_int_equal(cudnnBackendGetAttribute(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &n, &got),
			 CUDNN_STATUS_SUCCESS);
	assert_int_equal(got, 7);
	assert_int_equal(n, 1);
	/* a graph without operations does not finalize, and says why */
	g = create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
	assert_int_not_equal(cudnnBackendFinalize(g), CUDNN_STATUS_SUCCESS);
	cudnnGetLastErrorString(msg, sizeof msg);
	assert_non_null(strstr(msg, "operation"));
	cudnnBackendDestroyDescriptor(g);
	cudnnBackendDestroyDescriptor(t);
	/* the legacy API is not simulated: it says so */
	assert_int_equal(cudnnDropoutGetStatesSize(NULL, NULL), CUDNN_STATUS_NOT_SUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_to_standin),
		cmocka_unit_test(test_sdpa_backward),
		cmocka_unit_test(test_conv_forward),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
