/* memtrace replay: "what would my peak be with X?" — the recording's
 * tensor lifetimes transformed as technique X would, replayed through an
 * allocator model (analyzer/replay, docs/REPLAY.md). */
#include "config.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/cmds/progress.h"
#include "analyzer/replay/input_trace.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/technique.h"

struct rank_out {
  int rank;
  mt_rp_result base, pred;
  mt_rp_timeline tl;        /* with --timeline */
};

static void json_result(FILE *f, const mt_rp_result *r, int cats)
{
  fprintf(f, "{\"peak_allocated_bytes\": %" PRIu64 ", \"peak_reserved_bytes\": %" PRIu64, r->peak_allocated,
          r->peak_reserved);
  if (cats) {
    fprintf(f, ", \"by_category\": {");
    for (int c = 0; c < MT_RP_NCAT; c++)
      fprintf(f, "\"%s\": %" PRIu64 ", ", mt_rp_cat_name(c), r->by_cat[c]);
    fprintf(f, "\"cache_free\": %" PRIu64 "}", r->cache_free);
    if (r->nstages > 0) {
      fprintf(f, ", \"stage\": %d, \"stages\": [", r->stage);
      for (int s = 0; s < r->nstages; s++)
        fprintf(f, "%s{\"stage\": %d, \"peak_allocated_bytes\": %" PRIu64 ", \"peak_reserved_bytes\": %" PRIu64 "}",
                s ? ", " : "", s, r->stage_peak_allocated[s], r->stage_peak_reserved[s]);
      fputc(']', f);
    }
  }
  fputc('}', f);
}

static void cost_json(FILE *f, const mt_rp_result *r)
{
  fprintf(f, "{\"recompute_ns\": %" PRId64 ", \"extra_comm_bytes\": %" PRIu64 ", \"extra_comm_ns\": %" PRId64
             ", \"host_transfer_bytes\": %" PRId64 ", \"host_pinned_bytes\": %" PRIu64 ", \"host_oom\": %s}",
          r->recompute_ns, r->extra_comm_bytes, r->extra_comm_ns, r->offload_bytes, r->host_pinned,
          r->host_oom ? "true" : "false");
}

static void json_samples(FILE *f, const char *key, const uint64_t *v, size_t n)
{
  fprintf(f, ", \"%s\": [", key);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%s%" PRIu64, i ? ", " : "", v[i]);
  fputc(']', f);
}

static void json_timeline(FILE *f, const mt_rp_timeline *tl)
{
  fprintf(f, ", \"timeline\": {\"t0_ns\": %" PRId64 ", \"dt_ns\": %" PRId64, tl->t0, tl->dt);
  json_samples(f, "allocated", tl->allocated, tl->n);
  json_samples(f, "reserved", tl->reserved, tl->n);
  json_samples(f, "allocated_max", tl->allocated_max, tl->n);
  json_samples(f, "reserved_max", tl->reserved_max, tl->n);
  fputc('}', f);
}

