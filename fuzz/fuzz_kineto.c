/* libFuzzer harness: the streaming JSON splitter and the Kineto event
 * parser (everything but writing the trace). */
#include "config.h"
#include <stdint.h>
#include "analyzer/interop/interop_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mt_error err;
  mt_interop_limits_current.max_object_bytes = 16u << 20;
  mt__fuzz_kineto_buf(data, size, &err);
  return 0;
}
