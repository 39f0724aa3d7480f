/* Enumerations stored in trace columns.  Values are part of the file format:
 * never renumber, only append.  Every table is written into enum_labels when
 * a trace is created, so readers (and people with sqlite3) can decode them. */
#ifndef MT_ENUMS_H
#define MT_ENUMS_H

/* mem_events.op, gpu_memory.op */
#define MT_MEM_OP_LIST(X) \
  X(1, ALLOC, "alloc") \
  X(2, FREE, "free") \
  X(3, VA_RESERVE, "va_reserve") \
  X(4, VA_FREE, "va_free") \
  X(5, CREATE, "create") \
  X(6, RELEASE, "release") \
  X(7, MAP, "map") \
  X(8, UNMAP, "unmap") \
  X(9, WORKSPACE, "workspace")   /* a library was lent [addr, addr+size) as its workspace (no memory change) */

/* mem_events.kind */
#define MT_MEM_KIND_LIST(X) \
  X(1, DEVICE, "device") \
  X(2, MANAGED, "managed") \
  X(3, HOST_PINNED, "host_pinned") \
  X(4, ASYNC_POOL, "async_pool") \
  X(5, VMM, "vmm")

/* region_events.op */
#define MT_REGION_OP_LIST(X) \
  X(1, REGISTER, "register") \
  X(2, UNREGISTER, "unregister") \
  X(3, RESIZE, "resize")

/* heaps.usage (NVTX nvtxMemHeapUsageType plus framework pools) */
#define MT_HEAP_USAGE_LIST(X) \
  X(0, POOL, "pool") \
  X(1, SINGLE_REGION, "single_region") \
  X(2, FRAMEWORK_POOL, "framework_pool")

/* memcpys.kind */
#define MT_COPY_KIND_LIST(X) \
  X(0, H2H, "h2h") \
  X(1, H2D, "h2d") \
  X(2, D2H, "d2h") \
  X(3, D2D, "d2d") \
  X(4, DEFAULT, "default") \
  X(5, MEMSET, "memset")

/* nccl_calls.op */
#define MT_NCCL_OP_LIST(X) \
  X(1, ALLREDUCE, "allreduce") \
  X(2, REDUCESCATTER, "reducescatter") \
  X(3, ALLGATHER, "allgather") \
  X(4, BROADCAST, "broadcast") \
  X(5, REDUCE, "reduce") \
  X(6, SEND, "send") \
  X(7, RECV, "recv") \
  X(8, ALLTOALL, "alltoall") \
  X(9, GROUP_START, "group_start") \
  X(10, GROUP_END, "group_end")

/* ranges.kind */
#define MT_RANGE_KIND_LIST(X) \
  X(1, PUSH_POP, "push_pop") \
  X(2, START_END, "start_end") \
  X(3, MARK, "mark")

/* mem_events.context: the library on whose behalf the call was made, as the
 * collector saw it (inside an NCCL call, from a cuBLAS/cuDNN module...). */
#define MT_ALLOC_CONTEXT_LIST(X) \
  X(0, APP, "app") \
  X(1, NCCL, "nccl") \
  X(2, BLAS, "blas") \
  X(3, DNN, "dnn") \
  X(4, FRAMEWORK, "framework") \
  X(5, COLLECTOR, "collector")

/* ooms.source */
#define MT_OOM_SOURCE_LIST(X) \
  X(1, DRIVER, "driver") \
  X(2, ALLOCATOR, "allocator")

