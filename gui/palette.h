/* The viewer's colours: one per memory category, fixed and documented in
 * docs/VIEWER.md.  Chosen from the Okabe-Ito palette (distinguishable with
 * the common colour-vision deficiencies) plus Paul Tol's wine and greys;
 * neighbours in the stack never share a hue family. */
#ifndef MT_GUI_PALETTE_H
#define MT_GUI_PALETTE_H

typedef struct MtRgb {
  double r, g, b;
} MtRgb;

/* Colour of category `cat` (enum mt_category); grey for out-of-range. */
MtRgb mt_palette_category(int cat);
/* 0xRRGGBB of the same colour (for tests and documentation). */
unsigned mt_palette_category_hex(int cat);

/* Allocated bytes not yet categorised (the memory-only preview drawn while
 * the full analysis runs): light slate, unlike every category colour. */
#define MT_PALETTE_PENDING_HEX 0xA4A9C2u
MtRgb mt_palette_pending(void);

/* Colours of the chart furniture, for a light or dark background. */
typedef struct MtTheme {
  MtRgb bg, fg, grid, axis_text, reserved, budget, peak, selection, lane_bg, overlay;
} MtTheme;
void mt_theme_get(int dark, MtTheme *out);

#endif
