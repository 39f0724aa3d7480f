#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gui/units.h"

static const char *skip_space(const char *s)
{
  while (*s && isspace((unsigned char)*s))
    s++;
  return s;
}

int mt_parse_size(const char *text, uint64_t *bytes)
{
  if (!text || !*text)
    return -1;
  char *end;
  double v = strtod(text, &end);
  if (end == text || v < 0)
    return -1;
  const char *u = skip_space(end);
  static const struct { const char *u; double m; } units[] = {
    { "", 1 }, { "B", 1 },
    { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
    { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
    { "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 }, { "T", 1099511627776.0 },
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcasecmp(u, units[i].u)) {
      *bytes = (uint64_t)(v * units[i].m + 0.5);
      return 0;
    }
  return -1;
}

const char *mt_time_str(int64_t ns, int64_t scale, char *buf, size_t len)
{
  int64_t a = scale < 0 ? -scale : scale;
  if (a >= 10000000000LL)
    snprintf(buf, len, "%.2f s", ns / 1e9);
  else if (a >= 10000000LL)
    snprintf(buf, len, "%.1f ms", ns / 1e6);
  else if (a >= 100000LL)
    snprintf(buf, len, "%.3f ms", ns / 1e6);
  else if (a >= 1000LL)
    snprintf(buf, len, "%.2f us", ns / 1e3);
  else
    snprintf(buf, len, "%lld ns", (long long)ns);
  return buf;
}

const char *mt_dur_str(int64_t ns, char *buf, size_t len)
{
  int64_t a = ns < 0 ? -ns : ns;
  if (a >= 1000000000LL)
    snprintf(buf, len, "%.3g s", ns / 1e9);
  else if (a >= 1000000LL)
    snprintf(buf, len, "%.3g ms", ns / 1e6);
  else if (a >= 1000LL)
    snprintf(buf, len, "%.3g us", ns / 1e3);
  else
    snprintf(buf, len, "%lld ns", (long long)ns);
  return buf;
}
