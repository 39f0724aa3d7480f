/* Labels of the enumerations in schemas/enums.h. */
#include <string.h>
#include "schemas/enums.h"

struct mt__label { int value; const char *label; };
#define MT__ROW(v, n, l) { v, l },

static const struct mt__label mem_op[] = { MT_MEM_OP_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label mem_kind[] = { MT_MEM_KIND_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label region_op[] = { MT_REGION_OP_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label heap_usage[] = { MT_HEAP_USAGE_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label copy_kind[] = { MT_COPY_KIND_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label nccl_op[] = { MT_NCCL_OP_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label range_kind[] = { MT_RANGE_KIND_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label oom_source[] = { MT_OOM_SOURCE_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label alloc_context[] = { MT_ALLOC_CONTEXT_LIST(MT__ROW) { 0, NULL } };
static const struct mt__label api[] = { MT_API_LIST(MT__ROW) { 0, NULL } };

static const struct { const char *name; const struct mt__label *rows; } tables[] = {
  { "mem_op", mem_op }, { "mem_kind", mem_kind }, { "region_op", region_op },
  { "heap_usage", heap_usage }, { "copy_kind", copy_kind }, { "nccl_op", nccl_op },
  { "range_kind", range_kind }, { "oom_source", oom_source }, { "alloc_context", alloc_context }, { "api", api },
};

const char *mt_enum_label(const char *enum_name, int value)
{
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    if (strcmp(tables[i].name, enum_name) != 0)
      continue;
    for (const struct mt__label *r = tables[i].rows; r->label; r++)
      if (r->value == value)
        return r->label;
    return NULL;
  }
  return NULL;
}

int mt__enum_foreach(int (*fn)(void *ctx, const char *e, int v, const char *l), void *ctx);
int mt__enum_foreach(int (*fn)(void *ctx, const char *e, int v, const char *l), void *ctx)
{
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
    for (const struct mt__label *r = tables[i].rows; r->label; r++) {
      int rc = fn(ctx, tables[i].name, r->value, r->label);
      if (rc)
        return rc;
    }
  return 0;
}
