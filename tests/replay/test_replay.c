/* Replay engine, transformations and planner on synthetic streams, and the
 * oracles of shared/ORACLES.md sections 1, 3 and 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analyzer/replay/planner.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/technique.h"

#define MiB (1ull << 20)

/* A GPT-like recording: L layers; each layer's forward makes named saved
 * tensors (freed in its backward) and a temporary; model states at init. */
static int64_t now;

static void add(mt_rp_input *in, const char *name, int cat, uint64_t bytes, int64_t ta, int64_t tf, int phase,
                int step)
{
  mt_rp_tensor t = { 0 };
  t.t_alloc = ta;
  t.t_free = tf;
  t.bytes = bytes;
  t.cat = (int8_t)cat;
  t.phase = (int8_t)phase;
  t.layer = -1;
  t.unit = -1;
  t.step = step;
  t.name = name;
  assert_true(mt_rp_input_add(in, &t) >= 0);
}

static void win(mt_rp_input *in, const char *unit, int kind, int step, int64_t ts, int64_t te, int64_t kns)
{
  mt_rp_window w = { 0 };
  w.kind = (int8_t)kind;
  w.unit = unit ? mt_rp_input_unit(in, unit) : -1;
  w.layer = -1;
  w.step = step;
  w.ts = ts;
  w.te = te;
  w.kernel_ns = kns;
  assert_true(mt_rp_input_add_window(in, &w) >= 0);
}

/* Layer K's saved tensors: 4 x act bytes; temporaries 1 x act. */
static void build_gpt(mt_rp_input *in, int L, uint64_t act, uint64_t params)
{
  char nm[64];
  mt_rp_input_init(in);
  mt_rp_input_unit(in, "embed");
  mt_rp_input_unit(in, "head");
  now = 10;
  win(in, NULL, MT_RP_W_STEP, -1, 0, 5, 0);
  for (int k = -1; k <= L; k++) {
    const char *u = k < 0 ? "embed" : k == L ? "head" : NULL;
    char ub[32];
    if (!u) {
      snprintf(ub, sizeof ub, "layer.%d", k);
      u = ub;
    }
    snprintf(nm, sizeof nm, "%s.params", u);
    add(in, nm, MT_RP_PARAMETER, params, now++, MT_RP_NEVER, 0, -1);
  }
  add(in, "grad.bucket.0", MT_RP_GRADIENT, (uint64_t)(L + 2) * params, now++, MT_RP_NEVER, 0, -1);
  for (int k = -1; k <= L; k++) {
    const char *u = k < 0 ? "embed" : k == L ? "head" : NULL;
    char ub[32];
    if (!u) {
      snprintf(ub, sizeof ub, "layer.%d", k);
      u = ub;
    }
    snprintf(nm, sizeof nm, "%s.master", u);
    add(in, nm, MT_RP_OPTIMIZER_STATE, 2 * params, now++, MT_RP_NEVER, 0, -1);
  }
  int64_t step0 = now++;
  int64_t fwd0 = now++;
  int64_t fts[64], fte[64], saved_ta[64][4];
  for (int k = 0; k < L; k++) {
    fts[k] = now++;
    for (int j = 0; j < 4; j++) {
      saved_ta[k][j] = now++;
      if (j == 1) {
        /* a temporary between saved ones */
        add(in, "tmp", MT_RP_TEMPORARY, act, now, now + 1, MT_RP_PH_FORWARD, 0);
        now += 2;
      }
    }
    fte[k] = now++;
  }
  int64_t fwd1 = now++, bwd0 = now++;
  for (int k = L - 1; k >= 0; k--) {
    int64_t bts = now++;
    add(in, "grad.tmp", MT_RP_TEMPORARY, act, now, now + 3, MT_RP_PH_BACKWARD, 0);
    now++;
    for (int j = 0; j < 4; j++) {
      static const char *const nn[4] = { "ln1.out", "attn.softmax.out", "attn.dropout_mask", "fc1.out" };
      snprintf(nm, sizeof nm, "layer.%d.%s", k, nn[j]);
      add(in, nm, MT_RP_ACTIVATION, act, saved_ta[k][j], now++, MT_RP_PH_FORWARD, 0);
    }
    int64_t bte = now++;
    char u[32];
    snprintf(u, sizeof u, "layer.%d", k);
    win(in, u, MT_RP_W_FORWARD, 0, fts[k], fte[k], 1000);
    win(in, u, MT_RP_W_BACKWARD, 0, bts, bte, 2000);
  }
  int64_t bwd1 = now++;
  win(in, NULL, MT_RP_W_PHASE_FWD, 0, fwd0, fwd1, 0);
  win(in, NULL, MT_RP_W_PHASE_BWD, 0, bwd0, bwd1, 0);
  int64_t opt0 = now++;
  for (int k = -1; k <= L; k++) {
    const char *u = k < 0 ? "embed" : k == L ? "head" : NULL;
    char ub[32];
    if (!u) {
      snprintf(ub, sizeof ub, "layer.%d", k);
      u = ub;
    }
    snprintf(nm, sizeof nm, "%s.exp_avg", u);
    add(in, nm, MT_RP_OPTIMIZER_STATE, 2 * params, now++, MT_RP_NEVER, MT_RP_PH_OPTIMIZER, 0);
    snprintf(nm, sizeof nm, "%s.exp_avg_sq", u);
    add(in, nm, MT_RP_OPTIMIZER_STATE, 2 * params, now++, MT_RP_NEVER, MT_RP_PH_OPTIMIZER, 0);
  }
  win(in, NULL, MT_RP_W_OPTIMIZER, 0, opt0, now++, 0);
  win(in, NULL, MT_RP_W_STEP, 0, step0, now++, 0);
  mt_rp_input_finish(in);
}

