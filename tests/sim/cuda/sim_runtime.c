/* sim_runtime.c - the simulated CUDA runtime, built as libcudart.so.13 (with
 * the real library's symbol version) and as a static archive for nvcc.
 *
 * It reaches the driver the way the real runtime does: dlopen("libcuda.so.1"),
 * dlsym of "cuGetProcAddress_v2" only, then every driver function through
 * cuGetProcAddress_v2 by its base name; calls go through those pointers only,
 * so a collector that interposes dlsym or cuGetProcAddress sees them all.
 *
 * Runtime semantics kept: per-thread current device, lazy primary-context
 * activation, per-thread last error (cudaGetLastError resets it), sticky
 * errors that every later call returns, fat-binary registration by the code
 * nvcc generates, kernels launched by host stub and named by the registered
 * (mangled) device name.
 */
#define _GNU_SOURCE
#include <cuda.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_RUNTIME_VERSION 13000
#define RT_MAX_DEVICES 64
#define RT_CONFIG_DEPTH 16

/* Exported by the real libcudart for nvcc-generated code; declared in
 * crt/host_runtime.h and crt/device_functions.h, which are C++ only. */
void **__cudaRegisterFatBinary(void *fatCubin);
void __cudaRegisterFatBinaryEnd(void **fatCubinHandle);
void __cudaUnregisterFatBinary(void **fatCubinHandle);
void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun, const char *deviceName,
			    int thread_limit, uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize);
void __cudaRegisterVar(void **fatCubinHandle, char *hostVar, char *deviceAddress, const char *deviceName, int ext,
		       size_t size, int constant, int global);
void __cudaRegisterManagedVar(void **fatCubinHandle, void **hostVarPtrAddress, char *deviceAddress,
			      const char *deviceName, int ext, size_t size, int constant, int global);
char __cudaInitModule(void **fatCubinHandle);
unsigned __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem, struct CUstream_st *stream);
cudaError_t __cudaPopCallConfiguration(dim3 *gridDim, dim3 *blockDim, size_t *sharedMem, void *stream);
cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun);
cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem,
			       cudaStream_t stream);
cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim, void **args,
				    size_t sharedMem, cudaStream_t stream);

/* ------------------------------------------------------ driver table */

/* X(member, C symbol whose type it has, name asked of cuGetProcAddress) */
#define RT_DRIVER(X) \
	X(Init, cuInit, "cuInit") \
	X(DriverGetVersion, cuDriverGetVersion, "cuDriverGetVersion") \
	X(DeviceGetCount, cuDeviceGetCount, "cuDeviceGetCount") \
	X(DeviceGet, cuDeviceGet, "cuDeviceGet") \
	X(DeviceGetName, cuDeviceGetName, "cuDeviceGetName") \
	X(DeviceGetDefaultMemPool, cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool") \
	X(MemPoolGetAttribute, cuMemPoolGetAttribute, "cuMemPoolGetAttribute") \
	X(MemPoolSetAttribute, cuMemPoolSetAttribute, "cuMemPoolSetAttribute") \
	X(DeviceTotalMem, cuDeviceTotalMem_v2, "cuDeviceTotalMem") \
	X(DeviceGetAttribute, cuDeviceGetAttribute, "cuDeviceGetAttribute") \
	X(DeviceGetUuid, cuDeviceGetUuid_v2, "cuDeviceGetUuid") \
	X(PrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") \
	X(PrimaryCtxReset, cuDevicePrimaryCtxReset_v2, "cuDevicePrimaryCtxReset") \
	X(CtxGetCurrent, cuCtxGetCurrent, "cuCtxGetCurrent") \
	X(CtxSetCurrent, cuCtxSetCurrent, "cuCtxSetCurrent") \
	X(CtxGetDevice, cuCtxGetDevice, "cuCtxGetDevice") \
	X(CtxSynchronize, cuCtxSynchronize, "cuCtxSynchronize") \
	X(MemGetInfo, cuMemGetInfo_v2, "cuMemGetInfo") \
	X(MemAlloc, cuMemAlloc_v2, "cuMemAlloc") \
	X(MemFree, cuMemFree_v2, "cuMemFree") \
	X(MemAllocAsync, cuMemAllocAsync, "cuMemAllocAsync") \
	X(MemFreeAsync, cuMemFreeAsync, "cuMemFreeAsync") \
	X(MemHostAlloc, cuMemHostAlloc, "cuMemHostAlloc") \
	X(MemFreeHost, cuMemFreeHost, "cuMemFreeHost") \
	X(MemAllocManaged, cuMemAllocManaged, "cuMemAllocManaged") \
	X(PointerGetAttribute, cuPointerGetAttribute, "cuPointerGetAttribute") \
	X(Memcpy, cuMemcpy, "cuMemcpy") \
	X(MemcpyAsync, cuMemcpyAsync, "cuMemcpyAsync") \
	X(MemcpyHtoD, cuMemcpyHtoD_v2, "cuMemcpyHtoD") \
	X(MemcpyDtoH, cuMemcpyDtoH_v2, "cuMemcpyDtoH") \
	X(MemcpyDtoD, cuMemcpyDtoD_v2, "cuMemcpyDtoD") \
	X(MemcpyHtoDAsync, cuMemcpyHtoDAsync_v2, "cuMemcpyHtoDAsync") \
	X(MemcpyDtoHAsync, cuMemcpyDtoHAsync_v2, "cuMemcpyDtoHAsync") \
	X(MemcpyDtoDAsync, cuMemcpyDtoDAsync_v2, "cuMemcpyDtoDAsync") \
	X(MemsetD8, cuMemsetD8_v2, "cuMemsetD8") \
	X(MemsetD8Async, cuMemsetD8Async, "cuMemsetD8Async") \
	X(ModuleLoadData, cuModuleLoadData, "cuModuleLoadData") \
	X(ModuleUnload, cuModuleUnload, "cuModuleUnload") \
	X(ModuleGetFunction, cuModuleGetFunction, "cuModuleGetFunction") \
	X(FuncGetAttribute, cuFuncGetAttribute, "cuFuncGetAttribute") \
	X(LaunchKernel, cuLaunchKernel, "cuLaunchKernel") \
	X(StreamCreateWithPriority, cuStreamCreateWithPriority, "cuStreamCreateWithPriority") \
	X(StreamDestroy, cuStreamDestroy_v2, "cuStreamDestroy") \
	X(StreamSynchronize, cuStreamSynchronize, "cuStreamSynchronize") \
	X(StreamQuery, cuStreamQuery, "cuStreamQuery") \
	X(StreamWaitEvent, cuStreamWaitEvent, "cuStreamWaitEvent") \
	X(EventCreate, cuEventCreate, "cuEventCreate") \
	X(EventRecord, cuEventRecord, "cuEventRecord") \
	X(EventQuery, cuEventQuery, "cuEventQuery") \
	X(EventSynchronize, cuEventSynchronize, "cuEventSynchronize") \
	X(EventElapsedTime, cuEventElapsedTime_v2, "cuEventElapsedTime") \
	X(EventDestroy, cuEventDestroy_v2, "cuEventDestroy")

