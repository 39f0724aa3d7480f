/* Import dispatch: format names, detection from content, one file -> one
 * trace. */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include "analyzer/interop/interop_internal.h"

static const char *const names[] = { "auto", "snapshot", "kineto", "memory-timeline", "nsys" };

int mt_import_format_parse(const char *name, mt_import_format *out)
{
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (mt_import_format)i;
      return 0;
    }
  *out = MT_FMT_AUTO;
  return -1;
}

const char *mt_import_format_name(mt_import_format f)
{
  return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "?";
}

int mt_import_detect(const char *path, mt_import_format *out, mt_error *err)
{
  unsigned char b[4096];
  mt__in *in = mt__in_open(path, err);
  if (!in)
    return err ? err->code : MT_EIO;
  long n = mt__in_read(in, b, sizeof b - 1, err);
  mt__in_close(in);
  if (n < 0)
    return err ? err->code : MT_EIO;
  b[n] = 0;
  if (n >= 16 && memcmp(b, "SQLite format 3", 16) == 0) {
    *out = MT_FMT_NSYS;
    return MT_OK;
  }
  /* pickle: PROTO 2-5, or protocol 0/1 opening opcodes that no JSON or
   * SQLite file starts with (MARK, GLOBAL, EMPTY_LIST, EMPTY_DICT) */
  if ((n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) ||
      (n >= 1 && (b[0] == '(' || b[0] == 'c' || b[0] == ']' || b[0] == '}'))) {
    *out = MT_FMT_SNAPSHOT;
    return MT_OK;
  }
  long i = 0;
  while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
    i++;
  if (i < n && b[i] == '{') {
    *out = MT_FMT_KINETO;
    return MT_OK;
  }
  if (i < n && b[i] == '[') {
    /* memory timeline raw: [[t, action, bytes, category], ...]; Kineto
     * also allows a bare array of events ([{...}]). */
    i++;
    while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
      i++;
    *out = (i < n && b[i] == '{') ? MT_FMT_KINETO : MT_FMT_MEMTL;
    return MT_OK;
  }
  mt_error_set(err, MT_EINVAL,
               "%s: unrecognised format (not a PyTorch snapshot pickle, Kineto JSON, memory timeline or nsys SQLite)",
               path);
  return MT_EINVAL;
}

int mt_import_file(const char *in_path, mt_import_format fmt, const char *out_path, const char *run_id,
                   mt_import_result *res, mt_error *err)
{
  int rc;
  mt_import_result dummy;
  if (!res)
    res = &dummy;
  res->rank = -1;
  res->world_size = 0;
  res->events = 0;
  if (access(in_path, R_OK) != 0) {
    mt_error_set(err, MT_EIO, "%s: cannot read", in_path);
    return MT_EIO;
  }
  if (fmt == MT_FMT_AUTO && (rc = mt_import_detect(in_path, &fmt, err)))
    return rc;
  switch (fmt) {
  case MT_FMT_SNAPSHOT: rc = mt__import_snapshot(in_path, out_path, run_id, res, err); break;
  case MT_FMT_KINETO: rc = mt__import_kineto(in_path, out_path, run_id, res, err); break;
  case MT_FMT_MEMTL: rc = mt__import_memtl(in_path, out_path, run_id, res, err); break;
  case MT_FMT_NSYS: rc = mt__import_nsys(in_path, out_path, run_id, res, err); break;
  default:
    mt_error_set(err, MT_EINVAL, "%s: no importer for this format", in_path);
    return MT_EINVAL;
  }
  if (rc) {
    /* never leave a half-written trace behind */
    char side[4096];
    unlink(out_path);
    snprintf(side, sizeof side, "%s-wal", out_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", out_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", out_path);
    unlink(side);
  }
  return rc;
}
