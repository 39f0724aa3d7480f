/* cmocka: the typed reader (schemas/reader.h) against rows this test writes
 * through the writer: per-table cursors, the merge by time (ties in table
 * order, insert order within a table), resolved strings, unknown values as
 * -1, the small tables, meta, row counts, and the stack walk and its text. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "schemas/reader.h"

static char dir[64];

static mt_trace *write_known(void)
{
  mt_process_info p = { .rank = 0, .world_size = 1, .end_ns = -1, .command_line = "t", .producer = "test",
                        .stacks = "native", .cupti = "active" };
  mt_trace *t;
  mt_error err = { 0 };
  /* a file per test: a failed test leaves its trace open */
  static int n;
  char path[128];
  snprintf(path, sizeof path, "%s/r%d.mtrace", dir, ++n);
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  assert_int_equal(mt_trace_begin(t), MT_OK);
  mt_trace_put_device(t, 1, "B", 200, 8, 0, NULL);
  mt_trace_put_device(t, 0, "A", 100, 9, 0, "GPU-x");
  mt_comm_info c = { .id = 1, .handle = 0xc0, .nranks = 4, .rank = 2, .device = 0, .created = 3, .destroyed = -1 };
  snprintf(c.unique_id, sizeof c.unique_id, "beef");
  mt_trace_put_comm(t, &c);
  mt_heap_info h = { .id = 1, .handle = 0x77, .name_id = mt_trace_intern(t, "pool"), .usage = MT_HEAP_POOL,
                     .addr = 0x1000, .size = 4096, .created = 1, .destroyed = 9 };
  mt_trace_put_heap(t, &h);
  mt_trace_add_drops(t, "stack", 5, "ring full");
  mt_trace_add_drops(t, "alloc", 2, NULL);
  mt_trace_put_meta(t, "k", "v");
  /* stack 3 -> 2 -> 1: symbolised, unsymbolised (pc only), outermost */
  mt_trace_put_frame(t, 1, 0, 0x10, 0, "main");
  mt_trace_put_frame(t, 2, 1, 0xabc, 0, NULL);
  mt_trace_put_frame(t, 3, 2, 0x30, 0, "train.py:7 step");
  /* inserted out of time order; ts 50 in three tables (a tie) */
  mt_mem_event m2 = { .ts = 70, .op = MT_MEM_FREE, .addr = 0x2000, .size = 8, .stack = 3 };
  mt_mem_event m1 = { .ts = 50, .dur = 2, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = 1,
                      .addr = 0x2000, .size = 8, .thread = 1, .stack = 3, .result = 0, .context = 2 };
  mt_trace_put_mem(t, &m2);
  mt_trace_put_mem(t, &m1);
  mt_kernel_event k = { .ts = 50, .dur = 4, .name_id = mt_trace_intern(t, "gemm"), .grid = { 2, 3, 4 },
                        .block = { 5, 6, 7 }, .smem = 9, .gpu_start = -1, .gpu_end = -1 };
  mt_trace_put_kernel(t, &k);
  mt_range_event r = { .ts = 50, .te = -1, .kind = MT_RANGE_PUSH_POP, .domain_id = mt_trace_intern(t, "dom"),
                       .name_id = mt_trace_intern(t, "fwd"), .depth = 1 };
  mt_trace_put_range(t, &r);
  mt_region_event re = { .ts = 10, .op = MT_REGION_REGISTER, .heap = 1, .addr = 0x1000, .size = 64 };
  mt_trace_put_region(t, &re);
  mt_oom_event o = { .ts = 90, .requested = 1 << 20, .free_bytes = -1, .total_bytes = 100 };
  mt_trace_put_oom(t, &o);
  mt_gpu_memory_event g = { .ts = 60, .op = MT_MEM_ALLOC, .addr = 0x2000, .size = 8, .pool_addr = -1 };
  mt_trace_put_gpu_memory(t, &g);
  assert_int_equal(mt_trace_commit(t), MT_OK);
  return t;
}

