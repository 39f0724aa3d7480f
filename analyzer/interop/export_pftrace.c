/* Perfetto's own trace format: a stream of TracePacket protobufs (the
 * schema subset is pftrace.proto; encoded by protobuf-c).  The records are
 * the JSON export's (export_perfetto.c walks the traces): per rank a
 * process track, a thread track per lane with its slices, a counter track
 * per memory series.
 *
 * Each rank is one packet sequence: its first packet clears the sequence's
 * incremental state, and event and category names are interned (sent once,
 * then referred to by id), which is most of what makes the file small.
 * Perfetto pairs SLICE_BEGIN/SLICE_END on a track in the order it reads
 * them, so a rank's events are buffered and written in time order: at one
 * instant the slices that end first, then counters, then those that begin
 * (a zero-length slice begins and ends there, in that order). */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "analyzer/interop/interop_internal.h"
#include "analyzer/interop/export_perfetto.h"
#include "analyzer/interop/pftrace.pb-c.h"

typedef struct pitem {
  int64_t ts;
  uint64_t key;      /* class << 62 | event type << 58 | order of arrival */
  int64_t v;         /* counter: the value; slice: name iid << 8 | category iid */
  uint32_t track;    /* lane tid, or COUNTER_BIT | counter track index */
} pitem;

#define COUNTER_BIT 0x80000000u
#define ORDER_MASK ((1ull << 58) - 1)

typedef struct pst {
  uint32_t seq;                  /* this rank's sequence id */
  MT__IVEC(pitem) items;
  mt__strpool names, cats, counters;
  MT__IVEC(unsigned char) name_sent;
  unsigned char cat_sent[256];
} pst;

typedef struct fbuf {
  ProtobufCBuffer base;
  FILE *f;
} fbuf;

static void fbuf_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
  fwrite(data, 1, len, ((fbuf *)b)->f);
}

/* One packet, as a Trace holding it: the file is those Traces back to back
 * (the parser merges them into one). */
static void put(mt__pf_ex *e, MtPftrace__TracePacket *p)
{
  pst *s = e->st;
  p->has_trusted_packet_sequence_id = 1;
  p->trusted_packet_sequence_id = s->seq;
  MtPftrace__Trace tr = MT_PFTRACE__TRACE__INIT;
  tr.n_packet = 1;
  tr.packet = &p;
  fbuf b = { .base = { .append = fbuf_append }, .f = e->f };
  mt_pftrace__trace__pack_to_buffer(&tr, &b.base);
}

static uint64_t uuid_of(int pid, uint32_t local)
{
  return ((uint64_t)(pid + 1) << 32) | local;
}

static int64_t tid_of(int pid, int tid)
{
  return ((int64_t)(pid + 1) << 24) + tid;
}

static void pf_begin(mt__pf_ex *e, int64_t lost)
{
  (void)lost;   /* each process says its own */
  e->st = calloc(1, sizeof(pst));
  if (!e->st)
    e->oom = 1;
}

static void pf_process(mt__pf_ex *e, int pid, const char *name, int sort, int64_t lost)
{
  pst *s = e->st;
  (void)sort;
  if (!s)
    return;
  s->seq = (uint32_t)pid + 1;
  char label[96], *labels[1] = { label };
  MtPftrace__ProcessDescriptor pd = MT_PFTRACE__PROCESS_DESCRIPTOR__INIT;
  pd.has_pid = 1;
  pd.pid = pid + 1;
  pd.process_name = (char *)name;
  if (lost > 0) {
    snprintf(label, sizeof label, "%lld events dropped: memory counters are incomplete", (long long)lost);
    pd.n_process_labels = 1;
    pd.process_labels = labels;
  }
  MtPftrace__TrackDescriptor td = MT_PFTRACE__TRACK_DESCRIPTOR__INIT;
  td.has_uuid = 1;
  td.uuid = uuid_of(pid, 0);
  td.process = &pd;
  MtPftrace__TracePacket p = MT_PFTRACE__TRACE_PACKET__INIT;
  p.track_descriptor = &td;
  p.has_sequence_flags = 1;
  p.sequence_flags = MT_PFTRACE__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED;
  p.has_first_packet_on_sequence = 1;
  p.first_packet_on_sequence = 1;
  put(e, &p);
}