static void baseline_matches_sum(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 4, 4 * MiB, 2 * MiB);
  mt_rp_result r;
  assert_int_equal(mt_rp_baseline(&in, MT_RP_ALLOC_RAW, &r), 0);
  /* end of forward: states 6 units x (2 + 2 + ...) + 16 saved */
  uint64_t states = 6 * 2 * MiB + 6 * 2 * MiB + 6 * 4 * MiB;
  assert_true(r.peak_allocated >= states + 16 * 4 * MiB);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_result q;
  assert_int_equal(mt_rp_replay(&in, &p, &q), 0);
  assert_int_equal(q.peak_allocated, r.peak_allocated); /* no technique = the recording */
  mt_rp_input_free(&in);
}

static void checkpoint_all_keeps_less(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 4, 16 * MiB, 2 * MiB);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_result base, ck;
  assert_int_equal(mt_rp_replay(&in, &p, &base), 0);
  p.ckpt = MT_RP_CK_ALL;
  assert_int_equal(mt_rp_replay(&in, &p, &ck), 0);
  /* 16 saved + 1 backward temporary -> one layer's 4 re-made + that temporary */
  assert_true(ck.peak_allocated < base.peak_allocated);
  assert_int_equal(base.peak_allocated - ck.peak_allocated, (17 - 5) * 16 * MiB);
  assert_int_equal(ck.recompute_ns, 4 * 1000);
  mt_rp_input_free(&in);
}

/* Model-state bytes per rank (parameters, gradients, optimizer state held
 * for the whole run) after the ZeRO-z transform over world ranks. */
static uint64_t model_states(const mt_rp_input *in, int z, int world, mt_rp_result *cost)
{
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.zero = z;
  p.world = world;
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_tensor *t;
  size_t nt;
  assert_int_equal(mt_rp_transform(in, &p, &t, &nt, cost), 0);
  uint64_t ms = 0;
  for (size_t i = 0; i < nt; i++)
    if ((t[i].cat == MT_RP_PARAMETER || t[i].cat == MT_RP_GRADIENT || t[i].cat == MT_RP_OPTIMIZER_STATE) &&
        t[i].t_free == MT_RP_NEVER)
      ms += t[i].bytes;
  free(t);
  return ms;
}

static void zero_states_oracle(void **st)
{
  (void)st;
  /* ORACLES section 1: model-state bytes per rank, bf16 + AdamW, to 0.1% */
  mt_rp_input in;
  uint64_t n = 1ull << 20; /* elements per unit, divisible by 4 */
  build_gpt(&in, 4, 1024, 2 * n);
  uint64_t psi = 6 * n;
  static const double want[4][2] = { { 16, 1 }, { 4, 12 }, { 2, 14 }, { 0, 16 } };
  for (int z = 0; z <= 3; z++) {
    mt_rp_result cost = { 0 };
    uint64_t ms = model_states(&in, z, 4, &cost);
    double expect = z == 0 ? 16.0 * (double)psi : want[z][0] * (double)psi + want[z][1] * (double)psi / 4.0;
    printf("# zero %d: model states %llu B, ORACLES %.0f B\n", z, (unsigned long long)ms, expect);
    assert_true((double)ms > expect * 0.999 && (double)ms < expect * 1.001);
    if (z == 3)
      assert_int_equal(cost.extra_comm_bytes, 2 * psi);
  }
  mt_rp_input_free(&in);
}

/* ORACLES section 1's printed numbers, reached through the ZeRO transform
 * (not the formulas): a GPT of Psi = 7.5e9 parameters in 6 units (bf16, an
 * fp32 master and two Adam moments: K = 12), model-state bytes per rank for
 * stages 0-3 at Nd = 4, 64 and 1024, to the digits ORACLES.md prints. */
static void zero_paper_numbers(void **st)
{
  (void)st;
  static const struct { int nd; double gb[4], tol; } want[] = {
    { 64, { 120, 31.41, 16.64, 1.875 }, 0.005 },
    { 4, { 120, 52.5, 41.25, 30 }, 0.005 },
    { 1024, { 120, 30.09, 15.10, 0.117 }, 0.005 },
  };
  mt_rp_input in;
  const uint64_t n = 1250000000ull; /* elements per unit: 6 units = 7.5e9 */
  build_gpt(&in, 4, 1024, 2 * n);
  for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
    for (int z = 0; z <= 3; z++) {
      mt_rp_result cost = { 0 };
      uint64_t ms = model_states(&in, z, want[w].nd, &cost);
      printf("# Psi 7.5e9, Nd %d, ZeRO-%d: %.4f GB per rank (ORACLES: %g)\n", want[w].nd, z, (double)ms / 1e9,
             want[w].gb[z]);
      assert_true((double)ms / 1e9 > want[w].gb[z] - want[w].tol && (double)ms / 1e9 < want[w].gb[z] + want[w].tol);
    }
  mt_rp_input_free(&in);
}

static void micro_batches_scale(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 4, 16 * MiB, 2 * MiB);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_result base, mb;
  assert_int_equal(mt_rp_replay(&in, &p, &base), 0);
  p.micro_batches = 2;
  assert_int_equal(mt_rp_replay(&in, &p, &mb), 0);
  assert_true(mb.peak_allocated < base.peak_allocated);
  assert_int_equal(base.by_cat[MT_RP_ACTIVATION] / 2, mb.by_cat[MT_RP_ACTIVATION]);
  mt_rp_input_free(&in);
}

