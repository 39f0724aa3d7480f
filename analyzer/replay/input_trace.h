/* Replay input from recorded traces (see input_trace.c). */
#ifndef MT_REPLAY_INPUT_TRACE_H
#define MT_REPLAY_INPUT_TRACE_H

#include <stddef.h>
#include "analyzer/replay/replay.h"

/* Fills *in (initialised here) from one trace file.  Returns 0, or -1 with
 * a one-line message naming the file in err. */
int mt_rp_input_from_trace(const char *path, mt_rp_input *in, char *err, size_t errlen);

/* The trace files of a run: path itself when it is a file, else every
 * *.mtrace in the directory, sorted.  Returns the count (>= 0) and *out
 * (free each string and the array), or -1 with err set. */
int mt_rp_run_files(const char *path, char ***out, char *err, size_t errlen);

#endif
