/* The technique table (technique.h, docs/REPLAY.md "Techniques"). */
#include "config.h"
#include "analyzer/replay/technique.h"
#include "analyzer/replay/cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define OUT(...) snprintf(buf, len, __VA_ARGS__)

/* What the job model says a technique needs (job.c). */
static int has_layers(const mt_rp_input *in)
{
  return in->nlayers > 0 && in->job.unit_windows > 0;
}

static int has_states(const mt_rp_input *in)
{
  return in->job.flat || in->job.state_tensors > 0;
}

static const char *const NO_STATES = "no optimizer state identified: record with the PyTorch layer "
                                     "(memtrace record -- python train.py) or label it optimizer_state/...";
static const char *const NO_LAYERS = "no numbered module with forward and backward windows: record with the "
                                     "PyTorch layer (model.blocks.N) or NVTX ranges <unit>.N.forward/.backward";
static const char *const FLAT_ONLY = "modelled only for a flat parameter buffer per layer (simtrain's layout); "
                                     "not yet for a job with a tensor per parameter";

/* The ZeRO stage p runs with (its own, else the recording's). */
static int zero_of(const mt_rp_input *in, const mt_rp_plan *p)
{
  return p->zero >= 0 ? p->zero : in->recorded_zero;
}

/* How many activations one layer hands the next: those layer 0's forward
 * makes that layer 1's backward frees (layer 1 saved them as its inputs).
 * Sequence and pipeline parallelism are modelled for one hidden state
 * passed from layer to layer (a transformer's residual stream); a block
 * with two streams (an MSA and a pair representation) is not. */
static int layer_streams(const mt_rp_input *in)
{
  const mt_rp_window *f0 = NULL, *b1 = NULL;
  for (size_t i = 0; i < in->nw; i++) {
    const mt_rp_window *w = &in->w[i];
    if (w->occurrence || (f0 && w->step != f0->step))
      continue;
    if (!f0 && w->kind == MT_RP_W_FORWARD && w->layer == 0)
      f0 = w;
    else if (f0 && !b1 && w->kind == MT_RP_W_BACKWARD && w->layer == 1)
      b1 = w;
  }
  if (!f0 || !b1)
    return 1;
  int n = 0;
  for (size_t i = 0; i < in->nt; i++) {
    const mt_rp_tensor *x = &in->t[i];
    if (x->cat == MT_RP_ACTIVATION && x->t_alloc >= f0->ts && x->t_alloc <= f0->te && x->t_free >= b1->ts &&
        x->t_free <= b1->te)
      n++;
  }
  return n;
}

/* Module paths of the checkpointed layers, "model.blocks.0-2,5" (which:
 * 1 fully checkpointed, 2 with their FLOP outputs saved). */
static void layer_paths_of(const mt_rp_input *in, const mt_rp_plan *p, int which, char *buf, size_t len)
{
  char stem[48] = "";
  size_t o = 0;
  int run = -1;
  buf[0] = 0;
  for (size_t u = 0; u < in->nunits && !stem[0]; u++)
    if (in->units[u].layer >= 0) {
      const char *d = strrchr(in->units[u].name, '.');
      snprintf(stem, sizeof stem, "%.*s", d ? (int)(d - in->units[u].name + 1) : 0, in->units[u].name);
    }
  for (int l = 0; l <= in->nlayers && o < len; l++) {
    int on = l < in->nlayers && ((which == 1 && (p->ckpt == MT_RP_CK_ALL ||
                                                 (p->ckpt == MT_RP_CK_EVERY && l % p->ckpt_every == 0))) ||
                                 (p->ckpt == MT_RP_CK_LAYERS && p->ckpt_layer[l] == which));
    if (on && run < 0)
      run = l;
    if (!on && run >= 0) {
      o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : stem, run);
      if (o < len && l - 1 > run)
        o += (size_t)snprintf(buf + o, len - o, "-%d", l - 1);
      run = -1;
    }
    if (o >= len && len)
      buf[len - 1] = 0;
  }
}

static void layer_paths(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  layer_paths_of(in, p, 1, buf, len);
}

static int unit_of_layer(const mt_rp_input *in, int layer)
{
  for (size_t u = 0; u < in->nunits; u++)
    if (in->units[u].layer == layer)
      return (int)u;
  return -1;
}

/* ---- --checkpoint ---- */
static int ck_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
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
      /* "3s": layer 3 with the outputs of its operators with FLOPs saved */
      p->ckpt_layer[a] = *end == 's' ? 2 : 1;
      end += *end == 's';
      s = *end == ',' ? end + 1 : end;
      if (*end && *end != ',')
        BAD("--checkpoint layers:A,B,... needs layer numbers (N, or Ns: its FLOP outputs saved)");
    }
  } else
    BAD("--checkpoint: unknown value '%s'", v);
  return 0;
}

