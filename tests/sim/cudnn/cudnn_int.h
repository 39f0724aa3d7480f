/* Internal to the simulated cuDNN (cudnn.c: handles, backend API;
 * legacy.c: the legacy descriptors and batch normalization). */
#ifndef MT_SIM_CUDNN_INT_H
#define MT_SIM_CUDNN_INT_H

#include <cudnn.h>

#define MT__HIDDEN __attribute__((visibility("hidden")))
#define SCD_HANDLE 0x63646e68u /* "cdnh" */

struct cudnnContext {
	unsigned magic;
	int device;
	cudaStream_t stream;
};

/* A handle of ours. */
int mt__scd_valid_handle(cudnnHandle_t h) MT__HIDDEN;
/* A failure's status, with the message cudnnGetLastErrorString returns. */
cudnnStatus_t mt__scd_fail(cudnnStatus_t st, const char *fmt, ...) MT__HIDDEN __attribute__((format(printf, 2, 3)));
/* A line on stderr when MT_SIM_CUDNN_LOG=1. */
void mt__scd_say(const char *fmt, ...) MT__HIDDEN __attribute__((format(printf, 1, 2)));
/* Counts one kernel launched (mt_sim_cudnn_launch_count). */
void mt__scd_count_launch(void) MT__HIDDEN;

#endif
