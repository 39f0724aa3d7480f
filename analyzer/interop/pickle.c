/* A reader for the plain-data subset of Python's pickle format (protocols
 * 2-5), as written by torch.cuda.memory._dump_snapshot.  It NEVER executes
 * anything: opcodes that import or call (GLOBAL, STACK_GLOBAL, REDUCE, INST,
 * OBJ, NEWOBJ, NEWOBJ_EX, BUILD, PERSID, BINPERSID, EXT1/2/4, buffers) and
 * any opcode it does not know are refused with a one-line error.  The
 * machine is iterative (no recursion), every length is checked against the
 * bytes left, and the working memory is bounded.  docs/BY-HAND.md says why
 * this is not a library. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/interop_internal.h"

struct mt_pickle {
  mt_pv **all;               /* every value, for freeing */
  size_t nall, capall;
  uint64_t bytes;            /* working memory accounted */
  uint64_t limit;
};

static mt_pv mark_sentinel = { .type = MT_PV_MARK };

typedef struct {
  const unsigned char *p, *end, *start;
  const char *name;
  mt_pickle *ctx;
  mt_pv **stack;
  size_t sn, scap;
  mt_pv **memo;
  size_t mcap;
  size_t memo_n;             /* MEMOIZE index */
  mt_error *err;
} rd;

static int fail(rd *r, int code, const char *what)
{
  mt_error_set(r->err, code, "%s: pickle: %s at offset %ld", r->name, what, (long)(r->p - r->start));
  return code;
}

static int account(rd *r, uint64_t n)
{
  r->ctx->bytes += n;
  if (r->ctx->bytes > r->ctx->limit)
    return fail(r, MT_EINVAL, "working memory limit exceeded");
  return MT_OK;
}

/* What a value costs, as the allocator sees it: the value, malloc's own
 * header, and its slot in `all` (grown by doubling: up to two). */
#define PV_COST (sizeof(mt_pv) + 16 + 2 * sizeof(mt_pv *))

static mt_pv *new_pv(rd *r, mt_pv_type t)
{
  if (account(r, PV_COST))
    return NULL;
  mt_pv *v = calloc(1, sizeof *v);
  if (!v || mt__igrow((void **)&r->ctx->all, &r->ctx->capall, r->ctx->nall + 1, sizeof(mt_pv *))) {
    free(v);
    fail(r, MT_ENOMEM, "out of memory");
    return NULL;
  }
  r->ctx->all[r->ctx->nall++] = v;
  v->type = t;
  return v;
}

/* Nesting, bounded (mt_interop_limits.max_depth) so that a hostile file is
 * refused before it costs memory: through the stack (containers opened and
 * not closed: pickle batches at most 1000 items (2000 for a dict) between a
 * MARK and its APPENDS/SETITEMS, so a legitimate stack holds at most about
 * 2000 entries per level), and through values (add_item: a container
 * wrapped in another, which the memo allows at a constant stack depth). */
static size_t max_stack(void)
{
  return (size_t)(mt_interop_limits_current.max_depth + 1) * 4096;
}

static int push(rd *r, mt_pv *v)
{
  if (!v)
    return r->err ? r->err->code : MT_ENOMEM;
  if (r->sn >= max_stack()) {
    char msg[120];
    snprintf(msg, sizeof msg, "nested too deeply (stack of %zu entries; at most %d levels are read)", r->sn,
             mt_interop_limits_current.max_depth);
    return fail(r, MT_EINVAL, msg);
  }
  if (mt__igrow((void **)&r->stack, &r->scap, r->sn + 1, sizeof *r->stack))
    return fail(r, MT_ENOMEM, "out of memory");
  r->stack[r->sn++] = v;
  return MT_OK;
}

static mt_pv *pop(rd *r)
{
  if (r->sn == 0 || r->stack[r->sn - 1] == &mark_sentinel) {
    fail(r, MT_ECORRUPT, "stack underflow");
    return NULL;
  }
  return r->stack[--r->sn];
}

