/* mt_lifetimes_walk, mt_ranges_foreach, mt_trace_rank and
 * mt_trace_communicators on synthetic traces; every expected lifetime is
 * worked out by hand in the comments (never by the library under test). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "analyzer/lib/analysis.h"

#define MiB (1024ull * 1024ull)
#define KiB 1024ull
#define A0 0x7f0000000000ull

#include "tests/analyzer/synth.h"

static mt_trace *create(const char *name, int rank, int world, char *path, size_t n)
{
  return synth_create(name, "run-l", rank, world, 200 + rank, 1000000000LL, path, n);
}

static void finish(mt_trace *t)
{
  assert_int_equal(mt_trace_commit(t), MT_OK);
  assert_int_equal(mt_trace_finalize(t, 2000), MT_OK);
  mt_trace_close(t);
}

static void mem(mt_trace *t, int64_t ts, int op, uint64_t addr, uint64_t size, int ctx)
{
  mt_mem_event e = { .ts = ts, .op = op, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE, .addr = addr,
                     .size = size, .thread = 1, .context = ctx };
  assert_int_equal(mt_trace_put_mem(t, &e), MT_OK);
}

static void reg(mt_trace *t, int64_t ts, int op, int64_t heap, uint64_t addr, uint64_t size, const char *label)
{
  mt_region_event e = { .ts = ts, .op = op, .heap = heap, .addr = addr, .size = size, .thread = 1, .stream = 7,
                        .label_id = label ? mt_trace_intern(t, label) : 0 };
  assert_int_equal(mt_trace_put_region(t, &e), MT_OK);
}

static void kernel(mt_trace *t, int64_t ts, int64_t dur, int64_t gs, int64_t ge)
{
  mt_kernel_event k = { .ts = ts, .dur = dur, .name_id = mt_trace_intern(t, "gemm"), .thread = 1,
                        .gpu_start = gs, .gpu_end = ge };
  assert_int_equal(mt_trace_put_kernel(t, &k), MT_OK);
}

/* What the callbacks saw, copied (their pointers die with the call). */
typedef struct seen_lt {
  mt_lifetime l;
  char label[64], phase[32];
  mt_resize rs[4];
} seen_lt;

typedef struct seen_rg {
  mt_range_span r;
  char name[64];
} seen_rg;

typedef struct seen {
  seen_lt lt[32];
  size_t nlt;
  seen_rg rg[16];
  size_t nrg;
  size_t stop_after;     /* 0: never stop */
} seen;

static int on_lt(const mt_lifetime *l, void *arg)
{
  seen *s = arg;
  assert_true(s->nlt < 32);
  seen_lt *x = &s->lt[s->nlt++];
  x->l = *l;
  snprintf(x->label, sizeof x->label, "%s", l->obj.label ? l->obj.label : "");
  snprintf(x->phase, sizeof x->phase, "%s", l->obj.phase ? l->obj.phase : "");
  assert_true(l->nresizes <= 4);
  memcpy(x->rs, l->resizes, l->nresizes * sizeof *l->resizes);
  return s->stop_after && s->nlt >= s->stop_after;
}

static int on_rg(const mt_range_span *r, void *arg)
{
  seen *s = arg;
  assert_true(s->nrg < 16);
  seen_rg *x = &s->rg[s->nrg++];
  x->r = *r;
  snprintf(x->name, sizeof x->name, "%s", r->name ? r->name : "");
  return 0;
}

static void walk(const char *path, seen *s, int lifetimes, int ranges)
{
  mt_trace *t = NULL;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_open(path, 0, &t, &err), MT_OK);
  mt_lifetime_visitor v = { .lifetime = lifetimes ? on_lt : NULL, .range = ranges ? on_rg : NULL, .arg = s };
  int rc = mt_lifetimes_walk(t, &v, &err);
  if (rc != MT_OK)
    fprintf(stderr, "# %s\n", err.msg);
  assert_int_equal(rc, MT_OK);
  mt_trace_close(t);
}

