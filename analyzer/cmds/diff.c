/* memtrace diff: two runs side by side -- peaks, every category and every
 * allocation site whose bytes at the peak changed (largest change first),
 * and the per-step peaks aligned by step number.  Each side is a trace, a
 * run directory, or a JSON report of one. */
#include "config.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/cmds/progress.h"
#include "analyzer/lib/analysis.h"
#include <sqlite3.h>

/* A JSON report: read it when the file is one, else analyse the path with
 * every allocation site kept (a report keeps the largest 100 only, which
 * hides a change below them; *all_sites says which one we got). */
static json_object *load_side(const char *path, int *rc, int *all_sites)
{
  size_t l = strlen(path);
  if (l > 5 && strcmp(path + l - 5, ".json") == 0) {
    json_object *j = json_object_from_file(path), *ranks;
    if (!j || !json_object_object_get_ex(j, "ranks", &ranks)) {
      mt_errorf("%s: not a memtrace JSON report", path);
      json_object_put(j);
      *rc = MT_EXIT_USAGE;
      return NULL;
    }
    *all_sites = 0;
    return j;
  }
  mt_analysis *a;
  mt_error err = { 0 };
  mt_analysis_opts o = { .rank = -1, .max_groups = SIZE_MAX };
  /* each side is a whole analysis (seconds on a long run): say so on a terminal */
  mt_progress("diff", "analysing", 0, 0);
  int r = mt_analysis_run(path, &o, &a, &err);
  mt_progress_done();
  if (r != MT_OK) {
    mt_errorf("%s", err.msg);
    *rc = r == MT_ENOMEM ? MT_EXIT_FAIL : MT_EXIT_USAGE;
    return NULL;
  }
  json_object *j = mt_analysis_json(a);
  mt_analysis_free(a);
  if (!j) {
    mt_errorf("%s: out of memory", path);
    *rc = MT_EXIT_FAIL;
  }
  *all_sites = 1;
  return j;
}

