/* libmemtrace-analysis: containers, names, range-name and label rules. */
#define _GNU_SOURCE
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "analyzer/lib/internal.h"

/* ---- names ------------------------------------------------------------ */

#define MT__CATNAME(n, l) l,
static const char *const cat_names[] = { MT_CATEGORY_LIST(MT__CATNAME) };
#define MT__RULENAME(n, l, d) l,
static const char *const rule_names[] = { MT_RULE_LIST(MT__RULENAME) };
#define MT__RULETEXT(n, l, d) d,
static const char *const rule_texts[] = { MT_RULE_LIST(MT__RULETEXT) };

const char *mt_category_name(int c) { return c >= 0 && c < MT_CAT_COUNT ? cat_names[c] : NULL; }

/* One colour per category for every output: the HTML report, SVG and the
 * viewer (gui/palette.c).  Colour-blind safe (Okabe-Ito).  Keep
 * docs/VIEWER.md in step. */
static const unsigned category_hex[MT_CAT_COUNT] = {
  [MT_CAT_PARAMETER] = 0x0072B2,       /* blue */
  [MT_CAT_GRADIENT] = 0xE69F00,        /* orange */
  [MT_CAT_OPTIMIZER_STATE] = 0x009E73, /* bluish green */
  [MT_CAT_ACTIVATION] = 0xCC79A7,      /* reddish purple */
  [MT_CAT_TEMPORARY] = 0xF0E442,       /* yellow */
  [MT_CAT_WORKSPACE] = 0x56B4E9,       /* sky blue */
  [MT_CAT_COMMUNICATION] = 0xD55E00,   /* vermillion */
  [MT_CAT_INPUT] = 0x882255,           /* wine */
  [MT_CAT_OTHER] = 0x777777,           /* grey */
  [MT_CAT_CACHE_FREE] = 0xCFCFCF,      /* light grey: reserved, unused */
};

unsigned mt_category_color(int cat)
{
  return cat >= 0 && cat < MT_CAT_COUNT ? category_hex[cat] : 0x777777;
}
const char *mt_rule_name(int r) { return r >= 0 && r < MT_RULE_COUNT ? rule_names[r] : NULL; }
const char *mt_rule_text(int r) { return r >= 0 && r < MT_RULE_COUNT ? rule_texts[r] : NULL; }

int mt_category_from_name(const char *name)
{
  for (int i = 0; name && i < MT_CAT_COUNT; i++)
    if (strcmp(name, cat_names[i]) == 0)
      return i;
  return -1;
}

/* libstdc++'s demangler; extern "C" in the Itanium C++ ABI */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

const char *mt_demangle(const char *name, char *buf, size_t len)
{
  if (!name || strncmp(name, "_Z", 2) != 0 || len == 0)
    return name;
  int status = -1;
  char *d = __cxa_demangle(name, NULL, NULL, &status);
  if (!d || status != 0) {
    free(d);
    return name;
  }
  snprintf(buf, len, "%s", d);
  free(d);
  return buf;
}

const char *mt_size_str(uint64_t b, char *buf, size_t len)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  double v = (double)b;
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)b);
  else if (v >= 100.0)
    snprintf(buf, len, "%.0f %s", v, units[u]);
  else if (v >= 10.0)
    snprintf(buf, len, "%.1f %s", v, units[u]);
  else
    snprintf(buf, len, "%.2f %s", v, units[u]);
  return buf;
}

/* ---- hash map --------------------------------------------------------- */

static inline size_t hash2(uint64_t a, uint64_t b)
{
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (size_t)h;
}

int mt__map_init(mt__map *m, size_t cap)
{
  size_t c = 16;
  while (c < cap * 2)
    c <<= 1;
  m->e = calloc(c, sizeof *m->e);
  m->cap = m->e ? c : 0;
  m->n = 0;
  return m->e ? 0 : -1;
}

void mt__map_free(mt__map *m)
{
  free(m->e);
  m->e = NULL;
  m->cap = m->n = 0;
}

static int grow(mt__map *m)
{
  mt__map nm;
  if (mt__map_init(&nm, m->cap ? m->cap : 8) != 0)
    return -1;
  for (size_t i = 0; i < m->cap; i++)
    if (m->e[i].used) {
      size_t j = hash2(m->e[i].k1, m->e[i].k2) & (nm.cap - 1);
      while (nm.e[j].used)
        j = (j + 1) & (nm.cap - 1);
      nm.e[j] = m->e[i];
      nm.n++;
    }
  free(m->e);
  *m = nm;
  return 0;
}

