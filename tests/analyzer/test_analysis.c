/* libmemtrace-analysis on synthetic traces whose answers are computed by
 * hand in the comments (never by the library under test). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "analyzer/lib/analysis.h"
#include "analyzer/lib/internal.h"

#define MiB (1024ull * 1024ull)
#define A0 0x7f0000000000ull

#include "tests/analyzer/synth.h"

static mt_trace *create(const char *name, int rank, int64_t start_ns, char *path, size_t n)
{
  return synth_create(name, "run-a", rank, 2, 100 + rank, start_ns, path, n);
}

static void mem(mt_trace *t, int64_t ts, int op, int kind, uint64_t addr, uint64_t size, int ctx, int result)
{
  mt_mem_event e = { .ts = ts, .op = op, .api = MT_API_cudaMalloc, .kind = kind, .addr = addr, .size = size,
                     .thread = 1, .context = ctx, .result = result };
  assert_int_equal(mt_trace_put_mem(t, &e), MT_OK);
}

static void reg(mt_trace *t, int64_t ts, int op, int64_t heap, uint64_t addr, uint64_t size, const char *label)
{
  mt_region_event e = { .ts = ts, .op = op, .heap = heap, .addr = addr, .size = size, .thread = 1,
                        .label_id = label ? mt_trace_intern(t, label) : 0 };
  assert_int_equal(mt_trace_put_region(t, &e), MT_OK);
}

static mt_analysis *analyse(const char *path)
{
  mt_analysis *a = NULL;
  mt_error err = { 0 };
  int rc = mt_analysis_run(path, NULL, &a, &err);
  if (rc != MT_OK)
    fprintf(stderr, "# %s\n", err.msg);
  assert_int_equal(rc, MT_OK);
  return a;
}

/* One step of a small training loop:
 *   t=100 cudaMalloc 20 MiB at A0 (segment); heap 1 over it created at 101
 *   t=110 parameter/w 4 MiB at A0            (annotation -> parameter)
 *   ranges: step 0 [200,1000) > forward [210,500) > layer.0.forward [220,400);
 *           backward [500,900) > layer.0.backward [510,800); optimizer [900,990)
 *   t=230 layer.0.act 2 MiB at A0+4M, freed t=600 in backward -> activation, layer 0
 *   t=240 tmp 1 MiB at A0+6M, freed t=250 in forward -> temporary
 *   t=300 cudaMalloc 3 MiB at B (context nccl) never freed -> communication
 *   t=310 cudaMalloc 1 MiB at C (app) freed t=950 in the optimizer -> temporary
 *   t=320 cudaMallocHost 8 MiB: host pinned, not device memory
 *   t=330 failed cudaMalloc 100 GiB (result 2): an OOM attempt
 *   t=340 cudaFree of an unknown address: counted
 *   t=520 gradient/g 4 MiB at A0+8M, never freed -> gradient
 * allocated: 4 (110) 6 (230) 7 (240) 6 (250) 9 (300) 10 (310) 14 (520) 12 (600) 11 (950)
 * reserved: 20 (100) 23 (300) 24 (310) 23 (950)
 * peak allocated 14 MiB at t=520, step 0, phase backward, range layer.0.backward;
 * by category there: parameter 4, gradient 4, activation 2, communication 3,
 * temporary 1; cache_free = 24 - 14 = 10.  Heap 1 at the peak: blocks
 * [0,4) [4,6) [8,12) MiB -> free gaps 2 and 8 MiB; largest 8 MiB. */
static void write_step_trace(const char *name, int finalize, char *path, size_t n)
{
  mt_trace *t = create(name, 0, 1000000000LL, path, n);
  uint64_t B = 0x7f1000000000ull, C = 0x7f2000000000ull;
  mem(t, 100, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, A0, 20 * MiB, MT_CTX_APP, 0);
  heap(t, 1, A0, 20 * MiB, 101, -1);
  reg(t, 110, MT_REGION_REGISTER, 1, A0, 4 * MiB, "parameter/w");
  range(t, 200, 1000, "step 0", 0);
  range(t, 210, 500, "forward", 1);
  range(t, 220, 400, "layer.0.forward", 2);
  reg(t, 230, MT_REGION_REGISTER, 1, A0 + 4 * MiB, 2 * MiB, "layer.0.act");
  reg(t, 240, MT_REGION_REGISTER, 1, A0 + 6 * MiB, 1 * MiB, "tmp");
  reg(t, 250, MT_REGION_UNREGISTER, 1, A0 + 6 * MiB, 1 * MiB, NULL);
  mem(t, 300, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, B, 3 * MiB, MT_CTX_NCCL, 0);
  mem(t, 310, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, C, 1 * MiB, MT_CTX_APP, 0);
  mem(t, 320, MT_MEM_ALLOC, MT_MEM_KIND_HOST_PINNED, 0x5000, 8 * MiB, MT_CTX_APP, 0);
  mem(t, 330, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0, 100ull * 1024 * MiB, MT_CTX_APP, 2);
  mem(t, 340, MT_MEM_FREE, MT_MEM_KIND_DEVICE, 0xdead000, 0, MT_CTX_APP, 0);
  range(t, 500, 900, "backward", 1);
  range(t, 510, 800, "layer.0.backward", 2);
  reg(t, 520, MT_REGION_REGISTER, 1, A0 + 8 * MiB, 4 * MiB, "gradient/g");
  reg(t, 600, MT_REGION_UNREGISTER, 1, A0 + 4 * MiB, 2 * MiB, NULL);
  range(t, 900, 990, "optimizer", 1);
  mem(t, 950, MT_MEM_FREE, MT_MEM_KIND_DEVICE, C, 0, MT_CTX_APP, 0);
  assert_int_equal(mt_trace_commit(t), MT_OK);
  if (finalize)
    assert_int_equal(mt_trace_finalize(t, 1000), MT_OK);
  mt_trace_close(t);
}

