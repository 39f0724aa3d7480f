/* The simulated cuBLAS: libcublas.so.13 with the real API (signatures from
 * the toolkit's cublas_api.h, which this file includes, so the compiler
 * checks them) and the memory behaviour of the real library:
 *
 *  - cublasCreate allocates nothing on the device.
 *  - The first GEMM on a (handle, stream) that has no user workspace makes
 *    the library cudaMalloc its default workspace for that stream itself,
 *    through the CUDA runtime; it stays until cublasDestroy.  Size:
 *    CUBLAS_WORKSPACE_CONFIG (":SIZE_KiB:COUNT" pairs, summed) if set and
 *    valid, else 32 MiB (":4096:8") on compute capability 9.x and
 *    ":4096:2:16:8" (8,519,680 B) on older devices, as cuBLAS documents.
 *  - cublasSetWorkspace gives the handle a caller-owned buffer (PyTorch does
 *    this with memory from its caching allocator): no allocation then.
 *    cublasSetStream resets the handle to the default pool, as documented.
 *  - A GEMM is one cudaLaunchKernel of an empty kernel with cuBLAS's name
 *    (gemm_kernels.cu) on the handle's stream; grid = 128x128 (sgemm
 *    128x64) output tiles, z = batch (several launches above 65535).
 *
 * Arguments are checked as cuBLAS does (CUBLAS_STATUS_INVALID_VALUE, no
 * launch); a workspace allocation that fails answers
 * CUBLAS_STATUS_ALLOC_FAILED and launches nothing.  Ground-truth queries:
 * simcublas.h. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/cublas/gemm_kernels.h"
#include "tests/sim/cublas/simcublas.h"
#include "tests/sim/cublas/status.h"
#include "tests/sim/cublas/bufset.h"

#define SCB_MAGIC MT_SIM_CUBLAS_MAGIC
#define SCB_MAX_STREAMS 64
#define SCB_VERSION 130000   /* reported by cublasGetVersion: 13.0.0 */

struct scb_ws { cudaStream_t stream; void *ptr; size_t size; };

struct cublasContext {
	struct mt_sim_blas_head head; /* first: cuBLASLt reads it from a cast handle */
	cudaStream_t stream;
	int user_ws_set;        /* cublasSetWorkspace since the last cublasSetStream */
	void *user_ws;
	size_t user_ws_size;
	size_t default_ws_size; /* decided at create */
	cublasMath_t math;
	cublasPointerMode_t pmode;
	struct scb_ws ws[SCB_MAX_STREAMS];
	int nws;
	pthread_mutex_t lock;
};

static uint64_t n_ws_alloc, n_ws_free, ws_bytes, n_launch;

/* Buffers callers handed over with cublasSetWorkspace (ground truth: the
 * library allocates none then; the caller did). */
static struct mt_sim_bufset user_ws = MT_SIM_BUFSET_INIT;

/* ------------------------------------------------------- workspace size */

/* Parses ":SIZE:COUNT[:SIZE:COUNT...]" (SIZE in KiB).  Returns 0 and the
 * total in bytes, or -1 when malformed. */
static int parse_config(const char *s, size_t *out)
{
	size_t total = 0;
	if (!s || *s != ':')
		return -1;
	while (*s) {
		char *end;
		unsigned long long sz, cnt;
		if (*s++ != ':')
			return -1;
		sz = strtoull(s, &end, 10);
		if (end == s || *end != ':')
			return -1;
		s = end + 1;
		cnt = strtoull(s, &end, 10);
		if (end == s || (*end && *end != ':') || sz > (1ull << 30) || cnt > 1024)
			return -1;
		s = end;
		total += (size_t)(sz * 1024ull * cnt);
	}
	*out = total;
	return 0;
}

static size_t default_size_for(int device)
{
	const char *cfg = getenv("CUBLAS_WORKSPACE_CONFIG");
	size_t n;
	int major = 0;
	if (cfg) {
		if (parse_config(cfg, &n) == 0)
			return n;
		fprintf(stderr, "simcublas: ignoring malformed CUBLAS_WORKSPACE_CONFIG '%s'\n", cfg);
	}
	if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess)
		major = 9;
	return major == 9 ? 4096ull * 1024 * 8 : 4096ull * 1024 * 2 + 16ull * 1024 * 8;
}

