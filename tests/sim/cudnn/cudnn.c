/* The simulated cuDNN 9: libcudnn.so.9 with the real API (the toolkit's
 * cudnn.h, included so the compiler checks every signature; the other
 * entry points of cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h and cudnn_adv.h
 * are generated weak stubs, cudnn_stubs.c).
 *
 * What frameworks use for training is simulated: handles and their stream,
 * and the backend (graph) API that cuDNN's frontend drives for
 * convolutions and scaled-dot-product attention:
 *
 *  - every descriptor keeps the attributes set on it; a descriptor set as
 *    an attribute is copied (as cuDNN copies it), and reading a descriptor
 *    attribute copies into the caller's descriptors;
 *  - finalize checks what each kind needs and derives what cuDNN derives:
 *    an operation graph's engine count, the heuristics' engine configs, the
 *    engine config's and the execution plan's workspace size;
 *  - cudnnBackendExecute checks the variant pack (workspace present when
 *    needed) and launches the plan's kernels on the handle's stream through
 *    cudaLaunchKernel.  The library allocates no device memory: the caller
 *    passes the workspace, whose size it read from the plan.
 *
 * Workspace sizes (real ones depend on the engine and are not documented):
 * the fused flash-attention backward as one operation (SDPA_BWD) needs an
 * fp32 dQ accumulator and the fp32 row sums of dO*O (4 * b * h * s_q *
 * (d + 1) bytes); in the frontend's composite form those two are tensors
 * of the graph that the frontend places in its own part of the workspace,
 * so the plan needs none.  Every other operation graph needs none (the
 * implicit-GEMM convolutions and the flash-attention forward engines run
 * without one).  Set
 * MT_SIM_CUDNN_LOG=1 for a line per call on stderr.  Ground truth:
 * simcudnn.h. */
#include <cudnn.h>
#include <cuda_runtime_api.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/cudnn/cudnn_kernels.h"
#include "tests/sim/cudnn/simcudnn.h"
#include "tests/sim/cudnn/cudnn_int.h"
#include "tests/sim/cublas/bufset.h"

#define SCD_DESC 0x63646e64u   /* "cdnd" */
/* Shared memory an engine uses: within the 227 KiB an H100 block may opt
 * into (the frontend rejects engines that use more than the device has). */
#define SCD_SHARED_MEMORY (160 * 1024)

struct scd_attr {
	cudnnBackendAttributeName_t name;
	cudnnBackendAttributeType_t type;
	int64_t count;
	void *data; /* count elements; BACKEND_DESCRIPTOR: our own copies */
};

struct scd_desc {
	unsigned magic;
	cudnnBackendDescriptorType_t type;
	int finalized;
	struct scd_attr *attrs;
	int nattrs;
};

static uint64_t n_exec, n_launch;

static struct mt_sim_bufset ws_seen = MT_SIM_BUFSET_INIT; /* workspaces of plans that need one */
static __thread char last_error[256];
static int log_on = -1;

