/* The job model (docs/REPLAY.md, "Job model"): what each recorded tensor is
 * to the training job -- which parameter it is, or is the gradient or
 * optimizer state of, and which state -- and the job's phases, from the
 * categories, names and windows the analysis gives every source alike:
 *   live PyTorch: parameter/<path>, gradient/<path>, optimizer_state/<path>.<key>
 *                 (the bootstrap's labels), ranges <module>.forward/.backward;
 *   simtrain:     the same categories and its own labels;
 *   snapshots:    the importer's roles from frames (optimizer_state/<site>,
 *                 gradient/..., ranges forward/backward/optimizer).
 * The transforms read this model, never names. */
#include "config.h"
#include "analyzer/replay/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attention-map tensors (s^2 in size), by the names frameworks give them:
 * what flash attention never makes and selective recompute drops. */
int mt__rp_attn_map(const char *name)
{
  static const char *const pat[] = { "softmax", "attn.dropout", "attn.scores", "attn_probs", "attn_weights" };
  for (size_t i = 0; name && i < sizeof pat / sizeof pat[0]; i++)
    if (strstr(name, pat[i]))
      return 1;
  return 0;
}

/* Framework names of tensors that keep their dtype under autocast: dropout
 * and attention masks (bool/uint8), the fp32 logsumexp of flash attention. */
int mt__rp_fixed_dtype(const char *name)
{
  static const char *const pat[] = { "mask", ".lse", "logsumexp" };
  for (size_t i = 0; name && i < sizeof pat / sizeof pat[0]; i++)
    if (strstr(name, pat[i]))
      return 1;
  return 0;
}

int mt__rp_seq_power(const char *name)
{
  if (!name)
    return 1;
  if (mt__rp_attn_map(name))
    return strstr(name, "tri_att") ? 3 : strstr(name, "col_att") ? 1 : 2;
  return strstr(name, "pair") || strstr(name, "tri_") || strstr(name, ".outer") ? 2 : 1;
}

struct pslot {
  const char *name;
  uint64_t bytes;           /* the first tensor's */
  int32_t id;
  int ambiguous;
  int64_t t_free;
};

