/* Cost model: step time on a GPU's data sheet (cost.h, docs/REPLAY.md "Cost model"). */
#include "config.h"
#include "analyzer/replay/cost.h"
#include "analyzer/replay/technique.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Vendor data sheets, SXM parts, dense (no sparsity) figures: H100 / H200
 * (NVIDIA H100 Tensor Core GPU datasheet; H200 product brief), A100 (A100
 * datasheet, 80 and 40 GB), B200 (DGX B200 / HGX per-GPU figures), L40S,
 * V100.  Links: NVLink per direction (900 GB/s total on H100 = 450 each
 * way), PCIe Gen5 x16 = 64 GB/s, Gen4 = 32 GB/s. */
static const mt_rp_gpu gpus[] = {
  { "h100", "H100", 989.4, 66.9, 3350, 450, 64 },
  { "h200", "H200", 989.4, 66.9, 4800, 450, 64 },
  { "a100-80gb", "A100-SXM4-80GB", 312, 19.5, 2039, 300, 32 },
  { "a100-40gb", "A100", 312, 19.5, 1555, 300, 32 },
  { "b200", "B200", 2250, 80, 8000, 900, 64 },
  { "l40s", "L40S", 362, 91.6, 864, 32, 32 },
  { "v100", "V100", 125, 15.7, 900, 150, 16 },
};

const mt_rp_gpu *mt_rp_gpu_find(const char *name)
{
  if (!name || !*name)
    return NULL;
  for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
    if (strcasecmp(name, gpus[i].key) == 0)
      return &gpus[i];
  /* a device name: the first data sheet whose word it contains (the
     80 GB A100 before the generic one) */
  for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
    if (strstr(name, gpus[i].match))
      return &gpus[i];
  return NULL;
}

const char *mt_rp_gpu_keys(void)
{
  return "h100, h200, a100-80gb, a100-40gb, b200, l40s, v100";
}

void mt__rp_cost_free(mt_rp_input *in)
{
  if (!in->cost)
    return;
  free(in->cost->ops);
  free(in->cost->unit_fwd_ns);
  free(in->cost);
  in->cost = NULL;
}

static int unit_by_name(const mt_rp_input *in, const char *name)
{
  for (size_t u = 0; u < in->nunits; u++)
    if (strcmp(in->units[u].name, name) == 0)
      return (int)u;
  return -1;
}

struct oprow {
  mt_rp_op op;
  long index;
};