static void merged_in_time_order(void **state)
{
  (void)state;
  mt_trace *t = write_known();
  mt_cursor *c;
  assert_int_equal(mt_cursor_open(t, MT_TAB_ALL, &c), MT_OK);
  static const struct { int64_t ts; mt_table table; } want[] = {
    { 10, MT_TAB_REGION }, { 50, MT_TAB_MEM }, { 50, MT_TAB_KERNEL }, { 50, MT_TAB_RANGE },
    { 60, MT_TAB_GPU_MEMORY }, { 70, MT_TAB_MEM }, { 90, MT_TAB_OOM },
  };
  mt_row row;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(mt_cursor_next(c, &row), 1);
    assert_int_equal(row.ts, want[i].ts);
    assert_int_equal(row.table, want[i].table);
    if (row.table == MT_TAB_MEM && row.ts == 50) {
      assert_int_equal(row.u.mem.dur, 2);
      assert_int_equal(row.u.mem.api, MT_API_cudaMalloc);
      assert_int_equal(row.u.mem.addr, 0x2000);
      assert_int_equal(row.u.mem.stack, 3);
      assert_int_equal(row.u.mem.context, 2);
    } else if (row.table == MT_TAB_KERNEL) {
      assert_string_equal(row.name, "gemm");
      assert_int_equal(row.u.kernel.grid[2], 4);
      assert_int_equal(row.u.kernel.block[0], 5);
      assert_int_equal(row.u.kernel.smem, 9);
      assert_true(row.u.kernel.gpu_start < 0);
    } else if (row.table == MT_TAB_RANGE) {
      assert_string_equal(row.name, "fwd");
      assert_string_equal(row.domain, "dom");
      assert_true(row.u.range.te < 0);
      assert_int_equal(row.u.range.depth, 1);
    } else if (row.table == MT_TAB_REGION) {
      assert_string_equal(row.name, "");
      assert_int_equal(row.u.region.size, 64);
    } else if (row.table == MT_TAB_OOM) {
      assert_true(row.u.oom.free_bytes < 0);
      assert_int_equal(row.u.oom.total_bytes, 100);
      assert_int_equal(row.u.oom.requested, 1 << 20);
    } else if (row.table == MT_TAB_GPU_MEMORY) {
      assert_true(row.u.gpu_memory.pool_addr < 0);
    }
  }
  assert_int_equal(mt_cursor_next(c, &row), 0);
  mt_cursor_close(c);
  mt_trace_close(t);
}

static void one_table(void **state)
{
  (void)state;
  mt_trace *t = write_known();
  mt_cursor *c;
  assert_int_equal(mt_table_by_name("mem_events"), MT_TAB_MEM);
  assert_int_equal(mt_table_by_name("nope"), -1);
  assert_string_equal(mt_table_name(MT_TAB_NCCL), "nccl_calls");
  assert_int_equal(mt_cursor_open(t, MT_TAB_BIT(MT_TAB_MEM), &c), MT_OK);
  mt_row row;
  assert_int_equal(mt_cursor_next(c, &row), 1);
  assert_int_equal(row.ts, 50);
  assert_int_equal(mt_cursor_next(c, &row), 1);
  assert_int_equal(row.ts, 70);
  assert_int_equal(row.u.mem.op, MT_MEM_FREE);
  assert_int_equal(mt_cursor_next(c, &row), 0);
  mt_cursor_close(c);
  assert_int_equal(mt_cursor_open(t, MT_TAB_BIT(MT_TAB_NCCL), &c), MT_OK);
  assert_int_equal(mt_cursor_next(c, &row), 0);
  mt_cursor_close(c);
  mt_trace_close(t);
}

struct seen { char text[512]; };

static int s_dev(void *ctx, const mt_device_row *d)
{
  struct seen *s = ctx;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%lld:%s:%llu:%lld:%s;", (long long)d->id, d->name,
           (unsigned long long)d->total_bytes, (long long)d->cc_major, d->uuid);
  return 0;
}

static int s_comm(void *ctx, const mt_comm_row *c)
{
  struct seen *s = ctx;
  snprintf(s->text, sizeof s->text, "%lld:%s:%lld/%lld:%lld", (long long)c->id, c->unique_id,
           (long long)c->rank, (long long)c->nranks, (long long)c->destroyed);
  return 0;
}

