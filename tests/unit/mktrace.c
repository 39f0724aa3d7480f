/* Writes small traces with known content for the command-line tests:
 *   mktrace basic FILE   a deterministic trace of every event kind
 *   mktrace open FILE    same, but left open (as if the process was killed)
 * The values here are the ground truth the tests compare dump output with. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "schemas/trace.h"

static int fill(mt_trace *t)
{
  int rc = 0;
  rc |= mt_trace_begin(t);
  rc |= mt_trace_put_device(t, 0, "Simulated H100", 85899345920ull, 9, 0, "GPU-0000");
  rc |= mt_trace_put_thread(t, 1, 4243, "main");
  rc |= mt_trace_put_stream(t, 7, 0, 0x5555, 0, 1, 5);
  mt_comm_info c = { .id = 1, .handle = 0xc0, .nranks = 2, .rank = 0, .device = 0, .created = 6, .destroyed = -1 };
  snprintf(c.unique_id, sizeof c.unique_id, "abcd");
  rc |= mt_trace_put_comm(t, &c);
  mt_heap_info h = { .id = 1, .handle = 0x77, .name_id = mt_trace_intern(t, "caching-allocator"),
                     .usage = MT_HEAP_POOL, .addr = 0x200000000000ull, .size = 20971520, .created = 15,
                     .destroyed = -1 };
  rc |= mt_trace_put_heap(t, &h);
  mt_range_event r = { .ts = 10, .te = 900, .kind = MT_RANGE_PUSH_POP, .name_id = mt_trace_intern(t, "step 0"),
                       .thread = 1 };
  rc |= mt_trace_put_range(t, &r);
  mt_mem_event m = { .ts = 12, .dur = 2, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE,
                     .addr = 0x200000000000ull, .size = 20971520, .thread = 1, .stack = 3 };
  rc |= mt_trace_put_mem(t, &m);
  mt_region_event re = { .ts = 20, .op = MT_REGION_REGISTER, .heap = 1, .addr = 0x200000000000ull, .size = 1048576,
                         .stream = 7, .thread = 1, .label_id = mt_trace_intern(t, "parameter/layer.0.qkv.weight") };
  rc |= mt_trace_put_region(t, &re);
  mt_kernel_event k = { .ts = 30, .dur = 4, .api = MT_API_cudaLaunchKernel,
                        .name_id = mt_trace_intern(t, "ampere_bf16_s16816gemm"), .stream = 7,
                        .grid = { 64, 2, 1 }, .block = { 128, 1, 1 }, .smem = 4096, .thread = 1,
                        .gpu_start = 40, .gpu_end = 90 };
  rc |= mt_trace_put_kernel(t, &k);
  mt_memcpy_event cp = { .ts = 100, .dur = 5, .api = MT_API_cudaMemcpyAsync, .kind = MT_COPY_H2D, .bytes = 4096,
                         .dst = 0x200000100000ull, .src = 0x1000, .stream = 7, .thread = 1, .gpu_start = -1,
                         .gpu_end = -1 };
  rc |= mt_trace_put_memcpy(t, &cp);
  mt_nccl_event n = { .ts = 200, .dur = 50, .op = MT_NCCL_ALLREDUCE, .comm = 1, .count = 1000, .dtype = 7,
                      .bytes = 4000, .peer = -1, .stream = 7, .thread = 1, .gpu_start = -1, .gpu_end = -1 };
  rc |= mt_trace_put_nccl(t, &n);
  mt_oom_event o = { .ts = 300, .api = MT_API_cudaMalloc, .source = MT_OOM_DRIVER, .requested = 107374182400ull,
                     .free_bytes = 1024, .total_bytes = 85899345920ll, .thread = 1 };
  rc |= mt_trace_put_oom(t, &o);
  mt_mem_event fail = { .ts = 300, .dur = 1, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE,
                        .size = 107374182400ull, .thread = 1, .result = 2 };
  rc |= mt_trace_put_mem(t, &fail);
  re.ts = 400; re.op = MT_REGION_UNREGISTER; re.label_id = 0;
  rc |= mt_trace_put_region(t, &re);
  m.ts = 500; m.op = MT_MEM_FREE; m.api = MT_API_cudaFree;
  rc |= mt_trace_put_mem(t, &m);
  rc |= mt_trace_add_drops(t, "kernel", 3, "buffer full");
  rc |= mt_trace_commit(t);
  return rc;
}

int main(int argc, char **argv)
{
  if (argc != 3 || (strcmp(argv[1], "basic") && strcmp(argv[1], "open"))) {
    fprintf(stderr, "usage: mktrace basic|open FILE\n");
    return 2;
  }
  mt_process_info p = { 0 };
  snprintf(p.run_id, sizeof p.run_id, "run-test");
  p.world_size = 2;
  snprintf(p.host, sizeof p.host, "testhost");
  p.pid = 4243; p.ppid = 4242;
  p.command_line = "simtrain --steps 1";
  p.start_ns = 5000000000LL; p.wall_offset_ns = 1700000000000000000LL; p.end_ns = -1;
  p.producer = "mktrace"; p.stacks = "native"; p.cupti = "unavailable";
  mt_trace *t;
  mt_error err = { 0 };
  if (mt_trace_create(argv[2], &p, &t, &err) != MT_OK) {
    fprintf(stderr, "mktrace: %s\n", err.msg);
    return 1;
  }
  int rc = fill(t);
  if (!rc && strcmp(argv[1], "basic") == 0)
    rc = mt_trace_finalize(t, 1000);
  mt_trace_close(t);
  return rc ? 1 : 0;
}