static const seen_lt *by_seq(const seen *s, uint64_t seq)
{
  for (size_t i = 0; i < s->nlt; i++)
    if (s->lt[i].l.seq == seq)
      return &s->lt[i];
  fail_msg("no lifetime with seq %llu", (unsigned long long)seq);
  return NULL;
}

/* A training step with an address reused within one timestamp, a resize,
 * a tensor freed before recording began and never-freed device memory:
 *   t=50  unregister at A0+12M in heap 1: allocated before the recording -> no lifetime
 *   t=60  cudaFree of an unknown address -> no lifetime
 *   t=100 cudaMalloc 20 MiB at A0, heap 1 over it created at 101 -> covered, no lifetime
 *   t=110 parameter/w 4 MiB at A0                                   seq 0, alive
 *   ranges: step 0 [200,1000) > forward [210,500) > layer.0.forward [220,400);
 *           backward [500,900) > layer.0.backward [510,800); optimizer [900,990);
 *           eval [1100, never closed)
 *   t=230 layer.0.act 2 MiB at A0+4M, freed t=600        seq 1: activation (fwd -> bwd, step 0), layer 0
 *   t=240 tmp 1 MiB at A0+6M, freed t=250                seq 2: temporary (same step)
 *   t=260 x1 1 MiB at A0+6M, freed t=260; x2 512 KiB at A0+6M at t=260, freed t=270
 *                                                        seq 3 [260,260], seq 4 [260,270]
 *   t=300 cudaMalloc 3 MiB at B (context nccl)           seq 5: communication (call site), alive
 *   t=310 cudaMalloc 1 MiB at C, freed t=950 (optimizer) seq 6: temporary, free phase optimizer
 *   t=520 gradient/g 4 MiB at A0+8M, resized to 6 MiB at t=700   seq 7: gradient, alive
 * kernels: t=230 launch 10 ns (no GPU time); t=520 launch 20 ns, GPU 1000..1050 (50 ns)
 *   layer.0.forward 10, forward 10, layer.0.backward 50, backward 50, step 0: 60, optimizer 0.
 * Frees in time order: 2 (250), 3 (260), 4 (270), 1 (600), 6 (950); then alive by seq: 0, 5, 7. */
static void write_main(const char *name, char *path, size_t n)
{
  mt_trace *t = create(name, 0, 1, path, n);
  uint64_t B = 0x7f1000000000ull, C = 0x7f2000000000ull;
  reg(t, 50, MT_REGION_UNREGISTER, 1, A0 + 12 * MiB, 0, NULL);
  mem(t, 60, MT_MEM_FREE, 0xdead000, 0, MT_CTX_APP);
  mem(t, 100, MT_MEM_ALLOC, A0, 20 * MiB, MT_CTX_APP);
  heap(t, 1, A0, 20 * MiB, 101, -1);
  reg(t, 110, MT_REGION_REGISTER, 1, A0, 4 * MiB, "parameter/w");
  range(t, 200, 1000, "step 0", 0);
  range(t, 210, 500, "forward", 1);
  range(t, 220, 400, "layer.0.forward", 2);
  reg(t, 230, MT_REGION_REGISTER, 1, A0 + 4 * MiB, 2 * MiB, "layer.0.act");
  kernel(t, 230, 10, -1, -1);
  reg(t, 240, MT_REGION_REGISTER, 1, A0 + 6 * MiB, 1 * MiB, "tmp");
  reg(t, 250, MT_REGION_UNREGISTER, 1, A0 + 6 * MiB, 1 * MiB, NULL);
  reg(t, 260, MT_REGION_REGISTER, 1, A0 + 6 * MiB, 1 * MiB, "x1");
  reg(t, 260, MT_REGION_UNREGISTER, 1, A0 + 6 * MiB, 1 * MiB, NULL);
  reg(t, 260, MT_REGION_REGISTER, 1, A0 + 6 * MiB, 512 * KiB, "x2");
  reg(t, 270, MT_REGION_UNREGISTER, 1, A0 + 6 * MiB, 512 * KiB, NULL);
  mem(t, 300, MT_MEM_ALLOC, B, 3 * MiB, MT_CTX_NCCL);
  mem(t, 310, MT_MEM_ALLOC, C, 1 * MiB, MT_CTX_APP);
  range(t, 500, 900, "backward", 1);
  range(t, 510, 800, "layer.0.backward", 2);
  reg(t, 520, MT_REGION_REGISTER, 1, A0 + 8 * MiB, 4 * MiB, "gradient/g");
  kernel(t, 520, 20, 1000, 1050);
  reg(t, 600, MT_REGION_UNREGISTER, 1, A0 + 4 * MiB, 2 * MiB, NULL);
  reg(t, 700, MT_REGION_RESIZE, 1, A0 + 8 * MiB, 6 * MiB, NULL);
  range(t, 900, 990, "optimizer", 1);
  mem(t, 950, MT_MEM_FREE, C, 0, MT_CTX_APP);
  range(t, 1100, -1, "eval", 0);
  finish(t);
}