size_t mt_sim_cublas_default_workspace_bytes(void)
{
	int dev = 0;
	if (cudaGetDevice(&dev) != cudaSuccess)
		dev = 0;
	return default_size_for(dev);
}

/* ------------------------------------------------------------- handles */

static int valid(cublasHandle_t h)
{
	return h && h->head.magic == SCB_MAGIC;
}

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t *handle)
{
	cublasHandle_t h;
	int dev = 0;
	if (!handle)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (cudaGetDevice(&dev) != cudaSuccess) {
		(void)cudaGetLastError();
		return CUBLAS_STATUS_NOT_INITIALIZED;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return CUBLAS_STATUS_ALLOC_FAILED;
	h->head.magic = SCB_MAGIC;
	h->head.device = dev;
	h->math = CUBLAS_DEFAULT_MATH;
	h->pmode = CUBLAS_POINTER_MODE_HOST;
	h->default_ws_size = default_size_for(dev);
	pthread_mutex_init(&h->lock, NULL);
	*handle = h;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle)
{
	int i;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	for (i = handle->nws - 1; i >= 0; i--) {
		if (cudaFree(handle->ws[i].ptr) == cudaSuccess) {
			__atomic_add_fetch(&n_ws_free, 1, __ATOMIC_SEQ_CST);
			__atomic_sub_fetch(&ws_bytes, handle->ws[i].size, __ATOMIC_SEQ_CST);
		}
	}
	handle->head.magic = 0;
	pthread_mutex_destroy(&handle->lock);
	free(handle);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasGetVersion_v2(cublasHandle_t handle, int *version)
{
	if (!version)
		return CUBLAS_STATUS_INVALID_VALUE;
	*version = SCB_VERSION;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasGetProperty(libraryPropertyType type, int *value)
{
	if (!value)
		return CUBLAS_STATUS_INVALID_VALUE;
	switch (type) {
	case MAJOR_VERSION: *value = SCB_VERSION / 10000; break;
	case MINOR_VERSION: *value = SCB_VERSION / 100 % 100; break;
	case PATCH_LEVEL: *value = SCB_VERSION % 100; break;
	default: return CUBLAS_STATUS_INVALID_VALUE;
	}
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	handle->stream = streamId;
	handle->user_ws_set = 0; /* "unconditionally resets ... to the default workspace pool" */
	handle->user_ws = NULL;
	handle->user_ws_size = 0;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!streamId)
		return CUBLAS_STATUS_INVALID_VALUE;
	*streamId = handle->stream;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if ((uintptr_t)workspace % 256 != 0)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (workspace == NULL && workspaceSizeInBytes != 0)
		return CUBLAS_STATUS_INVALID_VALUE;
	/* (NULL, 0) is taken as a user workspace of zero bytes (what PyTorch
	 * passes for CUBLAS_WORKSPACE_CONFIG=:0:0): no workspace at all. */
	handle->user_ws_set = 1;
	handle->user_ws = workspace;
	handle->user_ws_size = workspaceSizeInBytes;
	mt_sim_bufset_note(&user_ws, workspace, workspaceSizeInBytes, workspaceSizeInBytes);
	return CUBLAS_STATUS_SUCCESS;
}

/* The math mode without the reduction flag. */
static unsigned math_base(cublasMath_t mode)
{
	return (unsigned)mode & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
}

cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
	unsigned base = math_base(mode);
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH &&
	    base != CUBLAS_TF32_TENSOR_OP_MATH && base != CUBLAS_FP32_EMULATED_BF16X9_MATH &&
	    base != CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH)
		return CUBLAS_STATUS_INVALID_VALUE;
	handle->math = mode;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!mode)
		return CUBLAS_STATUS_INVALID_VALUE;
	*mode = handle->math;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
		return CUBLAS_STATUS_INVALID_VALUE;
	handle->pmode = mode;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t *mode)
{
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!mode)
		return CUBLAS_STATUS_INVALID_VALUE;
	*mode = handle->pmode;
	return CUBLAS_STATUS_SUCCESS;
}