static void test_peak_and_categories(void **state)
{
  (void)state;
  char path[512];
  write_step_trace("step.mtrace", 1, path, sizeof path);
  mt_analysis *a = analyse(path);
  assert_int_equal(a->nranks, 1);
  mt_rank *r = &a->ranks[0];
  assert_false(r->incomplete);
  assert_int_equal(r->peak_allocated, 14 * MiB);
  assert_int_equal(r->peak_allocated_ts, 520);
  assert_int_equal(r->peak_reserved, 24 * MiB);
  assert_int_equal(r->peak_reserved_ts, 310);
  assert_int_equal(r->peak.step, 0);
  assert_string_equal(r->peak.phase, "backward");
  assert_string_equal(r->peak.range, "layer.0.backward");
  assert_int_equal(r->peak.by_category[MT_CAT_PARAMETER], 4 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_GRADIENT], 4 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_ACTIVATION], 2 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_COMMUNICATION], 3 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_TEMPORARY], 1 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_OTHER], 0);
  assert_int_equal(r->peak.by_category[MT_CAT_CACHE_FREE], 10 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_ANNOTATION], 8 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_CALL_SITE], 3 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_FWD_BWD], 2 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_SAME_PHASE], 1 * MiB);
  /* fragmentation */
  assert_int_equal(r->peak.largest_free_block, 8 * MiB);
  assert_int_equal(r->peak.nsegments, 1);
  assert_int_equal(r->peak.segments[0].used, 10 * MiB);
  assert_int_equal(r->max_fragmentation, 20 * MiB);   /* t=100: a segment, nothing in it */
  /* layers, steps, counts */
  assert_true(r->nlayers >= 1);
  assert_int_equal(r->layers[0].activation_bytes, 2 * MiB);
  assert_int_equal(r->nsteps, 1);
  assert_int_equal(r->steps[0].allocated, 14 * MiB);
  assert_int_equal(r->unknown_frees, 1);
  assert_int_equal(r->failed_allocs, 1);
  assert_int_equal(r->host_pinned_peak, 8 * MiB);
  assert_int_equal(r->live_end_allocated, 11 * MiB);
  assert_int_equal(r->live_end_reserved, 23 * MiB);
  /* the OOM: state at t=330 = parameter 4 + activation 2 + nccl 3 + app 1 */
  assert_int_equal(r->nooms, 1);
  assert_true(r->ooms[0].has_snapshot);
  assert_int_equal(r->ooms[0].requested, 100ull * 1024 * MiB);
  assert_int_equal(r->ooms[0].at.allocated, 10 * MiB);
  assert_int_equal(r->ooms[0].at.reserved, 24 * MiB);
  /* the largest object at the peak is one of the 4 MiB ones */
  assert_true(r->peak.nobjects == 5);
  assert_int_equal(r->peak.objects[0].size, 4 * MiB);
  mt_analysis_free(a);
}

/* The same trace never closed: analysed, marked incomplete. */
static void test_incomplete(void **state)
{
  (void)state;
  char path[512];
  write_step_trace("open.mtrace", 0, path, sizeof path);
  mt_analysis *a = analyse(path);
  assert_true(a->incomplete);
  assert_true(a->ranks[0].incomplete);
  assert_non_null(a->ranks[0].incomplete_reason);
  assert_int_equal(a->ranks[0].peak_allocated, 14 * MiB);
  mt_analysis_free(a);
}

/* Instants: t=10 alloc X 1 MiB; t=20 alloc Y 1 MiB then free X (same ts:
 * never 2 MiB at an instant); t=30 alloc Z 1 MiB -> 2 MiB; t=40 free Z;
 * t=50 alloc W 1 MiB -> 2 MiB again.  Peak 2 MiB, first reached at t=30. */