static void test_lifetimes_main(void **state)
{
  (void)state;
  char path[512];
  write_main("main.mtrace", path, sizeof path);
  seen *s = calloc(1, sizeof *s);
  walk(path, s, 1, 0);
  assert_int_equal(s->nlt, 8);
  /* emission order: frees in time order, then the living by seq */
  static const uint64_t order[8] = { 2, 3, 4, 1, 6, 0, 5, 7 };
  for (size_t i = 0; i < 8; i++)
    assert_int_equal(s->lt[i].l.seq, order[i]);

  const seen_lt *w = by_seq(s, 0);
  assert_true(w->l.obj.is_tensor);
  assert_int_equal(w->l.obj.heap, 1);
  assert_int_equal(w->l.obj.addr, A0);
  assert_int_equal(w->l.obj.alloc_ts, 110);
  assert_true(w->l.obj.free_ts < 0);
  assert_int_equal(w->l.end, MT_END_ALIVE);
  assert_int_equal(w->l.size0, 4 * MiB);
  assert_int_equal(w->l.obj.stream, 7);
  assert_int_equal(w->l.obj.category, MT_CAT_PARAMETER);
  assert_int_equal(w->l.obj.rule, MT_RULE_ANNOTATION);
  assert_string_equal(w->label, "parameter/w");
  assert_int_equal(w->l.obj.step, -1);
  assert_int_equal(w->l.phase_kind, MT_PHASE_NONE);
  assert_int_equal(w->l.free_step, -1);

  const seen_lt *act = by_seq(s, 1);
  assert_int_equal(act->l.obj.alloc_ts, 230);
  assert_int_equal(act->l.obj.free_ts, 600);
  assert_int_equal(act->l.end, MT_END_FREED);
  assert_int_equal(act->l.obj.category, MT_CAT_ACTIVATION);
  assert_int_equal(act->l.obj.rule, MT_RULE_FWD_BWD);
  assert_int_equal(act->l.obj.step, 0);
  assert_int_equal(act->l.obj.layer, 0);
  assert_string_equal(act->phase, "forward");
  assert_int_equal(act->l.phase_kind, MT_PHASE_FORWARD);
  assert_int_equal(act->l.free_step, 0);
  assert_int_equal(act->l.free_phase_kind, MT_PHASE_BACKWARD);

  const seen_lt *tmp = by_seq(s, 2);
  assert_int_equal(tmp->l.obj.alloc_ts, 240);
  assert_int_equal(tmp->l.obj.free_ts, 250);
  assert_int_equal(tmp->l.obj.category, MT_CAT_TEMPORARY);
  assert_int_equal(tmp->l.obj.rule, MT_RULE_SAME_PHASE);

  /* the address reused within t=260: two lifetimes, in order */
  const seen_lt *x1 = by_seq(s, 3), *x2 = by_seq(s, 4);
  assert_string_equal(x1->label, "x1");
  assert_int_equal(x1->l.obj.alloc_ts, 260);
  assert_int_equal(x1->l.obj.free_ts, 260);
  assert_int_equal(x1->l.size0, 1 * MiB);
  assert_string_equal(x2->label, "x2");
  assert_int_equal(x2->l.obj.alloc_ts, 260);
  assert_int_equal(x2->l.obj.free_ts, 270);
  assert_int_equal(x2->l.size0, 512 * KiB);
  assert_int_equal(x2->l.obj.addr, A0 + 6 * MiB);

  const seen_lt *nccl = by_seq(s, 5);
  assert_false(nccl->l.obj.is_tensor);
  assert_int_equal(nccl->l.obj.heap, 0);
  assert_int_equal(nccl->l.obj.alloc_ts, 300);
  assert_true(nccl->l.obj.free_ts < 0);
  assert_int_equal(nccl->l.obj.category, MT_CAT_COMMUNICATION);
  assert_int_equal(nccl->l.obj.rule, MT_RULE_CALL_SITE);
  assert_int_equal(nccl->l.obj.context, MT_CTX_NCCL);

  const seen_lt *app = by_seq(s, 6);
  assert_false(app->l.obj.is_tensor);
  assert_int_equal(app->l.obj.alloc_ts, 310);
  assert_int_equal(app->l.obj.free_ts, 950);
  assert_int_equal(app->l.obj.category, MT_CAT_TEMPORARY);
  assert_int_equal(app->l.free_phase_kind, MT_PHASE_OPTIMIZER);
  assert_int_equal(app->l.free_step, 0);

  /* the resize: 4 MiB from 520, 6 MiB from 700 */
  const seen_lt *g = by_seq(s, 7);
  assert_int_equal(g->l.obj.category, MT_CAT_GRADIENT);
  assert_int_equal(g->l.size0, 4 * MiB);
  assert_int_equal(g->l.obj.size, 6 * MiB);
  assert_int_equal(g->l.nresizes, 1);
  assert_int_equal(g->rs[0].ts, 700);
  assert_int_equal(g->rs[0].size, 6 * MiB);
  assert_int_equal(g->l.phase_kind, MT_PHASE_BACKWARD);
  assert_int_equal(g->l.obj.layer, 0);
  free(s);
}