/* A split column reduction in backward (torch's Reduce.cuh: a bias
 * gradient of 8192 fp32 outputs, 32 lanes x 4-wide vectors per block) with
 * ctas blocks per output: staging buffer 4 * 8192 * ctas * 128 bytes and
 * semaphores, after its output.  Reduce.cuh makes them only while each
 * thread sums >= 256 values, and ctas >= values / 16: at ctas = 16 the rows
 * held 256 values per thread, half of them (2 micro-batches) 128, so the
 * kernel does not split and makes neither; at ctas = 64, 1024 values, 512
 * per micro-batch, it still splits (half the CTAs, half the buffer). */
static uint64_t split_reduce_peak(uint64_t ctas, int m)
{
  mt_rp_input in;
  mt_rp_input_init(&in);
  win(&in, NULL, MT_RP_W_PHASE_FWD, 0, 10, 20, 0);
  win(&in, NULL, MT_RP_W_PHASE_BWD, 0, 21, 40, 0);
  add(&in, "act", MT_RP_ACTIVATION, MiB, 12, 30, MT_RP_PH_FORWARD, 0);
  add(&in, "bias.grad", MT_RP_GRADIENT, 4 * 8192, 25, MT_RP_NEVER, MT_RP_PH_BACKWARD, 0);
  add(&in, NULL, MT_RP_TEMPORARY, 4 * 8192 * ctas * 128, 26, 29, MT_RP_PH_BACKWARD, 0);
  add(&in, NULL, MT_RP_TEMPORARY, 512, 27, 28, MT_RP_PH_BACKWARD, 0);
  mt_rp_input_finish(&in);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  p.micro_batches = m;
  mt_rp_result r;
  assert_int_equal(mt_rp_replay(&in, &p, &r), 0);
  mt_rp_input_free(&in);
  return r.peak_allocated;
}

static void micro_batches_split_reduction(void **st)
{
  (void)st;
  /* recorded: activation, output, buffer and semaphores all live */
  assert_int_equal(split_reduce_peak(16, 1), MiB + 32768 + 64 * MiB + 512);
  /* 2 micro-batches: half the activation and the output, no buffers */
  assert_int_equal(split_reduce_peak(16, 2), MiB / 2 + 32768);
  /* ctas 64: still split, on half the rows (the 256 B semaphores at raw's 512) */
  assert_int_equal(split_reduce_peak(64, 2), MiB / 2 + 32768 + 128 * MiB + 512);
}

/* ZeRO-3 as FSDP2 applies it, fully_shard(block) on each numbered block and
 * then on the root: a block's parameters, its sub-modules' included, are one
 * all-gather (output and unsharded parameters live together while copied
 * out); in backward the block before is prefetched once this one is
 * unsharded, and the root's pre-backward prefetches the last block (before
 * the head's backward); the rest is the root's, gathered from the start of
 * forward.  Two blocks of a 4 MiB linear and a 1 MiB norm (each a module
 * with its own windows) and a 2 MiB head, world 2: shards 6 MiB, the root
 * 2 MiB, and a 20 MiB temporary of the loss's backward beside block 1's
 * prefetched parameters (5 MiB); NCCL's buffers aside. */
static void zero3_gathers_blocks(void **st)
{
  (void)st;
  mt_rp_input in;
  mt_rp_input_init(&in);
  static const char *const unit[7] = { "model", "model.blocks.0", "model.blocks.0.fc", "model.blocks.0.ln",
                                       "model.blocks.1", "model.blocks.1.fc", "model.blocks.1.ln" };
  static const int64_t fw[7][2] = { { 100, 300 }, { 110, 190 }, { 115, 140 }, { 150, 180 },
                                    { 200, 290 }, { 205, 240 }, { 250, 280 } };
  for (int u = 0; u < 7; u++) {
    mt_rp_window w = { 0 };
    w.unit = mt_rp_input_unit_exact(&in, unit[u]);
    w.layer = in.units[w.unit].layer;
    w.kind = MT_RP_W_FORWARD;
    w.ts = fw[u][0];
    w.te = fw[u][1];
    assert_true(mt_rp_input_add_window(&in, &w) >= 0);
    w.kind = MT_RP_W_BACKWARD;   /* backward mirrors forward */
    w.ts = 700 - fw[u][1];
    w.te = 700 - fw[u][0];
    assert_true(mt_rp_input_add_window(&in, &w) >= 0);
  }
  add(&in, "model.blocks.0.fc.weight", MT_RP_PARAMETER, 4 * MiB, 1, MT_RP_NEVER, 0, -1);
  add(&in, "model.blocks.0.ln.weight", MT_RP_PARAMETER, MiB, 2, MT_RP_NEVER, 0, -1);
  add(&in, "model.blocks.1.fc.weight", MT_RP_PARAMETER, 4 * MiB, 3, MT_RP_NEVER, 0, -1);
  add(&in, "model.blocks.1.ln.weight", MT_RP_PARAMETER, MiB, 4, MT_RP_NEVER, 0, -1);
  add(&in, "model.head.weight", MT_RP_PARAMETER, 2 * MiB, 5, MT_RP_NEVER, 0, -1);
  add(&in, NULL, MT_RP_TEMPORARY, 20 * MiB, 402, 405, MT_RP_PH_BACKWARD, 0);
  mt_rp_input_finish(&in);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  p.zero = 3;
  p.world = 2;
  mt_rp_result r;
  char why[256] = "";
  assert_int_equal(mt_rp_plan_refused(&in, &p, why, sizeof why), 0);
  assert_int_equal(mt_rp_replay(&in, &p, &r), 0);
  printf("# ZeRO-3 world 2: %llu B in torch's allocator at the peak\n",
         (unsigned long long)(r.peak_allocated - r.by_cat[MT_RP_COMMUNICATION]));
  assert_int_equal(r.peak_allocated - r.by_cat[MT_RP_COMMUNICATION], 6 * MiB + 2 * MiB + 5 * MiB + 20 * MiB);
  mt_rp_input_free(&in);
}

