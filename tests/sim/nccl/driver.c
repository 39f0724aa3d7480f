/* Simulated NCCL: NCCL's own device memory, allocated through the driver.
 *
 * As the real runtime does, libcuda.so.1 is dlopen'ed, only
 * cuGetProcAddress_v2 is taken with dlsym, and every driver function is asked
 * of it by its base name ("cuMemAlloc" at CUDA_VERSION gives cuMemAlloc_v2).
 * A profiler that interposes cuGetProcAddress therefore sees these
 * allocations exactly as it sees real NCCL's.  MT_SIM_NCCL_LIBCUDA names
 * another file to dlopen (tests use it); the default is "libcuda.so.1".
 *
 * The layout of the buffers is mt__driver_alloc_buffers' (README.md). */
#include "tests/sim/nccl/nccl_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t,
			       CUdriverProcAddressQueryResult *);
typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*free_fn)(CUdeviceptr);
typedef CUresult (*init_fn)(unsigned int);
typedef CUresult (*ctxget_fn)(CUcontext *);
typedef CUresult (*ctxset_fn)(CUcontext);
typedef CUresult (*ctxdev_fn)(CUdevice *);
typedef CUresult (*devget_fn)(CUdevice *, int);
typedef CUresult (*retain_fn)(CUcontext *, CUdevice);
typedef CUresult (*attr_fn)(int *, CUdevice_attribute, CUdevice);

static pthread_mutex_t drv_lock = PTHREAD_MUTEX_INITIALIZER;
static int drv_loaded;
/* every communicator of the process together (simnccl.h), under drv_lock */
static size_t proc_bytes, proc_peak;
static uint64_t proc_allocs, proc_frees;
static char drv_error[400];
static struct {
	getproc_fn getproc;
	alloc_fn mem_alloc;
	free_fn mem_free;
	init_fn init;
	ctxget_fn ctx_get;
	ctxset_fn ctx_set;
	ctxdev_fn ctx_dev;
	devget_fn dev_get;
	retain_fn retain;
	attr_fn attr;
} drv;

static void *proc(const char *name, const char *alt)
{
	void *p = NULL;
	CUdriverProcAddressQueryResult st;
	if (drv.getproc(name, &p, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &st) == CUDA_SUCCESS && p)
		return p;
	p = NULL;
	if (alt && drv.getproc(alt, &p, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &st) == CUDA_SUCCESS && p)
		return p;
	return NULL;
}

/* Load the driver once per process; 0 on success, else drv_error says why. */
static int driver_load(void)
{
	int ok;
	pthread_mutex_lock(&drv_lock);
	if (!drv_loaded) {
		const char *path = getenv("MT_SIM_NCCL_LIBCUDA");
		if (!path || !*path)
			path = "libcuda.so.1";
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			snprintf(drv_error, sizeof drv_error,
				 "simulated NCCL cannot load the CUDA driver %s: %s", path, e ? e : "?");
			goto out;
		}
		drv.getproc = (getproc_fn)dlsym(h, "cuGetProcAddress_v2");
		if (!drv.getproc)
			drv.getproc = (getproc_fn)dlsym(h, "cuGetProcAddress");
		if (!drv.getproc) {
			snprintf(drv_error, sizeof drv_error,
				 "simulated NCCL: %s has no cuGetProcAddress_v2", path);
			goto out;
		}
		drv.mem_alloc = (alloc_fn)proc("cuMemAlloc", "cuMemAlloc_v2");
		drv.mem_free = (free_fn)proc("cuMemFree", "cuMemFree_v2");
		if (!drv.mem_alloc || !drv.mem_free) {
			snprintf(drv_error, sizeof drv_error,
				 "simulated NCCL: cuGetProcAddress of %s gives no cuMemAlloc/cuMemFree", path);
			goto out;
		}
		drv.init = (init_fn)proc("cuInit", NULL);
		drv.ctx_get = (ctxget_fn)proc("cuCtxGetCurrent", NULL);
		drv.ctx_set = (ctxset_fn)proc("cuCtxSetCurrent", NULL);
		drv.ctx_dev = (ctxdev_fn)proc("cuCtxGetDevice", NULL);
		drv.dev_get = (devget_fn)proc("cuDeviceGet", NULL);
		drv.retain = (retain_fn)proc("cuDevicePrimaryCtxRetain", NULL);
		drv.attr = (attr_fn)proc("cuDeviceGetAttribute", NULL);
		drv_loaded = 1;
	}
