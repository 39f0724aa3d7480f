/* sim_procs.h - every driver entry point of the simulated libcuda.so.1, once.
 *
 * X(name, symbol, version): name is what cuGetProcAddress is asked for (the
 * base name, without _v2), symbol the C function that answers, version the
 * lowest cudaVersion (1000*major + 10*minor) that may receive it.  A request
 * for the symbol's own name (e.g. "cuMemAlloc_v2") is answered too.
 * Included by sim_driver.c (dispatch) and by the tests (coverage). */
#define MT_SIM_DRIVER_PROCS(X) \
	X("cuInit", cuInit, 2000) \
	X("cuDriverGetVersion", cuDriverGetVersion, 2020) \
	X("cuGetErrorString", cuGetErrorString, 6000) \
	X("cuGetErrorName", cuGetErrorName, 6000) \
	X("cuGetProcAddress", cuGetProcAddress_v2, 12000) \
	X("cuDeviceGet", cuDeviceGet, 2000) \
	X("cuDeviceGetCount", cuDeviceGetCount, 2000) \
	X("cuDeviceGetName", cuDeviceGetName, 2000) \
	X("cuDeviceTotalMem", cuDeviceTotalMem_v2, 3020) \
	X("cuDeviceGetAttribute", cuDeviceGetAttribute, 2000) \
	X("cuDeviceGetUuid", cuDeviceGetUuid_v2, 11040) \
	X("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain, 7000) \
	X("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease_v2, 11000) \
	X("cuDevicePrimaryCtxReset", cuDevicePrimaryCtxReset_v2, 11000) \
	X("cuDevicePrimaryCtxGetState", cuDevicePrimaryCtxGetState, 7000) \
	X("cuDevicePrimaryCtxSetFlags", cuDevicePrimaryCtxSetFlags_v2, 11000) \
	X("cuCtxGetCurrent", cuCtxGetCurrent, 4000) \
	X("cuCtxSetCurrent", cuCtxSetCurrent, 4000) \
	X("cuCtxGetDevice", cuCtxGetDevice, 2000) \
	X("cuCtxSynchronize", cuCtxSynchronize, 2000) \
	X("cuMemGetInfo", cuMemGetInfo_v2, 3020) \
	X("cuMemAlloc", cuMemAlloc_v2, 3020) \
	X("cuMemAllocPitch", cuMemAllocPitch_v2, 3020) \
	X("cuMemFree", cuMemFree_v2, 3020) \
	X("cuMemGetAddressRange", cuMemGetAddressRange_v2, 3020) \
	X("cuMemAllocAsync", cuMemAllocAsync, 11020) \
	X("cuMemFreeAsync", cuMemFreeAsync, 11020) \
	X("cuMemAllocHost", cuMemAllocHost_v2, 3020) \
	X("cuMemFreeHost", cuMemFreeHost, 2000) \
	X("cuMemHostAlloc", cuMemHostAlloc, 2020) \
	X("cuMemHostGetDevicePointer", cuMemHostGetDevicePointer_v2, 3020) \
	X("cuMemAllocManaged", cuMemAllocManaged, 6000) \
	X("cuMemcpy", cuMemcpy, 4000) \
	X("cuMemcpyAsync", cuMemcpyAsync, 4000) \
	X("cuMemcpyHtoD", cuMemcpyHtoD_v2, 3020) \
	X("cuMemcpyDtoH", cuMemcpyDtoH_v2, 3020) \
	X("cuMemcpyDtoD", cuMemcpyDtoD_v2, 3020) \
	X("cuMemcpyHtoDAsync", cuMemcpyHtoDAsync_v2, 3020) \
	X("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync_v2, 3020) \
	X("cuMemcpyDtoDAsync", cuMemcpyDtoDAsync_v2, 3020) \
	X("cuMemsetD8", cuMemsetD8_v2, 3020) \
	X("cuMemsetD32", cuMemsetD32_v2, 3020) \
	X("cuMemsetD8Async", cuMemsetD8Async, 3020) \
	X("cuMemsetD32Async", cuMemsetD32Async, 3020) \
	X("cuMemAddressReserve", cuMemAddressReserve, 10020) \
	X("cuMemAddressFree", cuMemAddressFree, 10020) \
	X("cuMemCreate", cuMemCreate, 10020) \
	X("cuMemRelease", cuMemRelease, 10020) \
	X("cuMemMap", cuMemMap, 10020) \
	X("cuMemUnmap", cuMemUnmap, 10020) \
	X("cuMemSetAccess", cuMemSetAccess, 10020) \
	X("cuMemGetAllocationGranularity", cuMemGetAllocationGranularity, 10020) \
	X("cuPointerGetAttribute", cuPointerGetAttribute, 4000) \
	X("cuModuleLoadData", cuModuleLoadData, 2000) \
	X("cuModuleUnload", cuModuleUnload, 2000) \
	X("cuModuleGetFunction", cuModuleGetFunction, 2000) \
	X("cuFuncGetName", cuFuncGetName, 12030) \
	X("cuFuncGetAttribute", cuFuncGetAttribute, 2020) \
	X("cuLaunchKernel", cuLaunchKernel, 4000) \
	X("cuStreamCreate", cuStreamCreate, 2000) \
	X("cuStreamCreateWithPriority", cuStreamCreateWithPriority, 5050) \
	X("cuStreamDestroy", cuStreamDestroy_v2, 4000) \
	X("cuStreamSynchronize", cuStreamSynchronize, 2000) \
	X("cuStreamQuery", cuStreamQuery, 2000) \
	X("cuStreamWaitEvent", cuStreamWaitEvent, 3020) \
	X("cuEventCreate", cuEventCreate, 2000) \
	X("cuEventRecord", cuEventRecord, 2000) \
	X("cuEventQuery", cuEventQuery, 2000) \
	X("cuEventSynchronize", cuEventSynchronize, 2000) \
	X("cuEventElapsedTime", cuEventElapsedTime_v2, 12080) \
	X("cuEventDestroy", cuEventDestroy_v2, 4000) \
	X("cuDeviceGetDefaultMemPool", cuDeviceGetDefaultMemPool, 11020) \
	X("cuMemPoolGetAttribute", cuMemPoolGetAttribute, 11020) \
	X("cuMemPoolSetAttribute", cuMemPoolSetAttribute, 11020) \
	X("cuMemExportToShareableHandle", cuMemExportToShareableHandle, 10020) \
	X("cuMemImportFromShareableHandle", cuMemImportFromShareableHandle, 10020) \
	X("cuMemRetainAllocationHandle", cuMemRetainAllocationHandle, 11000) \
	X("cuMemGetAllocationPropertiesFromHandle", cuMemGetAllocationPropertiesFromHandle, 10020) \
	X("cuStreamWriteValue32", cuStreamWriteValue32_v2, 12000)