static void test_first_instant(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("instant.mtrace", 0, 0, path, sizeof path);
  mem(t, 10, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x1000000, MiB, 0, 0);
  mem(t, 20, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x2000000, MiB, 0, 0);
  mem(t, 20, MT_MEM_FREE, MT_MEM_KIND_DEVICE, 0x1000000, 0, 0, 0);
  mem(t, 30, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x3000000, MiB, 0, 0);
  mem(t, 40, MT_MEM_FREE, MT_MEM_KIND_DEVICE, 0x3000000, 0, 0, 0);
  mem(t, 50, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x4000000, MiB, 0, 0);
  assert_int_equal(mt_trace_finalize(t, 60), MT_OK);
  mt_trace_close(t);
  mt_analysis *a = analyse(path);
  mt_rank *r = &a->ranks[0];
  assert_int_equal(r->peak_allocated, 2 * MiB);
  assert_int_equal(r->peak_allocated_ts, 30);
  assert_int_equal(r->peak_reserved, 2 * MiB);
  assert_int_equal(r->peak_reserved_ts, 30);
  /* no ranges, no labels: other, by the "unknown" rule */
  assert_int_equal(r->peak.by_category[MT_CAT_OTHER], 2 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_UNKNOWN], 2 * MiB);
  /* timeline: t0 = 10, dt = ceil(40 / 399) = 1: sample i is t = 10 + i */
  const mt_timeline *tl = &r->timeline;
  assert_int_equal(tl->t0, 10);
  assert_int_equal(tl->dt, 1);
  assert_int_equal(tl->allocated[0], MiB);       /* t=10 */
  assert_int_equal(tl->allocated[10], MiB);      /* t=20: Y in, X out */
  assert_int_equal(tl->allocated_max[10], MiB);  /* never 2 MiB at t=20 */
  assert_int_equal(tl->allocated[20], 2 * MiB);  /* t=30 */
  assert_int_equal(tl->allocated[35], MiB);      /* t=45 */
  assert_int_equal(tl->by_category[MT_CAT_OTHER][20], 2 * MiB);
  assert_int_equal(tl->by_category[MT_CAT_OTHER][45], 2 * MiB);   /* t=55: Y and W live at the end */
  mt_analysis_free(a);
}

/* VMM: cuMemCreate 4 MiB (reserved, not allocated) at t=10; mapped at V at
 * t=20 (no heap: allocated 4); heap 1 over W created t=25; create 2 MiB
 * t=30, mapped inside the heap at t=40 (covered: allocated stays 4); a
 * region of 1 MiB in heap 1 at t=50 -> allocated 5, reserved 6; unmap V
 * t=60 -> allocated 1; release t=70 -> reserved 2.  Peak allocated 5 MiB at
 * t=50, reserved 6 MiB at t=30. */
static void test_vmm(void **state)
{
  (void)state;
  char path[512];
  uint64_t V = 0x10000000, W = 0x20000000;
  mt_trace *t = create("vmm.mtrace", 0, 0, path, sizeof path);
  mem(t, 10, MT_MEM_CREATE, MT_MEM_KIND_VMM, 0xaa, 4 * MiB, 0, 0);
  mem(t, 20, MT_MEM_MAP, MT_MEM_KIND_VMM, V, 4 * MiB, 0, 0);
  heap(t, 1, W, 8 * MiB, 25, -1);
  mem(t, 30, MT_MEM_CREATE, MT_MEM_KIND_VMM, 0xbb, 2 * MiB, 0, 0);
  mem(t, 40, MT_MEM_MAP, MT_MEM_KIND_VMM, W, 2 * MiB, 0, 0);
  reg(t, 50, MT_REGION_REGISTER, 1, W, MiB, "x");
  mem(t, 60, MT_MEM_UNMAP, MT_MEM_KIND_VMM, V, 4 * MiB, 0, 0);
  mem(t, 70, MT_MEM_RELEASE, MT_MEM_KIND_VMM, 0xaa, 4 * MiB, 0, 0);
  assert_int_equal(mt_trace_finalize(t, 80), MT_OK);
  mt_trace_close(t);
  mt_analysis *a = analyse(path);
  mt_rank *r = &a->ranks[0];
  assert_int_equal(r->peak_allocated, 5 * MiB);
  assert_int_equal(r->peak_allocated_ts, 50);
  assert_int_equal(r->peak_reserved, 6 * MiB);
  assert_int_equal(r->peak_reserved_ts, 30);
  assert_int_equal(r->live_end_allocated, 1 * MiB);
  assert_int_equal(r->live_end_reserved, 2 * MiB);
  mt_analysis_free(a);
}

/* Odd region streams: an unregister of an unknown tensor (counted), a
 * tensor registered twice at one address (the first one's unregister was
 * lost: replaced), and a heap destroyed with a live region (the region
 * goes with it).  Heap 1 [A0, +8M) created 5 destroyed 60.
 *   t=10 reg 1 MiB at A0; t=20 reg 2 MiB at A0 again -> 2 MiB live
 *   t=30 unregister of A0+4M: unknown; t=40 reg 1 MiB at A0+1M... -> 3 MiB
 *   t=60 heap destroyed -> 0. Peak 3 MiB at 40. */
