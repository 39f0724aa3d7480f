#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>
#include <glib/gstdio.h>
#include "gui/tlcache.h"
#include "schemas/trace.h"

#define MAGIC "MTVIEW-TLCACHE\n"
#define FORMAT 1

struct MtTlCache {
  mt_analysis *a;
  GStringChunk *strs;      /* the const char * fields of a */
  GBytes *payload;         /* as read, for mt_tlcache_equal */
};

gboolean mt_tlcache_enabled(void)
{
  const char *e = g_getenv("MT_VIEW_CACHE");
  return !e || strcmp(e, "0") != 0;
}

static char *cache_dir(void)
{
  return g_build_filename(g_get_user_cache_dir(), "memtrace", NULL);
}

char *mt_tlcache_file(const char *path, size_t samples)
{
  char *abs = g_canonicalize_filename(path, NULL);
  char *id = g_strdup_printf("%s\n%zu", abs, samples);
  char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, id, -1);
  char *dir = cache_dir();
  char *name = g_strdup_printf("%.40s.tlc", sum);
  char *file = g_build_filename(dir, name, NULL);
  g_free(name);
  g_free(dir);
  g_free(sum);
  g_free(id);
  g_free(abs);
  return file;
}

static void key_file(GString *k, const char *file)
{
  GStatBuf st;
  if (g_stat(file, &st) != 0)
    return;
  g_string_append_printf(k, "file %s %lld %lld.%09ld\n", file, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                         (long)st.st_mtim.tv_nsec);
  char *wal = g_strconcat(file, "-wal", NULL);
  if (g_stat(wal, &st) == 0)
    g_string_append_printf(k, "wal %lld %lld.%09ld\n", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                           (long)st.st_mtim.tv_nsec);
  g_free(wal);
}

static int cmp_str(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the cache of `path` must have been written for; NULL when the
 * path is not there. */
static char *cache_key(const char *path, size_t samples)
{
  char *abs = g_canonicalize_filename(path, NULL);
  if (!g_file_test(abs, G_FILE_TEST_EXISTS)) {
    g_free(abs);
    return NULL;
  }
  GString *k = g_string_new(NULL);
  g_string_append_printf(k, "format %d\nviewer %s\nschema %d\nsamples %zu\npath %s\n", FORMAT, PACKAGE_VERSION,
                         MT_SCHEMA_VERSION, samples, abs);
  if (g_file_test(abs, G_FILE_TEST_IS_DIR)) {
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(abs, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d)))
      if (g_str_has_suffix(n, ".mtrace"))
        g_ptr_array_add(names, g_build_filename(abs, n, NULL));
    if (d)
      g_dir_close(d);
    g_ptr_array_sort(names, cmp_str);
    for (guint i = 0; i < names->len; i++)
      key_file(k, names->pdata[i]);
    g_ptr_array_free(names, TRUE);
  } else
    key_file(k, abs);
  g_free(abs);
  return g_string_free(k, FALSE);
}

/* ---- serialisation ----------------------------------------------------- */

static void put(GByteArray *b, const void *p, size_t n)
{
  g_byte_array_append(b, p, (guint)n);
}
#define PUT(b, v)                                                                                                    \
  do {                                                                                                               \
    __typeof__(v) v_ = (v);                                                                                          \
    put(b, &v_, sizeof v_);                                                                                          \
  } while (0)

static void put_str(GByteArray *b, const char *s)
{
  uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
  PUT(b, n);
  if (s)
    put(b, s, n);
}

static void put_u64s(GByteArray *b, const uint64_t *v, size_t n)
{
  uint8_t has = v != NULL;
  PUT(b, has);
  if (v)
    put(b, v, n * sizeof *v);
}

