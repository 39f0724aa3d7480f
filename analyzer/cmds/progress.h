/* Progress on stderr while a command works, only when stderr is a terminal
 * (never in pipes, logs or tests that capture it): "memtrace CMD: WHAT
 * (I/N)... 12 s", redrawn each second by a thread, erased when done. */
#ifndef MT_CMDS_PROGRESS_H
#define MT_CMDS_PROGRESS_H
#include <stddef.h>

/* Starts (or, when running, relabels) the line; i/n shown when n > 0. */
void mt_progress(const char *cmd, const char *what, size_t i, size_t n);
/* Erases the line and stops the thread; harmless when none runs. */
void mt_progress_done(void);

#endif
