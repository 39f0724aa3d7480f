/* simtrain NVTX reporting: phases as push/pop ranges in the default domain,
 * the caching allocator's segments as NVTX memory heaps and its blocks as
 * named regions (domain "simtrain.allocator").  NVTX is header-only: every
 * call is a no-op unless a tool injects through NVTX_INJECTION64_PATH. */
#ifndef ST_REPORT_H
#define ST_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct st_truth;

void st_report_init(struct st_truth *t);
/* Range stack (names are copied). */
void st_range_push(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void st_range_pop(void);
void st_mark(const char *msg);
/* The phase ("init", "forward", "backward", "optimizer", ...) and the innermost range. */
const char *st_report_phase(void);
const char *st_report_range(void);
/* Heaps: register a segment, returns the handle (cookie). */
void *st_report_heap_register(uint64_t ptr, size_t size);
void st_report_heap_unregister(void *heap);
/* Regions: register a block inside heap; name may be NULL (unnamed). */
void st_report_region_register(void *heap, uint64_t ptr, size_t size, const char *name);
void st_report_region_unregister(uint64_t ptr);

#endif