static void ck_value(const mt_rp_plan *p, char *buf, size_t len)
{
  size_t o = 0;
  buf[0] = 0;
  switch (p->ckpt) {
  case MT_RP_CK_ALL: OUT("all"); break;
  case MT_RP_CK_SELECTIVE: OUT("selective"); break;
  case MT_RP_CK_EVERY: OUT("every:%d", p->ckpt_every); break;
  case MT_RP_CK_LAYERS:
    o = (size_t)snprintf(buf, len, "layers:");
    for (int i = 0; i < MT_RP_MAX_LAYERS && o < len; i++)
      if (p->ckpt_layer[i])
        o += (size_t)snprintf(buf + o, len - o, "%s%d%s", buf[o - 1] == ':' ? "" : ",", i,
                              p->ckpt_layer[i] == 2 ? "s" : "");
    break;
  default: break;
  }
}

static const char *ck_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->ckpt == MT_RP_CK_NONE)
    return NULL;
  if (!has_layers(in))
    return NO_LAYERS;
  if (p->ckpt == MT_RP_CK_SELECTIVE && !in->job.attn_maps)
    return "no attention-map tensor identified (softmax / attn_probs / attn_weights ...) to recompute";
  if (p->ckpt == MT_RP_CK_LAYERS) {
    for (int i = in->nlayers; i < MT_RP_MAX_LAYERS; i++)
      if (p->ckpt_layer[i])
        return "a layer the recording does not have";
    for (int i = 0; i < in->nlayers; i++) {
      int64_t ns;
      uint64_t kept;
      if (p->ckpt_layer[i] != 2)
        continue;
      if (!mt_rp_cost_partial(in, unit_of_layer(in, i), &ns, &kept))
        return "a layer with its FLOP outputs saved needs its operators: record with the PyTorch layer "
               "(operator records op/<module>/N)";
      if (p->micro_batches > 1 && p->micro_batches != in->recorded_micro)
        return "a layer with its FLOP outputs saved is not modelled with another micro-batch count "
               "(operators are matched by their recorded sizes)";
    }
  }
  return NULL;
}

static void ck_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  char l[256];
  buf[0] = 0;
  if (p->ckpt == MT_RP_CK_NONE)
    return;
  if (p->ckpt == MT_RP_CK_SELECTIVE) {
    OUT("recompute the attention maps in backward: F.scaled_dot_product_attention, or "
        "checkpoint(attn_core, ..., use_reentrant=False) around softmax(QK^T)V");
    return;
  }
  layer_paths(in, p, l, sizeof l);
  size_t o = 0;
  if (l[0])
    o = (size_t)OUT("x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False) for block %s", l);
  layer_paths_of(in, p, 2, l, sizeof l);
  if (l[0] && o < len) {
    char ops[256];
    int u = -1;
    for (int i = 0; i < in->nlayers && u < 0; i++)
      if (p->ckpt_layer[i] == 2)
        u = unit_of_layer(in, i);
    mt_rp_cost_flop_ops(in, u, ops, sizeof ops);
    snprintf(buf + o, len - o, "%scheckpoint(block, x, use_reentrant=False, context_fn=partial("
             "create_selective_checkpoint_contexts, save)) with save(ctx, op, *a, **k) = MUST_SAVE if "
             "op.overloadpacket in {%s} else PREFER_RECOMPUTE, for block %s", o ? "; " : "", ops, l);
  }
}

/* ---- --zero / --world ---- */
static int zero_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 0, 3, &p->zero))
    BAD("--zero needs 0, 1, 2 or 3");
  return 0;
}

static void zero_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->zero >= 0)
    OUT("%d", p->zero);
}

static const char *zero_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->zero <= 0 || p->zero == in->recorded_zero)
    return NULL;
  if ((p->world > 0 ? p->world : in->world) <= 1)
    return "sharding needs a world of more than one rank: give --world N";
  if (!in->job.flat && !in->job.nparams)
    return "no parameter identified: record with the PyTorch layer";
  if (!in->job.flat && p->zero >= 2 && in->job.root_unit < 0)
    return "no module forward/backward windows to gather and reduce by: record with the PyTorch layer";
  return NULL;
}

static void zero_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  char l[256];
  mt_rp_plan all = *p;
  buf[0] = 0;
  all.ckpt = MT_RP_CK_ALL;
  layer_paths(in, &all, l, sizeof l);
  int w = p->world > 0 ? p->world : in->world;
  if (p->zero == 3)
    OUT("fully_shard(block) for block %s, then fully_shard(model) (FSDP2, %d ranks)", l[0] ? l : "of the model", w);
  else if (p->zero == 2)
    OUT("fully_shard(block, reshard_after_forward=False) for block %s, then fully_shard(model) (%d ranks)",
        l[0] ? l : "of the model", w);
  else if (p->zero == 1)
    OUT("torch.distributed.optim.ZeroRedundancyOptimizer(params, optimizer_class=...) under DDP (%d ranks)", w);
}

