/* simcuda.h - introspection API of the simulated CUDA driver (libcuda.so.1
 * stand-in under tests/sim/cuda).
 *
 * The contract of the simulated stack is the real CUDA driver and runtime API;
 * these functions only let tests and other simulated components look inside
 * the device model.  They are exported by the stand-in libcuda.so.1 with an
 * mt_sim_ prefix.  A program that must not link libcuda directly (for example
 * an nvcc-built program on the static runtime) can reach them with
 * dlopen("libcuda.so.1") + dlsym.
 *
 * All functions are thread-safe.  Byte counts are bytes; times are simulated
 * nanoseconds.  Device ordinals out of range give 0 (counts) or -1 (ints).
 */
#ifndef MT_SIM_SIMCUDA_H
#define MT_SIM_SIMCUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fixed, recognisable virtual address layout of the simulated devices. */
#define MT_SIM_DEVICE_VA_BASE    0x600000000000ULL /* device d at base + d*stride */
#define MT_SIM_DEVICE_VA_STRIDE  0x010000000000ULL /* 1 TiB per device */
#define MT_SIM_MAX_DEVICES       16
#define MT_SIM_VMM_VA_BASE       0x700000000000ULL /* cuMemAddressReserve range */
#define MT_SIM_VMM_VA_SIZE       0x040000000000ULL /* 4 TiB */
#define MT_SIM_MANAGED_VA_BASE   0x740000000000ULL /* cuMemAllocManaged range */
#define MT_SIM_MANAGED_VA_SIZE   0x010000000000ULL /* 1 TiB */

/* Number of simulated devices (MT_SIM_DEVICES); initialises the model. */
int mt_sim_device_count(void);
/* Capacity of device dev in bytes (MT_SIM_DEVICE_MEMORY). */
uint64_t mt_sim_device_capacity(int dev);
/* Device bytes in use on dev: cuMemAlloc* + cuMemAllocAsync + cuMemCreate,
 * each counted at its rounded size.  This is total - free of cuMemGetInfo. */
uint64_t mt_sim_device_used_bytes(int dev);
/* Part of mt_sim_device_used_bytes held by the default memory pool
 * (cuMemAllocAsync) and by VMM physical handles (cuMemCreate). */
uint64_t mt_sim_pool_used_bytes(int dev);
uint64_t mt_sim_vmm_physical_bytes(int dev);
/* Live allocations (cuMemAlloc*, cuMemAllocAsync) on dev. */
uint64_t mt_sim_device_alloc_count(int dev);
/* Pinned host bytes (cuMemAllocHost/cuMemHostAlloc), managed bytes
 * (cuMemAllocManaged) and reserved VMM address space, process-wide. */
uint64_t mt_sim_host_pinned_bytes(void);
uint64_t mt_sim_managed_bytes(void);
uint64_t mt_sim_vmm_reserved_bytes(void);
/* Device ordinal whose memory contains p (device allocation, pool
 * allocation or mapped VMM range), or -1 when p is not device memory. */
int mt_sim_device_of_ptr(const void *p);
/* Number of kernel launches so far whose function name equals name
 * (mangled, as registered); name NULL counts every launch. */
uint64_t mt_sim_launch_count(const char *name);
/* Simulated time (ns) at which stream s (a CUstream; NULL = legacy default
 * stream of the calling thread's current device) becomes idle. */
uint64_t mt_sim_stream_busy_ns(void *s);

/* ---- activity sink (for the CUPTI stand-in, tests/sim/cupti) ------------
 *
 * One process-wide sink receives, synchronously on the calling thread:
 *   MT_SIM_ACT_API_ENTER / _EXIT  the outermost instrumented driver call of
 *       the thread (launch, copy, set, alloc and free entry points; a driver
 *       call made inside another, e.g. cuMemAllocHost -> cuMemHostAlloc, is
 *       part of the outer one).  `api` names the entry point.
 *   MT_SIM_ACT_KERNEL, _MEMCPY, _MEMSET  work put on a stream, with its
 *       simulated start/end (the schedule of "Time" in README.md).
 *   MT_SIM_ACT_ALLOC, _FREE  device, pool, pinned and managed memory taken
 *       or given back (not VMM), at host time host_ns.
 * Every record carries the correlation id of the outermost driver call of
 * the thread that caused it (a process-wide counter from 1; ids are only
 * assigned while a sink is set, 0 otherwise).  Records of one thread arrive
 * in call order.  The sink is called with the driver's lock held for
 * ALLOC/FREE: it must not call the driver.  NULL removes the sink. */
enum {
	MT_SIM_ACT_API_ENTER = 1,
	MT_SIM_ACT_API_EXIT = 2,
	MT_SIM_ACT_KERNEL = 3,
	MT_SIM_ACT_MEMCPY = 4,
	MT_SIM_ACT_MEMSET = 5,
	MT_SIM_ACT_ALLOC = 6,
	MT_SIM_ACT_FREE = 7,
};
/* Memory kinds of MT_SIM_ACT_ALLOC/FREE and of copy ends. */
enum {
	MT_SIM_MEM_PAGEABLE = 1, /* ordinary host memory */
	MT_SIM_MEM_PINNED = 2,   /* cuMemHostAlloc / cuMemAllocHost */
	MT_SIM_MEM_DEVICE = 3,   /* cuMemAlloc*, and mapped VMM ranges as copy ends */
	MT_SIM_MEM_ASYNC = 4,    /* cuMemAllocAsync: the device's default pool */
	MT_SIM_MEM_MANAGED = 5,  /* cuMemAllocManaged */
};
typedef struct mt_sim_activity {
	int kind;             /* MT_SIM_ACT_* */
	uint32_t correlation; /* outermost driver call of the thread (0: none) */
	const char *api;      /* that call's entry point name, e.g. "cuLaunchKernel" */
	int device;           /* ordinal; -1 when none (pinned, managed) */
	void *stream;         /* CUstream as given (NULL: legacy default stream) */
	uint64_t start_ns, end_ns; /* KERNEL/MEMCPY/MEMSET: simulated stream time */
	uint64_t host_ns;     /* CLOCK_MONOTONIC when reported */
	const char *name;     /* KERNEL: function name (mangled) */
	unsigned grid[3], block[3], shmem;
	uint64_t bytes;       /* MEMCPY/MEMSET bytes; ALLOC/FREE bytes requested (FREE: taken) */
	uint64_t dst, src;    /* MEMCPY ends; MEMSET dst, src = the value; ALLOC/FREE dst = address */
	int dst_mem, src_mem; /* MT_SIM_MEM_* of the copy ends; ALLOC/FREE: dst_mem */
	uint64_t pool;        /* ALLOC/FREE of MT_SIM_MEM_ASYNC: the pool's base address */
} mt_sim_activity;
typedef void (*mt_sim_activity_fn)(const mt_sim_activity *a, void *user);
/* Installs (or with NULL removes) the sink; returns the previous one. */
mt_sim_activity_fn mt_sim_set_activity_sink(mt_sim_activity_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* MT_SIM_SIMCUDA_H */