void mt__scd_say(const char *fmt, ...)
{
	va_list ap;
	if (log_on < 0)
		log_on = getenv("MT_SIM_CUDNN_LOG") && *getenv("MT_SIM_CUDNN_LOG") == '1';
	if (!log_on)
		return;
	va_start(ap, fmt);
	fputs("simcudnn: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

cudnnStatus_t mt__scd_fail(cudnnStatus_t st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	mt__scd_say("error %d: %s", (int)st, last_error);
	return st;
}

/* ------------------------------------------------------ library, handles */

size_t CUDNNWINAPI cudnnGetVersion(void)
{
	return CUDNN_VERSION;
}

size_t CUDNNWINAPI cudnnGetMaxDeviceVersion(void)
{
	return 1200; /* the newest architecture cuDNN 9 knows: sm_120 */
}

size_t CUDNNWINAPI cudnnGetCudartVersion(void)
{
	return CUDART_VERSION;
}

cudnnStatus_t CUDNNWINAPI cudnnGetProperty(libraryPropertyType type, int *value)
{
	if (!value)
		return CUDNN_STATUS_BAD_PARAM;
	switch (type) {
	case MAJOR_VERSION: *value = CUDNN_MAJOR; break;
	case MINOR_VERSION: *value = CUDNN_MINOR; break;
	case PATCH_LEVEL: *value = CUDNN_PATCHLEVEL; break;
	default: return CUDNN_STATUS_BAD_PARAM;
	}
	return CUDNN_STATUS_SUCCESS;
}

const char *CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t status)
{
	switch (status) {
	case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
	case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
	case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
	case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
	case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
	case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
	case CUDNN_STATUS_ALLOC_FAILED: return "CUDNN_STATUS_ALLOC_FAILED";
	default: return "CUDNN_STATUS_UNKNOWN";
	}
}

void CUDNNWINAPI cudnnGetLastErrorString(char *message, size_t max_size)
{
	if (message && max_size) {
		snprintf(message, max_size, "%s", last_error);
		last_error[0] = 0;
	}
}

cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t *handle)
{
	struct cudnnContext *h;
	int dev = 0;
	if (!handle)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreate: handle is NULL");
	if (cudaGetDevice(&dev) != cudaSuccess) {
		(void)cudaGetLastError();
		return mt__scd_fail(CUDNN_STATUS_NOT_INITIALIZED, "cudnnCreate: no CUDA device");
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return CUDNN_STATUS_ALLOC_FAILED;
	h->magic = SCD_HANDLE;
	h->device = dev;
	*handle = h;
	mt__scd_say("create handle %p device %d", (void *)h, dev);
	return CUDNN_STATUS_SUCCESS;
}

int mt__scd_valid_handle(cudnnHandle_t h)
{
	return h && h->magic == SCD_HANDLE;
}

void mt__scd_count_launch(void)
{
	__atomic_add_fetch(&n_launch, 1, __ATOMIC_SEQ_CST);
}

cudnnStatus_t CUDNNWINAPI cudnnDestroy(cudnnHandle_t handle)
{
	if (!mt__scd_valid_handle(handle))
		return CUDNN_STATUS_BAD_PARAM;
	handle->magic = 0;
	free(handle);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
	if (!mt__scd_valid_handle(handle))
		return CUDNN_STATUS_BAD_PARAM;
	handle->stream = streamId;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnGetStream(cudnnHandle_t handle, cudaStream_t *streamId)
{
	if (!mt__scd_valid_handle(handle) || !streamId)
		return CUDNN_STATUS_BAD_PARAM;
	*streamId = handle->stream;
	return CUDNN_STATUS_SUCCESS;
}

/* ---------------------------------------------------------- descriptors */

/* Bytes of one element of an attribute type. */
static size_t type_size(cudnnBackendAttributeType_t t)
{
	switch (t) {
	case CUDNN_TYPE_HANDLE: case CUDNN_TYPE_VOID_PTR: case CUDNN_TYPE_BACKEND_DESCRIPTOR:
	case CUDNN_TYPE_INT64: case CUDNN_TYPE_DOUBLE:
		return 8;
	case CUDNN_TYPE_BOOLEAN: case CUDNN_TYPE_CHAR:
		return 1;
	case CUDNN_TYPE_FRACTION:
		return sizeof(cudnnFraction_t);
	default: /* enums, INT32, FLOAT */
		return 4;
	}
}

static struct scd_desc *as_desc(cudnnBackendDescriptor_t d)
{
	struct scd_desc *o = d;
	return o && o->magic == SCD_DESC ? o : NULL;
}

static void clear_attrs(struct scd_desc *o);

static struct scd_desc *new_desc(cudnnBackendDescriptorType_t type)
{
	struct scd_desc *o = calloc(1, sizeof *o);
	if (o) {
		o->magic = SCD_DESC;
		o->type = type;
	}
	return o;
}

static void free_desc(struct scd_desc *o)
{
	if (!o)
		return;
	clear_attrs(o);
	o->magic = 0;
	free(o);
}

static struct scd_attr *find(const struct scd_desc *o, cudnnBackendAttributeName_t name)
{
	int i;
	for (i = 0; i < o->nattrs; i++)
		if (o->attrs[i].name == name)
			return &o->attrs[i];
	return NULL;
}

static void free_attr(struct scd_attr *a)
{
	int64_t i;
	if (a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
		for (i = 0; i < a->count; i++)
			free_desc(((struct scd_desc **)a->data)[i]);
	free(a->data);
	a->data = NULL;
	a->count = 0;
}

static void clear_attrs(struct scd_desc *o)
{
	int i;
	for (i = 0; i < o->nattrs; i++)
		free_attr(&o->attrs[i]);
	free(o->attrs);
	o->attrs = NULL;
	o->nattrs = 0;
}

static struct scd_desc *clone_desc(const struct scd_desc *src);

/* Copies src's attributes and state into dst (same type). */
static int copy_into(struct scd_desc *dst, const struct scd_desc *src)
{
	int i;
	int64_t j;
	clear_attrs(dst);
	dst->type = src->type;
	dst->finalized = src->finalized;
	if (!src->nattrs)
		return 0;
	dst->attrs = calloc((size_t)src->nattrs, sizeof *dst->attrs);
	if (!dst->attrs)
		return -1;
	for (i = 0; i < src->nattrs; i++) {
		const struct scd_attr *s = &src->attrs[i];
		struct scd_attr *d = &dst->attrs[i];
		size_t n = (size_t)s->count * type_size(s->type);
		d->name = s->name;
		d->type = s->type;
		d->data = malloc(n ? n : 1);
		if (!d->data)
			return -1;
		dst->nattrs = i + 1;
		d->count = s->count;
		if (s->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
			for (j = 0; j < s->count; j++)
				((struct scd_desc **)d->data)[j] = clone_desc(((struct scd_desc **)s->data)[j]);
		} else if (n) {
			memcpy(d->data, s->data, n);
		}
	}
	return 0;
}

static struct scd_desc *clone_desc(const struct scd_desc *src)
{
	struct scd_desc *o;
	if (!src)
		return NULL;
	o = new_desc(src->type);
	if (o && copy_into(o, src) != 0) {
		free_desc(o);
		return NULL;
	}
	return o;
}

/* Stores count elements (descriptors are copied). */
static cudnnStatus_t put(struct scd_desc *o, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
			 int64_t count, const void *elems)
{
	struct scd_attr *a = find(o, name);
	size_t n = (size_t)count * type_size(type);
	int64_t i;
	if (!a) {
		struct scd_attr *na = realloc(o->attrs, (size_t)(o->nattrs + 1) * sizeof *na);
		if (!na)
			return CUDNN_STATUS_ALLOC_FAILED;
		o->attrs = na;
		a = &o->attrs[o->nattrs++];
		memset(a, 0, sizeof *a);
		a->name = name;
	} else {
		free_attr(a);
	}
	a->type = type;
	a->data = malloc(n ? n : 1);
	if (!a->data)
		return CUDNN_STATUS_ALLOC_FAILED;
	a->count = count;
	if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
		for (i = 0; i < count; i++) {
			struct scd_desc *s = as_desc(((void *const *)elems)[i]);
			((struct scd_desc **)a->data)[i] = s ? clone_desc(s) : NULL;
		}
	} else if (n) {
		memcpy(a->data, elems, n);
	}
	return CUDNN_STATUS_SUCCESS;
}

static int64_t get_i64(const struct scd_desc *o, cudnnBackendAttributeName_t name, int64_t dflt)
{
	const struct scd_attr *a = o ? find(o, name) : NULL;
	if (!a || a->count < 1)
		return dflt;
	if (a->type == CUDNN_TYPE_INT64)
		return ((const int64_t *)a->data)[0];
	if (a->type == CUDNN_TYPE_INT32)
		return ((const int32_t *)a->data)[0];
	return dflt;
}

static struct scd_desc *get_desc(const struct scd_desc *o, cudnnBackendAttributeName_t name)
{
	const struct scd_attr *a = o ? find(o, name) : NULL;
	if (!a || a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || a->count < 1)
		return NULL;
	return ((struct scd_desc **)a->data)[0];
}

/* ------------------------------------------------------- graph analysis */

/* The tensor dimensions of descriptor t: up to 8 into dims; returns rank. */
static int dims_of(const struct scd_desc *t, int64_t *dims)
{
	const struct scd_attr *a = t ? find(t, CUDNN_ATTR_TENSOR_DIMENSIONS) : NULL;
	int n, i;
	if (!a || a->type != CUDNN_TYPE_INT64)
		return 0;
	n = a->count > 8 ? 8 : (int)a->count;
	for (i = 0; i < n; i++)
		dims[i] = ((const int64_t *)a->data)[i];
	return n;
}

static int64_t elems_of(const struct scd_desc *t)
{
	int64_t d[8], n = 1;
	int r = dims_of(t, d), i;
	for (i = 0; i < r; i++)
		n *= d[i];
	return r ? n : 0;
}

/* What an operation graph computes, for workspace and kernels. */
struct scd_plan_info {
	int kernel[4]; /* SCD_K_* launched, in order */
	int nkernels;
	int64_t work; /* elements of the main output (grid) */
	int64_t workspace;
};

static const struct scd_desc *graph_ops(const struct scd_desc *g, int64_t *n)
{
	const struct scd_attr *a = g ? find(g, CUDNN_ATTR_OPERATIONGRAPH_OPS) : NULL;
	*n = a && a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR ? a->count : 0;
	return a ? (const void *)a->data : NULL;
}

/* The flash-attention backward's workspace for Q of dims b, h, s_q, d:
 * an fp32 dQ accumulator plus one fp32 per row. */
static int64_t sdpa_bwd_workspace(const struct scd_desc *q)
{
	int64_t d[8];
	return dims_of(q, d) == 4 ? 4 * d[0] * d[1] * d[2] * (d[3] + 1) : 0;
}

static int is_virtual(const struct scd_desc *t)
{
	const struct scd_attr *a = t ? find(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL) : NULL;
	return a && a->count > 0 && ((const char *)a->data)[0];
}

static void analyse(const struct scd_desc *graph, struct scd_plan_info *pi)
{
	int64_t nops = 0, i, nmm = 0;
	const struct scd_desc *q = NULL, *out = NULL;
	struct scd_desc *const *ops = (struct scd_desc *const *)graph_ops(graph, &nops);
	memset(pi, 0, sizeof *pi);
	/* The frontend's composite attention: matmuls with softmax between;
	 * the forward has two (Q.K^T, P.V), the backward five. */
	for (i = 0; i < nops; i++) {
		const struct scd_desc *op = ops[i];
		if (op && op->type == CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR) {
			const struct scd_desc *a = get_desc(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC);
			const struct scd_desc *c = get_desc(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC);
			nmm++;
			if (!q && a && !is_virtual(a))
				q = a;
			if (c && !is_virtual(c))
				out = c;
		}
	}
	if (nmm >= 2) {
		if (nmm == 2) {
			pi->kernel[0] = SCD_K_SDPA_FPROP;
			pi->nkernels = 1;
			pi->work = elems_of(out);
		} else {
			/* the frontend passes the dQ accumulator and row sums as
			 * tensors of the graph, in its own part of the workspace */
			pi->workspace = 0;
			pi->kernel[0] = SCD_K_SDPA_DOT_DO_O;
			pi->kernel[1] = SCD_K_SDPA_BPROP;
			pi->kernel[2] = SCD_K_SDPA_CONVERT_DQ;
			pi->nkernels = 3;
			pi->work = elems_of(q);
		}
		return;
	}
	for (i = 0; i < nops; i++) {
		const struct scd_desc *op = ops[i];
		if (!op)
			continue;
		switch ((int)op->type) {
		case CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR:
			pi->kernel[0] = SCD_K_SDPA_FPROP;
			pi->nkernels = 1;
			pi->work = elems_of(get_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC));
			return;
		case CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR: {
			q = get_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC);
			pi->workspace = sdpa_bwd_workspace(q);
			pi->kernel[0] = SCD_K_SDPA_DOT_DO_O;
			pi->kernel[1] = SCD_K_SDPA_BPROP;
			pi->kernel[2] = SCD_K_SDPA_CONVERT_DQ;
			pi->nkernels = 3;
			pi->work = elems_of(q);
			return;
		}
		case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
			pi->kernel[pi->nkernels++ & 3] = SCD_K_CONV_FPROP;
			pi->work = elems_of(get_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y));
			break;
		case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
			pi->kernel[pi->nkernels++ & 3] = SCD_K_CONV_DGRAD;
			pi->work = elems_of(get_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX));
			break;
		case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
			pi->kernel[pi->nkernels++ & 3] = SCD_K_CONV_WGRAD;
			pi->work = elems_of(get_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW));
			break;
		default:
			break; /* pointwise etc.: fused into the main kernel */
		}
	}
	if (pi->nkernels > 4)
		pi->nkernels = 4;
	if (pi->nkernels == 0) {
		pi->kernel[0] = SCD_K_GENERIC;
		pi->nkernels = 1;
	}
}

