/* Plans: the technique options of technique.c's table, and the allocator model. */
#include "config.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/technique.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mt_rp_plan_init(mt_rp_plan *p)
{
  memset(p, 0, sizeof *p);
  p->zero = -1;
  p->pp_stage = -1;
  p->allocator = MT_RP_ALLOC_CACHING;
}

int mt_rp_plan_option(mt_rp_plan *p, const char *name, const char *v, char *err, size_t errlen)
{
  const mt_rp_technique *t = mt_rp_technique_find(name);
  if (t)
    return t->parse(p, v, err, errlen) == 0 ? 1 : -1;
  if (strcmp(name, "allocator") == 0) {
    if (mt_rp_allocator_parse(v, &p->allocator)) {
      snprintf(err, errlen, "--allocator needs caching, expandable, async or raw");
      return -1;
    }
    return 1;
  }
  return 0;
}

void mt_rp_plan_describe(const mt_rp_plan *p, char *buf, size_t len)
{
  /* the order options have always been written in */
  static const char *const order[] = { "checkpoint", "zero", "world", "sp", "offload", "micro-batches",
                                       "optimizer", "attention", "pp", "train-layers", "precision", "train-only", "batch", "seq", "tp", "chunk", "host-memory" };
  size_t o = 0;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0] && o < len; i++) {
    const mt_rp_technique *t = mt_rp_technique_find(order[i]);
    char v[MT_RP_MAX_LAYERS * 5 + 16];
    t->value(p, v, sizeof v);
    if (v[0])
      o += (size_t)snprintf(buf + o, len - o, "%s--%s %s", o ? " " : "", t->option, v);
  }
  if (!buf[0])
    snprintf(buf, len, "(as recorded)");
}