static int run(int argc, char **argv)
{
  mt_rp_plan p;
  const char *path = NULL, *format = "text";
  size_t samples = 0;
  char err[512];
  mt_rp_plan_init(&p);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0) {
      if (path)
        return mt_usage_error("replay", "one TRACE or RUNDIR only ('%s')", a);
      path = a;
      continue;
    }
    char name[64];
    const char *v = strchr(a, '=');
    size_t nl = v ? (size_t)(v - a - 2) : strlen(a + 2);
    if (nl >= sizeof name)
      return mt_usage_error("replay", "unknown option '%s'", a);
    memcpy(name, a + 2, nl);
    name[nl] = 0;
    if (v)
      v++;
    else if (i + 1 < argc)
      v = argv[++i];
    if (strcmp(name, "format") == 0) {
      if (!v || (strcmp(v, "text") && strcmp(v, "json")))
        return mt_usage_error("replay", "--format needs text or json");
      format = v;
      continue;
    }
    if (strcmp(name, "timeline") == 0) {
      char *end;
      unsigned long long k = v ? strtoull(v, &end, 10) : 0;
      if (!v || *v == '-' || *end || k < 2 || k > 10000000)
        return mt_usage_error("replay", "--timeline needs a number of samples from 2 to 10000000");
      samples = (size_t)k;
      continue;
    }
    int rc = mt_rp_plan_option(&p, name, v, err, sizeof err);
    if (rc < 0)
      return mt_usage_error("replay", "%s", err);
    if (rc == 0)
      return mt_usage_error("replay", "unknown option '%s'", a);
  }
  if (!path)
    return mt_usage_error("replay", "needs a TRACE or RUNDIR");
  char **files;
  int n = mt_rp_run_files(path, &files, err, sizeof err);
  if (n < 0) {
    mt_errorf("%s", err);
    return MT_EXIT_USAGE;
  }
  struct rank_out *ro = calloc((size_t)n, sizeof *ro);
  int worst = 0, rc = MT_EXIT_OK;
  for (int i = 0; i < n && ro; i++) {
    mt_rp_input in;
    mt_progress("replay", "reading and replaying the rank files", (size_t)i + 1, (size_t)n);
    if (mt_rp_input_from_trace(files[i], &in, err, sizeof err) != 0) {
      mt_progress_done();
      mt_errorf("%s", err);
      rc = MT_EXIT_USAGE;
      break;
    }
    ro[i].rank = in.rank;
    char why[768];
    if (mt_rp_plan_refused(&in, &p, why, sizeof why)) {
      /* never "no change" in silence: a technique the job model cannot
       * express is refused with what is missing */
      mt_progress_done();
      mt_errorf("%s: cannot model %s", files[i], why);
      mt_rp_input_free(&in);
      rc = MT_EXIT_FAIL;
      break;
    }
    if (mt_rp_baseline(&in, p.allocator, &ro[i].base) != 0 ||
        (samples ? mt_rp_replay_timeline(&in, &p, samples, &ro[i].pred, &ro[i].tl)
                 : mt_rp_replay(&in, &p, &ro[i].pred)) != 0) {
      mt_progress_done();
      mt_errorf("%s: out of memory while replaying", files[i]);
      rc = MT_EXIT_FAIL;
    }
    if (ro[i].pred.peak_allocated > ro[worst].pred.peak_allocated)
      worst = i;
    mt_rp_input_free(&in);
  }
  mt_progress_done();
  if (rc == MT_EXIT_OK) {
    char desc[512];
    mt_rp_plan_describe(&p, desc, sizeof desc);
    const struct rank_out *w = &ro[worst];
    if (strcmp(format, "json") == 0) {
      printf("{\"plan\": \"%s\", \"allocator\": \"%s\", \"rank\": %d, \"baseline\": ", desc,
             mt_rp_allocator_name(p.allocator), w->rank);
      json_result(stdout, &w->base, 0);
      printf(", \"predicted\": ");
      json_result(stdout, &w->pred, 1);
      printf(", \"cost\": ");
      cost_json(stdout, &w->pred);
      if (samples)
        json_timeline(stdout, &w->tl);
      printf(", \"ranks\": [");
      for (int i = 0; i < n; i++) {
        printf("%s{\"rank\": %d, \"file\": \"%s\", \"baseline\": ", i ? ", " : "", ro[i].rank, files[i]);
        json_result(stdout, &ro[i].base, 0);
        printf(", \"predicted\": ");
        json_result(stdout, &ro[i].pred, 1);
        printf(", \"cost\": ");
        cost_json(stdout, &ro[i].pred);
        printf("}");
      }
      printf("]}\n");
    } else {
      char a[32], b[32], c[32], d[32];
      printf("plan: %s (allocator model: %s)\n", desc, mt_rp_allocator_name(p.allocator));
      printf("rank %d (highest predicted peak of %d)\n", w->rank, n);
      printf("  %-10s allocated %12s  reserved %12s\n", "recorded", mt_fmt_bytes(w->base.peak_allocated, a, sizeof a),
             mt_fmt_bytes(w->base.peak_reserved, b, sizeof b));
      printf("  %-10s allocated %12s  reserved %12s\n", "predicted", mt_fmt_bytes(w->pred.peak_allocated, c, sizeof c),
             mt_fmt_bytes(w->pred.peak_reserved, d, sizeof d));
      for (int s = 0; s < w->pred.nstages; s++)
        printf("  pipeline stage %d: allocated %12s  reserved %12s%s\n", s,
               mt_fmt_bytes(w->pred.stage_peak_allocated[s], a, sizeof a),
               mt_fmt_bytes(w->pred.stage_peak_reserved[s], b, sizeof b), s == w->pred.stage ? "  (highest)" : "");
      printf("  at the predicted peak:\n");
      for (int k = 0; k < MT_RP_NCAT; k++)
        if (w->pred.by_cat[k])
          printf("    %-16s %12s\n", mt_rp_cat_name(k), mt_fmt_bytes(w->pred.by_cat[k], a, sizeof a));
      printf("    %-16s %12s\n", "cache_free", mt_fmt_bytes(w->pred.cache_free, a, sizeof a));
      printf("  cost: recompute %.3f ms, extra communication %s per step (%.3f ms), host transfers %s\n",
             (double)w->pred.recompute_ns / 1e6, mt_fmt_bytes(w->pred.extra_comm_bytes, a, sizeof a),
             (double)w->pred.extra_comm_ns / 1e6, mt_fmt_bytes((uint64_t)w->pred.offload_bytes, b, sizeof b));
      if (w->pred.host_pinned)
        printf("  host: pinned %s%s\n", mt_fmt_bytes(w->pred.host_pinned, a, sizeof a),
               w->pred.host_oom ? ", more than --host-memory: out of host memory" : "");
    }
  }
  for (int i = 0; i < n; i++) {
    if (ro)
      mt_rp_timeline_free(&ro[i].tl);
    free(files[i]);
  }
  free(files);
  free(ro);
  return rc;
}