static int64_t geti(json_object *o, const char *k)
{
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

static json_object *getk(json_object *o, const char *k)
{
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static json_object *rank_of(json_object *doc, int64_t rank)
{
  json_object *ranks = getk(doc, "ranks");
  for (size_t i = 0; ranks && i < json_object_array_length(ranks); i++) {
    json_object *r = json_object_array_get_idx(ranks, i);
    if (geti(r, "rank") == rank)
      return r;
  }
  return NULL;
}

static const char *delta(int64_t a, int64_t b, char *buf, size_t n)
{
  char s[64];
  int64_t d = b - a;
  mt_size_str((uint64_t)(d < 0 ? -d : d), s, sizeof s);
  if (a > 0)
    snprintf(buf, n, "%s%s (%+.1f%%)", d < 0 ? "-" : d > 0 ? "+" : "", s, 100.0 * (double)d / (double)a);
  else
    snprintf(buf, n, "%s%s", d < 0 ? "-" : d > 0 ? "+" : "", s);
  return buf;
}

/* One compared quantity: a category, an allocation site or a step.  a/b are
 * bytes at the peak (sites, categories) or the step's peak (steps); ta/tb
 * the sites' total bytes allocated, a tie-breaker for sites whose bytes at
 * the peak agree but whose traffic changed. */
struct change {
  const char *key;
  const char *category;
  int64_t a, b, ta, tb, ca, cb;
  int64_t step;
  int in_a, in_b;
};

static int64_t mag(int64_t a, int64_t b)
{
  return a > b ? a - b : b - a;
}

static int cmp_change(const void *x, const void *y)
{
  const struct change *p = x, *q = y;
  int64_t dp = mag(p->a, p->b), dq = mag(q->a, q->b);
  if (dp != dq)
    return dp > dq ? -1 : 1;
  dp = mag(p->ta, p->tb);
  dq = mag(q->ta, q->tb);
  if (dp != dq)
    return dp > dq ? -1 : 1;
  if (p->step != q->step)
    return p->step < q->step ? -1 : 1;
  return strcmp(p->key ? p->key : "", q->key ? q->key : "");
}

static int cmp_key(const void *x, const void *y)
{
  const struct change *p = x, *q = y;
  return strcmp(p->key, q->key);
}

static int cmp_step(const void *x, const void *y)
{
  const struct change *p = x, *q = y;
  return p->step < q->step ? -1 : p->step > q->step;
}

/* Joins A's and B's rows of one array by key (sites) or step number: sorts
 * both sides and merges, so every row of either side appears once. */
static struct change *join(json_object *xa, json_object *xb, int by_step, size_t *nout)
{
  size_t na = xa ? json_object_array_length(xa) : 0, nb = xb ? json_object_array_length(xb) : 0;
  struct change *v = calloc(na + nb + 1, sizeof *v);
  if (!v)
    return NULL;
  struct change *sa = v, *sb = v + na;
  for (int s = 0; s < 2; s++) {
    json_object *x = s ? xb : xa;
    struct change *dst = s ? sb : sa;
    size_t n = s ? nb : na;
    for (size_t i = 0; i < n; i++) {
      json_object *g = json_object_array_get_idx(x, i);
      struct change *c = &dst[i];
      c->key = by_step ? "" : json_object_get_string(getk(g, "key"));
      if (!c->key)
        c->key = "";
      c->category = json_object_get_string(getk(g, "category"));
      c->step = by_step ? geti(g, "step") : 0;
      int64_t p = geti(g, by_step ? "allocated_bytes" : "peak_bytes"), t = geti(g, by_step ? "reserved_bytes" : "total_bytes"),
              k = geti(g, "count");
      if (s) { c->b = p; c->tb = t; c->cb = k; c->in_b = 1; }
      else   { c->a = p; c->ta = t; c->ca = k; c->in_a = 1; }
    }
    qsort(dst, n, sizeof *dst, by_step ? cmp_step : cmp_key);
  }
  /* merge B's rows into A's in place (A's come first in v) */
  struct change *out = calloc(na + nb + 1, sizeof *out);
  if (!out) {
    free(v);
    return NULL;
  }
  size_t i = 0, j = 0, n = 0;
  while (i < na || j < nb) {
    int c = i == na ? 1 : j == nb ? -1 : (by_step ? cmp_step : cmp_key)(&sa[i], &sb[j]);
    if (c < 0)
      out[n++] = sa[i++];
    else if (c > 0)
      out[n++] = sb[j++];
    else {
      out[n] = sa[i++];
      out[n].b = sb[j].b; out[n].tb = sb[j].tb; out[n].cb = sb[j].cb; out[n].in_b = 1;
      j++;
      n++;
    }
  }
  free(v);
  *nout = n;
  return out;
}

static json_object *change_json(const struct change *c, const char *kind)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "kind", json_object_new_string(kind));
  if (c->key && *c->key)
    json_object_object_add(o, "name", json_object_new_string(c->key));
  if (c->category)
    json_object_object_add(o, "category", json_object_new_string(c->category));
  if (!strcmp(kind, "step"))
    json_object_object_add(o, "step", json_object_new_int64(c->step));
  json_object_object_add(o, "a_bytes", c->in_a ? json_object_new_int64(c->a) : NULL);
  json_object_object_add(o, "b_bytes", c->in_b ? json_object_new_int64(c->b) : NULL);
  json_object_object_add(o, "delta_bytes", json_object_new_int64(c->b - c->a));
  if (!strcmp(kind, "site")) {
    json_object_object_add(o, "a_total_bytes", json_object_new_int64(c->ta));
    json_object_object_add(o, "b_total_bytes", json_object_new_int64(c->tb));
    json_object_object_add(o, "a_count", json_object_new_int64(c->ca));
    json_object_object_add(o, "b_count", json_object_new_int64(c->cb));
  }
  return o;
}

struct opts {
  int top, json, all_sites;
};

/* One rank's comparison: printed as text, or appended to jranks. */
/* Kernel launches and NCCL collectives (calls and bytes per operation),
 * A against B: the timing side of a run, which memory alone does not show. */
