/* The Perfetto exporter's writers (internal).  export_perfetto.c walks the
 * traces (slices on lanes, thinned memory counters, the analysis's
 * categories) and hands each record to a writer: Chrome trace-event JSON
 * (export_perfetto.c) or Perfetto's protobuf TracePackets
 * (export_pftrace.c, through protobuf-c). */
#ifndef MT_EXPORT_PERFETTO_H
#define MT_EXPORT_PERFETTO_H

#include <stdint.h>
#include <stdio.h>
#include "analyzer/interop/interop.h"

typedef struct mt__pf_ex mt__pf_ex;

typedef struct mt__pf_sink {
  /* before the first rank: events the traces say were lost */
  void (*begin)(mt__pf_ex *e, int64_t lost);
  void (*process)(mt__pf_ex *e, int pid, const char *name, int sort, int64_t lost);
  /* a slice (instant: a mark) on lane tid of process pid; times in ns */
  void (*slice)(mt__pf_ex *e, int pid, int tid, int64_t ts, int64_t te, const char *cat, const char *name,
                int instant);
  /* the name of lane tid (after its slices) */
  void (*lane)(mt__pf_ex *e, int pid, int tid, const char *name);
  /* n series of counter `name` (args[i] = v[i]) at ts */
  void (*counter)(mt__pf_ex *e, int pid, const char *name, int n, const char *const *args, const int64_t *v,
                  int64_t ts);
  int (*rank_end)(mt__pf_ex *e, int pid);   /* MT_OK or an error code (err set) */
  void (*end)(mt__pf_ex *e);
  void (*free)(mt__pf_ex *e);
} mt__pf_sink;

struct mt__pf_ex {
  FILE *f;
  int first;
  const char *out;
  mt_error *err;
  const mt_perfetto_opts *o;
  int64_t r0, r1;          /* time range kept, ns from the run's start */
  const mt__pf_sink *sink;
  void *st;                /* the writer's state */
  int oom;                 /* a writer ran out of memory */
};

int mt__export_perfetto_with(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                             const mt__pf_sink *sink, mt_error *err);

#endif