/* The operation graph behind an engine config / plan descriptor. */
static const struct scd_desc *graph_of_cfg(const struct scd_desc *cfg)
{
	return get_desc(get_desc(cfg, CUDNN_ATTR_ENGINECFG_ENGINE), CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
}

/* --------------------------------------------------------- backend API */

cudnnStatus_t CUDNNWINAPI cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
						       cudnnBackendDescriptor_t *descriptor)
{
	struct scd_desc *o;
	if (!descriptor)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendCreateDescriptor: NULL output");
	o = new_desc(descriptorType);
	if (!o)
		return CUDNN_STATUS_ALLOC_FAILED;
	*descriptor = o;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor)
{
	struct scd_desc *o = as_desc(descriptor);
	if (!o)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendDestroyDescriptor: not a descriptor");
	free_desc(o);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendInitialize(cudnnBackendDescriptor_t descriptor)
{
	struct scd_desc *o = as_desc(descriptor);
	if (!o)
		return CUDNN_STATUS_BAD_PARAM;
	clear_attrs(o);
	o->finalized = 0;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor,
						   cudnnBackendAttributeName_t attributeName,
						   cudnnBackendAttributeType_t attributeType, int64_t elementCount,
						   const void *arrayOfElements)
{
	struct scd_desc *o = as_desc(descriptor);
	if (!o)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute(%d): not a descriptor", (int)attributeName);
	if (o->finalized)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute(%d): descriptor already finalized",
			    (int)attributeName);
	if (elementCount < 0 || (elementCount > 0 && !arrayOfElements))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute(%d): bad elements", (int)attributeName);
	return put(o, attributeName, attributeType, elementCount, arrayOfElements);
}