const char *CUBLASWINAPI cublasGetStatusName(cublasStatus_t status)
{
	return mt__sim_cublas_status_text(status, 0);
}

const char *CUBLASWINAPI cublasGetStatusString(cublasStatus_t status)
{
	return mt__sim_cublas_status_text(status, 1);
}

/* ---------------------------------------------------------------- GEMMs */

/* The default workspace of the handle's current stream, made on first use. */
static cublasStatus_t ensure_workspace(cublasHandle_t h)
{
	int i;
	void *p = NULL;
	cudaError_t e;
	if (h->user_ws_set || h->default_ws_size == 0)
		return CUBLAS_STATUS_SUCCESS;
	for (i = 0; i < h->nws; i++)
		if (h->ws[i].stream == h->stream)
			return CUBLAS_STATUS_SUCCESS;
	if (h->nws == SCB_MAX_STREAMS)
		return CUBLAS_STATUS_ALLOC_FAILED;
	e = cudaMalloc(&p, h->default_ws_size);
	if (e != cudaSuccess) {
		(void)cudaGetLastError();
		return CUBLAS_STATUS_ALLOC_FAILED;
	}
	h->ws[h->nws].stream = h->stream;
	h->ws[h->nws].ptr = p;
	h->ws[h->nws].size = h->default_ws_size;
	h->nws++;
	__atomic_add_fetch(&n_ws_alloc, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&ws_bytes, h->default_ws_size, __ATOMIC_SEQ_CST);
	return CUBLAS_STATUS_SUCCESS;
}

static int is_trans(cublasOperation_t op)
{
	return op == CUBLAS_OP_T || op == CUBLAS_OP_C || op == CUBLAS_OP_HERMITAN;
}

static int valid_op(cublasOperation_t op)
{
	return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C || op == CUBLAS_OP_CONJG;
}

static int layout_index(cublasOperation_t ta, cublasOperation_t tb)
{
	int a = is_trans(ta), b = is_trans(tb);
	return a && !b ? 0 : !a && !b ? 1 : !a && b ? 2 : 3; /* tn nn nt tt */
}

/* cuBLAS's argument checks for C = op(A) op(B), column-major. */
static cublasStatus_t check_dims(cublasOperation_t ta, cublasOperation_t tb, long long m, long long n,
				 long long k, long long lda, long long ldb, long long ldc, const void *alpha,
				 const void *beta)
{
	long long arows = is_trans(ta) ? k : m, brows = is_trans(tb) ? n : k;
	if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1))
		return CUBLAS_STATUS_INVALID_VALUE;
	if (!alpha || !beta)
		return CUBLAS_STATUS_INVALID_VALUE;
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t gemm(cublasHandle_t h, int family, cublasOperation_t ta, cublasOperation_t tb, long long m,
			   long long n, long long batch)
{
	int idx = family * 4 + layout_index(ta, tb);
	unsigned tm = 128, tn = family == SCB_SGEMM || family == SCB_DGEMM ? 64 : 128,
		 block = family == SCB_SGEMM ? 256 : 128;
	unsigned long long gx = ((unsigned long long)m + tm - 1) / tm, gy = ((unsigned long long)n + tn - 1) / tn;
	cublasStatus_t st;
	if (m == 0 || n == 0 || batch == 0)
		return CUBLAS_STATUS_SUCCESS; /* quick return, as cuBLAS: no kernel */
	pthread_mutex_lock(&h->lock);
	st = ensure_workspace(h);
	pthread_mutex_unlock(&h->lock);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	while (gy > 65535) { /* fold tile columns into x */
		gx *= 2;
		gy = (gy + 1) / 2;
	}
	if (gx > 2147483647ull)
		gx = 2147483647ull;
	while (batch > 0) {
		unsigned gz = batch > 65535 ? 65535 : (unsigned)batch;
		int e = simcublas_launch(idx, (unsigned)gx, (unsigned)gy, gz, block, h->stream);
		if (e != 0) {
			(void)cudaGetLastError();
			return CUBLAS_STATUS_EXECUTION_FAILED;
		}
		__atomic_add_fetch(&n_launch, 1, __ATOMIC_SEQ_CST);
		batch -= gz;
	}
	return CUBLAS_STATUS_SUCCESS;
}

