/* See jstream.h.  The splitter only finds value boundaries (strings,
 * escapes, bracket depth); json-c parses each value, with a depth limit. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "analyzer/interop/jstream.h"

typedef struct js {
  mt__in *in;
  const unsigned char *mem;
  size_t memlen;
  unsigned char buf[1 << 16];
  size_t pos, len;
  int eof;
  const char *name;
  mt_error *err;
  char *val;
  size_t vn, vcap;
  uint64_t off;
  json_tokener *tok;
} js;

static int fill(js *s)
{
  if (s->eof)
    return 0;
  if (s->mem) {
    if (s->len) {
      s->eof = 1;
      return 0;
    }
    s->len = s->memlen;
    s->pos = 0;
    return s->len > 0;
  }
  long r = mt__in_read(s->in, s->buf, sizeof s->buf, s->err);
  if (r < 0)
    return -1;
  if (r == 0) {
    s->eof = 1;
    return 0;
  }
  s->pos = 0;
  s->len = (size_t)r;
  return 1;
}

/* next byte, -1 at EOF, -2 on error */
static int getc_(js *s)
{
  if (s->pos >= s->len) {
    int r = fill(s);
    if (r <= 0)
      return r < 0 ? -2 : -1;
  }
  s->off++;
  return s->mem ? s->mem[s->pos++] : s->buf[s->pos++];
}

static int peekc(js *s)
{
  if (s->pos >= s->len) {
    int r = fill(s);
    if (r <= 0)
      return r < 0 ? -2 : -1;
  }
  return s->mem ? s->mem[s->pos] : s->buf[s->pos];
}

static int err_at(js *s, int code, const char *what)
{
  if (code == MT_ECORRUPT || code == MT_EINVAL)
    mt_error_set(s->err, code, "%s: JSON: %s at byte %llu", s->name, what, (unsigned long long)s->off);
  return code;
}

static int skip_ws(js *s)
{
  for (;;) {
    int c = peekc(s);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      getc_(s);
      continue;
    }
    return c;
  }
}

static int put(js *s, int c)
{
  if (s->vn + 2 > s->vcap) {
    if (s->vn + 2 > mt_interop_limits_current.max_object_bytes)
      return err_at(s, MT_EINVAL, "one value larger than the per-object limit");
    if (mt__igrow((void **)&s->val, &s->vcap, s->vn + 2, 1))
      return err_at(s, MT_ENOMEM, "out of memory");
  }
  s->val[s->vn++] = (char)c;
  return MT_OK;
}

