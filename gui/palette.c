#include "config.h"
#include "analyzer/lib/analysis.h"
#include "gui/palette.h"

/* Index = enum mt_category.  Keep docs/VIEWER.md in step. */
static const unsigned category_hex[MT_CAT_COUNT] = {
  [MT_CAT_PARAMETER] = 0x0072B2,       /* blue */
  [MT_CAT_GRADIENT] = 0xE69F00,        /* orange */
  [MT_CAT_OPTIMIZER_STATE] = 0x009E73, /* bluish green */
  [MT_CAT_ACTIVATION] = 0xCC79A7,      /* reddish purple */
  [MT_CAT_TEMPORARY] = 0xF0E442,       /* yellow */
  [MT_CAT_WORKSPACE] = 0x56B4E9,       /* sky blue */
  [MT_CAT_COMMUNICATION] = 0xD55E00,   /* vermillion */
  [MT_CAT_INPUT] = 0x882255,           /* wine */
  [MT_CAT_OTHER] = 0x777777,           /* grey */
  [MT_CAT_CACHE_FREE] = 0xCFCFCF,      /* light grey: reserved, unused */
};

unsigned mt_palette_category_hex(int cat)
{
  if (cat < 0 || cat >= MT_CAT_COUNT)
    return 0x777777;
  return category_hex[cat];
}

static MtRgb rgb(unsigned hex)
{
  MtRgb c = { ((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0, (hex & 0xff) / 255.0 };
  return c;
}

MtRgb mt_palette_category(int cat)
{
  return rgb(mt_palette_category_hex(cat));
}

MtRgb mt_palette_pending(void)
{
  return rgb(MT_PALETTE_PENDING_HEX);
}

void mt_theme_get(int dark, MtTheme *t)
{
  if (dark) {
    t->bg = rgb(0x1e1e1e);
    t->fg = rgb(0xeeeeee);
    t->grid = rgb(0x3a3a3a);
    t->axis_text = rgb(0xcccccc);
    t->reserved = rgb(0xffffff);
    t->budget = rgb(0xff5555);
    t->peak = rgb(0xffffff);
    t->selection = rgb(0x3584e4);
    t->lane_bg = rgb(0x2a2a2a);
    t->overlay = rgb(0xc77dff);
  } else {
    t->bg = rgb(0xffffff);
    t->fg = rgb(0x1a1a1a);
    t->grid = rgb(0xe4e4e4);
    t->axis_text = rgb(0x333333);
    t->reserved = rgb(0x303030);
    t->budget = rgb(0xc01c28);
    t->peak = rgb(0x000000);
    t->selection = rgb(0x3584e4);
    t->lane_bg = rgb(0xf4f4f4);
    t->overlay = rgb(0x5a189a);
  }
}