static void diff_launches(json_object *ra, json_object *rb, json_object *jr)
{
  char b1[64], b2[64], b3[96];
  int64_t ka = geti(getk(ra, "counts"), "kernels"), kb = geti(getk(rb, "counts"), "kernels");
  json_object *na = getk(ra, "nccl"), *nb = getk(rb, "nccl"), *arr = jr ? json_object_new_array() : NULL;
  if (jr) {
    json_object *k = json_object_new_object();
    json_object_object_add(k, "a_launches", json_object_new_int64(ka));
    json_object_object_add(k, "b_launches", json_object_new_int64(kb));
    json_object_object_add(jr, "kernels", k);
  } else {
    snprintf(b1, sizeof b1, "%lld", (long long)ka);
    snprintf(b2, sizeof b2, "%lld", (long long)kb);
    printf("  kernel launches   %14s %14s  %s\n", b1, b2, ka == kb ? "=" : kb > ka ? "more in B" : "fewer in B");
  }
  /* the operations of A, then those only B has */
  for (int side = 0; side < 2; side++) {
    json_object *x = side ? nb : na, *y = side ? na : nb;
    size_t n = x && json_object_is_type(x, json_type_array) ? json_object_array_length(x) : 0;
    for (size_t i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(x, i), *m = NULL;
      const char *opn = json_object_get_string(getk(e, "op"));
      size_t ny = y && json_object_is_type(y, json_type_array) ? json_object_array_length(y) : 0;
      for (size_t j = 0; j < ny && !m; j++)
        if (!strcmp(json_object_get_string(getk(json_object_array_get_idx(y, j), "op")), opn ? opn : ""))
          m = json_object_array_get_idx(y, j);
      if (side && m)
        continue;   /* shown with A's */
      json_object *ea = side ? m : e, *eb = side ? e : m;
      int64_t ca = ea ? geti(ea, "count") : 0, cb = eb ? geti(eb, "count") : 0;
      int64_t ya = ea ? geti(ea, "bytes") : 0, yb = eb ? geti(eb, "bytes") : 0;
      if (arr) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "op", json_object_new_string(opn ? opn : "unknown"));
        json_object_object_add(d, "a_calls", json_object_new_int64(ca));
        json_object_object_add(d, "b_calls", json_object_new_int64(cb));
        json_object_object_add(d, "a_bytes", json_object_new_int64(ya));
        json_object_object_add(d, "b_bytes", json_object_new_int64(yb));
        json_object_array_add(arr, d);
      } else {
        snprintf(b1, sizeof b1, "%lld calls", (long long)ca);
        snprintf(b2, sizeof b2, "%lld calls", (long long)cb);
        printf("  NCCL %-12s %14s %14s  bytes %s\n", opn ? opn : "?", b1, b2, delta(ya, yb, b3, sizeof b3));
      }
    }
  }
  if (arr)
    json_object_object_add(jr, "nccl", arr);
}