static void item(mt__pf_ex *e, int64_t ts, unsigned cls, unsigned type, int64_t v, uint32_t track)
{
  pst *s = e->st;
  if (!s)
    return;
  pitem it = { .ts = ts < 0 ? 0 : ts, .v = v, .track = track,
               .key = (uint64_t)cls << 62 | (uint64_t)type << 58 | ((uint64_t)s->items.n & ORDER_MASK) };
  if (MT__IPUSH(s->items, it))
    e->oom = 1;
}

static void pf_slice(mt__pf_ex *e, int pid, int tid, int64_t ts, int64_t te, const char *cat, const char *name,
                     int instant)
{
  pst *s = e->st;
  (void)pid;
  if (!s)
    return;
  uint32_t n = mt__sp_intern(&s->names, name, strlen(name)), c = mt__sp_intern(&s->cats, cat, strlen(cat));
  if (!n || !c || c > 255) {
    e->oom = 1;
    return;
  }
  int64_t v = (int64_t)n << 8 | c;
  if (instant) {
    item(e, ts, 2, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_INSTANT, v, (uint32_t)tid);
  } else if (te > ts) {
    item(e, ts, 2, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN, v, (uint32_t)tid);
    item(e, te, 0, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_SLICE_END, 0, (uint32_t)tid);
  } else {
    item(e, ts, 2, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN, v, (uint32_t)tid);
    item(e, ts, 2, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_SLICE_END, 0, (uint32_t)tid);
  }
}

static void pf_lane(mt__pf_ex *e, int pid, int tid, const char *name)
{
  MtPftrace__ThreadDescriptor thd = MT_PFTRACE__THREAD_DESCRIPTOR__INIT;
  thd.has_pid = thd.has_tid = 1;
  thd.pid = pid + 1;
  thd.tid = tid_of(pid, tid);
  thd.thread_name = (char *)name;
  MtPftrace__TrackDescriptor td = MT_PFTRACE__TRACK_DESCRIPTOR__INIT;
  td.has_uuid = 1;
  td.uuid = uuid_of(pid, (uint32_t)tid);
  td.thread = &thd;
  MtPftrace__TracePacket p = MT_PFTRACE__TRACE_PACKET__INIT;
  p.track_descriptor = &td;
  if (e->st)
    put(e, &p);
}

/* A counter track per series, "NAME ARG" (the name Perfetto gives a JSON
 * counter's arg), described when first seen. */
static void pf_counter(mt__pf_ex *e, int pid, const char *name, int n, const char *const *args, const int64_t *v,
                       int64_t ts)
{
  pst *s = e->st;
  if (!s)
    return;
  for (int i = 0; i < n; i++) {
    char tn[256];
    int l = snprintf(tn, sizeof tn, "%s %s", name, args[i]);
    if (l < 0 || (size_t)l >= sizeof tn)
      l = (int)sizeof tn - 1;
    size_t before = s->counters.n;
    uint32_t k = mt__sp_intern(&s->counters, tn, (size_t)l);
    if (!k || k >= COUNTER_BIT) {
      e->oom = 1;
      return;
    }
    if (s->counters.n != before) {
      MtPftrace__CounterDescriptor cd = MT_PFTRACE__COUNTER_DESCRIPTOR__INIT;
      cd.has_unit = 1;
      cd.unit = MT_PFTRACE__COUNTER_DESCRIPTOR__UNIT__UNIT_SIZE_BYTES;
      MtPftrace__TrackDescriptor td = MT_PFTRACE__TRACK_DESCRIPTOR__INIT;
      td.has_uuid = td.has_parent_uuid = 1;
      td.uuid = uuid_of(pid, COUNTER_BIT | k);
      td.parent_uuid = uuid_of(pid, 0);
      td.name = tn;
      td.counter = &cd;
      MtPftrace__TracePacket p = MT_PFTRACE__TRACE_PACKET__INIT;
      p.track_descriptor = &td;
      put(e, &p);
    }
    item(e, ts, 1, MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_COUNTER, v[i], COUNTER_BIT | k);
  }
}

