/* memtrace recommend: plans that fit a memory budget, each checked by a
 * full replay of the trace (analyzer/replay/planner.h, docs/REPLAY.md). */
#include "config.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/replay/input_trace.h"
#include "analyzer/replay/planner.h"
#include "analyzer/replay/cost.h"
#include "analyzer/cmds/progress.h"
#include "analyzer/replay/technique.h"
#include <unistd.h>

/* Progress on stderr when it is a terminal (progress.c: one line, redrawn, erased when done). */
static void progress(size_t done, size_t total, void *arg)
{
  (void)arg;
  mt_progress("recommend", "plans replayed", done, total);
}

static void json_str(const char *s)
{
  putchar('"');
  for (; *s; s++)
    if (*s == '"' || *s == '\\')
      printf("\\%c", *s);
    else if ((unsigned char)*s >= 0x20)
      putchar(*s);
  putchar('"');
}

/* recommend --maximize batch|seq: the largest value with which plan p
 * (as recorded, or the technique options given) fits the budget, by
 * replay: doubled from the recorded value until it does not fit, then
 * bisected.  0, or an exit status after a message. */
static int maximize(const mt_rp_input *in, const char *path, mt_rp_plan *p, const char *what, uint64_t budget,
                    const char *format)
{
  int is_batch = strcmp(what, "batch") == 0;
  int64_t rec = is_batch ? in->recorded_batch : in->recorded_seq;
  char why[512], a[32], b[32];
  if (rec <= 0 && is_batch && in->recorded_seq > 0) {
    mt_errorf("%s: the job states a shape without a batch dimension (memtrace.shape: one crop per step): "
              "cannot maximize the batch", path);
    return MT_EXIT_USAGE;
  }
  if (rec <= 0) {
    mt_errorf("%s: the recorded %s is unknown (no \"memtrace.shape %s=N\" range): cannot maximize it", path, what,
              is_batch ? "batch" : "seq");
    return MT_EXIT_USAGE;
  }
  uint64_t peak[2] = { 0, 0 };
  /* fits(n): the plan at n replays within the budget */
#define FITS(n, out) (is_batch ? (p->batch = (n)) : (p->seq = (n)), \
                      mt_rp_replay(in, p, &r) == 0 && !r.ooms && ((out) = r.peak_reserved) <= budget)
  mt_rp_result r;
  if (is_batch)
    p->batch = rec;
  else
    p->seq = rec;
  if (mt_rp_plan_refused(in, p, why, sizeof why)) {
    mt_errorf("%s: cannot model %s", path, why);
    return MT_EXIT_FAIL;
  }
  int64_t lo = 0, hi = rec;   /* lo fits (0: none known), hi does not */
  uint64_t pk = 0;
  while (FITS(hi, pk)) {
    lo = hi;
    peak[0] = pk;
    if (hi > (1ll << 30))
      break;
    hi *= 2;
  }
  if (lo == hi) {
    mt_errorf("%s: a %s of %lld still fits in the budget", path, what, (long long)hi);
    return MT_EXIT_FAIL;
  }
  if (!lo) {
    for (lo = hi / 2; lo >= 1 && !FITS(lo, pk); hi = lo, lo /= 2)
      ;
    if (lo >= 1)
      peak[0] = pk;
  }
  while (hi - lo > 1) {
    int64_t m = lo + (hi - lo) / 2;
    if (FITS(m, pk)) {
      lo = m;
      peak[0] = pk;
    } else {
      hi = m;
    }
  }
  FITS(hi, peak[1]);
  peak[1] = r.peak_reserved;
#undef FITS
  if (strcmp(format, "json") == 0)
    printf("{\"budget_bytes\": %" PRIu64 ", \"maximize\": \"%s\", \"recorded\": %lld, \"value\": %lld, "
           "\"peak_reserved_bytes\": %" PRIu64 ", \"next_value\": %lld, \"next_peak_reserved_bytes\": %" PRIu64 "}\n",
           budget, what, (long long)rec, (long long)lo, peak[0], (long long)hi, peak[1]);
  else if (lo < 1)
    printf("no %s fits in %s: %s 1 needs %s\n", what, mt_fmt_bytes(budget, a, sizeof a), what,
           mt_fmt_bytes(peak[1], b, sizeof b));
  else
    printf("largest %s that fits in %s: %lld (recorded %lld), predicted peak reserved %s; %lld needs %s\n", what,
           mt_fmt_bytes(budget, a, sizeof a), (long long)lo, (long long)rec, mt_fmt_bytes(peak[0], b, sizeof b),
           (long long)hi, mt_fmt_bytes(peak[1], why, sizeof why));
  return MT_EXIT_OK;
}