static void flash_drops_maps(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 4, 16 * MiB, 2 * MiB);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_result base, fl;
  assert_int_equal(mt_rp_replay(&in, &p, &base), 0);
  p.flash = 1;
  assert_int_equal(mt_rp_replay(&in, &p, &fl), 0);
  assert_int_equal(base.peak_allocated - fl.peak_allocated, 4 * 2 * 16 * MiB);
  mt_rp_input_free(&in);
}

/* One transformer layer recorded with the tensors Korthikanti et al. count
 * (16-bit, s b h = sbh, the attention maps a s^2 b): LayerNorm inputs 2 x 2sbh
 * (the first is the layer's input), the QKV GEMMs' input 2sbh, Q and K 4sbh, V 2sbh, softmax output
 * 2as^2b, its dropout mask as^2b and output 2as^2b, the projection's input
 * 2sbh and dropout mask sbh, the MLP's input 2sbh, fc1 and GELU outputs
 * 8sbh each, its dropout mask sbh: 34 sbh + 5 a s^2 b.  Made in the layer's
 * forward (the input before it), freed in its backward; *fwd_end: the end
 * of the forward pass. */
static void build_korthikanti(mt_rp_input *in, uint64_t sbh, uint64_t as2b, int64_t *fwd_end)
{
  static const struct { const char *name; uint64_t sbh, as2b; } k[] = {
    { "layer.0.input", 2, 0 },           { "layer.0.ln1.out", 2, 0 },          { "layer.0.q", 2, 0 },
    { "layer.0.k", 2, 0 },               { "layer.0.attn.softmax.out", 0, 2 },
    { "layer.0.attn.dropout_mask", 0, 1 }, { "layer.0.attn.dropout.out", 0, 2 },
    { "layer.0.v", 2, 0 },               { "layer.0.attn.out", 2, 0 },
    { "layer.0.proj.dropout_mask", 1, 0 }, { "layer.0.ln2.input", 2, 0 },
    { "layer.0.ln2.out", 2, 0 },         { "layer.0.fc1.out", 8, 0 },
    { "layer.0.gelu.out", 8, 0 },        { "layer.0.mlp.dropout_mask", 1, 0 },
  };
  const size_t nk = sizeof k / sizeof k[0];
  int64_t ta[16];
  mt_rp_input_init(in);
  now = 10;
  add(in, "layer.0.params", MT_RP_PARAMETER, 1 * MiB, now++, MT_RP_NEVER, 0, -1);
  /* the layer's input exists before its forward starts (the previous
   * layer's output, here the embedding's) */
  int64_t step0 = now++, fwd0 = now++, tin = now++, fts = now++;
  ta[0] = tin;
  for (size_t j = 1; j < nk; j++)
    ta[j] = now++;
  int64_t fte = now++, fwd1 = now++;
  *fwd_end = fwd1;
  int64_t bwd0 = now++, bts = now++;
  for (size_t j = nk; j-- > 0;)
    add(in, k[j].name, MT_RP_ACTIVATION, k[j].sbh * sbh + k[j].as2b * as2b, ta[j], now++, MT_RP_PH_FORWARD, 0);
  int64_t bte = now++, bwd1 = now++;
  win(in, "layer.0", MT_RP_W_FORWARD, 0, fts, fte, 1000);
  win(in, "layer.0", MT_RP_W_BACKWARD, 0, bts, bte, 2000);
  win(in, NULL, MT_RP_W_PHASE_FWD, 0, fwd0, fwd1, 0);
  win(in, NULL, MT_RP_W_PHASE_BWD, 0, bwd0, bwd1, 0);
  win(in, NULL, MT_RP_W_STEP, 0, step0, now++, 0);
  mt_rp_input_finish(in);
}

/* Activation bytes the transformed stream holds at time t. */
static uint64_t activations_at(const mt_rp_tensor *t, size_t n, int64_t at)
{
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    if (t[i].cat == MT_RP_ACTIVATION && t[i].t_alloc <= at && (t[i].t_free > at || t[i].t_free == MT_RP_NEVER))
      sum += t[i].bytes;
  return sum;
}

/* ORACLES section 3: Korthikanti's per-layer activation bytes at s = 2048,
 * b = 1, h = 6144, a = 64, t = 8, reached through the replay's transforms
 * (what the layer holds at the end of the forward pass), not the formulas:
 * no parallelism 1,769,996,288; TP + SP (Megatron sequence parallelism of
 * degree 8: --sp 8) 221,249,536; TP + SP + selective recompute 53,477,376;
 * full recompute (--checkpoint all: the layer input) 25,165,824 without SP.
 * TP alone (331,350,016 and 163,577,856) is not a replay transform. */