static struct {
#define RT_MEMBER(m, sym, name) __typeof__(&sym) m;
	RT_DRIVER(RT_MEMBER)
#undef RT_MEMBER
} D;

struct rt_fatbin {
	void *self;        /* the handle is a void **: it points here */
	const void *image; /* __fatBinC_Wrapper_t, opaque to the simulation */
	CUmodule mod;      /* loaded at the first launch */
	int ended;
};

struct rt_kernel {
	const void *host_fun;
	char *name;
	struct rt_fatbin *fb;
	CUfunction fn;
};

struct rt_var {
	const void *host_var;
	char *name;
	size_t size;
};

struct rt_config {
	dim3 grid, block;
	size_t shmem;
	cudaStream_t stream;
};

static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static cudaError_t rt_init_err = cudaSuccess;
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static void *rt_libcuda;
static int rt_ndev;
static CUcontext rt_ctx[RT_MAX_DEVICES];
static int rt_retained[RT_MAX_DEVICES];
static cudaError_t rt_sticky = cudaSuccess;
static struct rt_kernel **rt_kernels;
static size_t rt_nkernels, rt_capkernels;
static struct rt_var *rt_vars;
static size_t rt_nvars, rt_capvars;

static __thread cudaError_t tls_last = cudaSuccess;
static __thread int tls_dev;
static __thread struct rt_config tls_cfg[RT_CONFIG_DEPTH];
static __thread int tls_ncfg;

static void rt_fork_prepare(void)
{
	pthread_mutex_lock(&rt_lock);
}

static void rt_fork_parent(void)
{
	pthread_mutex_unlock(&rt_lock);
}

static void rt_fork_child(void)
{
	pthread_mutex_init(&rt_lock, NULL);
}

/* ------------------------------------------------------- error codes */

static int is_sticky(cudaError_t e)
{
	return e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorHardwareStackError ||
	       e == cudaErrorIllegalInstruction || e == cudaErrorMisalignedAddress || e == cudaErrorInvalidPc ||
	       e == cudaErrorAssert;
}

static cudaError_t from_cu(CUresult r)
{
	switch (r) {
	case CUDA_SUCCESS: return cudaSuccess;
	case CUDA_ERROR_INVALID_VALUE: return cudaErrorInvalidValue;
	case CUDA_ERROR_OUT_OF_MEMORY: return cudaErrorMemoryAllocation;
	case CUDA_ERROR_NOT_INITIALIZED: return cudaErrorInitializationError;
	case CUDA_ERROR_DEINITIALIZED: return cudaErrorCudartUnloading;
	case CUDA_ERROR_NO_DEVICE: return cudaErrorNoDevice;
	case CUDA_ERROR_INVALID_DEVICE: return cudaErrorInvalidDevice;
	case CUDA_ERROR_INVALID_IMAGE: return cudaErrorInvalidKernelImage;
	case CUDA_ERROR_INVALID_CONTEXT: return cudaErrorDeviceUninitialized;
	case CUDA_ERROR_INVALID_HANDLE: return cudaErrorInvalidResourceHandle;
	case CUDA_ERROR_NOT_FOUND: return cudaErrorSymbolNotFound;
	case CUDA_ERROR_NOT_READY: return cudaErrorNotReady;
	case CUDA_ERROR_ILLEGAL_ADDRESS: return cudaErrorIllegalAddress;
	case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return cudaErrorLaunchOutOfResources;
	case CUDA_ERROR_LAUNCH_FAILED: return cudaErrorLaunchFailure;
	case CUDA_ERROR_NOT_SUPPORTED: return cudaErrorNotSupported;
	default: return cudaErrorUnknown;
	}
}

/* Records e as the thread's last error (and as the sticky error when it
 * corrupts the context) and returns it. */
static cudaError_t rt_ret(cudaError_t e)
{
	if (e != cudaSuccess) {
		tls_last = e;
		if (is_sticky(e))
			__atomic_store_n(&rt_sticky, e, __ATOMIC_RELEASE);
	}
	return e;
}

static cudaError_t rt_cu(CUresult r)
{
	return rt_ret(from_cu(r));
}

/* ---------------------------------------------------- initialisation */

static CUresult (*rt_getproc)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static void rt_setup(void)
{
	CUresult (*getproc)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);
	CUdriverProcAddressQueryResult st;
	CUresult r;

	pthread_atfork(rt_fork_prepare, rt_fork_parent, rt_fork_child);
	rt_libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (!rt_libcuda) {
		rt_init_err = cudaErrorInsufficientDriver;
		return;
	}
	*(void **)&getproc = dlsym(rt_libcuda, "cuGetProcAddress_v2");
	if (!getproc) {
		rt_init_err = cudaErrorInsufficientDriver;
		return;
	}
	rt_getproc = getproc;
#define RT_RESOLVE(m, sym, name)                                                                 \
	if (getproc(name, (void **)&D.m, SIM_RUNTIME_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &st) != \
		    CUDA_SUCCESS ||                                                              \
	    !D.m) {                                                                              \
		rt_init_err = cudaErrorInsufficientDriver;                                       \
		return;                                                                          \
	}
	RT_DRIVER(RT_RESOLVE)
#undef RT_RESOLVE
	r = D.Init(0);
	if (r == CUDA_SUCCESS)
		r = D.DeviceGetCount(&rt_ndev);
	if (r != CUDA_SUCCESS) {
		rt_init_err = r == CUDA_ERROR_NO_DEVICE ? cudaErrorNoDevice : from_cu(r);
		return;
	}
	if (rt_ndev > RT_MAX_DEVICES)
		rt_ndev = RT_MAX_DEVICES;
}

static cudaError_t rt_init(void)
{
	pthread_once(&rt_once, rt_setup);
	return rt_init_err;
}

/* Makes dev's primary context current on this thread. */
static cudaError_t rt_bind(int dev)
{
	CUresult r = CUDA_SUCCESS;
	pthread_mutex_lock(&rt_lock);
	if (!rt_retained[dev]) {
		r = D.PrimaryCtxRetain(&rt_ctx[dev], dev);
		if (r == CUDA_SUCCESS)
			rt_retained[dev] = 1;
	}
	pthread_mutex_unlock(&rt_lock);
	if (r == CUDA_SUCCESS)
		r = D.CtxSetCurrent(rt_ctx[dev]);
	return from_cu(r);
}

