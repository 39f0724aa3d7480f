#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "analyzer/cmds/progress.h"

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t th;
  int running, stop;
  char line[200];
  struct timespec t0;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void draw(void)   /* under P.mu */
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long s = (long)(now.tv_sec - P.t0.tv_sec);
  fprintf(stderr, "\r\033[K%s... %ld s", P.line, s);
  fflush(stderr);
}

static void *ticker(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&P.mu);
  while (!P.stop) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 1;
    pthread_cond_timedwait(&P.cv, &P.mu, &dl);
    if (!P.stop)
      draw();
  }
  pthread_mutex_unlock(&P.mu);
  return NULL;
}

void mt_progress(const char *cmd, const char *what, size_t i, size_t n)
{
  if (!isatty(STDERR_FILENO))
    return;
  pthread_mutex_lock(&P.mu);
  if (n)
    snprintf(P.line, sizeof P.line, "memtrace %s: %s (%zu/%zu)", cmd, what, i, n);
  else
    snprintf(P.line, sizeof P.line, "memtrace %s: %s", cmd, what);
  if (!P.running) {
    clock_gettime(CLOCK_MONOTONIC, &P.t0);
    P.stop = 0;
    P.running = pthread_create(&P.th, NULL, ticker, NULL) == 0;
  }
  draw();
  pthread_mutex_unlock(&P.mu);
}

void mt_progress_done(void)
{
  pthread_mutex_lock(&P.mu);
  if (!P.running) {
    pthread_mutex_unlock(&P.mu);
    return;
  }
  P.stop = 1;
  pthread_cond_signal(&P.cv);
  pthread_mutex_unlock(&P.mu);
  pthread_join(P.th, NULL);
  P.running = 0;
  fputs("\r\033[K", stderr);
  fflush(stderr);
}