/* Copies one JSON value's text into s->val. */
static int capture(js *s)
{
  s->vn = 0;
  int depth = 0, in_str = 0, esc = 0, rc;
  int c = skip_ws(s);
  if (c == -2)
    return s->err ? s->err->code : MT_EIO;
  if (c < 0)
    return err_at(s, MT_ECORRUPT, "truncated");
  if (c != '{' && c != '[' && c != '"') {
    /* scalar: up to a delimiter */
    for (;;) {
      c = peekc(s);
      if (c == -2)
        return s->err ? s->err->code : MT_EIO;
      if (c < 0 || c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
        break;
      if ((rc = put(s, getc_(s))))
        return rc;
    }
    if (s->vn == 0)   /* nothing before a delimiter (and no buffer yet) */
      return err_at(s, MT_ECORRUPT, "expected a value");
    s->val[s->vn] = 0;
    return MT_OK;
  }
  for (;;) {
    c = getc_(s);
    if (c == -2)
      return s->err ? s->err->code : MT_EIO;
    if (c < 0)
      return err_at(s, MT_ECORRUPT, "truncated");
    if ((rc = put(s, c)))
      return rc;
    if (in_str) {
      if (esc)
        esc = 0;
      else if (c == '\\')
        esc = 1;
      else if (c == '"') {
        in_str = 0;
        if (depth == 0)
          break;
      }
      continue;
    }
    if (c == '"')
      in_str = 1;
    else if (c == '{' || c == '[') {
      if (++depth > mt_interop_limits_current.max_depth)
        return err_at(s, MT_EINVAL, "nested too deeply");
    } else if (c == '}' || c == ']') {
      if (--depth == 0)
        break;
      if (depth < 0)
        return err_at(s, MT_ECORRUPT, "unbalanced brackets");
    }
  }
  s->val[s->vn] = 0;
  return MT_OK;
}

static int parse_and_call(js *s, const char *key, int in_array, mt__js_cb cb, void *ud)
{
  json_tokener_reset(s->tok);
  json_object *o = json_tokener_parse_ex(s->tok, s->val, (int)s->vn);
  enum json_tokener_error je = json_tokener_get_error(s->tok);
  if (!o && je == json_tokener_continue)
    o = json_tokener_parse_ex(s->tok, "", 1);  /* bare scalars need an end */
  if (!o && (s->vn != 4 || memcmp(s->val, "null", 4) != 0)) {
    je = json_tokener_get_error(s->tok);
    char m[160];
    snprintf(m, sizeof m, "%s", json_tokener_error_desc(je));
    return err_at(s, MT_ECORRUPT, m);
  }
  int rc = cb(ud, key, in_array, o);
  json_object_put(o);
  return rc;
}

static int stream_array(js *s, const char *key, mt__js_cb cb, void *ud)
{
  int rc, c = getc_(s);   /* '[' */
  (void)c;
  c = skip_ws(s);
  if (c == ']') {
    getc_(s);
    return MT_OK;
  }
  for (;;) {
    if ((rc = capture(s)) || (rc = parse_and_call(s, key, 1, cb, ud)))
      return rc;
    c = skip_ws(s);
    if (c == ',') {
      getc_(s);
      continue;
    }
    if (c == ']') {
      getc_(s);
      return MT_OK;
    }
    if (c == -2)
      return s->err ? s->err->code : MT_EIO;
    return err_at(s, MT_ECORRUPT, c < 0 ? "truncated" : "expected ',' or ']'");
  }
}

static int run(js *s, const char *array_key, mt__js_cb cb, void *ud)
{
  int rc, c = skip_ws(s);
  if (c == '[')
    return stream_array(s, "", cb, ud);
  if (c != '{')
    return c == -2 ? (s->err ? s->err->code : MT_EIO) : err_at(s, MT_ECORRUPT, "not a JSON object");
  getc_(s);
  c = skip_ws(s);
  if (c == '}')
    return MT_OK;
  for (;;) {
    if ((rc = capture(s)))
      return rc;
    if (s->val[0] != '"')
      return err_at(s, MT_ECORRUPT, "expected a member name");
    char key[256];
    size_t kl = s->vn - 2 < sizeof key - 1 ? s->vn - 2 : sizeof key - 1;
    memcpy(key, s->val + 1, kl);
    key[kl] = 0;
    c = skip_ws(s);
    if (c != ':')
      return err_at(s, MT_ECORRUPT, "expected ':'");
    getc_(s);
    c = skip_ws(s);
    if (c == '[' && strcmp(key, array_key) == 0) {
      if ((rc = stream_array(s, key, cb, ud)))
        return rc;
    } else if ((rc = capture(s)) || (rc = parse_and_call(s, key, 0, cb, ud))) {
      return rc;
    }
    c = skip_ws(s);
    if (c == ',') {
      getc_(s);
      continue;
    }
    if (c == '}')
      return MT_OK;
    if (c == -2)
      return s->err ? s->err->code : MT_EIO;
    return err_at(s, MT_ECORRUPT, c < 0 ? "truncated" : "expected ',' or '}'");
  }
}

static int go(js *s, const char *array_key, mt__js_cb cb, void *ud)
{
  s->tok = json_tokener_new_ex(mt_interop_limits_current.max_depth);
  if (!s->tok)
    return err_at(s, MT_ENOMEM, "out of memory");
  int rc = run(s, array_key, cb, ud);
  json_tokener_free(s->tok);
  free(s->val);
  return rc;
}

int mt__js_stream(const char *path, const char *array_key, mt__js_cb cb, void *ud, mt_error *err)
{
  js *s = calloc(1, sizeof *s);
  if (!s)
    return MT_ENOMEM;
  s->name = path;
  s->err = err;
  s->in = mt__in_open(path, err);
  if (!s->in) {
    free(s);
    return err ? err->code : MT_EIO;
  }
  int rc = go(s, array_key, cb, ud);
  mt__in_close(s->in);
  free(s);
  return rc;
}

int mt__js_stream_buf(const unsigned char *buf, size_t len, const char *name, const char *array_key,
                      mt__js_cb cb, void *ud, mt_error *err)
{
  js *s = calloc(1, sizeof *s);
  if (!s)
    return MT_ENOMEM;
  s->name = name;
  s->err = err;
  s->mem = buf;
  s->memlen = len;
  int rc = go(s, array_key, cb, ud);
  free(s);
  return rc;
}
