/* libFuzzer harness: the memory-timeline reader (parse and pairing). */
#include "config.h"
#include <stdint.h>
#include "analyzer/interop/interop_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mt_error err;
  mt_interop_limits_current.max_object_bytes = 16u << 20;
  mt__fuzz_memtl_buf(data, size, &err);
  return 0;
}
