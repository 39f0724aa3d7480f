/* memtrace report renderers: text, Markdown, HTML, over one table helper. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "analyzer/cmds/render.h"
#include "schemas/enums.h"

#define WIDTH 100
#define MAXCOL 10

/* ---- tables ------------------------------------------------------------ */

typedef struct tbl {
  int ncol;
  const char *hdr[MAXCOL];
  char align[MAXCOL + 1];   /* 'l' or 'r' per column */
  char **cells;
  size_t nrows, cap;
} tbl;

static void tbl_init(tbl *t, const char *align, ...)
{
  memset(t, 0, sizeof *t);
  t->ncol = (int)strlen(align);
  snprintf(t->align, sizeof t->align, "%s", align);
  va_list ap;
  va_start(ap, align);
  for (int i = 0; i < t->ncol; i++)
    t->hdr[i] = va_arg(ap, const char *);
  va_end(ap);
}

/* Adds a row: ncol strings (copied). */
static void tbl_row(tbl *t, ...)
{
  if (t->nrows == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 16;
    char **n = realloc(t->cells, nc * (size_t)t->ncol * sizeof *n);
    if (!n)
      return;
    t->cells = n;
    t->cap = nc;
  }
  va_list ap;
  va_start(ap, t);
  for (int i = 0; i < t->ncol; i++) {
    const char *s = va_arg(ap, const char *);
    /* a trace's strings (labels, names): never a terminal's controls */
    t->cells[t->nrows * (size_t)t->ncol + (size_t)i] = mt_text_escape_dup(s ? s : "");
  }
  va_end(ap);
  t->nrows++;
}