static void test_odd_regions(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("odd.mtrace", 0, 0, path, sizeof path);
  heap(t, 1, A0, 8 * MiB, 5, 60);
  reg(t, 10, MT_REGION_REGISTER, 1, A0, MiB, NULL);
  reg(t, 20, MT_REGION_REGISTER, 1, A0, 2 * MiB, NULL);
  reg(t, 30, MT_REGION_UNREGISTER, 1, A0 + 4 * MiB, MiB, NULL);
  reg(t, 40, MT_REGION_REGISTER, 1, A0 + 2 * MiB, MiB, NULL);
  reg(t, 70, MT_REGION_UNREGISTER, 1, A0 + 2 * MiB, MiB, NULL);
  assert_int_equal(mt_trace_finalize(t, 80), MT_OK);
  mt_trace_close(t);
  mt_analysis *a = analyse(path);
  mt_rank *r = &a->ranks[0];
  assert_int_equal(r->peak_allocated, 3 * MiB);
  assert_int_equal(r->peak_allocated_ts, 40);
  assert_int_equal(r->unknown_unregisters, 3);   /* t=20 replaced one, t=30 unknown, t=70 after the heap died */
  assert_int_equal(r->live_end_allocated, 0);
  mt_analysis_free(a);
}

/* A run directory of two ranks: rank 1 peaks at 3 MiB, rank 0 at 1 MiB;
 * imbalance = 3 / 2 = 1.5. */
static void test_run_dir(void **state)
{
  (void)state;
  char path[512], sub[300];
  snprintf(sub, sizeof sub, "run");
  char d[300];
  snprintf(d, sizeof d, "%s/run", dir);
  assert_int_equal(mkdir(d, 0755), 0);
  for (int rank = 0; rank < 2; rank++) {
    char name[64];
    snprintf(name, sizeof name, "run/rank%d.%d.mtrace", rank, 100 + rank);
    mt_trace *t = create(name, rank, 0, path, sizeof path);
    mem(t, 10, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x1000000, (rank ? 3 : 1) * MiB, 0, 0);
    assert_int_equal(mt_trace_finalize(t, 20), MT_OK);
    mt_trace_close(t);
  }
  mt_analysis *a = analyse(d);
  assert_int_equal(a->nranks, 2);
  assert_true(a->is_run_dir);
  assert_int_equal(a->ranks[0].rank, 0);
  assert_int_equal(a->ranks[a->job_peak_index].rank, 1);
  assert_true(a->imbalance > 1.49 && a->imbalance < 1.51);
  mt_analysis_free(a);
  /* --rank 0 */
  mt_analysis_opts o = { .rank = 0 };
  mt_error err = { 0 };
  assert_int_equal(mt_analysis_run(d, &o, &a, &err), MT_OK);
  assert_int_equal(a->nranks, 1);
  assert_int_equal(a->ranks[0].peak_allocated, 1 * MiB);
  mt_analysis_free(a);
  o.rank = 7;
  assert_int_not_equal(mt_analysis_run(d, &o, &a, &err), MT_OK);
  assert_non_null(strstr(err.msg, "no trace of rank 7"));
  (void)sub;
}


static void kern(mt_trace *t, int64_t ts, int64_t dur, const char *name, int64_t gs, int64_t ge)
{
  mt_kernel_event k = { .ts = ts, .dur = dur, .api = MT_API_cudaLaunchKernel, .name_id = mt_trace_intern(t, name),
                        .thread = 1, .gpu_start = gs, .gpu_end = ge };
  assert_int_equal(mt_trace_put_kernel(t, &k), MT_OK);
}

/* Kernels and NCCL with GPU times:
 *   layer.0.forward [100,200): gemm_a at 110 (call 5 ns), GPU [120,170]
 *   layer.0.backward [200,300): gemm_b at 210 (call 7), GPU [220,260];
 *     allreduce at 230 (call 20, 4000 B), GPU [240,300], and its kernel
 *     ncclKernel_AllReduce at 231 (call 1), GPU [240,300]
 * compute (non-nccl kernels) = [120,170] + [220,260] = 90 ns; communication
 * = 60 ns; overlap = [240,260] = 20 ns.  Layer 0: forward 1 kernel, 5 ns
 * call, 50 ns GPU; backward 2 kernels, 8 ns call, 100 ns GPU. */