static int run(int argc, char **argv)
{
  const char *path = NULL, *format = "text", *gpu = NULL;
  mt_rp_recommend_opts o = { .max_overhead = -1, .allocator = MT_RP_ALLOC_CACHING };
  int have_budget = 0, top = 10;
  char err[512];
  const char *maxim = NULL;
  int plan_opts = 0, prc;
  mt_rp_plan mp;            /* --maximize: the plan, from technique options */
  mt_rp_plan_init(&mp);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--budget") == 0 && v) {
      if (mt_parse_size(v, &o.budget) != 0)
        return mt_usage_error("recommend", "--budget needs a size such as 40GiB");
      have_budget = 1;
      i++;
    } else if (strcmp(a, "--world") == 0 && v) {
      o.world = atoi(v);
      if (o.world < 1)
        return mt_usage_error("recommend", "--world needs a positive number");
      i++;
    } else if (strcmp(a, "--max-overhead") == 0 && v) {
      o.max_overhead = atof(v) / 100.0;
      i++;
    } else if (strcmp(a, "--gpu") == 0 && v) {
      if (!mt_rp_gpu_find(v))
        return mt_usage_error("recommend", "--gpu: unknown GPU '%s' (known: %s)", v, mt_rp_gpu_keys());
      gpu = v;
      i++;
    } else if (strcmp(a, "--top") == 0 && v) {
      top = atoi(v);
      i++;
    } else if (strcmp(a, "--allocator") == 0 && v) {
      if (mt_rp_allocator_parse(v, &o.allocator) != 0)
        return mt_usage_error("recommend", "--allocator needs caching, expandable, async or raw");
      i++;
    } else if (strcmp(a, "--format") == 0 && v) {
      if (strcmp(v, "text") && strcmp(v, "json"))
        return mt_usage_error("recommend", "--format needs text or json");
      format = v;
      i++;
    } else if (strcmp(a, "--maximize") == 0 && v) {
      if (strcmp(v, "batch") && strcmp(v, "seq"))
        return mt_usage_error("recommend", "--maximize needs batch or seq");
      maxim = v;
      i++;
    } else if (a[0] == '-' && a[1] == '-' && v && (prc = mt_rp_plan_option(&mp, a + 2, v, err, sizeof err)) != 0) {
      /* a technique option: the plan --maximize keeps */
      if (prc < 0)
        return mt_usage_error("recommend", "%s", err);
      plan_opts = 1;
      i++;
    } else if (a[0] == '-') {
      return mt_usage_error("recommend", "unknown option '%s'", a);
    } else if (path) {
      return mt_usage_error("recommend", "one TRACE or RUNDIR only");
    } else {
      path = a;
    }
  }
  if (!path || !have_budget)
    return mt_usage_error("recommend", "needs TRACE|RUNDIR and --budget SIZE");
  if (plan_opts && !maxim)
    return mt_usage_error("recommend", "technique options go with --maximize (recommend chooses them otherwise)");
  char **files;
  int n = mt_rp_run_files(path, &files, err, sizeof err);
  if (n < 0) {
    mt_errorf("%s", err);
    return MT_EXIT_USAGE;
  }
  /* the plan must fit on every rank: plan on the rank with the highest peak */
  mt_rp_input in;
  int best = -1;
  uint64_t best_peak = 0;
  for (int i = 0; i < n; i++) {
    mt_rp_input x;
    mt_rp_result r;
    mt_progress("recommend", "reading the rank files", (size_t)i + 1, (size_t)n);
    if (mt_rp_input_from_trace(files[i], &x, err, sizeof err) != 0) {
      mt_progress_done();
      mt_errorf("%s", err);
      for (int j = 0; j < n; j++)
        free(files[j]);
      free(files);
      if (best >= 0)
        mt_rp_input_free(&in);
      return MT_EXIT_USAGE;
    }
    if (mt_rp_baseline(&x, o.allocator, &r) == 0 && (best < 0 || r.peak_reserved > best_peak)) {
      if (best >= 0)
        mt_rp_input_free(&in);
      in = x;
      best = i;
      best_peak = r.peak_reserved;
    } else {
      mt_rp_input_free(&x);
    }
  }
  if (maxim) {
    mp.allocator = o.allocator;
    if (o.world > 0)
      mp.world = o.world;
    int mrc = maximize(&in, path, &mp, maxim, o.budget, format);
    for (int i = 0; i < n; i++)
      free(files[i]);
    free(files);
    mt_rp_input_free(&in);
    return mrc;
  }
  mt_rp_choice *c = NULL;
  size_t nc = 0, explored = 0;
  int rc = MT_EXIT_OK;
  char model[512];
  if (mt_rp_cost_build(&in, gpu, err, sizeof err) != 0) {
    mt_errorf("%s: %s", files[best], err);
    mt_rp_input_free(&in);
    for (int j = 0; j < n; j++)
      free(files[j]);
    free(files);
    return MT_EXIT_USAGE;
  }
  mt_rp_cost_describe(&in, model, sizeof model);
  static mt_rp_refusals refused;
  o.refused = &refused;
  if (isatty(2))
    o.progress = progress;
  mt_progress("recommend", "replaying every plan", 0, 0);
  prc = mt_rp_recommend(&in, &o, &c, &nc, &explored);
  mt_progress_done();
  if (prc != 0) {
    mt_errorf("%s: out of memory while planning", path);
    rc = MT_EXIT_FAIL;
  } else {
    size_t nfit = 0;
    for (size_t i = 0; i < nc; i++)
      nfit += c[i].fits;
    char a[32], b[32];
    if (strcmp(format, "json") == 0) {
      printf("{\"budget_bytes\": %" PRIu64 ", \"baseline_peak_reserved_bytes\": %" PRIu64
             ", \"plans_explored\": %zu, \"fitting\": %zu, \"step_ns\": %" PRId64 ", \"cost_model\": ",
             o.budget, best_peak, explored, nfit, in.cost ? in.cost->step_ns : (int64_t)0);
      json_str(model);
      printf(", \"plans\": [");
      size_t shown = 0;
      for (size_t i = 0; i < nc && (int)shown < top; i++) {
        if (nfit && !c[i].fits)
          break;
        printf("%s{\"options\": \"%s\", \"fits\": %s, \"peak_allocated_bytes\": %" PRIu64
               ", \"peak_reserved_bytes\": %" PRIu64 ", \"over_budget_bytes\": %" PRIu64
               ", \"compute_overhead\": %.4f, \"comm_overhead\": %.4f, \"recompute_ns\": %" PRId64
               ", \"extra_comm_bytes\": %" PRIu64 ", \"code_change\": %d, \"verified_by_replay\": %s",
               shown ? ", " : "", c[i].options, c[i].fits ? "true" : "false", c[i].result.peak_allocated,
               c[i].result.peak_reserved, c[i].fits ? 0 : c[i].result.peak_reserved - o.budget,
               c[i].compute_overhead, c[i].comm_overhead, c[i].result.recompute_ns, c[i].result.extra_comm_bytes,
               c[i].code_change, c[i].verified_by_replay ? "true" : "false");
        printf(", \"added_step_ns\": %" PRId64 ", \"added_step_fraction\": %.6f, \"recompute_step_ns\": %" PRId64
               ", \"comm_step_ns\": %" PRId64 ", \"host_step_ns\": %" PRId64 ", \"other_step_ns\": %" PRId64
               ", \"alters_training\": %s, \"why\": ",
               c[i].cost.added_ns, c[i].cost.fraction, c[i].cost.recompute_ns, c[i].cost.comm_ns, c[i].cost.host_ns,
               c[i].cost.other_ns, c[i].alters_training ? "true" : "false");
        json_str(c[i].why);
        char tc[2048];
        mt_rp_plan_torch(&in, &c[i].plan, tc, sizeof tc);
        printf(", \"pytorch\": ");
        json_str(tc);
        printf("}");
        shown++;
      }
      printf("], \"not_considered\": [");
      for (size_t i = 0; i < refused.n; i++) {
        printf("%s", i ? ", " : "");
        json_str(refused.why[i]);
      }
      printf("]");
      if (!nfit && nc)
        printf(", \"closest\": {\"options\": \"%s\", \"over_budget_bytes\": %" PRIu64 "}", c[0].options,
               c[0].result.peak_reserved - o.budget);
      printf("}\n");
    } else {
      printf("budget %s; recorded peak reserved %s (rank file %s); %zu plans replayed, %zu fit\n",
             mt_fmt_bytes(o.budget, a, sizeof a), mt_fmt_bytes(best_peak, b, sizeof b), files[best], explored, nfit);
      printf("step time %.3f ms on the %s\n", in.cost ? (double)in.cost->step_ns / 1e6 : 0.0, model);
      if (!nfit && nc)
        printf("nothing fits: the closest plan, %s, is %s over the budget (%.1f %%)\n", c[0].options,
               mt_fmt_bytes(c[0].result.peak_reserved - o.budget, a, sizeof a),
               o.budget ? 100.0 * (double)(c[0].result.peak_reserved - o.budget) / (double)o.budget : 0.0);
      size_t shown = 0;
      for (size_t i = 0; i < nc && (int)shown < top; i++) {
        if (nfit && !c[i].fits)
          break;
        printf("%2zu. %-60s reserved %10s  step %+.3f ms (%+.1f%%: recompute %.3f, comm %.3f, host %.3f)  code %d%s\n",
               shown + 1, c[i].options, mt_fmt_bytes(c[i].result.peak_reserved, a, sizeof a),
               (double)c[i].cost.added_ns / 1e6, 100 * c[i].cost.fraction, (double)c[i].cost.recompute_ns / 1e6,
               (double)(c[i].cost.comm_ns) / 1e6, (double)c[i].cost.host_ns / 1e6, c[i].code_change,
               c[i].alters_training ? "  (changes training)" : "");
        if (c[i].why[0] && (int)shown + 1 < top)
          printf("    above #%zu: %s\n", shown + 2, c[i].why);
        char tc[2048];
        mt_rp_plan_torch(&in, &c[i].plan, tc, sizeof tc);
        if (tc[0])
          printf("    in PyTorch: %s\n", tc);
        shown++;
      }
      if (refused.n)
        printf("not considered (the recording does not support them):\n");
      for (size_t i = 0; i < refused.n; i++)
        printf("  %s\n", refused.why[i]);
    }
    if (!nfit)
      rc = MT_EXIT_THRESHOLD;
  }
  free(c);
  mt_rp_input_free(&in);
  for (int j = 0; j < n; j++)
    free(files[j]);
  free(files);
  return rc;
}

