/* NVTX through the injection interface.  The collector .so is also the NVTX
 * injection library (NVTX_INJECTION64_PATH): NVTX calls
 * InitializeInjectionNvtx2 at the program's first NVTX call, and we fill
 * the CORE and CORE2 callback tables with our functions (ranges push/pop
 * and start/end, marks, domains, registered strings, thread names).  The
 * memory extension (nvToolsExtMem.h) is initialised separately through
 * InitializeInjectionNvtxExtension with module id NVTX_EXT_MODULEID_MEM,
 * whose function slots we fill the same way (heaps and regions).
 *
 * NVTX events do not start a trace on their own: they wait in the ring
 * until the process touches CUDA (a CPU-only process leaves no trace). */
#define _GNU_SOURCE
#include "config.h"
#include <stdlib.h>
#include <string.h>
#define NVTX_NO_IMPL
#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>
#include "collector/hooks.h"

static MT_TLS int t_depth;
static _Atomic uint64_t next_range_id = 1;
static _Atomic uint64_t next_heap = 1;

#define PTR(p) ((uint64_t)(uintptr_t)(p))

/* Our handles: a domain is a copy of its name; a registered string a copy
 * of the string.  Both live as long as the process. */
static const char *copy_str(const char *s)
{
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  char *c = strdup(s ? s : "");
  mt__t_in = saved;
  return c;
}

/* A range/mark record: text inline for ASCII messages, or the pointer of a
 * registered string. */
static void emit_range(int type, int kind, const void *domain, const nvtxEventAttributes_t *a,
                       const char *ascii, uint64_t id)
{
#ifndef MT_NOP
  int64_t ts = mt__now();
  uint64_t reg = 0;
  int category = 0;
  if (a) {
    category = (int)a->category;
    if (a->messageType == NVTX_MESSAGE_TYPE_ASCII)
      ascii = a->message.ascii;
    else if (a->messageType == NVTX_MESSAGE_TYPE_REGISTERED)
      reg = PTR(a->message.registered);
    else if (a->messageType == NVTX_MESSAGE_TYPE_UNICODE)
      ascii = "(unicode)";
  }
  mt__emit_text(type, 0, kind, MT_D_RANGE, ts, PTR(domain), reg, (uint64_t)category, id,
                reg ? NULL : (ascii ? ascii : ""));
#else
  (void)type; (void)kind; (void)domain; (void)a; (void)ascii; (void)id;
#endif
}

/* ---- CORE ------------------------------------------------------------- */

static void mt_MarkEx(const nvtxEventAttributes_t *a) { emit_range(MT_R_MARK, MT_RANGE_MARK, NULL, a, NULL, 0); }
static void mt_MarkA(const char *m) { emit_range(MT_R_MARK, MT_RANGE_MARK, NULL, NULL, m, 0); }

static nvtxRangeId_t mt_RangeStartEx(const nvtxEventAttributes_t *a)
{
  uint64_t id = atomic_fetch_add(&next_range_id, 1);
  emit_range(MT_R_PUSH, MT_RANGE_START_END, NULL, a, NULL, id);
  return id;
}

static nvtxRangeId_t mt_RangeStartA(const char *m)
{
  uint64_t id = atomic_fetch_add(&next_range_id, 1);
  emit_range(MT_R_PUSH, MT_RANGE_START_END, NULL, NULL, m, id);
  return id;
}

static void mt_RangeEnd(nvtxRangeId_t id)
{
#ifndef MT_NOP
  mt__emit_text(MT_R_POP, 0, MT_RANGE_START_END, MT_D_RANGE, mt__now(), 0, 0, 0, id, NULL);
#else
  (void)id;
#endif
}

static int mt_RangePushEx(const nvtxEventAttributes_t *a)
{
  emit_range(MT_R_PUSH, MT_RANGE_PUSH_POP, NULL, a, NULL, 0);
  return t_depth++;
}

static int mt_RangePushA(const char *m)
{
  emit_range(MT_R_PUSH, MT_RANGE_PUSH_POP, NULL, NULL, m, 0);
  return t_depth++;
}

