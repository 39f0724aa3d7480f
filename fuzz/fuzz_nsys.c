/* libFuzzer harness: the nsys importer end to end (the input is written
 * to a temporary SQLite file; the output trace is discarded).  Slow per
 * run: most of the work is SQLite's own reading of the file. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "analyzer/interop/interop_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char in[64], out[64];
  snprintf(in, sizeof in, "/tmp/mt-fuzz-nsys-%ld.sqlite", (long)getpid());
  snprintf(out, sizeof out, "/tmp/mt-fuzz-nsys-%ld.mtrace", (long)getpid());
  FILE *f = fopen(in, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  unlink(out);
  mt_error err;
  if (mt__import_nsys(in, out, "fuzz", NULL, &err) != MT_OK)
    unlink(out);
  unlink(out);
  unlink(in);
  return 0;
}