static int world_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 1, 1 << 20, &p->world))
    BAD("--world needs a positive number");
  return 0;
}

static void world_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->world > 0)
    OUT("%d", p->world);
}

/* ---- --sp / --sp-kind / --tp ---- */
static int sp_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 1, 1 << 16, &p->sp))
    BAD("--sp needs a positive number");
  if (p->tp > 1 && p->sp != p->tp)
    BAD("--sp %d: --tp %d already sets Megatron's sequence parallelism of its degree", p->sp, p->tp);
  return 0;
}

static void sp_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->sp > 1 && p->tp <= 1)
    OUT("%d --sp-kind %s", p->sp, p->sp_ulysses ? "ulysses" : "megatron");
}

static const char *const TWO_STREAMS = "modelled for one hidden state handed from layer to layer; each layer "
                                       "of this recording hands the next several (e.g. MSA and pair representations)";

static const char *sp_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->sp <= 1)
    return NULL;
  return !in->job.flat ? FLAT_ONLY : layer_streams(in) > 1 ? TWO_STREAMS : NULL;
}

static int spkind_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (v && strcmp(v, "megatron") == 0)
    p->sp_ulysses = 0;
  else if (v && strcmp(v, "ulysses") == 0)
    p->sp_ulysses = 1;
  else
    BAD("--sp-kind needs megatron or ulysses");
  return 0;
}

/* --tp N is Megatron tensor parallelism with its sequence parallelism
 * (Korthikanti et al. 2022: what Megatron-LM runs TP with): the same
 * transform as --sp N --sp-kind megatron.  TP without SP (LayerNorm and
 * dropout activations replicated) is not modelled. */
static int tp_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 1, 1 << 16, &p->tp))
    BAD("--tp needs a positive number");
  if (p->tp > 1 && p->sp > 1 && p->sp != p->tp)
    BAD("--tp %d is Megatron TP with sequence parallelism of the same degree: not with --sp %d", p->tp, p->sp);
  if (p->tp > 1) {
    p->sp = p->tp;
    p->sp_ulysses = 0;
  }
  return 0;
}

static void tp_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->tp > 1)
    OUT("%d", p->tp);
}

static const char *tp_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->tp <= 1)
    return NULL;
  if (p->sp_ulysses || p->sp != p->tp)
    return "Megatron TP runs with its own sequence parallelism: not with --sp-kind ulysses or another --sp";
  return sp_refuse(in, p);
}

static void tp_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->tp > 1)
    OUT("parallelize_module(block, tp_mesh, {ColwiseParallel / RowParallel / SequenceParallel plan}) "
        "over %d ranks (Megatron TP + SP)", p->tp);
}

/* ---- --offload ---- */
static int off_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  p->offload_layerwise = p->offload_nvme = 0;
  if (v && strcmp(v, "nvme") == 0) {
    p->offload = MT_RP_OFF_OPTIMIZER; /* on the device, ZeRO-Offload's; the host differs */
    p->offload_nvme = 1;
  } else if (v && strcmp(v, "optimizer:layerwise") == 0) {
    p->offload = MT_RP_OFF_NONE;
    p->offload_layerwise = 1;
  } else if (v && strcmp(v, "optimizer") == 0)
    p->offload = MT_RP_OFF_OPTIMIZER;
  else if (v && strcmp(v, "params") == 0)
    p->offload = MT_RP_OFF_PARAMS;
  else if (v && strcmp(v, "none") == 0)
    p->offload = MT_RP_OFF_NONE;
  else
    BAD("--offload needs optimizer, optimizer:layerwise, nvme, params or none");
  return 0;
}

static void off_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->offload_nvme)
    OUT("nvme");
  else if (p->offload != MT_RP_OFF_NONE)
    OUT("%s", p->offload == MT_RP_OFF_OPTIMIZER ? "optimizer" : "params");
  else if (p->offload_layerwise)
    OUT("optimizer:layerwise");
}

static const char *off_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->offload_layerwise) {
    if (!has_states(in))
      return NO_STATES;
    if (p->zero > 0 || in->recorded_zero || p->pp > 1 || p->train_layers > 0)
      return "layer-wise offload is modelled (and applied by simtrain) without ZeRO, pipelines or --train-layers";
  }
  if (p->offload == MT_RP_OFF_OPTIMIZER && zero_of(in, p) >= 3)
    return "with --zero 3 (ZeRO-Infinity's sharded host optimizer) not modelled: the host step would need "
           "the gathered parameters of each shard";
  if (p->offload == MT_RP_OFF_OPTIMIZER && !has_states(in))
    return NO_STATES;
  if (p->offload == MT_RP_OFF_PARAMS && !in->job.flat)
    return FLAT_ONLY;
  return NULL;
}