/* The derived attributes of a descriptor being finalized. */
static cudnnStatus_t derive(struct scd_desc *o)
{
	struct scd_plan_info pi;
	int64_t one = 1, zero = 0;
	int32_t shmem = SCD_SHARED_MEMORY;
	switch ((int)o->type) {
	case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
		if (!find(o, CUDNN_ATTR_OPERATIONGRAPH_OPS))
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "operation graph without operations");
		return put(o, CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT, CUDNN_TYPE_INT64, 1, &one);
	case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
		if (!get_desc(o, CUDNN_ATTR_ENGINE_OPERATION_GRAPH))
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "engine without operation graph");
		if (get_i64(o, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, 0) != 0)
			return mt__scd_fail(CUDNN_STATUS_NOT_SUPPORTED, "engine index %lld: one engine per graph",
				    (long long)get_i64(o, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, 0));
		return CUDNN_STATUS_SUCCESS;
	case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
		if (!get_desc(o, CUDNN_ATTR_ENGINECFG_ENGINE))
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "engine config without engine");
		analyse(graph_of_cfg(o), &pi);
		put(o, CUDNN_ATTR_ENGINECFG_SHARED_MEMORY_USED, CUDNN_TYPE_INT32, 1, &shmem);
		return put(o, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &pi.workspace);
	case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: {
		struct scd_desc *g = get_desc(o, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH), *eng, *cfg;
		cudnnStatus_t st;
		if (!g)
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "heuristics without operation graph");
		eng = new_desc(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
		cfg = new_desc(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
		if (!eng || !cfg) {
			free_desc(eng);
			free_desc(cfg);
			return CUDNN_STATUS_ALLOC_FAILED;
		}
		put(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
		put(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &zero);
		eng->finalized = 1;
		put(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng);
		derive(cfg);
		cfg->finalized = 1;
		st = put(o, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
		free_desc(eng);
		free_desc(cfg);
		return st;
	}
	case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: {
		struct scd_desc *cfg = get_desc(o, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
		const char *json = "{\"engineId\":0,\"simulated\":true}";
		if (!cfg) /* the handle is optional since cuDNN 9 */
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "execution plan without engine config");
		analyse(graph_of_cfg(cfg), &pi);
		put(o, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, (int64_t)strlen(json) + 1, json);
		put(o, CUDNN_ATTR_EXECUTION_PLAN_COMPUTED_INTERMEDIATE_UIDS, CUDNN_TYPE_INT64, 0, NULL);
		put(o, CUDNN_ATTR_EXECUTION_PLAN_RUN_ONLY_INTERMEDIATE_UIDS, CUDNN_TYPE_INT64, 0, NULL);
		return put(o, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &pi.workspace);
	}
	default:
		return CUDNN_STATUS_SUCCESS;
	}
}

cudnnStatus_t CUDNNWINAPI cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor)
{
	struct scd_desc *o = as_desc(descriptor);
	cudnnStatus_t st;
	if (!o)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: not a descriptor");
	if (o->finalized)
		return CUDNN_STATUS_SUCCESS;
	st = derive(o);
	mt__scd_say("finalize type %d -> %d", (int)o->type, (int)st);
	if (st == CUDNN_STATUS_SUCCESS)
		o->finalized = 1;
	return st;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
						   cudnnBackendAttributeName_t attributeName,
						   cudnnBackendAttributeType_t attributeType, int64_t requestedElementCount,
						   int64_t *elementCount, void *arrayOfElements)
{
	struct scd_desc *o = as_desc(descriptor);
	struct scd_attr *a;
	int64_t i, n;
	if (!o)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute(%d): not a descriptor", (int)attributeName);
	if (requestedElementCount < 0)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute(%d): bad request", (int)attributeName);
	if (!arrayOfElements) /* a count query */
		requestedElementCount = 0;
	a = find(o, attributeName);
	mt__scd_say("get type %d attr %d as %d x%lld -> %s", (int)o->type, (int)attributeName, (int)attributeType,
	    (long long)requestedElementCount, a ? "set" : "unset");
	if (!a) { /* never set, nothing derived: an empty list */
		if (elementCount)
			*elementCount = 0;
		return CUDNN_STATUS_SUCCESS;
	}
	if (a->type != attributeType && type_size(a->type) != type_size(attributeType))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute(%d): type %d, stored as %d",
			    (int)attributeName, (int)attributeType, (int)a->type);
	if (elementCount)
		*elementCount = a->count;
	n = requestedElementCount < a->count ? requestedElementCount : a->count;
	if (a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
		for (i = 0; i < n; i++) {
			struct scd_desc *dst = as_desc(((void **)arrayOfElements)[i]);
			struct scd_desc *src = ((struct scd_desc **)a->data)[i];
			if (!dst)
				return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute(%d): element %lld is not a descriptor",
					    (int)attributeName, (long long)i);
			if (src && copy_into(dst, src) != 0)
				return CUDNN_STATUS_ALLOC_FAILED;
		}
	} else if (n) {
		memcpy(arrayOfElements, a->data, (size_t)n * type_size(a->type));
	}
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
					      cudnnBackendDescriptor_t variantPack)
{
	struct scd_desc *plan = as_desc(executionPlan), *vp = as_desc(variantPack);
	struct scd_plan_info pi;
	struct scd_attr *ws;
	void *wsp = NULL;
	int i;
	if (!mt__scd_valid_handle(handle))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: bad handle");
	if (!plan || plan->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !plan->finalized || !vp ||
	    vp->type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR || !vp->finalized)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: plan or variant pack not finalized");
	analyse(graph_of_cfg(get_desc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG)), &pi);
	ws = find(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
	if (ws && ws->count > 0)
		wsp = ((void **)ws->data)[0];
	if (pi.workspace > 0 && !wsp)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the plan needs %lld B of workspace, none given",
			    (long long)pi.workspace);
	mt_sim_bufset_note(&ws_seen, pi.workspace > 0 ? wsp : NULL, (uint64_t)pi.workspace, (uint64_t)pi.workspace);
	__atomic_add_fetch(&n_exec, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < pi.nkernels; i++) {
		int64_t blocks = (pi.work + 128 * 128 - 1) / (128 * 128);
		int e = simcudnn_launch(pi.kernel[i], (unsigned)(blocks < 1 ? 1 : blocks > 2147483647 ? 2147483647 : blocks),
					handle->stream);
		if (e != 0) {
			(void)cudaGetLastError();
			return mt__scd_fail(CUDNN_STATUS_EXECUTION_FAILED, "cudnnBackendExecute: launch failed (%d)", e);
		}
		mt__scd_count_launch();
	}
	mt__scd_say("execute plan ws=%lld at %p kernels=%d", (long long)pi.workspace, wsp, pi.nkernels);
	return CUDNN_STATUS_SUCCESS;
}

/* ------------------------------------------------------- ground truth */

uint64_t mt_sim_cudnn_execute_count(void)
{
	return __atomic_load_n(&n_exec, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cudnn_launch_count(void)
{
	return __atomic_load_n(&n_launch, __ATOMIC_SEQ_CST);
}

uint64_t mt_sim_cudnn_workspace_max_used(void)
{
	return mt_sim_bufset_max_need(&ws_seen);
}

int mt_sim_cudnn_workspaces(unsigned long long *ptrs, uint64_t *sizes, int max)
{
	return mt_sim_bufset_get(&ws_seen, ptrs, sizes, sizeof *sizes, max);
}