static void test_kernels_nccl(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("kern.mtrace", 0, 0, path, sizeof path);
  range(t, 100, 200, "layer.0.forward", 0);
  range(t, 200, 300, "layer.0.backward", 0);
  kern(t, 110, 5, "gemm_a", 120, 170);
  kern(t, 210, 7, "gemm_b", 220, 260);
  mt_nccl_event n = { .ts = 230, .dur = 20, .op = MT_NCCL_ALLREDUCE, .comm = 1, .count = 1000, .dtype = 7,
                      .bytes = 4000, .peer = -1, .thread = 1, .gpu_start = 240, .gpu_end = 300 };
  assert_int_equal(mt_trace_put_nccl(t, &n), MT_OK);
  kern(t, 231, 1, "ncclKernel_AllReduce", 240, 300);
  mem(t, 10, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, 0x1000000, MiB, 0, 0);
  assert_int_equal(mt_trace_finalize(t, 400), MT_OK);
  mt_trace_close(t);
  mt_analysis *a = analyse(path);
  mt_rank *r = &a->ranks[0];
  assert_int_equal(r->n_kernels, 3);
  assert_int_equal(r->compute_gpu_ns, 90);
  assert_int_equal(r->comm_gpu_ns, 60);
  assert_int_equal(r->overlap_gpu_ns, 20);
  assert_int_equal(r->nnccl, 1);
  assert_int_equal(r->nccl[0].op, MT_NCCL_ALLREDUCE);
  assert_int_equal(r->nccl[0].bytes, 4000);
  assert_int_equal(r->nccl[0].gpu_ns, 60);
  assert_true(r->nlayers >= 1);
  assert_int_equal(r->layers[0].fwd_kernels, 1);
  assert_int_equal(r->layers[0].fwd_api_ns, 5);
  assert_int_equal(r->layers[0].fwd_gpu_ns, 50);
  assert_int_equal(r->layers[0].bwd_kernels, 2);
  assert_int_equal(r->layers[0].bwd_api_ns, 8);
  assert_int_equal(r->layers[0].bwd_gpu_ns, 100);
  /* kernel summary, by time: the nccl kernel (60) first, then gemm_a (50) */
  assert_int_equal(r->nkernels, 3);
  assert_string_equal(r->kernels[0].name, "ncclKernel_AllReduce");
  assert_string_equal(r->kernels[1].name, "gemm_a");
  assert_int_equal(r->kernels[1].gpu_ns, 50);
  mt_analysis_free(a);
}

