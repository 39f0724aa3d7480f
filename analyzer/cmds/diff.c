/* memtrace diff: two runs side by side — peaks, categories, and the
 * allocations (by label, else allocating frame) that changed most.  Each
 * side is a trace, a run directory, or a JSON report of one. */
#include "config.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/cmds/cmds.h"
#include "analyzer/lib/analysis.h"
#include <sqlite3.h>

/* A JSON report: read it when the file is one, else analyse the path. */
static json_object *load_side(const char *path, int *rc)
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
    return j;
  }
  mt_analysis *a;
  mt_error err = { 0 };
  int r = mt_analysis_run(path, NULL, &a, &err);
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

struct change {
  const char *key;
  int64_t a, b;
};

static int cmp_change(const void *x, const void *y)
{
  const struct change *p = x, *q = y;
  int64_t dp = llabs(p->b - p->a), dq = llabs(q->b - q->a);
  return dp > dq ? -1 : dp < dq ? 1 : strcmp(p->key, q->key);
}

static void diff_rank(json_object *ra, json_object *rb, int64_t rank, int top)
{
  char b1[64], b2[64], b3[96];
  printf("Rank %lld\n", (long long)rank);
  if (!ra || !rb) {
    printf("  only in %s\n\n", ra ? "A" : "B");
    return;
  }
  json_object *pa = getk(ra, "peak"), *pb = getk(rb, "peak");
  printf("  %-24s %14s %14s  %s\n", "", "A", "B", "B - A");
  static const char *const rows[2][2] = { { "peak allocated", "allocated_bytes" }, { "peak reserved", "reserved_bytes" } };
  for (int i = 0; i < 2; i++) {
    int64_t a = geti(pa, rows[i][1]), b = geti(pb, rows[i][1]);
    printf("  %-24s %14s %14s  %s\n", rows[i][0], mt_size_str((uint64_t)a, b1, sizeof b1),
           mt_size_str((uint64_t)b, b2, sizeof b2), delta(a, b, b3, sizeof b3));
  }
  json_object *ca = getk(pa, "by_category"), *cb = getk(pb, "by_category");
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    const char *nm = mt_category_name(c);
    int64_t a = geti(ca, nm), b = geti(cb, nm);
    if (!a && !b)
      continue;
    char lbl[64];
    snprintf(lbl, sizeof lbl, "  %s", nm);
    printf("  %-24s %14s %14s  %s\n", lbl, mt_size_str((uint64_t)a, b1, sizeof b1),
           mt_size_str((uint64_t)b, b2, sizeof b2), delta(a, b, b3, sizeof b3));
  }
  json_object *sa = getk(pa, "step"), *sb = getk(pb, "step"), *pha = getk(pa, "phase"), *phb = getk(pb, "phase");
  printf("  %-24s %14s %14s\n", "peak step", sa ? json_object_get_string(sa) : "-", sb ? json_object_get_string(sb) : "-");
  printf("  %-24s %14s %14s\n", "peak phase", pha ? json_object_get_string(pha) : "-",
         phb ? json_object_get_string(phb) : "-");
  /* allocations by key: bytes at the peak */
  json_object *ga = getk(ra, "allocations"), *gb = getk(rb, "allocations");
  size_t na = ga ? json_object_array_length(ga) : 0, nb = gb ? json_object_array_length(gb) : 0;
  struct change *ch = calloc(na + nb + 1, sizeof *ch);
  size_t n = 0;
  if (!ch)
    return;
  for (size_t i = 0; i < na; i++) {
    json_object *g = json_object_array_get_idx(ga, i);
    ch[n].key = json_object_get_string(getk(g, "key"));
    ch[n].a = geti(g, "peak_bytes");
    n++;
  }
  for (size_t i = 0; i < nb; i++) {
    json_object *g = json_object_array_get_idx(gb, i);
    const char *k = json_object_get_string(getk(g, "key"));
    size_t j;
    for (j = 0; j < na && strcmp(ch[j].key, k) != 0; j++)
      ;
    if (j == na) {
      ch[n].key = k;
      j = n++;
    }
    ch[j].b = geti(g, "peak_bytes");
  }
  if (n > 1)
    qsort(ch, n, sizeof *ch, cmp_change);
  int shown = 0;
  for (size_t i = 0; i < n && shown < top; i++) {
    if (ch[i].a == ch[i].b)
      continue;
    if (!shown)
      printf("  allocations that changed most (bytes live at the peak):\n");
    printf("    %12s %12s  %-18s %.48s\n", mt_size_str((uint64_t)ch[i].a, b1, sizeof b1),
           mt_size_str((uint64_t)ch[i].b, b2, sizeof b2), delta(ch[i].a, ch[i].b, b3, sizeof b3), ch[i].key);
    shown++;
  }
  if (!shown)
    printf("  no allocation changed its bytes at the peak\n");
  free(ch);
  putchar('\n');
}