/* The API that produced an event (mem_events.api, kernels.api, ...). */
#define MT_API_LIST(X) \
  X(0, UNKNOWN, "unknown") \
  X(1, cudaMalloc, "cudaMalloc") \
  X(2, cudaFree, "cudaFree") \
  X(3, cudaMallocAsync, "cudaMallocAsync") \
  X(4, cudaFreeAsync, "cudaFreeAsync") \
  X(5, cudaMallocManaged, "cudaMallocManaged") \
  X(6, cudaMallocHost, "cudaMallocHost") \
  X(7, cudaHostAlloc, "cudaHostAlloc") \
  X(8, cudaFreeHost, "cudaFreeHost") \
  X(9, cudaLaunchKernel, "cudaLaunchKernel") \
  X(10, cudaMemcpy, "cudaMemcpy") \
  X(11, cudaMemcpyAsync, "cudaMemcpyAsync") \
  X(12, cudaMemset, "cudaMemset") \
  X(13, cudaMemsetAsync, "cudaMemsetAsync") \
  X(14, cudaStreamCreate, "cudaStreamCreate") \
  X(15, cudaStreamSynchronize, "cudaStreamSynchronize") \
  X(16, cudaDeviceSynchronize, "cudaDeviceSynchronize") \
  X(17, cudaEventRecord, "cudaEventRecord") \
  X(18, cudaEventSynchronize, "cudaEventSynchronize") \
  X(19, cudaGraphLaunch, "cudaGraphLaunch") \
  X(20, cudaStreamWaitEvent, "cudaStreamWaitEvent") \
  X(21, cudaMallocPitch, "cudaMallocPitch") \
  X(22, cudaLaunchKernelExC, "cudaLaunchKernelExC") \
  X(40, cuMemAlloc, "cuMemAlloc_v2") \
  X(41, cuMemFree, "cuMemFree_v2") \
  X(42, cuMemAllocAsync, "cuMemAllocAsync") \
  X(43, cuMemFreeAsync, "cuMemFreeAsync") \
  X(44, cuMemAddressReserve, "cuMemAddressReserve") \
  X(45, cuMemAddressFree, "cuMemAddressFree") \
  X(46, cuMemCreate, "cuMemCreate") \
  X(47, cuMemRelease, "cuMemRelease") \
  X(48, cuMemMap, "cuMemMap") \
  X(49, cuMemUnmap, "cuMemUnmap") \
  X(50, cuLaunchKernel, "cuLaunchKernel") \
  X(51, cuMemAllocManaged, "cuMemAllocManaged") \
  X(52, cuMemAllocHost, "cuMemAllocHost_v2") \
  X(53, cuMemFreeHost, "cuMemFreeHost") \
  X(54, cuMemcpy, "cuMemcpy") \
  X(55, cuMemsetD8, "cuMemsetD8_v2") \
  X(56, cuMemAllocPitch, "cuMemAllocPitch_v2") \
  X(57, cuLaunchKernelEx, "cuLaunchKernelEx") \
  X(58, cuMemHostAlloc, "cuMemHostAlloc") \
  X(80, nccl, "nccl") \
  X(81, cublasSetWorkspace, "cublasSetWorkspace_v2") \
  X(82, cublasLtMatmul, "cublasLtMatmul") \
  X(83, cudnnBackendExecute, "cudnnBackendExecute") \
  X(90, nvtxMem, "nvtxMem") \
  X(91, torch, "torch") \
  X(92, import, "import")

#define MT__ENUM_ITEM(prefix, v, name, label) prefix##name = v,
#define MT__MEM_OP(v, n, l) MT_MEM_##n = v,
#define MT__MEM_KIND(v, n, l) MT_MEM_KIND_##n = v,
#define MT__REGION_OP(v, n, l) MT_REGION_##n = v,
#define MT__HEAP_USAGE(v, n, l) MT_HEAP_##n = v,
#define MT__COPY_KIND(v, n, l) MT_COPY_##n = v,
#define MT__NCCL_OP(v, n, l) MT_NCCL_##n = v,
#define MT__RANGE_KIND(v, n, l) MT_RANGE_##n = v,
#define MT__OOM_SOURCE(v, n, l) MT_OOM_##n = v,
#define MT__ALLOC_CONTEXT(v, n, l) MT_CTX_##n = v,
#define MT__API(v, n, l) MT_API_##n = v,

enum mt_mem_op { MT_MEM_OP_LIST(MT__MEM_OP) };
enum mt_mem_kind { MT_MEM_KIND_LIST(MT__MEM_KIND) };
enum mt_region_op { MT_REGION_OP_LIST(MT__REGION_OP) };
enum mt_heap_usage { MT_HEAP_USAGE_LIST(MT__HEAP_USAGE) };
enum mt_copy_kind { MT_COPY_KIND_LIST(MT__COPY_KIND) };
enum mt_nccl_op { MT_NCCL_OP_LIST(MT__NCCL_OP) };
enum mt_range_kind { MT_RANGE_KIND_LIST(MT__RANGE_KIND) };
enum mt_oom_source { MT_OOM_SOURCE_LIST(MT__OOM_SOURCE) };
enum mt_alloc_context { MT_ALLOC_CONTEXT_LIST(MT__ALLOC_CONTEXT) };
enum mt_api { MT_API_LIST(MT__API) };

/* Label of a value, or NULL when unknown.  enum_name is the enum_labels.enum
 * column ("mem_op", "api", ...).  Thread-safe: pure lookup. */
const char *mt_enum_label(const char *enum_name, int value);

#endif