/* Entry of every API call that needs a device: initialisation, the sticky
 * error, and a current context (the thread's device's primary context,
 * unless a context is already current). */
static cudaError_t rt_enter(void)
{
	cudaError_t e = rt_init();
	CUcontext cur = NULL;
	if (e != cudaSuccess)
		return e;
	e = __atomic_load_n(&rt_sticky, __ATOMIC_ACQUIRE);
	if (e != cudaSuccess)
		return e;
	if (D.CtxGetCurrent(&cur) == CUDA_SUCCESS && cur) {
		int d;
		/* A context made current by the runtime and since reset is
		 * retained again. */
		if (D.CtxGetDevice(&d) == CUDA_SUCCESS)
			return cudaSuccess;
	}
	return rt_bind(tls_dev);
}

#define ENTER()                                      \
	do {                                         \
		cudaError_t enter_err_ = rt_enter(); \
		if (enter_err_ != cudaSuccess)       \
			return rt_ret(enter_err_);   \
	} while (0)

/* ------------------------------------------------------------ devices */

cudaError_t cudaGetDeviceCount(int *count)
{
	cudaError_t e = rt_init();
	if (!count)
		return rt_ret(cudaErrorInvalidValue);
	if (e != cudaSuccess) {
		*count = 0;
		return rt_ret(e);
	}
	*count = rt_ndev;
	return cudaSuccess;
}

/* A job of several simulated nodes launched as one node (torchrun
 * --nproc-per-node 16 on 8-GPU nodes) asks for devices past the node's: say
 * how it is launched instead (once per process). */
static void node_hint(int device)
{
	static int said;
	const char *nodes = getenv("MT_SIM_NODES");
	if (device >= rt_ndev && nodes && atoi(nodes) > 1 && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "memtrace-sim libcudart: device %d asked of a simulated node of %d GPUs "
			"(MT_SIM_NODES=%s): launch one launcher per node, e.g. torchrun --nnodes %s "
			"--node-rank K --nproc-per-node %d (docs/SIMULATE.md)\n",
			device, rt_ndev, nodes, nodes, rt_ndev);
}

cudaError_t cudaSetDevice(int device)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (device < 0 || device >= rt_ndev) {
		node_hint(device);
		return rt_ret(cudaErrorInvalidDevice);
	}
	tls_dev = device;
	return rt_ret(rt_bind(device));
}

cudaError_t cudaGetDevice(int *device)
{
	CUcontext cur = NULL;
	CUdevice d;
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (!device)
		return rt_ret(cudaErrorInvalidValue);
	if (D.CtxGetCurrent(&cur) == CUDA_SUCCESS && cur && D.CtxGetDevice(&d) == CUDA_SUCCESS) {
		*device = d;
		return cudaSuccess;
	}
	*device = tls_dev;
	return cudaSuccess;
}

static int attr(int a, int dev)
{
	int v = 0;
	if (D.DeviceGetAttribute(&v, (CUdevice_attribute)a, dev) != CUDA_SUCCESS)
		v = 0;
	return v;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
	size_t total = 0;
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (!prop)
		return rt_ret(cudaErrorInvalidValue);
	if (device < 0 || device >= rt_ndev)
		return rt_ret(cudaErrorInvalidDevice);
	memset(prop, 0, sizeof(*prop));
	D.DeviceGetName(prop->name, (int)sizeof(prop->name), device);
	D.DeviceGetUuid((CUuuid *)&prop->uuid, device);
	D.DeviceTotalMem(&total, device);
	prop->totalGlobalMem = total;
	prop->sharedMemPerBlock = (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, device);
	prop->regsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, device);
	prop->warpSize = attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE, device);
	prop->memPitch = (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_PITCH, device);
	prop->maxThreadsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, device);
	prop->maxThreadsDim[0] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, device);
	prop->maxThreadsDim[1] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, device);
	prop->maxThreadsDim[2] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, device);
	prop->maxGridSize[0] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, device);
	prop->maxGridSize[1] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, device);
	prop->maxGridSize[2] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, device);
	prop->totalConstMem = (size_t)attr(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY, device);
	prop->major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
	prop->minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
	prop->textureAlignment = (size_t)attr(CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT, device);
	prop->texturePitchAlignment = (size_t)attr(CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT, device);
	prop->multiProcessorCount = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
	prop->integrated = attr(CU_DEVICE_ATTRIBUTE_INTEGRATED, device);
	prop->canMapHostMemory = attr(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, device);
	prop->surfaceAlignment = (size_t)attr(CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT, device);
	prop->concurrentKernels = attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, device);
	prop->ECCEnabled = attr(CU_DEVICE_ATTRIBUTE_ECC_ENABLED, device);
	prop->pciBusID = attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, device);
	prop->pciDeviceID = attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, device);
	prop->pciDomainID = attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, device);
	prop->asyncEngineCount = attr(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, device);
	prop->unifiedAddressing = attr(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, device);
	prop->memoryBusWidth = attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, device);
	prop->l2CacheSize = attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, device);
	prop->persistingL2CacheMaxSize = attr(CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE, device);
	prop->maxThreadsPerMultiProcessor = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, device);
	prop->streamPrioritiesSupported = attr(CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED, device);
	prop->globalL1CacheSupported = attr(CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED, device);
	prop->localL1CacheSupported = attr(CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED, device);
	prop->sharedMemPerMultiprocessor = (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, device);
	prop->regsPerMultiprocessor = attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, device);
	prop->managedMemory = attr(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, device);
	prop->isMultiGpuBoard = attr(CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD, device);
	prop->concurrentManagedAccess = attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, device);
	prop->computePreemptionSupported = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED, device);
	prop->cooperativeLaunch = attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, device);
	prop->sharedMemPerBlockOptin = (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device);
	prop->maxBlocksPerMultiProcessor = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR, device);
	prop->accessPolicyMaxWindowSize = attr(CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE, device);
	prop->reservedSharedMemPerBlock = (size_t)attr(CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK, device);
	prop->memoryPoolsSupported = attr(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, device);
	prop->memoryPoolSupportedHandleTypes = (unsigned)attr(CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, device);
	prop->clusterLaunch = attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, device);
	return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr a, int device)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (!value)
		return rt_ret(cudaErrorInvalidValue);
	if (device < 0 || device >= rt_ndev)
		return rt_ret(cudaErrorInvalidDevice);
	return rt_cu(D.DeviceGetAttribute(value, (CUdevice_attribute)a, device));
}

cudaError_t cudaDeviceSynchronize(void)
{
	ENTER();
	return rt_cu(D.CtxSynchronize());
}

