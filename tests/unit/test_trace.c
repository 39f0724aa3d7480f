/* cmocka: the trace writer/reader round trip, interning, drop counters,
 * schema versions (older upgraded or refused, newer refused), and the
 * refusal of files that are not traces. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "schemas/trace.h"

static char dir[256];

static const char *tmp_path(const char *name)
{
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);
  return p;
}

static mt_process_info info(void)
{
  mt_process_info p = { 0 };
  snprintf(p.run_id, sizeof p.run_id, "run-42");
  p.rank = 3; p.local_rank = 1; p.world_size = 8;
  snprintf(p.host, sizeof p.host, "node7");
  p.pid = 1234; p.ppid = 1;
  p.command_line = "python train.py --lr 3e-4";
  p.start_ns = 1000000000; p.wall_offset_ns = 1700000000000000000LL;
  p.end_ns = -1;
  p.producer = "test"; p.stacks = "native"; p.cupti = "unavailable";
  return p;
}

static long long q1(mt_trace *t, const char *sql)
{
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(mt_trace_db(t), sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_round_trip(void **state)
{
  (void)state;
  const char *path = tmp_path("rt.db");
  mt_process_info p = info();
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  assert_int_equal(mt_trace_begin(t), MT_OK);
  int64_t k1 = mt_trace_intern(t, "ampere_sgemm_128x64_nn");
  int64_t k2 = mt_trace_intern(t, "vectorized_elementwise_kernel");
  assert_true(k1 >= 1 && k2 >= 1 && k1 != k2);
  assert_int_equal(mt_trace_intern(t, "ampere_sgemm_128x64_nn"), k1);
  assert_int_equal(mt_trace_put_device(t, 0, "NVIDIA H100 80GB HBM3", 85899345920ull, 9, 0, NULL), MT_OK);
  for (int i = 0; i < 1000; i++) {
    mt_mem_event m = { .ts = 10 + i * 2, .dur = 1, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc,
                       .kind = MT_MEM_KIND_DEVICE, .addr = 0x7f0000000000ull + (uint64_t)i * 4096,
                       .size = 2097152, .thread = 1 };
    assert_int_equal(mt_trace_put_mem(t, &m), MT_OK);
    m.ts++; m.op = MT_MEM_FREE; m.api = MT_API_cudaFree;
    assert_int_equal(mt_trace_put_mem(t, &m), MT_OK);
  }
  mt_mem_event oom = { .ts = 5000, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = MT_MEM_KIND_DEVICE,
                       .size = 1ull << 40, .thread = 1, .result = 2 };
  assert_int_equal(mt_trace_put_mem(t, &oom), MT_OK);
  mt_kernel_event k = { .ts = 20, .dur = 3, .api = MT_API_cudaLaunchKernel, .name_id = k1, .stream = 7,
                        .grid = { 1024, 1, 1 }, .block = { 256, 1, 1 }, .gpu_start = -1, .gpu_end = -1 };
  assert_int_equal(mt_trace_put_kernel(t, &k), MT_OK);
  mt_range_event r = { .ts = 1, .te = -1, .kind = MT_RANGE_PUSH_POP, .name_id = mt_trace_intern(t, "step 0"),
                       .thread = 1 };
  assert_int_equal(mt_trace_put_range(t, &r), MT_OK);
  assert_int_equal(mt_trace_add_drops(t, "kernel", 5, "buffer full"), MT_OK);
  assert_int_equal(mt_trace_add_drops(t, "kernel", 7, NULL), MT_OK);
  assert_int_equal(mt_trace_commit(t), MT_OK);
  assert_int_equal(mt_trace_finalize(t, 99999), MT_OK);
  assert_int_equal(q1(t, "SELECT count(*) FROM sqlite_master WHERE name = 'kernel_launches_by_ts'"), 0);
  mt_trace_close(t);

  assert_int_equal(mt_trace_open(path, MT_OPEN_READ, &t, &err), MT_OK);
  assert_int_equal(mt_trace_version(t), MT_SCHEMA_VERSION);
  mt_process_info back;
  assert_int_equal(mt_trace_process(t, &back), MT_OK);
  assert_string_equal(back.run_id, "run-42");
  assert_int_equal(back.rank, 3);
  assert_int_equal(back.world_size, 8);
  assert_string_equal(back.command_line, "python train.py --lr 3e-4");
  assert_int_equal(back.end_ns, 99999);
  assert_int_equal(back.wall_offset_ns, 1700000000000000000LL);
  assert_int_equal(q1(t, "SELECT count(*) FROM mem_events WHERE op = 1 AND result = 0"), 1000);
  assert_int_equal(q1(t, "SELECT count(*) FROM mem_events WHERE op = 2"), 1000);
  assert_int_equal(q1(t, "SELECT size FROM mem_events WHERE result = 2"), 1ll << 40);
  assert_int_equal(q1(t, "SELECT sum(size) FROM mem_events WHERE op = 1 AND result = 0"), 1000LL * 2097152);
  assert_int_equal(q1(t, "SELECT count(*) FROM kernels k JOIN strings s ON s.id = k.name_id "
                         "WHERE s.value = 'ampere_sgemm_128x64_nn' AND grid_x = 1024 AND block_x = 256 "
                         "AND gpu_start IS NULL"), 1);
  assert_int_equal(q1(t, "SELECT count(*) FROM ranges WHERE te IS NULL"), 1);
  assert_int_equal(q1(t, "SELECT count FROM drops WHERE kind = 'kernel'"), 12);
  assert_int_equal(q1(t, "SELECT count(*) FROM enum_labels WHERE enum = 'api' AND value = 1 "
                         "AND label = 'cudaMalloc'"), 1);
  assert_int_equal(q1(t, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'mem_events_by_ts'"), 1);
  /* the kernel time index is left to the first analysis (this open) */
  assert_int_equal(q1(t, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                         "AND name = 'kernel_launches_by_ts'"), 1);
  mt_trace_close(t);
  /* a finished trace is one file: no WAL left beside it */
  char wal[600];
  snprintf(wal, sizeof wal, "%s-wal", path);
  assert_int_not_equal(access(wal, F_OK), 0);
}