static void off_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->offload_nvme)
    OUT("optimizer states on NVMe, the step on the host (DeepSpeed ZeRO-Infinity \"offload_optimizer\": "
        "{\"device\": \"nvme\", \"nvme_path\": ...})");
  else if (p->offload == MT_RP_OFF_OPTIMIZER)
    OUT("optimizer states and step on the host (DeepSpeed ZeRO-Offload \"offload_optimizer\": {\"device\": \"cpu\"})");
  else if (p->offload == MT_RP_OFF_PARAMS)
    OUT("fully_shard(..., offload_policy=CPUOffloadPolicy())");
  else if (p->offload_layerwise)
    OUT("optimizer states in pinned host memory; per layer, copy its states in (non_blocking, the next "
        "layer's prefetched on a side stream), step, copy back (GRASS's layer-wise offload)");
}

/* ---- --micro-batches ---- */
static int mb_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 1, 1 << 16, &p->micro_batches))
    BAD("--micro-batches needs a positive number");
  return 0;
}

static void mb_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->micro_batches > 1)
    OUT("%d", p->micro_batches);
}

static const char *mb_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->micro_batches <= 1 || p->micro_batches == in->recorded_micro || p->pp > 1)
    return NULL;
  return in->job.phases ? NULL : "no forward/backward phases in the recording: record with the PyTorch layer "
                                  "or NVTX ranges forward/backward";
}

static void mb_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->micro_batches > 1)
    OUT("for mb in batch.chunk(%d): (model(mb).loss / %d).backward(); then optimizer.step() "
        "(gradient accumulation)", p->micro_batches, p->micro_batches);
}

/* every micro-batch past the recorded ones reads the parameters again in
   its forward and backward passes (cost.c) */
static int64_t mb_cost(const mt_rp_input *in, const mt_rp_plan *p)
{
  int rec = in->recorded_micro > 1 ? in->recorded_micro : 1;
  return p->micro_batches > rec ? (int64_t)(p->micro_batches - rec) * mt__rp_cost_param_pass_ns(in) : 0;
}

/* ---- --optimizer ---- */
static const char *const opt_names[] = { "", "adamw", "sgd", "lion", "adafactor", "adam-mini", "adam8bit" };

static int opt_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  for (int i = 1; i < 7; i++)
    if (v && strcmp(v, opt_names[i]) == 0) {
      p->optimizer = (enum mt_rp_optim)i;
      return 0;
    }
  BAD("--optimizer needs adamw, sgd, lion, adafactor, adam-mini or adam8bit");
}

static void opt_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->optimizer != MT_RP_OPT_KEEP)
    OUT("%s", opt_names[p->optimizer]);
}

static const char *opt_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->optimizer == MT_RP_OPT_KEEP)
    return NULL;
  if (!has_states(in))
    return NO_STATES;
  if (!in->job.flat && p->optimizer != MT_RP_OPT_SGD && p->optimizer != MT_RP_OPT_ADAMW)
    return "for a job with a tensor per parameter only torch.optim's AdamW and SGD (momentum) are modelled";
  if (!in->job.flat && in->job.recorded_optimizer == MT_RP_OPT_KEEP)
    return "the recorded optimizer is not recognised from its state names";
  return NULL;
}

/* the optimizer step reads and writes its states: states per parameter
   element relative to AdamW's two (Adafactor's factors are negligible) */
static int64_t opt_cost(const mt_rp_input *in, const mt_rp_plan *p)
{
  static const double states[] = { 2, 2, 1, 1, 0, 1, 0.5 };
  double rec = in->job.recorded_optimizer > 0 && in->job.recorded_optimizer < 7 ? states[in->job.recorded_optimizer] : 2;
  if (p->optimizer == MT_RP_OPT_KEEP || rec <= 0)
    return 0;
  double now = (double)in->job.state_bytes * states[p->optimizer] / rec;
  return mt__rp_cost_opt_ns(in, now) - mt__rp_cost_opt_ns(in, (double)in->job.state_bytes);
}

static void opt_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  static const char *const t[] = { "", "torch.optim.AdamW(params, lr=...)", "torch.optim.SGD(params, lr=..., momentum=0.9)",
                                   "Lion(params, lr=...) (lion-pytorch)", "torch.optim.Adafactor(params, lr=...)",
                                   "Adam-mini(model, lr=...) (adam-mini)", "bnb.optim.AdamW8bit(params, lr=...) (bitsandbytes)" };
  buf[0] = 0;
  if (p->optimizer != MT_RP_OPT_KEEP)
    OUT("%s", t[p->optimizer]);
}

