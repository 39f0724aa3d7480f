/* Replay input: tensor lifetimes, units and windows of one rank. */
#include "config.h"
#include "analyzer/replay/replay.h"
#include "analyzer/replay/cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_names[MT_RP_NCAT] = {
  "parameter", "gradient", "optimizer_state", "activation", "temporary",
  "workspace", "communication", "input", "other",
};

const char *mt_rp_cat_name(int c)
{
  return c >= 0 && c < MT_RP_NCAT ? cat_names[c] : "other";
}

int mt_rp_cat_parse(const char *s)
{
  for (int i = 0; i < MT_RP_NCAT; i++)
    if (s && strcmp(s, cat_names[i]) == 0)
      return i;
  return -1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  void *q = realloc(p, c * elem);
  if (!q)
    return NULL;
  *cap = c;
  return q;
}

void mt_rp_input_init(mt_rp_input *in)
{
  memset(in, 0, sizeof *in);
  in->world = 1;
  in->recorded_micro = 1;
  in->recorded_sp = 1;
}

void mt_rp_input_free(mt_rp_input *in)
{
  for (size_t i = 0; i < in->nstrs; i++)
    free(in->strs[i]);
  free(in->strs);
  free(in->t);
  free(in->w);
  free(in->units);
  mt__rp_cost_free(in);
  memset(in, 0, sizeof *in);
}

static const char *keep(mt_rp_input *in, const char *s)
{
  if (!s)
    return NULL;
  /* consecutive tensors often share a name: reuse the last copy */
  if (in->nstrs && strcmp(in->strs[in->nstrs - 1], s) == 0)
    return in->strs[in->nstrs - 1];
  char **v = grow(in->strs, &in->capstrs, in->nstrs + 1, sizeof *v);
  if (!v)
    return NULL;
  in->strs = v;
  char *c = strdup(s);
  if (!c)
    return NULL;
  in->strs[in->nstrs++] = c;
  return c;
}

long mt_rp_input_add(mt_rp_input *in, const mt_rp_tensor *t)
{
  mt_rp_tensor *v = grow(in->t, &in->capt, in->nt + 1, sizeof *v);
  if (!v)
    return -1;
  in->t = v;
  v[in->nt] = *t;
  v[in->nt].name = keep(in, t->name);
  return (long)in->nt++;
}

/* "layer.12.q" -> layer 12, unit "layer.12"; "embed.params" -> unit "embed". */
static int unit_of_name(const char *name, char *unit, size_t len, int *layer)
{
  *layer = -1;
  if (!name || !*name)
    return -1;
  const char *dot = strchr(name, '.');
  size_t n = dot ? (size_t)(dot - name) : strlen(name);
  const char *last = strrchr(name, '.');
  if (dot && dot[1] >= '0' && dot[1] <= '9') {
    char *end;
    long k = strtol(dot + 1, &end, 10);
    if (*end == '.' || *end == 0) {
      *layer = (int)k;
      n = (size_t)(end - name);
    }
  } else if (last && last[1] >= '0' && last[1] <= '9' && strspn(last + 1, "0123456789") == strlen(last + 1)) {
    /* a module path ending in its index: "model.blocks.3" is layer 3 */
    *layer = atoi(last + 1);
    n = strlen(name);
  }
  if (n + 1 > len)
    return -1;
  memcpy(unit, name, n);
  unit[n] = 0;
  return 0;
}

static int add_unit(mt_rp_input *in, const char *u, int layer);

int mt_rp_input_unit(mt_rp_input *in, const char *name)
{
  char u[48];
  int layer;
  if (unit_of_name(name, u, sizeof u, &layer) != 0)
    return -1;
  return add_unit(in, u, layer);
}

int mt_rp_input_unit_exact(mt_rp_input *in, const char *name)
{
  const char *last = strrchr(name, '.');
  int layer = -1;
  if (strlen(name) >= sizeof in->units[0].name)
    return -1;
  if (last && last[1] >= '0' && last[1] <= '9' && strspn(last + 1, "0123456789") == strlen(last + 1))
    layer = atoi(last + 1);
  else if (!last)
    return mt_rp_input_unit(in, name);
  return add_unit(in, name, layer);
}