uint64_t *mt__map_get(const mt__map *m, uint64_t k1, uint64_t k2)
{
  if (!m->cap)
    return NULL;
  size_t j = hash2(k1, k2) & (m->cap - 1);
  while (m->e[j].used) {
    if (m->e[j].k1 == k1 && m->e[j].k2 == k2)
      return &m->e[j].v;
    j = (j + 1) & (m->cap - 1);
  }
  return NULL;
}

uint64_t *mt__map_put(mt__map *m, uint64_t k1, uint64_t k2, int *fresh)
{
  if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0)
    return NULL;
  size_t j = hash2(k1, k2) & (m->cap - 1);
  while (m->e[j].used) {
    if (m->e[j].k1 == k1 && m->e[j].k2 == k2) {
      if (fresh)
        *fresh = 0;
      return &m->e[j].v;
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->e[j].used = 1;
  m->e[j].k1 = k1;
  m->e[j].k2 = k2;
  m->e[j].v = 0;
  m->n++;
  if (fresh)
    *fresh = 1;
  return &m->e[j].v;
}

int mt__map_del(mt__map *m, uint64_t k1, uint64_t k2, uint64_t *old)
{
  if (!m->cap)
    return 0;
  size_t mask = m->cap - 1, j = hash2(k1, k2) & mask;
  while (m->e[j].used && !(m->e[j].k1 == k1 && m->e[j].k2 == k2))
    j = (j + 1) & mask;
  if (!m->e[j].used)
    return 0;
  if (old)
    *old = m->e[j].v;
  /* backward-shift deletion */
  size_t i = j;
  for (;;) {
    m->e[i].used = 0;
    size_t k = i;
    for (;;) {
      k = (k + 1) & mask;
      if (!m->e[k].used) {
        m->n--;
        return 1;
      }
      size_t home = hash2(m->e[k].k1, m->e[k].k2) & mask;
      /* can e[k] move to i? yes when home is not cyclically in (i, k] */
      if (i <= k ? (home <= i || home > k) : (home <= i && home > k))
        break;
    }
    m->e[i] = m->e[k];
    i = k;
  }
}

/* ---- vectors ---------------------------------------------------------- */

void *mt__vec_push(mt__vec *v)
{
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 16;
    void *np = realloc(v->p, nc * v->elem);
    if (!np)
      return NULL;
    v->p = np;
    v->cap = nc;
  }
  void *e = (char *)v->p + v->n++ * v->elem;
  memset(e, 0, v->elem);
  return e;
}

void mt__vec_free(mt__vec *v)
{
  free(v->p);
  v->p = NULL;
  v->n = v->cap = 0;
}

/* ---- strings ---------------------------------------------------------- */

const char *mt__strdup(mt__strs *s, const char *str)
{
  if (!str)
    return NULL;
  if (!s->owned.elem)
    s->owned.elem = sizeof(char *);
  char **slot = mt__vec_push(&s->owned);
  if (!slot)
    return NULL;
  *slot = strdup(str);
  if (!*slot)
    s->owned.n--;
  return *slot ? *slot : NULL;
}

const char *mt__str(mt__strs *s, int64_t id)
{
  if (id <= 0 || !s->lookup)
    return NULL;
  uint64_t *v = mt__map_get(&s->ids, (uint64_t)id, 0);
  if (v)
    return (const char *)(uintptr_t)*v;
  const char *r = NULL;
  sqlite3_reset(s->lookup);
  sqlite3_bind_int64(s->lookup, 1, id);
  int rc = sqlite3_step(s->lookup);
  if (rc == SQLITE_ROW) {
    const unsigned char *txt = sqlite3_column_text(s->lookup, 0);
    r = mt__strdup(s, txt ? (const char *)txt : "");
  } else if (rc == SQLITE_DONE) {
    if (!s->missing)
      s->missing = id;
  } else if (!s->sql_error) {
    s->sql_error = rc;
  }
  sqlite3_reset(s->lookup);
  uint64_t *slot = mt__map_put(&s->ids, (uint64_t)id, 0, NULL);
  if (slot)
    *slot = (uint64_t)(uintptr_t)r;
  return r;
}