static int mt_RangePop(void)
{
  if (t_depth <= 0)
    return -1;
#ifndef MT_NOP
  mt__emit_text(MT_R_POP, 0, MT_RANGE_PUSH_POP, MT_D_RANGE, mt__now(), 0, 0, 0, 0, NULL);
#endif
  return --t_depth;
}

static void mt_NameOsThreadA(uint32_t tid, const char *name)
{
  (void)tid;   /* recorded for the calling thread */
  mt__emit_text(MT_R_THREAD_NAME, 0, 0, MT_D_OTHER, mt__now(), 0, 0, 0, 0, name);
}

static void mt_NameCategoryA(uint32_t cat, const char *name) { (void)cat; (void)name; }

/* ---- CORE2 (domains) -------------------------------------------------- */

static void mt_DomainMarkEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a)
{
  emit_range(MT_R_MARK, MT_RANGE_MARK, d, a, NULL, 0);
}

static nvtxRangeId_t mt_DomainRangeStartEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a)
{
  uint64_t id = atomic_fetch_add(&next_range_id, 1);
  emit_range(MT_R_PUSH, MT_RANGE_START_END, d, a, NULL, id);
  return id;
}

static void mt_DomainRangeEnd(nvtxDomainHandle_t d, nvtxRangeId_t id) { (void)d; mt_RangeEnd(id); }

static int mt_DomainRangePushEx(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a)
{
  emit_range(MT_R_PUSH, MT_RANGE_PUSH_POP, d, a, NULL, 0);
  return t_depth++;
}

static int mt_DomainRangePop(nvtxDomainHandle_t d) { (void)d; return mt_RangePop(); }

static nvtxStringHandle_t mt_DomainRegisterStringA(nvtxDomainHandle_t d, const char *s)
{
  (void)d;
  return (nvtxStringHandle_t)(uintptr_t)copy_str(s);
}

static nvtxDomainHandle_t mt_DomainCreateA(const char *name)
{
  return (nvtxDomainHandle_t)(uintptr_t)copy_str(name);
}

static void mt_DomainDestroy(nvtxDomainHandle_t d) { (void)d; /* handles stay valid for the drain */ }
static void mt_DomainNameCategoryA(nvtxDomainHandle_t d, uint32_t c, const char *n) { (void)d; (void)c; (void)n; }

/* ---- the memory extension -------------------------------------------------- */

static nvtxMemHeapHandle_t mt_MemHeapRegister(nvtxDomainHandle_t d, nvtxMemHeapDesc_t const *desc)
{
  uint64_t h = atomic_fetch_add(&next_heap, 1);
  if (!desc)
    return (nvtxMemHeapHandle_t)(uintptr_t)h;
  uint64_t addr = 0, size = 0;
  if (desc->type == NVTX_MEM_TYPE_VIRTUAL_ADDRESS && desc->typeSpecificDesc) {
    const nvtxMemVirtualRangeDesc_t *r = desc->typeSpecificDesc;
    addr = PTR(r->ptr);
    size = r->size;
  }
  int usage = (desc->usage & NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR) ? MT_HEAP_POOL : MT_HEAP_SINGLE_REGION;
  const char *name = desc->messageType == NVTX_MESSAGE_TYPE_ASCII ? desc->message.ascii
                   : desc->messageType == NVTX_MESSAGE_TYPE_REGISTERED
                     ? (const char *)(uintptr_t)desc->message.registered : NULL;
#ifndef MT_NOP
  mt__emit_text(MT_R_HEAP, 1, usage, MT_D_REGION, mt__now(), h, addr, size, PTR(d), name);
#else
  (void)usage; (void)name; (void)d; (void)addr; (void)size;
#endif
  return (nvtxMemHeapHandle_t)(uintptr_t)h;
}

static void mt_MemHeapUnregister(nvtxDomainHandle_t d, nvtxMemHeapHandle_t heap)
{
  mt__emit_text(MT_R_HEAP, 2, 0, MT_D_REGION, mt__now(), PTR(heap), 0, 0, PTR(d), NULL);
}

static void mt_MemHeapReset(nvtxDomainHandle_t d, nvtxMemHeapHandle_t heap)
{
  mt__emit_text(MT_R_HEAP, 3, 0, MT_D_REGION, mt__now(), PTR(heap), 0, 0, PTR(d), NULL);
}

