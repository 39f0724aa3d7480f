/* What is live at an arbitrary instant, for the viewer's table.
 *
 * PRESENTATION ONLY.  At the allocated peak the table is the analysis
 * library's own snapshot (rank->peak.objects, with category and rule).  At
 * any other instant this module replays mem_events and region_events up to
 * that instant from the trace (state after every event with that
 * timestamp, as the analysis defines an instant) to list tensor blocks and
 * device allocations no heap covers.  It does not categorise: objects that
 * are also live at the peak get the analysis's category and rule (matched
 * by address and allocation time); others show none.  VMM map/unmap is not
 * followed.  This belongs in analyzer/lib (a "snapshot at t" call), and
 * should move there.
 *
 * Thread-safe: each call opens its own read-only connection. */
#ifndef MT_GUI_LIVESET_H
#define MT_GUI_LIVESET_H

#include <stddef.h>
#include <stdint.h>
#include <gio/gio.h>
#include <sqlite3.h>
#include "analyzer/lib/analysis.h"
#include "schemas/trace.h"

typedef struct MtLiveObject {
  int is_tensor, device;
  int64_t heap;
  uint64_t addr, size;
  int64_t alloc_ts, free_ts;   /* free_ts < 0: live at the end */
  int64_t stack;
  const char *label, *where;   /* owned by the set, may be NULL */
  const char *phase;           /* analysis phase at allocation (peak snapshot only) */
  int step, layer;             /* -1 when unknown */
  int category, rule;          /* -1: not categorised (not live at the peak) */
} MtLiveObject;

typedef struct MtLiveSet {
  int64_t ts;
  int from_analysis;           /* 1: the analysis's peak snapshot */
  size_t n;
  MtLiveObject *objects;       /* largest first */
  uint64_t total;
  GStringChunk *strings;
} MtLiveSet;

/* The live set of `rank` (from a built analysis) at `ts`.  Returns a set
 * (free with mt_liveset_free) or NULL with *error set. */
MtLiveSet *mt_liveset_at(const mt_rank *rank, int64_t ts, GError **error);
void mt_liveset_free(MtLiveSet *s);

/* Opens a trace read-only for presentation queries, waiting (up to 10 s)
 * while another connection holds a lock (the analysis may be building the
 * trace's indexes beside us).  As mt_trace_open otherwise. */
int mt_view_trace_open(const char *path, mt_trace **out, mt_error *err);

#endif