cudaError_t cudaDeviceReset(void)
{
	CUcontext cur = NULL;
	int dev;
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (cudaGetDevice(&dev) != cudaSuccess)
		dev = tls_dev;
	pthread_mutex_lock(&rt_lock);
	rt_retained[dev] = 0;
	pthread_mutex_unlock(&rt_lock);
	if (D.CtxGetCurrent(&cur) == CUDA_SUCCESS && cur == rt_ctx[dev])
		D.CtxSetCurrent(NULL);
	__atomic_store_n(&rt_sticky, cudaSuccess, __ATOMIC_RELEASE);
	return rt_cu(D.PrimaryCtxReset(dev));
}

cudaError_t cudaRuntimeGetVersion(int *runtimeVersion)
{
	if (!runtimeVersion)
		return rt_ret(cudaErrorInvalidValue);
	*runtimeVersion = SIM_RUNTIME_VERSION;
	return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return rt_ret(cudaErrorInvalidValue);
	pthread_once(&rt_once, rt_setup);
	if (!D.DriverGetVersion) {
		*driverVersion = 0; /* no driver */
		return cudaSuccess;
	}
	return rt_cu(D.DriverGetVersion(driverVersion));
}

/* -------------------------------------------------------------- errors */

cudaError_t cudaGetLastError(void)
{
	cudaError_t e = tls_last;
	cudaError_t s = __atomic_load_n(&rt_sticky, __ATOMIC_ACQUIRE);
	tls_last = cudaSuccess;
	return s != cudaSuccess ? s : e;
}

cudaError_t cudaPeekAtLastError(void)
{
	cudaError_t s = __atomic_load_n(&rt_sticky, __ATOMIC_ACQUIRE);
	return s != cudaSuccess ? s : tls_last;
}