/* ---- --attention ---- */
static int attn_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (v && strcmp(v, "flash") == 0)
    p->flash = 1;
  else if (v && strcmp(v, "naive") == 0)
    p->flash = 0;
  else
    BAD("--attention needs naive or flash");
  return 0;
}

static void attn_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->flash)
    OUT("flash");
}

static const char *attn_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  return p->flash && !in->job.attn_maps ? "no attention-map tensor identified (softmax / attn_probs / attn_weights ...)"
                                        : NULL;
}

static void attn_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->flash)
    OUT("F.scaled_dot_product_attention(q, k, v) (flash / memory-efficient kernel) instead of softmax(QK^T)V");
}

/* ---- --pp / --pp-schedule ---- */
static int pp_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 1, 1 << 12, &p->pp))
    BAD("--pp needs a positive number");
  return 0;
}

static void pp_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->pp > 1)
    OUT("%d --pp-schedule %s", p->pp, p->pp_1f1b ? "1f1b" : "gpipe");
}

static const char *pp_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->pp <= 1)
    return NULL;
  if (!has_layers(in) || !in->job.phases)
    return NO_LAYERS;
  if (zero_of(in, p) >= 2)
    return "with --zero 2 or 3 not modelled: stages reduce and gather per micro-batch (--zero 0 or 1)";
  if (p->train_layers > 0)
    return "with --train-layers not modelled";
  return in->nlayers < p->pp ? "fewer layers than pipeline stages" : !in->job.flat ? FLAT_ONLY
         : layer_streams(in) > 1 ? TWO_STREAMS : NULL;
}

static int ppsched_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (v && strcmp(v, "gpipe") == 0)
    p->pp_1f1b = 0;
  else if (v && strcmp(v, "1f1b") == 0)
    p->pp_1f1b = 1;
  else
    BAD("--pp-schedule needs gpipe or 1f1b");
  return 0;
}

/* ---- --train-layers ---- */
static int tl_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (int_arg(v, 0, MT_RP_MAX_LAYERS, &p->train_layers))
    BAD("--train-layers needs a number");
  return 0;
}

static void tl_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->train_layers > 0)
    OUT("%d", p->train_layers);
}

static const char *tl_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->train_layers <= 0)
    return NULL;
  if (zero_of(in, p) >= 2)
    return "with --zero 2 or 3 not modelled: the sampled layers' gradients and states are whole, not sharded "
           "(--zero 0 or 1)";
  return !in->job.flat ? FLAT_ONLY : NULL;
}

/* ---- --precision ---- */
static const char *const prec_names[] = { "", "fp32", "bf16", "fp16", "fp8" };

static int prec_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  for (int i = 1; i < 5; i++)
    if (v && strcmp(v, prec_names[i]) == 0) {
      p->precision = (enum mt_rp_prec)i;
      return 0;
    }
  BAD("--precision needs fp32, bf16, fp16 or fp8");
}

static void prec_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->precision != MT_RP_PREC_KEEP)
    OUT("%s", prec_names[p->precision]);
}

static const char *prec_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->precision == MT_RP_PREC_KEEP || mt__rp_prec_bytes(p->precision) == in->job.param_esize)
    return NULL;
  if (p->precision == MT_RP_PREC_FP8)
    return "FP8 training (per-tensor scales; which GEMM inputs are saved in fp8) is not modelled, "
           "and simtrain cannot apply it";
  if (!in->job.nparams)
    return "no parameter identified: record with the PyTorch layer";
  if (!in->job.named_acts)
    return "the recording names no activation, so their dtypes are unknown (autocast casts op by op): "
           "record the job at the precision to predict";
  return NULL;
}

static void prec_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->precision == MT_RP_PREC_KEEP || mt__rp_prec_bytes(p->precision) == in->job.param_esize)
    return;
  if (p->precision == MT_RP_PREC_FP32)
    OUT("train in fp32: no torch.autocast, fp32 parameters (no master copy)");
  else
    OUT("with torch.autocast(\"cuda\", dtype=torch.%s): loss = model(x) (fp32 master weights)",
        p->precision == MT_RP_PREC_FP16 ? "float16" : p->precision == MT_RP_PREC_FP8 ? "float8_e4m3fn" : "bfloat16");
}

/* ---- --train-only ---- */
static int to_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (!v || !*v || strlen(v) >= sizeof p->train_only || *v == ',' || strstr(v, ",,"))
    BAD("--train-only needs module path prefixes, comma-separated (model.blocks.3,model.head)");
  snprintf(p->train_only, sizeof p->train_only, "%s", v);
  return 0;
}

static void to_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->train_only[0])
    OUT("%s", p->train_only);
}