static void test_create_refuses_existing(void **state)
{
  (void)state;
  const char *path = tmp_path("exists.db");
  FILE *f = fopen(path, "w");
  fputs("precious", f);
  fclose(f);
  mt_process_info p = info();
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_EIO);
  assert_null(t);
  assert_non_null(strstr(err.msg, path));
  f = fopen(path, "r");
  char buf[16] = { 0 };
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "precious");
}

/* Rewrites a fresh trace as a version-1 trace: what an older memtrace wrote. */
static void make_v1(const char *path)
{
  mt_process_info p = info();
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  mt_mem_event m = { .ts = 1, .op = MT_MEM_ALLOC, .api = MT_API_cudaMalloc, .kind = 1, .addr = 0x1000, .size = 512 };
  assert_int_equal(mt_trace_put_mem(t, &m), MT_OK);
  assert_int_equal(mt_trace_finalize(t, 10), MT_OK);
  assert_int_equal(sqlite3_exec(mt_trace_db(t), "DROP TABLE ooms; DROP TABLE gpu_memory; PRAGMA user_version = 1;",
                                NULL, NULL, NULL), SQLITE_OK);
  mt_trace_close(t);
}

static void test_older_refused_then_upgraded(void **state)
{
  (void)state;
  const char *path = tmp_path("v1.db");
  make_v1(path);
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_open(path, MT_OPEN_READ, &t, &err), MT_EOLDER);
  assert_null(t);
  assert_non_null(strstr(err.msg, "memtrace upgrade"));
  assert_non_null(strstr(err.msg, "version 1"));
  int from = -1;
  assert_int_equal(mt_trace_upgrade(path, &from, &err), MT_OK);
  assert_int_equal(from, 1);
  assert_int_equal(mt_trace_open(path, MT_OPEN_READ, &t, &err), MT_OK);
  assert_int_equal(mt_trace_version(t), 2);
  assert_int_equal(q1(t, "SELECT count(*) FROM ooms"), 0);
  assert_int_equal(q1(t, "SELECT size FROM mem_events"), 512);
  mt_trace_close(t);
}