static void activation_formulas(void **st)
{
  (void)st;
  const uint64_t s = 2048, b = 1, h = 6144, a = 64;
  mt_rp_input in;
  int64_t fwd_end;
  build_korthikanti(&in, s * b * h, a * s * s * b, &fwd_end);
  static const struct { int sp, ckpt; uint64_t want; } c[] = {
    { 1, MT_RP_CK_NONE, 1769996288 },
    { 8, MT_RP_CK_NONE, 221249536 },
    { 8, MT_RP_CK_SELECTIVE, 53477376 },
    { 1, MT_RP_CK_ALL, 25165824 },
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    mt_rp_plan p;
    mt_rp_plan_init(&p);
    p.allocator = MT_RP_ALLOC_RAW;
    p.sp = c[i].sp;
    p.ckpt = c[i].ckpt;
    mt_rp_tensor *t;
    size_t nt;
    mt_rp_result cost = { 0 };
    assert_int_equal(mt_rp_transform(&in, &p, &t, &nt, &cost), 0);
    uint64_t got = activations_at(t, nt, fwd_end);
    printf("# sp %d checkpoint %d: %llu B at the end of forward (ORACLES %llu)\n", c[i].sp, c[i].ckpt,
           (unsigned long long)got, (unsigned long long)c[i].want);
    assert_int_equal(got, c[i].want);
    free(t);
  }
  mt_rp_input_free(&in);
}

static void revolve_values(void **st)
{
  (void)st;
  assert_int_equal(mt_rp_revolve(10, 1), 45);
  assert_int_equal(mt_rp_revolve(10, 2), 20);
  assert_int_equal(mt_rp_revolve(10, 3), 15);
  assert_int_equal(mt_rp_revolve(16, 4), 27);
  assert_int_equal(mt_rp_revolve(100, 10), 222);
}

static void knapsack_case(void **st)
{
  (void)st;
  uint64_t mem[3] = { 6, 5, 5 };
  int64_t val[3] = { 7, 5, 5 };
  unsigned char keep[3];
  assert_int_equal(mt_rp_knapsack(mem, val, 3, 10, keep), 10);
  assert_int_equal(keep[0], 0);
  assert_int_equal(keep[1], 1);
  assert_int_equal(keep[2], 1);
}

/* The DP placement equals brute force on random chains of up to 12 layers. */
static void placement_equals_brute_force(void **st)
{
  (void)st;
  unsigned s = 7;
  for (int trial = 0; trial < 300; trial++) {
    size_t n = 1 + (size_t)(trial % 12);
    mt_rp_layer_cost l[12];
    uint64_t total = 0;
    memset(l, 0, sizeof l);
    for (size_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      l[i].saved = 10 + (s >> 16) % 90;
      l[i].kept = (s >> 8) % 10;
      l[i].transient = (s >> 4) % 30;
      l[i].fwd_ns = 1 + (int64_t)((s >> 12) % 50);
      total += l[i].saved;
    }
    uint64_t base = 5, head = 7;
    uint64_t budget = base + head + (total * (uint64_t)(20 + trial % 80)) / 100;
    unsigned char a[12], b[12];
    int64_t ca = -1, cb = -1;
    int ra = mt_rp_place_checkpoints(l, n, base, head, budget, 1, a, &ca);
    int rb = mt_rp_place_brute(l, n, base, head, budget, b, &cb);
    assert_int_equal(ra, rb);
    if (ra == 0) {
      assert_int_equal(ca, cb);
      assert_true(mt_rp_chain_peak(l, n, a, base, head) <= budget);
    }
  }
}

/* The same with a third choice per layer (checkpointed, its FLOP outputs
 * kept: between the two in memory and in recompute time): the DP's
 * placement is as cheap as the best of all 3^n, and fits. */
static void placement_partial_equals_brute_force(void **st)
{
  (void)st;
  unsigned s = 11;
  int used = 0;
  for (int trial = 0; trial < 300; trial++) {
    size_t n = 1 + (size_t)(trial % 9);
    mt_rp_layer_cost l[12];
    uint64_t total = 0;
    memset(l, 0, sizeof l);
    for (size_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      l[i].saved = 10 + (s >> 16) % 90;
      l[i].kept = (s >> 8) % 10;
      l[i].transient = (s >> 4) % 30;
      l[i].fwd_ns = 1 + (int64_t)((s >> 12) % 50);
      l[i].has_part = (s >> 20) % 3 != 0;
      l[i].part = l[i].kept + (l[i].saved - l[i].kept) * ((s >> 22) % 80) / 100;
      l[i].part_ns = l[i].fwd_ns * (int64_t)((s >> 24) % 60) / 100;
      total += l[i].saved;
    }
    uint64_t base = 5, head = 7;
    uint64_t budget = base + head + (total * (uint64_t)(20 + trial % 80)) / 100;
    unsigned char a[12], b[12];
    int64_t ca = -1, cb = -1;
    int ra = mt_rp_place_checkpoints(l, n, base, head, budget, 1, a, &ca);
    int rb = mt_rp_place_brute(l, n, base, head, budget, b, &cb);
    assert_int_equal(ra, rb);
    if (ra == 0) {
      assert_int_equal(ca, cb);
      assert_true(mt_rp_chain_peak(l, n, a, base, head) <= budget);
      for (size_t i = 0; i < n; i++) {
        assert_true(a[i] != 2 || l[i].has_part);
        used += a[i] == 2;
      }
    }
  }
  assert_true(used > 0); /* the third choice was taken somewhere */
}

