/* Small helpers shared by the subcommands. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "analyzer/cmds/cmds.h"

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
