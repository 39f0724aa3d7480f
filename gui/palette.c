#include "config.h"
#include "analyzer/lib/analysis.h"
#include "gui/palette.h"

/* the analysis library holds the one palette (reports, SVG and viewer) */
unsigned mt_palette_category_hex(int cat)
{
  return mt_category_color(cat);
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