out:
	ok = drv_loaded;
	pthread_mutex_unlock(&drv_lock);
	return ok ? 0 : -1;
}

/* Make sure the calling thread has a current context, as the runtime that
 * real NCCL links would: the current one, else device dev's primary one. */
static void ensure_context(int dev)
{
	CUcontext ctx = NULL;
	if (drv.ctx_get && drv.ctx_get(&ctx) == CUDA_SUCCESS && ctx)
		return;
	if (drv.init)
		drv.init(0);
	CUdevice d = 0;
	if (drv.dev_get && drv.dev_get(&d, dev < 0 ? 0 : dev) != CUDA_SUCCESS)
		return;
	if (drv.retain && drv.ctx_set && drv.retain(&ctx, d) == CUDA_SUCCESS)
		drv.ctx_set(ctx);
}

int mt__driver_prepare(int dev, int *cudev)
{
	if (driver_load() != 0)
		return -1;
	ensure_context(dev);
	CUdevice d = dev < 0 ? 0 : dev;
	if (drv.ctx_dev && drv.ctx_dev(&d) != CUDA_SUCCESS)
		d = dev < 0 ? 0 : dev;
	*cudev = (int)d;
	return 0;
}

int mt__driver_cc(int dev)
{
	int maj = 0, min = 0;
	if (!drv.attr || drv.attr(&maj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) != CUDA_SUCCESS ||
	    drv.attr(&min, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) != CUDA_SUCCESS)
		return 0;
	return maj * 10 + min;
}

const char *mt__driver_error(void)
{
	return drv_error;
}

static size_t env_size(const char *name, size_t dflt)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	return (end == s || *end || v == 0) ? dflt : (size_t)v;
}

/* NCCL's per-protocol buffer sizes (src/init.cc of NCCL 2.2x):
 *   SIMPLE DEFAULT_BUFFSIZE       = 1 << 22                         4,194,304
 *   LL     DEFAULT_LL_BUFFSIZE    = 8 lines * 512 thr * 8 steps * 16   524,288
 *   LL128  DEFAULT_LL128_BUFFSIZE = 120 * 640 thr * 8 steps * 8      4,915,200
 * each overridden by NCCL_BUFFSIZE, NCCL_LL_BUFFSIZE, NCCL_LL128_BUFFSIZE. */
#define SIM_LL_BUFFSIZE ((size_t)8 * 512 * 8 * 16)
#define SIM_LL128_BUFFSIZE ((size_t)120 * 640 * 8 * 8)

static ncclResult_t alloc_one(struct ncclComm *c, size_t sz, int cap)
{
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc(&p, sz);
	if (r != CUDA_SUCCESS) {
		mt__set_error(c, "cuMemAlloc_v2(%zu) for NCCL buffer %d failed: CUresult %d", sz,
			      c->ndev_bufs, (int)r);
		mt__driver_free_buffers(c);
		return ncclUnhandledCudaError;
	}
	if (c->ndev_bufs == cap) { /* cannot happen: cap counts every buffer */
		drv.mem_free(p);
		return ncclInternalError;
	}
	c->dev_bufs[c->ndev_bufs] = p;
	c->dev_sizes[c->ndev_bufs] = sz;
	c->ndev_bufs++;
	c->dev_bytes += sz;
	pthread_mutex_lock(&drv_lock);
	proc_bytes += sz;
	proc_allocs++;
	if (proc_bytes > proc_peak)
		proc_peak = proc_bytes;
	pthread_mutex_unlock(&drv_lock);
	return ncclSuccess;
}

/* The ring's connections, as NCCL's transports set them up (README.md,
 * "NCCL's device buffers"): per channel, the receive side of the connection
 * from the previous rank and the send side of the one to the next.
 *   same node (P2P transport): the receiver holds every protocol's buffer,
 *     except in P2P read mode (NVLink between two compute capability 8.0
 *     GPUs, src/graph/paths.cc; NCCL_P2P_READ_ENABLE overrides) where the
 *     SIMPLE buffer is the sender's;
 *   other node (NET transport, GPUDirect RDMA): the receiver holds SIMPLE
 *     and LL128 on the device; LL and the sender's buffers are host memory. */