static void serialise(GByteArray *b, const mt_analysis *a)
{
  PUT(b, (uint64_t)a->nranks);
  put_str(b, a->path);
  PUT(b, (int32_t)a->is_run_dir);
  PUT(b, (uint64_t)a->job_peak_index);
  PUT(b, a->imbalance);
  PUT(b, a->dropped);
  PUT(b, (int32_t)a->incomplete);
  PUT(b, (int32_t)a->mixed_runs);
  for (size_t i = 0; i < a->nranks; i++) {
    const mt_rank *r = &a->ranks[i];
    put_str(b, r->path);
    put_str(b, r->run_id);
    PUT(b, (int32_t)r->rank);
    PUT(b, (int32_t)r->local_rank);
    PUT(b, (int32_t)r->world_size);
    put_str(b, r->host);
    PUT(b, r->pid);
    PUT(b, r->start_ns);
    PUT(b, r->end_ns);
    PUT(b, (int32_t)r->incomplete);
    put_str(b, r->incomplete_reason);
    PUT(b, r->dropped);
    PUT(b, r->first_ts);
    PUT(b, r->last_ts);
    PUT(b, r->peak_allocated);
    PUT(b, r->peak_reserved);
    PUT(b, r->peak_allocated_ts);
    PUT(b, r->peak_reserved_ts);
    PUT(b, (int32_t)r->peak_reserved_step);
    put_str(b, r->peak_reserved_phase);
    const mt_snapshot *p = &r->peak;
    PUT(b, p->ts);
    PUT(b, p->allocated);
    PUT(b, p->reserved);
    put(b, p->by_category, sizeof p->by_category);
    put(b, p->by_rule, sizeof p->by_rule);
    PUT(b, p->largest_free_block);
    PUT(b, (int32_t)p->step);
    put_str(b, p->phase);
    put_str(b, p->range);
    PUT(b, r->max_fragmentation);
    PUT(b, r->max_fragmentation_ts);
    PUT(b, r->n_mem_events);
    PUT(b, r->n_region_events);
    PUT(b, r->n_ranges);
    PUT(b, r->n_kernels);
    PUT(b, r->n_nccl);
    PUT(b, r->n_device_allocs);
    PUT(b, r->n_tensors);
    PUT(b, (uint64_t)r->nooms);
    for (size_t k = 0; k < r->nooms; k++) {
      const mt_oom *o = &r->ooms[k];
      PUT(b, o->ts);
      PUT(b, (int32_t)o->device);
      PUT(b, (int32_t)o->api);
      PUT(b, (int32_t)o->source);
      PUT(b, o->requested);
      PUT(b, o->free_bytes);
      PUT(b, o->total_bytes);
      PUT(b, (int32_t)o->step);
      put_str(b, o->phase);
      put_str(b, o->range);
    }
    const mt_timeline *t = &r->timeline;
    PUT(b, (uint64_t)t->n);
    PUT(b, t->t0);
    PUT(b, t->dt);
    put_u64s(b, t->allocated, t->n);
    put_u64s(b, t->reserved, t->n);
    put_u64s(b, t->allocated_max, t->n);
    put_u64s(b, t->reserved_max, t->n);
    for (int c = 0; c < MT_CAT_COUNT; c++)
      put_u64s(b, t->by_category[c], t->n);
  }
}

typedef struct Reader {
  const uint8_t *p, *end;
  gboolean bad;
  GStringChunk *strs;
} Reader;

static gboolean get(Reader *r, void *out, size_t n)
{
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = TRUE;
    memset(out, 0, n);
    return FALSE;
  }
  memcpy(out, r->p, n);
  r->p += n;
  return TRUE;
}

static uint64_t get_u64(Reader *r) { uint64_t v; get(r, &v, sizeof v); return v; }
static int64_t get_i64(Reader *r) { int64_t v; get(r, &v, sizeof v); return v; }
static int get_i32(Reader *r) { int32_t v; get(r, &v, sizeof v); return v; }

/* a string: into the chunk (const fields), or malloc'd when owned */
static const char *get_str(Reader *r)
{
  uint32_t n;
  if (!get(r, &n, sizeof n) || n == UINT32_MAX)
    return NULL;
  if ((size_t)(r->end - r->p) < n) {
    r->bad = TRUE;
    return NULL;
  }
  const char *s = g_string_chunk_insert_len(r->strs, (const char *)r->p, n);
  r->p += n;
  return s;
}

static char *get_owned(Reader *r)
{
  const char *s = get_str(r);
  return s ? strdup(s) : NULL;
}

static uint64_t *get_u64s(Reader *r, size_t n)
{
  uint8_t has = 0;
  get(r, &has, 1);
  if (!has || r->bad)
    return NULL;
  if ((size_t)(r->end - r->p) / sizeof(uint64_t) < n) {
    r->bad = TRUE;
    return NULL;
  }
  uint64_t *v = malloc(n ? n * sizeof *v : 1);
  get(r, v, n * sizeof *v);
  return v;
}

