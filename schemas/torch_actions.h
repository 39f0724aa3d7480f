/* The mapping of PyTorch caching-allocator trace entries (the `action` of a
 * TraceEntry: what torch.cuda.memory._snapshot()['device_traces'] holds and
 * what the allocator trace observers receive) onto memtrace events.  One
 * definition, used by both channels that see such entries:
 *   - analyzer/interop/import_snapshot.c (memtrace import of a snapshot file)
 *   - collector/hooks_framework.c (the live PyTorch channel, memtrace_fw_*)
 * Header-only (static inline): the collector is a preload library and the
 * importer a static part of the analyzer; neither links the other.
 *
 *   alloc / free_completed            -> region register / unregister (heap of
 *                                        the segment covering the address)
 *   free_requested                    -> nothing (the block is still in use
 *                                        until free_completed)
 *   segment_alloc / segment_free      -> device allocation alloc / free
 *                                        (cudaMalloc / cudaFree) + a heap
 *   segment_map / segment_unmap       -> VMM map / unmap (expandable segments:
 *                                        the heap is the reserved range)
 *   oom                               -> ooms row, source allocator
 *   snapshot                          -> a mark
 */
#ifndef MT_TORCH_ACTIONS_H
#define MT_TORCH_ACTIONS_H

#include <string.h>
#include "schemas/enums.h"

typedef enum mt_torch_action {
  MT_TA_UNKNOWN = 0,
  MT_TA_ALLOC,
  MT_TA_FREE_REQUESTED,
  MT_TA_FREE_COMPLETED,
  MT_TA_SEGMENT_ALLOC,
  MT_TA_SEGMENT_FREE,
  MT_TA_SEGMENT_MAP,
  MT_TA_SEGMENT_UNMAP,
  MT_TA_OOM,
  MT_TA_SNAPSHOT,
} mt_torch_action;

static inline mt_torch_action mt_torch_action_parse(const char *a)
{
  static const struct { const char *s; mt_torch_action v; } tab[] = {
    { "alloc", MT_TA_ALLOC },
    { "free_requested", MT_TA_FREE_REQUESTED },
    { "free_completed", MT_TA_FREE_COMPLETED },
    { "segment_alloc", MT_TA_SEGMENT_ALLOC },
    { "segment_free", MT_TA_SEGMENT_FREE },
    { "segment_map", MT_TA_SEGMENT_MAP },
    { "segment_unmap", MT_TA_SEGMENT_UNMAP },
    { "oom", MT_TA_OOM },
    { "snapshot", MT_TA_SNAPSHOT },
  };
  if (!a)
    return MT_TA_UNKNOWN;
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (strcmp(a, tab[i].s) == 0)
      return tab[i].v;
  return MT_TA_UNKNOWN;
}

/* A segment action as a device memory event: fills op, api and kind and
 * returns 1; 0 when `a` is not a segment action. */
static inline int mt_torch_segment_mem(mt_torch_action a, int *op, int *api, int *kind)
{
  switch (a) {
  case MT_TA_SEGMENT_ALLOC: *op = MT_MEM_ALLOC; *api = MT_API_cudaMalloc; *kind = MT_MEM_KIND_DEVICE; return 1;
  case MT_TA_SEGMENT_FREE: *op = MT_MEM_FREE; *api = MT_API_cudaFree; *kind = MT_MEM_KIND_DEVICE; return 1;
  case MT_TA_SEGMENT_MAP: *op = MT_MEM_MAP; *api = MT_API_cuMemMap; *kind = MT_MEM_KIND_VMM; return 1;
  case MT_TA_SEGMENT_UNMAP: *op = MT_MEM_UNMAP; *api = MT_API_cuMemUnmap; *kind = MT_MEM_KIND_VMM; return 1;
  default: return 0;
  }
}

/* Segment actions that start / end a segment instance (a heap).  A map on
 * a segment already live grows it (expandable segments). */
static inline int mt_torch_segment_starts(mt_torch_action a)
{
  return a == MT_TA_SEGMENT_ALLOC || a == MT_TA_SEGMENT_MAP;
}
static inline int mt_torch_segment_ends(mt_torch_action a)
{
  return a == MT_TA_SEGMENT_FREE || a == MT_TA_SEGMENT_UNMAP;
}

/* Block actions as region ops: register, unregister, or 0 (nothing). */
static inline int mt_torch_region_op(mt_torch_action a)
{
  return a == MT_TA_ALLOC ? MT_REGION_REGISTER : a == MT_TA_FREE_COMPLETED ? MT_REGION_UNREGISTER : 0;
}

/* Heap names for a segment: "torch-caching-allocator/<segment_type>", with
 * the private pool when the segment belongs to one (CUDA graphs,
 * torch.compile's cudagraph trees, MemPool). */
#define MT_TORCH_HEAP_PREFIX "torch-caching-allocator/"

#endif