ncclResult_t mt__driver_alloc_buffers(struct ncclComm *c)
{
	c->nchannels = (int)env_size("MT_SIM_NCCL_NCHANNELS", 2);
	if (c->nchannels > 64)
		c->nchannels = 64;
	c->buffsize = env_size("NCCL_BUFFSIZE", (size_t)4 << 20);
	size_t ll = env_size("NCCL_LL_BUFFSIZE", SIM_LL_BUFFSIZE);
	size_t ll128 = env_size("NCCL_LL128_BUFFSIZE", SIM_LL128_BUFFSIZE);
	c->fifo_bytes = 0;
	int cap = 2 * c->nchannels;
	c->dev_bufs = calloc((size_t)cap, sizeof *c->dev_bufs);
	c->dev_sizes = calloc((size_t)cap, sizeof *c->dev_sizes);
	if (!c->dev_bufs || !c->dev_sizes) {
		mt__set_error(c, "out of host memory");
		return ncclSystemError;
	}
	if (c->nranks < 2)
		return ncclSuccess;
	int prev = (c->rank + c->nranks - 1) % c->nranks, next = (c->rank + 1) % c->nranks;
	int inter_prev = mt__rank_node(c, prev) != c->node, inter_next = mt__rank_node(c, next) != c->node;
	const char *re = getenv("NCCL_P2P_READ_ENABLE");
	int read = re && *re ? atoi(re) != 0 : mt__driver_cc(c->cudev) == 80;
	size_t recv = inter_prev ? c->buffsize + ll128 : (read ? 0 : c->buffsize) + ll + ll128;
	size_t send = !inter_next && read ? c->buffsize : 0;
	for (int ch = 0; ch < c->nchannels; ch++) {
		ncclResult_t rc = alloc_one(c, recv, cap);
		if (rc == ncclSuccess && send)
			rc = alloc_one(c, send, cap);
		if (rc != ncclSuccess)
			return rc;
	}
	return ncclSuccess;
}

void mt__driver_free_buffers(struct ncclComm *c)
{
	for (int i = c->ndev_bufs - 1; i >= 0; i--) {
		if (drv.mem_free)
			drv.mem_free(c->dev_bufs[i]);
		pthread_mutex_lock(&drv_lock);
		proc_bytes -= c->dev_sizes[i];
		proc_frees++;
		pthread_mutex_unlock(&drv_lock);
	}
	c->ndev_bufs = 0;
	c->dev_bytes = 0;
	free(c->dev_bufs);
	free(c->dev_sizes);
	c->dev_bufs = NULL;
	c->dev_sizes = NULL;
}

void mt__driver_totals(size_t *live, size_t *peak, uint64_t *allocs, uint64_t *frees)
{
	pthread_mutex_lock(&drv_lock);
	*live = proc_bytes;
	*peak = proc_peak;
	*allocs = proc_allocs;
	*frees = proc_frees;
	pthread_mutex_unlock(&drv_lock);
}

ncclResult_t mt__driver_user_alloc(void **ptr, size_t size)
{
	int dev;
	if (mt__driver_prepare(-1, &dev) != 0) {
		mt__set_error(NULL, "%s", drv_error);
		return ncclSystemError;
	}
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc(&p, size);
	if (r != CUDA_SUCCESS) {
		mt__set_error(NULL, "ncclMemAlloc: cuMemAlloc_v2(%zu) failed: CUresult %d", size, (int)r);
		return ncclUnhandledCudaError;
	}
	*ptr = (void *)(uintptr_t)p;
	return ncclSuccess;
}

ncclResult_t mt__driver_user_free(void *ptr)
{
	if (!drv_loaded || drv.mem_free((CUdeviceptr)(uintptr_t)ptr) != CUDA_SUCCESS) {
		mt__set_error(NULL, "ncclMemFree: %p is not memory of ncclMemAlloc", ptr);
		return ncclInvalidArgument;
	}
	return ncclSuccess;
}