static mt_analysis *deserialise(Reader *rd)
{
  mt_analysis *a = calloc(1, sizeof *a);
  uint64_t nranks = get_u64(rd);
  if (rd->bad || nranks > 1u << 20) {
    free(a);
    return NULL;
  }
  a->ranks = calloc(nranks ? nranks : 1, sizeof *a->ranks);
  a->nranks = nranks;
  a->path = get_owned(rd);
  a->is_run_dir = get_i32(rd);
  a->job_peak_index = get_u64(rd);
  get(rd, &a->imbalance, sizeof a->imbalance);
  a->dropped = get_u64(rd);
  a->incomplete = get_i32(rd);
  a->mixed_runs = get_i32(rd);
  for (size_t i = 0; i < nranks && !rd->bad; i++) {
    mt_rank *r = &a->ranks[i];
    r->path = get_owned(rd);
    const char *s = get_str(rd);
    g_strlcpy(r->run_id, s ? s : "", sizeof r->run_id);
    r->rank = get_i32(rd);
    r->local_rank = get_i32(rd);
    r->world_size = get_i32(rd);
    s = get_str(rd);
    g_strlcpy(r->host, s ? s : "", sizeof r->host);
    r->pid = get_i64(rd);
    r->start_ns = get_i64(rd);
    r->end_ns = get_i64(rd);
    r->incomplete = get_i32(rd);
    r->incomplete_reason = get_owned(rd);
    r->dropped = get_u64(rd);
    r->first_ts = get_i64(rd);
    r->last_ts = get_i64(rd);
    r->peak_allocated = get_u64(rd);
    r->peak_reserved = get_u64(rd);
    r->peak_allocated_ts = get_i64(rd);
    r->peak_reserved_ts = get_i64(rd);
    r->peak_reserved_step = get_i32(rd);
    r->peak_reserved_phase = get_str(rd);
    mt_snapshot *p = &r->peak;
    p->ts = get_i64(rd);
    p->allocated = get_u64(rd);
    p->reserved = get_u64(rd);
    get(rd, p->by_category, sizeof p->by_category);
    get(rd, p->by_rule, sizeof p->by_rule);
    p->largest_free_block = get_u64(rd);
    p->step = get_i32(rd);
    p->phase = get_str(rd);
    p->range = get_str(rd);
    r->max_fragmentation = get_u64(rd);
    r->max_fragmentation_ts = get_i64(rd);
    r->n_mem_events = get_u64(rd);
    r->n_region_events = get_u64(rd);
    r->n_ranges = get_u64(rd);
    r->n_kernels = get_u64(rd);
    r->n_nccl = get_u64(rd);
    r->n_device_allocs = get_u64(rd);
    r->n_tensors = get_u64(rd);
    uint64_t nooms = get_u64(rd);
    if (rd->bad || nooms > (uint64_t)(rd->end - rd->p)) {
      rd->bad = TRUE;
      break;
    }
    r->ooms = calloc(nooms ? nooms : 1, sizeof *r->ooms);
    r->nooms = nooms;
    for (size_t k = 0; k < nooms && !rd->bad; k++) {
      mt_oom *o = &r->ooms[k];
      o->ts = get_i64(rd);
      o->device = get_i32(rd);
      o->api = get_i32(rd);
      o->source = get_i32(rd);
      o->requested = get_u64(rd);
      o->free_bytes = get_i64(rd);
      o->total_bytes = get_i64(rd);
      o->step = get_i32(rd);
      o->phase = get_str(rd);
      o->range = get_str(rd);
    }
    mt_timeline *t = &r->timeline;
    uint64_t n = get_u64(rd);
    if (rd->bad || n > (uint64_t)(rd->end - rd->p)) {
      rd->bad = TRUE;
      break;
    }
    t->n = n;
    t->t0 = get_i64(rd);
    t->dt = get_i64(rd);
    t->allocated = get_u64s(rd, n);
    t->reserved = get_u64s(rd, n);
    t->allocated_max = get_u64s(rd, n);
    t->reserved_max = get_u64s(rd, n);
    for (int c = 0; c < MT_CAT_COUNT; c++)
      t->by_category[c] = get_u64s(rd, n);
  }
  if (rd->bad || rd->p != rd->end || (a->nranks && a->job_peak_index >= a->nranks)) {
    mt_analysis_free(a);
    return NULL;
  }
  return a;
}

/* file: MAGIC, u32 key length, key, u64 payload length, payload,
 * SHA-256 (32 bytes) of everything before it */
MtTlCache *mt_tlcache_load(const char *path, size_t samples)
{
  if (!mt_tlcache_enabled())
    return NULL;
  char *key = cache_key(path, samples);
  if (!key)
    return NULL;
  char *file = mt_tlcache_file(path, samples);
  char *data = NULL;
  gsize len = 0;
  MtTlCache *c = NULL;
  if (!g_file_get_contents(file, &data, &len, NULL))
    goto out;
  size_t ml = strlen(MAGIC), kl = strlen(key);
  const uint8_t *p = (const uint8_t *)data;
  if (len < ml + 4 + kl + 8 + 32 || memcmp(p, MAGIC, ml))
    goto out;
  uint32_t k32;
  memcpy(&k32, p + ml, 4);
  if (k32 != kl || memcmp(p + ml + 4, key, kl))
    goto out;                                  /* stale: the trace changed */
  uint64_t pl;
  memcpy(&pl, p + ml + 4 + kl, 8);
  size_t off = ml + 4 + kl + 8;
  if (pl != len - off - 32)
    goto out;
  guint8 digest[32];
  gsize dl = sizeof digest;
  GChecksum *cs = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(cs, p, len - 32);
  g_checksum_get_digest(cs, digest, &dl);
  g_checksum_free(cs);
  if (memcmp(digest, p + len - 32, 32))
    goto out;                                  /* corrupt */
  Reader rd = { .p = p + off, .end = p + off + pl, .strs = g_string_chunk_new(256) };
  mt_analysis *a = deserialise(&rd);
  if (!a) {
    g_string_chunk_free(rd.strs);
    goto out;
  }
  c = g_new0(MtTlCache, 1);
  c->a = a;
  c->strs = rd.strs;
  c->payload = g_bytes_new(p + off, pl);
  utime(file, NULL);                           /* recently used: last to be trimmed */
out:
  g_free(data);
  g_free(file);
  g_free(key);
  return c;
}

