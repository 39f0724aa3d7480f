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

#ifdef __cplusplus
}
#endif
#endif /* MT_SIM_SIMCUDA_H */