static const char *to_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  static __thread char why[320];
  if (!p->train_only[0])
    return NULL;
  if (!in->job.flat && !in->job.nparams)
    return "no parameter identified: record with the PyTorch layer";
  if (p->train_layers > 0 || p->pp > 1)
    return "not with --train-layers or --pp (simtrain cannot apply them together)";
  /* every prefix names some parameter (a typo would freeze everything) */
  for (const char *q = p->train_only; *q;) {
    size_t l = strcspn(q, ","), hit = 0;
    char one[256];
    snprintf(one, sizeof one, "%.*s", (int)l, q);
    for (size_t i = 0; i < in->nt && !hit; i++) {
      const mt_rp_tensor *x = &in->t[i];
      const char *n = in->job.flat ? (x->unit >= 0 ? in->units[x->unit].name : NULL) : x->name;
      hit = x->cat == MT_RP_PARAMETER && n && mt__rp_under(one, n);
    }
    if (!hit) {
      snprintf(why, sizeof why, "no parameter under '%s' in the recording", one);
      return why;
    }
    q += l + (q[l] == ',');
  }
  return NULL;
}

static void to_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->train_only[0])
    OUT("p.requires_grad_(False) for every parameter not under %s; the optimizer gets only the others",
        p->train_only);
}

/* ---- --batch / --seq ---- */
static int size_arg(const char *v, int64_t *n, int64_t *rec)
{
  char *end;
  long long a = v ? strtoll(v, &end, 10) : 0, b = 0;
  if (!v || end == v || a < 1 || a > (1ll << 40))
    return -1;
  if (*end == '/') {
    const char *q = end + 1;
    b = strtoll(q, &end, 10);
    if (end == q || b < 1 || b > (1ll << 40))
      return -1;
  }
  if (*end)
    return -1;
  *n = a;
  *rec = b;
  return 0;
}

static int batch_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (size_arg(v, &p->batch, &p->batch_rec))
    BAD("--batch needs N, or N/R with R the recorded batch");
  return 0;
}

static int seq_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  if (size_arg(v, &p->seq, &p->seq_rec))
    BAD("--seq needs N, or N/R with R the recorded sequence length");
  return 0;
}

static void size_value(int64_t n, int64_t rec, char *buf, size_t len)
{
  buf[0] = 0;
  if (n > 0 && rec > 0)
    OUT("%lld/%lld", (long long)n, (long long)rec);
  else if (n > 0)
    OUT("%lld", (long long)n);
}

static void batch_value(const mt_rp_plan *p, char *buf, size_t len)
{
  size_value(p->batch, p->batch_rec, buf, len);
}

static void seq_value(const mt_rp_plan *p, char *buf, size_t len)
{
  size_value(p->seq, p->seq_rec, buf, len);
}

static const char *batch_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->batch <= 0 || p->batch_rec > 0)
    return NULL;
  return in->recorded_batch > 0 ? NULL
         : in->recorded_seq > 0 ? "the job states a shape without a batch dimension (memtrace.shape: one crop per step)"
                                : "the recorded batch is unknown: give --batch N/R (R: the recorded batch), or have the "
                                  "job push an NVTX range \"memtrace.shape batch=B seq=S\"";
}

static const char *seq_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->seq <= 0)
    return NULL;
  if (!in->job.named_acts)
    return "the recording names no activation, so how each grows with the sequence is unknown";
  return p->seq_rec > 0 || in->recorded_seq > 0 ? NULL
         : "the recorded sequence length is unknown: give --seq N/R (R: the recorded length), or have the job "
           "push an NVTX range \"memtrace.shape batch=B seq=S\"";
}

static void shape_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->batch > 0 && p->seq > 0)
    OUT("a batch of %lld sequences of %lld", (long long)p->batch, (long long)p->seq);
  else if (p->batch > 0)
    OUT("DataLoader(..., batch_size=%lld)", (long long)p->batch);
}

static void seq_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->seq > 0 && p->batch <= 0)
    OUT("sequences (crops) of %lld", (long long)p->seq);
}

/* ---- --chunk ---- */
static int chunk_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  int c;
  if (int_arg(v, 0, 1 << 30, &c))
    BAD("--chunk needs a number of rows (0: none)");
  p->chunk = c;
  return 0;
}

static void chunk_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->chunk > 0)
    OUT("%lld", (long long)p->chunk);
}

static const char *chunk_refuse(const mt_rp_input *in, const mt_rp_plan *p)
{
  if (p->chunk <= 0)
    return NULL;
  if (!in->job.attn_maps)
    return "no attention-map tensor identified (softmax / attn_probs / attn_weights ...) to chunk";
  if (in->recorded_seq <= 0 || in->recorded_batch > 0)
    return "chunking is modelled for a job that states one crop per step (NVTX \"memtrace.shape seq=R\", "
           "AlphaFold-like; simtrain applies it to the Evoformer only)";
  return NULL;
}

