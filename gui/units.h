/* Parsing and formatting of the units the viewer shows: times (ns on the
 * trace clock) and sizes (bytes).  Pure functions, thread-safe. */
#ifndef MT_GUI_UNITS_H
#define MT_GUI_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include "analyzer/lib/analysis.h"

/* mt_parse_time, mt_parse_time_range: analyzer/lib/analysis.h */

/* Parses "70GiB", "80GB", "512MiB", "1.5TiB", "4096" (bytes).  Decimal
 * units are powers of 1000, binary ones of 1024.  Returns 0 or -1. */
int mt_parse_size(const char *text, uint64_t *bytes);

/* Formats a time for axes and tooltips with a unit chosen for `scale`
 * (the span the reader is looking at): "45.000 ms", "1.2 s". */
const char *mt_time_str(int64_t ns, int64_t scale, char *buf, size_t len);

/* Formats a duration compactly: "12.3 us", "4.50 ms". */
const char *mt_dur_str(int64_t ns, char *buf, size_t len);

#endif