static const struct {
	cudaError_t code;
	const char *name;
	const char *text;
} rt_errors[] = {
	{ cudaSuccess, "cudaSuccess", "no error" },
	{ cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument" },
	{ cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory" },
	{ cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error" },
	{ cudaErrorCudartUnloading, "cudaErrorCudartUnloading", "driver shutting down" },
	{ cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument" },
	{ cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy" },
	{ cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
	  "CUDA driver version is insufficient for CUDA runtime version" },
	{ cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function" },
	{ cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected" },
	{ cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal" },
	{ cudaErrorInvalidKernelImage, "cudaErrorInvalidKernelImage", "device kernel image is invalid" },
	{ cudaErrorDeviceUninitialized, "cudaErrorDeviceUninitialized", "invalid device context" },
	{ cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle" },
	{ cudaErrorSymbolNotFound, "cudaErrorSymbolNotFound", "named symbol not found" },
	{ cudaErrorNotReady, "cudaErrorNotReady", "device not ready" },
	{ cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered" },
	{ cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch" },
	{ cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure" },
	{ cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported" },
	{ cudaErrorUnknown, "cudaErrorUnknown", "unknown error" },
};

const char *cudaGetErrorString(cudaError_t error)
{
	size_t i;
	for (i = 0; i < sizeof(rt_errors) / sizeof(rt_errors[0]); i++)
		if (rt_errors[i].code == error)
			return rt_errors[i].text;
	return "unrecognized error code";
}

const char *cudaGetErrorName(cudaError_t error)
{
	size_t i;
	for (i = 0; i < sizeof(rt_errors) / sizeof(rt_errors[0]); i++)
		if (rt_errors[i].code == error)
			return rt_errors[i].name;
	return "unrecognized error code";
}

/* -------------------------------------------------------------- memory */

cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total)
{
	ENTER();
	return rt_cu(D.MemGetInfo(free_b, total));
}

cudaError_t cudaMalloc(void **devPtr, size_t size)
{
	CUdeviceptr p;
	CUresult r;
	ENTER();
	if (!devPtr)
		return rt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*devPtr = NULL;
		return cudaSuccess;
	}
	r = D.MemAlloc(&p, size);
	if (r != CUDA_SUCCESS)
		return rt_cu(r);
	*devPtr = (void *)(uintptr_t)p;
	return cudaSuccess;
}

cudaError_t cudaFree(void *devPtr)
{
	ENTER();
	if (!devPtr)
		return cudaSuccess;
	return rt_cu(D.MemFree((CUdeviceptr)(uintptr_t)devPtr));
}

cudaError_t cudaMallocAsync(void **devPtr, size_t size, cudaStream_t hStream)
{
	CUdeviceptr p;
	CUresult r;
	ENTER();
	if (!devPtr)
		return rt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*devPtr = NULL;
		return cudaSuccess;
	}
	r = D.MemAllocAsync(&p, size, (CUstream)hStream);
	if (r != CUDA_SUCCESS)
		return rt_cu(r);
	*devPtr = (void *)(uintptr_t)p;
	return cudaSuccess;
}

cudaError_t cudaFreeAsync(void *devPtr, cudaStream_t hStream)
{
	ENTER();
	if (!devPtr)
		return cudaSuccess;
	return rt_cu(D.MemFreeAsync((CUdeviceptr)(uintptr_t)devPtr, (CUstream)hStream));
}

cudaError_t cudaMallocManaged(void **devPtr, size_t size, unsigned int flags)
{
	CUdeviceptr p;
	CUresult r;
	ENTER();
	if (!devPtr || size == 0)
		return rt_ret(cudaErrorInvalidValue);
	r = D.MemAllocManaged(&p, size, flags);
	if (r != CUDA_SUCCESS)
		return rt_cu(r);
	*devPtr = (void *)(uintptr_t)p;
	return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags)
{
	ENTER();
	if (!pHost)
		return rt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*pHost = NULL;
		return cudaSuccess;
	}
	return rt_cu(D.MemHostAlloc(pHost, size, flags));
}

cudaError_t cudaMallocHost(void **ptr, size_t size)
{
	return cudaHostAlloc(ptr, size, cudaHostAllocDefault);
}

cudaError_t cudaFreeHost(void *ptr)
{
	ENTER();
	if (!ptr)
		return cudaSuccess;
	return rt_cu(D.MemFreeHost(ptr));
}

cudaError_t cudaMallocPitch(void **devPtr, size_t *pitch, size_t width, size_t height)
{
	size_t p;
	ENTER();
	if (!devPtr || !pitch)
		return rt_ret(cudaErrorInvalidValue);
	p = (width + 511) / 512 * 512;
	if (width == 0 || height == 0) {
		*devPtr = NULL;
		*pitch = p;
		return cudaSuccess;
	}
	if (p < width || height > SIZE_MAX / p)
		return rt_ret(cudaErrorMemoryAllocation);
	{
		cudaError_t e = cudaMalloc(devPtr, p * height);
		if (e == cudaSuccess)
			*pitch = p;
		return e;
	}
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attributes, const void *ptr)
{
	unsigned int type = 0;
	int dev = -1;
	CUdeviceptr p = (CUdeviceptr)(uintptr_t)ptr;
	ENTER();
	if (!attributes)
		return rt_ret(cudaErrorInvalidValue);
	memset(attributes, 0, sizeof(*attributes));
	if (D.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p) != CUDA_SUCCESS) {
		attributes->type = cudaMemoryTypeUnregistered;
		attributes->device = -1;
		attributes->hostPointer = (void *)ptr;
		return cudaSuccess;
	}
	D.PointerGetAttribute(&dev, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p);
	attributes->device = dev;
	attributes->type = type == CU_MEMORYTYPE_DEVICE ? cudaMemoryTypeDevice
			   : type == CU_MEMORYTYPE_HOST ? cudaMemoryTypeHost
							: cudaMemoryTypeManaged;
	attributes->devicePointer = (void *)ptr; /* unified addressing */
	attributes->hostPointer = attributes->type == cudaMemoryTypeDevice ? NULL : (void *)ptr;
	return cudaSuccess;
}

static cudaError_t copy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t s,
			int async)
{
	CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, sp = (CUdeviceptr)(uintptr_t)src;
	CUstream cs = (CUstream)s;
	ENTER();
	if (count == 0)
		return cudaSuccess;
	switch (kind) {
	case cudaMemcpyHostToDevice:
		return rt_cu(async ? D.MemcpyHtoDAsync(d, src, count, cs) : D.MemcpyHtoD(d, src, count));
	case cudaMemcpyDeviceToHost:
		return rt_cu(async ? D.MemcpyDtoHAsync(dst, sp, count, cs) : D.MemcpyDtoH(dst, sp, count));
	case cudaMemcpyDeviceToDevice:
		return rt_cu(async ? D.MemcpyDtoDAsync(d, sp, count, cs) : D.MemcpyDtoD(d, sp, count));
	case cudaMemcpyHostToHost:
	case cudaMemcpyDefault:
		return rt_cu(async ? D.MemcpyAsync(d, sp, count, cs) : D.Memcpy(d, sp, count));
	default:
		return rt_ret(cudaErrorInvalidMemcpyDirection);
	}
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
	return copy(dst, src, count, kind, NULL, 0);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream)
{
	return copy(dst, src, count, kind, stream, 1);
}

cudaError_t cudaMemset(void *devPtr, int value, size_t count)
{
	ENTER();
	if (count == 0)
		return cudaSuccess;
	return rt_cu(D.MemsetD8((CUdeviceptr)(uintptr_t)devPtr, (unsigned char)value, count));
}

cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
	ENTER();
	if (count == 0)
		return cudaSuccess;
	return rt_cu(D.MemsetD8Async((CUdeviceptr)(uintptr_t)devPtr, (unsigned char)value, count, (CUstream)stream));
}

/* ------------------------------------------------- streams and events */

cudaError_t cudaStreamCreateWithPriority(cudaStream_t *pStream, unsigned int flags, int priority)
{
	ENTER();
	if (!pStream || (flags & ~(unsigned)cudaStreamNonBlocking))
		return rt_ret(cudaErrorInvalidValue);
	return rt_cu(D.StreamCreateWithPriority((CUstream *)pStream, flags, priority));
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
	return cudaStreamCreateWithPriority(pStream, flags, 0);
}

cudaError_t cudaStreamCreate(cudaStream_t *pStream)
{
	return cudaStreamCreateWithPriority(pStream, cudaStreamDefault, 0);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
	ENTER();
	return rt_cu(D.StreamDestroy((CUstream)stream));
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
	ENTER();
	return rt_cu(D.StreamSynchronize((CUstream)stream));
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
	ENTER();
	return rt_cu(D.StreamQuery((CUstream)stream));
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags)
{
	ENTER();
	return rt_cu(D.StreamWaitEvent((CUstream)stream, (CUevent)event, flags));
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
	ENTER();
	if (!event)
		return rt_ret(cudaErrorInvalidValue);
	return rt_cu(D.EventCreate((CUevent *)event, flags));
}

cudaError_t cudaEventCreate(cudaEvent_t *event)
{
	return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
	ENTER();
	return rt_cu(D.EventRecord((CUevent)event, (CUstream)stream));
}

cudaError_t cudaEventQuery(cudaEvent_t event)
{
	ENTER();
	return rt_cu(D.EventQuery((CUevent)event));
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
	ENTER();
	return rt_cu(D.EventSynchronize((CUevent)event));
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
	ENTER();
	if (!ms)
		return rt_ret(cudaErrorInvalidValue);
	return rt_cu(D.EventElapsedTime(ms, (CUevent)start, (CUevent)end));
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
	ENTER();
	return rt_cu(D.EventDestroy((CUevent)event));
}

/* ------------------------------------------------ registration (nvcc) */

void **__cudaRegisterFatBinary(void *fatCubin)
{
	struct rt_fatbin *fb = calloc(1, sizeof(*fb));
	if (!fb)
		abort(); /* as the real runtime: no way to report it */
	fb->self = fb;
	fb->image = fatCubin;
	return &fb->self;
}

void __cudaRegisterFatBinaryEnd(void **fatCubinHandle)
{
	struct rt_fatbin *fb = (struct rt_fatbin *)fatCubinHandle;
	if (fb)
		fb->ended = 1;
}

void __cudaUnregisterFatBinary(void **fatCubinHandle)
{
	struct rt_fatbin *fb = (struct rt_fatbin *)fatCubinHandle;
	size_t i, j;
	if (!fb)
		return;
	pthread_mutex_lock(&rt_lock);
	for (i = j = 0; i < rt_nkernels; i++) {
		if (rt_kernels[i]->fb == fb) {
			free(rt_kernels[i]->name);
			free(rt_kernels[i]);
		} else {
			rt_kernels[j++] = rt_kernels[i];
		}
	}
	rt_nkernels = j;
	pthread_mutex_unlock(&rt_lock);
	/* At exit the driver may already be gone; the module is left to it. */
	free(fb);
}

void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun, const char *deviceName,
			    int thread_limit, uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize)
{
	struct rt_kernel *k;
	const char *name = deviceName ? deviceName : deviceFun;
	if (!fatCubinHandle || !hostFun || !name)
		return;
	k = calloc(1, sizeof(*k));
	if (!k || !(k->name = strdup(name)))
		abort();
	k->host_fun = hostFun;
	k->fb = (struct rt_fatbin *)fatCubinHandle;
	pthread_mutex_lock(&rt_lock);
	if (rt_nkernels == rt_capkernels) {
		size_t ncap = rt_capkernels ? rt_capkernels * 2 : 32;
		struct rt_kernel **nv = realloc(rt_kernels, ncap * sizeof(*nv));
		if (!nv)
			abort();
		rt_kernels = nv;
		rt_capkernels = ncap;
	}
	rt_kernels[rt_nkernels++] = k;
	pthread_mutex_unlock(&rt_lock);
}

void __cudaRegisterVar(void **fatCubinHandle, char *hostVar, char *deviceAddress, const char *deviceName, int ext,
		       size_t size, int constant, int global)
{
	pthread_mutex_lock(&rt_lock);
	if (rt_nvars == rt_capvars) {
		size_t ncap = rt_capvars ? rt_capvars * 2 : 16;
		struct rt_var *nv = realloc(rt_vars, ncap * sizeof(*nv));
		if (!nv)
			abort();
		rt_vars = nv;
		rt_capvars = ncap;
	}
	rt_vars[rt_nvars].host_var = hostVar;
	rt_vars[rt_nvars].name = deviceName ? strdup(deviceName) : NULL;
	rt_vars[rt_nvars].size = size;
	rt_nvars++;
	pthread_mutex_unlock(&rt_lock);
}

void __cudaRegisterManagedVar(void **fatCubinHandle, void **hostVarPtrAddress, char *deviceAddress,
			      const char *deviceName, int ext, size_t size, int constant, int global)
{
	__cudaRegisterVar(fatCubinHandle, (char *)hostVarPtrAddress, deviceAddress, deviceName, ext, size, constant,
			  global);
}

char __cudaInitModule(void **fatCubinHandle)
{
	return 1;
}

unsigned __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem, struct CUstream_st *stream)
{
	if (tls_ncfg >= RT_CONFIG_DEPTH)
		return 1;
	tls_cfg[tls_ncfg].grid = gridDim;
	tls_cfg[tls_ncfg].block = blockDim;
	tls_cfg[tls_ncfg].shmem = sharedMem;
	tls_cfg[tls_ncfg].stream = (cudaStream_t)stream;
	tls_ncfg++;
	return 0;
}

cudaError_t __cudaPopCallConfiguration(dim3 *gridDim, dim3 *blockDim, size_t *sharedMem, void *stream)
{
	if (tls_ncfg <= 0)
		return rt_ret(cudaErrorInvalidConfiguration);
	tls_ncfg--;
	*gridDim = tls_cfg[tls_ncfg].grid;
	*blockDim = tls_cfg[tls_ncfg].block;
	*sharedMem = tls_cfg[tls_ncfg].shmem;
	*(cudaStream_t *)stream = tls_cfg[tls_ncfg].stream;
	return cudaSuccess;
}

static struct rt_kernel *find_kernel(const void *host_fun)
{
	size_t i;
	struct rt_kernel *k = NULL;
	pthread_mutex_lock(&rt_lock);
	for (i = 0; i < rt_nkernels; i++)
		if (rt_kernels[i]->host_fun == host_fun) {
			k = rt_kernels[i];
			break;
		}
	pthread_mutex_unlock(&rt_lock);
	return k;
}

cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun)
{
	struct rt_kernel *k;
	if (!kernel)
		return rt_ret(cudaErrorInvalidValue);
	k = find_kernel(hostFun);
	if (!k)
		return rt_ret(cudaErrorInvalidDeviceFunction);
	*kernel = (cudaKernel_t)k;
	return cudaSuccess;
}

/* Loads the kernel's module and function in the driver (once). */
static cudaError_t kernel_function(struct rt_kernel *k, CUfunction *out)
{
	CUresult r = CUDA_SUCCESS;
	pthread_mutex_lock(&rt_lock);
	if (!k->fb->mod)
		r = D.ModuleLoadData(&k->fb->mod, k->fb->image ? k->fb->image : (const void *)k->fb);
	if (r == CUDA_SUCCESS && !k->fn)
		r = D.ModuleGetFunction(&k->fn, k->fb->mod, k->name);
	*out = k->fn;
	pthread_mutex_unlock(&rt_lock);
	return from_cu(r);
}

static int rt_captured(cudaStream_t s, int count_launch);

static cudaError_t launch(struct rt_kernel *k, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t s)
{
	CUfunction f;
	cudaError_t e;
	if (!k)
		return rt_ret(cudaErrorInvalidDeviceFunction);
	if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || b.x > 1024 || b.y > 1024 || b.z > 64 ||
	    (uint64_t)b.x * b.y * b.z > 1024 || g.y > 65535 || g.z > 65535 || g.x > 2147483647u)
		return rt_ret(cudaErrorInvalidConfiguration);
	if (shmem > 232448)
		return rt_ret(cudaErrorInvalidValue);
	if ((e = kernel_function(k, &f)) != cudaSuccess)
		return rt_ret(e);
	if (rt_captured(s, 1))
		return cudaSuccess;   /* recorded into the graph, not run */
	return rt_cu(D.LaunchKernel(f, g.x, g.y, g.z, b.x, b.y, b.z, (unsigned)shmem, (CUstream)s, args, NULL));
}

cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem,
			       cudaStream_t stream)
{
	ENTER();
	return launch((struct rt_kernel *)kernel, gridDim, blockDim, args, sharedMem, stream);
}

cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim, void **args,
				    size_t sharedMem, cudaStream_t stream)
{
	ENTER();
	return launch((struct rt_kernel *)kernel, gridDim, blockDim, args, sharedMem,
		      stream ? stream : cudaStreamPerThread);
}