static void test_bad_input(void **state)
{
  (void)state;
  char path[512];
  mt_analysis *a = NULL;
  mt_error err = { 0 };
  snprintf(path, sizeof path, "%s/empty.mtrace", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_not_equal(mt_analysis_run(path, NULL, &a, &err), MT_OK);
  assert_null(a);
  assert_non_null(strstr(err.msg, path));
  snprintf(path, sizeof path, "%s/none.mtrace", dir);
  assert_int_not_equal(mt_analysis_run(path, NULL, &a, &err), MT_OK);
  char d[300];
  snprintf(d, sizeof d, "%s/emptydir", dir);
  assert_int_equal(mkdir(d, 0755), 0);
  assert_int_not_equal(mt_analysis_run(d, NULL, &a, &err), MT_OK);
  assert_non_null(strstr(err.msg, "no traces"));
}

/* Library workspaces (mem_events op workspace, no memory change):
 *   t=100 cudaMalloc 20 MiB at A0; heap 1 over it created at 101
 *   t=110 unlabelled block 4 MiB at A0; t=120 lent at A0 (cublasSetWorkspace) -> workspace
 *   t=130 unlabelled block 2 MiB at A0+4M; t=140 lent at A0+5M, inside it -> stays other
 *   t=150 cudaMalloc 1 MiB at C; t=160 lent at C (cudnnBackendExecute) -> workspace
 *   t=170 lent at D, where nothing lives: ignored
 *   t=180 unlabelled block 1 MiB at A0+8M, lent at t=190, freed t=200;
 *         t=210 a new block of 2 MiB at the same address, never lent -> other
 * peak allocated: 4 + 2 + 1 + 2 = 9 MiB at t=210; there workspace
 * 4 + 1 = 5 MiB, other 2 + 2 = 4 MiB.  Only the 2 allocation calls are
 * memory events. */
static void ws(mt_trace *t, int64_t ts, int api, uint64_t addr, uint64_t size)
{
  mt_mem_event e = { .ts = ts, .op = MT_MEM_WORKSPACE, .api = api, .kind = MT_MEM_KIND_DEVICE, .addr = addr,
                     .size = size, .thread = 1, .context = MT_CTX_BLAS };
  assert_int_equal(mt_trace_put_mem(t, &e), MT_OK);
}

static void test_library_workspace(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("ws.mtrace", 0, 1000000000LL, path, sizeof path);
  uint64_t C = 0x7f2000000000ull, D = 0x7f3000000000ull;
  mem(t, 100, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, A0, 20 * MiB, MT_CTX_APP, 0);
  heap(t, 1, A0, 20 * MiB, 101, -1);
  reg(t, 110, MT_REGION_REGISTER, 1, A0, 4 * MiB, NULL);
  ws(t, 120, MT_API_cublasSetWorkspace, A0, 4 * MiB);
  reg(t, 130, MT_REGION_REGISTER, 1, A0 + 4 * MiB, 2 * MiB, NULL);
  ws(t, 140, MT_API_cublasLtMatmul, A0 + 5 * MiB, 1 * MiB);
  mem(t, 150, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, C, 1 * MiB, MT_CTX_APP, 0);
  ws(t, 160, MT_API_cudnnBackendExecute, C, 1 * MiB);
  ws(t, 170, MT_API_cublasLtMatmul, D, 1 * MiB);
  reg(t, 180, MT_REGION_REGISTER, 1, A0 + 8 * MiB, 1 * MiB, NULL);
  ws(t, 190, MT_API_cublasLtMatmul, A0 + 8 * MiB, 1 * MiB);
  reg(t, 200, MT_REGION_UNREGISTER, 1, A0 + 8 * MiB, 1 * MiB, NULL);
  reg(t, 210, MT_REGION_REGISTER, 1, A0 + 8 * MiB, 2 * MiB, NULL);
  assert_int_equal(mt_trace_commit(t), MT_OK);
  assert_int_equal(mt_trace_finalize(t, 1000), MT_OK);
  mt_trace_close(t);
  mt_analysis *a = analyse(path);
  mt_rank *r = &a->ranks[0];
  assert_int_equal(r->peak_allocated, 9 * MiB);
  assert_int_equal(r->peak_allocated_ts, 210);
  assert_int_equal(r->peak.by_category[MT_CAT_WORKSPACE], 5 * MiB);
  assert_int_equal(r->peak.by_rule[MT_RULE_LIBRARY_WORKSPACE], 5 * MiB);
  assert_int_equal(r->peak.by_category[MT_CAT_OTHER], 4 * MiB);
  assert_int_equal(r->n_mem_events, 2);
  assert_string_equal(mt_rule_name(MT_RULE_LIBRARY_WORKSPACE), "library_workspace");
  mt_analysis_free(a);
}

static void test_range_names(void **state)
{
  (void)state;
  mt__range_class c;
  mt__classify_range("step 12", &c);
  assert_int_equal(c.step, 12);
  mt__classify_range("iteration_3", &c);
  assert_int_equal(c.step, 3);
  mt__classify_range("steps", &c);
  assert_int_equal(c.step, -1);
  mt__classify_range("layer.7.forward", &c);
  assert_int_equal(c.layer, 7);
  assert_int_equal(c.kind, MT_PK_FWD);
  assert_false(c.exact_phase);
  mt__classify_range("model.blocks.3.backward", &c);
  assert_int_equal(c.layer, 3);
  assert_int_equal(c.kind, MT_PK_BWD);
  mt__classify_range("layer.12.recompute", &c);
  assert_int_equal(c.layer, 12);
  assert_int_equal(c.kind, MT_PK_REC);
  mt__classify_range("forward", &c);
  assert_true(c.exact_phase);
  assert_int_equal(c.layer, -1);
  mt__classify_range("embed.forward", &c);
  assert_int_equal(c.layer, -1);
  assert_int_equal(c.kind, MT_PK_FWD);
}

static void test_sizes(void **state)
{
  (void)state;
  char b[64];
  assert_string_equal(mt_size_str(0, b, sizeof b), "0 B");
  assert_string_equal(mt_size_str(512, b, sizeof b), "512 B");
  assert_string_equal(mt_size_str(1536, b, sizeof b), "1.50 KiB");
  assert_string_equal(mt_size_str(40ull << 30, b, sizeof b), "40.0 GiB");
  assert_string_equal(mt_size_str(1000000000ull, b, sizeof b), "954 MiB");
}

static mt_analysis *analyse_opts(const char *path, const mt_analysis_opts *o)
{
  mt_analysis *a = NULL;
  mt_error err = { 0 };
  int rc = mt_analysis_run(path, o, &a, &err);
  if (rc != MT_OK)
    fprintf(stderr, "# %s\n", err.msg);
  assert_int_equal(rc, MT_OK);
  return a;
}

/* The memory-only first pass equals the full analysis on every value it
 * claims: timeline samples and maxima (sample for sample), peaks and their
 * times, per-device peaks, end state.  a is memory-only, b full. */
static void assert_memory_only_matches(const mt_rank *q, const mt_rank *f)
{
  assert_true(q->memory_only);
  assert_false(f->memory_only);
  assert_int_equal(q->peak_allocated, f->peak_allocated);
  assert_int_equal(q->peak_allocated_ts, f->peak_allocated_ts);
  assert_int_equal(q->peak_reserved, f->peak_reserved);
  assert_int_equal(q->peak_reserved_ts, f->peak_reserved_ts);
  assert_int_equal(q->max_fragmentation, f->max_fragmentation);
  assert_int_equal(q->live_end_allocated, f->live_end_allocated);
  assert_int_equal(q->live_end_reserved, f->live_end_reserved);
  assert_int_equal(q->first_ts, f->first_ts);
  assert_int_equal(q->last_ts, f->last_ts);
  assert_int_equal(q->n_mem_events, f->n_mem_events);
  assert_int_equal(q->n_region_events, f->n_region_events);
  assert_int_equal(q->ndevices, f->ndevices);
  for (size_t i = 0; i < q->ndevices; i++) {
    assert_int_equal(q->devices[i].peak_allocated, f->devices[i].peak_allocated);
    assert_int_equal(q->devices[i].peak_reserved, f->devices[i].peak_reserved);
  }
  const mt_timeline *a = &q->timeline, *b = &f->timeline;
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->t0, b->t0);
  assert_int_equal(a->dt, b->dt);
  for (size_t i = 0; i < a->n; i++) {
    assert_int_equal(a->allocated[i], b->allocated[i]);
    assert_int_equal(a->reserved[i], b->reserved[i]);
    assert_int_equal(a->allocated_max[i], b->allocated_max[i]);
    assert_int_equal(a->reserved_max[i], b->reserved_max[i]);
    assert_int_equal(a->by_category[MT_CAT_CACHE_FREE][i], b->by_category[MT_CAT_CACHE_FREE][i]);
    /* the full analysis's categories add up to the allocated bytes */
    uint64_t sum = 0;
    for (int c = 0; c < MT_CAT_CACHE_FREE; c++) {
      assert_int_equal(a->by_category[c][i], 0);
      sum += b->by_category[c][i];
    }
    assert_int_equal(sum, b->allocated[i]);
  }
}