static int add_item(rd *r, mt_pv *c, mt_pv *it)
{
  /* the items array grows by doubling: up to two slots per item, and a
     header for the first */
  if (account(r, 2 * sizeof(mt_pv *) + (c->n ? 0 : 16)))
    return r->err->code;
  if (it->depth + 1 > c->depth) {
    c->depth = it->depth + 1;
    if (c->depth > mt_interop_limits_current.max_depth) {
      char msg[96];
      snprintf(msg, sizeof msg, "nested deeper than %d levels", mt_interop_limits_current.max_depth);
      return fail(r, MT_EINVAL, msg);
    }
  }
  if (mt__igrow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items))
    return fail(r, MT_ENOMEM, "out of memory");
  c->items[c->n++] = it;
  return MT_OK;
}

/* Index of the topmost MARK, or -1. */
static long find_mark(rd *r)
{
  for (size_t i = r->sn; i > 0; i--)
    if (r->stack[i - 1] == &mark_sentinel)
      return (long)(i - 1);
  return -1;
}

static int need(rd *r, uint64_t n)
{
  if ((uint64_t)(r->end - r->p) < n)
    return fail(r, MT_ECORRUPT, n > (1ull << 31) ? "length field larger than the file (truncated or hostile)"
                                                 : "truncated");
  return MT_OK;
}

