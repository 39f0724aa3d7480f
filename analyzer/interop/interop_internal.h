/* Internal helpers of libmemtrace-interop (mt__ prefix: not public). */
#ifndef MT_INTEROP_INTERNAL_H
#define MT_INTEROP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "analyzer/interop/interop.h"

/* ---- growable arrays ---- */
#define MT__IVEC(T) struct { T *v; size_t n, cap; }
int mt__igrow(void **v, size_t *cap, size_t need, size_t elem);
#define MT__IPUSH(vec, item) \
  (((vec).n < (vec).cap || mt__igrow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v) == 0) \
   ? ((vec).v[(vec).n++] = (item), 0) : -1)

/* qsort of a vector, skipped when there is nothing to order (qsort's
 * pointer must not be NULL, even for 0 elements) */
#define MT__ISORT(vec, cmp) do { if ((vec).n > 1) qsort((vec).v, (vec).n, sizeof *(vec).v, cmp); } while (0)

/* ---- u64 -> u64 hash map (open addressing; key 0 allowed) ---- */
typedef struct mt__imap {
  uint64_t *keys, *vals;
  unsigned char *used;
  size_t cap, n;
} mt__imap;
int mt__imap_put(mt__imap *m, uint64_t key, uint64_t val);
/* Returns 1 and sets *val when present. */
int mt__imap_get(const mt__imap *m, uint64_t key, uint64_t *val);
int mt__imap_del(mt__imap *m, uint64_t key);
void mt__imap_free(mt__imap *m);
uint64_t mt__ihash64(uint64_t x);
uint64_t mt__ihash_str(const char *s, size_t n, uint64_t seed);

/* ---- string pool: interns strings into stable indexes (>= 1) ---- */
typedef struct mt__strpool {
  char **s;
  size_t n, cap;
  mt__imap index;            /* hash -> chain head (collisions chained in next) */
  uint32_t *next;
  size_t next_cap;
} mt__strpool;
/* Returns index >= 1, or 0 on allocation failure. */
uint32_t mt__sp_intern(mt__strpool *p, const char *s, size_t len);
const char *mt__sp_get(const mt__strpool *p, uint32_t i);
void mt__sp_free(mt__strpool *p);

/* ---- input: plain or gzip, bounded ---- */
typedef struct mt__in mt__in;
mt__in *mt__in_open(const char *path, mt_error *err);
/* Reads up to n bytes; returns count, 0 at EOF, -1 on error (err set). */
long mt__in_read(mt__in *in, void *buf, size_t n, mt_error *err);
void mt__in_close(mt__in *in);
const char *mt__in_path(const mt__in *in);
/* Reads a whole file (decompressed) into a malloc'd buffer, bounded by
 * mt_interop_limits_current.max_input_bytes. */
int mt__read_all(const char *path, unsigned char **buf, size_t *len, mt_error *err);

/* Parses a decimal JSON number text as an integer count of 1/1000 units
 * (e.g. "1234.5678" µs -> 1234568 ns), exactly, without doubles.
 * Returns 0 or -1. */
int mt__dec_milli(const char *s, int64_t *out);

/* ---- process info defaults for imported traces ---- */
void mt__import_process(mt_process_info *pi, const char *in_path, const char *producer,
                        const char *run_id, int rank, int world, int64_t start_ns, int64_t wall_off);

/* API label -> enum value (MT_API_UNKNOWN when not in the table). */
int mt__api_from_name(const char *name);

/* ---- pickle (safe subset; never executes) ---- */
typedef enum {
  MT_PV_NONE, MT_PV_BOOL, MT_PV_INT, MT_PV_FLOAT, MT_PV_STR, MT_PV_BYTES,
  MT_PV_LIST, MT_PV_TUPLE, MT_PV_DICT, MT_PV_MARK
} mt_pv_type;

typedef struct mt_pv {
  mt_pv_type type;
  int64_t i;                 /* INT, BOOL */
  double f;                  /* FLOAT */
  char *s;                   /* STR, BYTES (NUL-terminated copy) */
  size_t len;                /* STR/BYTES length */
  struct mt_pv **items;      /* LIST/TUPLE: items; DICT: key,value,key,value */
  size_t n, cap;
  int depth;                 /* containers nested inside (0: none) */
} mt_pv;

typedef struct mt_pickle mt_pickle;
/* Parses `buf` (not retained).  On success returns the root value (owned
 * by *out_ctx; free with mt_pickle_free).  `name` is used in messages. */
int mt_pickle_load(const unsigned char *buf, size_t len, const char *name,
                   mt_pickle **out_ctx, mt_pv **root, mt_error *err);
void mt_pickle_free(mt_pickle *p);
/* Dict lookup by string key (NULL if absent or not a dict). */
mt_pv *mt_pv_get(const mt_pv *d, const char *key);
int64_t mt_pv_int(const mt_pv *v, int64_t dflt);
double mt_pv_num(const mt_pv *v, double dflt);
const char *mt_pv_str(const mt_pv *v, const char *dflt);

/* importers */
int mt__import_snapshot(const char *in, const char *out, const char *run_id,
                        mt_import_result *res, mt_error *err);
int mt__import_kineto(const char *in, const char *out, const char *run_id,
                      mt_import_result *res, mt_error *err);
int mt__import_memtl(const char *in, const char *out, const char *run_id,
                     mt_import_result *res, mt_error *err);
int mt__import_nsys(const char *in, const char *out, const char *run_id,
                    mt_import_result *res, mt_error *err);

/* Fuzz entry points: parse only, no output. */
int mt__fuzz_kineto_buf(const unsigned char *buf, size_t len, mt_error *err);
int mt__fuzz_memtl_buf(const unsigned char *buf, size_t len, mt_error *err);

#endif
