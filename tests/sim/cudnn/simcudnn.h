/* simcudnn.h: ground-truth queries of the simulated cuDNN (libcudnn.so.9
 * built in tests/sim/cudnn).  Not part of cuDNN; reach them with
 * dlsym(RTLD_DEFAULT, "mt_sim_cudnn_...") or ctypes.  Thread-safe. */
#ifndef MT_SIM_CUDNN_H
#define MT_SIM_CUDNN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cudnnBackendExecute calls that ran, and the kernels they launched. */
uint64_t mt_sim_cudnn_execute_count(void);
uint64_t mt_sim_cudnn_launch_count(void);
/* The largest workspace an executed plan needed. */
uint64_t mt_sim_cudnn_workspace_max_used(void);
/* The distinct workspaces callers passed to plans that need one, in
 * first-use order: pointer and the bytes the plan used, up to max; returns
 * the count.  The library allocates none itself. */
int mt_sim_cudnn_workspaces(unsigned long long *ptrs, uint64_t *sizes, int max);

#ifdef __cplusplus
}
#endif
#endif