void mt__strs_free(mt__strs *s)
{
  char **p = s->owned.p;
  for (size_t i = 0; i < s->owned.n; i++)
    free(p[i]);
  mt__vec_free(&s->owned);
  mt__map_free(&s->ids);
  sqlite3_finalize(s->lookup);
  s->lookup = NULL;
}

/* ---- range names ------------------------------------------------------ */

/* Phase words, matched case-insensitively against a whole name (exact) or
 * its last '.', '/', ':' or ' ' separated word. */
static const struct { const char *w; int kind; } phase_words[] = {
  { "forward", MT_PK_FWD }, { "fwd", MT_PK_FWD },
  { "backward", MT_PK_BWD }, { "bwd", MT_PK_BWD },
  { "recompute", MT_PK_REC }, { "recomputation", MT_PK_REC },
  { "optimizer", MT_PK_OPT }, { "optim", MT_PK_OPT }, { "optimizer_step", MT_PK_OPT },
  { "init", MT_PK_OTHER }, { "zero_grad", MT_PK_OTHER }, { "data", MT_PK_OTHER },
  { "eval", MT_PK_OTHER }, { "validation", MT_PK_OTHER },
};

static int word_kind(const char *w, size_t n)
{
  for (size_t i = 0; i < sizeof phase_words / sizeof phase_words[0]; i++)
    if (strlen(phase_words[i].w) == n && strncasecmp(w, phase_words[i].w, n) == 0)
      return phase_words[i].kind;
  return MT_PK_NONE;
}

void mt__classify_range(const char *name, mt__range_class *out)
{
  out->step = out->layer = -1;
  out->kind = MT_PK_NONE;
  out->exact_phase = 0;
  if (!name || !*name)
    return;
  size_t len = strlen(name);
  /* step: "step N", "step_N", "iteration N", "iter N", "train_step N", "ProfilerStep#N" */
  static const char *const step_words[] = { "step", "iteration", "iter", "train_step", "training_step",
                                              "ProfilerStep" /* torch.profiler: ProfilerStep#N */ };
  for (size_t i = 0; i < sizeof step_words / sizeof step_words[0]; i++) {
    size_t n = strlen(step_words[i]);
    if (strncasecmp(name, step_words[i], n) == 0) {
      const char *p = name + n;
      while (*p == ' ' || *p == '_' || *p == '-' || *p == '#' || *p == ':' || *p == '=')
        p++;
      if (isdigit((unsigned char)*p)) {
        char *end;
        long v = strtol(p, &end, 10);
        if (*end == 0 && v >= 0 && v < 1000000000L) {
          out->step = (int)v;
          return;
        }
      }
    }
  }
  out->kind = word_kind(name, len);
  if (out->kind != MT_PK_NONE) {
    out->exact_phase = 1;
    return;
  }
  /* last word */
  const char *last = name + len;
  while (last > name && !strchr("./: ", last[-1]))
    last--;
  if (last > name)
    out->kind = word_kind(last, (size_t)(name + len - last));
  /* layer: the last purely numeric '.'-separated component ("layer.3.forward",
   * "model.blocks.12.backward", "layers.7") */
  const char *p = name;
  while (*p) {
    const char *q = p;
    while (*q && *q != '.' && *q != '/')
      q++;
    if (q > p && (p == name || p[-1] == '.' || p[-1] == '/')) {
      int digits = 1;
      for (const char *r = p; r < q; r++)
        if (!isdigit((unsigned char)*r))
          digits = 0;
      if (digits && p != name && q - p < 9)
        out->layer = atoi(p);
    }
    p = *q ? q + 1 : q;
  }
}

void mt_range_classify(const char *name, mt_range_class *out)
{
  mt__classify_range(name, out);
}

/* ---- name heuristic --------------------------------------------------- */

static int has(const char *hay, const char *needle)
{
  return strcasestr(hay, needle) != NULL;
}