static void region(int op, uint64_t heap, uint64_t addr, uint64_t size, const void *d, const char *label)
{
#ifndef MT_NOP
  mt__emit_text(MT_R_REGION, op, 0, MT_D_REGION, mt__now(), heap, addr, size, PTR(d), label);
#else
  (void)op; (void)heap; (void)addr; (void)size; (void)d; (void)label;
#endif
}

static void mt_MemRegionsRegister(nvtxDomainHandle_t d, nvtxMemRegionsRegisterBatch_t const *b)
{
  if (!b || b->regionType != NVTX_MEM_TYPE_VIRTUAL_ADDRESS || !b->regionDescElements)
    return;
  size_t esz = b->regionDescElementSize ? b->regionDescElementSize : sizeof(nvtxMemVirtualRangeDesc_t);
  for (size_t i = 0; i < b->regionCount; i++) {
    const nvtxMemVirtualRangeDesc_t *r =
      (const void *)((const char *)b->regionDescElements + i * esz);
    region(MT_REGION_REGISTER, PTR(b->heap), PTR(r->ptr), r->size, d, NULL);
    if (b->regionHandleElementsOut)
      b->regionHandleElementsOut[i] = (nvtxMemRegionHandle_t)(uintptr_t)r->ptr;
  }
}

static void mt_MemRegionsResize(nvtxDomainHandle_t d, nvtxMemRegionsResizeBatch_t const *b)
{
  if (!b || b->regionType != NVTX_MEM_TYPE_VIRTUAL_ADDRESS || !b->regionDescElements)
    return;
  size_t esz = b->regionDescElementSize ? b->regionDescElementSize : sizeof(nvtxMemVirtualRangeDesc_t);
  for (size_t i = 0; i < b->regionDescCount; i++) {
    const nvtxMemVirtualRangeDesc_t *r =
      (const void *)((const char *)b->regionDescElements + i * esz);
    region(MT_REGION_RESIZE, 0, PTR(r->ptr), r->size, d, NULL);
  }
}

static void mt_MemRegionsUnregister(nvtxDomainHandle_t d, nvtxMemRegionsUnregisterBatch_t const *b)
{
  if (!b || !b->refElements)
    return;
  size_t esz = b->refElementSize ? b->refElementSize : sizeof(nvtxMemRegionRef_t);
  for (size_t i = 0; i < b->refCount; i++) {
    const nvtxMemRegionRef_t *r = (const void *)((const char *)b->refElements + i * esz);
    /* our region handles are the region's address */
    region(MT_REGION_UNREGISTER, 0, PTR(r->pointer), 0, d, NULL);
  }
}

/* Names arrive after the registration: the drain attaches the label to
 * the register row of the same address (op 0 = name). */
static void mt_MemRegionsName(nvtxDomainHandle_t d, nvtxMemRegionsNameBatch_t const *b)
{
  if (!b || !b->regionElements)
    return;
  size_t esz = b->regionElementSize ? b->regionElementSize : sizeof(nvtxMemRegionNameDesc_t);
  for (size_t i = 0; i < b->regionCount; i++) {
    const nvtxMemRegionNameDesc_t *r = (const void *)((const char *)b->regionElements + i * esz);
    const char *name = r->nameType == NVTX_MESSAGE_TYPE_ASCII ? r->name.ascii
                     : r->nameType == NVTX_MESSAGE_TYPE_REGISTERED
                       ? (const char *)(uintptr_t)r->name.registered : NULL;
    if (name)
      region(0, 0, PTR(r->region.pointer), 0, d, name);
  }
}

/* ---- injection entry points -------------------------------------------------- */

static void set_slot(NvtxFunctionTable t, unsigned size, unsigned id, NvtxFunctionPointer fn)
{
  if (t && id < size && t[id])
    *t[id] = fn;
}

#define FP(f) ((NvtxFunctionPointer)(void (*)(void))(f))

