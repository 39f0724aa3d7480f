/* Simulated NCCL: NCCL's own device memory, allocated through the driver.
 *
 * As the real runtime does, libcuda.so.1 is dlopen'ed, only
 * cuGetProcAddress_v2 is taken with dlsym, and every driver function is asked
 * of it by its base name ("cuMemAlloc" at CUDA_VERSION gives cuMemAlloc_v2).
 * A profiler that interposes cuGetProcAddress therefore sees these
 * allocations exactly as it sees real NCCL's.  MT_SIM_NCCL_LIBCUDA names
 * another file to dlopen (tests use it); the default is "libcuda.so.1".
 *
 * Layout per communicator, in allocation order (see README.md):
 *   for channel c in [0, nchannels), for peer p = rank+1 .. rank+nranks-1:
 *       one buffer of NCCL_BUFFSIZE bytes            (ring receive buffer)
 *   then one work FIFO of NCCL_WORK_FIFO_BYTES bytes
 * total = nchannels * (nranks - 1) * BUFFSIZE + FIFO_BYTES,
 * allocations = nchannels * (nranks - 1) + 1. */
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

ncclResult_t mt__driver_alloc_buffers(struct ncclComm *c)
{
	c->nchannels = (int)env_size("MT_SIM_NCCL_NCHANNELS", 2);
	if (c->nchannels > 64)
		c->nchannels = 64;
	c->buffsize = env_size("NCCL_BUFFSIZE", (size_t)4 << 20);
	c->fifo_bytes = env_size("NCCL_WORK_FIFO_BYTES", (size_t)1 << 20);
	int n = c->nchannels * (c->nranks - 1) + 1;
	c->dev_bufs = calloc((size_t)n, sizeof *c->dev_bufs);
	c->dev_sizes = calloc((size_t)n, sizeof *c->dev_sizes);
	if (!c->dev_bufs || !c->dev_sizes) {
		mt__set_error(c, "out of host memory");
		return ncclSystemError;
	}
	for (int i = 0; i < n; i++) {
		size_t sz = i == n - 1 ? c->fifo_bytes : c->buffsize;
		CUdeviceptr p = 0;
		CUresult r = drv.mem_alloc(&p, sz);
		if (r != CUDA_SUCCESS) {
			mt__set_error(c, "cuMemAlloc_v2(%zu) for NCCL buffer %d of %d failed: CUresult %d",
				      sz, i, n, (int)r);
			mt__driver_free_buffers(c);
			return ncclUnhandledCudaError;
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