int mt__category_from_text(const char *t)
{
  if (!t || !*t)
    return -1;
  if (has(t, "workspace") || has(t, "cublas") || has(t, "cudnn") || has(t, "cutlass"))
    return MT_CAT_WORKSPACE;
  if (has(t, "nccl") || has(t, "bucket") || has(t, "allreduce") || has(t, "all_gather") ||
      has(t, "allgather") || has(t, "reduce_scatter") || has(t, "comm_buf"))
    return MT_CAT_COMMUNICATION;
  if (has(t, "exp_avg") || has(t, "momentum") || has(t, "optim") || has(t, "adam") ||
      has(t, "master_weight") || has(t, "fp32_param"))
    return MT_CAT_OPTIMIZER_STATE;
  if (has(t, "grad"))
    return MT_CAT_GRADIENT;
  if (has(t, "weight") || has(t, "bias") || has(t, "param") || has(t, "embedding"))
    return MT_CAT_PARAMETER;
  if (has(t, "input_ids") || has(t, "labels") || has(t, "batch") || has(t, "dataloader"))
    return MT_CAT_INPUT;
  if (has(t, "activation"))
    return MT_CAT_ACTIVATION;
  return -1;
}

/* Times as people type them (shared by the viewer and `memtrace export`). */
static const char *mt__skip_space(const char *s)
{
  while (*s && isspace((unsigned char)*s))
    s++;
  return s;
}

int mt_parse_time(const char *text, int64_t *ns)
{
  if (!text || !*text)
    return -1;
  char *end;
  double v = strtod(text, &end);
  if (end == text)
    return -1;
  const char *u = mt__skip_space(end);
  double mult;
  if (!*u || !strcasecmp(u, "ms"))
    mult = 1e6;
  else if (!strcasecmp(u, "s"))
    mult = 1e9;
  else if (!strcasecmp(u, "us"))
    mult = 1e3;
  else if (!strcasecmp(u, "ns"))
    mult = 1;
  else
    return -1;
  *ns = (int64_t)(v * mult + (v >= 0 ? 0.5 : -0.5));
  return 0;
}

int mt_parse_time_range(const char *text, int64_t *t0, int64_t *t1)
{
  const char *colon = strchr(text, ':');
  char first[64];
  if (!colon || (size_t)(colon - text) >= sizeof first)
    return -1;
  memcpy(first, text, (size_t)(colon - text));
  first[colon - text] = 0;
  return mt_parse_time(first, t0) || mt_parse_time(colon + 1, t1) || *t1 <= *t0 ? -1 : 0;
}

/* ---- text for terminals ------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s that is not a C1 control, or 0. */
static size_t utf8_ok(const unsigned char *s)
{
  unsigned c = s[0];
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  if (n == 2 && c == 0xc2 && s[1] < 0xa0)
    return 0;   /* U+0080..U+009F: C1 controls (CSI is U+009B) */
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
    return 0;   /* overlong, or beyond U+10FFFF */
  return n;
}

/* The escape for the byte (sequence) at s into e; its input length. */
static size_t escape_one(const unsigned char *s, char e[8], size_t *elen)
{
  unsigned c = s[0];
  if (c >= 0x20 && c < 0x7f) {
    e[0] = (char)c;
    *elen = 1;
    return 1;
  }
  size_t n = c >= 0x80 ? utf8_ok(s) : 0;
  if (n) {
    memcpy(e, s, n);
    *elen = n;
    return n;
  }
  if (c == '\n' || c == '\t') {
    e[0] = '\\';
    e[1] = c == '\n' ? 'n' : 't';
    *elen = 2;
    return 1;
  }
  if (c == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0) {
    *elen = (size_t)snprintf(e, 8, "\\u%04x", s[1]);
    return 2;
  }
  *elen = (size_t)snprintf(e, 8, "\\x%02x", c);
  return 1;
}

char *mt_text_escape(char *dst, size_t len, const char *s)
{
  size_t o = 0;
  if (!len)
    return dst;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    char e[8];
    size_t el, in = escape_one(p, e, &el);
    if (o + el >= len)
      break;
    memcpy(dst + o, e, el);
    o += el;
    p += in;
  }
  dst[o] = 0;
  return dst;
}

char *mt_text_escape_dup(const char *s)
{
  size_t n = strlen(s ? s : "") * 6 + 1;   /* \u00NN for 2 bytes, \xNN for 1 */
  char *d = malloc(n);
  return d ? mt_text_escape(d, n, s) : NULL;
}

int mt_fputs_escaped(const char *s, FILE *f)
{
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    char e[8];
    size_t el, in = escape_one(p, e, &el);
    if (fwrite(e, 1, el, f) != el)
      return EOF;
    p += in;
  }
  return 0;
}
