/* The simulated cuBLASLt: libcublasLt.so.13 with the real API (the toolkit's
 * cublasLt.h, included so the compiler checks every signature; the rest of
 * the header's entry points are generated weak stubs, cublaslt_stubs.c).
 *
 *  - Handles: cublasLtCreate, or a cublasHandle_t of the simulated cuBLAS
 *    cast to cublasLtHandle_t (documented by cuBLAS; PyTorch does it): both
 *    start with struct mt_sim_blas_head.
 *  - Descriptors (matmul, matrix layout, preference) keep every attribute
 *    set, sized as the header documents them; Get answers what was set or
 *    the documented default.
 *  - cublasLtMatmulAlgoGetHeuristic answers one algorithm whose workspace
 *    need follows a split-K rule (below) within the preference's
 *    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (default 0).
 *  - cublasLtMatmul checks the layouts against the operation, refuses a
 *    workspace smaller than the algorithm needs (CUBLAS_STATUS_INVALID_VALUE,
 *    as cuBLASLt), and launches one GEMM kernel (plus one reduction kernel
 *    for split-K) on the given stream through cudaLaunchKernel.  The library
 *    allocates no device memory: the caller passes the workspace.
 *
 * Ground truth: mt_sim_cublaslt_* (simcublaslt.h). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes" /* cublasLt.h declares f() */
#include <cublasLt.h>
#pragma GCC diagnostic pop
#include <cuda_runtime_api.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/cublas/gemm_kernels.h"
#include "tests/sim/cublas/simcublas.h"
#include "tests/sim/cublas/status.h"
#include "tests/sim/cublas/bufset.h"
#include "tests/sim/cublaslt/simcublaslt.h"

#define SLT_NATTR 64
#define SLT_DESC 0x6c746d64u   /* matmul descriptor */
#define SLT_LAYOUT 0x6c746c79u /* matrix layout */
#define SLT_PREF 0x6c747066u   /* preference */
#define SLT_ALGO 0x6c74616cu   /* data[0] of an algorithm we made */
#define SLT_SMS 132            /* H100 SXM: what split-K fills */

/* One descriptor: attribute values (at most 8 bytes each) and whether set. */
struct slt_obj {
	unsigned magic;
	uint64_t v[SLT_NATTR];
	uint8_t set[SLT_NATTR];
};

static uint64_t n_launch, n_matmul;
static struct mt_sim_bufset ws_seen = MT_SIM_BUFSET_INIT; /* workspaces passed */

/* ------------------------------------------------------------ attributes */

/* Bytes of attribute a of a descriptor of kind magic, 0 if unknown; from
 * the types cublasLt.h documents for each. */
static size_t attr_size(unsigned magic, int a)
{
	switch (magic) {
	case SLT_LAYOUT:
		switch (a) {
		case CUBLASLT_MATRIX_LAYOUT_TYPE: case CUBLASLT_MATRIX_LAYOUT_ORDER:
		case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: case CUBLASLT_MATRIX_LAYOUT_BATCH_MODE:
			return 4;
		case CUBLASLT_MATRIX_LAYOUT_ROWS: case CUBLASLT_MATRIX_LAYOUT_COLS: case CUBLASLT_MATRIX_LAYOUT_LD:
		case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: case CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET:
			return 8;
		}
		return 0;
	case SLT_PREF:
		switch (a) {
		case CUBLASLT_MATMUL_PREF_SEARCH_MODE: case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK:
		case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
		case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
		case CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT:
			return 4;
		case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: case CUBLASLT_MATMUL_PREF_IMPL_MASK:
			return 8;
		}
		return 0;
	case SLT_DESC:
		switch (a) {
		case CUBLASLT_MATMUL_DESC_BIAS_POINTER: case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER:
		case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD: case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE:
		case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE: case CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE:
		case CUBLASLT_MATMUL_DESC_A_SCALE_POINTER: case CUBLASLT_MATMUL_DESC_B_SCALE_POINTER:
		case CUBLASLT_MATMUL_DESC_C_SCALE_POINTER: case CUBLASLT_MATMUL_DESC_D_SCALE_POINTER:
		case CUBLASLT_MATMUL_DESC_AMAX_D_POINTER: case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER:
		case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER: case CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER:
		case CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR:
			return 8;
		case CUBLASLT_MATMUL_DESC_FAST_ACCUM:
			return 1;
		default:
			return a >= 0 && a <= CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE ? 4 : 0;
		}
	}
	return 0;
}