static int s_heap(void *ctx, const mt_heap_row *h)
{
  struct seen *s = ctx;
  snprintf(s->text, sizeof s->text, "%lld:%s:%llu:%lld", (long long)h->id, h->name, (unsigned long long)h->size,
           (long long)h->destroyed);
  return 0;
}

static int s_drop(void *ctx, const mt_drop_row *d)
{
  struct seen *s = ctx;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s=%lld(%s);", d->kind, (long long)d->count, d->reason ? d->reason : "NULL");
  return 0;
}

static int stop_first(void *ctx, const mt_device_row *d)
{
  (void)d;
  ++*(int *)ctx;
  return 7;
}

static void small_tables(void **state)
{
  (void)state;
  mt_trace *t = write_known();
  struct seen s = { "" };
  assert_int_equal(mt_read_devices(t, s_dev, &s), MT_OK);
  assert_string_equal(s.text, "0:A:100:9:GPU-x;1:B:200:8:;");
  int calls = 0;
  assert_int_equal(mt_read_devices(t, stop_first, &calls), 7);
  assert_int_equal(calls, 1);
  assert_int_equal(mt_read_comms(t, s_comm, &s), MT_OK);
  assert_string_equal(s.text, "1:beef:2/4:-1");
  assert_int_equal(mt_read_heaps(t, s_heap, &s), MT_OK);
  assert_string_equal(s.text, "1:pool:4096:9");
  s.text[0] = 0;
  assert_int_equal(mt_read_drops(t, s_drop, &s), MT_OK);
  assert_string_equal(s.text, "alloc=2(NULL);stack=5(ring full);");
  char v[8];
  assert_int_equal(mt_read_meta(t, "k", v, sizeof v), 1);
  assert_string_equal(v, "v");
  assert_int_equal(mt_read_meta(t, "absent", v, sizeof v), 0);
  assert_string_equal(v, "");
  mt_trace_counts n;
  assert_int_equal(mt_read_counts(t, &n), MT_OK);
  assert_int_equal(n.rows[MT_TAB_MEM], 2);
  assert_int_equal(n.rows[MT_TAB_KERNEL], 1);
  assert_int_equal(n.rows[MT_TAB_NCCL], 0);
  assert_int_equal(n.rows[MT_TAB_OOM], 1);
  assert_int_equal(n.mem[MT_MEM_ALLOC][1][1], 1);   /* result 0: succeeded */
  assert_int_equal(n.mem[MT_MEM_FREE][0][1], 1);
  assert_int_equal(n.heaps, 1);
  assert_int_equal(n.heaps_destroyed, 1);
  assert_int_equal(n.dropped, 7);
  assert_int_equal(mt_count_code(t, MT_TAB_RANGE, MT_RANGE_PUSH_POP), 1);
  assert_int_equal(mt_count_code(t, MT_TAB_REGION, MT_REGION_UNREGISTER), 0);
  assert_int_equal(mt_count_code(t, MT_TAB_KERNEL, 1), -1);
  mt_trace_close(t);
}

static void stacks(void **state)
{
  (void)state;
  mt_trace *t = write_known();
  char *s = mt_stack_text(t, 3, 10);
  assert_string_equal(s, "  train.py:7 step\n  0xabc\n  main\n");
  free(s);
  s = mt_stack_text(t, 3, 2);
  assert_string_equal(s, "  train.py:7 step\n  0xabc\n");
  free(s);
  s = mt_stack_text(t, 0, 10);
  assert_string_equal(s, "");
  free(s);
  s = mt_stack_text(t, 42, 10);   /* a stack id with no frame */
  assert_string_equal(s, "");
  free(s);
  mt_trace_close(t);
}

int main(void)
{
  snprintf(dir, sizeof dir, "/tmp/mt-test-reader-XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(merged_in_time_order),
    cmocka_unit_test(one_table),
    cmocka_unit_test(small_tables),
    cmocka_unit_test(stacks),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    rc = rc ? rc : 1;
  return rc;
}