cudaError_t cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem,
			     cudaStream_t stream)
{
	ENTER();
	return launch(find_kernel(func), gridDim, blockDim, args, sharedMem, stream);
}

cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *a, const void *func)
{
	struct rt_kernel *k;
	CUfunction f;
	cudaError_t e;
	int v;
	ENTER();
	if (!a)
		return rt_ret(cudaErrorInvalidValue);
	if (!(k = find_kernel(func)))
		return rt_ret(cudaErrorInvalidDeviceFunction);
	if ((e = kernel_function(k, &f)) != cudaSuccess)
		return rt_ret(e);
	memset(a, 0, sizeof(*a));
#define FATTR(field, which)                                        \
	if (D.FuncGetAttribute(&v, which, f) == CUDA_SUCCESS) \
		a->field = v;
	FATTR(maxThreadsPerBlock, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
	FATTR(numRegs, CU_FUNC_ATTRIBUTE_NUM_REGS)
	FATTR(ptxVersion, CU_FUNC_ATTRIBUTE_PTX_VERSION)
	FATTR(binaryVersion, CU_FUNC_ATTRIBUTE_BINARY_VERSION)
	FATTR(maxDynamicSharedSizeBytes, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
	FATTR(preferredShmemCarveout, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT)
#undef FATTR
	return cudaSuccess;
}

/* ------------------------------------- the rest of what PyTorch links
 * libtorch_cuda binds these at load; what a simulated device cannot do
 * (peer access, IPC, graph capture, symbol copies) says cudaErrorNotSupported,
 * which PyTorch checks for or reports; the rest does what the device would
 * with no data to move. */

#define RT_UNSUPPORTED(decl)                   \
	cudaError_t decl                       \
	{                                      \
		return rt_ret(cudaErrorNotSupported); \
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
RT_UNSUPPORTED(cudaDeviceEnablePeerAccess(int peerDevice, unsigned int flags))
RT_UNSUPPORTED(cudaIpcGetMemHandle(cudaIpcMemHandle_t *handle, void *devPtr))
RT_UNSUPPORTED(cudaIpcOpenMemHandle(void **devPtr, cudaIpcMemHandle_t handle, unsigned int flags))
RT_UNSUPPORTED(cudaIpcCloseMemHandle(void *devPtr))
RT_UNSUPPORTED(cudaIpcGetEventHandle(cudaIpcEventHandle_t *handle, cudaEvent_t event))
RT_UNSUPPORTED(cudaIpcOpenEventHandle(cudaEvent_t *event, cudaIpcEventHandle_t handle))
RT_UNSUPPORTED(cudaGraphDebugDotPrint(cudaGraph_t graph, const char *path, unsigned int flags))
RT_UNSUPPORTED(cudaGetSymbolAddress(void **devPtr, const void *symbol))
RT_UNSUPPORTED(cudaMemcpyToSymbol(const void *symbol, const void *src, size_t count, size_t offset, enum cudaMemcpyKind kind))
RT_UNSUPPORTED(cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, enum cudaMemcpyKind kind, cudaStream_t stream))
RT_UNSUPPORTED(cudaMemcpyPeerAsync(void *dst, int dstDevice, const void *src, int srcDevice, size_t count, cudaStream_t stream))
RT_UNSUPPORTED(cudaLaunchCooperativeKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem, cudaStream_t stream))
RT_UNSUPPORTED(cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func, void **args))

