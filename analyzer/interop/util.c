/* Shared helpers of the importers: arrays, hash maps, string pool, bounded
 * (optionally gzipped) input, exact decimal parsing. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "analyzer/interop/interop_internal.h"

mt_interop_limits mt_interop_limits_current = {
  .max_input_bytes = 8ull << 30,      /* 8 GiB decompressed per file */
  .max_object_bytes = 256ull << 20,   /* one JSON element, one pickle's working set x4 */
  .max_depth = 64,
};

int mt__igrow(void **v, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return 0;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / elem)
      return -1;
    nc *= 2;
  }
  void *p = realloc(*v, nc * elem);
  if (!p)
    return -1;
  *v = p;
  *cap = nc;
  return 0;
}

uint64_t mt__ihash64(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

uint64_t mt__ihash_str(const char *s, size_t n, uint64_t seed)
{
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static int map_rehash(mt__imap *m, size_t ncap)
{
  mt__imap nm = { 0 };
  nm.keys = calloc(ncap, sizeof *nm.keys);
  nm.vals = calloc(ncap, sizeof *nm.vals);
  nm.used = calloc(ncap, 1);
  if (!nm.keys || !nm.vals || !nm.used) {
    free(nm.keys); free(nm.vals); free(nm.used);
    return -1;
  }
  nm.cap = ncap;
  for (size_t i = 0; i < m->cap; i++)
    if (m->used[i] == 1) {
      size_t j = mt__ihash64(m->keys[i]) & (ncap - 1);
      while (nm.used[j])
        j = (j + 1) & (ncap - 1);
      nm.used[j] = 1;
      nm.keys[j] = m->keys[i];
      nm.vals[j] = m->vals[i];
      nm.n++;
    }
  mt__imap_free(m);
  *m = nm;
  return 0;
}

int mt__imap_put(mt__imap *m, uint64_t key, uint64_t val)
{
  if ((m->n + 1) * 2 > m->cap && map_rehash(m, m->cap ? m->cap * 2 : 64) != 0)
    return -1;
  size_t j = mt__ihash64(key) & (m->cap - 1), tomb = SIZE_MAX;
  while (m->used[j]) {
    if (m->used[j] == 1 && m->keys[j] == key) {
      m->vals[j] = val;
      return 0;
    }
    if (m->used[j] == 2 && tomb == SIZE_MAX)
      tomb = j;
    j = (j + 1) & (m->cap - 1);
  }
  if (tomb != SIZE_MAX)
    j = tomb;
  m->used[j] = 1;
  m->keys[j] = key;
  m->vals[j] = val;
  m->n++;
  return 0;
}

static size_t map_find(const mt__imap *m, uint64_t key)
{
  if (!m->cap)
    return SIZE_MAX;
  size_t j = mt__ihash64(key) & (m->cap - 1);
  while (m->used[j]) {
    if (m->used[j] == 1 && m->keys[j] == key)
      return j;
    j = (j + 1) & (m->cap - 1);
  }
  return SIZE_MAX;
}

int mt__imap_get(const mt__imap *m, uint64_t key, uint64_t *val)
{
  size_t j = map_find(m, key);
  if (j == SIZE_MAX)
    return 0;
  if (val)
    *val = m->vals[j];
  return 1;
}

int mt__imap_del(mt__imap *m, uint64_t key)
{
  size_t j = map_find(m, key);
  if (j == SIZE_MAX)
    return 0;
  m->used[j] = 2;   /* tombstone; counted in n so the table still grows */
  return 1;
}

void mt__imap_free(mt__imap *m)
{
  free(m->keys);
  free(m->vals);
  free(m->used);
  memset(m, 0, sizeof *m);
}

uint32_t mt__sp_intern(mt__strpool *p, const char *s, size_t len)
{
  uint64_t h = mt__ihash_str(s, len, 0), head;
  if (mt__imap_get(&p->index, h, &head)) {
    for (uint32_t i = (uint32_t)head; i; i = p->next[i])
      if (strlen(p->s[i]) == len && memcmp(p->s[i], s, len) == 0)
        return i;
  } else {
    head = 0;
  }
  if (p->n == 0)
    p->n = 1;   /* index 0 is "none" */
  if (mt__igrow((void **)&p->s, &p->cap, p->n + 1, sizeof *p->s) ||
      mt__igrow((void **)&p->next, &p->next_cap, p->n + 1, sizeof *p->next))
    return 0;
  char *c = malloc(len + 1);
  if (!c)
    return 0;
  memcpy(c, s, len);
  c[len] = 0;
  uint32_t id = (uint32_t)p->n++;
  p->s[id] = c;
  p->next[id] = (uint32_t)head;
  if (mt__imap_put(&p->index, h, id))
    return 0;
  return id;
}

const char *mt__sp_get(const mt__strpool *p, uint32_t i)
{
  return i && i < p->n ? p->s[i] : NULL;
}

void mt__sp_free(mt__strpool *p)
{
  for (size_t i = 1; i < p->n; i++)
    free(p->s[i]);
  free(p->s);
  free(p->next);
  mt__imap_free(&p->index);
  memset(p, 0, sizeof *p);
}

struct mt__in {
  gzFile gz;
  const char *path;
  uint64_t total;
};

mt__in *mt__in_open(const char *path, mt_error *err)
{
  mt__in *in = calloc(1, sizeof *in);
  if (!in) {
    mt_error_set(err, MT_ENOMEM, "%s: out of memory", path);
    return NULL;
  }
  in->path = path;
  in->gz = gzopen(path, "rb");   /* reads plain files transparently */
  if (!in->gz) {
    mt_error_set(err, MT_EIO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    free(in);
    return NULL;
  }
  gzbuffer(in->gz, 1 << 17);
  return in;
}

long mt__in_read(mt__in *in, void *buf, size_t n, mt_error *err)
{
  if (n > (1u << 30))
    n = 1u << 30;
  int r = gzread(in->gz, buf, (unsigned)n);
  if (r < 0) {
    int e;
    const char *m = gzerror(in->gz, &e);
    mt_error_set(err, MT_ECORRUPT, "%s: cannot decompress: %s", in->path, m ? m : "error");
    return -1;
  }
  if (r == 0) {
    int e;
    gzerror(in->gz, &e);
    if (e != Z_OK && e != Z_STREAM_END) {
      mt_error_set(err, MT_ECORRUPT, "%s: truncated or damaged gzip stream", in->path);
      return -1;
    }
  }
  in->total += (uint64_t)r;
  if (in->total > mt_interop_limits_current.max_input_bytes) {
    mt_error_set(err, MT_EINVAL, "%s: more than %llu bytes after decompression; refusing", in->path,
                 (unsigned long long)mt_interop_limits_current.max_input_bytes);
    return -1;
  }
  return r;
}

void mt__in_close(mt__in *in)
{
  if (!in)
    return;
  gzclose(in->gz);
  free(in);
}

const char *mt__in_path(const mt__in *in)
{
  return in->path;
}

int mt__read_all(const char *path, unsigned char **buf, size_t *len, mt_error *err)
{
  *buf = NULL;
  *len = 0;
  mt__in *in = mt__in_open(path, err);
  if (!in)
    return err ? err->code : MT_EIO;
  size_t cap = 1 << 16, n = 0;
  unsigned char *b = malloc(cap);
  int rc = MT_OK;
  if (!b) {
    rc = MT_ENOMEM;
    mt_error_set(err, rc, "%s: out of memory", path);
    goto out;
  }
  for (;;) {
    if (cap - n < 65536) {
      unsigned char *nb = realloc(b, cap * 2);
      if (!nb) {
        rc = MT_ENOMEM;
        mt_error_set(err, rc, "%s: out of memory", path);
        goto out;
      }
      b = nb;
      cap *= 2;
    }
    long r = mt__in_read(in, b + n, cap - n, err);
    if (r < 0) {
      rc = err ? err->code : MT_EIO;
      goto out;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  *buf = b;
  *len = n;
  b = NULL;
out:
  free(b);
  mt__in_close(in);
  return rc;
}

int mt__dec_milli(const char *s, int64_t *out)
{
  if (!s)
    return -1;
  int neg = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  if (*s < '0' || *s > '9')
    return -1;
  int64_t ip = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (ip > (INT64_MAX / 1000 - 1 - (*s - '0')) / 10)
      return -1;   /* ip * 1000 + 999 + 1 must fit */
    ip = ip * 10 + (*s - '0');
  }
  int64_t frac = 0;
  int digits = 0, round = 0;
  if (*s == '.') {
    s++;
    for (; *s >= '0' && *s <= '9'; s++) {
      if (digits < 3) {
        frac = frac * 10 + (*s - '0');
        digits++;
      } else if (digits == 3) {
        round = *s >= '5';
        digits++;
      }
    }
  }
  while (digits < 3) {
    frac *= 10;
    digits++;
  }
  if (*s)   /* exponent forms and junk are not timestamps */
    return -1;
  int64_t v = ip * 1000 + frac + round;
  *out = neg ? -v : v;
  return 0;
}

void mt__import_process(mt_process_info *pi, const char *in_path, const char *producer,
                        const char *run_id, int rank, int world, int64_t start_ns, int64_t wall_off)
{
  memset(pi, 0, sizeof *pi);
  snprintf(pi->run_id, sizeof pi->run_id, "%s", run_id && *run_id ? run_id : "import");
  pi->rank = rank < 0 ? 0 : rank;
  pi->local_rank = pi->rank;
  pi->world_size = world > 0 ? world : 1;
  snprintf(pi->host, sizeof pi->host, "%s", "");
  pi->command_line = in_path;
  pi->start_ns = start_ns;
  pi->wall_offset_ns = wall_off;
  pi->end_ns = -1;
  pi->producer = producer;
  pi->stacks = "none";
  pi->cupti = "unavailable";
}

int mt__api_from_name(const char *name)
{
#define X(v, n, l) if (strcmp(name, l) == 0) return v;
  if (!name)
    return MT_API_UNKNOWN;
  MT_API_LIST(X)
#undef X
  /* CUPTI/nsys names carry version suffixes: cudaLaunchKernel_v7000 */
  const char *u = strstr(name, "_v");
  if (u && u > name) {
    char b[128];
    size_t k = (size_t)(u - name);
    if (k < sizeof b) {
      memcpy(b, name, k);
      b[k] = 0;
#define Y(v, n, l) if (strcmp(b, l) == 0) return v;
      MT_API_LIST(Y)
#undef Y
    }
  }
  return MT_API_UNKNOWN;
}
