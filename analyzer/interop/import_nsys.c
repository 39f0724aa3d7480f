#include "config.h"
#include "analyzer/interop/interop_internal.h"
int mt__import_nsys(const char *in, const char *out, const char *run_id, mt_import_result *res, mt_error *err)
{
  mt_error_set(err, MT_EINVAL, "%s: not implemented yet", in);
  return MT_EINVAL;
}
