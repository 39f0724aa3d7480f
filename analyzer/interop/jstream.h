/* A streaming splitter for large JSON documents: walks the top-level object
 * (or array) byte by byte and hands each member value -- and each element
 * of one chosen array member -- to a callback as a parsed json-c object, so
 * memory is bounded by the largest element, not the file. */
#ifndef MT_JSTREAM_H
#define MT_JSTREAM_H
#include <json-c/json.h>
#include "analyzer/interop/interop_internal.h"

/* key: the member name ("" for elements of a top-level array);
 * in_array: 1 for elements of the streamed array.  Return MT_OK to go on. */
typedef int (*mt__js_cb)(void *ud, const char *key, int in_array, json_object *v);

/* Streams `path` (plain or gzip).  Members named `array_key` whose value is
 * an array are streamed element by element; a top-level array is streamed
 * the same way (key "").  Other members are parsed whole. */
int mt__js_stream(const char *path, const char *array_key, mt__js_cb cb, void *ud, mt_error *err);
/* Same over a memory buffer (fuzzing). */
int mt__js_stream_buf(const unsigned char *buf, size_t len, const char *name, const char *array_key,
                      mt__js_cb cb, void *ud, mt_error *err);
#endif