cudaError_t cudaDeviceCanAccessPeer(int *canAccessPeer, int device, int peerDevice)
{
	if (!canAccessPeer)
		return rt_ret(cudaErrorInvalidValue);
	*canAccessPeer = 0;
	return cudaSuccess;
}

cudaError_t cudaDeviceGetPCIBusId(char *pciBusId, int len, int device)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (!pciBusId || len <= 0 || device < 0 || device >= rt_ndev)
		return rt_ret(cudaErrorInvalidValue);
	snprintf(pciBusId, (size_t)len, "%04x:%02x:%02x.0", attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, device),
		 attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, device), attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, device));
	return cudaSuccess;
}

cudaError_t cudaDeviceGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
	if (leastPriority)
		*leastPriority = 0;
	if (greatestPriority)
		*greatestPriority = 0;   /* one priority: streams keep their order */
	return cudaSuccess;
}

cudaError_t cudaStreamGetPriority(cudaStream_t hStream, int *priority)
{
	if (!priority)
		return rt_ret(cudaErrorInvalidValue);
	*priority = 0;
	return cudaSuccess;
}

/* Stream capture (CUDA graphs): a capturing stream records its kernels
 * instead of running them; the graph is their count; launching it runs
 * nothing (the simulated device has nothing to compute, and a replay
 * allocates nothing).  Capture of the legacy default stream is refused, as
 * the real runtime does. */
struct rt_graph {
	unsigned long long id;
	size_t kernels;
};

#define RT_MAX_CAPTURES 16
static struct {
	cudaStream_t stream;
	struct rt_graph *graph;
} rt_capture[RT_MAX_CAPTURES];
static unsigned long long rt_capture_ids;
static int rt_ncapturing;   /* captures under way: launches skip the lock when 0 */

/* Is s capturing?  With count_launch, a kernel is added to its graph. */
static int rt_captured(cudaStream_t s, int count_launch)
{
	int hit = 0;
	if (!__atomic_load_n(&rt_ncapturing, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&rt_lock);
	for (int i = 0; i < RT_MAX_CAPTURES; i++)
		if (rt_capture[i].graph && rt_capture[i].stream == s) {
			rt_capture[i].graph->kernels += count_launch;
			hit = 1;
			break;
		}
	pthread_mutex_unlock(&rt_lock);
	return hit;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode)
{
	ENTER();
	if (!stream || stream == cudaStreamLegacy)
		return rt_ret(cudaErrorStreamCaptureUnsupported);
	if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
	    mode != cudaStreamCaptureModeRelaxed)
		return rt_ret(cudaErrorInvalidValue);
	if (rt_captured(stream, 0))
		return rt_ret(cudaErrorIllegalState);
	struct rt_graph *g = calloc(1, sizeof *g);
	if (!g)
		return rt_ret(cudaErrorMemoryAllocation);
	pthread_mutex_lock(&rt_lock);
	int i = 0;
	while (i < RT_MAX_CAPTURES && rt_capture[i].graph)
		i++;
	if (i < RT_MAX_CAPTURES) {
		g->id = ++rt_capture_ids;
		rt_capture[i].stream = stream;
		rt_capture[i].graph = g;
		__atomic_add_fetch(&rt_ncapturing, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&rt_lock);
	if (i == RT_MAX_CAPTURES) {
		free(g);
		return rt_ret(cudaErrorNotSupported);
	}
	return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *pGraph)
{
	struct rt_graph *g = NULL;
	if (!pGraph)
		return rt_ret(cudaErrorInvalidValue);
	pthread_mutex_lock(&rt_lock);
	for (int i = 0; i < RT_MAX_CAPTURES; i++)
		if (rt_capture[i].graph && rt_capture[i].stream == stream) {
			g = rt_capture[i].graph;
			rt_capture[i].graph = NULL;
			__atomic_sub_fetch(&rt_ncapturing, 1, __ATOMIC_RELEASE);
			break;
		}
	pthread_mutex_unlock(&rt_lock);
	if (!g)
		return rt_ret(cudaErrorIllegalState);
	*pGraph = (cudaGraph_t)(void *)g;
	return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus *pCaptureStatus)
{
	if (!pCaptureStatus)
		return rt_ret(cudaErrorInvalidValue);
	*pCaptureStatus = rt_captured(stream, 0) ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
	return cudaSuccess;
}

cudaError_t cudaStreamGetCaptureInfo(cudaStream_t stream, enum cudaStreamCaptureStatus *captureStatus_out,
				     unsigned long long *id_out, cudaGraph_t *graph_out,
				     const cudaGraphNode_t **dependencies_out, const cudaGraphEdgeData **edgeData_out,
				     size_t *numDependencies_out)
{
	struct rt_graph *g = NULL;
	if (!captureStatus_out)
		return rt_ret(cudaErrorInvalidValue);
	if (rt_captured(stream, 0)) {
		pthread_mutex_lock(&rt_lock);
		for (int i = 0; i < RT_MAX_CAPTURES; i++)
			if (rt_capture[i].graph && rt_capture[i].stream == stream)
				g = rt_capture[i].graph;
		pthread_mutex_unlock(&rt_lock);
	}
	*captureStatus_out = g ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
	if (id_out)
		*id_out = g ? g->id : 0;
	if (graph_out)
		*graph_out = (cudaGraph_t)(void *)g;
	if (dependencies_out)
		*dependencies_out = NULL;
	if (edgeData_out)
		*edgeData_out = NULL;
	if (numDependencies_out)
		*numDependencies_out = 0;
	return cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *pGraphExec, cudaGraph_t graph, unsigned long long flags)
{
	if (!pGraphExec || !graph)
		return rt_ret(cudaErrorInvalidValue);
	*pGraphExec = (cudaGraphExec_t)(void *)graph;   /* the executable is the graph itself */
	return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
	ENTER();
	return graphExec ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec)
{
	return graphExec ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
	if (!graph)
		return rt_ret(cudaErrorInvalidValue);
	free(graph);
	return cudaSuccess;
}

/* The graph's nodes: one per captured kernel (handles that only count). */
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *numNodes)
{
	struct rt_graph *g = (struct rt_graph *)(void *)graph;
	if (!g || !numNodes)
		return rt_ret(cudaErrorInvalidValue);
	if (nodes)
		for (size_t i = 0; i < *numNodes && i < g->kernels; i++)
			nodes[i] = (cudaGraphNode_t)(uintptr_t)(i + 1);
	*numNodes = g->kernels;
	return cudaSuccess;
}