MT_EXPORT int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t getExportTable);
MT_EXPORT int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t getExportTable)
{
  if (!getExportTable)
    return 0;
  const NvtxExportTableCallbacks *cb = getExportTable(NVTX_ETID_CALLBACKS);
  if (!cb || !cb->GetModuleFunctionTable)
    return 0;
  NvtxFunctionTable t = NULL;
  unsigned n = 0;
  if (cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &t, &n) && t) {
    set_slot(t, n, NVTX_CBID_CORE_MarkEx, FP(mt_MarkEx));
    set_slot(t, n, NVTX_CBID_CORE_MarkA, FP(mt_MarkA));
    set_slot(t, n, NVTX_CBID_CORE_RangeStartEx, FP(mt_RangeStartEx));
    set_slot(t, n, NVTX_CBID_CORE_RangeStartA, FP(mt_RangeStartA));
    set_slot(t, n, NVTX_CBID_CORE_RangeEnd, FP(mt_RangeEnd));
    set_slot(t, n, NVTX_CBID_CORE_RangePushEx, FP(mt_RangePushEx));
    set_slot(t, n, NVTX_CBID_CORE_RangePushA, FP(mt_RangePushA));
    set_slot(t, n, NVTX_CBID_CORE_RangePop, FP(mt_RangePop));
    set_slot(t, n, NVTX_CBID_CORE_NameCategoryA, FP(mt_NameCategoryA));
    set_slot(t, n, NVTX_CBID_CORE_NameOsThreadA, FP(mt_NameOsThreadA));
  }
  t = NULL;
  n = 0;
  if (cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &t, &n) && t) {
    set_slot(t, n, NVTX_CBID_CORE2_DomainMarkEx, FP(mt_DomainMarkEx));
    set_slot(t, n, NVTX_CBID_CORE2_DomainRangeStartEx, FP(mt_DomainRangeStartEx));
    set_slot(t, n, NVTX_CBID_CORE2_DomainRangeEnd, FP(mt_DomainRangeEnd));
    set_slot(t, n, NVTX_CBID_CORE2_DomainRangePushEx, FP(mt_DomainRangePushEx));
    set_slot(t, n, NVTX_CBID_CORE2_DomainRangePop, FP(mt_DomainRangePop));
    set_slot(t, n, NVTX_CBID_CORE2_DomainRegisterStringA, FP(mt_DomainRegisterStringA));
    set_slot(t, n, NVTX_CBID_CORE2_DomainCreateA, FP(mt_DomainCreateA));
    set_slot(t, n, NVTX_CBID_CORE2_DomainDestroy, FP(mt_DomainDestroy));
    set_slot(t, n, NVTX_CBID_CORE2_DomainNameCategoryA, FP(mt_DomainNameCategoryA));
  }
  return 1;
}

MT_EXPORT int InitializeInjectionNvtxExtension(nvtxExtModuleInfo_t *info);
MT_EXPORT int InitializeInjectionNvtxExtension(nvtxExtModuleInfo_t *info)
{
  if (!info)
    return 0;
  if (info->moduleId != NVTX_EXT_MODULEID_MEM)
    return 1;   /* other extensions: their slots stay no-ops */
  if (info->compatId != NVTX_EXT_COMPATID_MEM && info->compatId < 0x0101)
    return 1;
  for (size_t s = 0; s < info->segmentsCount; s++) {
    nvtxExtModuleSegment_t *seg = &info->segments[s];
    intptr_t *slot = seg->functionSlots;
    size_t n = seg->slotCount;
#define SET(cbid, fn) \
    if ((cbid) < n) slot[cbid] = (intptr_t)(fn)
    SET(NVTX3EXT_CBID_nvtxMemHeapRegister, mt_MemHeapRegister);
    SET(NVTX3EXT_CBID_nvtxMemHeapUnregister, mt_MemHeapUnregister);
    SET(NVTX3EXT_CBID_nvtxMemHeapReset, mt_MemHeapReset);
    SET(NVTX3EXT_CBID_nvtxMemRegionsRegister, mt_MemRegionsRegister);
    SET(NVTX3EXT_CBID_nvtxMemRegionsResize, mt_MemRegionsResize);
    SET(NVTX3EXT_CBID_nvtxMemRegionsUnregister, mt_MemRegionsUnregister);
    SET(NVTX3EXT_CBID_nvtxMemRegionsName, mt_MemRegionsName);
#undef SET
  }
  return 1;
}