/* recommend: plans fit, are verified, and the first is the cheapest. */
static void recommend_fits(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 6, 4 * MiB, 2 * MiB);
  mt_rp_result base;
  assert_int_equal(mt_rp_baseline(&in, MT_RP_ALLOC_CACHING, &base), 0);
  mt_rp_recommend_opts o = { .budget = base.peak_reserved * 8 / 10, .max_overhead = -1 };
  mt_rp_choice *c;
  size_t n, explored;
  assert_int_equal(mt_rp_recommend(&in, &o, &c, &n, &explored), 0);
  printf("# explored %zu plans, %zu listed; best: %s\n", explored, n, n ? c[0].options : "-");
  assert_true(n > 0);
  assert_true(c[0].fits);
  assert_true(c[0].verified_by_replay);
  assert_true(c[0].result.peak_reserved <= o.budget);
  /* every listed plan: its peak is what a replay of that plan gives, fits
   * says whether that peak is within the budget; fitting plans first, by
   * overhead (the first is the cheapest), then the closest non-fitting */
  size_t nfit = 0;
  for (size_t i = 0; i < n; i++) {
    mt_rp_result r;
    assert_int_equal(mt_rp_replay(&in, &c[i].plan, &r), 0);
    if (c[i].verified_by_replay)
      assert_int_equal(r.peak_reserved, c[i].result.peak_reserved);
    assert_int_equal(c[i].fits, c[i].result.peak_reserved <= o.budget);
    if (c[i].fits) {
      assert_int_equal(nfit, i); /* no fitting plan after a non-fitting one */
      nfit++;
      /* those that train the same way first, each group by added step time */
      if (i > 0)
        assert_true(c[i].alters_training > c[i - 1].alters_training ||
                    (c[i].alters_training == c[i - 1].alters_training && c[i].cost.added_ns >= c[i - 1].cost.added_ns));
    }
  }
  /* and no plan the test can think of that fits is cheaper than the first:
   * checkpointing every layer, every other one, ZeRO-3 over the recording's
   * world */
  static const char *const alt[][2] = { { "checkpoint", "all" }, { "checkpoint", "every:2" }, { "zero", "3" } };
  for (size_t j = 0; j < sizeof alt / sizeof alt[0]; j++)
    for (size_t i = 0; i < n; i++) {
      mt_rp_plan q;
      char err[128];
      mt_rp_plan_init(&q);
      assert_int_equal(mt_rp_plan_option(&q, alt[j][0], alt[j][1], err, sizeof err), 1);
      char d1[256], d2[256];
      mt_rp_plan_describe(&q, d1, sizeof d1);
      mt_rp_plan_describe(&c[i].plan, d2, sizeof d2);
      if (strcmp(d1, d2) == 0 && c[i].fits && !c[0].alters_training)
        assert_true(c[i].cost.added_ns >= c[0].cost.added_ns);
    }
  free(c);
  mt_rp_input_free(&in);
}

static void plan_options(void **st)
{
  (void)st;
  mt_rp_plan p;
  char err[128], buf[256];
  mt_rp_plan_init(&p);
  assert_int_equal(mt_rp_plan_option(&p, "checkpoint", "layers:1,3", err, sizeof err), 1);
  assert_int_equal(mt_rp_plan_option(&p, "zero", "3", err, sizeof err), 1);
  assert_int_equal(mt_rp_plan_option(&p, "zero", "5", err, sizeof err), -1);
  assert_int_equal(mt_rp_plan_option(&p, "format", "json", err, sizeof err), 0);
  mt_rp_plan_describe(&p, buf, sizeof buf);
  assert_string_equal(buf, "--checkpoint layers:1,3 --zero 3");
}


/* --precision by the job model: a bf16 parameter with an fp32 master copy
 * (a state twice its size) is a mixed-precision recording; at fp32 the
 * parameter, its gradient and the named activations double, the master
 * goes, the 1-byte mask and the int64 input keep their size. */
static void precision_by_job_model(void **st)
{
  (void)st;
  mt_rp_input in;
  mt_rp_input_init(&in);
  add(&in, "w", MT_RP_PARAMETER, 2 * MiB, 0, MT_RP_NEVER, MT_RP_PH_OTHER, -1);
  add(&in, "w.master", MT_RP_OPTIMIZER_STATE, 4 * MiB, 1, MT_RP_NEVER, MT_RP_PH_OTHER, -1);
  add(&in, "w.exp_avg", MT_RP_OPTIMIZER_STATE, 4 * MiB, 2, MT_RP_NEVER, MT_RP_PH_OTHER, -1);
  add(&in, "ids", MT_RP_INPUT, 1 * MiB, 10, 40, MT_RP_PH_FORWARD, 0);
  add(&in, "h", MT_RP_ACTIVATION, 8 * MiB, 11, 30, MT_RP_PH_FORWARD, 0);
  add(&in, "drop.mask", MT_RP_ACTIVATION, 4 * MiB, 12, 31, MT_RP_PH_FORWARD, 0);
  add(&in, "w", MT_RP_GRADIENT, 2 * MiB, 29, MT_RP_NEVER, MT_RP_PH_BACKWARD, 0);
  mt_rp_input_finish(&in);
  assert_int_equal(in.job.param_esize, 2);
  mt_rp_plan p;
  char err[128];
  mt_rp_plan_init(&p);
  assert_int_equal(mt_rp_plan_option(&p, "precision", "fp32", err, sizeof err), 1);
  mt_rp_tensor *t;
  size_t n;
  mt_rp_result cost = { 0 };
  assert_int_equal(mt_rp_transform(&in, &p, &t, &n, &cost), 0);
  uint64_t by[MT_RP_NCAT] = { 0 };
  for (size_t i = 0; i < n; i++)
    by[(int)t[i].cat] += t[i].bytes;
  assert_int_equal(by[MT_RP_PARAMETER], 4 * MiB);
  assert_int_equal(by[MT_RP_GRADIENT], 4 * MiB);
  assert_int_equal(by[MT_RP_OPTIMIZER_STATE], 4 * MiB);   /* exp_avg; no master at fp32 */
  assert_int_equal(by[MT_RP_ACTIVATION], 16 * MiB + 4 * MiB);
  assert_int_equal(by[MT_RP_INPUT], 1 * MiB);
  free(t);
  /* --train-only prefixes end at a '.' */
  assert_true(mt__rp_under("model.blocks.1,model.head", "model.blocks.1.fc.weight"));
  assert_false(mt__rp_under("model.blocks.1", "model.blocks.10.fc.weight"));
  assert_true(mt__rp_under("model.head", "model.head"));
  mt_rp_input_free(&in);
}

