/* libFuzzer harnesses: a .mtrace file (the bytes of an SQLite database)
 * through the reader and everything built on it.  One source, four
 * targets, chosen by MT_FUZZ_TRACE when compiled (fuzz/local.mk):
 *   1 report   mt_analysis_run, then the report in every format
 *   2 replay   the replay's input (mt_lifetimes_walk) and a baseline and a
 *              transformed replay
 *   3 export   Perfetto JSON and the PyTorch snapshot
 *   4 viewer   what memtrace-view loads: the memory-only preview, the full
 *              analysis, the lanes and the live set at the peak
 * Each input is written to a file (SQLite reads files) and opened as a
 * trace would be; what a harness checks is that nothing crashes, leaks or
 * overflows (ASan+UBSan): refusing a damaged file is a fine outcome. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "schemas/trace.h"
#include "analyzer/lib/analysis.h"
#ifndef MT_FUZZ_TRACE
#define MT_FUZZ_TRACE 1
#endif
#if MT_FUZZ_TRACE == 1
#include "analyzer/cmds/render.h"
#elif MT_FUZZ_TRACE == 2
#include "analyzer/replay/input_trace.h"
#include "analyzer/replay/replay.h"
#elif MT_FUZZ_TRACE == 3
#include "analyzer/interop/interop.h"
#else
#include "gui/lanes.h"
#include "gui/liveset.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[256], out[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* one thread: the walk's read-ahead threads make runs irreproducible */
  setenv("MEMTRACE_THREADS", "1", 1);
  mt_trace_watch_damage();
  const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(path, sizeof path, "%s/fuzz-trace-%ld.mtrace", dir, (long)getpid());
  snprintf(out, sizeof out, "%s.out", path);
  return 0;
}

static void cleanup(void)
{
  char p[320];
  unlink(path);
  unlink(out);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-journal", path);
  unlink(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!*path)
    LLVMFuzzerInitialize(NULL, NULL);
  cleanup();
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  mt_error err = { 0 };
  (void)err;   /* the replay target reports through its own buffer */
#if MT_FUZZ_TRACE == 1
  mt_analysis *a = NULL;
  mt_analysis_opts o = { .rank = -1, .timeline_samples = 64 };
  if (mt_analysis_run(path, &o, &a, &err) == MT_OK) {
    FILE *devnull = fopen("/dev/null", "w");
    for (int fmt = 0; fmt < 4 && devnull; fmt++)
      mt_render(devnull, a, fmt);
    if (devnull)
      fclose(devnull);
    mt_analysis_free(a);
  }
#elif MT_FUZZ_TRACE == 2
  mt_rp_input in;
  char e[512];
  if (mt_rp_input_from_trace(path, &in, e, sizeof e) == 0) {
    mt_rp_plan p;
    mt_rp_result base, pred;
    mt_rp_plan_init(&p);
    mt_rp_baseline(&in, p.allocator, &base);
    mt_rp_plan_option(&p, "checkpoint", "all", e, sizeof e);
    mt_rp_plan_option(&p, "zero", "3", e, sizeof e);
    mt_rp_plan_option(&p, "world", "2", e, sizeof e);
    mt_rp_replay(&in, &p, &pred);
    mt_rp_input_free(&in);
  }
#elif MT_FUZZ_TRACE == 3
  const char *one[1] = { path };
  mt_export_perfetto(one, 1, out, &err);
  unlink(out);
  mt_export_torch_snapshot(path, out, &err);
#else
  mt_analysis *pre = NULL, *a = NULL;
  mt_analysis_opts q = { .rank = -1, .timeline_samples = 64, .memory_only = 1 };
  if (mt_analysis_run(path, &q, &pre, &err) == MT_OK)
    mt_analysis_free(pre);
  mt_analysis_opts o = { .rank = -1, .timeline_samples = 64, .max_objects = 10000 };
  if (mt_analysis_run(path, &o, &a, &err) == MT_OK) {
    MtLiveSet *ls = mt_liveset_at(&a->ranks[0], a->ranks[0].peak.ts, NULL);
    mt_liveset_free(ls);
    mt_analysis_free(a);
  }
  MtLanes *l = mt_lanes_load(path, NULL);
  if (l)
    mt_lanes_free(l);
#endif
  cleanup();
  return 0;
}
