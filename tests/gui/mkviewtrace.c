/* Writes traces with known memory curves for the viewer tests.
 *
 *   mkviewtrace basic FILE         one rank, the curve below
 *   mkviewtrace run DIR            two ranks of one run (rank 1: 2 GiB of
 *                                  activations instead of 3)
 *   mkviewtrace big FILE NEVENTS   a long run of about NEVENTS events (bench)
 *
 * basic (times in ms, sizes in GiB; every tensor is annotated
 * "<category>/name", so the analysis's annotation rule decides):
 *   1    cudaMalloc 8 GiB segment, heap 1 covering it      reserved 8
 *   2    parameter/model.weights          2    .. end
 *   3    optimizer_state/adam.exp_avg     1    .. end
 *   20   activation/layers.0.out          3    .. 60
 *   30   cuBLAS workspace (device alloc, context blas) 0.25 .. 50
 *   45   gradient/model.grads             1    .. 80
 *   end 100.
 * So allocated peaks at 45 ms with 7.25 GiB; reserved peaks at 30 ms with
 * 8.25 GiB.  Ranges: step 0 [10,90]; forward [10,40], backward [40,70],
 * optimizer [70,90]; layers.0.forward [10,25], layers.1.forward [25,40].
 * Kernels: stream 1, one every ms from 10 to 89 (0.6 ms each); stream 2: 4.
 * NCCL: allreduce of 1 GiB on stream 2, [70,75]. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schemas/trace.h"

#define MS 1000000LL
#define GiB 1073741824ULL
#define MiB 1048576ULL
#define SEG 0x7f0000000000ULL
#define WS 0x7e0000000000ULL

static mt_trace *create(const char *path, int rank, int world)
{
  mt_process_info p = { 0 };
  snprintf(p.run_id, sizeof p.run_id, "run-view-test");
  p.rank = rank;
  p.local_rank = rank;
  p.world_size = world;
  snprintf(p.host, sizeof p.host, "testhost");
  p.pid = 1000 + rank;
  p.ppid = 999;
  p.command_line = "mkviewtrace";
  p.start_ns = 5000000000LL;
  p.end_ns = -1;
  p.producer = "mkviewtrace";
  p.stacks = "native";
  p.cupti = "unavailable";
  mt_trace *t;
  mt_error err = { 0 };
  if (mt_trace_create(path, &p, &t, &err) != MT_OK) {
    fprintf(stderr, "mkviewtrace: %s\n", err.msg);
    exit(1);
  }
  return t;
}

static void range(mt_trace *t, int64_t a, int64_t b, const char *name, int depth)
{
  mt_range_event r = { .ts = a, .te = b, .kind = MT_RANGE_PUSH_POP, .name_id = mt_trace_intern(t, name),
                       .depth = depth, .thread = 1 };
  mt_trace_put_range(t, &r);
}

static void region(mt_trace *t, int64_t ts, int op, uint64_t addr, uint64_t size, const char *label, int64_t stack)
{
  mt_region_event e = { .ts = ts, .op = op, .heap = 1, .addr = addr, .size = size, .stream = 1, .thread = 1,
                        .stack = stack, .label_id = label ? mt_trace_intern(t, label) : 0 };
  mt_trace_put_region(t, &e);
}

static void mem(mt_trace *t, int64_t ts, int op, uint64_t addr, uint64_t size, int context)
{
  mt_mem_event m = { .ts = ts, .dur = 1000, .op = op, .api = op == MT_MEM_ALLOC ? MT_API_cudaMalloc : MT_API_cudaFree,
                     .kind = MT_MEM_KIND_DEVICE, .addr = addr, .size = size, .thread = 1, .context = context };
  mt_trace_put_mem(t, &m);
}

static void kernel(mt_trace *t, int64_t ts, int64_t dur, int64_t stream, const char *name)
{
  mt_kernel_event k = { .ts = ts, .dur = dur, .api = MT_API_cudaLaunchKernel, .name_id = mt_trace_intern(t, name),
                        .stream = stream, .grid = { 128, 1, 1 }, .block = { 256, 1, 1 }, .thread = 1,
                        .gpu_start = -1, .gpu_end = -1 };
  mt_trace_put_kernel(t, &k);
}

static void basic(mt_trace *t, uint64_t act)
{
  mt_trace_begin(t);
  mt_trace_put_device(t, 0, "Simulated H100", 85899345920ull, 9, 0, "GPU-0");
  mt_trace_put_thread(t, 1, 4243, "main");
  mt_trace_put_stream(t, 1, 0, 0x1111, 0, 0, 0);
  mt_trace_put_stream(t, 2, 0, 0x2222, 0, 0, 0);
  mt_trace_put_module(t, 1, "/usr/bin/train", 0x400000, 0x10000, "abcd");
  mt_trace_put_frame(t, 1, 0, 0x401000, 1, "main");
  mt_trace_put_frame(t, 2, 1, 0x402000, 1, "train_step");
  mt_trace_put_frame(t, 3, 2, 0x403000, 1, "layer_forward");
  mt_comm_info c = { .id = 1, .handle = 0xc0, .nranks = 2, .rank = 0, .device = 0, .created = 5 * MS,
                     .destroyed = -1 };
  snprintf(c.unique_id, sizeof c.unique_id, "feed");
  mt_trace_put_comm(t, &c);

  mem(t, 1 * MS, MT_MEM_ALLOC, SEG, 8 * GiB, MT_CTX_APP);
  mt_heap_info h = { .id = 1, .handle = 0x77, .name_id = mt_trace_intern(t, "caching-allocator"),
                     .usage = MT_HEAP_POOL, .device = 0, .addr = SEG, .size = 8 * GiB, .created = 1 * MS,
                     .destroyed = -1 };
  mt_trace_put_heap(t, &h);
  region(t, 2 * MS, MT_REGION_REGISTER, SEG, 2 * GiB, "parameter/model.weights", 2);
  region(t, 3 * MS, MT_REGION_REGISTER, SEG + 2 * GiB, 1 * GiB, "optimizer_state/adam.exp_avg", 2);

  range(t, 10 * MS, 90 * MS, "step 0", 0);
  range(t, 10 * MS, 40 * MS, "forward", 1);
  range(t, 10 * MS, 25 * MS, "layers.0.forward", 2);
  range(t, 25 * MS, 40 * MS, "layers.1.forward", 2);
  range(t, 40 * MS, 70 * MS, "backward", 1);
  range(t, 70 * MS, 90 * MS, "optimizer", 1);

  for (int i = 10; i < 90; i++)
    kernel(t, i * MS, 600000, 1, i < 40 ? "ampere_bf16_gemm_fwd" : i < 70 ? "ampere_bf16_gemm_bwd" : "adam_step");
  for (int i = 0; i < 4; i++)
    kernel(t, (52 + 4 * i) * MS, 2 * MS, 2, "reduce_kernel");

  region(t, 20 * MS, MT_REGION_REGISTER, SEG + 3 * GiB, act, "activation/layers.0.out", 3);
  mem(t, 30 * MS, MT_MEM_ALLOC, WS, 256 * MiB, MT_CTX_BLAS);
  region(t, 45 * MS, MT_REGION_REGISTER, SEG + 6 * GiB, 1 * GiB, "gradient/model.grads", 2);
  mem(t, 50 * MS, MT_MEM_FREE, WS, 256 * MiB, MT_CTX_BLAS);
  region(t, 60 * MS, MT_REGION_UNREGISTER, SEG + 3 * GiB, act, NULL, 0);
  mt_nccl_event n = { .ts = 70 * MS, .dur = 5 * MS, .op = MT_NCCL_ALLREDUCE, .comm = 1, .count = GiB / 2,
                      .dtype = 6, .bytes = GiB, .peer = -1, .stream = 2, .thread = 1, .gpu_start = -1,
                      .gpu_end = -1 };
  mt_trace_put_nccl(t, &n);
  region(t, 80 * MS, MT_REGION_UNREGISTER, SEG + 6 * GiB, 1 * GiB, NULL, 0);
  mt_trace_commit(t);
  mt_trace_finalize(t, 100 * MS);
}

/* A long run: per step, per layer: an activation kept to the backward, a
 * temporary freed at once, kernels; about 40 events per layer-step. */