/* Kernel family of a GemmEx call from its types and the handle's math mode. */
static int family_of(cublasHandle_t h, cudaDataType a, cudaDataType b, cudaDataType c, cublasComputeType_t ct)
{
	if (a != b)
		return -1;
	switch (a) {
	case CUDA_R_16BF:
		return (c == CUDA_R_16BF || c == CUDA_R_32F) ? SCB_BF16 : -1;
	case CUDA_R_16F:
		return (c == CUDA_R_16F || c == CUDA_R_32F) ? SCB_F16 : -1;
	case CUDA_R_32F:
		if (c != CUDA_R_32F)
			return -1;
		if (ct == CUBLAS_COMPUTE_32F_FAST_TF32 ||
		    (ct == CUBLAS_COMPUTE_32F && math_base(h->math) == CUBLAS_TF32_TENSOR_OP_MATH))
			return SCB_TF32;
		return SCB_SGEMM;
	default:
		return -1;
	}
}

static int valid_compute(cublasComputeType_t ct)
{
	switch (ct) {
	case CUBLAS_COMPUTE_16F: case CUBLAS_COMPUTE_16F_PEDANTIC: case CUBLAS_COMPUTE_32F:
	case CUBLAS_COMPUTE_32F_PEDANTIC: case CUBLAS_COMPUTE_32F_FAST_16F: case CUBLAS_COMPUTE_32F_FAST_16BF:
	case CUBLAS_COMPUTE_32F_FAST_TF32:
		return 1;
	default:
		return 0;
	}
}

cublasStatus_t CUBLASWINAPI cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
					   int m, int n, int k, const float *alpha, const float *A, int lda,
					   const float *B, int ldb, const float *beta, float *C, int ldc)
{
	cublasStatus_t st;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(transa, transb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	return gemm(handle, math_base(handle->math) == CUBLAS_TF32_TENSOR_OP_MATH ? SCB_TF32 : SCB_SGEMM,
		    transa, transb, m, n, 1);
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
					 int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype,
					 int lda, const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
					 cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
					 cublasGemmAlgo_t algo)
{
	cublasStatus_t st;
	int fam;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(transa, transb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	if (!valid_compute(computeType))
		return CUBLAS_STATUS_INVALID_VALUE;
	fam = family_of(handle, Atype, Btype, Ctype, computeType);
	if (fam < 0)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	return gemm(handle, fam, transa, transb, m, n, 1);
}

cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
						       cublasOperation_t transb, int m, int n, int k,
						       const void *alpha, const void *A, cudaDataType Atype, int lda,
						       long long int strideA, const void *B, cudaDataType Btype,
						       int ldb, long long int strideB, const void *beta, void *C,
						       cudaDataType Ctype, int ldc, long long int strideC,
						       int batchCount, cublasComputeType_t computeType,
						       cublasGemmAlgo_t algo)
{
	cublasStatus_t st;
	int fam;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(transa, transb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	if (batchCount < 0 || !valid_compute(computeType))
		return CUBLAS_STATUS_INVALID_VALUE;
	fam = family_of(handle, Atype, Btype, Ctype, computeType);
	if (fam < 0)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	return gemm(handle, fam, transa, transb, m, n, batchCount);
}

/* The typed GEMMs: same checks, fixed families. */
static cublasStatus_t typed_gemm(cublasHandle_t h, int fam, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
				 int k, const void *alpha, int lda, int ldb, const void *beta, int ldc, long long batch)
{
	cublasStatus_t st;
	if (!valid(h))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(ta, tb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	if (batch < 0)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (fam == SCB_SGEMM && math_base(h->math) == CUBLAS_TF32_TENSOR_OP_MATH)
		fam = SCB_TF32;
	return gemm(h, fam, ta, tb, m, n, batch);
}

cublasStatus_t CUBLASWINAPI cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
					   int m, int n, int k, const double *alpha, const double *A, int lda,
					   const double *B, int ldb, const double *beta, double *C, int ldc)
{
	return typed_gemm(handle, SCB_DGEMM, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, 1);
}

cublasStatus_t CUBLASWINAPI cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
						      cublasOperation_t transb, int m, int n, int k,
						      const float *alpha, const float *A, int lda, long long int strideA,
						      const float *B, int ldb, long long int strideB, const float *beta,
						      float *C, int ldc, long long int strideC, int batchCount)
{
	return typed_gemm(handle, SCB_SGEMM, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batchCount);
}

cublasStatus_t CUBLASWINAPI cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
						      cublasOperation_t transb, int m, int n, int k,
						      const double *alpha, const double *A, int lda,
						      long long int strideA, const double *B, int ldb,
						      long long int strideB, const double *beta, double *C, int ldc,
						      long long int strideC, int batchCount)
{
	return typed_gemm(handle, SCB_DGEMM, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batchCount);
}