/* Peak of live bytes of one category in a stream. */
static int ev_cmp2(const void *a, const void *b)
{
  const int64_t *x = a, *y = b;
  if (x[0] != y[0])
    return x[0] < y[0] ? -1 : 1;
  if (x[1] != y[1])
    return x[1] < y[1] ? -1 : 1;
  return x[2] < y[2] ? -1 : x[2] > y[2]; /* frees (negative) first */
}

static uint64_t live_peak(const mt_rp_tensor *t, size_t n, int cat)
{
  int64_t *e = calloc(2 * n + 1, 3 * sizeof *e);
  size_t ne = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].cat != cat)
      continue;
    e[3 * ne] = t[i].t_alloc, e[3 * ne + 1] = t[i].s_alloc, e[3 * ne + 2] = (int64_t)t[i].bytes, ne++;
    if (t[i].t_free != MT_RP_NEVER)
      e[3 * ne] = t[i].t_free, e[3 * ne + 1] = t[i].s_free, e[3 * ne + 2] = -(int64_t)t[i].bytes, ne++;
  }
  qsort(e, ne, 3 * sizeof *e, ev_cmp2);
  int64_t cur = 0, mx = 0;
  for (size_t i = 0; i < ne; i++) {
    cur += e[3 * i + 2];
    if (cur > mx)
      mx = cur;
  }
  free(e);
  return (uint64_t)mx;
}

static void pipeline_in_flight(void **st)
{
  (void)st;
  /* README of simtrain / ORACLES section 3: a stage's saved activations peak
   * at (its layers) x (saved per layer and micro-batch) x (micro-batches in
   * flight: M for GPipe, min(N - p, M) for 1F1B) */
  mt_rp_input in;
  const int L = 4, M = 4;
  const uint64_t act = 4 * MiB;
  build_gpt(&in, L, act, 2 * MiB);
  for (int sched = 0; sched < 2; sched++)
    for (int N = 2; N <= 4; N += 2)
      for (int stage = 0; stage < N; stage++) {
        mt_rp_plan p;
        mt_rp_plan_init(&p);
        p.allocator = MT_RP_ALLOC_RAW;
        p.pp = N;
        p.pp_1f1b = sched;
        p.pp_stage = stage;
        p.micro_batches = M;
        mt_rp_tensor *t;
        size_t nt;
        mt_rp_result cost = { 0 };
        assert_int_equal(mt_rp_transform(&in, &p, &t, &nt, &cost), 0);
        int inflight = sched ? (N - stage < M ? N - stage : M) : M;
        uint64_t want = (uint64_t)(L / N) * 4 * (act / M) * (uint64_t)inflight;
        uint64_t got = live_peak(t, nt, MT_RP_ACTIVATION);
        printf("# pp %d %s stage %d: saved activations %llu B, closed form %llu B\n", N, sched ? "1f1b" : "gpipe",
               stage, (unsigned long long)got, (unsigned long long)want);
        assert_int_equal(got, want);
        free(t);
      }
  mt_rp_input_free(&in);
  /* the replay reports the stage with the highest peak and every stage's:
   * with small activations the last stage's is highest here, with large
   * ones the first stage's (1F1B keeps more micro-batches in flight there) */
  for (int big = 0; big < 2; big++) {
    build_gpt(&in, L, big ? 64 * act : act, 2 * MiB);
    mt_rp_plan p;
    mt_rp_plan_init(&p);
    p.allocator = MT_RP_ALLOC_RAW;
    p.pp = 2;
    p.pp_1f1b = 1;
    p.micro_batches = M;
    mt_rp_result r;
    assert_int_equal(mt_rp_replay(&in, &p, &r), 0);
    assert_int_equal(r.nstages, 2);
    assert_true(r.stage >= 0 && r.stage < 2);
    assert_int_equal(r.peak_allocated, r.stage_peak_allocated[r.stage]);
    printf("# pp 2 1f1b, %s activations: stage peaks %llu, %llu; reported stage %d\n", big ? "large" : "small",
           (unsigned long long)r.stage_peak_allocated[0], (unsigned long long)r.stage_peak_allocated[1], r.stage);
    /* each stage's peak is that stage's replay on its own */
    uint64_t one_peak[2];
    for (int stage = 0; stage < 2; stage++) {
      mt_rp_result one;
      p.pp_stage = stage;
      assert_int_equal(mt_rp_replay(&in, &p, &one), 0);
      one_peak[stage] = one.peak_allocated;
      assert_int_equal(one.peak_allocated, r.stage_peak_allocated[stage]);
    }
    assert_true(one_peak[0] != one_peak[1]);
    assert_int_equal(r.stage, one_peak[0] > one_peak[1] ? 0 : 1);
    mt_rp_input_free(&in);
  }
}

/* Timeline on a hand-built stream whose states are known: raw allocator
 * (512 B rounding), an outside allocation counted as is. */
