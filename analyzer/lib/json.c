/* libmemtrace-analysis: the analysis as JSON (schemas/report.schema.json). */
#include "config.h"
#include <json-c/json.h>
#include <stdio.h>
#include "analyzer/lib/analysis.h"
#include "schemas/enums.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))
#define I(v) json_object_new_int64((int64_t)(v))
#define S(v) ((v) ? json_object_new_string(v) : NULL)

static json_object *opt_i(int64_t v) { return v < 0 ? NULL : I(v); }

static json_object *cats(const uint64_t *c)
{
  json_object *o = json_object_new_object();
  for (int i = 0; i < MT_CAT_COUNT; i++)
    ADD(o, mt_category_name(i), I(c[i]));
  return o;
}

static json_object *rules(const uint64_t *c)
{
  json_object *o = json_object_new_object();
  for (int i = 0; i < MT_RULE_COUNT; i++)
    ADD(o, mt_rule_name(i), I(c[i]));
  return o;
}

static json_object *segments(const mt_snapshot *s, size_t max)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < s->nsegments && i < max; i++) {
    const mt_segment_frag *f = &s->segments[i];
    json_object *o = json_object_new_object();
    ADD(o, "heap", I(f->heap));
    ADD(o, "device", I(f->device));
    ADD(o, "addr", I(f->addr));
    ADD(o, "size_bytes", I(f->size));
    ADD(o, "used_bytes", I(f->used));
    ADD(o, "largest_free_bytes", I(f->largest_free));
    ADD(o, "blocks", I(f->nblocks));
    json_object_array_add(a, o);
  }
  return a;
}

static json_object *objects(const mt_rank *r, const mt_snapshot *s, size_t max)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < s->nobjects && i < max; i++) {
    const mt_object *x = &s->objects[i];
    json_object *o = json_object_new_object();
    ADD(o, "kind", json_object_new_string(x->is_tensor ? "tensor" : "device_allocation"));
    ADD(o, "size_bytes", I(x->size));
    ADD(o, "label", S(x->label));
    ADD(o, "where", S(x->where));
    ADD(o, "category", json_object_new_string(mt_category_name(x->category)));
    ADD(o, "rule", json_object_new_string(mt_rule_name(x->rule)));
    ADD(o, "step", opt_i(x->step));
    ADD(o, "layer", opt_i(x->layer));
    ADD(o, "phase", S(x->phase));
    ADD(o, "range", S(x->range));
    ADD(o, "alloc_ns", I(r->start_ns + x->alloc_ts));
    ADD(o, "free_ns", x->free_ts < 0 ? NULL : I(r->start_ns + x->free_ts));
    ADD(o, "device", I(x->device));
    ADD(o, "addr", I(x->addr));
    json_object_array_add(a, o);
  }
  return a;
}