static cublasStatus_t set_attr(struct slt_obj *o, unsigned magic, int a, const void *buf, size_t n)
{
	size_t want;
	if (!o || o->magic != magic)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	want = attr_size(magic, a);
	if (!want || a >= SLT_NATTR || !buf || n != want)
		return CUBLAS_STATUS_INVALID_VALUE;
	o->v[a] = 0;
	memcpy(&o->v[a], buf, n);
	o->set[a] = 1;
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t get_attr(const struct slt_obj *o, unsigned magic, int a, void *buf, size_t n, size_t *written)
{
	size_t want;
	if (!o || o->magic != magic)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	want = attr_size(magic, a);
	if (!want || a >= SLT_NATTR)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (n == 0 && buf == NULL) { /* size query, as documented */
		if (!written)
			return CUBLAS_STATUS_INVALID_VALUE;
		*written = want;
		return CUBLAS_STATUS_SUCCESS;
	}
	if (!buf || n < want)
		return CUBLAS_STATUS_INVALID_VALUE;
	memcpy(buf, &o->v[a], want);
	if (written)
		*written = want;
	return CUBLAS_STATUS_SUCCESS;
}

static struct slt_obj *new_obj(unsigned magic)
{
	struct slt_obj *o = calloc(1, sizeof *o);
	if (o)
		o->magic = magic;
	return o;
}

static cublasStatus_t free_obj(struct slt_obj *o, unsigned magic)
{
	if (!o || o->magic != magic)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	o->magic = 0;
	free(o);
	return CUBLAS_STATUS_SUCCESS;
}

static void put(struct slt_obj *o, int a, uint64_t v)
{
	o->v[a] = v;
	o->set[a] = 1;
}

/* --------------------------------------------------------------- handles */

static int valid_handle(cublasLtHandle_t h)
{
	const struct mt_sim_blas_head *p = (const void *)h;
	return p && (p->magic == MT_SIM_CUBLASLT_MAGIC || p->magic == MT_SIM_CUBLAS_MAGIC);
}

cublasStatus_t CUBLASWINAPI cublasLtCreate(cublasLtHandle_t *lightHandle)
{
	struct mt_sim_blas_head *h;
	int dev = 0;
	if (!lightHandle)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (cudaGetDevice(&dev) != cudaSuccess) {
		(void)cudaGetLastError();
		return CUBLAS_STATUS_NOT_INITIALIZED;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return CUBLAS_STATUS_ALLOC_FAILED;
	h->magic = MT_SIM_CUBLASLT_MAGIC;
	h->device = dev;
	*lightHandle = (cublasLtHandle_t)h;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtDestroy(cublasLtHandle_t lightHandle)
{
	struct mt_sim_blas_head *h = (void *)lightHandle;
	if (!h || h->magic != MT_SIM_CUBLASLT_MAGIC)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	h->magic = 0;
	free(h);
	return CUBLAS_STATUS_SUCCESS;
}

size_t CUBLASWINAPI cublasLtGetVersion(void)
{
	return CUBLAS_VERSION;
}

size_t CUBLASWINAPI cublasLtGetCudartVersion(void)
{
	return CUDART_VERSION;
}

cublasStatus_t CUBLASWINAPI cublasLtGetProperty(libraryPropertyType type, int *value)
{
	if (!value)
		return CUBLAS_STATUS_INVALID_VALUE;
	switch (type) {
	case MAJOR_VERSION: *value = CUBLAS_VER_MAJOR; break;
	case MINOR_VERSION: *value = CUBLAS_VER_MINOR; break;
	case PATCH_LEVEL: *value = CUBLAS_VER_PATCH; break;
	default: return CUBLAS_STATUS_INVALID_VALUE;
	}
	return CUBLAS_STATUS_SUCCESS;
}

const char *CUBLASWINAPI cublasLtGetStatusName(cublasStatus_t status)
{
	return mt__sim_cublas_status_text(status, 0);
}

const char *CUBLASWINAPI cublasLtGetStatusString(cublasStatus_t status)
{
	return mt__sim_cublas_status_text(status, 1);
}

/* ----------------------------------------------------------- descriptors */

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout, cudaDataType type,
						       uint64_t rows, uint64_t cols, int64_t ld)
{
	struct slt_obj *o;
	if (!matLayout)
		return CUBLAS_STATUS_INVALID_VALUE;
	o = new_obj(SLT_LAYOUT);
	if (!o)
		return CUBLAS_STATUS_ALLOC_FAILED;
	put(o, CUBLASLT_MATRIX_LAYOUT_TYPE, (uint32_t)type);
	put(o, CUBLASLT_MATRIX_LAYOUT_ORDER, CUBLASLT_ORDER_COL);
	put(o, CUBLASLT_MATRIX_LAYOUT_ROWS, rows);
	put(o, CUBLASLT_MATRIX_LAYOUT_COLS, cols);
	put(o, CUBLASLT_MATRIX_LAYOUT_LD, (uint64_t)ld);
	put(o, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, 1);
	*matLayout = (cublasLtMatrixLayout_t)o;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutDestroy(const cublasLtMatrixLayout_t matLayout)
{
	return free_obj((struct slt_obj *)matLayout, SLT_LAYOUT);
}

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
							     cublasLtMatrixLayoutAttribute_t attr, const void *buf,
							     size_t sizeInBytes)
{
	return set_attr((struct slt_obj *)matLayout, SLT_LAYOUT, attr, buf, sizeInBytes);
}

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t matLayout,
							     cublasLtMatrixLayoutAttribute_t attr, void *buf,
							     size_t sizeInBytes, size_t *sizeWritten)
{
	return get_attr((struct slt_obj *)matLayout, SLT_LAYOUT, attr, buf, sizeInBytes, sizeWritten);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *matmulDesc, cublasComputeType_t computeType,
						     cudaDataType_t scaleType)
{
	struct slt_obj *o;
	if (!matmulDesc)
		return CUBLAS_STATUS_INVALID_VALUE;
	o = new_obj(SLT_DESC);
	if (!o)
		return CUBLAS_STATUS_ALLOC_FAILED;
	put(o, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, (uint32_t)computeType);
	put(o, CUBLASLT_MATMUL_DESC_SCALE_TYPE, (uint32_t)scaleType);
	put(o, CUBLASLT_MATMUL_DESC_POINTER_MODE, CUBLASLT_POINTER_MODE_HOST);
	put(o, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_N);
	put(o, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
	put(o, CUBLASLT_MATMUL_DESC_TRANSC, CUBLAS_OP_N);
	put(o, CUBLASLT_MATMUL_DESC_FILL_MODE, CUBLAS_FILL_MODE_FULL);
	put(o, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_DEFAULT);
	put(o, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, (uint32_t)-1); /* "default: the type of D" */
	*matmulDesc = (cublasLtMatmulDesc_t)o;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
{
	return free_obj((struct slt_obj *)matmulDesc, SLT_DESC);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc,
							   cublasLtMatmulDescAttributes_t attr, const void *buf,
							   size_t sizeInBytes)
{
	return set_attr((struct slt_obj *)matmulDesc, SLT_DESC, attr, buf, sizeInBytes);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t matmulDesc,
							   cublasLtMatmulDescAttributes_t attr, void *buf,
							   size_t sizeInBytes, size_t *sizeWritten)
{
	return get_attr((struct slt_obj *)matmulDesc, SLT_DESC, attr, buf, sizeInBytes, sizeWritten);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
{
	struct slt_obj *o;
	if (!pref)
		return CUBLAS_STATUS_INVALID_VALUE;
	o = new_obj(SLT_PREF);
	if (!o)
		return CUBLAS_STATUS_ALLOC_FAILED;
	put(o, CUBLASLT_MATMUL_PREF_SEARCH_MODE, CUBLASLT_SEARCH_BEST_FIT);
	put(o, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, 0); /* documented default */
	put(o, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, CUBLASLT_REDUCTION_SCHEME_MASK);
	put(o, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, 256);
	put(o, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, 256);
	put(o, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, 256);
	put(o, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, 256);
	put(o, CUBLASLT_MATMUL_PREF_IMPL_MASK, (uint64_t)-1);
	*pref = (cublasLtMatmulPreference_t)o;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
	return free_obj((struct slt_obj *)pref, SLT_PREF);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
								 cublasLtMatmulPreferenceAttributes_t attr,
								 const void *buf, size_t sizeInBytes)
{
	return set_attr((struct slt_obj *)pref, SLT_PREF, attr, buf, sizeInBytes);
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t pref,
								 cublasLtMatmulPreferenceAttributes_t attr, void *buf,
								 size_t sizeInBytes, size_t *sizeWritten)
{
	return get_attr((const struct slt_obj *)pref, SLT_PREF, attr, buf, sizeInBytes, sizeWritten);
}

/* ---------------------------------------------------------------- matmul */

/* The problem of a (desc, A, B, C, D) tuple. */
struct slt_problem {
	int fam, ta, tb;
	uint64_t m, n, k;
	int batch;
	int out_bytes; /* element size of D */
};

static int elem_bytes(cudaDataType t)
{
	switch (t) {
	case CUDA_R_64F: case CUDA_C_32F: return 8;
	case CUDA_R_32F: case CUDA_R_32I: return 4;
	case CUDA_R_16F: case CUDA_R_16BF: return 2;
	default: return 1;
	}
}

/* Kernel family from the A type and compute type, as the simulated cuBLAS. */
static int family(cudaDataType a, cublasComputeType_t ct)
{
	switch (a) {
	case CUDA_R_16BF: return SCB_BF16;
	case CUDA_R_16F: return SCB_F16;
	case CUDA_R_32F: return ct == CUBLAS_COMPUTE_32F_FAST_TF32 ? SCB_TF32 : SCB_SGEMM;
	case CUDA_R_64F: return SCB_DGEMM;
	default: return -1;
	}
}

static cublasStatus_t problem_of(const struct slt_obj *d, const struct slt_obj *A, const struct slt_obj *B,
				 const struct slt_obj *C, const struct slt_obj *D, struct slt_problem *p)
{
	uint64_t ar, ac, br, bc;
	if (!d || d->magic != SLT_DESC || !A || A->magic != SLT_LAYOUT || !B || B->magic != SLT_LAYOUT || !C ||
	    C->magic != SLT_LAYOUT || !D || D->magic != SLT_LAYOUT)
		return CUBLAS_STATUS_INVALID_VALUE;
	p->ta = d->v[CUBLASLT_MATMUL_DESC_TRANSA] != CUBLAS_OP_N;
	p->tb = d->v[CUBLASLT_MATMUL_DESC_TRANSB] != CUBLAS_OP_N;
	ar = A->v[CUBLASLT_MATRIX_LAYOUT_ROWS], ac = A->v[CUBLASLT_MATRIX_LAYOUT_COLS];
	br = B->v[CUBLASLT_MATRIX_LAYOUT_ROWS], bc = B->v[CUBLASLT_MATRIX_LAYOUT_COLS];
	p->m = p->ta ? ac : ar;
	p->k = p->ta ? ar : ac;
	p->n = p->tb ? br : bc;
	if ((p->tb ? bc : br) != p->k || D->v[CUBLASLT_MATRIX_LAYOUT_ROWS] != p->m ||
	    D->v[CUBLASLT_MATRIX_LAYOUT_COLS] != p->n || C->v[CUBLASLT_MATRIX_LAYOUT_ROWS] != p->m ||
	    C->v[CUBLASLT_MATRIX_LAYOUT_COLS] != p->n)
		return CUBLAS_STATUS_INVALID_VALUE;
	if ((int64_t)A->v[CUBLASLT_MATRIX_LAYOUT_LD] < (int64_t)(ar > 1 ? ar : 1) ||
	    (int64_t)B->v[CUBLASLT_MATRIX_LAYOUT_LD] < (int64_t)(br > 1 ? br : 1) ||
	    (int64_t)D->v[CUBLASLT_MATRIX_LAYOUT_LD] < (int64_t)(p->m > 1 ? p->m : 1))
		return CUBLAS_STATUS_INVALID_VALUE;
	p->batch = (int)(int32_t)D->v[CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT];
	if (p->batch < 1 || (int)(int32_t)A->v[CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT] != p->batch ||
	    (int)(int32_t)B->v[CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT] != p->batch)
		return CUBLAS_STATUS_INVALID_VALUE;
	p->fam = family((cudaDataType)A->v[CUBLASLT_MATRIX_LAYOUT_TYPE],
			(cublasComputeType_t)d->v[CUBLASLT_MATMUL_DESC_COMPUTE_TYPE]);
	if (p->fam < 0 || A->v[CUBLASLT_MATRIX_LAYOUT_TYPE] != B->v[CUBLASLT_MATRIX_LAYOUT_TYPE])
		return CUBLAS_STATUS_NOT_SUPPORTED;
	p->out_bytes = elem_bytes((cudaDataType)D->v[CUBLASLT_MATRIX_LAYOUT_TYPE]);
	return CUBLAS_STATUS_SUCCESS;
}

/* Split-K choice: when the output tiles (128x128) cannot fill the SMs and k
 * is deep, split k so that tiles x splits reaches the SM count (at most 16
 * ways, at least 256 of k per split); the partial products are fp32, m x n
 * x batch each, in the workspace.  Kept only if the workspace fits max_ws,
 * else no split (0 bytes). */
static unsigned splits_for(const struct slt_problem *p, uint64_t max_ws, uint64_t *ws)
{
	uint64_t tiles = ((p->m + 127) / 128) * ((p->n + 127) / 128) * (uint64_t)p->batch;
	uint64_t s = tiles ? SLT_SMS / tiles : 0, need;
	if (s > 16)
		s = 16;
	if (s > p->k / 256)
		s = p->k / 256;
	*ws = 0;
	if (s < 2)
		return 1;
	need = s * p->m * p->n * (uint64_t)p->batch * 4;
	if (need > max_ws)
		return 1;
	*ws = need;
	return (unsigned)s;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle,
							   cublasLtMatmulDesc_t operationDesc,
							   cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
							   cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
							   cublasLtMatmulPreference_t preference,
							   int requestedAlgoCount,
							   cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
							   int *returnAlgoCount)
{
	struct slt_problem p;
	const struct slt_obj *pref = (const void *)preference;
	cublasStatus_t st;
	uint64_t ws;
	unsigned splits;
	if (!valid_handle(lightHandle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (requestedAlgoCount < 1 || !heuristicResultsArray || !returnAlgoCount || !pref || pref->magic != SLT_PREF)
		return CUBLAS_STATUS_INVALID_VALUE;
	st = problem_of((const void *)operationDesc, (const void *)Adesc, (const void *)Bdesc, (const void *)Cdesc,
			(const void *)Ddesc, &p);
	if (st != CUBLAS_STATUS_SUCCESS) {
		*returnAlgoCount = 0;
		return st;
	}
	splits = splits_for(&p, pref->v[CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES], &ws);
	memset(&heuristicResultsArray[0], 0, sizeof heuristicResultsArray[0]);
	heuristicResultsArray[0].algo.data[0] = SLT_ALGO;
	heuristicResultsArray[0].algo.data[1] = (uint64_t)p.fam;
	heuristicResultsArray[0].algo.data[2] = splits;
	heuristicResultsArray[0].algo.data[3] = ws;
	heuristicResultsArray[0].workspaceSize = ws;
	heuristicResultsArray[0].state = CUBLAS_STATUS_SUCCESS;
	heuristicResultsArray[0].wavesCount = 1.0f;
	*returnAlgoCount = 1;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
					   const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
					   cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
					   cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
					   const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspaceSizeInBytes,
					   cudaStream_t stream)
{
	struct slt_problem p;
	cublasStatus_t st;
	uint64_t ws = 0, gx, gy;
	unsigned splits = 1;
	int e;
	if (!valid_handle(lightHandle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!alpha || !beta)
		return CUBLAS_STATUS_INVALID_VALUE;
	st = problem_of((const void *)computeDesc, (const void *)Adesc, (const void *)Bdesc, (const void *)Cdesc,
			(const void *)Ddesc, &p);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	if (workspaceSizeInBytes && !workspace)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (algo) {
		if (algo->data[0] != SLT_ALGO || algo->data[1] != (uint64_t)p.fam)
			return CUBLAS_STATUS_INVALID_VALUE;
		splits = (unsigned)algo->data[2];
		ws = algo->data[3];
		if (ws > workspaceSizeInBytes) /* the algorithm's need exceeds what was given */
			return CUBLAS_STATUS_INVALID_VALUE;
	} else {
		splits = splits_for(&p, workspaceSizeInBytes, &ws);
	}
	__atomic_add_fetch(&n_matmul, 1, __ATOMIC_SEQ_CST);
	mt_sim_bufset_note(&ws_seen, workspace, workspaceSizeInBytes, ws);
	if (p.m == 0 || p.n == 0)
		return CUBLAS_STATUS_SUCCESS;
	gx = (p.m + 127) / 128;
	gy = (p.n + 127) / 128;
	if (gy > 65535)
		gy = 65535;
	e = simcublas_launch(p.fam * 4 + (p.ta && !p.tb ? 0 : !p.ta && !p.tb ? 1 : !p.ta && p.tb ? 2 : 3),
			     (unsigned)gx, (unsigned)gy * splits, (unsigned)(p.batch > 65535 ? 65535 : p.batch),
			     p.fam == SCB_SGEMM ? 256 : 128, stream);
	if (e == 0 && splits > 1)
		e = simcublaslt_launch_reduce((unsigned)((p.m * p.n * (uint64_t)p.batch + 255) / 256), stream);
	if (e != 0) {
		(void)cudaGetLastError();
		return CUBLAS_STATUS_EXECUTION_FAILED;
	}
	__atomic_add_fetch(&n_launch, splits > 1 ? 2 : 1, __ATOMIC_SEQ_CST);
	return CUBLAS_STATUS_SUCCESS;
}

/* ------------------------------------------------------- ground truth */

uint64_t mt_sim_cublaslt_matmul_count(void)
{
	return __atomic_load_n(&n_matmul, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cublaslt_launch_count(void)
{
	return __atomic_load_n(&n_launch, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cublaslt_workspace_max_used(void)
{
	return mt_sim_bufset_max_need(&ws_seen);
}

int mt_sim_cublaslt_workspaces(unsigned long long *ptrs, size_t *sizes, int max)
{
	return mt_sim_bufset_get(&ws_seen, ptrs, sizes, sizeof *sizes, max);
}