static uint64_t le(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static int memo_put(rd *r, uint64_t idx, mt_pv *v)
{
  uint64_t lim = (uint64_t)(r->end - r->start) + 16;
  if (idx > lim || idx > (1u << 26))
    return fail(r, MT_ECORRUPT, "memo index out of range");
  size_t old = r->mcap;
  if (mt__igrow((void **)&r->memo, &r->mcap, (size_t)idx + 1, sizeof *r->memo))
    return fail(r, MT_ENOMEM, "out of memory");
  if (r->mcap > old)   /* mt__igrow does not zero new slots */
    memset(r->memo + old, 0, (r->mcap - old) * sizeof *r->memo);
  r->memo[idx] = v;
  return MT_OK;
}

static int str_op(rd *r, uint64_t n, mt_pv_type t)
{
  int rc = need(r, n);
  if (rc)
    return rc;
  if ((rc = account(r, n + 1)))
    return rc;
  mt_pv *v = new_pv(r, t);
  if (!v)
    return r->err->code;
  v->s = malloc(n + 1);
  if (!v->s)
    return fail(r, MT_ENOMEM, "out of memory");
  memcpy(v->s, r->p, n);
  v->s[n] = 0;
  v->len = n;
  r->p += n;
  return push(r, v);
}

static const char *refused_name(int op)
{
  switch (op) {
  case 'c': return "GLOBAL";
  case 0x93: return "STACK_GLOBAL";
  case 'R': return "REDUCE";
  case 'i': return "INST";
  case 'o': return "OBJ";
  case 0x81: return "NEWOBJ";
  case 0x92: return "NEWOBJ_EX";
  case 'b': return "BUILD";
  case 'P': return "PERSID";
  case 'Q': return "BINPERSID";
  case 0x82: return "EXT1";
  case 0x83: return "EXT2";
  case 0x84: return "EXT4";
  case 0x97: return "NEXT_BUFFER";
  case 0x98: return "READONLY_BUFFER";
  default: return NULL;
  }
}

static int run(rd *r, mt_pv **root)
{
  int rc;
  mt_pv *v, *c;
  long m;
  while (r->p < r->end) {
    int op = *r->p++;
    switch (op) {
    case 0x80: /* PROTO */
      if ((rc = need(r, 1)))
        return rc;
      if (*r->p > 5)
        return fail(r, MT_EINVAL, "unsupported pickle protocol");
      r->p++;
      break;
    case 0x95: /* FRAME: a hint only */
      if ((rc = need(r, 8)))
        return rc;
      r->p += 8;
      break;
    case '.': /* STOP */
      if (r->sn != 1 || r->stack[0] == &mark_sentinel)
        return fail(r, MT_ECORRUPT, "STOP with a malformed stack");
      *root = r->stack[0];
      return MT_OK;
    case '(': /* MARK */
      if ((rc = push(r, &mark_sentinel)))
        return rc;
      break;
    case '0': /* POP */
      if (r->sn == 0)
        return fail(r, MT_ECORRUPT, "stack underflow");
      r->sn--;
      break;
    case '1': /* POP_MARK */
      if ((m = find_mark(r)) < 0)
        return fail(r, MT_ECORRUPT, "no MARK");
      r->sn = (size_t)m;
      break;
    case '2': /* DUP */
      if (r->sn == 0 || r->stack[r->sn - 1] == &mark_sentinel)
        return fail(r, MT_ECORRUPT, "stack underflow");
      if ((rc = push(r, r->stack[r->sn - 1])))
        return rc;
      break;
    case 'N':
      if ((rc = push(r, new_pv(r, MT_PV_NONE))))
        return rc;
      break;
    case 0x88: case 0x89: /* NEWTRUE NEWFALSE */
      if (!(v = new_pv(r, MT_PV_BOOL)))
        return r->err->code;
      v->i = op == 0x88;
      if ((rc = push(r, v)))
        return rc;
      break;
    case 'J': case 'K': case 'M': { /* BININT BININT1 BININT2 */
      int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
      if ((rc = need(r, (uint64_t)n)))
        return rc;
      if (!(v = new_pv(r, MT_PV_INT)))
        return r->err->code;
      uint64_t u = le(r->p, n);
      v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
      r->p += n;
      if ((rc = push(r, v)))
        return rc;
      break;
    }
    case 0x8a: case 0x8b: { /* LONG1 LONG4 */
      uint64_t n;
      if (op == 0x8a) {
        if ((rc = need(r, 1)))
          return rc;
        n = *r->p++;
      } else {
        if ((rc = need(r, 4)))
          return rc;
        n = le(r->p, 4);
        r->p += 4;
      }
      if ((rc = need(r, n)))
        return rc;
      if (n > 8)
        return fail(r, MT_EINVAL, "integer wider than 64 bits");
      if (!(v = new_pv(r, MT_PV_INT)))
        return r->err->code;
      uint64_t u = n ? le(r->p, (int)n) : 0;
      if (n && n < 8 && (r->p[n - 1] & 0x80))
        u |= ~0ull << (8 * n);   /* sign-extend */
      v->i = (int64_t)u;
      r->p += n;
      if ((rc = push(r, v)))
        return rc;
      break;
    }
    case 'G': { /* BINFLOAT, big-endian */
      if ((rc = need(r, 8)))
        return rc;
      uint64_t u = 0;
      for (int i = 0; i < 8; i++)
        u = (u << 8) | r->p[i];
      r->p += 8;
      if (!(v = new_pv(r, MT_PV_FLOAT)))
        return r->err->code;
      memcpy(&v->f, &u, 8);
      if ((rc = push(r, v)))
        return rc;
      break;
    }
    case 0x8c: case 'U': case 'C': /* SHORT_BINUNICODE SHORT_BINSTRING SHORT_BINBYTES */
      if ((rc = need(r, 1)))
        return rc;
      { uint64_t n = *r->p++;
        if ((rc = str_op(r, n, op == 'C' ? MT_PV_BYTES : MT_PV_STR)))
          return rc; }
      break;
    case 'X': case 'T': case 'B': /* BINUNICODE BINSTRING BINBYTES */
      if ((rc = need(r, 4)))
        return rc;
      { uint64_t n = le(r->p, 4);
        r->p += 4;
        if ((rc = str_op(r, n, op == 'B' ? MT_PV_BYTES : MT_PV_STR)))
          return rc; }
      break;
    case 0x8d: case 0x8e: /* BINUNICODE8 BINBYTES8 */
      if ((rc = need(r, 8)))
        return rc;
      { uint64_t n = le(r->p, 8);
        r->p += 8;
        if ((rc = str_op(r, n, op == 0x8e ? MT_PV_BYTES : MT_PV_STR)))
          return rc; }
      break;
    case ']': case ')': case '}': case 0x8f: /* EMPTY_LIST EMPTY_TUPLE EMPTY_DICT EMPTY_SET */
      if ((rc = push(r, new_pv(r, op == ')' ? MT_PV_TUPLE : op == '}' ? MT_PV_DICT : MT_PV_LIST))))
        return rc;
      break;
    case 'a': /* APPEND */
      if (!(v = pop(r)))
        return r->err->code;
      if (r->sn == 0 || r->stack[r->sn - 1]->type != MT_PV_LIST)
        return fail(r, MT_ECORRUPT, "APPEND to a non-list");
      if ((rc = add_item(r, r->stack[r->sn - 1], v)))
        return rc;
      break;
    case 'e': case 0x90: /* APPENDS ADDITEMS */
    case 'u': /* SETITEMS */
      if ((m = find_mark(r)) < 1)
        return fail(r, MT_ECORRUPT, "no MARK");
      c = r->stack[m - 1];
      if (op == 'u' ? c->type != MT_PV_DICT : c->type != MT_PV_LIST)
        return fail(r, MT_ECORRUPT, op == 'u' ? "SETITEMS on a non-dict" : "APPENDS on a non-list");
      if (op == 'u' && ((r->sn - (size_t)m - 1) & 1))
        return fail(r, MT_ECORRUPT, "SETITEMS with an odd item count");
      for (size_t i = (size_t)m + 1; i < r->sn; i++)
        if ((rc = add_item(r, c, r->stack[i])))
          return rc;
      r->sn = (size_t)m;
      break;
    case 's': { /* SETITEM */
      mt_pv *val = pop(r), *key = val ? pop(r) : NULL;
      if (!key)
        return r->err->code;
      if (r->sn == 0 || r->stack[r->sn - 1]->type != MT_PV_DICT)
        return fail(r, MT_ECORRUPT, "SETITEM on a non-dict");
      if ((rc = add_item(r, r->stack[r->sn - 1], key)) || (rc = add_item(r, r->stack[r->sn - 1], val)))
        return rc;
      break;
    }
    case 'l': case 't': case 'd': case 0x91: /* LIST TUPLE DICT FROZENSET */
      if ((m = find_mark(r)) < 0)
        return fail(r, MT_ECORRUPT, "no MARK");
      if (op == 'd' && ((r->sn - (size_t)m - 1) & 1))
        return fail(r, MT_ECORRUPT, "DICT with an odd item count");
      if (!(c = new_pv(r, op == 't' ? MT_PV_TUPLE : op == 'd' ? MT_PV_DICT : MT_PV_LIST)))
        return r->err->code;
      for (size_t i = (size_t)m + 1; i < r->sn; i++)
        if ((rc = add_item(r, c, r->stack[i])))
          return rc;
      r->sn = (size_t)m;
      if ((rc = push(r, c)))
        return rc;
      break;
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
      size_t n = (size_t)(op - 0x84);
      if (r->sn < n)
        return fail(r, MT_ECORRUPT, "stack underflow");
      for (size_t i = r->sn - n; i < r->sn; i++)
        if (r->stack[i] == &mark_sentinel)
          return fail(r, MT_ECORRUPT, "MARK inside TUPLE");
      if (!(c = new_pv(r, MT_PV_TUPLE)))
        return r->err->code;
      for (size_t i = r->sn - n; i < r->sn; i++)
        if ((rc = add_item(r, c, r->stack[i])))
          return rc;
      r->sn -= n;
      if ((rc = push(r, c)))
        return rc;
      break;
    }
    case 'q': case 'r': case 0x94: { /* BINPUT LONG_BINPUT MEMOIZE */
      uint64_t idx;
      if (op == 0x94) {
        idx = r->memo_n++;
      } else {
        int n = op == 'q' ? 1 : 4;
        if ((rc = need(r, (uint64_t)n)))
          return rc;
        idx = le(r->p, n);
        r->p += n;
      }
      if (r->sn == 0 || r->stack[r->sn - 1] == &mark_sentinel)
        return fail(r, MT_ECORRUPT, "memoizing nothing");
      if ((rc = memo_put(r, idx, r->stack[r->sn - 1])))
        return rc;
      break;
    }
    case 'h': case 'j': { /* BINGET LONG_BINGET */
      int n = op == 'h' ? 1 : 4;
      if ((rc = need(r, (uint64_t)n)))
        return rc;
      uint64_t idx = le(r->p, n);
      r->p += n;
      if (idx >= r->mcap || !r->memo[idx])
        return fail(r, MT_ECORRUPT, "memo reference to nothing");
      if ((rc = push(r, r->memo[idx])))
        return rc;
      break;
    }
    default: {
      const char *nm = refused_name(op);
      char msg[160];
      r->p--;
      if (nm)
        snprintf(msg, sizeof msg, "opcode %s (0x%02x) would import or call code; refusing (only plain data is read)",
                 nm, op);
      else
        snprintf(msg, sizeof msg, "unknown or unsupported opcode 0x%02x", op);
      return fail(r, MT_EINVAL, msg);
    }
    }
  }
  return fail(r, MT_ECORRUPT, "truncated (no STOP)");
}