static uint64_t hash_n(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* Open addressing over names (length n): the slot holding it, or the empty one. */
static struct pslot *slot(struct pslot *v, size_t cap, const char *s, size_t n)
{
  size_t i = (size_t)hash_n(s, n) & (cap - 1);
  while (v[i].name && !(strncmp(v[i].name, s, n) == 0 && v[i].name[n] == 0))
    i = (i + 1) & (cap - 1);
  return &v[i];
}

static int key_index(struct mt_rp_job *j, const char *key, uint64_t bytes)
{
  for (int k = 0; k < j->nkeys; k++)
    if (strcmp(j->keys[k], key) == 0)
      return k;
  if (j->nkeys >= 8 || strlen(key) >= sizeof j->keys[0])
    return -1;
  snprintf(j->keys[j->nkeys], sizeof j->keys[0], "%s", key);
  j->key_bytes[j->nkeys] = bytes;
  return j->nkeys++;
}

static int win_cmp(const void *a, const void *b)
{
  const mt_rp_window *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->te > y->te ? -1 : x->te < y->te;
}

/* No phase windows recorded: the outermost forward/backward windows of a
 * unit (PyTorch's root module, "model.forward") are the phases. */
static void root_phases(mt_rp_input *in)
{
  struct mt_rp_job *j = &in->job;
  size_t nw0 = in->nw;
  for (size_t i = 0; i < nw0; i++)
    if (in->w[i].kind == MT_RP_W_PHASE_FWD || in->w[i].kind == MT_RP_W_PHASE_BWD) {
      j->phases = 1;
      return;
    }
  int64_t end[2] = { INT64_MIN, INT64_MIN };
  for (size_t i = 0; i < nw0; i++) {
    mt_rp_window w = in->w[i];
    int b = w.kind == MT_RP_W_BACKWARD;
    if ((w.kind != MT_RP_W_FORWARD && !b) || w.ts < end[b] || w.ts == w.te)
      continue;
    end[b] = w.te;
    w.kind = b ? MT_RP_W_PHASE_BWD : MT_RP_W_PHASE_FWD;
    w.unit = w.layer = -1;
    w.occurrence = 0;
    if (mt_rp_input_add_window(in, &w) < 0)
      return;
    j->phases = 2;
  }
  if (j->phases)
    qsort(in->w, in->nw, sizeof *in->w, win_cmp);
}

/* Split reductions.  torch's reduction kernel (ATen/native/cuda/Reduce.cuh)
 * spreads the rows of a column reduction (a bias gradient, x.sum(0)) over
 * ctas blocks per output when each thread would still sum at least 256
 * values, with a staging buffer of 4 * outputs * ctas * 128 bytes (fp32,
 * 32 lanes x 4-wide vectors) and a semaphore array; ctas is at least the
 * values per thread / 16, so the rows it had were about 16 * ctas values per
 * thread.  Divided by d (micro-batches), the kernel no longer splits once
 * 16 * ctas / d < 256, and neither buffer is made.  In the recording: a
 * temporary whose lifetime holds one allocation only, a small one nested in
 * it (the semaphores), right after the allocation of a smaller tensor that
 * outlives it (the output), at least 256 times the output's bytes (ctas >= 2). */
struct aev { int64_t t; int32_t s; uint32_t i; };

static int aev_cmp(const void *a, const void *b)
{
  const struct aev *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  if (x->s != y->s)
    return x->s < y->s ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static void split_reductions(mt_rp_input *in)
{
  struct aev *v = malloc((in->nt + 1) * sizeof *v);
  size_t n = 0;
  if (!v)
    return;
  for (size_t i = 0; i < in->nt; i++)
    if (!in->t[i].outside)
      v[n++] = (struct aev){ in->t[i].t_alloc, in->t[i].s_alloc, (uint32_t)i };
  qsort(v, n, sizeof *v, aev_cmp);
  for (size_t q = 1; q + 1 < n; q++) {
    mt_rp_tensor *w = &in->t[v[q].i], *o = &in->t[v[q - 1].i], *sem = &in->t[v[q + 1].i];
    if (w->cat != MT_RP_TEMPORARY || w->t_free == MT_RP_NEVER || o->bytes == 0 || sem->bytes > 8192 ||
        sem->t_free > w->t_free || o->t_free <= w->t_free || w->bytes / o->bytes < 256)
      continue;
    if (q + 2 < n && v[q + 2].t < w->t_free)
      continue;   /* something else was made meanwhile: not one kernel's buffers */
    uint64_t ctas = w->bytes / o->bytes / 128;
    int limit = (int)(ctas / 16 + 1);   /* the least d with 16 * ctas / d < 256 */
    if (limit > 31)
      continue;   /* splits for any divisor the flags can say */
    w->flags = (int8_t)((w->flags & 3) | limit << MT_RP_F_SPLIT_SHIFT);
    sem->flags = (int8_t)((sem->flags & 3) | limit << MT_RP_F_SPLIT_SHIFT);
    in->job.split_buffers += 2;
  }
  free(v);
}

int mt_rp_made_at(const mt_rp_tensor *x, int d)
{
  int lim = mt_rp_split_limit(x);
  return !lim || d < lim;
}

void mt__rp_job_build(mt_rp_input *in)
{
  struct mt_rp_job *j = &in->job;
  memset(j, 0, sizeof *j);
  j->root_unit = -1;
  root_phases(in);
  /* the root module: the unit of the longest forward window */
  int64_t longest = -1;
  for (size_t i = 0; i < in->nw; i++)
    if (in->w[i].kind == MT_RP_W_FORWARD && in->w[i].unit >= 0 && in->w[i].te - in->w[i].ts > longest) {
      longest = in->w[i].te - in->w[i].ts;
      j->root_unit = in->w[i].unit;
    }
  /* units with both windows (what ZeRO-3 gathers and checkpointing cuts by) */
  for (size_t u = 0; u < in->nunits; u++) {
    int f = 0, b = 0;
    for (size_t i = 0; i < in->nw && !(f && b); i++)
      if (in->w[i].unit == (int)u) {
        f |= in->w[i].kind == MT_RP_W_FORWARD;
        b |= in->w[i].kind == MT_RP_W_BACKWARD;
      }
    j->unit_windows += f && b;
  }
  size_t cap = 64;
  while (cap < 2 * in->nt + 2)
    cap *= 2;
  struct pslot *v = calloc(cap, sizeof *v);
  if (!v)
    return;
  /* the first persistent parameter tensor of each unit (a flat layout's) */
  uint64_t *ubytes = in->nunits ? calloc(in->nunits, sizeof *ubytes) : NULL;
  /* parameters: a name held by one tensor at a time is an identity */
  for (size_t i = 0; i < in->nt; i++) {
    mt_rp_tensor *x = &in->t[i];
    x->pid = 0;
    if (x->cat != MT_RP_PARAMETER || !x->name)
      continue;
    if (ubytes && x->unit >= 0 && (size_t)x->unit < in->nunits && !ubytes[x->unit] && x->t_free == MT_RP_NEVER)
      ubytes[x->unit] = x->bytes;
    size_t n = strlen(x->name);
    if (n > 6 && strcmp(x->name + n - 7, ".params") == 0)
      j->flat = 1;
    struct pslot *s = slot(v, cap, x->name, n);
    if (!s->name) {
      s->name = x->name;
      s->id = (int32_t)j->nparams++;
      s->bytes = x->bytes;
      j->param_bytes += x->bytes;
    } else if (x->t_alloc < s->t_free) {
      s->ambiguous = 1;   /* two live at once: a shared label, not a name */
    }
    s->t_free = x->t_free;
  }
  /* per state key: its tensors, and those twice their parameter's size */
  size_t kn[8] = { 0 }, ktwice[8] = { 0 };
  for (size_t i = 0; i < in->nt; i++) {
    mt_rp_tensor *x = &in->t[i];
    if (!x->name)
      continue;
    if (x->cat == MT_RP_PARAMETER || x->cat == MT_RP_GRADIENT) {
      struct pslot *s = slot(v, cap, x->name, strlen(x->name));
      if (s->name && !s->ambiguous) {
        x->pid = (s->id + 1) << 4;
        if (x->cat == MT_RP_GRADIENT && j->ngrads++ < j->nparams)
          j->grad_bytes += x->bytes;
      }
    } else if (x->cat == MT_RP_OPTIMIZER_STATE) {
      /* "<parameter>.<key>": the longest parameter name before a dot */
      int32_t id = -1;
      const char *key = x->name;
      uint64_t pbytes = 0;
      for (const char *d = x->name + strlen(x->name); d-- > x->name;)
        if (*d == '.') {
          struct pslot *s = slot(v, cap, x->name, (size_t)(d - x->name));
          if (s->name && !s->ambiguous) {
            id = s->id;
            key = d + 1;
            pbytes = s->bytes;
            break;
          }
        }
      /* one flat parameter per unit: "<unit>.<key>", the unit's parameter */
      size_t un = x->unit >= 0 && (size_t)x->unit < in->nunits ? strlen(in->units[x->unit].name) : 0;
      if (id < 0 && un && ubytes && strncmp(x->name, in->units[x->unit].name, un) == 0 && x->name[un] == '.') {
        key = x->name + un + 1;
        pbytes = ubytes[x->unit];
      }
      int k = key_index(j, key, x->bytes);
      x->pid = ((id + 1) << 4) | (k + 1);
      if (k >= 0 && pbytes) {
        kn[k]++;
        ktwice[k] += x->bytes == 2 * pbytes;
      }
      j->state_tensors += k >= 0;
      j->nstates += id >= 0;
      j->state_bytes += x->bytes;
    }
  }
  free(v);
  free(ubytes);
  j->param_esize = 4;
  j->master_key = -1;
  for (int k = 0; k < j->nkeys; k++)
    if (kn[k] && ktwice[k] == kn[k]) {
      j->param_esize = 2;
      j->master_key = k;
      break;
    }
  /* a job with a tensor per parameter names them by module path: a model
   * state belongs to the longest unit its name starts with
   * ("model.blocks.3.fc1.weight" -> model.blocks.3, "model.embed.weight" ->
   * model.embed), not to the first word */
  for (size_t i = 0; !j->flat && i < in->nt; i++) {
    mt_rp_tensor *x = &in->t[i];
    if (!x->name || (x->cat != MT_RP_PARAMETER && x->cat != MT_RP_GRADIENT && x->cat != MT_RP_OPTIMIZER_STATE))
      continue;
    size_t best = 0;
    for (size_t u = 0; u < in->nunits; u++) {
      size_t n = strlen(in->units[u].name);
      if (n > best && strncmp(x->name, in->units[u].name, n) == 0 && x->name[n] == '.') {
        best = n;
        x->unit = (int32_t)u;
        x->layer = in->units[u].layer;
      }
    }
  }
  split_reductions(in);
  for (size_t i = 0; i < in->nt; i++) {
    j->opt_temps += in->t[i].cat == MT_RP_TEMPORARY && in->t[i].phase == MT_RP_PH_OPTIMIZER;
    j->attn_maps += mt__rp_attn_map(in->t[i].name);
    j->named_acts += in->t[i].name && (in->t[i].cat == MT_RP_ACTIVATION || in->t[i].cat == MT_RP_TEMPORARY);
  }
  /* the recorded optimizer, from its state keys */
  int avg = 0, sq = 0, mom = 0;
  for (int k = 0; k < j->nkeys; k++) {
    avg |= strcmp(j->keys[k], "exp_avg") == 0;
    sq |= strcmp(j->keys[k], "exp_avg_sq") == 0;
    mom |= strcmp(j->keys[k], "momentum_buffer") == 0;
  }
  j->recorded_optimizer = mom ? MT_RP_OPT_SGD
                          : avg && sq ? MT_RP_OPT_ADAMW
                          : j->nkeys == 2 ? MT_RP_OPT_ADAMW   /* two states per parameter: Adam's kind */
                          : j->nkeys == 1 ? MT_RP_OPT_SGD
                          : MT_RP_OPT_KEEP;
}