/* The same trace's ranges: start order (seq), context, kernel time. */
static void test_ranges_main(void **state)
{
  (void)state;
  char path[512];
  write_main("ranges.mtrace", path, sizeof path);
  seen *s = calloc(1, sizeof *s);
  walk(path, s, 0, 1);
  assert_int_equal(s->nlt, 0);
  assert_int_equal(s->nrg, 7);
  /* reported at their ends: layer.0.forward (400), forward (500),
     layer.0.backward (800), backward (900), optimizer (990), step 0 (1000);
     then eval, never closed */
  static const char *const names[7] = { "layer.0.forward", "forward", "layer.0.backward", "backward",
                                        "optimizer", "step 0", "eval" };
  static const uint64_t seqs[7] = { 2, 1, 4, 3, 5, 0, 6 };
  static const int depth[7] = { 2, 1, 2, 1, 1, 0, 0 };
  static const int64_t kns[7] = { 10, 10, 50, 50, 0, 60, 0 };
  static const uint64_t nk[7] = { 1, 1, 1, 1, 0, 2, 0 };
  static const int kinds[7] = { MT_PHASE_FORWARD, MT_PHASE_FORWARD, MT_PHASE_BACKWARD, MT_PHASE_BACKWARD,
                                MT_PHASE_OPTIMIZER, MT_PHASE_NONE, MT_PHASE_OTHER };
  for (size_t i = 0; i < 7; i++) {
    const mt_range_span *r = &s->rg[i].r;
    assert_string_equal(s->rg[i].name, names[i]);
    assert_int_equal(r->seq, seqs[i]);
    assert_int_equal(r->depth, depth[i]);
    assert_int_equal(r->kernel_ns, kns[i]);
    assert_int_equal(r->kernels, nk[i]);
    assert_int_equal(r->phase_kind, kinds[i]);
    assert_int_equal(r->step, i < 6 ? 0 : -1);
  }
  assert_int_equal(s->rg[0].r.ts, 220);
  assert_int_equal(s->rg[0].r.te, 400);
  assert_int_equal(s->rg[0].r.layer, 0);
  assert_int_equal(s->rg[0].r.cls.kind, MT_PHASE_FORWARD);
  assert_false(s->rg[0].r.cls.exact_phase);
  assert_int_equal(s->rg[0].r.cls.layer, 0);
  assert_true(s->rg[1].r.cls.exact_phase);
  assert_int_equal(s->rg[5].r.cls.step, 0);
  assert_int_equal(s->rg[5].r.layer, -1);
  assert_int_equal(s->rg[6].r.ts, 1100);
  assert_true(s->rg[6].r.te < 0);
  free(s);
}