/* Memory only on the step trace: the curve in write_step_trace's comment,
 * one sample per ns (first event 100, last 950: n = 851 gives dt = 1). */
static void test_memory_only_known(void **state)
{
  (void)state;
  char path[512];
  write_step_trace("step-quick.mtrace", 1, path, sizeof path);
  mt_analysis_opts o = { .rank = -1, .timeline_samples = 851, .memory_only = 1 };
  mt_analysis *q = analyse_opts(path, &o);
  o.memory_only = 0;
  mt_analysis *f = analyse_opts(path, &o);
  const mt_rank *r = &q->ranks[0];
  assert_int_equal(r->timeline.t0, 100);
  assert_int_equal(r->timeline.dt, 1);
  static const struct { int64_t t; uint64_t alloc, res; } known[] = {
    { 100, 0, 20 }, { 109, 0, 20 }, { 110, 4, 20 }, { 229, 4, 20 }, { 230, 6, 20 }, { 240, 7, 20 },
    { 250, 6, 20 }, { 300, 9, 23 }, { 310, 10, 24 }, { 519, 10, 24 }, { 520, 14, 24 }, { 599, 14, 24 },
    { 600, 12, 24 }, { 949, 12, 24 }, { 950, 11, 23 },
  };
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    size_t i = (size_t)(known[k].t - 100);
    assert_int_equal(r->timeline.allocated[i], known[k].alloc * MiB);
    assert_int_equal(r->timeline.reserved[i], known[k].res * MiB);
  }
  assert_int_equal(r->peak_allocated, 14 * MiB);
  assert_int_equal(r->peak_allocated_ts, 520);
  assert_int_equal(r->peak_reserved, 24 * MiB);
  assert_int_equal(r->peak_reserved_ts, 310);
  assert_int_equal(r->failed_allocs, 1);
  assert_int_equal(r->nsteps, 0);
  assert_int_equal(r->peak.nobjects, 0);
  assert_int_equal(r->n_ranges, 0);
  assert_memory_only_matches(r, &f->ranks[0]);
  mt_analysis_free(q);
  mt_analysis_free(f);
}

static uint64_t lcg(uint64_t *seed)
{
  *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
  return *seed >> 33;
}

/* Memory only against the full analysis on a pseudo-random trace: heaps
 * created and destroyed with regions in them, resizes, lost frees and
 * unregisters, device allocations inside and outside heaps, ranges and
 * kernels between them, several events per timestamp; at several sample
 * counts (coarser and finer than the events). */
