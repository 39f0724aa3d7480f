/* Writes synthetic training traces for the analyzer benchmarks: steps of
 * forward/backward/optimizer over L layers, each tensor a region in one of
 * a few 1 GiB heap segments, temporaries freed at once, activations freed
 * in backward, kernels and NCCL calls between them.
 *
 *   analyzer-mktrace FILE [EVENTS]          one trace (default 10 million events)
 *   analyzer-mktrace --ranks N [--outliers K] [--seed S] DIR [EVENTS]
 *
 * The second writes a run directory of N rank traces of about EVENTS
 * events each (default 100000), 8 ranks per host ("node<R/8>"), as a
 * data-parallel job looks: every rank the same model, its activations a
 * little larger or smaller (+-2%, the batch's sequence lengths), and K
 * outlier ranks (default 3 when N >= 16, else 0) that differ as real ones
 * do -- one holds 60% more activations (an unbalanced batch), one leaks a
 * 64 MiB communication buffer per step (its memory grows over time), one
 * keeps an extra 256 MiB of optimizer state.  DIR/truth.json holds, per
 * rank, what the generator itself counted: the peak of allocated bytes
 * (live tensor bytes), the peak of reserved bytes, and which ranks are
 * outliers of which kind; the tests compare the report with it. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "schemas/trace.h"

#define GiB (1024ull * 1024ull * 1024ull)
#define MiB (1024ull * 1024ull)
#define NSEG 8
#define LAYERS 24

enum { OUT_NONE, OUT_ACTIVATION, OUT_LEAK, OUT_OPTIMIZER, OUT_KINDS };
static const char *const out_names[] = { "none", "activation", "communication", "optimizer_state" };

static mt_trace *t;
static int64_t now;
static uint64_t events;
static uint64_t seg_top[NSEG];
static int64_t name_range[LAYERS][2], k_name[8], lbl[LAYERS][4];
static uint64_t live, live_peak, reserved, reserved_peak;

static void put_region(int op, int heap, uint64_t addr, uint64_t size, int64_t label)
{
  mt_region_event e = { .ts = now++, .op = op, .heap = heap, .addr = addr, .size = size, .thread = 1,
                        .stack = 1 + (int64_t)(events % 97), .label_id = label };
  mt_trace_put_region(t, &e);
  events++;
  live = op == MT_REGION_REGISTER ? live + size : live - size;
  if (live > live_peak)
    live_peak = live;
}

static void kernel(int k)
{
  mt_kernel_event e = { .ts = now++, .dur = 3, .api = MT_API_cudaLaunchKernel, .name_id = k_name[k], .thread = 1,
                        .grid = { 64, 1, 1 }, .block = { 128, 1, 1 }, .gpu_start = -1, .gpu_end = -1 };
  mt_trace_put_kernel(t, &e);
  events++;
}

static uint64_t seg_addr(int seg)
{
  return 0x7f0000000000ull + (uint64_t)seg * 2 * GiB;
}

/* a bump allocator per segment, reset each step (the pool reuses memory) */
static uint64_t take(int seg, uint64_t size)
{
  uint64_t a = seg_addr(seg) + seg_top[seg];
  seg_top[seg] += size;
  return a;
}

static void new_segment(int id, uint64_t addr, uint64_t size)
{
  mt_mem_event m = { .ts = now++, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE,
                     .addr = addr, .size = size, .thread = 1 };
  mt_trace_put_mem(t, &m);
  mt_heap_info h = { .id = id, .handle = (uint64_t)id, .usage = MT_HEAP_POOL, .addr = addr, .size = size,
                     .created = now++, .destroyed = -1 };
  mt_trace_put_heap(t, &h);
  events++;
  reserved += size;
  if (reserved > reserved_peak)
    reserved_peak = reserved;
}