/* A callback that returns non-zero stops the walk: MT_OK, no more calls. */
static void test_lifetimes_stop(void **state)
{
  (void)state;
  char path[512];
  write_main("stop.mtrace", path, sizeof path);
  seen *s = calloc(1, sizeof *s);
  s->stop_after = 2;
  walk(path, s, 1, 1);
  assert_int_equal(s->nlt, 2);
  assert_int_equal(s->lt[0].l.seq, 2);
  assert_int_equal(s->lt[1].l.seq, 3);
  free(s);
}

/* A heap destroyed with blocks live, a lost cudaFree, an uncovered
 * allocation outside any range:
 *   t=10 cudaMalloc 8 MiB at A0; heap 2 over it created t=11, destroyed t=100
 *        (alive when the heap was created: covered, no lifetime)
 *   t=20 "a" 1 MiB at A0, freed t=40                     seq 0 [20,40] freed
 *   t=30 "b" 2 MiB at A0+1M, never unregistered          seq 1 [30,100] heap destroyed
 *   t=50 cudaMalloc 1 MiB at D, freed t=60               seq 2 [50,60]: no ranges, no name -> other/unknown
 *   t=70 cudaMalloc 1 MiB at E; t=80 again at E (the free between was lost), freed t=90
 *                                                        seq 3 alive (never freed as far as the trace says)
 *                                                        seq 4 [80,90]
 *   t=110 cudaFree A0 (covered: no lifetime)
 * Emission: 0 (40), 2 (60), 4 (90), 1 (100), then 3. */
static void test_lifetimes_heap_destroyed(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("heap.mtrace", 0, 1, path, sizeof path);
  uint64_t D = 0x7f3000000000ull, E = 0x7f4000000000ull;
  mem(t, 10, MT_MEM_ALLOC, A0, 8 * MiB, MT_CTX_APP);
  heap(t, 2, A0, 8 * MiB, 11, 100);
  reg(t, 20, MT_REGION_REGISTER, 2, A0, 1 * MiB, "a");
  reg(t, 30, MT_REGION_REGISTER, 2, A0 + 1 * MiB, 2 * MiB, "b");
  reg(t, 40, MT_REGION_UNREGISTER, 2, A0, 1 * MiB, NULL);
  mem(t, 50, MT_MEM_ALLOC, D, 1 * MiB, MT_CTX_APP);
  mem(t, 60, MT_MEM_FREE, D, 0, MT_CTX_APP);
  mem(t, 70, MT_MEM_ALLOC, E, 1 * MiB, MT_CTX_APP);
  mem(t, 80, MT_MEM_ALLOC, E, 2 * MiB, MT_CTX_APP);
  mem(t, 90, MT_MEM_FREE, E, 0, MT_CTX_APP);
  mem(t, 110, MT_MEM_FREE, A0, 0, MT_CTX_APP);
  finish(t);
  seen *s = calloc(1, sizeof *s);
  walk(path, s, 1, 1);
  assert_int_equal(s->nrg, 0);
  assert_int_equal(s->nlt, 5);
  static const uint64_t order[5] = { 0, 2, 4, 1, 3 };
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(s->lt[i].l.seq, order[i]);
  const seen_lt *a = by_seq(s, 0), *b = by_seq(s, 1), *d = by_seq(s, 2), *e1 = by_seq(s, 3), *e2 = by_seq(s, 4);
  assert_int_equal(a->l.obj.free_ts, 40);
  assert_int_equal(a->l.end, MT_END_FREED);
  assert_int_equal(b->l.obj.alloc_ts, 30);
  assert_int_equal(b->l.obj.free_ts, 100);
  assert_int_equal(b->l.end, MT_END_HEAP_DESTROYED);
  assert_int_equal(b->l.obj.heap, 2);
  assert_int_equal(d->l.obj.alloc_ts, 50);
  assert_int_equal(d->l.obj.free_ts, 60);
  assert_false(d->l.obj.is_tensor);
  assert_int_equal(d->l.obj.category, MT_CAT_OTHER);
  assert_int_equal(d->l.obj.rule, MT_RULE_UNKNOWN);
  assert_int_equal(e1->l.obj.alloc_ts, 70);
  assert_true(e1->l.obj.free_ts < 0);
  assert_int_equal(e1->l.end, MT_END_ALIVE);
  assert_int_equal(e1->l.size0, 1 * MiB);
  assert_int_equal(e2->l.obj.alloc_ts, 80);
  assert_int_equal(e2->l.obj.free_ts, 90);
  assert_int_equal(e2->l.size0, 2 * MiB);
  free(s);
}