const mt_analysis *mt_tlcache_analysis(const MtTlCache *c)
{
  return c->a;
}

void mt_tlcache_free(MtTlCache *c)
{
  if (!c)
    return;
  mt_analysis_free(c->a);
  g_string_chunk_free(c->strs);
  g_bytes_unref(c->payload);
  g_free(c);
}

GBytes *mt_tlcache_bytes(const MtTlCache *c)
{
  return g_bytes_ref(c->payload);
}

gboolean mt_tlcache_matches(GBytes *bytes, const mt_analysis *a)
{
  GByteArray *b = g_byte_array_new();
  serialise(b, a);
  gsize n;
  const void *p = g_bytes_get_data(bytes, &n);
  gboolean eq = n == b->len && !memcmp(p, b->data, n);
  g_byte_array_unref(b);
  return eq;
}

typedef struct Entry {
  char *file;
  gint64 mtime, size;
} Entry;

static int by_mtime(gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry *const *)a, *y = *(Entry *const *)b;
  return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static void entry_free(Entry *e)
{
  g_free(e->file);
  g_free(e);
}

/* Removes the least recently used files until the directory fits. */
static void trim(const char *dir, const char *keep)
{
  const char *m = g_getenv("MT_VIEW_CACHE_MAX");
  gint64 max = m && *m ? g_ascii_strtoll(m, NULL, 10) : (gint64)256 << 20;
  GPtrArray *es = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
  GDir *d = g_dir_open(dir, 0, NULL);
  const char *n;
  gint64 total = 0;
  while (d && (n = g_dir_read_name(d))) {
    if (!g_str_has_suffix(n, ".tlc"))
      continue;
    Entry *e = g_new0(Entry, 1);
    e->file = g_build_filename(dir, n, NULL);
    GStatBuf st;
    if (g_stat(e->file, &st) != 0) {
      entry_free(e);
      continue;
    }
    e->mtime = (gint64)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    e->size = st.st_size;
    total += e->size;
    g_ptr_array_add(es, e);
  }
  if (d)
    g_dir_close(d);
  g_ptr_array_sort(es, by_mtime);
  for (guint i = 0; i < es->len && total > max; i++) {
    Entry *e = es->pdata[i];
    if (!strcmp(e->file, keep))
      continue;
    if (g_unlink(e->file) == 0)
      total -= e->size;
  }
  g_ptr_array_free(es, TRUE);
}

char *mt_tlcache_key(const char *path, size_t samples)
{
  return cache_key(path, samples);
}

gboolean mt_tlcache_store(const char *path, size_t samples, const char *key_before, const mt_analysis *a,
                          GError **error)
{
  if (!mt_tlcache_enabled())
    return TRUE;
  char *key = cache_key(path, samples);
  if (!key) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s is gone", path);
    return FALSE;
  }
  if (!key_before || strcmp(key, key_before)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_AGAIN, "%s changed during the analysis", path);
    g_free(key);
    return FALSE;
  }
  GByteArray *b = g_byte_array_new();
  put(b, MAGIC, strlen(MAGIC));
  PUT(b, (uint32_t)strlen(key));
  put(b, key, strlen(key));
  GByteArray *payload = g_byte_array_new();
  serialise(payload, a);
  PUT(b, (uint64_t)payload->len);
  put(b, payload->data, payload->len);
  g_byte_array_unref(payload);
  guint8 digest[32];
  gsize dl = sizeof digest;
  GChecksum *cs = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(cs, b->data, b->len);
  g_checksum_get_digest(cs, digest, &dl);
  g_checksum_free(cs);
  put(b, digest, sizeof digest);
  char *dir = cache_dir();
  char *file = mt_tlcache_file(path, samples);
  gboolean ok = g_mkdir_with_parents(dir, 0700) == 0;
  if (!ok)
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot create %s: %s", dir, g_strerror(errno));
  else
    ok = g_file_set_contents(file, (const char *)b->data, b->len, error);
  if (ok)
    trim(dir, file);
  g_byte_array_unref(b);
  g_free(file);
  g_free(dir);
  g_free(key);
  return ok;
}