static void test_memory_only_random(void **state)
{
  (void)state;
  char path[512];
  mt_trace *t = create("random-quick.mtrace", 0, 1000000000LL, path, sizeof path);
  uint64_t seed = 12345;
#define RND() lcg(&seed)
  int64_t ts = 1000;
  const int NH = 6;
  int64_t live_regions[NH][32];
  memset(live_regions, 0, sizeof live_regions);
  uint64_t dev_live[16] = { 0 };
  for (int h = 0; h < NH; h++) {
    uint64_t base = A0 + (uint64_t)h * (64 * MiB);
    mem(t, ts, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, base, 64 * MiB, MT_CTX_APP, 0);
    int64_t destroyed = h % 3 == 2 ? 400000 + h * 1000 : -1;
    heap(t, h + 1, base, 64 * MiB, ts + 1, destroyed);
    if (destroyed > 0)
      mem(t, destroyed, MT_MEM_FREE, MT_MEM_KIND_DEVICE, base, 0, MT_CTX_APP, 0);
    ts += 10;
  }
  mt_kernel_event k = { .api = MT_API_cudaLaunchKernel, .name_id = mt_trace_intern(t, "gemm"), .stream = 7,
                        .thread = 1, .gpu_start = -1, .gpu_end = -1 };
  for (int i = 0; i < 4000; i++) {
    ts += (int64_t)(RND() % 3) * 50;   /* often several events at one instant */
    int what = (int)(RND() % 10);
    int h = (int)(RND() % NH), slot = (int)(RND() % 32);
    if (h % 3 == 2 && ts >= 400000 + h * 1000)
      h = 0;   /* that heap is gone */
    uint64_t addr = A0 + (uint64_t)h * (64 * MiB) + (uint64_t)slot * (2 * MiB);
    if (what < 4) {
      if (!live_regions[h][slot] || what == 0) {   /* what == 0 on a live one: a lost unregister */
        reg(t, ts, MT_REGION_REGISTER, h + 1, addr, (1 + RND() % 2048) * 1024, NULL);
        live_regions[h][slot] = 1;
      } else {
        reg(t, ts, MT_REGION_UNREGISTER, h + 1, addr, 0, NULL);
        live_regions[h][slot] = 0;
      }
    } else if (what == 4) {
      reg(t, ts, MT_REGION_RESIZE, h + 1, addr, (1 + RND() % 2048) * 1024, NULL);
    } else if (what == 5 || what == 6) {
      int d = (int)(RND() % 16);
      uint64_t da = 0x7e0000000000ull + (uint64_t)d * (16 * MiB);
      if (!dev_live[d]) {
        dev_live[d] = 1 + RND() % 8;
        mem(t, ts, MT_MEM_ALLOC, MT_MEM_KIND_DEVICE, da, dev_live[d] * MiB, MT_CTX_APP, 0);
      } else {
        mem(t, ts, MT_MEM_FREE, MT_MEM_KIND_DEVICE, da, 0, MT_CTX_APP, 0);
        dev_live[d] = 0;
      }
    } else if (what == 7) {
      range(t, ts, ts + (int64_t)(RND() % 5000), (RND() & 1) ? "forward" : "step 3", 0);
    } else if (what == 8) {
      k.ts = ts;
      k.dur = 20;
      assert_int_equal(mt_trace_put_kernel(t, &k), MT_OK);
    } else {
      mem(t, ts, MT_MEM_FREE, MT_MEM_KIND_DEVICE, 0xdead0000ull + (uint64_t)i, 0, MT_CTX_APP, 0);
    }
  }
#undef RND
  assert_int_equal(mt_trace_commit(t), MT_OK);
  assert_int_equal(mt_trace_finalize(t, ts + 10), MT_OK);
  mt_trace_close(t);
  static const size_t samples[] = { 0, 7, 400, 5000, 100000 };
  for (int variant = 0; variant < 3; variant++) {
    /* 0: rows in time order (the memory-only pass reads them ahead in rowid
       order); 1: without the reading thread (MEMTRACE_THREADS=1); 2: the
       region rows stored in reverse time order, so that the read in rowid
       order must notice and start again in time order */
    if (variant == 1)
      setenv("MEMTRACE_THREADS", "1", 1);
    if (variant == 2) {
      unsetenv("MEMTRACE_THREADS");
      sqlite3 *db;
      assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
      assert_int_equal(sqlite3_exec(db,
                                    "BEGIN; CREATE TEMP TABLE r AS SELECT * FROM region_events ORDER BY rowid DESC;"
                                    "DELETE FROM region_events; INSERT INTO region_events SELECT * FROM r; COMMIT;",
                                    NULL, NULL, NULL),
                       SQLITE_OK);
      sqlite3_close(db);
    }
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
      mt_analysis_opts o = { .rank = -1, .timeline_samples = samples[i], .memory_only = 1 };
      mt_analysis *q = analyse_opts(path, &o);
      o.memory_only = 0;
      mt_analysis *f = analyse_opts(path, &o);
      assert_true(f->ranks[0].peak_allocated > 0);
      assert_true(f->ranks[0].unknown_unregisters > 0);
      assert_memory_only_matches(&q->ranks[0], &f->ranks[0]);
      mt_analysis_free(q);
      mt_analysis_free(f);
    }
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_peak_and_categories),
    cmocka_unit_test(test_library_workspace),
    cmocka_unit_test(test_incomplete),
    cmocka_unit_test(test_first_instant),
    cmocka_unit_test(test_vmm),
    cmocka_unit_test(test_odd_regions),
    cmocka_unit_test(test_run_dir),
    cmocka_unit_test(test_kernels_nccl),
    cmocka_unit_test(test_bad_input),
    cmocka_unit_test(test_range_names),
    cmocka_unit_test(test_sizes),
    cmocka_unit_test(test_memory_only_known),
    cmocka_unit_test(test_memory_only_random),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
