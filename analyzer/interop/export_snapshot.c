#include "config.h"
#include "analyzer/interop/interop_internal.h"
int mt_export_torch_snapshot(const char *trace, const char *out, mt_error *err)
{
  mt_error_set(err, MT_EINVAL, "%s: not implemented yet", out);
  return MT_EINVAL;
}