const mt_cmd mt_cmd_replay = {
  "replay",
  "predict the peak under a technique by replaying a trace",
  "Usage: memtrace replay TRACE|RUNDIR [options]\n"
  "\n"
  "Replays the recorded tensor lifetimes transformed as the technique would\n"
  "transform them, through an allocator model, and prints the predicted peak\n"
  "(for the rank with the highest one; JSON lists every rank) with its cost.\n"
  "\n"
  "Techniques (the table of analyzer/replay/technique.c; each acts on the job model\n"
  "the analysis builds from the recording; one the recording cannot support is refused\n"
  "with what is missing, exit 1):\n"
  "  --checkpoint none|all|every:K|layers:A,Bs,...|selective   (non-reentrant, per numbered module;\n"
  "                     Ns: layer N with the outputs of its operators with FLOPs saved)\n"
  "  --zero 0|1|2|3   --world N          ZeRO stage / FSDP (3 = FULL_SHARD, 2 = SHARD_GRAD_OP)\n"
  "  --sp N --sp-kind megatron|ulysses   sequence parallelism\n"
  "  --tp N                              Megatron tensor parallelism (with its sequence parallelism)\n"
  "  --offload optimizer|optimizer:layerwise|params   --micro-batches N\n"
  "  --optimizer adamw|sgd|lion|adafactor|adam-mini|adam8bit   (sgd: with momentum)\n"
  "  --attention naive|flash             --train-layers K\n"
  "  --pp N --pp-schedule gpipe|1f1b     pipeline (every stage replayed; the highest is reported)\n"
  "  --precision fp32|bf16|fp16          compute precision (fp32 master weights below fp32;\n"
  "                                      fp8 refused: not modelled)\n"
  "  --train-only MODULE,...             train only the parameters under these module paths\n"
  "                                      (prefixes at a '.'); the rest frozen\n"
  "  --chunk N                           the Evoformer's attention N residues at a time\n"
  "  --offload nvme --host-memory SIZE   ZeRO-Infinity; the pinned host memory an offload needs is\n"
  "                                      predicted and checked against SIZE (JSON cost.host_oom)\n"
  "  --batch N[/R]  --seq N[/R]          another batch / sequence length (crop); R: the recorded\n"
  "                                      one unless the job states it (NVTX \"memtrace.shape batch=B seq=S\")\n"
  "Model and output:\n"
  "  --allocator caching|expandable|async|raw   (default caching)\n"
  "  --format text|json\n"
  "  --timeline N       JSON: add the predicted allocated/reserved of the reported rank\n"
  "                     (its highest stage) sampled on N points from its first to its last\n"
  "                     replayed event (t0_ns, dt_ns, samples and maxima between samples)\n",
  run,
};