static int add_unit(mt_rp_input *in, const char *u, int layer)
{
  for (size_t i = 0; i < in->nunits; i++)
    if (strcmp(in->units[i].name, u) == 0)
      return (int)i;
  mt_rp_unit *v = grow(in->units, &in->capunits, in->nunits + 1, sizeof *v);
  if (!v)
    return -1;
  in->units = v;
  snprintf(v[in->nunits].name, sizeof v[in->nunits].name, "%s", u);
  v[in->nunits].layer = layer;
  if (layer >= 0 && layer + 1 > in->nlayers)
    in->nlayers = layer + 1;
  return (int)in->nunits++;
}

long mt_rp_input_add_window(mt_rp_input *in, const mt_rp_window *w)
{
  mt_rp_window *v = grow(in->w, &in->capw, in->nw + 1, sizeof *v);
  if (!v)
    return -1;
  in->w = v;
  v[in->nw] = *w;
  return (long)in->nw++;
}

static int win_cmp(const void *a, const void *b)
{
  const mt_rp_window *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->te > y->te ? -1 : x->te < y->te; /* outer first */
}

/* Looks a unit up by exact name; -1 when absent (no insertion). */
static int find_unit(const mt_rp_input *in, const char *u)
{
  for (size_t i = 0; i < in->nunits; i++)
    if (strcmp(in->units[i].name, u) == 0)
      return (int)i;
  return -1;
}

static const mt_rp_window *g_occ_w; /* for the qsort below (single-threaded use) */

static int occ_cmp(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  const mt_rp_window *x = &g_occ_w[i], *y = &g_occ_w[j];
  if (x->unit != y->unit)
    return x->unit < y->unit ? -1 : 1;
  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  if (x->step != y->step)
    return x->step < y->step ? -1 : 1;
  return i < j ? -1 : i > j;
}

void mt_rp_input_finish(mt_rp_input *in)
{
  if (in->nw > 1)   /* qsort's array may not be NULL, even empty */
    qsort(in->w, in->nw, sizeof *in->w, win_cmp);
  /* occurrence: n-th window of (unit, kind) within its step, counted in one
   * sweep over the windows grouped by (unit, kind, step) in window order
   * (a backward search per window was windows^2 on a long recording) */
  size_t *ord = malloc((in->nw + 1) * sizeof *ord), no = 0;
  for (size_t i = 0; i < in->nw; i++) {
    mt_rp_window *w = &in->w[i];
    w->occurrence = 0;
    if (w->unit < 0)
      continue;
    w->layer = in->units[w->unit].layer;
    if (ord) {
      ord[no++] = i;
      continue;
    }
    for (size_t j = i; j-- > 0;) { /* no memory for the sweep */
      const mt_rp_window *p = &in->w[j];
      if (p->unit == w->unit && p->kind == w->kind && p->step == w->step) {
        w->occurrence = p->occurrence + 1;
        break;
      }
    }
  }
  if (ord) {
    g_occ_w = in->w;
    qsort(ord, no, sizeof *ord, occ_cmp);
    for (size_t q = 1; q < no; q++) {
      const mt_rp_window *p = &in->w[ord[q - 1]];
      mt_rp_window *w = &in->w[ord[q]];
      if (p->unit == w->unit && p->kind == w->kind && p->step == w->step)
        w->occurrence = p->occurrence + 1;
    }
    free(ord);
  }
  /* tensors: unit from the name when it names a known unit */
  for (size_t i = 0; i < in->nt; i++) {
    mt_rp_tensor *t = &in->t[i];
    char u[48];
    int layer;
    if (t->unit < 0 && unit_of_name(t->name, u, sizeof u, &layer) == 0) {
      int k = find_unit(in, u);
      if (k >= 0) {
        t->unit = k;
        t->layer = in->units[k].layer;
      }
    }
    if (t->layer >= 0 && t->layer + 1 > in->nlayers)
      in->nlayers = t->layer + 1;
  }
  mt__rp_job_build(in);
}