cublasStatus_t CUBLASWINAPI cublasSgemmBatched(cublasHandle_t handle, cublasOperation_t transa,
					       cublasOperation_t transb, int m, int n, int k, const float *alpha,
					       const float *const Aarray[], int lda, const float *const Barray[],
					       int ldb, const float *beta, float *const Carray[], int ldc,
					       int batchCount)
{
	return typed_gemm(handle, SCB_SGEMM, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batchCount);
}

cublasStatus_t CUBLASWINAPI cublasDgemmBatched(cublasHandle_t handle, cublasOperation_t transa,
					       cublasOperation_t transb, int m, int n, int k, const double *alpha,
					       const double *const Aarray[], int lda, const double *const Barray[],
					       int ldb, const double *beta, double *const Carray[], int ldc,
					       int batchCount)
{
	return typed_gemm(handle, SCB_DGEMM, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batchCount);
}

cublasStatus_t CUBLASWINAPI cublasGemmBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
						cublasOperation_t transb, int m, int n, int k, const void *alpha,
						const void *const Aarray[], cudaDataType Atype, int lda,
						const void *const Barray[], cudaDataType Btype, int ldb,
						const void *beta, void *const Carray[], cudaDataType Ctype, int ldc,
						int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo)
{
	cublasStatus_t st;
	int fam;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(transa, transb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	if (batchCount < 0 || !valid_compute(computeType))
		return CUBLAS_STATUS_INVALID_VALUE;
	fam = family_of(handle, Atype, Btype, Ctype, computeType);
	if (fam < 0)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	return gemm(handle, fam, transa, transb, m, n, batchCount);
}

/* fp32 compute over bf16/fp16/fp32 inputs (PyTorch's fallback for reduced
 * precision GEMMs). */
cublasStatus_t CUBLASWINAPI cublasSgemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
					  int m, int n, int k, const float *alpha, const void *A, cudaDataType Atype,
					  int lda, const void *B, cudaDataType Btype, int ldb, const float *beta,
					  void *C, cudaDataType Ctype, int ldc)
{
	cublasStatus_t st;
	int fam;
	if (!valid(handle))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	st = check_dims(transa, transb, m, n, k, lda, ldb, ldc, alpha, beta);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	fam = family_of(handle, Atype, Btype, Ctype, CUBLAS_COMPUTE_32F);
	if (fam < 0)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	return gemm(handle, fam, transa, transb, m, n, 1);
}

/* ------------------------------------------------------ level 1 and 2 */

