/* The timeline cache: what the chart needs for its first complete frame
 * (each rank's sampled timeline: allocated, reserved, their maxima, the
 * per-category series; the peaks, the peak's categories, OOM marks; the
 * run's identity), written after a full analysis and read back on the
 * next open so that the categorised picture is there at once while the
 * analysis runs again to validate or replace it.
 *
 * Files live in g_get_user_cache_dir()/memtrace/ (never beside the trace),
 * one per (absolute path, samples); each carries its key: the format, the
 * viewer's version, the trace schema version, and the size and mtime of
 * every trace file it covers (the file, or each *.mtrace of a run
 * directory, and an SQLite -wal beside it).  A file whose key differs
 * (the trace changed) or whose checksum fails is ignored and rewritten by
 * the next full analysis.  The directory is bounded (oldest used first
 * out): MT_VIEW_CACHE_MAX bytes, default 256 MiB.  MT_VIEW_CACHE=0
 * disables reading and writing.  Thread-safe (no shared state). */
#ifndef MT_GUI_TLCACHE_H
#define MT_GUI_TLCACHE_H

#include <glib.h>
#include "analyzer/lib/analysis.h"

G_BEGIN_DECLS

typedef struct MtTlCache MtTlCache;

/* The cached analysis of `path` with `samples` timeline samples, or NULL
 * (none, stale, corrupt, disabled).  The analysis has no objects, lanes'
 * statistics or groups; its ranks are not memory_only. */
MtTlCache *mt_tlcache_load(const char *path, size_t samples);
const mt_analysis *mt_tlcache_analysis(const MtTlCache *c);
void mt_tlcache_free(MtTlCache *c);
/* What `c` was read from (a new reference), and whether `a` serialises to
 * exactly those bytes (the cache was right). */
GBytes *mt_tlcache_bytes(const MtTlCache *c);
gboolean mt_tlcache_matches(GBytes *bytes, const mt_analysis *a);
/* The key of `path` now (sizes and mtimes of its files), or NULL when it
 * is not there: take it before the analysis and give it to store. */
char *mt_tlcache_key(const char *path, size_t samples);
/* Writes the cache for `path` from a full analysis begun when the key was
 * `key_before`; FALSE (and a reason in *error) when it could not, or when
 * the trace changed during the analysis.  Then trims the directory to its
 * bound. */
gboolean mt_tlcache_store(const char *path, size_t samples, const char *key_before, const mt_analysis *a,
                          GError **error);
/* The cache file's name for `path` (newly allocated), for tests/messages. */
char *mt_tlcache_file(const char *path, size_t samples);
gboolean mt_tlcache_enabled(void);

G_END_DECLS

#endif