int mt_pickle_load(const unsigned char *buf, size_t len, const char *name, mt_pickle **out_ctx, mt_pv **root,
                   mt_error *err)
{
  *out_ctx = NULL;
  *root = NULL;
  mt_pickle *ctx = calloc(1, sizeof *ctx);
  if (!ctx) {
    mt_error_set(err, MT_ENOMEM, "%s: out of memory", name);
    return MT_ENOMEM;
  }
  /* working memory (accounted as the allocator sees it: PV_COST) at most
     32x the file plus 16 MiB: PyTorch snapshots need 4-8x (measured:
     docs/INTEROP.md) */
  uint64_t lim = (uint64_t)len * 32 + (16u << 20);
  ctx->limit = lim < mt_interop_limits_current.max_object_bytes * 4 ? lim
                                                                    : mt_interop_limits_current.max_object_bytes * 4;
  mt_error dummy;
  rd r = { .p = buf, .start = buf, .end = buf + len, .name = name, .ctx = ctx, .err = err ? err : &dummy };
  int rc = run(&r, root);
  free(r.stack);
  free(r.memo);
  if (rc) {
    mt_pickle_free(ctx);
    *root = NULL;
    return rc;
  }
  *out_ctx = ctx;
  return MT_OK;
}

void mt_pickle_free(mt_pickle *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->nall; i++) {
    free(p->all[i]->s);
    free(p->all[i]->items);
    free(p->all[i]);
  }
  free(p->all);
  free(p);
}

mt_pv *mt_pv_get(const mt_pv *d, const char *key)
{
  if (!d || d->type != MT_PV_DICT)
    return NULL;
  for (size_t i = 0; i + 1 < d->n; i += 2)
    if (d->items[i]->type == MT_PV_STR && strcmp(d->items[i]->s, key) == 0)
      return d->items[i + 1];
  return NULL;
}

int64_t mt_pv_int(const mt_pv *v, int64_t dflt)
{
  if (!v)
    return dflt;
  if (v->type == MT_PV_INT || v->type == MT_PV_BOOL)
    return v->i;
  if (v->type == MT_PV_FLOAT && v->f > -9.2e18 && v->f < 9.2e18)
    return (int64_t)v->f;
  return dflt;
}

double mt_pv_num(const mt_pv *v, double dflt)
{
  if (!v)
    return dflt;
  if (v->type == MT_PV_FLOAT)
    return v->f;
  if (v->type == MT_PV_INT || v->type == MT_PV_BOOL)
    return (double)v->i;
  return dflt;
}

const char *mt_pv_str(const mt_pv *v, const char *dflt)
{
  return v && v->type == MT_PV_STR ? v->s : dflt;
}
