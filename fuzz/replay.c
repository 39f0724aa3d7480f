/* Replays fuzz corpus files through a harness without libFuzzer (CI):
 *   fuzz-replay-NAME FILE...   exit 0 when every input returns. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) {
      perror(argv[i]);
      return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
      n += r;
      if (n == cap) {
        uint8_t *nb = realloc(b, cap *= 2);
        if (!nb)
          break;
        b = nb;
      }
    }
    fclose(f);
    if (!b)
      return 1;
    /* exactly n bytes, as libFuzzer gives them: under ASan a read past the
     * input's end is then an error, not a read of the spare capacity */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact)
      return 1;
    for (size_t k = 0; k < n; k++)
      exact[k] = b[k];
    free(b);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
  }
  return 0;
}