static json_object *rank_json(const mt_rank *r)
{
  json_object *o = json_object_new_object();
  ADD(o, "rank", I(r->rank));
  ADD(o, "local_rank", I(r->local_rank));
  ADD(o, "world_size", I(r->world_size));
  ADD(o, "pid", I(r->pid));
  ADD(o, "host", json_object_new_string(r->host));
  ADD(o, "gpus", S(r->gpus));
  ADD(o, "run_id", json_object_new_string(r->run_id));
  ADD(o, "trace", S(r->path));
  ADD(o, "producer", S(r->producer));
  ADD(o, "command_line", S(r->command_line));
  ADD(o, "start_ns", I(r->start_ns));
  ADD(o, "end_ns", r->end_ns < 0 ? NULL : I(r->start_ns + r->end_ns));
  ADD(o, "incomplete", json_object_new_boolean(r->incomplete));
  ADD(o, "incomplete_reason", S(r->incomplete_reason));
  ADD(o, "dropped_events", I(r->dropped));
  ADD(o, "drops", S(r->drops_detail));
  ADD(o, "import_lacks", S(r->import_lacks));

  json_object *p = json_object_new_object();
  ADD(p, "allocated_bytes", I(r->peak_allocated));
  ADD(p, "reserved_bytes", I(r->peak_reserved));
  ADD(p, "time_ns", I(r->start_ns + r->peak_allocated_ts));
  ADD(p, "step", opt_i(r->peak.step));
  ADD(p, "phase", S(r->peak.phase));
  ADD(p, "range", S(r->peak.range));
  ADD(p, "reserved_at_peak_bytes", I(r->peak.reserved));
  ADD(p, "by_category", cats(r->peak.by_category));
  ADD(p, "by_rule", rules(r->peak.by_rule));
  const char *why = mt_largest_free_unknown(r, &r->peak);
  ADD(p, "largest_free_block_bytes", why ? NULL : I(r->peak.largest_free_block));
  ADD(p, "largest_free_block_unknown", S(why));
  ADD(p, "top_allocations", objects(r, &r->peak, 20));
  ADD(o, "peak", p);

  json_object *rp = json_object_new_object();
  ADD(rp, "bytes", I(r->peak_reserved));
  ADD(rp, "time_ns", I(r->start_ns + r->peak_reserved_ts));
  ADD(rp, "step", opt_i(r->peak_reserved_step));
  ADD(rp, "phase", S(r->peak_reserved_phase));
  ADD(o, "reserved_peak", rp);

  json_object *fr = json_object_new_object();
  ADD(fr, "max_bytes", I(r->max_fragmentation));
  ADD(fr, "max_time_ns", I(r->start_ns + r->max_fragmentation_ts));
  ADD(fr, "at_peak_bytes", I(r->peak.by_category[MT_CAT_CACHE_FREE]));
  ADD(fr, "segments_at_peak", segments(&r->peak, 20));
  ADD(o, "fragmentation", fr);

  json_object *hp = json_object_new_object();
  ADD(hp, "peak_bytes", I(r->host_pinned_peak));
  ADD(hp, "end_bytes", I(r->host_pinned_end));
  ADD(o, "host_pinned", hp);

  json_object *le = json_object_new_object();
  ADD(le, "allocated_bytes", I(r->live_end_allocated));
  ADD(le, "reserved_bytes", I(r->live_end_reserved));
  ADD(o, "live_at_end", le);

  json_object *c = json_object_new_object();
  ADD(c, "mem_events", I(r->n_mem_events));
  ADD(c, "region_events", I(r->n_region_events));
  ADD(c, "ranges", I(r->n_ranges));
  ADD(c, "kernels", I(r->n_kernels));
  ADD(c, "nccl_calls", I(r->n_nccl));
  ADD(c, "device_allocations", I(r->n_device_allocs));
  ADD(c, "tensors", I(r->n_tensors));
  ADD(c, "unknown_frees", I(r->unknown_frees));
  ADD(c, "unknown_unregisters", I(r->unknown_unregisters));
  ADD(c, "failed_allocations", I(r->failed_allocs));
  ADD(o, "counts", c);

  json_object *a = json_object_new_array();
  for (size_t i = 0; i < r->ndevices; i++) {
    json_object *d = json_object_new_object();
    ADD(d, "device", I(r->devices[i].device));
    ADD(d, "peak_allocated_bytes", I(r->devices[i].peak_allocated));
    ADD(d, "peak_reserved_bytes", I(r->devices[i].peak_reserved));
    ADD(d, "allocated_time_ns", I(r->start_ns + r->devices[i].allocated_ts));
    ADD(d, "reserved_time_ns", I(r->start_ns + r->devices[i].reserved_ts));
    json_object_array_add(a, d);
  }
  ADD(o, "devices", a);

  a = json_object_new_array();
  for (size_t i = 0; i < r->nsteps; i++) {
    json_object *d = json_object_new_object();
    ADD(d, "step", I(r->steps[i].step));
    ADD(d, "allocated_bytes", I(r->steps[i].allocated));
    ADD(d, "reserved_bytes", I(r->steps[i].reserved));
    ADD(d, "time_ns", I(r->start_ns + r->steps[i].allocated_ts));
    json_object_array_add(a, d);
  }
  ADD(o, "steps", a);

  a = json_object_new_array();
  for (size_t i = 0; i < r->nlayers; i++) {
    const mt_layer_stat *l = &r->layers[i];
    json_object *d = json_object_new_object();
    ADD(d, "layer", I(l->layer));
    ADD(d, "activation_bytes", I(l->activation_bytes));
    ADD(d, "fwd_kernels", I(l->fwd_kernels));
    ADD(d, "bwd_kernels", I(l->bwd_kernels));
    ADD(d, "fwd_api_ns", I(l->fwd_api_ns));
    ADD(d, "bwd_api_ns", I(l->bwd_api_ns));
    ADD(d, "fwd_gpu_ns", opt_i(l->fwd_gpu_ns));
    ADD(d, "bwd_gpu_ns", opt_i(l->bwd_gpu_ns));
    json_object_array_add(a, d);
  }
  ADD(o, "layers", a);

  a = json_object_new_array();
  for (size_t i = 0; i < r->nkernels && i < 30; i++) {
    json_object *d = json_object_new_object();
    ADD(d, "name", json_object_new_string(r->kernels[i].name));
    ADD(d, "count", I(r->kernels[i].count));
    ADD(d, "api_ns", I(r->kernels[i].api_ns));
    ADD(d, "gpu_ns", opt_i(r->kernels[i].gpu_ns));
    json_object_array_add(a, d);
  }
  ADD(o, "kernels", a);

  a = json_object_new_array();
  for (size_t i = 0; i < r->nnccl; i++) {
    json_object *d = json_object_new_object();
    const char *op = mt_enum_label("nccl_op", r->nccl[i].op);
    ADD(d, "op", json_object_new_string(op ? op : "unknown"));
    ADD(d, "count", I(r->nccl[i].count));
    ADD(d, "bytes", I(r->nccl[i].bytes));
    ADD(d, "api_ns", I(r->nccl[i].api_ns));
    ADD(d, "gpu_ns", opt_i(r->nccl[i].gpu_ns));
    json_object_array_add(a, d);
  }
  ADD(o, "nccl", a);
  json_object *ov = json_object_new_object();
  ADD(ov, "comm_gpu_ns", opt_i(r->comm_gpu_ns));
  ADD(ov, "compute_gpu_ns", opt_i(r->compute_gpu_ns));
  ADD(ov, "overlap_gpu_ns", opt_i(r->overlap_gpu_ns));
  ADD(o, "overlap", ov);

  a = json_object_new_array();
  for (size_t i = 0; i < r->ngroups; i++) {
    const mt_alloc_group *g = &r->groups[i];
    json_object *d = json_object_new_object();
    ADD(d, "key", json_object_new_string(g->key));
    ADD(d, "category", json_object_new_string(mt_category_name(g->category)));
    ADD(d, "rule", json_object_new_string(mt_rule_name(g->rule)));
    ADD(d, "count", I(g->count));
    ADD(d, "total_bytes", I(g->total_bytes));
    ADD(d, "max_bytes", I(g->max_size));
    ADD(d, "peak_bytes", I(g->peak_bytes));
    json_object_array_add(a, d);
  }
  ADD(o, "allocations", a);

  /* the sampled timeline: sample i is the state at t0_ns + i * dt_ns */
  const mt_timeline *tl = &r->timeline;
  json_object *tj = json_object_new_object();
  ADD(tj, "t0_ns", I(r->start_ns + tl->t0));
  ADD(tj, "dt_ns", I(tl->dt));
  static const char *const series[4] = { "allocated", "reserved", "allocated_max", "reserved_max" };
  const uint64_t *sv[4] = { tl->allocated, tl->reserved, tl->allocated_max, tl->reserved_max };
  for (int k = 0; k < 4; k++) {
    json_object *arr = json_object_new_array_ext((int)tl->n);
    for (size_t i = 0; i < tl->n; i++)
      json_object_array_add(arr, I(sv[k][i]));
    ADD(tj, series[k], arr);
  }
  json_object *bc = json_object_new_object();
  for (int cat = 0; cat < MT_CAT_COUNT; cat++) {
    json_object *arr = json_object_new_array_ext((int)tl->n);
    for (size_t i = 0; i < tl->n; i++)
      json_object_array_add(arr, I(tl->by_category[cat][i]));
    ADD(bc, mt_category_name(cat), arr);
  }
  ADD(tj, "by_category", bc);
  ADD(o, "timeline", tj);

  a = json_object_new_array();
  for (size_t i = 0; i < r->nooms; i++) {
    const mt_oom *m = &r->ooms[i];
    json_object *d = json_object_new_object();
    const char *src = m->source ? mt_enum_label("oom_source", m->source) : "failed_call";
    const char *api = mt_enum_label("api", m->api);
    ADD(d, "time_ns", I(r->start_ns + m->ts));
    ADD(d, "device", I(m->device));
    ADD(d, "source", json_object_new_string(src ? src : "unknown"));
    ADD(d, "api", json_object_new_string(api ? api : "unknown"));
    ADD(d, "requested_bytes", I(m->requested));
    ADD(d, "step", opt_i(m->step));
    ADD(d, "phase", S(m->phase));
    ADD(d, "range", S(m->range));
    ADD(d, "device_free_bytes", opt_i(m->free_bytes));
    ADD(d, "device_total_bytes", opt_i(m->total_bytes));
    if (m->has_snapshot) {
      ADD(d, "allocated_bytes", I(m->at.allocated));
      ADD(d, "reserved_bytes", I(m->at.reserved));
      ADD(d, "cache_free_bytes", I(m->at.by_category[MT_CAT_CACHE_FREE]));
      const char *lf_why = mt_largest_free_unknown(r, &m->at);
      ADD(d, "largest_free_block_bytes", lf_why ? NULL : I(m->at.largest_free_block));
      ADD(d, "largest_free_block_unknown", S(lf_why));
      ADD(d, "by_category", cats(m->at.by_category));
    }
    json_object_array_add(a, d);
  }
  ADD(o, "ooms", a);
  return o;
}

