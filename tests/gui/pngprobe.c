/* Reads pixels of a PNG for the viewer's screenshot tests.
 *   pngprobe FILE size                 -> "W H"
 *   pngprobe FILE pixel X Y            -> "RRGGBB"
 *   pngprobe FILE runs Y X0 X1 RRGGBB TOL -> "start end" per run of pixels
 *                                         within TOL (per channel) of colour
 *   pngprobe FILE ink X0 Y0 X1 Y1 LUM  -> "rows top bottom": rows holding a
 *                                         pixel darker (or, LUM < 0, lighter
 *                                         than -LUM) than LUM, their extent
 *   pngprobe FILE count X0 Y0 X1 Y1 RRGGBB TOL -> pixels of that colour
 *   pngprobe FILE diff OTHER           -> pixels that differ ("size" when the
 *                                         sizes differ) */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cairo.h>

static cairo_surface_t *s;
static unsigned char *data;
static int w, h, stride;

static unsigned px(int x, int y)
{
  if (x < 0 || y < 0 || x >= w || y >= h)
    return 0;
  uint32_t v = *(uint32_t *)(data + (size_t)y * stride + (size_t)x * 4);
  return v & 0xffffff;   /* opaque images: premultiplication is moot */
}

static int near(unsigned a, unsigned b, int tol)
{
  for (int sh = 0; sh < 24; sh += 8) {
    int d = (int)((a >> sh) & 0xff) - (int)((b >> sh) & 0xff);
    if (d > tol || d < -tol)
      return 0;
  }
  return 1;
}

static double lum(unsigned c)
{
  return 0.299 * ((c >> 16) & 0xff) + 0.587 * ((c >> 8) & 0xff) + 0.114 * (c & 0xff);
}

int main(int argc, char **argv)
{
  if (argc < 3)
    return 2;
  s = cairo_image_surface_create_from_png(argv[1]);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    fprintf(stderr, "pngprobe: cannot read %s\n", argv[1]);
    return 1;
  }
  cairo_surface_flush(s);
  data = cairo_image_surface_get_data(s);
  w = cairo_image_surface_get_width(s);
  h = cairo_image_surface_get_height(s);
  stride = cairo_image_surface_get_stride(s);
  const char *cmd = argv[2];
  if (!strcmp(cmd, "size")) {
    printf("%d %d\n", w, h);
  } else if (!strcmp(cmd, "pixel") && argc == 5) {
    printf("%06X\n", px(atoi(argv[3]), atoi(argv[4])));
  } else if (!strcmp(cmd, "runs") && argc == 8) {
    int y = atoi(argv[3]), x0 = atoi(argv[4]), x1 = atoi(argv[5]), tol = atoi(argv[7]);
    unsigned c = (unsigned)strtoul(argv[6], NULL, 16);
    int start = -1;
    for (int x = x0; x <= x1 + 1; x++) {
      int in = x <= x1 && near(px(x, y), c, tol);
      if (in && start < 0)
        start = x;
      if (!in && start >= 0) {
        printf("%d %d\n", start, x - 1);
        start = -1;
      }
    }
  } else if (!strcmp(cmd, "ink") && argc == 8) {
    int x0 = atoi(argv[3]), y0 = atoi(argv[4]), x1 = atoi(argv[5]), y1 = atoi(argv[6]);
    double l = atof(argv[7]);
    int rows = 0, top = -1, bottom = -1;
    for (int y = y0; y <= y1; y++) {
      int any = 0;
      for (int x = x0; x <= x1 && !any; x++)
        any = l >= 0 ? lum(px(x, y)) < l : lum(px(x, y)) > -l;
      if (any) {
        rows++;
        if (top < 0)
          top = y;
        bottom = y;
      }
    }
    printf("%d %d %d\n", rows, top, bottom);
  } else if (!strcmp(cmd, "count") && argc == 9) {
    int x0 = atoi(argv[3]), y0 = atoi(argv[4]), x1 = atoi(argv[5]), y1 = atoi(argv[6]), tol = atoi(argv[8]);
    unsigned c = (unsigned)strtoul(argv[7], NULL, 16);
    long n = 0;
    for (int y = y0; y <= y1; y++)
      for (int x = x0; x <= x1; x++)
        n += near(px(x, y), c, tol);
    printf("%ld\n", n);
  } else if (!strcmp(cmd, "diff") && argc == 4) {
    cairo_surface_t *o = cairo_image_surface_create_from_png(argv[3]);
    if (cairo_surface_status(o) != CAIRO_STATUS_SUCCESS) {
      fprintf(stderr, "pngprobe: cannot read %s\n", argv[3]);
      return 1;
    }
    cairo_surface_flush(o);
    if (cairo_image_surface_get_width(o) != w || cairo_image_surface_get_height(o) != h)
      printf("size\n");
    else {
      const unsigned char *od = cairo_image_surface_get_data(o);
      int ostride = cairo_image_surface_get_stride(o);
      long n = 0;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          n += px(x, y) != (*(const uint32_t *)(od + (size_t)y * ostride + (size_t)x * 4) & 0xffffff);
      printf("%ld\n", n);
    }
    cairo_surface_destroy(o);
  } else {
    fprintf(stderr, "pngprobe: bad command\n");
    return 2;
  }
  cairo_surface_destroy(s);
  return 0;
}
