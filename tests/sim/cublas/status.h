/* Names and messages of cublasStatus_t, shared by the simulated cuBLAS and
 * cuBLASLt (each library answers them itself, as the real ones do). */
#ifndef MT_SIM_CUBLAS_STATUS_H
#define MT_SIM_CUBLAS_STATUS_H
#include <cublas_api.h>

__attribute__((unused)) static const char *const mt__sim_cublas_status_names[][2] = {
	{"CUBLAS_STATUS_SUCCESS", "the operation completed successfully"},
	{"CUBLAS_STATUS_NOT_INITIALIZED", "the library was not initialized"},
	{"CUBLAS_STATUS_ALLOC_FAILED", "the resource allocation failed"},
	{"CUBLAS_STATUS_INVALID_VALUE", "an invalid numeric value was used as an argument"},
	{"CUBLAS_STATUS_ARCH_MISMATCH", "an absent device architectural feature is required"},
	{"CUBLAS_STATUS_MAPPING_ERROR", "an access to GPU memory space failed"},
	{"CUBLAS_STATUS_EXECUTION_FAILED", "the GPU program failed to execute"},
	{"CUBLAS_STATUS_INTERNAL_ERROR", "an internal operation failed"},
	{"CUBLAS_STATUS_NOT_SUPPORTED", "the functionality requested is not supported"},
	{"CUBLAS_STATUS_LICENSE_ERROR", "an error was detected when checking the current licensing"},
};

static inline int mt__sim_cublas_status_index(cublasStatus_t s)
{
	switch (s) {
	case CUBLAS_STATUS_SUCCESS: return 0;
	case CUBLAS_STATUS_NOT_INITIALIZED: return 1;
	case CUBLAS_STATUS_ALLOC_FAILED: return 2;
	case CUBLAS_STATUS_INVALID_VALUE: return 3;
	case CUBLAS_STATUS_ARCH_MISMATCH: return 4;
	case CUBLAS_STATUS_MAPPING_ERROR: return 5;
	case CUBLAS_STATUS_EXECUTION_FAILED: return 6;
	case CUBLAS_STATUS_INTERNAL_ERROR: return 7;
	case CUBLAS_STATUS_NOT_SUPPORTED: return 8;
	case CUBLAS_STATUS_LICENSE_ERROR: return 9;
	default: return -1;
	}
}

/* The name (which 0) or message (which 1) of status, as cuBLAS words them. */
__attribute__((unused)) static const char *mt__sim_cublas_status_text(cublasStatus_t status, int which)
{
	int i = mt__sim_cublas_status_index(status);
	return i >= 0 ? mt__sim_cublas_status_names[i][which] : which ? "unknown error" : "CUBLAS_STATUS_UNKNOWN";
}

#endif