cudaError_t cudaGraphNodeGetDependencies(cudaGraphNode_t node, cudaGraphNode_t *pDependencies,
					 cudaGraphEdgeData *edgeData, size_t *pNumDependencies)
{
	if (!node || !pNumDependencies)
		return rt_ret(cudaErrorInvalidValue);
	*pNumDependencies = 0;
	return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode *mode)
{
	static __thread enum cudaStreamCaptureMode cur = cudaStreamCaptureModeGlobal;
	enum cudaStreamCaptureMode m;
	if (!mode)
		return rt_ret(cudaErrorInvalidValue);
	m = cur;
	cur = *mode;
	*mode = m;
	return cudaSuccess;
}

cudaError_t cudaEventRecordWithFlags(cudaEvent_t event, cudaStream_t stream, unsigned int flags)
{
	return cudaEventRecord(event, stream);
}

cudaError_t cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value)
{
	ENTER();
	return find_kernel(func) ? cudaSuccess : rt_ret(cudaErrorInvalidDeviceFunction);
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, const void *func, int blockSize,
								   size_t dynamicSMemSize, unsigned int flags)
{
	if (!numBlocks || blockSize <= 0)
		return rt_ret(cudaErrorInvalidValue);
	*numBlocks = 2048 / blockSize > 32 ? 32 : 2048 / blockSize;   /* threads per SM, blocks per SM */
	return cudaSuccess;
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, const void *func, int blockSize,
							  size_t dynamicSMemSize)
{
	return cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dynamicSMemSize, 0);
}

cudaError_t cudaHostRegister(void *ptr, size_t size, unsigned int flags)
{
	return ptr && size ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}

cudaError_t cudaHostUnregister(void *ptr)
{
	return ptr ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}

/* The simulated device finishes work at once: a host function queued
 * behind it may run now. */
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void *userData)
{
	ENTER();
	if (!fn)
		return rt_ret(cudaErrorInvalidValue);
	fn(userData);
	return cudaSuccess;
}

cudaError_t cudaStreamAddCallback(cudaStream_t stream, cudaStreamCallback_t callback, void *userData,
				  unsigned int flags)
{
	ENTER();
	if (!callback)
		return rt_ret(cudaErrorInvalidValue);
	callback(stream, cudaSuccess, userData);
	return cudaSuccess;
}

cudaError_t cudaProfilerStart(void)
{
	return cudaSuccess;
}

cudaError_t cudaProfilerStop(void)
{
	return cudaSuccess;
}

cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **funcPtr, unsigned int cudaVersion,
					     unsigned long long flags,
					     enum cudaDriverEntryPointQueryResult *driverStatus)
{
	CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	if (!symbol || !funcPtr)
		return rt_ret(cudaErrorInvalidValue);
	CUresult r = rt_getproc(symbol, funcPtr, (int)cudaVersion, flags, &st);
	if (driverStatus)
		*driverStatus = st == CU_GET_PROC_ADDRESS_SUCCESS ? cudaDriverEntryPointSuccess
				: st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT ? cudaDriverEntryPointVersionNotSufficent
				: cudaDriverEntryPointSymbolNotFound;
	/* a symbol the driver lacks is an answer, not an error: the real
	 * runtime returns success with the status (and a NULL pointer) */
	if (r == CUDA_ERROR_NOT_FOUND) {
		*funcPtr = NULL;
		return cudaSuccess;
	}
	return r == CUDA_SUCCESS ? cudaSuccess : rt_cu(r);
}

/* The stream-ordered allocator: the driver's default pool of each device. */
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t *memPool, int device)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	return rt_cu(D.DeviceGetDefaultMemPool((CUmemoryPool *)memPool, device));
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t memPool, enum cudaMemPoolAttr attr, void *value)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	return rt_cu(D.MemPoolSetAttribute((CUmemoryPool)memPool, (CUmemPool_attribute)attr, value));
}

cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t memPool, enum cudaMemPoolAttr attr, void *value)
{
	cudaError_t e = rt_init();
	if (e != cudaSuccess)
		return rt_ret(e);
	return rt_cu(D.MemPoolGetAttribute((CUmemoryPool)memPool, (CUmemPool_attribute)attr, value));
}

cudaError_t cudaMemPoolSetAccess(cudaMemPool_t memPool, const struct cudaMemAccessDesc *descList, size_t count)
{
	return memPool ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}

cudaError_t cudaMemPoolTrimTo(cudaMemPool_t memPool, size_t minBytesToKeep)
{
	return memPool ? cudaSuccess : rt_ret(cudaErrorInvalidValue);
}
#pragma GCC diagnostic pop
