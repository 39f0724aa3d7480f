/* Renderers of an analysis for people: text (fits 100 columns), Markdown and
 * one self-contained HTML file (inline CSS and SVG, no network). */
#ifndef MT_RENDER_H
#define MT_RENDER_H
#include <stdio.h>
#include "analyzer/lib/analysis.h"

enum { MT_FMT_TEXT, MT_FMT_MD, MT_FMT_HTML, MT_FMT_JSON };

/* Writes the report in the given format.  Returns 0, or -1 when writing
 * failed (errno set). */
int mt_render(FILE *f, const mt_analysis *a, int format);

/* Relative time as "12.345678 s". */
const char *mt_fmt_secs(int64_t ns, char *buf, size_t len);
#endif
