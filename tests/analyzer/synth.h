/* Shared by the cmocka suites of tests/analyzer: a scratch directory for
 * the group, and synthetic traces created through the trace writer with the
 * process facts each suite chooses.  Include after <cmocka.h>. */
#ifndef MT_TESTS_ANALYZER_SYNTH_H
#define MT_TESTS_ANALYZER_SYNTH_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "schemas/trace.h"

static char dir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/mt-test-analyzer-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A push/pop range on thread 1, and a pool heap, written to t. */
static void range(mt_trace *t, int64_t ts, int64_t te, const char *name, int depth)
{
  mt_range_event r = { .ts = ts, .te = te, .kind = MT_RANGE_PUSH_POP, .name_id = mt_trace_intern(t, name),
                       .depth = depth, .thread = 1 };
  assert_int_equal(mt_trace_put_range(t, &r), MT_OK);
}

static void heap(mt_trace *t, int64_t id, uint64_t addr, uint64_t size, int64_t created, int64_t destroyed)
{
  mt_heap_info h = { .id = id, .handle = (uint64_t)id, .usage = MT_HEAP_POOL, .addr = addr, .size = size,
                     .created = created, .destroyed = destroyed };
  assert_int_equal(mt_trace_put_heap(t, &h), MT_OK);
}

/* Creates DIR/name as a trace of one process and opens its first batch. */
static mt_trace *synth_create(const char *name, const char *run_id, int rank, int world, int64_t pid,
                              int64_t start_ns, char *path, size_t n)
{
  snprintf(path, n, "%s/%s", dir, name);
  mt_process_info p = { 0 };
  snprintf(p.run_id, sizeof p.run_id, "%s", run_id);
  p.rank = rank;
  p.world_size = world;
  snprintf(p.host, sizeof p.host, "h");
  p.pid = pid;
  p.command_line = "synthetic";
  p.start_ns = start_ns;
  p.end_ns = -1;
  p.producer = "test";
  mt_trace *t = NULL;
  mt_error err = { 0 };
  assert_int_equal(mt_trace_create(path, &p, &t, &err), MT_OK);
  assert_int_equal(mt_trace_begin(t), MT_OK);
  return t;
}
#endif