static cublasStatus_t aux(cublasHandle_t h, int id, unsigned long long work, unsigned threads)
{
	unsigned long long blocks = (work + threads - 1) / threads;
	if (simcublas_launch_aux(id, (unsigned)(blocks > 2147483647ull ? 2147483647ull : blocks), threads, h->stream)) {
		(void)cudaGetLastError();
		return CUBLAS_STATUS_EXECUTION_FAILED;
	}
	__atomic_add_fetch(&n_launch, 1, __ATOMIC_SEQ_CST);
	return CUBLAS_STATUS_SUCCESS;
}

/* y = alpha op(A) x + beta y: one kernel (no workspace). */
static cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t trans, int m, int n, const void *alpha, int lda,
			   int incx, const void *beta, int incy)
{
	if (!valid(h))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!valid_op(trans) || m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0 || !alpha || !beta)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (m == 0 || n == 0)
		return CUBLAS_STATUS_SUCCESS;
	return aux(h, is_trans(trans) ? SCB_K_GEMV_T : SCB_K_GEMV_N, (unsigned long long)(is_trans(trans) ? n : m), 128);
}

cublasStatus_t CUBLASWINAPI cublasSgemv_v2(cublasHandle_t handle, cublasOperation_t trans, int m, int n,
					   const float *alpha, const float *A, int lda, const float *x, int incx,
					   const float *beta, float *y, int incy)
{
	return gemv(handle, trans, m, n, alpha, lda, incx, beta, incy);
}

cublasStatus_t CUBLASWINAPI cublasDgemv_v2(cublasHandle_t handle, cublasOperation_t trans, int m, int n,
					   const double *alpha, const double *A, int lda, const double *x, int incx,
					   const double *beta, double *y, int incy)
{
	return gemv(handle, trans, m, n, alpha, lda, incx, beta, incy);
}

/* result = x . y: a partial-sum kernel and a one-block reduction; with
 * the host pointer mode the result is written (0: kernels compute nothing). */
static cublasStatus_t dot(cublasHandle_t h, int n, int incx, int incy, void *result, size_t rsize)
{
	cublasStatus_t st;
	if (!valid(h))
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!result)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (n > 0) {
		st = aux(h, SCB_K_DOT, (unsigned long long)n, 512);
		if (st == CUBLAS_STATUS_SUCCESS)
			st = aux(h, SCB_K_DOT_REDUCE, 1, 512);
		if (st != CUBLAS_STATUS_SUCCESS)
			return st;
	}
	(void)incx;
	(void)incy;
	if (h->pmode == CUBLAS_POINTER_MODE_HOST)
		memset(result, 0, rsize);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSdot_v2(cublasHandle_t handle, int n, const float *x, int incx, const float *y,
					  int incy, float *result)
{
	return dot(handle, n, incx, incy, result, sizeof *result);
}

cublasStatus_t CUBLASWINAPI cublasDdot_v2(cublasHandle_t handle, int n, const double *x, int incx, const double *y,
					  int incy, double *result)
{
	return dot(handle, n, incx, incy, result, sizeof *result);
}

/* ------------------------------------------------------- ground truth */

uint64_t mt_sim_cublas_workspace_allocs(void)
{
	return __atomic_load_n(&n_ws_alloc, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cublas_workspace_frees(void)
{
	return __atomic_load_n(&n_ws_free, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cublas_workspace_bytes(void)
{
	return __atomic_load_n(&ws_bytes, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cublas_launch_count(void)
{
	return __atomic_load_n(&n_launch, __ATOMIC_SEQ_CST);
}

int mt_sim_cublas_handle_workspaces(cublasHandle_t h, unsigned long long *ptrs, size_t *sizes, int max)
{
	int i, n;
	if (!valid(h))
		return -1;
	pthread_mutex_lock(&h->lock);
	n = h->nws;
	for (i = 0; i < n && i < max; i++) {
		if (ptrs)
			ptrs[i] = (unsigned long long)(uintptr_t)h->ws[i].ptr;
		if (sizes)
			sizes[i] = h->ws[i].size;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

int mt_sim_cublas_user_workspaces(unsigned long long *ptrs, size_t *sizes, int max)
{
	return mt_sim_bufset_get(&user_ws, ptrs, sizes, sizeof *sizes, max);
}