/* A region registered twice at one address (the unregister was lost): the
 * first ends where the second begins. */
static void test_lifetimes_reregistered(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("rereg.mtrace", 0, 1, path, sizeof path);
  mem(t, 10, MT_MEM_ALLOC, A0, 8 * MiB, MT_CTX_APP);
  heap(t, 3, A0, 8 * MiB, 10, -1);
  reg(t, 20, MT_REGION_REGISTER, 3, A0, 1 * MiB, "first");
  reg(t, 30, MT_REGION_REGISTER, 3, A0, 2 * MiB, "second");
  reg(t, 40, MT_REGION_UNREGISTER, 3, A0, 2 * MiB, NULL);
  finish(t);
  seen *s = calloc(1, sizeof *s);
  walk(path, s, 1, 0);
  assert_int_equal(s->nlt, 2);
  assert_string_equal(s->lt[0].label, "first");
  assert_int_equal(s->lt[0].l.obj.free_ts, 30);
  assert_int_equal(s->lt[0].l.end, MT_END_REREGISTERED);
  assert_string_equal(s->lt[1].label, "second");
  assert_int_equal(s->lt[1].l.obj.alloc_ts, 30);
  assert_int_equal(s->lt[1].l.obj.free_ts, 40);
  free(s);
}

/* The lifetimes agree with the report: live at its peak they add up to the
 * allocated peak, each with the category the peak snapshot gives it. */
static void test_lifetimes_agree_with_report(void **state)
{
  (void)state;
  char path[512];
  write_main("agree.mtrace", path, sizeof path);
  mt_analysis *a = NULL;
  mt_error err = { 0 };
  assert_int_equal(mt_analysis_run(path, NULL, &a, &err), MT_OK);
  const mt_rank *r = &a->ranks[0];
  seen *s = calloc(1, sizeof *s);
  walk(path, s, 1, 0);
  uint64_t live = 0, by_cat[MT_CAT_COUNT] = { 0 };
  for (size_t i = 0; i < s->nlt; i++) {
    const mt_lifetime *l = &s->lt[i].l;
    if (l->obj.alloc_ts > r->peak_allocated_ts || (l->obj.free_ts >= 0 && l->obj.free_ts <= r->peak_allocated_ts))
      continue;
    uint64_t size = l->size0;   /* its size at the peak */
    for (size_t k = 0; k < l->nresizes; k++)
      if (s->lt[i].rs[k].ts <= r->peak_allocated_ts)
        size = s->lt[i].rs[k].size;
    live += size;
    by_cat[l->obj.category] += size;
  }
  assert_int_equal(live, r->peak_allocated);
  for (int c = 0; c < MT_CAT_CACHE_FREE; c++)
    assert_int_equal(by_cat[c], r->peak.by_category[c]);
  mt_analysis_free(a);
  free(s);
}