const mt_cmd mt_cmd_recommend = {
  "recommend",
  "plans that fit a memory budget, each verified by replay",
  "Usage: memtrace recommend TRACE|RUNDIR --budget SIZE [--world N] [--max-overhead PCT] [--gpu NAME]\n"
  "                          [--allocator caching|expandable|async|raw] [--top N] [--format text|json]\n"
  "\n"
  "Explores checkpointing (incl. the cheapest placement for the budget, by a\n"
  "dynamic program over the chain of layers), ZeRO stages, offload, flash\n"
  "attention, micro-batches and optimizers; replays each plan; lists those\n"
  "whose predicted peak reserved fits, each with the PyTorch change it stands\n"
  "for, ranked by the step time it adds on the target GPU (--gpu h100|h200|\n"
  "a100-80gb|a100-40gb|b200|l40s|v100; default: the recorded device, else the\n"
  "H100): recompute from FLOPs and bytes on its data sheet (or the recorded\n"
  "CUPTI kernel times on a real GPU), communication from bytes and link\n"
  "bandwidth; plans that change the optimizer or what is trained come after\n"
  "those that do not.  Each plan says why it ranks above the next.\n"
  "Techniques the recording cannot support (its job model lacks what they\n"
  "act on) are listed as not considered, with why.\n"
  "Exit 3 when none fits (then the closest plans and how far they are over\n"
  "the budget).  Progress on stderr when it is a terminal.\n"
  "\n"
  "  --maximize batch|seq [TECHNIQUE OPTIONS]\n"
  "      instead: the largest batch (or sequence length / crop) with which the\n"
  "      recording, under the techniques given (replay's options: --checkpoint all,\n"
  "      --precision bf16, ...), fits the budget; the next value's peak beside it.\n"
  "      Needs the recorded shape (an NVTX range \"memtrace.shape batch=B seq=S\").\n",
  run,
};