json_object *mt_analysis_json(const mt_analysis *a)
{
  json_object *o = json_object_new_object();
  if (!o)
    return NULL;
  ADD(o, "memtrace_report", I(MT_REPORT_FORMAT_VERSION));
  ADD(o, "source", json_object_new_string(a->path));
  ADD(o, "run_id", json_object_new_string(a->nranks ? a->ranks[0].run_id : ""));
  ADD(o, "incomplete", json_object_new_boolean(a->incomplete));
  ADD(o, "dropped_events", I(a->dropped));
  json_object *j = json_object_new_object();
  const mt_rank *pk = a->nranks ? &a->ranks[a->job_peak_index] : NULL;
  ADD(j, "ranks", I(a->nranks));
  ADD(j, "peak_rank", pk ? I(pk->rank) : NULL);
  ADD(j, "peak_allocated_bytes", I(pk ? pk->peak_allocated : 0));
  uint64_t maxres = 0;
  for (size_t i = 0; i < a->nranks; i++)
    if (a->ranks[i].peak_reserved > maxres)
      maxres = a->ranks[i].peak_reserved;
  ADD(j, "peak_reserved_bytes", I(maxres));
  ADD(j, "imbalance", json_object_new_double(a->imbalance));
  ADD(j, "mixed_runs", json_object_new_boolean(a->mixed_runs));
  ADD(o, "job", j);
  json_object *ranks = json_object_new_array();
  for (size_t i = 0; i < a->nranks; i++)
    json_object_array_add(ranks, rank_json(&a->ranks[i]));
  ADD(o, "ranks", ranks);
  return o;
}