static uint64_t rng_state;
static double uniform(void)   /* splitmix64: reproducible across platforms */
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* One rank's trace.  scale: its activations' size factor; kind: OUT_*. */
static int write_trace(const char *path, int rank, int world, uint64_t target, double scale, int kind)
{
  mt_process_info p = { .rank = rank, .local_rank = rank % 8, .world_size = world, .pid = 1000 + rank,
                        .start_ns = 1000000000, .end_ns = -1 };
  snprintf(p.run_id, sizeof p.run_id, "bench");
  snprintf(p.host, sizeof p.host, world > 1 ? "node%d" : "bench", rank / 8);
  p.command_line = "analyzer-mktrace";
  p.producer = "analyzer-mktrace";
  mt_error err = { 0 };
  if (mt_trace_create(path, &p, &t, &err) != MT_OK) {
    fprintf(stderr, "analyzer-mktrace: %s\n", err.msg);
    return -1;
  }
  now = 1000;
  events = live = live_peak = reserved = reserved_peak = 0;
  memset(seg_top, 0, sizeof seg_top);
  mt_trace_begin(t);
  char buf[64];
  for (int l = 0; l < LAYERS; l++) {
    snprintf(buf, sizeof buf, "layer.%d.forward", l);
    name_range[l][0] = mt_trace_intern(t, buf);
    snprintf(buf, sizeof buf, "layer.%d.backward", l);
    name_range[l][1] = mt_trace_intern(t, buf);
    snprintf(buf, sizeof buf, "parameter/layer.%d.weight", l);
    lbl[l][0] = mt_trace_intern(t, buf);
    snprintf(buf, sizeof buf, "layer.%d.act", l);
    lbl[l][1] = mt_trace_intern(t, buf);
    snprintf(buf, sizeof buf, "layer.%d.tmp", l);
    lbl[l][2] = mt_trace_intern(t, buf);
    snprintf(buf, sizeof buf, "layer.%d.grad.tmp", l);
    lbl[l][3] = mt_trace_intern(t, buf);
  }
  for (int k = 0; k < 8; k++) {
    snprintf(buf, sizeof buf, "sm90_xmma_gemm_bf16_kernel_%d", k);
    k_name[k] = mt_trace_intern(t, buf);
  }
  int64_t fwd = mt_trace_intern(t, "forward"), bwd = mt_trace_intern(t, "backward"),
          opt = mt_trace_intern(t, "optimizer"), leak_lbl = mt_trace_intern(t, "communication/bucket.leaked"),
          opt_lbl = mt_trace_intern(t, "optimizer_state/extra.exp_avg");
  /* segments and parameters */
  for (int s = 0; s < NSEG; s++)
    new_segment(s + 1, seg_addr(s), GiB);
  for (int l = 0; l < LAYERS; l++)
    put_region(MT_REGION_REGISTER, 1, take(0, 16 << 20), 16 << 20, lbl[l][0]);
  if (kind == OUT_OPTIMIZER)
    put_region(MT_REGION_REGISTER, 1, take(0, 256 * MiB), 256 * MiB, opt_lbl);
  uint64_t base0 = seg_top[0];
  /* the leak: its own segment, one buffer more each step */
  uint64_t leak_top = 0;
  int leak_seg = 0;
  static uint64_t act_addr[LAYERS][64], act_size[LAYERS][64];
  for (int step = 0; events < target; step++) {
    for (int s = 0; s < NSEG; s++)
      seg_top[s] = s == 0 ? base0 : 0;
    mt_range_event st = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .thread = 1 };
    snprintf(buf, sizeof buf, "step %d", step);
    st.name_id = mt_trace_intern(t, buf);
    mt_range_event fr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = fwd, .depth = 1, .thread = 1 };
    for (int l = 0; l < LAYERS; l++) {
      mt_range_event lr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = name_range[l][0], .depth = 2, .thread = 1 };
      for (int i = 0; i < 64; i++) {
        /* sizes in 512-byte units, as the caching allocator rounds them */
        uint64_t sz = (uint64_t)((double)((uint64_t)(1 + (i * 7 + l) % 13) << 16) * scale) / 512 * 512;
        act_size[l][i] = sz;
        act_addr[l][i] = take(1 + l % (NSEG - 1), sz);
        put_region(MT_REGION_REGISTER, 2 + l % (NSEG - 1), act_addr[l][i], sz, lbl[l][1]);
        uint64_t ta = take(1 + l % (NSEG - 1), 1 << 20);
        put_region(MT_REGION_REGISTER, 2 + l % (NSEG - 1), ta, 1 << 20, lbl[l][2]);
        kernel(i % 8);
        put_region(MT_REGION_UNREGISTER, 2 + l % (NSEG - 1), ta, 1 << 20, 0);
      }
      lr.te = now++;
      mt_trace_put_range(t, &lr);
      events++;
    }
    fr.te = now++;
    mt_trace_put_range(t, &fr);
    mt_range_event br = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = bwd, .depth = 1, .thread = 1 };
    for (int l = LAYERS - 1; l >= 0; l--) {
      mt_range_event lr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = name_range[l][1], .depth = 2, .thread = 1 };
      for (int i = 63; i >= 0; i--) {
        uint64_t ta = take(1 + l % (NSEG - 1), 1 << 19);
        put_region(MT_REGION_REGISTER, 2 + l % (NSEG - 1), ta, 1 << 19, lbl[l][3]);
        kernel((i + 3) % 8);
        put_region(MT_REGION_UNREGISTER, 2 + l % (NSEG - 1), ta, 1 << 19, 0);
        put_region(MT_REGION_UNREGISTER, 2 + l % (NSEG - 1), act_addr[l][i], act_size[l][i], 0);
      }
      mt_nccl_event n = { .ts = now++, .dur = 50, .op = MT_NCCL_ALLREDUCE, .comm = 1, .count = 1 << 20, .dtype = 7,
                          .bytes = 2 << 20, .peer = -1, .thread = 1, .gpu_start = -1, .gpu_end = -1 };
      mt_trace_put_nccl(t, &n);
      events++;
      lr.te = now++;
      mt_trace_put_range(t, &lr);
      events++;
    }
    br.te = now++;
    mt_trace_put_range(t, &br);
    if (kind == OUT_LEAK) {
      if (!leak_seg || leak_top + 64 * MiB > GiB) {
        leak_seg = leak_seg ? leak_seg + 1 : NSEG + 1;
        new_segment(leak_seg, seg_addr(leak_seg - 1), GiB);
        leak_top = 0;
      }
      put_region(MT_REGION_REGISTER, leak_seg, seg_addr(leak_seg - 1) + leak_top, 64 * MiB, leak_lbl);
      leak_top += 64 * MiB;
    }
    mt_range_event orr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = opt, .depth = 1, .thread = 1 };
    for (int k = 0; k < 64; k++)
      kernel(k % 8);
    orr.te = now++;
    mt_trace_put_range(t, &orr);
    st.te = now++;
    mt_trace_put_range(t, &st);
    events += 4;
    if (step % 20 == 0) {
      mt_trace_commit(t);
      mt_trace_begin(t);
    }
  }
  int rc = mt_trace_finalize(t, now) == MT_OK ? 0 : -1;
  mt_trace_close(t);
  return rc;
}