static void chunk_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  (void)in;
  buf[0] = 0;
  if (p->chunk > 0)
    OUT("chunk_size=%lld in the Evoformer's attention (OpenFold chunk_layer), each chunk checkpointed",
        (long long)p->chunk);
}

/* ---- --host-memory ---- */
static int hostmem_parse(mt_rp_plan *p, const char *v, char *err, size_t errlen)
{
  char *end;
  unsigned long long x = v ? strtoull(v, &end, 10) : 0;
  if (!v || end == v)
    BAD("--host-memory needs a size (bytes, or NKiB/NMiB/NGiB)");
  if (strcmp(end, "KiB") == 0)
    x <<= 10;
  else if (strcmp(end, "MiB") == 0)
    x <<= 20;
  else if (strcmp(end, "GiB") == 0)
    x <<= 30;
  else if (*end)
    BAD("--host-memory needs a size (bytes, or NKiB/NMiB/NGiB)");
  p->host_memory = x;
  return 0;
}

static void hostmem_value(const mt_rp_plan *p, char *buf, size_t len)
{
  buf[0] = 0;
  if (p->host_memory)
    OUT("%llu", (unsigned long long)p->host_memory);
}

static const char *const ck_cand[] = { "none", "selective", "every:2", "every:3", "all", "@placement", NULL };
static const char *const zero_cand[] = { "", "1", "2", "3", NULL };
static const char *const off_cand[] = { "none", "optimizer", "optimizer:layerwise", "params", NULL };
static const char *const attn_cand[] = { "naive", "flash", NULL };
static const char *const mb_cand[] = { "1", "2", "4", NULL };
static const char *const opt_cand[] = { "", "lion", "adafactor", "sgd", NULL };
/* --precision is not among recommend's candidates yet: recommend's
 * evaluation of a precision plan disagreed with `memtrace replay` of the same
 * plan (6.25 vs 5.25 GiB on tests/gui's trace), so it is left to replay and
 * --maximize's fixed options until the two agree (docs/REPLAY.md). */

/* In recommend's nesting order: the first entry with candidates varies slowest. */
const mt_rp_technique mt_rp_techniques[] = {
  { "precision", "fp32|bf16|fp16|fp8", "compute precision (autocast; fp32 master weights below fp32)",
    prec_parse, prec_value, prec_refuse, prec_torch, 1, "precision", NULL, 1 },
  { "zero", "0|1|2|3", "ZeRO stage / FSDP (3 = FULL_SHARD, 2 = SHARD_GRAD_OP), with --world N",
    zero_parse, zero_value, zero_refuse, zero_torch, 0, "model_states", zero_cand, 3 },
  { "world", "N", "ranks in all (data x sequence x pipeline parallel)", world_parse, world_value, NULL, NULL, 0,
    "model_states, nccl_buffers", NULL, 0 },
  { "offload", "optimizer|optimizer:layerwise|nvme|params|none",
    "optimizer states (and parameters) on the host; layerwise: one layer's brought in for its update",
    off_parse, off_value, off_refuse, off_torch, 0, "model_states", off_cand, 2 },
  { "attention", "naive|flash", "flash attention: no attention maps", attn_parse, attn_value, attn_refuse,
    attn_torch, 1, "flash", attn_cand, 1 },
  { "micro-batches", "N", "gradient accumulation over N micro-batches", mb_parse, mb_value, mb_refuse, mb_torch, 1,
    "micro_batches", mb_cand, 2 },
  { "optimizer", "adamw|sgd|lion|adafactor|adam-mini|adam8bit", "another optimizer's states",
    opt_parse, opt_value, opt_refuse, opt_torch, 0, "model_states", opt_cand, 1 },
  { "checkpoint", "none|all|every:K|layers:A,Bs,...|selective", "activation checkpointing (non-reentrant)",
    ck_parse, ck_value, ck_refuse, ck_torch, 1, "checkpointing", ck_cand, 1 },
  { "sp", "N", "sequence parallelism (with --sp-kind)", sp_parse, sp_value, sp_refuse, NULL, 1, "seq_parallel", NULL, 3 },
  { "sp-kind", "megatron|ulysses", "sequence parallelism's kind", spkind_parse, NULL, NULL, NULL, 1, "seq_parallel",
    NULL, 0 },
  { "tp", "N", "Megatron tensor parallelism (with its sequence parallelism: --sp N --sp-kind megatron)", tp_parse,
    tp_value, tp_refuse, tp_torch, 1, "seq_parallel, model_states", NULL, 3 },
  { "pp", "N", "pipeline stages (every stage replayed; the highest is reported)", pp_parse, pp_value, pp_refuse,
    NULL, 1, "pipeline", NULL, 3 },
  { "pp-schedule", "gpipe|1f1b", "pipeline schedule", ppsched_parse, NULL, NULL, NULL, 1, "pipeline", NULL, 0 },
  { "train-layers", "K", "layer-wise training (LISA): K layers trained per step", tl_parse, tl_value, tl_refuse,
    NULL, 0, "model_states (lisa_states)", NULL, 2 },
  { "batch", "N|N/R", "batch size (R: the recorded one, when the recording does not state it)", batch_parse,
    batch_value, batch_refuse, shape_torch, 1, "shape", NULL, 0 },
  { "seq", "N|N/R", "sequence length / crop: activations linear, attention maps quadratic, triangle maps cubic",
    seq_parse, seq_value, seq_refuse, seq_torch, 1, "shape", NULL, 0 },
  { "host-memory", "SIZE", "pinned host memory available to an offload (the plan does not fit above it)",
    hostmem_parse, hostmem_value, NULL, NULL, 0, "host_memory", NULL, 0 },
  { "chunk", "N", "the Evoformer's attention in chunks of N residues (OpenFold/FastFold chunk size)", chunk_parse,
    chunk_value, chunk_refuse, chunk_torch, 1, "chunk", NULL, 1 },
  { "train-only", "MODULE,...", "train only the parameters under these module paths; the rest frozen",
    to_parse, to_value, to_refuse, to_torch, 1, "train_only, model_states", NULL, 1 },
};
const size_t mt_rp_ntechniques = sizeof mt_rp_techniques / sizeof mt_rp_techniques[0];

