/* Small helpers shared by the subcommands. */
#define _GNU_SOURCE
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyzer/cmds/cmds.h"
#include "schemas/trace.h"

int mt_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "memtrace %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'memtrace help %s')\n", cmd);
  return MT_EXIT_USAGE;
}

void mt_errorf(const char *fmt, ...)
{
  va_list ap;
  fputs("memtrace: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int mt_wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return 0;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return 1;
  }
  return 0;
}

const char *mt_fmt_bytes(uint64_t b, char *buf, size_t len)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double)b;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)b);
  else
    snprintf(buf, len, "%.2f %s", v, units[u]);
  return buf;
}

int mt_parse_size(const char *s, uint64_t *out)
{
  static const struct { const char *suffix; double mult; } units[] = {
    { "", 1 }, { "b", 1 },
    { "k", 1e3 }, { "kb", 1e3 }, { "m", 1e6 }, { "mb", 1e6 }, { "g", 1e9 }, { "gb", 1e9 },
    { "t", 1e12 }, { "tb", 1e12 },
    { "kib", 1024.0 }, { "mib", 1048576.0 }, { "gib", 1073741824.0 }, { "tib", 1099511627776.0 },
  };
  if (!s)
    return -1;
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s) && *s != '.')
    return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0)
    return -1;
  while (isspace((unsigned char)*end))
    end++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].suffix) == 0) {
      double r = v * units[i].mult;
      if (r >= 1.8e19)
        return -1;
      *out = (uint64_t)llround(r);
      return 0;
    }
  }
  return -1;
}

/* ---- output files ------------------------------------------------------ */

static int same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int mt_output_check(const char *cmd, const char *out, char *const *inputs, int ninputs)
{
  struct stat so, si;
  if (stat(out, &so) != 0)
    return 0;   /* nothing there yet: it cannot be an input */
  for (int i = 0; i < ninputs; i++) {
    if (stat(inputs[i], &si) != 0)
      continue;
    if (same_file(&so, &si))
      return mt_usage_error(cmd, "%s is the input %s; not overwriting it (choose another -o)", out, inputs[i]);
    if (!S_ISDIR(si.st_mode))
      continue;
    /* a run directory: none of its traces either */
    DIR *d = opendir(inputs[i]);
    struct dirent *e;
    char p[4096];
    while (d && (e = readdir(d))) {
      if (snprintf(p, sizeof p, "%s/%s", inputs[i], e->d_name) < (int)sizeof p && stat(p, &si) == 0 &&
          same_file(&so, &si)) {
        closedir(d);
        mt_usage_error(cmd, "%s is the input trace %s; not overwriting it (choose another -o)", out, p);
        return MT_EXIT_USAGE;
      }
    }
    if (d)
      closedir(d);
  }
  return 0;
}

char *mt_output_temp(const char *out)
{
  static unsigned seq;
  const char *slash = strrchr(out, '/');
  int dirlen = slash ? (int)(slash - out + 1) : 0;
  char *tmp = NULL;
  /* hidden, beside out (same file system: rename is atomic) */
  if (asprintf(&tmp, "%.*s.%s.%ld-%u.part", dirlen, out, slash ? slash + 1 : out, (long)getpid(), seq++) < 0)
    return NULL;
  return tmp;
}

FILE *mt_output_fopen(const char *out, char **tmp)
{
  char *base = mt_output_temp(out), *t = NULL;
  *tmp = NULL;
  if (!base || asprintf(&t, "%sXXXXXX", base) < 0) {
    free(base);
    mt_errorf("%s: out of memory", out);
    return NULL;
  }
  free(base);
  int fd = mkstemp(t);
  if (fd < 0) {
    mt_errorf("%s: cannot write: %s", out, strerror(errno));
    free(t);
    return NULL;
  }
  /* mkstemp makes 0600; an output is an ordinary file: 0666 less the umask */
  mode_t um = umask(0);
  umask(um);
  fchmod(fd, 0666 & ~um);
  FILE *f = fdopen(fd, "w");
  if (!f) {
    mt_errorf("%s: cannot write: %s", out, strerror(errno));
    close(fd);
    unlink(t);
    free(t);
    return NULL;
  }
  *tmp = t;
  return f;
}

static void discard(const char *tmp)
{
  struct stat sb;
  if (lstat(tmp, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(tmp);
    struct dirent *e;
    char p[4096];
    while (d && (e = readdir(d)))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
          snprintf(p, sizeof p, "%s/%s", tmp, e->d_name) < (int)sizeof p)
        unlink(p);
    if (d)
      closedir(d);
    rmdir(tmp);
  } else {
    unlink(tmp);
  }
}

int mt_output_commit(char *tmp, const char *out, int ok)
{
  int rc = 0;
  if (ok && mt_trace_damage_seen(NULL, 0)) {
    mt_errorf("%s: not written: a damaged trace was met while writing it", out);
    ok = 0;
  }
  if (ok && rename(tmp, out) != 0) {
    mt_errorf("%s: cannot rename into place: %s", out, strerror(errno));
    ok = 0;
  }
  if (!ok) {
    discard(tmp);
    rc = -1;
  }
  free(tmp);
  return rc;
}
