/* Plans: technique options spelt as simtrain spells them. */
#include "config.h"
#include "analyzer/replay/replay.h"

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

static int int_arg(const char *v, int lo, int hi, int *out)
{
  char *end;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || x < lo || x > hi)
    return -1;
  *out = (int)x;
  return 0;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int mt_rp_plan_option(mt_rp_plan *p, const char *name, const char *v, char *err, size_t errlen)
{
  if (strcmp(name, "checkpoint") == 0) {
    if (!v)
      BAD("--checkpoint needs none|all|every:K|layers:A,B|selective");
    memset(p->ckpt_layer, 0, sizeof p->ckpt_layer);
    if (strcmp(v, "none") == 0)
      p->ckpt = MT_RP_CK_NONE;
    else if (strcmp(v, "all") == 0)
      p->ckpt = MT_RP_CK_ALL;
    else if (strcmp(v, "selective") == 0)
      p->ckpt = MT_RP_CK_SELECTIVE;
    else if (strncmp(v, "every:", 6) == 0) {
      if (int_arg(v + 6, 1, MT_RP_MAX_LAYERS, &p->ckpt_every))
        BAD("--checkpoint every:K needs K >= 1");
      p->ckpt = MT_RP_CK_EVERY;
    } else if (strncmp(v, "layers:", 7) == 0) {
      const char *s = v + 7;
      p->ckpt = MT_RP_CK_LAYERS;
      while (*s) {
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s || a < 0 || a >= MT_RP_MAX_LAYERS)
          BAD("--checkpoint layers:A,B,... needs layer numbers");
        p->ckpt_layer[a] = 1;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
          BAD("--checkpoint layers:A,B,... needs layer numbers");
      }
    } else
      BAD("--checkpoint: unknown value '%s'", v);
    return 1;
  }
  if (strcmp(name, "zero") == 0) {
    if (int_arg(v, 0, 3, &p->zero))
      BAD("--zero needs 0, 1, 2 or 3");
    return 1;
  }
  if (strcmp(name, "world") == 0) {
    if (int_arg(v, 1, 1 << 20, &p->world))
      BAD("--world needs a positive number");
    return 1;
  }
  if (strcmp(name, "sp") == 0) {
    if (int_arg(v, 1, 1 << 16, &p->sp))
      BAD("--sp needs a positive number");
    return 1;
  }
  if (strcmp(name, "tp") == 0) {
    if (int_arg(v, 1, 1 << 16, &p->tp))
      BAD("--tp needs a positive number");
    return 1;
  }
  if (strcmp(name, "sp-kind") == 0) {
    if (v && strcmp(v, "megatron") == 0)
      p->sp_ulysses = 0;
    else if (v && strcmp(v, "ulysses") == 0)
      p->sp_ulysses = 1;
    else
      BAD("--sp-kind needs megatron or ulysses");
    return 1;
  }
  if (strcmp(name, "offload") == 0) {
    if (v && strcmp(v, "optimizer") == 0)
      p->offload = MT_RP_OFF_OPTIMIZER;
    else if (v && strcmp(v, "params") == 0)
      p->offload = MT_RP_OFF_PARAMS;
    else if (v && strcmp(v, "none") == 0)
      p->offload = MT_RP_OFF_NONE;
    else
      BAD("--offload needs optimizer, params or none");
    return 1;
  }
  if (strcmp(name, "micro-batches") == 0) {
    if (int_arg(v, 1, 1 << 16, &p->micro_batches))
      BAD("--micro-batches needs a positive number");
    return 1;
  }
  if (strcmp(name, "optimizer") == 0) {
    static const char *const o[] = { "", "adamw", "sgd", "lion", "adafactor", "adam-mini", "adam8bit" };
    for (int i = 1; i < 7; i++)
      if (v && strcmp(v, o[i]) == 0) {
        p->optimizer = (enum mt_rp_optim)i;
        return 1;
      }
    BAD("--optimizer needs adamw, sgd, lion, adafactor, adam-mini or adam8bit");
  }
  if (strcmp(name, "attention") == 0) {
    if (v && strcmp(v, "flash") == 0)
      p->flash = 1;
    else if (v && strcmp(v, "naive") == 0)
      p->flash = 0;
    else
      BAD("--attention needs naive or flash");
    return 1;
  }
  if (strcmp(name, "pp") == 0) {
    if (int_arg(v, 1, 1 << 12, &p->pp))
      BAD("--pp needs a positive number");
    return 1;
  }
  if (strcmp(name, "pp-schedule") == 0) {
    if (v && strcmp(v, "gpipe") == 0)
      p->pp_1f1b = 0;
    else if (v && strcmp(v, "1f1b") == 0)
      p->pp_1f1b = 1;
    else
      BAD("--pp-schedule needs gpipe or 1f1b");
    return 1;
  }
  if (strcmp(name, "train-layers") == 0) {
    if (int_arg(v, 0, MT_RP_MAX_LAYERS, &p->train_layers))
      BAD("--train-layers needs a number");
    return 1;
  }
  if (strcmp(name, "allocator") == 0) {
    if (mt_rp_allocator_parse(v, &p->allocator))
      BAD("--allocator needs caching, expandable, async or raw");
    return 1;
  }
  return 0;
}

void mt_rp_plan_describe(const mt_rp_plan *p, char *buf, size_t len)
{
  size_t o = 0;
  buf[0] = 0;
#define ADD(...) do { int n_ = snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__); \
    if (n_ > 0) o += (size_t)n_; } while (0)
  switch (p->ckpt) {
  case MT_RP_CK_ALL: ADD(" --checkpoint all"); break;
  case MT_RP_CK_SELECTIVE: ADD(" --checkpoint selective"); break;
  case MT_RP_CK_EVERY: ADD(" --checkpoint every:%d", p->ckpt_every); break;
  case MT_RP_CK_LAYERS: {
    ADD(" --checkpoint layers:");
    int first = 1;
    for (int i = 0; i < MT_RP_MAX_LAYERS; i++)
      if (p->ckpt_layer[i]) {
        ADD("%s%d", first ? "" : ",", i);
        first = 0;
      }
    break;
  }
  default: break;
  }
  if (p->zero >= 0)
    ADD(" --zero %d", p->zero);
  if (p->world > 0)
    ADD(" --world %d", p->world);
  if (p->sp > 1)
    ADD(" --sp %d --sp-kind %s", p->sp, p->sp_ulysses ? "ulysses" : "megatron");
  if (p->offload == MT_RP_OFF_OPTIMIZER)
    ADD(" --offload optimizer");
  if (p->offload == MT_RP_OFF_PARAMS)
    ADD(" --offload params");
  if (p->micro_batches > 1)
    ADD(" --micro-batches %d", p->micro_batches);
  static const char *const on[] = { "", "adamw", "sgd", "lion", "adafactor", "adam-mini", "adam8bit" };
  if (p->optimizer != MT_RP_OPT_KEEP)
    ADD(" --optimizer %s", on[p->optimizer]);
  if (p->flash)
    ADD(" --attention flash");
  if (p->pp > 1)
    ADD(" --pp %d --pp-schedule %s", p->pp, p->pp_1f1b ? "1f1b" : "gpipe");
  if (p->train_layers > 0)
    ADD(" --train-layers %d", p->train_layers);
#undef ADD
  if (buf[0] == ' ')
    memmove(buf, buf + 1, strlen(buf));
  if (!buf[0])
    snprintf(buf, len, "(as recorded)");
}