/* Each technique's cost hook and whether it changes the training (a table
 * beside the one above, by option; technique.h mt_rp_technique_cost). */
static const struct {
  const char *option;
  int64_t (*cost)(const mt_rp_input *in, const mt_rp_plan *p);
  int alters_training;
} tcosts[] = {
  { "micro-batches", mb_cost, 0 },
  { "optimizer", opt_cost, 1 },
  { "train-layers", NULL, 1 },
};

static int tcost_of(const mt_rp_technique *t)
{
  for (size_t i = 0; i < sizeof tcosts / sizeof tcosts[0]; i++)
    if (strcmp(tcosts[i].option, t->option) == 0)
      return (int)i;
  return -1;
}

int64_t mt_rp_technique_cost(const mt_rp_technique *t, const mt_rp_input *in, const mt_rp_plan *p)
{
  int i = tcost_of(t);
  return i >= 0 && tcosts[i].cost ? tcosts[i].cost(in, p) : 0;
}

const mt_rp_technique *mt_rp_technique_find(const char *option)
{
  for (size_t i = 0; i < mt_rp_ntechniques; i++)
    if (strcmp(mt_rp_techniques[i].option, option) == 0)
      return &mt_rp_techniques[i];
  return NULL;
}

int mt_rp_plan_refused(const mt_rp_input *in, const mt_rp_plan *p, char *why, size_t len)
{
  for (size_t i = 0; i < mt_rp_ntechniques; i++) {
    const mt_rp_technique *t = &mt_rp_techniques[i];
    const char *r = t->refuse ? t->refuse(in, p) : NULL;
    if (r) {
      char v[128] = "";
      if (t->value)
        t->value(p, v, sizeof v);
      snprintf(why, len, "--%s%s%s: %s", t->option, v[0] ? " " : "", v, r);
      return 1;
    }
  }
  return 0;
}

int mt_rp_plan_code_change(const mt_rp_plan *p)
{
  int n = 0;
  for (size_t i = 0; i < mt_rp_ntechniques; i++) {
    char v[64] = "";
    if (mt_rp_techniques[i].value)
      mt_rp_techniques[i].value(p, v, sizeof v);
    n += v[0] ? mt_rp_techniques[i].code_change : 0;
  }
  return n;
}

int mt_rp_plan_alters_training(const mt_rp_plan *p)
{
  for (size_t i = 0; i < mt_rp_ntechniques; i++) {
    char v[64] = "";
    int k = tcost_of(&mt_rp_techniques[i]);
    if (k >= 0 && tcosts[k].alters_training && mt_rp_techniques[i].value)
      mt_rp_techniques[i].value(p, v, sizeof v);
    if (v[0])
      return 1;
  }
  return 0;
}

void mt_rp_plan_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len)
{
  size_t o = 0;
  buf[0] = 0;
  for (size_t i = 0; i < mt_rp_ntechniques && o < len; i++) {
    char s[512];
    if (!mt_rp_techniques[i].torch)
      continue;
    mt_rp_techniques[i].torch(in, p, s, sizeof s);
    if (s[0])
      o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "; " : "", s);
  }
}