static void big(mt_trace *t, long nevents)
{
  mt_trace_begin(t);
  mt_trace_put_thread(t, 1, 1, "main");
  mt_trace_put_stream(t, 1, 0, 0x1111, 0, 0, 0);
  mt_trace_put_stream(t, 2, 0, 0x2222, 0, 0, 0);
  mem(t, 1000, MT_MEM_ALLOC, SEG, 64 * GiB, MT_CTX_APP);
  mt_heap_info h = { .id = 1, .handle = 0x77, .usage = MT_HEAP_POOL, .addr = SEG, .size = 64 * GiB,
                     .created = 1000, .destroyed = -1 };
  mt_trace_put_heap(t, &h);
  region(t, 2000, MT_REGION_REGISTER, SEG, 8 * GiB, "parameter/w", 0);
  const int layers = 24, kpl = 16;
  long per_step = layers * (2 * kpl + 6) + 6;
  long steps = nevents / per_step + 1;
  int64_t ts = 10000;
  const int64_t US = 1000;
  char name[64];
  long written = 0;
  for (long s = 0; s < steps; s++) {
    int64_t step0 = ts;
    snprintf(name, sizeof name, "step %ld", s);
    int64_t fwd0 = ts;
    for (int l = 0; l < layers; l++) {
      int64_t l0 = ts;
      region(t, ts, MT_REGION_REGISTER, SEG + 8 * GiB + (uint64_t)l * 256 * MiB, 200 * MiB, "activation/a", 0);
      region(t, ts + US, MT_REGION_REGISTER, SEG + 40 * GiB, 64 * MiB, "temporary/t", 0);
      for (int k = 0; k < kpl; k++)
        kernel(t, ts + k * 20 * US, 15 * US, 1 + (k % 2), k % 2 ? "elementwise" : "gemm");
      region(t, ts + 300 * US, MT_REGION_UNREGISTER, SEG + 40 * GiB, 64 * MiB, NULL, 0);
      ts += 330 * US;
      snprintf(name, sizeof name, "layers.%d.forward", l);
      range(t, l0, ts, name, 2);
      written += kpl + 4;
    }
    range(t, fwd0, ts, "forward", 1);
    int64_t bwd0 = ts;
    for (int l = layers - 1; l >= 0; l--) {
      for (int k = 0; k < kpl; k++)
        kernel(t, ts + k * 20 * US, 15 * US, 1, "gemm_bwd");
      region(t, ts + 320 * US, MT_REGION_UNREGISTER, SEG + 8 * GiB + (uint64_t)l * 256 * MiB, 200 * MiB, NULL, 0);
      ts += 330 * US;
      written += kpl + 2;
    }
    range(t, bwd0, ts, "backward", 1);
    mt_nccl_event n = { .ts = ts, .dur = 2000 * US, .op = MT_NCCL_ALLREDUCE, .comm = 0, .bytes = GiB,
                        .peer = -1, .stream = 2, .thread = 1, .gpu_start = -1, .gpu_end = -1 };
    mt_trace_put_nccl(t, &n);
    range(t, ts, ts + 2500 * US, "optimizer", 1);
    ts += 2500 * US;
    snprintf(name, sizeof name, "step %ld", s);
    range(t, step0, ts, name, 0);
    written += 4;
    if (s % 50 == 49) {
      mt_trace_commit(t);
      mt_trace_begin(t);
    }
    if (written >= nevents)
      break;
  }
  mt_trace_commit(t);
  mt_trace_finalize(t, ts + 1000);
}

int main(int argc, char **argv)
{
  if (argc >= 3 && !strcmp(argv[1], "basic")) {
    mt_trace *t = create(argv[2], 0, 1);
    basic(t, 3 * GiB);
    mt_trace_close(t);
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "run")) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rank0.1000.mtrace", argv[2]);
    mt_trace *t = create(path, 0, 2);
    basic(t, 3 * GiB);
    mt_trace_close(t);
    snprintf(path, sizeof path, "%s/rank1.1001.mtrace", argv[2]);
    t = create(path, 1, 2);
    basic(t, 2 * GiB);
    mt_trace_close(t);
    return 0;
  }
  if (argc >= 4 && !strcmp(argv[1], "big")) {
    mt_trace *t = create(argv[2], 0, 1);
    big(t, atol(argv[3]));
    mt_trace_close(t);
    return 0;
  }
  fprintf(stderr, "usage: mkviewtrace basic FILE | run DIR | big FILE NEVENTS\n");
  return 2;
}