/* What two walks saw, equal field by field (not the pointers). */
#define SAME(f) assert_int_equal(x->f, y->f)
static void assert_same_walk(const seen *a, const seen *b)
{
  assert_int_equal(a->nlt, b->nlt);
  for (size_t i = 0; i < a->nlt; i++) {
    const seen_lt *x = &a->lt[i], *y = &b->lt[i];
    SAME(l.seq), SAME(l.obj.alloc_ts), SAME(l.obj.free_ts), SAME(l.obj.addr), SAME(l.obj.stream);
    SAME(l.obj.category), SAME(l.obj.rule), SAME(l.obj.step), SAME(l.obj.layer), SAME(l.size0), SAME(l.end);
    SAME(l.phase_kind), SAME(l.free_phase_kind), SAME(l.nresizes);
    assert_string_equal(x->label, y->label);
    assert_string_equal(x->phase, y->phase);
  }
  assert_int_equal(a->nrg, b->nrg);
  for (size_t i = 0; i < a->nrg; i++) {
    const seen_rg *x = &a->rg[i], *y = &b->rg[i];
    SAME(r.seq), SAME(r.ts), SAME(r.te), SAME(r.step), SAME(r.phase_kind), SAME(r.kernels), SAME(r.kernel_ns);
    assert_string_equal(x->name, y->name);
  }
}
#undef SAME

/* Walks path without the reading threads (MEMTRACE_THREADS=1) into ref and
 * with them into s, and compares. */
static void walk_both(const char *path, seen *ref, seen *s)
{
  memset(ref, 0, sizeof *ref);
  memset(s, 0, sizeof *s);
  setenv("MEMTRACE_THREADS", "1", 1);
  walk(path, ref, 1, 1);
  unsetenv("MEMTRACE_THREADS");
  walk(path, s, 1, 1);
  assert_int_equal(ref->nlt, 8);
  assert_same_walk(ref, s);
}

/* The walk reads its inputs ahead in other threads (a finished trace on a
 * file); what it reports is the same without them (MEMTRACE_THREADS=1),
 * with the rows stored out of time order (the read ahead goes through the
 * ORDER BY: it cannot start again), and when the second connection cannot
 * be had (the file renamed once opened: the walk reads on its own
 * connection from the first row). */
