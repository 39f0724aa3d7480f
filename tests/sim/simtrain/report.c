/* simtrain NVTX reporting: see report.h. */
#include "tests/sim/simtrain/report.h"
#include "tests/sim/simtrain/truth.h"

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ST_RANGE_DEPTH 32

static struct st_truth *truth;
static nvtxDomainHandle_t mem_domain;
static char stack[ST_RANGE_DEPTH][128];
static int depth;

static const char *phase_of_stack(void)
{
	int i;
	for (i = depth - 1; i >= 0; i--) {
		const char *s = stack[i];
		if (!strcmp(s, "forward") || !strcmp(s, "backward") || !strcmp(s, "optimizer") ||
		    !strcmp(s, "init") || !strcmp(s, "zero_grad") || !strcmp(s, "data"))
			return s;
	}
	return depth ? stack[0] : "init";
}

const char *st_report_phase(void)
{
	return phase_of_stack();
}

const char *st_report_range(void)
{
	return depth ? stack[depth - 1] : "";
}

void st_report_init(struct st_truth *t)
{
	truth = t;
	t->phase_fn = st_report_phase;
	t->range_fn = st_report_range;
	mem_domain = nvtxDomainCreateA("simtrain.allocator");
}

void st_range_push(const char *fmt, ...)
{
	va_list ap;
	char buf[128];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (depth < ST_RANGE_DEPTH)
		memcpy(stack[depth], buf, sizeof buf);
	depth++;
	nvtxRangePushA(buf);
	truth->ev.range++;
}

void st_range_pop(void)
{
	nvtxRangePop();
	if (depth > 0)
		depth--;
}

void st_mark(const char *msg)
{
	nvtxMarkA(msg);
	truth->ev.mark++;
}

void *st_report_heap_register(uint64_t ptr, size_t size)
{
	nvtxMemVirtualRangeDesc_t range;
	nvtxMemHeapDesc_t desc;
	memset(&desc, 0, sizeof desc);
	range.ptr = (const void *)(uintptr_t)ptr;
	range.size = size;
	desc.extCompatID = NVTX_EXT_COMPATID_MEM;
	desc.structSize = sizeof desc;
	desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
	desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
	desc.typeSpecificDescSize = sizeof range;
	desc.typeSpecificDesc = &range;
	desc.messageType = NVTX_MESSAGE_TYPE_ASCII;
	desc.message.ascii = "simtrain.caching_allocator.segment";
	truth->ev.heap_register++;
	return nvtxMemHeapRegister(mem_domain, &desc);
}

void st_report_heap_unregister(void *heap)
{
	truth->ev.heap_unregister++;
	nvtxMemHeapUnregister(mem_domain, (nvtxMemHeapHandle_t)heap);
}

void st_report_region_register(void *heap, uint64_t ptr, size_t size, const char *name)
{
	nvtxMemVirtualRangeDesc_t range;
	nvtxMemRegionsRegisterBatch_t batch;
	nvtxMemRegionHandle_t handle = NULL;
	range.ptr = (const void *)(uintptr_t)ptr;
	range.size = size;
	memset(&batch, 0, sizeof batch);
	batch.extCompatID = NVTX_EXT_COMPATID_MEM;
	batch.structSize = sizeof batch;
	batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
	batch.heap = (nvtxMemHeapHandle_t)heap;
	batch.regionCount = 1;
	batch.regionDescElementSize = sizeof range;
	batch.regionDescElements = &range;
	batch.regionHandleElementsOut = &handle;
	nvtxMemRegionsRegister(mem_domain, &batch);
	truth->ev.region_register++;
	if (name) {
		nvtxMemRegionNameDesc_t nd;
		nvtxMemRegionsNameBatch_t nb;
		memset(&nd, 0, sizeof nd);
		memset(&nb, 0, sizeof nb);
		nd.regionRefType = NVTX_MEM_REGION_REF_TYPE_POINTER;
		nd.nameType = NVTX_MESSAGE_TYPE_ASCII;
		nd.region.pointer = range.ptr;
		nd.name.ascii = name;
		nb.extCompatID = NVTX_EXT_COMPATID_MEM;
		nb.structSize = sizeof nb;
		nb.regionCount = 1;
		nb.regionElementSize = sizeof nd;
		nb.regionElements = &nd;
		nvtxMemRegionsName(mem_domain, &nb);
	}
}

void st_report_region_unregister(uint64_t ptr)
{
	nvtxMemRegionRef_t ref;
	nvtxMemRegionsUnregisterBatch_t b;
	memset(&b, 0, sizeof b);
	ref.pointer = (const void *)(uintptr_t)ptr;
	b.extCompatID = NVTX_EXT_COMPATID_MEM;
	b.structSize = sizeof b;
	b.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
	b.refCount = 1;
	b.refElementSize = sizeof ref;
	b.refElements = &ref;
	nvtxMemRegionsUnregister(mem_domain, &b);
	truth->ev.region_unregister++;
}