static void test_write_open_upgrades(void **state)
{
  (void)state;
  const char *path = tmp_path("v1w.db");
  make_v1(path);
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_open(path, MT_OPEN_WRITE, &t, &err), MT_OK);
  assert_int_equal(mt_trace_version(t), MT_SCHEMA_VERSION);
  /* interning continues after the strings already there */
  int64_t id = mt_trace_intern(t, "new string");
  assert_true(id > q1(t, "SELECT max(id) FROM strings WHERE value <> 'new string'"));
  mt_trace_close(t);
}

static void test_newer_refused(void **state)
{
  (void)state;
  const char *path = tmp_path("v99.db");
  mt_process_info p = info();
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  assert_int_equal(mt_trace_finalize(t, 1), MT_OK);
  assert_int_equal(sqlite3_exec(mt_trace_db(t), "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  mt_trace_close(t);
  assert_int_equal(mt_trace_open(path, MT_OPEN_READ, &t, &err), MT_ENEWER);
  assert_non_null(strstr(err.msg, "newer"));
  assert_int_equal(mt_trace_upgrade(path, NULL, &err), MT_ENEWER);
}

static void test_not_traces(void **state)
{
  (void)state;
  mt_trace *t;
  mt_error err = { 0 };
  const char *empty = tmp_path("empty.db");
  fclose(fopen(empty, "w"));
  assert_int_equal(mt_trace_open(empty, MT_OPEN_READ, &t, &err), MT_ENOTTRACE);
  assert_non_null(strstr(err.msg, "empty"));

  const char *rnd = tmp_path("random.db");
  FILE *f = fopen(rnd, "w");
  srand(7);
  for (int i = 0; i < 8192; i++)
    fputc(rand() & 0xff, f);
  fclose(f);
  assert_int_equal(mt_trace_open(rnd, MT_OPEN_READ, &t, &err), MT_ENOTTRACE);
  assert_non_null(strstr(err.msg, rnd));

  /* an SQLite database of someone else's */
  const char *other = tmp_path("other.db");
  sqlite3 *db;
  assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(a); INSERT INTO x VALUES (1);", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(mt_trace_open(other, MT_OPEN_READ, &t, &err), MT_ENOTTRACE);
  assert_non_null(strstr(err.msg, "without memtrace tables"));

  assert_int_equal(mt_trace_open(tmp_path("missing.db"), MT_OPEN_READ, &t, &err), MT_EIO);
}

static void test_truncated(void **state)
{
  (void)state;
  const char *path = tmp_path("trunc.db");
  mt_process_info p = info();
  mt_trace *t;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  mt_trace_begin(t);
  for (int i = 0; i < 20000; i++) {
    mt_mem_event m = { .ts = i, .op = 1, .api = 1, .kind = 1, .addr = 0x10000 + (uint64_t)i, .size = 512 };
    mt_trace_put_mem(t, &m);
  }
  assert_int_equal(mt_trace_finalize(t, 5), MT_OK);
  mt_trace_close(t);
  FILE *f = fopen(path, "r+");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  assert_true(size > 100000);
  assert_int_equal(truncate(path, size / 2), 0);
  assert_int_equal(mt_trace_open(path, MT_OPEN_READ, &t, &err), MT_ECORRUPT);
  assert_non_null(strstr(err.msg, "truncated"));
}

static void test_size_labels(void **state)
{
  (void)state;
  assert_string_equal(mt_enum_label("api", MT_API_cuMemAlloc), "cuMemAlloc_v2");
  assert_string_equal(mt_enum_label("nccl_op", MT_NCCL_REDUCESCATTER), "reducescatter");
  assert_null(mt_enum_label("api", 12345));
  assert_null(mt_enum_label("nope", 1));
}

int main(void)
{
  snprintf(dir, sizeof dir, "/tmp/mt-test-trace-XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_create_refuses_existing),
    cmocka_unit_test(test_older_refused_then_upgraded),
    cmocka_unit_test(test_write_open_upgrades),
    cmocka_unit_test(test_newer_refused),
    cmocka_unit_test(test_not_traces),
    cmocka_unit_test(test_truncated),
    cmocka_unit_test(test_size_labels),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    rc = rc ? rc : 1;
  return rc;
}