static void html_esc(FILE *f, const char *s)
{
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void md_esc(FILE *f, const char *s)
{
  for (; *s; s++) {
    if (*s == '|' || *s == '*' || *s == '_' || *s == '`' || *s == '<')   /* '<': C++ templates are not HTML */
      fputc('\\', f);
    fputc(*s, f);
  }
}

static void tbl_print(FILE *f, tbl *t, int fmt, int indent)
{
  if (fmt == MT_FMT_HTML) {
    fputs("<table>\n<tr>", f);
    for (int c = 0; c < t->ncol; c++) {
      fputs(t->align[c] == 'r' ? "<th class=r>" : "<th>", f);
      html_esc(f, t->hdr[c]);
      fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t r = 0; r < t->nrows; r++) {
      fputs("<tr>", f);
      for (int c = 0; c < t->ncol; c++) {
        fputs(t->align[c] == 'r' ? "<td class=r>" : "<td>", f);
        html_esc(f, t->cells[r * (size_t)t->ncol + (size_t)c]);
        fputs("</td>", f);
      }
      fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
  } else if (fmt == MT_FMT_MD) {
    fputc('|', f);
    for (int c = 0; c < t->ncol; c++) {
      fputc(' ', f);
      md_esc(f, t->hdr[c]);
      fputs(" |", f);
    }
    fputs("\n|", f);
    for (int c = 0; c < t->ncol; c++)
      fputs(t->align[c] == 'r' ? "---:|" : "---|", f);
    fputc('\n', f);
    for (size_t r = 0; r < t->nrows; r++) {
      fputc('|', f);
      for (int c = 0; c < t->ncol; c++) {
        fputc(' ', f);
        md_esc(f, t->cells[r * (size_t)t->ncol + (size_t)c]);
        fputs(" |", f);
      }
      fputc('\n', f);
    }
    fputc('\n', f);
  } else {
    size_t w[MAXCOL];
    size_t total = (size_t)indent;
    for (int c = 0; c < t->ncol; c++) {
      w[c] = strlen(t->hdr[c]);
      for (size_t r = 0; r < t->nrows; r++) {
        size_t l = strlen(t->cells[r * (size_t)t->ncol + (size_t)c]);
        if (l > w[c])
          w[c] = l;
      }
      total += w[c] + (c ? 2 : 0);
    }
    /* too wide: shrink the widest left-aligned column, ending cells in "..." */
    while (total > WIDTH) {
      int widest = -1;
      for (int c = 0; c < t->ncol; c++)
        if (t->align[c] == 'l' && (widest < 0 || w[c] > w[widest]))
          widest = c;
      if (widest < 0 || w[widest] <= 8)
        break;
      size_t cut = total - WIDTH;
      if (cut > w[widest] - 8)
        cut = w[widest] - 8;
      w[widest] -= cut;
      total -= cut;
    }
    for (int r = -1; r < (int)t->nrows; r++) {
      fprintf(f, "%*s", indent, "");
      for (int c = 0; c < t->ncol; c++) {
        const char *s = r < 0 ? t->hdr[c] : t->cells[(size_t)r * (size_t)t->ncol + (size_t)c];
        size_t l = strlen(s);
        char buf[256];
        if (l > w[c]) {
          snprintf(buf, sizeof buf, "%.*s...", (int)(w[c] > 3 ? w[c] - 3 : 0), s);
          s = buf;
        }
        const char *sep = c ? "  " : "";
        if (t->align[c] == 'r')
          fprintf(f, "%s%*s", sep, (int)w[c], s);
        else if (c == t->ncol - 1)
          fprintf(f, "%s%s", sep, s);
        else
          fprintf(f, "%s%-*s", sep, (int)w[c], s);
      }
      fputc('\n', f);
    }
  }
  for (size_t i = 0; i < t->nrows * (size_t)t->ncol; i++)
    free(t->cells[i]);
  free(t->cells);
  t->cells = NULL;
  t->nrows = t->cap = 0;
}

/* ---- formatting --------------------------------------------------------- */

const char *mt_fmt_secs(int64_t ns, char *buf, size_t len)
{
  snprintf(buf, len, "%s%lld.%06lld s", ns < 0 ? "-" : "", (long long)(llabs(ns) / 1000000000LL),
           (long long)((llabs(ns) % 1000000000LL) / 1000));
  return buf;
}

static const char *dur(int64_t ns, char *buf, size_t len)
{
  if (ns < 0)
    snprintf(buf, len, "-");
  else if (ns >= 1000000000LL)
    snprintf(buf, len, "%.2f s", (double)ns / 1e9);
  else if (ns >= 1000000)
    snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
  else if (ns >= 1000)
    snprintf(buf, len, "%.1f us", (double)ns / 1e3);
  else
    snprintf(buf, len, "%lld ns", (long long)ns);
  return buf;
}

static const char *pct(uint64_t a, uint64_t b, char *buf, size_t len)
{
  if (!b)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%.1f%%", 100.0 * (double)a / (double)b);
  return buf;
}

static const char *num(uint64_t v, char *buf, size_t len)
{
  snprintf(buf, len, "%llu", (unsigned long long)v);
  return buf;
}

static const char *inum(int v, char *buf, size_t len)
{
  if (v < 0)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%d", v);
  return buf;
}

/* The largest free block of a snapshot, or "unknown (why)" when the trace
 * cannot tell (mt_largest_free_unknown); len >= 128 holds every reason. */
static const char *largest_free(const mt_rank *r, const mt_snapshot *s, char *buf, size_t len)
{
  const char *why = mt_largest_free_unknown(r, s);
  if (!why)
    return mt_size_str(s->largest_free_block, buf, len);
  snprintf(buf, len, "unknown (%s)", why);
  return buf;
}

/* ---- sections ----------------------------------------------------------- */

typedef struct out {
  FILE *f;
  int fmt;
} out;

static void heading(out *o, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void heading(out *o, int level, const char *fmt, ...)
{
  char raw[512], buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  mt_text_escape(buf, sizeof buf, raw);
  if (o->fmt == MT_FMT_HTML) {
    fprintf(o->f, "<h%d>", level);
    html_esc(o->f, buf);
    fprintf(o->f, "</h%d>\n", level);
  } else if (o->fmt == MT_FMT_MD) {
    fprintf(o->f, "%.*s %s\n\n", level, "####", buf);
  } else {
    fprintf(o->f, "%s%s\n", level <= 2 ? "" : "  ", buf);
  }
}

static void para(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void para(out *o, const char *fmt, ...)
{
  char raw[1024], buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  mt_text_escape(buf, sizeof buf, raw);
  if (o->fmt == MT_FMT_HTML) {
    fputs("<p>", o->f);
    html_esc(o->f, buf);
    fputs("</p>\n", o->f);
  } else if (o->fmt == MT_FMT_MD) {
    md_esc(o->f, buf);
    fputs("\n\n", o->f);
  } else {
    /* wrap at WIDTH with a 2-space indent */
    const char *p = buf;
    while (*p) {
      size_t n = strlen(p);
      if (n > WIDTH - 2) {
        n = WIDTH - 2;
        while (n > 20 && p[n] != ' ')
          n--;
      }
      fprintf(o->f, "  %.*s\n", (int)n, p);
      p += n;
      while (*p == ' ')
        p++;
    }
  }
}

static void gap(out *o)
{
  if (o->fmt == MT_FMT_TEXT)
    fputc('\n', o->f);
}

static void section_peak(out *o, const mt_analysis *a, const mt_rank *r)
{
  char b1[64], b2[64], b3[64], b4[64];
  const mt_snapshot *p = &r->peak;
  tbl t;
  tbl_init(&t, "lrrl", "category", "bytes", "share", "rule that decided most of it");
  for (int c = 0; c < MT_CAT_COUNT; c++) {
    if (c == MT_CAT_CACHE_FREE)
      continue;
    /* the rule with most bytes in this category, from the kept objects */
    uint64_t best = 0;
    const char *rule = "";
    uint64_t by[MT_RULE_COUNT] = { 0 };
    for (size_t i = 0; i < p->nobjects; i++)
      if (p->objects[i].category == c)
        by[p->objects[i].rule] += p->objects[i].size;
    for (int k = 0; k < MT_RULE_COUNT; k++)
      if (by[k] > best) {
        best = by[k];
        rule = mt_rule_name(k);
      }
    if (!p->by_category[c])
      continue;
    tbl_row(&t, mt_category_name(c), mt_size_str(p->by_category[c], b1, sizeof b1),
            pct(p->by_category[c], p->allocated, b2, sizeof b2), rule);
  }
  tbl_row(&t, "= allocated", mt_size_str(p->allocated, b1, sizeof b1), "100.0%", "");
  tbl_row(&t, "cache_free (beside)", mt_size_str(p->by_category[MT_CAT_CACHE_FREE], b1, sizeof b1),
          pct(p->by_category[MT_CAT_CACHE_FREE], p->reserved, b2, sizeof b2), "reserved, not allocated");
  tbl_row(&t, "= reserved", mt_size_str(p->reserved, b1, sizeof b1), "", "");
  heading(o, 3, "What the allocated peak is made of");
  tbl_print(o->f, &t, o->fmt, 4);
  gap(o);
  (void)a;
  (void)b3;
  (void)b4;
}

/* A frame as people scan it in a table: "dir/sub/model.py:77 f" -> "model.py:77 f". */
static const char *short_where(const char *w)
{
  const char *colon = strchr(w, ':');
  const char *slash = NULL;
  for (const char *p = w; *p && (!colon || p < colon); p++)
    if (*p == '/')
      slash = p;
  return slash ? slash + 1 : w;
}

/* Steady-state tolerance of the per-step table (relative). */
#define STEP_FOLD 0.01
static int near(uint64_t x, uint64_t ref)
{
  double d = (double)x - (double)ref;
  return (d < 0 ? -d : d) <= STEP_FOLD * (double)ref;
}

/* The memory sections: the peak, fragmentation, what was live, per step. */
static void section_memory(out *o, const mt_analysis *a, const mt_rank *r)
{
  char b1[64], b2[64], b3[64], b4[128], b5[64];
  tbl t;
  tbl_init(&t, "lrrlll", "peak", "bytes", "at", "step", "phase", "innermost range");
  tbl_row(&t, "allocated", mt_size_str(r->peak_allocated, b1, sizeof b1),
          mt_fmt_secs(r->peak_allocated_ts, b2, sizeof b2), inum(r->peak.step, b3, sizeof b3),
          r->peak.phase ? r->peak.phase : "-", r->peak.range ? r->peak.range : "-");
  tbl_row(&t, "reserved", mt_size_str(r->peak_reserved, b1, sizeof b1),
          mt_fmt_secs(r->peak_reserved_ts, b2, sizeof b2), inum(r->peak_reserved_step, b3, sizeof b3),
          r->peak_reserved_phase ? r->peak_reserved_phase : "-", "");
  tbl_print(o->f, &t, o->fmt, 2);
  para(o, "Times are seconds since the trace started (absolute CLOCK_MONOTONIC %lld ns + time).",
       (long long)r->start_ns);
  gap(o);
  section_peak(o, a, r);

  /* fragmentation */
  heading(o, 3, "Fragmentation");
  para(o, "reserved - allocated: %s at the peak; at most %s (at %s). Largest free block inside the "
       "allocator's segments at the peak: %s.",
       mt_size_str(r->peak.by_category[MT_CAT_CACHE_FREE], b1, sizeof b1),
       mt_size_str(r->max_fragmentation, b2, sizeof b2), mt_fmt_secs(r->max_fragmentation_ts, b3, sizeof b3),
       largest_free(r, &r->peak, b4, sizeof b4));
  if (r->peak.nsegments) {
    tbl_init(&t, "rrrrrr", "heap", "segment", "used", "free", "largest free", "blocks");
    for (size_t i = 0; i < r->peak.nsegments && i < 8; i++) {
      const mt_segment_frag *s = &r->peak.segments[i];
      char h[32];
      snprintf(h, sizeof h, "%lld", (long long)s->heap);
      tbl_row(&t, h, mt_size_str(s->size, b1, sizeof b1), mt_size_str(s->used, b2, sizeof b2),
              mt_size_str(s->size - s->used, b3, sizeof b3), mt_size_str(s->largest_free, b4, sizeof b4),
              num(s->nblocks, b5, sizeof b5));
    }
    tbl_print(o->f, &t, o->fmt, 4);
  }
  gap(o);

  /* largest allocations at the peak */
  if (r->peak.nobjects) {
    heading(o, 3, "Largest allocations live at the peak");
    tbl_init(&t, "rllrrl", "bytes", "category", "rule", "step", "layer", "name (phase at allocation)");
    for (size_t i = 0; i < r->peak.nobjects && i < 10; i++) {
      const mt_object *x = &r->peak.objects[i];
      char nm[256];
      snprintf(nm, sizeof nm, "%s (%s)",
               x->label ? x->label : x->where ? short_where(x->where) : x->is_tensor ? "tensor" : "cudaMalloc",
               x->phase ? x->phase : "-");
      tbl_row(&t, mt_size_str(x->size, b1, sizeof b1), mt_category_name(x->category), mt_rule_name(x->rule),
              inum(x->step, b2, sizeof b2), inum(x->layer, b3, sizeof b3), nm);
    }
    tbl_print(o->f, &t, o->fmt, 4);
    gap(o);
  }
  if (r->ngroups) {
    heading(o, 3, "Allocations by name");
    tbl_init(&t, "rrrrl", "at peak", "total", "count", "largest", "name");
    for (size_t i = 0; i < r->ngroups && i < 12; i++) {
      const mt_alloc_group *g = &r->groups[i];
      tbl_row(&t, mt_size_str(g->peak_bytes, b1, sizeof b1), mt_size_str(g->total_bytes, b2, sizeof b2),
              num(g->count, b3, sizeof b3), mt_size_str(g->max_size, b4, sizeof b4), g->key);
    }
    tbl_print(o->f, &t, o->fmt, 4);
    gap(o);
  }
  if (r->nsteps) {
    heading(o, 3, "Per-step peaks");
    tbl_init(&t, "rrrr", "step", "allocated", "reserved", "at");
    size_t folded = 0;
    for (size_t i = 0, j; i < r->nsteps; i = j) {
      const mt_step_peak *p = &r->steps[i];
      tbl_row(&t, inum(p->step, b1, sizeof b1), mt_size_str(p->allocated, b2, sizeof b2),
              mt_size_str(p->reserved, b3, sizeof b3), mt_fmt_secs(p->allocated_ts, b4, sizeof b4));
      /* steady state: the steps after this one within STEP_FOLD of it fold
         into one row (their largest values); an outlier ends the run */
      uint64_t amax = 0, rmax = 0;
      for (j = i + 1; j < r->nsteps && near(r->steps[j].allocated, p->allocated) &&
                      near(r->steps[j].reserved, p->reserved); j++) {
        amax = r->steps[j].allocated > amax ? r->steps[j].allocated : amax;
        rmax = r->steps[j].reserved > rmax ? r->steps[j].reserved : rmax;
      }
      if (j - i - 1 < 3) {   /* too few to fold: shown as they are */
        j = i + 1;
        continue;
      }
      char lab[64];
      snprintf(lab, sizeof lab, "%d-%d (%zu steps)", r->steps[i + 1].step, r->steps[j - 1].step, j - i - 1);
      tbl_row(&t, lab, mt_size_str(amax, b2, sizeof b2), mt_size_str(rmax, b3, sizeof b3), "(largest)");
      folded += j - i - 1;
    }
    tbl_print(o->f, &t, o->fmt, 4);
    if (folded)
      para(o, "Steps within %g%% of the step before the run are folded into one row (%zu steps); "
           "the JSON report has every step.", 100 * STEP_FOLD, folded);
    gap(o);
  }
}

/* Whether an import's list of what it lacks ("a, b (why), c") has an item
 * that starts with `what` ("kernels", "NCCL calls"): not a mere mention
 * ("launch parameters of NCCL calls other than the kernel's"). */
static int import_lacks(const mt_rank *r, const char *what)
{
  size_t n = strlen(what);
  for (const char *p = r->import_lacks; p && *p;) {
    while (*p == ' ')
      p++;
    if (strncmp(p, what, n) == 0 && (p[n] == ',' || p[n] == ' ' || p[n] == 0))
      return 1;
    /* the next item: after a comma outside parentheses */
    int depth = 0;
    for (; *p && (depth || *p != ','); p++)
      depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
    if (*p)
      p++;
  }
  return 0;
}

static void section_rank(out *o, const mt_analysis *a, const mt_rank *r)
{
  char b1[64], b2[64], b3[64], b4[64], b5[64], b6[64];
  if (*r->host)
    heading(o, 2, "Rank %d  (pid %lld on %s, world size %d)", r->rank, (long long)r->pid, r->host, r->world_size);
  else   /* imports: the source names no host */
    heading(o, 2, "Rank %d  (pid %lld, world size %d)", r->rank, (long long)r->pid, r->world_size);
  para(o, "trace %s", r->path);
  if (r->gpus)
    para(o, "GPU: %s", r->gpus);
  if (r->incomplete)
    para(o, "INCOMPLETE: %s.", r->incomplete_reason);
  if (r->import_lacks)
    para(o, "Imported (%s): the source format does not provide %s; what depends on it is missing "
         "from this report.", r->producer ? r->producer : "import", r->import_lacks);
  para(o, "Dropped events: %llu%s%s%s", (unsigned long long)r->dropped, r->drops_detail ? " (" : "",
       r->drops_detail ? r->drops_detail : "", r->drops_detail ? ")" : "");
  /* every section a source can fill is shown; one it cannot is named with the reason */
  if (!r->n_mem_events && !r->n_region_events)
    para(o, "Memory: no device memory events in this trace%s, so no peak, fragmentation or per-step "
         "sections; kernel and NCCL sections follow.", r->import_lacks ? " (the source format lacks them)" : "");
  else
    section_memory(o, a, r);
  tbl t;
  if (r->nlayers) {
    heading(o, 3, "Layers: activation bytes and kernel time");
    tbl_init(&t, "rrrrrr", "layer", "activations", "fwd kernels", "fwd time", "bwd kernels", "bwd time");
    for (size_t i = 0; i < r->nlayers; i++) {
      const mt_layer_stat *l = &r->layers[i];
      if (!l->activation_bytes && !l->fwd_kernels && !l->bwd_kernels)
        continue;
      tbl_row(&t, inum(l->layer, b1, sizeof b1), mt_size_str(l->activation_bytes, b2, sizeof b2),
              num(l->fwd_kernels, b3, sizeof b3), dur(l->fwd_gpu_ns >= 0 ? l->fwd_gpu_ns : l->fwd_api_ns, b4, sizeof b4),
              num(l->bwd_kernels, b5, sizeof b5), dur(l->bwd_gpu_ns >= 0 ? l->bwd_gpu_ns : l->bwd_api_ns, b6, sizeof b6));
    }
    tbl_print(o->f, &t, o->fmt, 4);
    para(o, "Activation bytes: activations allocated by the layer in the peak step. Times: GPU time when "
            "known, else launch-call time.");
    gap(o);
  }
  if (r->nkernels) {
    heading(o, 3, "Kernels (%llu launches)", (unsigned long long)r->n_kernels);
    tbl_init(&t, "rrrl", "launches", "GPU time", "call time", "kernel");
    for (size_t i = 0; i < r->nkernels && i < 10; i++) {
      char dm[1024];
      tbl_row(&t, num(r->kernels[i].count, b1, sizeof b1), dur(r->kernels[i].gpu_ns, b2, sizeof b2),
              dur(r->kernels[i].api_ns, b3, sizeof b3), mt_demangle(r->kernels[i].name, dm, sizeof dm));
    }
    tbl_print(o->f, &t, o->fmt, 4);
    gap(o);
  } else {
    para(o, "Kernels: none in this trace%s.", import_lacks(r, "kernels")
         ? " (the source format does not record them)" : "");
  }
  if (r->nnccl) {
    heading(o, 3, "NCCL");
    tbl_init(&t, "lrrrr", "collective", "calls", "bytes", "GPU time", "call time");
    for (size_t i = 0; i < r->nnccl; i++) {
      const char *op = mt_enum_label("nccl_op", r->nccl[i].op);
      tbl_row(&t, op ? op : "?", num(r->nccl[i].count, b1, sizeof b1), mt_size_str(r->nccl[i].bytes, b2, sizeof b2),
              dur(r->nccl[i].gpu_ns, b3, sizeof b3), dur(r->nccl[i].api_ns, b4, sizeof b4));
    }
    tbl_print(o->f, &t, o->fmt, 4);
    if (r->overlap_gpu_ns >= 0)
      para(o, "Communication overlapped with computation for %s of %s GPU communication time (%s).",
           dur(r->overlap_gpu_ns, b1, sizeof b1), dur(r->comm_gpu_ns, b2, sizeof b2),
           pct((uint64_t)r->overlap_gpu_ns, (uint64_t)r->comm_gpu_ns, b3, sizeof b3));
    else
      para(o, "No GPU times (CUPTI %s): communication/computation overlap unknown.", r->cupti);
    gap(o);
  } else {
    para(o, "NCCL: no collectives in this trace%s, so no communication/computation overlap.",
         import_lacks(r, "NCCL calls") ? " (the source format does not record them)" : "");
  }
  if (r->nooms) {
    heading(o, 3, "Out-of-memory failures (%zu)", r->nooms);
    tbl_init(&t, "rrrrrrl", "at", "requested", "allocated", "reserved", "cache free", "largest free", "step/phase");
    for (size_t i = 0; i < r->nooms; i++) {
      const mt_oom *m = &r->ooms[i];
      char c1[64] = "-", c2[64] = "-", c3[64] = "-", c4[128] = "-";
      if (m->has_snapshot) {
        mt_size_str(m->at.allocated, c1, sizeof c1);
        mt_size_str(m->at.reserved, c2, sizeof c2);
        mt_size_str(m->at.by_category[MT_CAT_CACHE_FREE], c3, sizeof c3);
        largest_free(r, &m->at, c4, sizeof c4);
      }
      char sp[160];
      if (m->step >= 0 || m->phase)
        snprintf(sp, sizeof sp, "%s/%s", inum(m->step, b3, sizeof b3), m->phase ? m->phase : "-");
      else
        snprintf(sp, sizeof sp, "-");
      tbl_row(&t, mt_fmt_secs(m->ts, b1, sizeof b1), mt_size_str(m->requested, b2, sizeof b2), c1, c2, c3, c4, sp);
    }
    tbl_print(o->f, &t, o->fmt, 4);
    gap(o);
  }
  para(o, "Events: %llu memory, %llu tensor, %llu ranges, %llu kernels, %llu NCCL. Device allocations %llu, "
       "tensors %llu, failed allocations %llu, frees of unknown addresses %llu, unregisters of unknown "
       "tensors %llu. Host pinned memory (not device memory): peak %s. Live at the end: %s allocated, %s reserved.",
       (unsigned long long)r->n_mem_events, (unsigned long long)r->n_region_events,
       (unsigned long long)r->n_ranges, (unsigned long long)r->n_kernels, (unsigned long long)r->n_nccl,
       (unsigned long long)r->n_device_allocs, (unsigned long long)r->n_tensors,
       (unsigned long long)r->failed_allocs, (unsigned long long)r->unknown_frees,
       (unsigned long long)r->unknown_unregisters, mt_size_str(r->host_pinned_peak, b1, sizeof b1),
       mt_size_str(r->live_end_allocated, b2, sizeof b2), mt_size_str(r->live_end_reserved, b3, sizeof b3));
  gap(o);
}

/* The first thing a report says about a rank that ran out of memory: the
 * failure the program saw (the allocator's own, when the framework reported
 * one: the driver failures before it are its attempts), with the state at
 * that instant. */
static void oom_summary(out *o, const mt_rank *r)
{
  if (!r->nooms)
    return;
  const mt_oom *m = &r->ooms[0];
  for (size_t i = 0; i < r->nooms; i++)
    if (r->ooms[i].source == MT_OOM_ALLOCATOR) {
      m = &r->ooms[i];
      break;
    }
  char b1[128], b2[64], b3[64], b4[64], b5[64], b6[64], b7[64], ctx[200] = "", live[600] = "";
  if (m->step >= 0 || m->phase)
    snprintf(ctx, sizeof ctx, " (step %s, %s)", inum(m->step, b1, sizeof b1), m->phase ? m->phase : "-");
  if (m->has_snapshot) {
    size_t n = 0;
    for (int c = 0; c < MT_CAT_COUNT && n < sizeof live; c++)
      if (c != MT_CAT_CACHE_FREE && m->at.by_category[c])
        n += (size_t)snprintf(live + n, sizeof live - n, "%s%s %s", n ? ", " : "", mt_category_name(c),
                              mt_size_str(m->at.by_category[c], b1, sizeof b1));
  }
  para(o, "OUT OF MEMORY on rank %d at %s%s: %s requested; %s allocated, %s reserved (%s cache free, largest "
       "free block %s)%s%s%s. %zu failure%s, in \"Out-of-memory failures\" below.",
       r->rank, mt_fmt_secs(m->ts, b2, sizeof b2), ctx, mt_size_str(m->requested, b3, sizeof b3),
       m->has_snapshot ? mt_size_str(m->at.allocated, b4, sizeof b4) : "?",
       m->has_snapshot ? mt_size_str(m->at.reserved, b5, sizeof b5) : "?",
       m->has_snapshot ? mt_size_str(m->at.by_category[MT_CAT_CACHE_FREE], b6, sizeof b6) : "?",
       m->has_snapshot ? largest_free(r, &m->at, b1, sizeof b1) : "?",
       m->free_bytes >= 0 ? "; the device had " : "",
       m->free_bytes >= 0 ? mt_size_str((uint64_t)m->free_bytes, b7, sizeof b7) : "",
       m->free_bytes >= 0 ? " free" : "",
       r->nooms, r->nooms == 1 ? "" : "s");
  if (*live)
    para(o, "Live at that failure: %s.", live);
}

static void section_job(out *o, const mt_analysis *a)
{
  char b1[64], b2[64], b3[64], b4[64];
  const mt_rank *pk = &a->ranks[a->job_peak_index];
  para(o, "%s: %s, run %s, %zu process%s.", a->is_run_dir ? "Run directory" : "Trace", a->path, pk->run_id,
       a->nranks, a->nranks == 1 ? "" : "es");
  if (a->mixed_runs)
    para(o, "WARNING: the directory holds traces of several runs (run ids differ).");
  for (size_t i = 0; i < a->nranks; i++)
    oom_summary(o, &a->ranks[i]);
  for (size_t i = 0; i < a->nranks; i++)
    if (a->ranks[i].incomplete)
      para(o, "INCOMPLETE: rank %d (%s): %s.", a->ranks[i].rank, a->ranks[i].path, a->ranks[i].incomplete_reason);
  if (a->dropped)
    para(o, "Dropped events: %llu. WARNING: the collector lost events (see each rank): peaks, "
            "categories and phases below can be wrong where they fell.", (unsigned long long)a->dropped);
  else
    para(o, "Dropped events: 0.");
  int any_mem = 0;
  for (size_t i = 0; i < a->nranks; i++)
    any_mem |= a->ranks[i].n_mem_events || a->ranks[i].n_region_events;
  if (a->nranks > 1 && !any_mem) {
    para(o, "%zu ranks; no device memory events in any, so no job peak: each rank's kernel and NCCL "
            "sections follow.", a->nranks);
  } else if (a->nranks > 1) {
    para(o, "Job peak: %s allocated on rank %d; imbalance %.2fx (max / mean of the ranks' peaks).",
         mt_size_str(pk->peak_allocated, b1, sizeof b1), pk->rank, a->imbalance);
    tbl t;
    tbl_init(&t, "rrrlll", "rank", "peak allocated", "peak reserved", "step", "phase", "at");
    for (size_t i = 0; i < a->nranks; i++) {
      const mt_rank *r = &a->ranks[i];
      tbl_row(&t, inum(r->rank, b1, sizeof b1), mt_size_str(r->peak_allocated, b2, sizeof b2),
              mt_size_str(r->peak_reserved, b3, sizeof b3), inum(r->peak.step, b4, sizeof b4),
              r->peak.phase ? r->peak.phase : "-", i == a->job_peak_index ? "<- job peak" : "");
    }
    tbl_print(o->f, &t, o->fmt, 2);
  }
  gap(o);
}

/* ---- HTML: the SVG timeline -------------------------------------------- */


static void svg_timeline(FILE *f, const mt_rank *r)
{
  const mt_timeline *tl = &r->timeline;
  const int W = 960, H = 320, L = 70, B = 44, T = 10;
  double pw = W - L - 10, ph = H - B - T;
  uint64_t ymax = r->peak_reserved > r->peak_allocated ? r->peak_reserved : r->peak_allocated;
  if (!ymax)
    ymax = 1;
  size_t n = tl->n;
  fprintf(f, "<svg class=timeline xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\">\n<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
             "stroke=\"#ccc\"/>\n", W, H, W, H, L, T, pw, ph);
  if (n >= 2) {
    /* stacked areas, categories bottom-up, cache_free on top */
    double *base = calloc(n, sizeof *base);
    if (base) {
      for (int c = 0; c < MT_CAT_COUNT; c++) {
        int any = 0;
        for (size_t i = 0; i < n; i++)
          any |= tl->by_category[c][i] != 0;
        if (!any)
          continue;
        fprintf(f, "<path class=\"cat-%s\" fill=\"#%06x\" fill-opacity=\"0.9\" d=\"", mt_category_name(c),
                mt_category_color(c));
        for (size_t i = 0; i < n; i++) {
          double x = L + pw * (double)i / (double)(n - 1);
          double y = T + ph - ph * (base[i] + (double)tl->by_category[c][i]) / (double)ymax;
          fprintf(f, "%s%.1f,%.1f", i ? " L" : "M", x, y);
        }
        for (size_t i = n; i-- > 0;) {
          double x = L + pw * (double)i / (double)(n - 1);
          double y = T + ph - ph * base[i] / (double)ymax;
          fprintf(f, " L%.1f,%.1f", x, y);
        }
        fputs(" Z\"><title>", f);
        fputs(mt_category_name(c), f);
        fputs("</title></path>\n", f);
        for (size_t i = 0; i < n; i++)
          base[i] += (double)tl->by_category[c][i];
      }
      free(base);
    }
    /* envelopes: per pixel column, the band from the smallest sample to the
       largest value inside it (the interval maxima), so a peak narrower than
       a pixel still reaches its height and keeps a pixel's width */
    size_t cols = n < (size_t)pw ? n : (size_t)pw;
    const uint64_t *env[2] = { tl->reserved_max, tl->allocated_max }, *smp[2] = { tl->reserved, tl->allocated };
    const char *col[2] = { "#333", "#c00" }, *nm[2] = { "reserved (min-max per pixel)", "allocated (min-max per pixel)" };
    double *hi = malloc(cols * sizeof *hi), *lo = malloc(cols * sizeof *lo);
    for (int k = 0; hi && lo && k < 2; k++) {
      for (size_t c = 0; c < cols; c++) {
        size_t a0 = c * n / cols, a1 = (c + 1) * n / cols;
        uint64_t mx = 0, mn = UINT64_MAX;
        for (size_t i = a0; i < a1; i++) {
          uint64_t v = env[k][i] > smp[k][i] ? env[k][i] : smp[k][i];
          mx = v > mx ? v : mx;
          mn = smp[k][i] < mn ? smp[k][i] : mn;
        }
        hi[c] = T + ph - ph * (double)mx / (double)ymax;
        lo[c] = T + ph - ph * (double)(mn == UINT64_MAX ? mx : mn) / (double)ymax;
      }
      fprintf(f, "<path class=\"envelope\" fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1\" d=\"",
              col[k], col[k]);
      for (size_t c = 0; c < cols; c++)   /* upper edge, one step per column */
        fprintf(f, "%s%.1f,%.1f L%.1f,%.1f", c ? " L" : "M", L + pw * (double)c / (double)cols, hi[c],
                L + pw * (double)(c + 1) / (double)cols, hi[c]);
      for (size_t c = cols; c-- > 0;)     /* lower edge, back */
        fprintf(f, " L%.1f,%.1f L%.1f,%.1f", L + pw * (double)(c + 1) / (double)cols, lo[c],
                L + pw * (double)c / (double)cols, lo[c]);
      fprintf(f, " Z\"><title>%s</title></path>\n", nm[k]);
    }
    free(hi);
    free(lo);
    /* the peak */
    if (tl->dt > 0) {
      double x = L + pw * (double)(r->peak_allocated_ts - tl->t0) / (double)(tl->dt * (int64_t)(n - 1));
      fprintf(f, "<line class=\"peak\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\" stroke=\"#c00\" "
                 "stroke-dasharray=\"4 3\"/>\n", x, x, T, T + ph);
    }
  }
  /* axes: five gridlines with their sizes, five times (seconds since the trace started) */
  char b1[64];
  for (int k = 0; k <= 4; k++) {
    double y = T + ph - ph * k / 4.0, x = L + pw * k / 4.0;
    fprintf(f, "<line class=grid x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", L,
            L + pw, y, y);
    fprintf(f, "<text class=ylabel x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", L - 4,
            y + 4, k ? mt_size_str((uint64_t)((double)ymax * k / 4.0), b1, sizeof b1) : "0");
    fprintf(f, "<text class=xlabel x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"%s\">%s</text>\n", x,
            T + ph + 14, k == 0 ? "start" : k == 4 ? "end" : "middle",
            mt_fmt_secs(tl->t0 + (int64_t)((double)tl->dt * (double)(n ? n - 1 : 0) * k / 4.0), b1, sizeof b1));
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">device memory</text>\n", 4, T + 10);
  fprintf(f, "<text x=\"%.0f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">time since the trace started</text>\n",
          L + pw / 2, H - 8);
  fputs("</svg>\n<div class=legend>", f);
  for (int c = 0; c < MT_CAT_COUNT; c++)
    fprintf(f, "<span><i style=\"background:#%06x\"></i>%s</span> ", mt_category_color(c), mt_category_name(c));
  fputs("<span><i style=\"background:#c00\"></i>allocated (min-max per pixel)</span> "
        "<span><i style=\"background:#333\"></i>reserved (min-max per pixel)</span></div>\n", f);
}

static void html_head(FILE *f, const mt_analysis *a)
{
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>memtrace report: ", f);
  html_esc(f, a->path);
  fputs("</title>\n<style>\n"
        "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
        "table{border-collapse:collapse;margin:8px 0 16px}\n"
        "th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}\n"
        "th{background:#eee}.r{text-align:right}\n"
        ".legend span{margin-right:12px;font-size:12px}\n"
        ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\n"
        ".incomplete{background:#fdd;border:1px solid #c00;padding:6px}\n"
        "</style></head><body>\n<h1>memtrace report</h1>\n", f);
}

int mt_render(FILE *f, const mt_analysis *a, int fmt)
{
  out o = { f, fmt };
  if (fmt == MT_FMT_JSON) {
    json_object *j = mt_analysis_json(a);
    if (!j) {
      errno = ENOMEM;
      return -1;
    }
    fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE), f);
    fputc('\n', f);
    json_object_put(j);
    return ferror(f) ? -1 : 0;
  }
  if (fmt == MT_FMT_HTML)
    html_head(f, a);
  else if (fmt == MT_FMT_MD)
    fputs("# memtrace report\n\n", f);
  else
    fputs("memtrace report\n\n", f);
  if (a->incomplete && fmt == MT_FMT_HTML)
    fputs("<p class=incomplete>INCOMPLETE: at least one process never closed its trace; see below.</p>\n", f);
  section_job(&o, a);
  for (size_t i = 0; i < a->nranks; i++) {
    const mt_rank *r = &a->ranks[i];
    if (fmt == MT_FMT_HTML) {
      fprintf(f, "<section class=rank id=\"rank-%d\">\n", r->rank);
      /* no memory events: no chart of zeros (section_rank says why) */
      if (r->n_mem_events || r->n_region_events) {
        heading(&o, 2, "Rank %d timeline", r->rank);
        svg_timeline(f, r);
      }
    }
    section_rank(&o, a, r);
    if (fmt == MT_FMT_HTML)
      fputs("</section>\n", f);
  }
  /* through tbl_print in every format: the texts hold '<' (HTML-escaped there) */
  heading(&o, 2, "Rules");
  tbl t;
  tbl_init(&t, "ll", "rule", "meaning");
  for (int k = 0; k < MT_RULE_COUNT; k++)
    tbl_row(&t, mt_rule_name(k), mt_rule_text(k));
  tbl_print(f, &t, fmt, 2);
  if (fmt == MT_FMT_HTML)
    fputs("</body></html>\n", f);
  return ferror(f) ? -1 : 0;
}