static void timeline_known_values(void **st)
{
  (void)st;
  mt_rp_input in;
  mt_rp_input_init(&in);
  add(&in, "a", MT_RP_ACTIVATION, 1000, 100, 500, MT_RP_PH_FORWARD, 0);  /* 1024 */
  add(&in, "b", MT_RP_TEMPORARY, 3000, 200, 300, MT_RP_PH_FORWARD, 0);   /* 3072 */
  mt_rp_tensor w = { .t_alloc = 250, .t_free = 400, .bytes = 5000, .cat = MT_RP_WORKSPACE, .outside = 1,
                     .layer = -1, .step = 0, .unit = -1 };
  assert_true(mt_rp_input_add(&in, &w) >= 0);
  mt_rp_input_finish(&in);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  p.allocator = MT_RP_ALLOC_RAW;
  mt_rp_result r;
  mt_rp_timeline tl;
  assert_int_equal(mt_rp_replay_timeline(&in, &p, 5, &r, &tl), 0);
  /* events 100 +1024, 200 +3072, 250 +5000, 300 -3072, 400 -5000, 500 -1024;
   * samples at 100, 200, ..., 500 */
  static const uint64_t at[5] = { 1024, 4096, 6024, 1024, 0 }, mx[5] = { 1024, 4096, 9096, 1024, 0 };
  assert_int_equal(tl.n, 5);
  assert_int_equal(tl.t0, 100);
  assert_int_equal(tl.dt, 100);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(tl.allocated[i], at[i]);
    assert_int_equal(tl.reserved[i], at[i]);
    assert_int_equal(tl.allocated_max[i], mx[i]);
    assert_int_equal(tl.reserved_max[i], mx[i]);
  }
  assert_int_equal(r.peak_allocated, 9096);
  mt_rp_timeline_free(&tl);
  /* 3 samples: dt = ceil(400 / 2), samples at 100, 300, 500 */
  assert_int_equal(mt_rp_replay_timeline(&in, &p, 3, &r, &tl), 0);
  assert_int_equal(tl.dt, 200);
  assert_int_equal(tl.allocated[1], 6024);
  assert_int_equal(tl.allocated_max[1], 9096);
  assert_int_equal(tl.allocated_max[2], 1024);
  mt_rp_timeline_free(&tl);
  mt_rp_input_free(&in);
}

static uint64_t max_of(const uint64_t *v, size_t n)
{
  uint64_t m = 0;
  for (size_t i = 0; i < n; i++)
    m = v[i] > m ? v[i] : m;
  return m;
}

/* Whatever the plan: the same result as mt_rp_replay, the maxima are the
 * peaks, reserved never below allocated; with a pipeline, the timeline is
 * the reported stage's. */
static void timeline_properties(void **st)
{
  (void)st;
  mt_rp_input in;
  build_gpt(&in, 4, 3 * MiB + 12345, 2 * MiB);
  for (int k = 0; k < 4; k++) {
    mt_rp_plan p;
    mt_rp_plan_init(&p);
    p.ckpt = k == 1 ? MT_RP_CK_ALL : MT_RP_CK_NONE;
    p.micro_batches = k == 2 ? 2 : 0;
    if (k == 3) {
      p.pp = 2;
      p.micro_batches = 4;
    }
    mt_rp_result r, q;
    mt_rp_timeline tl;
    assert_int_equal(mt_rp_replay(&in, &p, &q), 0);
    assert_int_equal(mt_rp_replay_timeline(&in, &p, 7 + (size_t)k, &r, &tl), 0);
    assert_memory_equal(&r, &q, sizeof r);
    assert_int_equal(max_of(tl.allocated_max, tl.n), r.peak_allocated);
    assert_int_equal(max_of(tl.reserved_max, tl.n), r.peak_reserved);
    for (size_t i = 0; i < tl.n; i++) {
      assert_true(tl.reserved[i] >= tl.allocated[i]);
      /* a bucket's maximum is at least its end state when it has events;
       * 0 (no event) only where the state did not change */
      if (tl.allocated_max[i] == 0)
        assert_int_equal(tl.allocated[i], i ? tl.allocated[i - 1] : 0);
      else
        assert_true(tl.allocated_max[i] >= tl.allocated[i]);
      if (tl.reserved_max[i] == 0)
        assert_int_equal(tl.reserved[i], i ? tl.reserved[i - 1] : 0);
      else
        assert_true(tl.reserved_max[i] >= tl.reserved[i]);
    }
    if (k == 3) {
      mt_rp_timeline one;
      p.pp_stage = r.stage;
      assert_int_equal(mt_rp_replay_timeline(&in, &p, tl.n, &q, &one), 0);
      assert_int_equal(one.t0, tl.t0);
      assert_int_equal(one.dt, tl.dt);
      assert_memory_equal(one.allocated, tl.allocated, tl.n * sizeof *tl.allocated);
      assert_memory_equal(one.reserved_max, tl.reserved_max, tl.n * sizeof *tl.reserved_max);
      mt_rp_timeline_free(&one);
    }
    mt_rp_timeline_free(&tl);
  }
  mt_rp_input_free(&in);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(baseline_matches_sum), cmocka_unit_test(checkpoint_all_keeps_less),
    cmocka_unit_test(zero_states_oracle),   cmocka_unit_test(zero_paper_numbers),
    cmocka_unit_test(micro_batches_scale),  cmocka_unit_test(flash_drops_maps),
    cmocka_unit_test(micro_batches_split_reduction), cmocka_unit_test(zero3_gathers_blocks),
    cmocka_unit_test(activation_formulas),  cmocka_unit_test(revolve_values),
    cmocka_unit_test(knapsack_case),        cmocka_unit_test(placement_equals_brute_force),
    cmocka_unit_test(placement_partial_equals_brute_force),
    cmocka_unit_test(recommend_fits),       cmocka_unit_test(plan_options),
    cmocka_unit_test(pipeline_in_flight),   cmocka_unit_test(timeline_known_values),
    cmocka_unit_test(timeline_properties),  cmocka_unit_test(precision_by_job_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