static int usage(void)
{
  fprintf(stderr, "usage: analyzer-mktrace FILE [EVENTS]\n"
                  "       analyzer-mktrace --ranks N [--outliers K] [--seed S] DIR [EVENTS]\n");
  return 2;
}

int main(int argc, char **argv)
{
  long nranks = 0, outliers = -1;
  uint64_t seed = 1;
  int a = 1;
  for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
    char *end;
    long v = strtol(argv[a + 1], &end, 10);
    if (*end || v < 0)
      return usage();
    if (!strcmp(argv[a], "--ranks") && v >= 1 && v <= 1 << 20)
      nranks = v;
    else if (!strcmp(argv[a], "--outliers"))
      outliers = v;
    else if (!strcmp(argv[a], "--seed"))
      seed = (uint64_t)v;
    else
      return usage();
  }
  if (a >= argc || argc - a > 2)
    return usage();
  const char *out = argv[a];
  uint64_t target = a + 1 < argc ? strtoull(argv[a + 1], NULL, 10) : nranks ? 100000ull : 10000000ull;
  if (!nranks) {
    if (write_trace(out, 0, 1, target, 1.0, OUT_NONE) != 0)
      return 1;
    printf("%llu events\n", (unsigned long long)events);
    return 0;
  }
  if (outliers < 0)
    outliers = nranks >= 16 ? 3 : 0;
  if (outliers > nranks)
    outliers = nranks;
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "analyzer-mktrace: %s: cannot create: %s\n", out, strerror(errno));
    return 1;
  }
  /* which ranks are outliers: distinct, drawn from the seed */
  rng_state = seed;
  int *kind = calloc((size_t)nranks, sizeof *kind);
  if (!kind)
    return 1;
  for (long k = 0; k < outliers; k++) {
    long r;
    do
      r = (long)(uniform() * (double)nranks);
    while (kind[r]);
    kind[r] = OUT_ACTIVATION + (int)(k % (OUT_KINDS - 1));
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/truth.json", out);
  FILE *tf = fopen(path, "w");
  if (!tf) {
    fprintf(stderr, "analyzer-mktrace: %s: cannot create: %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(tf, "{\"ranks\": [\n");
  uint64_t total = 0;
  for (long r = 0; r < nranks; r++) {
    double scale = 0.98 + 0.04 * uniform();
    if (kind[r] == OUT_ACTIVATION)
      scale *= 1.6;
    snprintf(path, sizeof path, "%s/rank%ld.%ld.mtrace", out, r, 1000 + r);
    if (write_trace(path, (int)r, (int)nranks, target, scale, kind[r]) != 0)
      return 1;
    total += events;
    fprintf(tf, "  {\"rank\": %ld, \"peak_allocated\": %" PRIu64 ", \"peak_reserved\": %" PRIu64
                ", \"outlier\": \"%s\", \"events\": %" PRIu64 "}%s\n",
            r, live_peak, reserved_peak, out_names[kind[r]], events, r + 1 < nranks ? "," : "");
  }
  fprintf(tf, "]}\n");
  free(kind);
  if (fclose(tf) != 0)
    return 1;
  printf("%ld ranks, %llu events\n", nranks, (unsigned long long)total);
  return 0;
}