static int run(int argc, char **argv)
{
  static const struct option opts[] = {
    { "top", required_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c, top = 10;
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);   /* as report.c */
  opterr = 0;
  optind = 0;   /* 0: glibc re-initialises, so options may follow operands (GNU order) */
  while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
    switch (c) {
    case 't': top = atoi(optarg); if (top <= 0) return mt_usage_error("diff", "--top wants a positive number"); break;
    case 'h': fputs(mt_cmd_diff.usage, stdout); return MT_EXIT_OK;
    default: return mt_usage_error("diff", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return mt_usage_error("diff", "wants two runs: A and B");
  int rc = MT_EXIT_OK;
  json_object *a = load_side(argv[optind], &rc);
  if (!a)
    return rc;
  json_object *b = load_side(argv[optind + 1], &rc);
  if (!b) {
    json_object_put(a);
    return rc;
  }
  printf("memtrace diff\n  A: %s\n  B: %s\n", argv[optind], argv[optind + 1]);
  printf("  dropped events: A %lld, B %lld\n", (long long)geti(a, "dropped_events"), (long long)geti(b, "dropped_events"));
  json_object *ia = getk(a, "incomplete"), *ib = getk(b, "incomplete");
  if ((ia && json_object_get_boolean(ia)) || (ib && json_object_get_boolean(ib)))
    printf("  INCOMPLETE: %s%s%s never closed its trace\n", ia && json_object_get_boolean(ia) ? "A" : "",
           ia && json_object_get_boolean(ia) && ib && json_object_get_boolean(ib) ? " and " : "",
           ib && json_object_get_boolean(ib) ? "B" : "");
  putchar('\n');
  /* ranks: the union, in A's order then B's extras */
  json_object *ranks[2] = { getk(a, "ranks"), getk(b, "ranks") };
  if (ranks[0] && ranks[1] && json_object_array_length(ranks[0]) == 1 && json_object_array_length(ranks[1]) == 1) {
    /* one process each: compare them whatever their rank numbers */
    json_object *ra = json_object_array_get_idx(ranks[0], 0), *rb = json_object_array_get_idx(ranks[1], 0);
    diff_rank(ra, rb, geti(ra, "rank"), top);
    json_object_put(a);
    json_object_put(b);
    return fflush(stdout) == 0 ? MT_EXIT_OK : MT_EXIT_FAIL;
  }
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; ranks[s] && i < json_object_array_length(ranks[s]); i++) {
      int64_t rk = geti(json_object_array_get_idx(ranks[s], i), "rank");
      if (s == 1 && rank_of(a, rk))
        continue;
      diff_rank(rank_of(a, rk), rank_of(b, rk), rk, top);
    }
  json_object_put(a);
  json_object_put(b);
  return fflush(stdout) == 0 ? MT_EXIT_OK : MT_EXIT_FAIL;
}

const mt_cmd mt_cmd_diff = {
  "diff", "two runs side by side: peaks, categories, what changed most",
  "Usage: memtrace diff [OPTIONS] A B\n"
  "\n"
  "Compares two runs rank by rank: peak allocated and reserved bytes, the\n"
  "peak's bytes by category, its step and phase, and the allocations (by\n"
  "label, else by allocating frame) whose bytes at the peak changed most.\n"
  "A and B are each a trace, a run directory, or a JSON report written by\n"
  "'memtrace report --format json' (a file ending in .json).\n"
  "\n"
  "Options:\n"
  "  -t, --top N    allocations listed per rank (default 10)\n"
  "  -h, --help     this text\n"
  "\n"
  "Exit status: 0 on success, 2 if A or B is not readable.\n",
  run,
};