static int cmp_item(const void *a, const void *b)
{
  const pitem *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->key < y->key ? -1 : x->key > y->key;
}

static int pf_rank_end(mt__pf_ex *e, int pid)
{
  pst *s = e->st;
  if (!s)
    return MT_ENOMEM;
  MT__ISORT(s->items, cmp_item);
  while (s->name_sent.n < s->names.n)
    if (MT__IPUSH(s->name_sent, 0)) {
      mt_error_set(e->err, MT_ENOMEM, "%s: out of memory", e->out);
      return MT_ENOMEM;
    }
  for (size_t i = 0; i < s->items.n; i++) {
    const pitem *it = &s->items.v[i];
    MtPftrace__TrackEvent te = MT_PFTRACE__TRACK_EVENT__INIT;
    MtPftrace__TracePacket p = MT_PFTRACE__TRACE_PACKET__INIT;
    MtPftrace__InternedData in = MT_PFTRACE__INTERNED_DATA__INIT;
    MtPftrace__EventName en = MT_PFTRACE__EVENT_NAME__INIT, *enp = &en;
    MtPftrace__EventCategory ec = MT_PFTRACE__EVENT_CATEGORY__INIT, *ecp = &ec;
    uint64_t cat;
    p.has_timestamp = 1;
    p.timestamp = (uint64_t)it->ts;
    p.track_event = &te;
    te.has_type = te.has_track_uuid = 1;
    te.type = (MtPftrace__TrackEvent__Type)((it->key >> 58) & 15);
    te.track_uuid = uuid_of(pid, it->track);
    if (te.type == MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_COUNTER) {
      te.has_counter_value = 1;
      te.counter_value = it->v;
    } else if (te.type != MT_PFTRACE__TRACK_EVENT__TYPE__TYPE_SLICE_END) {
      uint32_t n = (uint32_t)(it->v >> 8);
      cat = (uint64_t)(it->v & 255);
      te.has_name_iid = 1;
      te.name_iid = n;
      te.n_category_iids = 1;
      te.category_iids = &cat;
      p.has_sequence_flags = 1;
      p.sequence_flags = MT_PFTRACE__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE;
      /* first use on this sequence: send the strings with it */
      if (!s->name_sent.v[n]) {
        s->name_sent.v[n] = 1;
        en.has_iid = 1;
        en.iid = n;
        en.name = (char *)mt__sp_get(&s->names, n);
        in.n_event_names = 1;
        in.event_names = &enp;
        p.interned_data = &in;
      }
      if (!s->cat_sent[cat]) {
        s->cat_sent[cat] = 1;
        ec.has_iid = 1;
        ec.iid = cat;
        ec.name = (char *)mt__sp_get(&s->cats, (uint32_t)cat);
        in.n_event_categories = 1;
        in.event_categories = &ecp;
        p.interned_data = &in;
      }
    }
    put(e, &p);
  }
  /* the next rank is a new sequence with its own interned ids */
  free(s->items.v);
  free(s->name_sent.v);
  mt__sp_free(&s->names);
  mt__sp_free(&s->cats);
  mt__sp_free(&s->counters);
  memset(s, 0, sizeof *s);
  return MT_OK;
}

static void pf_end(mt__pf_ex *e)
{
  (void)e;
}

static void pf_free(mt__pf_ex *e)
{
  pst *s = e->st;
  if (!s)
    return;
  free(s->items.v);
  free(s->name_sent.v);
  mt__sp_free(&s->names);
  mt__sp_free(&s->cats);
  mt__sp_free(&s->counters);
  free(s);
  e->st = NULL;
}

static const mt__pf_sink proto_sink = {
  .begin = pf_begin, .process = pf_process, .slice = pf_slice, .lane = pf_lane,
  .counter = pf_counter, .rank_end = pf_rank_end, .end = pf_end, .free = pf_free,
};

int mt_export_perfetto_proto(const char *const *traces, int ntraces, const char *out, const mt_perfetto_opts *o,
                             mt_error *err)
{
  return mt__export_perfetto_with(traces, ntraces, out, o, &proto_sink, err);
}
