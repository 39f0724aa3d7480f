/* CUPTI: GPU-side activity (kernels, memcpy, MEMORY2) when a device and
 * libcupti exist.  Loaded lazily with dlopen, never linked: a machine
 * without a GPU or without CUPTI records process.cupti = 'unavailable',
 * and --no-cupti records 'disabled'.
 *
 * This build detects CUPTI and reports it plainly; the activity-buffer
 * processing (GPU start/end into kernels/memcpys, MEMORY2 into gpu_memory)
 * is not written yet, so even with libcupti present the trace says
 * 'unavailable' with the reason in meta 'cupti.reason' rather than claim
 * GPU times it does not have. */
#define _GNU_SOURCE
#include "config.h"
#include <dlfcn.h>
#include <stdio.h>
#include "collector/collector.h"

static const char *reason = "";

const char *mt__cupti_start(void)
{
  if (!mt__cfg.cupti) {
    reason = "disabled by --no-cupti";
    return "disabled";
  }
  /* A device first: CUPTI on a machine without one only fails later. */
  typedef int (*count_fn)(int *);
  count_fn cnt = (count_fn)mt__driver_real("cuDeviceGetCount");
  int n = 0;
  if (!cnt || cnt(&n) != 0 || n <= 0) {
    reason = "no CUDA device";
    return "unavailable";
  }
  static const char *const libs[] = { "libcupti.so.13", "libcupti.so.12", "libcupti.so" };
  void *h = NULL;
  for (size_t i = 0; i < sizeof libs / sizeof libs[0] && !h; i++)
    h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    reason = "libcupti not found";
    return "unavailable";
  }
  reason = "activity processing not implemented in this collector build";
  return "unavailable";
}

const char *mt__cupti_reason(void)
{
  return reason;
}

void mt__cupti_flush(void)
{
}