static void test_lifetimes_read_ahead(void **state)
{
  (void)state;
  char path[512], moved[520];
  write_main("ahead.mtrace", path, sizeof path);
  seen *ref = calloc(1, sizeof *ref), *s = calloc(1, sizeof *s);
  walk_both(path, ref, s);

  /* the second connection cannot open the file */
  snprintf(moved, sizeof moved, "%s.moved", path);
  mt_trace *t = NULL;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_open(path, 0, &t, &err), MT_OK);
  assert_int_equal(rename(path, moved), 0);
  memset(s, 0, sizeof *s);
  mt_lifetime_visitor v = { .lifetime = on_lt, .range = on_rg, .arg = s };
  assert_int_equal(mt_lifetimes_walk(t, &v, &err), MT_OK);
  mt_trace_close(t);
  assert_int_equal(rename(moved, path), 0);
  assert_same_walk(ref, s);

  /* every event table stored in reverse (ties at t=260 change order: the
     reference is taken again, without threads) */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  static const char *const tables[] = { "region_events", "mem_events", "ranges", "kernel_launches" };
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN; CREATE TEMP TABLE r AS SELECT * FROM %s ORDER BY rowid DESC; DELETE FROM %s;"
             "INSERT INTO %s SELECT * FROM r; DROP TABLE r; COMMIT;",
             tables[i], tables[i], tables[i]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  }
  /* and ranges without their time index (as a recorder stopped before its
     indexes were built leaves them): the read-ahead's ORDER BY then sorts */
  assert_int_equal(sqlite3_exec(db, "DROP INDEX IF EXISTS ranges_by_ts", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  walk_both(path, ref, s);
  free(ref);
  free(s);
}

/* Rank and world: the process row's, else the NCCL guess; communicators
 * in creation order. */
static void test_rank_and_communicators(void **state)
{
  (void)state;
  char p1[512], p2[512];
  mt_trace *t = create("r1.mtrace", 3, 4, p1, sizeof p1);
  mt_comm_info c1 = { .id = 1, .handle = 11, .nranks = 4, .rank = 3, .created = 50, .destroyed = -1 };
  mt_comm_info c2 = { .id = 2, .handle = 12, .nranks = 2, .rank = 1, .created = 20, .destroyed = 90 };
  assert_int_equal(mt_trace_put_comm(t, &c1), MT_OK);
  assert_int_equal(mt_trace_put_comm(t, &c2), MT_OK);
  finish(t);
  /* no rank in the environment (rank 0, world 1): the collector's guess */
  t = create("r2.mtrace", 0, 1, p2, sizeof p2);
  assert_int_equal(mt_trace_put_meta(t, "rank.nccl", "2"), MT_OK);
  assert_int_equal(mt_trace_put_meta(t, "world_size.nccl", "8"), MT_OK);
  finish(t);

  mt_error err = { 0 };
  int rank = -1, world = -1;
  assert_int_equal(mt_trace_open(p1, 0, &t, &err), MT_OK);
  assert_int_equal(mt_trace_rank(t, &rank, &world, &err), MT_OK);
  assert_int_equal(rank, 3);
  assert_int_equal(world, 4);
  mt_communicator cv[4];
  size_t n = 0;
  assert_int_equal(mt_trace_communicators(t, cv, 4, &n, &err), MT_OK);
  assert_int_equal(n, 2);
  assert_int_equal(cv[0].id, 2);   /* created at 20, before id 1 (50) */
  assert_int_equal(cv[0].nranks, 2);
  assert_int_equal(cv[0].destroyed, 90);
  assert_int_equal(cv[1].id, 1);
  assert_int_equal(cv[1].nranks, 4);
  assert_int_equal(cv[1].rank, 3);
  assert_true(cv[1].destroyed < 0);
  assert_int_equal(mt_trace_communicators(t, NULL, 0, &n, &err), MT_OK);   /* count only */
  assert_int_equal(n, 2);
  mt_trace_close(t);

  assert_int_equal(mt_trace_open(p2, 0, &t, &err), MT_OK);
  assert_int_equal(mt_trace_rank(t, &rank, &world, &err), MT_OK);
  assert_int_equal(rank, 2);
  assert_int_equal(world, 8);
  assert_int_equal(mt_trace_communicators(t, cv, 4, &n, &err), MT_OK);
  assert_int_equal(n, 0);
  mt_trace_close(t);
}

static void test_range_classify(void **state)
{
  (void)state;
  mt_range_class c;
  mt_range_classify("layer.3.recompute", &c);
  assert_int_equal(c.kind, MT_PHASE_RECOMPUTE);
  assert_int_equal(c.layer, 3);
  assert_int_equal(c.step, -1);
  assert_false(c.exact_phase);
  mt_range_classify("iteration 12", &c);
  assert_int_equal(c.step, 12);
  mt_range_classify("optimizer", &c);
  assert_int_equal(c.kind, MT_PHASE_OPTIMIZER);
  assert_true(c.exact_phase);
  mt_range_classify(NULL, &c);
  assert_int_equal(c.kind, MT_PHASE_NONE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lifetimes_main),
    cmocka_unit_test(test_ranges_main),
    cmocka_unit_test(test_lifetimes_stop),
    cmocka_unit_test(test_lifetimes_heap_destroyed),
    cmocka_unit_test(test_lifetimes_reregistered),
    cmocka_unit_test(test_lifetimes_agree_with_report),
    cmocka_unit_test(test_lifetimes_read_ahead),
    cmocka_unit_test(test_rank_and_communicators),
    cmocka_unit_test(test_range_classify),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
