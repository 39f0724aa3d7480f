/* Writes a synthetic training trace of about N events (default 10 million)
 * for the analyzer benchmark: steps of forward/backward/optimizer over L
 * layers, each tensor a region in one of a few 1 GiB heap segments,
 * temporaries freed at once, activations freed in backward, kernels and
 * NCCL calls between them.  Usage: analyzer-mktrace FILE [EVENTS] */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "schemas/trace.h"

#define GiB (1024ull * 1024ull * 1024ull)
#define NSEG 8
#define LAYERS 24

static mt_trace *t;
static int64_t now = 1000;
static uint64_t events;
static uint64_t seg_top[NSEG];
static int64_t name_range[LAYERS][2], k_name[8], lbl[LAYERS][4];

static void put_region(int op, int heap, uint64_t addr, uint64_t size, int64_t label)
{
  mt_region_event e = { .ts = now++, .op = op, .heap = heap, .addr = addr, .size = size, .thread = 1,
                        .stack = 1 + (int64_t)(events % 97), .label_id = label };
  mt_trace_put_region(t, &e);
  events++;
}

static void kernel(int k)
{
  mt_kernel_event e = { .ts = now++, .dur = 3, .api = MT_API_cudaLaunchKernel, .name_id = k_name[k], .thread = 1,
                        .grid = { 64, 1, 1 }, .block = { 128, 1, 1 }, .gpu_start = -1, .gpu_end = -1 };
  mt_trace_put_kernel(t, &e);
  events++;
}

/* a bump allocator per segment, reset each step (the pool reuses memory) */
static uint64_t take(int seg, uint64_t size)
{
  uint64_t a = 0x7f0000000000ull + (uint64_t)seg * 2 * GiB + seg_top[seg];
  seg_top[seg] += size;
  return a;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: analyzer-mktrace FILE [EVENTS]\n");
    return 2;
  }
  uint64_t target = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ull;
  mt_process_info p = { .rank = 0, .world_size = 1, .pid = 1, .start_ns = 1000000000, .end_ns = -1 };
  snprintf(p.run_id, sizeof p.run_id, "bench");
  snprintf(p.host, sizeof p.host, "bench");
  p.command_line = "analyzer-mktrace";
  p.producer = "analyzer-mktrace";
  mt_error err = { 0 };
  if (mt_trace_create(argv[1], &p, &t, &err) != MT_OK) {
    fprintf(stderr, "analyzer-mktrace: %s\n", err.msg);
    return 1;
  }
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
          opt = mt_trace_intern(t, "optimizer");
  /* segments and parameters */
  for (int s = 0; s < NSEG; s++) {
    mt_mem_event m = { .ts = now++, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE,
                       .addr = 0x7f0000000000ull + (uint64_t)s * 2 * GiB, .size = GiB, .thread = 1 };
    mt_trace_put_mem(t, &m);
    mt_heap_info h = { .id = s + 1, .handle = (uint64_t)s + 1, .usage = MT_HEAP_POOL, .addr = m.addr, .size = GiB,
                       .created = now++, .destroyed = -1 };
    mt_trace_put_heap(t, &h);
    events++;
  }
  for (int l = 0; l < LAYERS; l++)
    put_region(MT_REGION_REGISTER, 1, take(0, 16 << 20), 16 << 20, lbl[l][0]);
  uint64_t base0 = seg_top[0];
  static uint64_t act_addr[LAYERS][64];
  for (int step = 0; events < target; step++) {
    for (int s = 0; s < NSEG; s++)
      seg_top[s] = s == 0 ? base0 : 0;
    mt_range_event st = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .thread = 1 };
    snprintf(buf, sizeof buf, "step %d", step);
    st.name_id = mt_trace_intern(t, buf);
    int64_t step_start = st.ts;
    mt_range_event fr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = fwd, .depth = 1, .thread = 1 };
    for (int l = 0; l < LAYERS; l++) {
      mt_range_event lr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = name_range[l][0], .depth = 2, .thread = 1 };
      for (int i = 0; i < 64; i++) {
        uint64_t sz = (uint64_t)(1 + (i * 7 + l) % 13) << 16;
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
        uint64_t sz = (uint64_t)(1 + (i * 7 + l) % 13) << 16;
        put_region(MT_REGION_UNREGISTER, 2 + l % (NSEG - 1), act_addr[l][i], sz, 0);
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
    mt_range_event orr = { .ts = now++, .kind = MT_RANGE_PUSH_POP, .name_id = opt, .depth = 1, .thread = 1 };
    for (int k = 0; k < 64; k++)
      kernel(k % 8);
    orr.te = now++;
    mt_trace_put_range(t, &orr);
    st.te = now++;
    (void)step_start;
    mt_trace_put_range(t, &st);
    events += 4;
    if (step % 20 == 0) {
      mt_trace_commit(t);
      mt_trace_begin(t);
    }
  }
  int rc = mt_trace_finalize(t, now) == MT_OK ? 0 : 1;
  mt_trace_close(t);
  printf("%llu events\n", (unsigned long long)events);
  return rc;
}