static int oprow_cmp(const void *a, const void *b)
{
  const struct oprow *x = a, *y = b;
  if (x->op.unit != y->op.unit)
    return x->op.unit < y->op.unit ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

int mt__rp_cost_read(sqlite3 *db, mt_rp_input *in)
{
  mt_rp_costmodel *m = calloc(1, sizeof *m);
  sqlite3_stmt *st = NULL;
  if (!m)
    return -1;
  mt__rp_cost_free(in);
  in->cost = m;
  m->efficiency = 0.7;
  if (sqlite3_prepare_v2(db, "SELECT s.value FROM devices d JOIN strings s ON s.id = d.name_id ORDER BY d.id LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(m->device, sizeof m->device, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  st = NULL;
  /* GPU-side kernel times; on the simulated stack (its CUPTI stand-in, or
     its driver) they are no GPU's times.  The simulated stack is known by
     its libraries: memtrace record --simulate-gpus and the tests load
     them from a directory "sim" (tests/sim, $(pkglibdir)/sim). */
  if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM kernel_launches WHERE gpu_start IS NOT NULL "
                         "AND gpu_end > gpu_start)", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    m->cupti = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM modules mo JOIN strings s ON s.id = mo.path_id "
                         "WHERE s.value LIKE '%/sim/%libcuda.so%' OR s.value LIKE '%/sim/cuda/%')", -1, &st,
                         NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    m->simulated = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'simulated' OR key = 'sim.gpu'", -1, &st, NULL) ==
          SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    m->simulated = 1;
  sqlite3_finalize(st);
  st = NULL;
  m->measured = m->cupti && !m->simulated;
  /* the PyTorch layer's operator records */
  struct oprow *rows = NULL;
  size_t n = 0, cap = 0;
  if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key LIKE 'op/%'", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
      const char *slash = k ? strrchr(k, '/') : NULL;
      struct oprow r;
      memset(&r, 0, sizeof r);
      char unit[64];
      unsigned long long rd, wr;
      int saved, itemsize = 4;
      double fl;
      if (!slash || slash - k - 3 <= 0 || (size_t)(slash - k - 3) >= sizeof unit || !v)
        continue;
      memcpy(unit, k + 3, (size_t)(slash - k - 3));
      unit[slash - k - 3] = 0;
      r.index = strtol(slash + 1, NULL, 10);
      if (sscanf(v, "%39s %lf %llu %llu %d %d", r.op.name, &fl, &rd, &wr, &saved, &itemsize) < 5)
        continue;
      r.op.itemsize = itemsize;
      r.op.flops = fl;
      r.op.read = rd;
      r.op.written = wr;
      r.op.saved = saved != 0;
      r.op.unit = unit_by_name(in, unit);
      if (n == cap) {
        size_t c = cap ? 2 * cap : 256;
        struct oprow *q = realloc(rows, c * sizeof *q);
        if (!q) {
          free(rows);
          sqlite3_finalize(st);
          return -1;
        }
        rows = q;
        cap = c;
      }
      rows[n++] = r;
    }
  }
  sqlite3_finalize(st);
  if (n) {
    qsort(rows, n, sizeof *rows, oprow_cmp);
    m->ops = malloc(n * sizeof *m->ops);
    if (!m->ops) {
      free(rows);
      return -1;
    }
    for (size_t i = 0; i < n; i++)
      m->ops[i] = rows[i].op;
    m->nops = n;
  }
  free(rows);
  return 0;
}

/* The first forward window of each unit (the earliest step, occurrence 0). */
static const mt_rp_window *first_fwd(const mt_rp_input *in, int unit)
{
  const mt_rp_window *best = NULL;
  for (size_t i = 0; i < in->nw; i++) {
    const mt_rp_window *w = &in->w[i];
    if (w->kind == MT_RP_W_FORWARD && w->unit == unit && w->occurrence == 0 && (!best || w->ts < best->ts))
      best = w;
  }
  return best;
}

static int64_t roofline(const mt_rp_costmodel *m, double flops, double bytes, int wide)
{
  double peak = (wide ? m->gpu->tflops32 : m->gpu->tflops16) * 1e3 * m->efficiency; /* flops per ns */
  double bw = m->gpu->hbm_gbs * m->efficiency;                                     /* bytes per ns */
  double a = flops / peak, b = bytes / bw;
  return (int64_t)((a > b ? a : b) + 0.5);
}

int mt_rp_cost_build(mt_rp_input *in, const char *gpu, char *err, size_t errlen)
{
  if (!in->cost && !(in->cost = calloc(1, sizeof *in->cost))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  mt_rp_costmodel *m = in->cost;
  if (m->efficiency <= 0)
    m->efficiency = 0.7;
  m->gpu = NULL;
  if (gpu && *gpu) {
    m->gpu = mt_rp_gpu_find(gpu);
    if (!m->gpu) {
      snprintf(err, errlen, "--gpu: unknown GPU '%s' (known: %s)", gpu, mt_rp_gpu_keys());
      return -1;
    }
    /* another device than the recorded one (or a device not known): its
       kernel times do not apply */
    if (!m->device[0] || mt_rp_gpu_find(m->device) != m->gpu)
      m->measured = 0;
  } else {
    /* the recorded device (its measured kernel times stay, whatever
       device it was); unknown: the H100's data sheet */
    m->gpu = mt_rp_gpu_find(m->device);
    if (!m->gpu)
      m->gpu = &gpus[0];
  }
  free(m->unit_fwd_ns);
  m->nunits = in->nunits;
  m->unit_fwd_ns = malloc((in->nunits + 1) * sizeof *m->unit_fwd_ns);
  if (!m->unit_fwd_ns) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t u = 0; u < in->nunits; u++)
    m->unit_fwd_ns[u] = -1;
  int64_t fwd = 0;
  for (size_t i = 0; i < m->nops; i++) {
    mt_rp_op *o = &m->ops[i];
    /* a view or reshape writes nothing and moves no data */
    o->ns = o->written || o->flops > 0 ? roofline(m, o->flops, (double)(o->read + o->written), o->itemsize >= 4) : 0;
    fwd += o->ns;
    if (o->unit >= 0 && (size_t)o->unit < in->nunits)
      m->unit_fwd_ns[o->unit] = (m->unit_fwd_ns[o->unit] < 0 ? 0 : m->unit_fwd_ns[o->unit]) + o->ns;
  }
  /* units without operator records: the bytes their forward writes (read
     back about twice) and the parameters it reads, at HBM speed */
  int64_t fwd_units = 0;
  for (size_t u = 0; u < in->nunits; u++) {
    const mt_rp_window *W = first_fwd(in, (int)u);
    if (m->measured && W) {
      m->unit_fwd_ns[u] = W->kernel_ns;
    } else if (m->unit_fwd_ns[u] < 0 && W) {
      uint64_t written = 0, params = 0;
      for (size_t i = 0; i < in->nt; i++) {
        const mt_rp_tensor *x = &in->t[i];
        if (!x->outside && x->t_alloc >= W->ts && x->t_alloc <= W->te && x->cat != MT_RP_PARAMETER)
          written += x->bytes;
        if (x->cat == MT_RP_PARAMETER && x->unit == (int)u && x->step <= W->step)
          params += x->bytes;
      }
      m->unit_fwd_ns[u] = roofline(m, 0, 3.0 * (double)written + (double)params, 1);
    }
    if (W && m->unit_fwd_ns[u] > 0 && (int)u != in->job.root_unit)
      fwd_units += m->unit_fwd_ns[u];
  }
  if (!m->nops || m->measured)
    fwd = fwd_units;
  int mb = in->recorded_micro > 1 ? in->recorded_micro : 1;
  m->fwd_ns = fwd * mb;
  double bw = m->gpu->hbm_gbs * m->efficiency;
  /* the optimizer reads parameters, gradients and states and writes the
     parameters and states */
  m->opt_ns = (int64_t)((2.0 * (double)in->job.param_bytes + (double)in->job.grad_bytes +
                         2.0 * (double)in->job.state_bytes) / bw);
  in->link_bytes_per_ns = m->gpu->link_gbs;
  m->comm_ns = (int64_t)((double)in->comm_bytes_per_step / m->gpu->link_gbs);
  m->step_ns = 3 * m->fwd_ns + m->opt_ns + m->comm_ns;
  if (m->measured)
    for (size_t i = 0; i < in->nw; i++)
      if (in->w[i].kind == MT_RP_W_STEP && in->w[i].kernel_ns > 0) {
        m->step_ns = in->w[i].kernel_ns;
        break;
      }
  if (m->step_ns <= 0)
    m->step_ns = 1;
  return 0;
}

int64_t mt_rp_cost_window_ns(const mt_rp_input *in, const mt_rp_window *W)
{
  const mt_rp_costmodel *m = in->cost;
  if (m && m->unit_fwd_ns && W->unit >= 0 && (size_t)W->unit < m->nunits && m->unit_fwd_ns[W->unit] >= 0)
    return m->unit_fwd_ns[W->unit];
  return W->kernel_ns;
}

/* aten operators of the attention core: the score matmuls, the softmax and
   the fused kernels (named by PyTorch, whatever the model) */
static int attention_op(const char *name)
{
  static const char *const core[] = { "softmax", "bmm", "baddbmm", "scaled_dot_product", "flash_attention",
                                      "efficient_attention" };
  for (size_t i = 0; i < sizeof core / sizeof core[0]; i++)
    if (strstr(name, core[i]))
      return 1;
  return 0;
}

int64_t mt_rp_cost_attention_ns(const mt_rp_input *in, const mt_rp_window *W)
{
  const mt_rp_costmodel *m = in->cost;
  int64_t all = mt_rp_cost_window_ns(in, W), core = 0;
  int seen = 0;
  if (m && !m->measured)
    for (size_t i = 0; i < m->nops; i++)
      if (m->ops[i].unit == W->unit) {
        seen = 1;
        if (attention_op(m->ops[i].name))
          core += m->ops[i].ns;
      }
  return seen ? core : all / 4;
}

static int unit_ops(const mt_rp_costmodel *m, int unit, size_t *lo, size_t *hi)
{
  if (!m)
    return 0;
  size_t a = 0;
  while (a < m->nops && m->ops[a].unit != unit)
    a++;
  size_t b = a;
  while (b < m->nops && m->ops[b].unit == unit)
    b++;
  *lo = a;
  *hi = b;
  return b > a;
}

int mt_rp_cost_partial(const mt_rp_input *in, int unit, int64_t *ns, uint64_t *kept)
{
  const mt_rp_costmodel *m = in->cost;
  size_t lo, hi;
  if (!unit_ops(m, unit, &lo, &hi) || m->measured)
    return 0;
  *ns = 0;
  *kept = 0;
  int any = 0;
  for (size_t i = lo; i < hi; i++) {
    const mt_rp_op *o = &m->ops[i];
    if (o->flops > 0) {
      any = 1;
      *kept += o->written ? (o->written + 511) / 512 * 512 : 0;
    } else {
      *ns += o->ns;
    }
  }
  return any;
}

int mt_rp_cost_flop_outputs(const mt_rp_input *in, int unit, const uint64_t *bytes, size_t n, unsigned char *flag)
{
  const mt_rp_costmodel *m = in->cost;
  size_t lo, hi, pos = 0;
  int count = 0;
  if (!unit_ops(m, unit, &lo, &hi))
    return -1;
  memset(flag, 0, n);
  for (size_t j = lo; j < hi && pos < n; j++) {
    const mt_rp_op *o = &m->ops[j];
    if (!o->written)
      continue;
    /* its outputs: the next tensors whose bytes add up to what it wrote,
       after at most 4 that no operator accounts for */
    for (size_t s = pos; s < n && s <= pos + 4; s++) {
      uint64_t sum = 0;
      size_t e = s;
      while (e < n && sum + bytes[e] <= o->written && sum < o->written)
        sum += bytes[e++];
      if (sum == o->written) {
        for (size_t i = s; i < e && o->flops > 0; i++, count++)
          flag[i] = 1;
        pos = e;
        break;
      }
    }
  }
  return count;
}

void mt_rp_cost_flop_ops(const mt_rp_input *in, int unit, char *buf, size_t len)
{
  const mt_rp_costmodel *m = in->cost;
  size_t lo, hi, o = 0;
  buf[0] = 0;
  if (!unit_ops(m, unit, &lo, &hi))
    return;
  for (size_t i = lo; i < hi && o < len; i++) {
    if (m->ops[i].flops <= 0)
      continue;
    int dup = 0;
    for (size_t j = lo; j < i && !dup; j++)
      dup = m->ops[j].flops > 0 && strcmp(m->ops[j].name, m->ops[i].name) == 0;
    if (!dup)
      o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", m->ops[i].name);
  }
}

void mt_rp_cost_plan(const mt_rp_input *in, const mt_rp_plan *p, const mt_rp_result *r, mt_rp_plan_cost *c)
{
  const mt_rp_costmodel *m = in->cost;
  memset(c, 0, sizeof *c);
  int nsteps = 0;
  for (size_t i = 0; i < in->nw; i++)
    nsteps += in->w[i].kind == MT_RP_W_STEP;
  if (nsteps < 1)
    nsteps = 1;
  /* the replay adds one recorded window's time per recomputed window of
     every step (another micro-batch count splits the tensors, not the
     windows: the work per step is the same) */
  c->recompute_ns = r->recompute_ns / nsteps;
  c->comm_ns = r->extra_comm_ns;
  double host = m && m->gpu ? m->gpu->host_gbs : 25.0;
  c->host_ns = (int64_t)((double)r->offload_bytes / host);
  for (size_t i = 0; i < mt_rp_ntechniques; i++)
    c->other_ns += mt_rp_technique_cost(&mt_rp_techniques[i], in, p);
  c->added_ns = c->recompute_ns + c->comm_ns + c->host_ns + c->other_ns;
  c->step_ns = m ? m->step_ns : 0;
  if (c->step_ns <= 0)
    for (size_t i = 0; i < in->nw; i++)
      if (in->w[i].kind == MT_RP_W_STEP) {
        c->step_ns = in->w[i].te - in->w[i].ts;
        break;
      }
  c->fraction = c->step_ns > 0 ? (double)c->added_ns / (double)c->step_ns : 0;
}

/* The parameter bytes each forward and backward pass reads (micro-batches
 * read them once per micro-batch), at HBM speed. */
int64_t mt__rp_cost_param_pass_ns(const mt_rp_input *in)
{
  const mt_rp_costmodel *m = in->cost;
  if (!m || !m->gpu)
    return 0;
  return (int64_t)(3.0 * (double)in->job.param_bytes / (m->gpu->hbm_gbs * m->efficiency));
}

/* The optimizer step's time with states of `state_bytes`. */
int64_t mt__rp_cost_opt_ns(const mt_rp_input *in, double state_bytes)
{
  const mt_rp_costmodel *m = in->cost;
  if (!m || !m->gpu)
    return 0;
  return (int64_t)((2.0 * (double)in->job.param_bytes + (double)in->job.grad_bytes + 2.0 * state_bytes) /
                   (m->gpu->hbm_gbs * m->efficiency));
}

void mt_rp_cost_describe(const mt_rp_input *in, char *buf, size_t len)
{
  const mt_rp_costmodel *m = in->cost;
  if (!m || !m->gpu) {
    snprintf(buf, len, "recorded kernel times (no device model)");
    return;
  }
  char src[160];
  if (m->measured)
    snprintf(src, sizeof src, "kernel times measured by CUPTI on the recorded %s",
             m->device[0] ? m->device : "device");
  else if (m->nops)
    snprintf(src, sizeof src, "FLOPs and bytes of %zu PyTorch operator records", m->nops);
  else
    snprintf(src, sizeof src, "bytes written and parameters read by each unit (no FLOP records: memory-bound only)");
  snprintf(buf, len, "%s data sheet (%.0f TFLOP/s bf16, %.1f fp32, %.0f GB/s HBM, %.0f GB/s link) at %.0f %% of peak; %s%s",
           m->gpu->key, m->gpu->tflops16, m->gpu->tflops32, m->gpu->hbm_gbs, m->gpu->link_gbs,
           100 * m->efficiency, src,
           m->simulated ? "; recorded on the simulated GPU stack (its kernel times are not GPU times)" : "");
}
