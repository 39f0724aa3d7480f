/* Benchmark (not in make check): replay of a 1-million-event stream, and
 * recommend over a 48-layer recording.  Prints times; docs/PERFORMANCE.md. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "analyzer/replay/planner.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
  mt_rp_input in;
  mt_rp_input_init(&in);
  /* 500k tensors = 1M events: 48 layers x steps of forward/backward */
  int64_t t = 1;
  unsigned s = 1;
  char name[64];
  for (int step = 0; in.nt < 500000; step++) {
    int64_t stepts = t++;
    for (int k = 0; k < 48; k++) {
      mt_rp_window w = { 0 };
      snprintf(name, sizeof name, "layer.%d", k);
      w.kind = MT_RP_W_FORWARD;
      w.unit = mt_rp_input_unit(&in, name);
      w.step = step;
      w.ts = t++;
      for (int j = 0; j < 100; j++) {
        mt_rp_tensor x = { 0 };
        s = s * 1103515245u + 12345u;
        x.t_alloc = t++;
        x.t_free = t + 50 + (s >> 20) % 200;
        x.bytes = 512 + (s >> 8) % (4u << 20);
        x.cat = MT_RP_TEMPORARY;
        x.layer = -1;
        x.unit = -1;
        x.step = step;
        mt_rp_input_add(&in, &x);
      }
      w.te = t++;
      w.kernel_ns = 1000;
      mt_rp_input_add_window(&in, &w);
    }
    mt_rp_window st = { .kind = MT_RP_W_STEP, .unit = -1, .step = step, .ts = stepts, .te = t++ };
    mt_rp_input_add_window(&in, &st);
  }
  mt_rp_input_finish(&in);
  mt_rp_plan p;
  mt_rp_plan_init(&p);
  mt_rp_result r;
  double t0 = now();
  mt_rp_replay(&in, &p, &r);
  double t1 = now();
  printf("replay: %zu events in %.3f s (caching model), peak reserved %llu\n", r.nevents, t1 - t0,
         (unsigned long long)r.peak_reserved);
  mt_rp_input_free(&in);

  /* recommend on a smaller recording (the plans are replayed in full) */
  mt_rp_input_init(&in);
  t = 1;
  for (int k = 0; k < 48; k++) {
    snprintf(name, sizeof name, "layer.%d.params", k);
    mt_rp_tensor x = { .t_alloc = t++, .t_free = MT_RP_NEVER, .bytes = 8u << 20, .cat = MT_RP_PARAMETER,
                       .layer = -1, .unit = -1, .step = -1, .name = name };
    mt_rp_input_add(&in, &x);
  }
  int64_t fts[48], fte[48], sv[48][8];
  for (int k = 0; k < 48; k++) {
    fts[k] = t++;
    for (int j = 0; j < 8; j++)
      sv[k][j] = t++;
    fte[k] = t++;
  }
  for (int k = 47; k >= 0; k--) {
    int64_t bts = t++;
    for (int j = 0; j < 8; j++) {
      mt_rp_tensor x = { .t_alloc = sv[k][j], .t_free = t++, .bytes = 6u << 20, .cat = MT_RP_ACTIVATION,
                         .layer = -1, .unit = -1, .step = 0, .name = "act" };
      mt_rp_input_add(&in, &x);
    }
    int64_t bte = t++;
    snprintf(name, sizeof name, "layer.%d", k);
    mt_rp_window w = { .kind = MT_RP_W_FORWARD, .unit = mt_rp_input_unit(&in, name), .step = 0, .ts = fts[k],
                       .te = fte[k], .kernel_ns = 1000000 };
    mt_rp_input_add_window(&in, &w);
    w.kind = MT_RP_W_BACKWARD;
    w.ts = bts;
    w.te = bte;
    mt_rp_input_add_window(&in, &w);
  }
  mt_rp_window st = { .kind = MT_RP_W_STEP, .unit = -1, .step = 0, .ts = 0, .te = t + 100000000 };
  mt_rp_input_add_window(&in, &st);
  mt_rp_input_finish(&in);
  mt_rp_result b;
  mt_rp_baseline(&in, MT_RP_ALLOC_CACHING, &b);
  mt_rp_recommend_opts o = { .budget = b.peak_reserved / 2, .world = 8, .max_overhead = -1 };
  mt_rp_choice *c;
  size_t n, explored;
  t0 = now();
  mt_rp_recommend(&in, &o, &c, &n, &explored);
  t1 = now();
  printf("recommend: %zu plans replayed in %.3f s, best: %s\n", explored, t1 - t0, n ? c[0].options : "-");
  free(c);
  mt_rp_input_free(&in);
  return 0;
}
