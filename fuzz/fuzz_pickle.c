/* libFuzzer harness: the pickle reader and the snapshot field walk. */
#include "config.h"
#include <stdint.h>
#include <string.h>
#include "analyzer/interop/interop_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const mt_pv *v, int depth)
{
  if (!v || depth > 8)
    return;
  (void)mt_pv_int(mt_pv_get(v, "addr"), 0);
  (void)mt_pv_str(mt_pv_get(v, "action"), "");
  (void)mt_pv_num(mt_pv_get(v, "time_us"), 0);
  if (v->type == MT_PV_LIST || v->type == MT_PV_TUPLE || v->type == MT_PV_DICT)
    for (size_t i = 0; i < v->n && i < 64; i++)
      walk(v->items[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mt_pickle *p;
  mt_pv *root;
  mt_error err;
  mt_interop_limits_current.max_object_bytes = 16u << 20;
  if (mt_pickle_load(data, size, "fuzz", &p, &root, &err) == MT_OK) {
    walk(root, 0);
    mt_pickle_free(p);
  }
  return 0;
}