static int diff_rank(json_object *ra, json_object *rb, int64_t rank, const struct opts *op, json_object *jranks)
{
  char b1[64], b2[64], b3[96];
  json_object *jr = NULL;
  if (op->json) {
    jr = json_object_new_object();
    json_object_object_add(jr, "rank", json_object_new_int64(rank));
    json_object_array_add(jranks, jr);
    if (!ra || !rb) {
      json_object_object_add(jr, "only_in", json_object_new_string(ra ? "A" : "B"));
      return 0;
    }
  } else {
    printf("Rank %lld\n", (long long)rank);
    if (!ra || !rb) {
      printf("  only in %s\n\n", ra ? "A" : "B");
      return 0;
    }
  }
  json_object *pa = getk(ra, "peak"), *pb = getk(rb, "peak");
  static const char *const rows[2][2] = { { "peak allocated", "allocated_bytes" }, { "peak reserved", "reserved_bytes" } };
  json_object *sa = getk(pa, "step"), *sb = getk(pb, "step"), *pha = getk(pa, "phase"), *phb = getk(pb, "phase");
  if (jr) {
    for (int i = 0; i < 2; i++) {
      json_object *p = json_object_new_object();
      json_object_object_add(p, "a_bytes", json_object_new_int64(geti(pa, rows[i][1])));
      json_object_object_add(p, "b_bytes", json_object_new_int64(geti(pb, rows[i][1])));
      json_object_object_add(jr, i ? "peak_reserved" : "peak_allocated", p);
    }
    json_object_object_add(jr, "a_peak_step", json_object_get(sa));
    json_object_object_add(jr, "b_peak_step", json_object_get(sb));
    json_object_object_add(jr, "a_peak_phase", json_object_get(pha));
    json_object_object_add(jr, "b_peak_phase", json_object_get(phb));
  } else {
    printf("  %-24s %14s %14s  %s\n", "", "A", "B", "B - A");
    for (int i = 0; i < 2; i++) {
      int64_t a = geti(pa, rows[i][1]), b = geti(pb, rows[i][1]);
      printf("  %-24s %14s %14s  %s\n", rows[i][0], mt_size_str((uint64_t)a, b1, sizeof b1),
             mt_size_str((uint64_t)b, b2, sizeof b2), delta(a, b, b3, sizeof b3));
    }
    printf("  %-24s %14s %14s\n", "peak step", sa ? json_object_get_string(sa) : "-", sb ? json_object_get_string(sb) : "-");
    printf("  %-24s %14s %14s\n", "peak phase", pha ? json_object_get_string(pha) : "-",
           phb ? json_object_get_string(phb) : "-");
  }

  /* categories at the peak, largest change first (cache_free is reserved
   * minus allocated, not a category of allocated bytes: it goes last) */
  struct change cats[MT_CAT_COUNT];
  size_t nc = 0;
  json_object *ca = getk(pa, "by_category"), *cb = getk(pb, "by_category");
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    const char *nm = mt_category_name(c);
    struct change ch = { .key = nm, .a = geti(ca, nm), .b = geti(cb, nm), .in_a = 1, .in_b = 1 };
    if (c == MT_CAT_CACHE_FREE || ch.a == ch.b)
      continue;
    cats[nc++] = ch;
  }
  qsort(cats, nc, sizeof *cats, cmp_change);
  int64_t cfa = geti(ca, "cache_free"), cfb = geti(cb, "cache_free");
  if (cfa != cfb)
    cats[nc++] = (struct change){ .key = "cache_free", .a = cfa, .b = cfb, .in_a = 1, .in_b = 1 };
  if (jr) {
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < nc; i++)
      json_object_array_add(arr, change_json(&cats[i], "category"));
    json_object_object_add(jr, "categories", arr);
  } else if (nc) {
    printf("  changed at the peak, largest first (bytes live at each run's peak):\n");
    for (size_t i = 0; i < nc; i++)
      printf("    %-22s %14s %14s  %s\n", cats[i].key, mt_size_str((uint64_t)cats[i].a, b1, sizeof b1),
             mt_size_str((uint64_t)cats[i].b, b2, sizeof b2), delta(cats[i].a, cats[i].b, b3, sizeof b3));
  } else
    printf("  no category changed its bytes at the peak\n");

  /* every allocation site (label, else allocating frame) of either run */
  size_t n = 0;
  struct change *ch = join(getk(ra, "allocations"), getk(rb, "allocations"), 0, &n);
  if (!ch)
    return -1;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (ch[i].a != ch[i].b || ch[i].ta != ch[i].tb || ch[i].ca != ch[i].cb)
      ch[m++] = ch[i];
  qsort(ch, m, sizeof *ch, cmp_change);
  if (jr) {
    json_object *arr = json_object_new_array_ext((int)m);
    for (size_t i = 0; i < m; i++)
      json_object_array_add(arr, change_json(&ch[i], "site"));
    json_object_object_add(jr, "sites", arr);
    json_object_object_add(jr, "sites_compared", json_object_new_int64((int64_t)n));
  } else if (m) {
    size_t shown = op->top && (size_t)op->top < m ? (size_t)op->top : m;
    printf("  allocation sites that changed: %zu of %zu%s, largest change at the peak first%s\n", m, n,
           op->all_sites ? "" : " (a JSON report holds its 100 largest only)",
           shown < m ? " (--top 0 lists all)" : "");
    printf("    %12s %12s  %-20s %-16s %s\n", "A at peak", "B at peak", "B - A", "category", "site");
    for (size_t i = 0; i < shown; i++) {
      char ba[32], bb[32];
      snprintf(ba, sizeof ba, "%s", ch[i].in_a ? mt_size_str((uint64_t)ch[i].a, b1, sizeof b1) : "-");
      snprintf(bb, sizeof bb, "%s", ch[i].in_b ? mt_size_str((uint64_t)ch[i].b, b2, sizeof b2) : "-");
      if (ch[i].a != ch[i].b)
        delta(ch[i].a, ch[i].b, b3, sizeof b3);
      else
        snprintf(b3, sizeof b3, "= (allocs %+lld)", (long long)(ch[i].cb - ch[i].ca));
      char key[256];   /* a label from the trace: control characters escaped */
      printf("    %12s %12s  %-20s %-16s %.60s\n", ba, bb, b3, ch[i].category ? ch[i].category : "-",
             mt_text_escape(key, sizeof key, ch[i].key));
    }
  } else
    printf("  no allocation changed: every site has the same bytes at the peak, count and total\n");
  free(ch);

  /* per-step peaks, aligned by step number (not by time: a run that is
   * slower per step would otherwise compare its step 178 with step 332) */
  struct change *st = join(getk(ra, "steps"), getk(rb, "steps"), 1, &n);
  if (!st)
    return -1;
  size_t both = 0, nsa = 0, nsb = 0, changed = 0;
  for (size_t i = 0; i < n; i++) {
    both += st[i].in_a && st[i].in_b;
    nsa += (size_t)st[i].in_a;
    nsb += (size_t)st[i].in_b;
    if (st[i].in_a && st[i].in_b && st[i].a != st[i].b)
      st[changed++] = st[i];
  }
  qsort(st, changed, sizeof *st, cmp_change);
  if (jr) {
    json_object *s = json_object_new_object();
    json_object_object_add(s, "a_steps", json_object_new_int64((int64_t)nsa));
    json_object_object_add(s, "b_steps", json_object_new_int64((int64_t)nsb));
    json_object_object_add(s, "both", json_object_new_int64((int64_t)both));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < changed; i++)
      json_object_array_add(arr, change_json(&st[i], "step"));
    json_object_object_add(s, "changed", arr);
    json_object_object_add(jr, "steps", s);
  } else if (nsa || nsb) {
    printf("  steps, aligned by step number: %zu in A, %zu in B, %zu in both; %zu changed their peak\n", nsa, nsb, both,
           changed);
    size_t shown = op->top && (size_t)op->top < changed ? (size_t)op->top : changed;
    for (size_t i = 0; i < shown; i++)
      printf("    step %-17lld %14s %14s  %s\n", (long long)st[i].step, mt_size_str((uint64_t)st[i].a, b1, sizeof b1),
             mt_size_str((uint64_t)st[i].b, b2, sizeof b2), delta(st[i].a, st[i].b, b3, sizeof b3));
  }
  free(st);
  diff_launches(ra, rb, jr);
  if (!jr)
    putchar('\n');
  return 0;
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "top", required_argument, NULL, 't' },
    { "format", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  struct opts op = { .top = 10 };
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);   /* as report.c */
  opterr = 0;
  optind = 0;   /* 0: glibc re-initialises, so options may follow operands (GNU order) */
  while ((c = getopt_long(argc, argv, "t:f:h", opts, NULL)) != -1) {
    switch (c) {
    case 't': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < 0 || v > 1000000)
        return mt_usage_error("diff", "--top wants a number >= 0 (0: all), got '%s'", optarg);
      op.top = (int)v;
      break;
    }
    case 'f':
      if (!strcmp(optarg, "json"))
        op.json = 1;
      else if (strcmp(optarg, "text") != 0)
        return mt_usage_error("diff", "unknown format '%s' (text, json)", optarg);
      break;
    case 'h': fputs(mt_cmd_diff.usage, stdout); return MT_EXIT_OK;
    default: return mt_usage_error("diff", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return mt_usage_error("diff", "wants two runs: A and B");
  int rc = MT_EXIT_OK, alla = 0, allb = 0;
  json_object *a = load_side(argv[optind], &rc, &alla);
  if (!a)
    return rc;
  json_object *b = load_side(argv[optind + 1], &rc, &allb);
  if (!b) {
    json_object_put(a);
    return rc;
  }
  op.all_sites = alla && allb;
  json_object *doc = NULL, *jranks = NULL;
  json_object *ia = getk(a, "incomplete"), *ib = getk(b, "incomplete");
  int inca = ia && json_object_get_boolean(ia), incb = ib && json_object_get_boolean(ib);
  if (op.json) {
    doc = json_object_new_object();
    json_object_object_add(doc, "a", json_object_new_string(argv[optind]));
    json_object_object_add(doc, "b", json_object_new_string(argv[optind + 1]));
    json_object_object_add(doc, "a_dropped_events", json_object_new_int64(geti(a, "dropped_events")));
    json_object_object_add(doc, "b_dropped_events", json_object_new_int64(geti(b, "dropped_events")));
    json_object_object_add(doc, "a_incomplete", json_object_new_boolean(inca));
    json_object_object_add(doc, "b_incomplete", json_object_new_boolean(incb));
    json_object_object_add(doc, "all_sites", json_object_new_boolean(op.all_sites));
    jranks = json_object_new_array();
    json_object_object_add(doc, "ranks", jranks);
  } else {
    printf("memtrace diff\n  A: %s\n  B: %s\n", argv[optind], argv[optind + 1]);
    int64_t da = geti(a, "dropped_events"), db = geti(b, "dropped_events");
    printf("  dropped events: A %lld, B %lld\n", (long long)da, (long long)db);
    if (da || db)
      printf("  WARNING: %s dropped events: its numbers below are lower bounds, its peaks may be elsewhere\n",
             da && db ? "A and B" : da ? "A" : "B");
    if (inca || incb)
      printf("  INCOMPLETE: %s%s%s never closed its trace\n", inca ? "A" : "", inca && incb ? " and " : "", incb ? "B" : "");
    putchar('\n');
  }
  /* ranks: the union, in A's order then B's extras */
  json_object *ranks[2] = { getk(a, "ranks"), getk(b, "ranks") };
  int err = 0;
  if (ranks[0] && ranks[1] && json_object_array_length(ranks[0]) == 1 && json_object_array_length(ranks[1]) == 1) {
    /* one process each: compare them whatever their rank numbers */
    json_object *ra = json_object_array_get_idx(ranks[0], 0), *rb = json_object_array_get_idx(ranks[1], 0);
    err |= diff_rank(ra, rb, geti(ra, "rank"), &op, jranks);
  } else
    for (int s = 0; s < 2; s++)
      for (size_t i = 0; ranks[s] && i < json_object_array_length(ranks[s]); i++) {
        int64_t rk = geti(json_object_array_get_idx(ranks[s], i), "rank");
        if (s == 1 && rank_of(a, rk))
          continue;
        err |= diff_rank(rank_of(a, rk), rank_of(b, rk), rk, &op, jranks);
      }
  if (doc) {
    fputs(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
    putchar('\n');
    json_object_put(doc);
  }
  json_object_put(a);
  json_object_put(b);
  if (err) {
    mt_errorf("diff: out of memory");
    return MT_EXIT_FAIL;
  }
  return fflush(stdout) == 0 ? MT_EXIT_OK : MT_EXIT_FAIL;
}

const mt_cmd mt_cmd_diff = {
  "diff", "two runs side by side: peaks, what changed at the peak, steps",
  "Usage: memtrace diff [OPTIONS] A B\n"
  "\n"
  "Compares two runs rank by rank: peak allocated and reserved bytes, their\n"
  "step and phase; every category and every allocation site (label, else\n"
  "allocating frame) whose bytes at the peak changed, largest change first;\n"
  "and the per-step peaks aligned by step number (step N of A against step N\n"
  "of B, whatever their times).  A and B are each a trace, a run directory,\n"
  "or a JSON report written by 'memtrace report --format json' (a file ending\n"
  "in .json; a report holds its 100 largest sites only).\n"
  "\n"
  "Options:\n"
  "  -t, --top N       sites and steps listed per rank (default 10; 0: all)\n"
  "  -f, --format FMT  text (default) or json (every change, in bytes)\n"
  "  -h, --help        this text\n"
  "\n"
  "Exit status: 0 on success, 2 if A or B is not readable.\n",
  run,
};
