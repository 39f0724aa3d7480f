/* The collector core: configuration, per-thread rings, activation at the
 * first CUDA call, dlsym interposition, and process life (fork, exec,
 * thread exit, exit/_exit, crashes).  See collector/README.md. */
#define _GNU_SOURCE
#include "config.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef MT_NOP
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif
#include "collector/collector.h"

mt_config mt__cfg;
MT_TLS unsigned mt__t_in;
MT_TLS mt_tbuf *mt__t_buf;
MT_TLS int mt__t_device;
_Atomic int mt__state;
int64_t mt__start_ns;

static pthread_key_t tbuf_key;
static int tbuf_key_ok;
static _Atomic int exiting;

/* ---- configuration ------------------------------------------------------ */

static size_t parse_size(const char *s, size_t dflt)
{
  if (!s || !*s)
    return dflt;
  char *end;
  double v = strtod(s, &end);
  if (end == s || v <= 0)
    return dflt;
  while (*end == ' ')
    end++;
  double m = 1;
  switch (*end) {
  case 'k': case 'K': m = 1024.0; break;
  case 'm': case 'M': m = 1024.0 * 1024; break;
  case 'g': case 'G': m = 1024.0 * 1024 * 1024; break;
  default: break;
  }
  return (size_t)(v * m);
}

static void read_config(void)
{
  const char *s = getenv("MEMTRACE_STACKS");
  mt__cfg.stacks = !(s && strcmp(s, "none") == 0);
  s = getenv("MEMTRACE_CUPTI");
  mt__cfg.cupti = !(s && (strcmp(s, "0") == 0 || strcmp(s, "disabled") == 0));
  mt__cfg.buffer_bytes = parse_size(getenv("MEMTRACE_BUFFER_SIZE"), (size_t)32 << 20);
  if (mt__cfg.buffer_bytes < 64 * 64)
    mt__cfg.buffer_bytes = 64 * 64;
  s = getenv("MEMTRACE_MAX_FRAMES");
  mt__cfg.max_frames = s ? atoi(s) : 32;
  if (mt__cfg.max_frames < 1 || mt__cfg.max_frames > MT_MAX_FRAMES)
    mt__cfg.max_frames = 32;
  s = getenv("MEMTRACE_RUN_DIR");
  snprintf(mt__cfg.run_dir, sizeof mt__cfg.run_dir, "%s", s && *s ? s : ".");
  s = getenv("MEMTRACE_RUN_ID");
  if (s && *s)
    snprintf(mt__cfg.run_id, sizeof mt__cfg.run_id, "%s", s);
  else
    snprintf(mt__cfg.run_id, sizeof mt__cfg.run_id, "pid-%ld", (long)getpid());
  Dl_info di;
  if (dladdr((void *)read_config, &di) && di.dli_fname)
    snprintf(mt__cfg.self_path, sizeof mt__cfg.self_path, "%s", di.dli_fname);
}

/* ---- per-thread rings --------------------------------------------------- */

static void tbuf_release(void *p)
{
  mt_tbuf *b = p;
  /* The ring outlives the thread: the drain empties it, then unmaps it. */
  if (b)
    atomic_store_explicit(&b->dead, 1, memory_order_release);
}

mt_tbuf *mt__tbuf_init(void)
{
#ifdef MT_NOP
  return NULL;
#else
  static MT_TLS int initializing;
  if (initializing || atomic_load(&mt__state) == MT_S_DONE)
    return NULL;
  initializing = 1;
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  mt_tbuf *b = calloc(1, sizeof *b);
  if (!b)
    goto out;
  size_t slots = 1;
  while (slots * sizeof(mt_rec) < mt__cfg.buffer_bytes)
    slots <<= 1;
  b->map_bytes = slots * sizeof(mt_rec);
  void *m = mmap(NULL, b->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    free(b);
    b = NULL;
    goto out;
  }
  b->slots = m;
  b->mask = slots - 1;
  b->tid = (pid_t)syscall(SYS_gettid);
  mt__t_buf = b;
  if (tbuf_key_ok)
    pthread_setspecific(tbuf_key, b);
  mt_tbuf *h = atomic_load(&mt__threads);
  do {
    b->next = h;
  } while (!atomic_compare_exchange_weak(&mt__threads, &h, b));
out:
  mt__t_in = saved;
  initializing = 0;
  return b;
#endif
}

/* Backpressure instead of loss: a thread whose ring is full waits for the
 * drain (which empties rings continuously) rather than dropping events, so
 * a job that produces events faster than SQLite takes them runs at the
 * drain's pace and its trace stays whole.  Bounded: one wait lasts at most
 * MEMTRACE_FULL_WAIT_MS (default 1000; 0 = never wait: drop at once, the
 * old behaviour); after a wait times out (a drain that is stuck, or
 * starved) the thread drops, counted, until its ring is half empty again,
 * so a stalled drain costs the job one timeout, not one per event.  Never
 * waits where the drain cannot help: before it runs, during shutdown, in a
 * forked child that borrowed the parent's memory, or on a thread inside
 * the collector itself. */
static long full_wait_ms = -1;
static pid_t owner_pid;   /* defined below (fork handling) */

int mt__rec_wait(mt_tbuf *b, uint64_t end)
{
  if (full_wait_ms < 0) {
    const char *e = getenv("MEMTRACE_FULL_WAIT_MS");
    full_wait_ms = e && *e ? atol(e) : 1000;
    if (full_wait_ms < 0)
      full_wait_ms = 0;
  }
  uint64_t size = b->mask + 1;
  if (b->overflow) {
    if (end - atomic_load_explicit(&b->tail, memory_order_acquire) > size / 2)
      return 0;
    b->overflow = 0;
  }
  if (!full_wait_ms || atomic_load_explicit(&mt__state, memory_order_relaxed) != MT_S_ACTIVE ||
      (mt__t_in & MT_F_SELF) || getpid() != owner_pid)
    return 0;
  int64_t deadline = mt__now() + (int64_t)full_wait_ms * 1000000;
  for (unsigned spin = 0;; spin++) {
    b->tail_cache = atomic_load_explicit(&b->tail, memory_order_acquire);
    if (end - b->tail_cache <= size)
      return 1;
    if (atomic_load_explicit(&mt__state, memory_order_relaxed) != MT_S_ACTIVE)
      return 0;
    if (spin < 64) {
      sched_yield();
      continue;
    }
    if ((spin & 63) == 0 && mt__now() > deadline) {
      b->overflow = 1;
      return 0;
    }
    struct timespec z = { 0, 50000 };   /* 50 us: the drain reads about a block of records meanwhile */
    nanosleep(&z, NULL);
  }
}

void mt__emit_text(int type, int op, int kind, int dkind, int64_t ts, uint64_t p0, uint64_t p1,
                   uint64_t p2, uint64_t p3, const char *text)
{
#ifndef MT_NOP
  size_t len = text ? strnlen(text, 255) : 0;
  unsigned extra = (unsigned)((len + 63) / 64);
  uint64_t pos;
  mt_rec *r = mt__rec_reserve(extra, dkind, &pos);
  if (!r)
    return;
  memset(r, 0, sizeof *r);
  r->type = (uint8_t)type;
  r->op = (uint8_t)op;
  r->kind = (uint8_t)kind;
  r->nx = (uint8_t)extra;
  r->ntext = (uint16_t)len;
  r->device = (int16_t)mt__t_device;
  r->ts = ts;
  r->p[0] = p0;
  r->p[1] = p1;
  r->p[2] = p2;
  r->p[3] = p3;
  for (unsigned i = 0; i < extra; i++) {
    size_t k = len - 64 * i < 64 ? len - 64 * i : 64;
    memcpy(mt__rec_slot(pos, 1 + i), text + 64 * i, k);
  }
  mt__rec_commit(pos, 1 + extra);
#else
  (void)type; (void)op; (void)kind; (void)dkind; (void)ts; (void)p0; (void)p1; (void)p2;
  (void)p3; (void)text;
#endif
}

int mt__backtrace(void **pcs, int n)
{
#ifdef MT_NOP
  (void)pcs; (void)n;
  return 0;
#else
  int k = unw_backtrace(pcs, n);
  return k < 0 ? 0 : k;
#endif
}

/* ---- names of code addresses (kernel stubs, CUfunctions) --------------- */

#define NAMES_CAP 65536u
static struct { uint64_t key; char *name; } names[NAMES_CAP];
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned name_slot(uint64_t key)
{
  return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 48) & (NAMES_CAP - 1);
}

void mt__names_put(uint64_t key, const char *name)
{
  if (!key || !name)
    return;
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  pthread_mutex_lock(&names_lock);
  for (unsigned i = name_slot(key), n = 0; n < NAMES_CAP; i = (i + 1) & (NAMES_CAP - 1), n++) {
    if (names[i].key == key || names[i].key == 0) {
      if (names[i].key == key && names[i].name && strcmp(names[i].name, name) == 0)
        break;
      char *c = strdup(name);
      if (!c)
        break;
      free(names[i].name);
      names[i].name = c;
      names[i].key = key;
      break;
    }
  }
  pthread_mutex_unlock(&names_lock);
  mt__t_in = saved;
}

char *mt__names_get(uint64_t key)
{
  char *r = NULL;
  pthread_mutex_lock(&names_lock);
  for (unsigned i = name_slot(key), n = 0; n < NAMES_CAP; i = (i + 1) & (NAMES_CAP - 1), n++) {
    if (names[i].key == key) {
      r = strdup(names[i].name);
      break;
    }
    if (names[i].key == 0)
      break;
  }
  pthread_mutex_unlock(&names_lock);
  return r;
}

/* ---- real symbols and dlsym interposition ------------------------------ */

typedef void *(*dlsym_fn)(void *, const char *);
static dlsym_fn real_dlsym_p;

void *mt__real_dlsym(void *handle, const char *name)
{
  if (MT_UNLIKELY(!real_dlsym_p)) {
    /* dlvsym is not interposed; ask for the versioned dlsym directly. */
    static const char *const vers[] = { "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.0" };
    for (size_t i = 0; i < sizeof vers / sizeof vers[0] && !real_dlsym_p; i++)
      real_dlsym_p = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", vers[i]);
    if (!real_dlsym_p)
      return NULL;
  }
  return real_dlsym_p(handle, name);
}

/* True when p is code of this library: a stand-in library whose own
 * references go through the PLT hands back *our* exports when asked for
 * its functions (its GOT binds to the preloaded definition first). */
int mt__is_self(const void *p)
{
  static void *self_base;
  Dl_info di;
  if (!self_base && dladdr((void *)mt__is_self, &di))
    self_base = di.dli_fbase;
  return p && dladdr(p, &di) && di.dli_fbase == self_base;
}

/* The real definition of `name`: the next one after us in the global
 * scope, else the one inside the CUDA/NCCL library the program dlopen'ed
 * locally (the runtime opens libcuda.so.1 RTLD_LOCAL). */
void *mt__resolve(const char *name)
{
  void *p = mt__real_dlsym(RTLD_NEXT, name);
  if (p && !mt__is_self(p))
    return p;
  static const char *const libs[] = { "libcuda.so.1", "libcudart.so.13", "libcudart.so.12",
                                      "libnccl.so.2" };
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    void *h = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
      continue;
    p = mt__real_dlsym(h, name);
    dlclose(h);
    if (p && !mt__is_self(p))
      return p;
  }
  return NULL;
}

/* The runtime dlopens libcuda.so.1 and asks dlsym for cuGetProcAddress_v2;
 * NCCL and ctypes users look up symbols the same way.  Every hooked name
 * found this way is handed back as its wrapper, forwarding to what the
 * real dlsym found. */
MT_EXPORT void *dlsym(void *handle, const char *name)
{
  void *real = mt__real_dlsym(handle, name);
  if (!real || (mt__t_in & MT_F_SELF) == MT_F_SELF)
    return real;
  if (handle == RTLD_NEXT)   /* someone else's RTLD_NEXT chain: leave it alone */
    return real;
  void *w = NULL;
  if (name[0] == 'c' && name[1] == 'u' && name[2] != 'd')
    w = mt__driver_wrap(name, real, 0);
  else if (name[0] == 'c' && name[1] == 'u')
    w = mt__cudart_dlsym_wrap(name, real);
  else if (name[0] == 'n' && name[1] == 'c')
    w = mt__nccl_dlsym_wrap(name, real);
  return w ? w : real;
}

/* ---- activation: the first CUDA call ----------------------------------- */

static _Atomic int crashing;
#ifndef MT_NOP
static struct sigaction old_act[32];
/* Crashes, and the signals that end a job (memtrace record forwards them to
 * the job's group): what was recorded up to the signal is committed. */
static const int crash_sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGHUP };

static void crash_handler(int sig, siginfo_t *si, void *uc)
{
  (void)si; (void)uc;
  int saved_errno = errno;
  if (!atomic_exchange(&crashing, 1)) {
    const char *n = sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGBUS ? "SIGBUS"
                  : sig == SIGFPE ? "SIGFPE" : sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT"
                  : sig == SIGHUP ? "SIGHUP" : "SIGILL";
    mt__t_in = MT_F_SELF;
    mt__drain_stop(0, n, 2000);
  }
  /* Restore the handler that was there before us and deliver again: the
   * signal is blocked while we run, so it arrives as soon as we return. */
  sigaction(sig, &old_act[sig], NULL);
  errno = saved_errno;
  raise(sig);
}

static void install_crash_handlers(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = crash_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++) {
    struct sigaction old;
    if (sigaction(crash_sigs[i], NULL, &old) != 0)
      continue;
    /* A program that handles the signal itself keeps its handler. */
    if (old.sa_handler != SIG_DFL)
      continue;
    old_act[crash_sigs[i]] = old;
    sigaction(crash_sigs[i], &sa, NULL);
  }
}

static void at_exit(void)
{
  mt__shutdown("exit");
}

#endif

void mt__activate_slow(void)
{
#ifndef MT_NOP
  int expect = MT_S_IDLE;
  if (!atomic_compare_exchange_strong(&mt__state, &expect, MT_S_ACTIVE))
    return;
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  mt__cupti_init();   /* before any of this process's GPU work is issued */
  if (mt__drain_start() != 0) {
    atomic_store(&mt__state, MT_S_DONE);
  } else {
    static int registered;
    if (!registered) {
      registered = 1;
      atexit(at_exit);
    }
    install_crash_handlers();
  }
  mt__t_in = saved;
#endif
}

/* The process whose collector state this is (set at load and in a fork
 * child).  A child of vfork() or of clone() without atfork handlers (Python's
 * subprocess uses vfork) runs in the parent's memory until it execs or
 * _exits: it must not stop the parent's drain or allocate from its heap. */
static pid_t owner_pid;

static int in_borrowed_memory(void)
{
  return getpid() != owner_pid;
}

void mt__shutdown(const char *why)
{
#ifndef MT_NOP
  if (in_borrowed_memory())
    return;
  if (atomic_load(&mt__state) != MT_S_ACTIVE || atomic_exchange(&exiting, 1))
    return;
  unsigned saved = mt__t_in;
  mt__t_in = MT_F_SELF;
  /* returns as soon as the drain has finished: the bound is for a stuck
     drain only.  10 s cut a --preset large recording's finalize (its last
     ring and the time indexes of 3.5 M region rows, on a loaded machine):
     a complete trace without indexes and with its WAL beside it */
  mt__drain_stop(1, why, 120000);
  atomic_store(&mt__state, MT_S_DONE);
  mt__t_in = saved;
#else
  (void)why;
#endif
}

/* ---- fork --------------------------------------------------------------- */

static void fork_prepare(void)
{
  if (atomic_load(&mt__state) == MT_S_ACTIVE)
    mt__drain_fork_prepare();
}

static void fork_parent(void)
{
  if (atomic_load(&mt__state) == MT_S_ACTIVE)
    mt__drain_fork_parent();
}

/* The child is a new process: its own trace, created at its own first
 * CUDA call.  The parent's rings and trace connection are forgotten (not
 * freed: they are the parent's, and the parent's drain writes them). */
static void fork_child(void)
{
  owner_pid = getpid();
  mt__drain_fork_child();
  mt__cupti_fork_child();
  atomic_store(&mt__threads, NULL);
  mt__t_buf = NULL;
  if (tbuf_key_ok)
    pthread_setspecific(tbuf_key, NULL);
  atomic_store(&exiting, 0);
  atomic_store(&crashing, 0);
  mt__start_ns = mt__now();
  snprintf(mt__cfg.run_id, sizeof mt__cfg.run_id, "%s", getenv("MEMTRACE_RUN_ID") ? getenv("MEMTRACE_RUN_ID") : mt__cfg.run_id);
  atomic_store(&mt__state, MT_S_IDLE);
}

/* ---- exec: finish this image's trace, keep the preload ------------------ */

#define ENV_KEEP_N 6
static const char *const env_keep[ENV_KEEP_N] = { "MEMTRACE_RUN_DIR", "MEMTRACE_RUN_ID", "MEMTRACE_STACKS",
                                                  "MEMTRACE_CUPTI", "MEMTRACE_BUFFER_SIZE",
                                                  "NVTX_INJECTION64_PATH" };

static size_t env_count(char *const envp[])
{
  size_t n = 0;
  while (envp && envp[n])
    n++;
  return n;
}

/* The environment for the new image with the preload and memtrace's
 * variables put back where the program dropped them, built in the caller's
 * storage (out: at least env_count + 2 + ENV_KEEP_N pointers; buf for the
 * strings added) and never with malloc: a vfork child runs in its parent's
 * memory.  Returns 1 when built, 0 when envp needs nothing, -1 when buf is
 * too small (the program's environment then goes as it is). */
static int env_build(char *const envp[], char **out, char *buf, size_t buflen)
{
  if (!mt__cfg.self_path[0] || !envp)
    return 0;
  size_t n = env_count(envp);
  int has_preload = 0;
  int has[ENV_KEEP_N] = { 0 };
  for (size_t i = 0; i < n; i++) {
    if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0 && strstr(envp[i], mt__cfg.self_path))
      has_preload = 1;
    for (size_t k = 0; k < ENV_KEEP_N; k++)
      if (strncmp(envp[i], env_keep[k], strlen(env_keep[k])) == 0 && envp[i][strlen(env_keep[k])] == '=')
        has[k] = 1;
  }
  int need = !has_preload;
  for (size_t k = 0; k < ENV_KEEP_N; k++)
    need |= !has[k] && getenv(env_keep[k]);
  if (!need)
    return 0;
  size_t j = 0, used = 0;
#define ENV_ADD(...)                                                   \
  do {                                                                 \
    int w_ = snprintf(buf + used, buflen - used, __VA_ARGS__);         \
    if (w_ < 0 || (size_t)w_ >= buflen - used)                         \
      return -1;                                                       \
    out[j++] = buf + used;                                             \
    used += (size_t)w_ + 1;                                            \
  } while (0)
  for (size_t i = 0; i < n; i++) {
    if (!has_preload && strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
      ENV_ADD("LD_PRELOAD=%s:%s", mt__cfg.self_path, envp[i] + 11);
      has_preload = 1;
      continue;
    }
    out[j++] = envp[i];
  }
  if (!has_preload)
    ENV_ADD("LD_PRELOAD=%s", mt__cfg.self_path);
  for (size_t k = 0; k < ENV_KEEP_N; k++) {
    const char *v = getenv(env_keep[k]);
    if (!has[k] && v)
      ENV_ADD("%s=%s", env_keep[k], v);
  }
#undef ENV_ADD
  out[j] = NULL;
  return 1;
}

static void before_exec(void)
{
  mt__shutdown("exec");
}

/* A failed exec leaves the process running with a finished trace: start
 * over as if forked, so later CUDA calls get a new file. */
static void after_failed_exec(void)
{
  if (!in_borrowed_memory() && atomic_load(&mt__state) == MT_S_DONE) {
    atomic_store(&mt__threads, NULL);
    mt__t_buf = NULL;
    atomic_store(&exiting, 0);
    atomic_store(&mt__state, MT_S_IDLE);
  }
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

/* Declares `char *const *var`: envp with the preload put back, built on this
 * frame's stack (a huge environment goes as it is). */
#define ENV_BUF 16384
#define EXEC_ENV(envp, var)                                                         \
  size_t env_n_ = env_count(envp);                                                  \
  char *env_v_[env_n_ <= 8192 ? env_n_ + 2 + ENV_KEEP_N : 1];                       \
  char env_b_[ENV_BUF];                                                             \
  char *const *var = env_n_ <= 8192 && env_build(envp, env_v_, env_b_, sizeof env_b_) > 0 ? env_v_ : (envp)

/* Resolved at load: a vfork child must not enter the dynamic linker. */
static execve_fn real_execve, real_execvpe;

static void resolve_exec(void)
{
  real_execve = (execve_fn)mt__resolve("execve");
  real_execvpe = (execve_fn)mt__resolve("execvpe");
}

MT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
  execve_fn real = real_execve ? real_execve : (execve_fn)mt__resolve("execve");
  before_exec();
  EXEC_ENV(envp, e);
  int rc = real(path, argv, e);
  int saved = errno;
  after_failed_exec();
  errno = saved;
  return rc;
}

MT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
  execve_fn real = real_execvpe ? real_execvpe : (execve_fn)mt__resolve("execvpe");
  before_exec();
  EXEC_ENV(envp, e);
  int rc = real(file, argv, e);
  int saved = errno;
  after_failed_exec();
  errno = saved;
  return rc;
}

MT_EXPORT int execv(const char *path, char *const argv[])
{
  return execve(path, argv, environ);
}

MT_EXPORT int execvp(const char *file, char *const argv[])
{
  return execvpe(file, argv, environ);
}

/* execl* are variadic and call execve inside libc (not through the PLT):
 * collect the arguments and go through our execve/execvpe. */
#include <stdarg.h>

static char **collect_args(const char *arg0, va_list ap, char ***envp_out)
{
  size_t n = 1, cap = 16;
  char **v = malloc(cap * sizeof *v);
  if (!v)
    return NULL;
  v[0] = (char *)arg0;
  for (;;) {
    char *a = va_arg(ap, char *);
    if (n + 1 >= cap) {
      char **nv = realloc(v, (cap *= 2) * sizeof *v);
      if (!nv) {
        free(v);
        return NULL;
      }
      v = nv;
    }
    v[n++] = a;
    if (!a)
      break;
  }
  if (envp_out)
    *envp_out = va_arg(ap, char **);
  return v;
}

/* Runs one of the exec wrappers above on a collected argv, keeping errno. */
static int exec_collected(int (*fn)(const char *, char *const[], char *const[]), const char *p, char **v,
                          char *const envp[])
{
  if (!v) {
    errno = ENOMEM;
    return -1;
  }
  int rc = fn(p, v, envp);
  int e = errno;
  free(v);
  errno = e;
  return rc;
}

MT_EXPORT int execl(const char *path, const char *arg, ...)
{
  va_list ap;
  va_start(ap, arg);
  char **v = collect_args(arg, ap, NULL);
  va_end(ap);
  return exec_collected(execve, path, v, environ);
}

MT_EXPORT int execlp(const char *file, const char *arg, ...)
{
  va_list ap;
  va_start(ap, arg);
  char **v = collect_args(arg, ap, NULL);
  va_end(ap);
  return exec_collected(execvpe, file, v, environ);
}

MT_EXPORT int execle(const char *path, const char *arg, ...)
{
  va_list ap;
  va_start(ap, arg);
  char **envp = NULL;
  char **v = collect_args(arg, ap, &envp);
  va_end(ap);
  return exec_collected(execve, path, v, envp);
}

/* ---- _exit: no atexit handlers run, so flush here ------------------------ */

typedef void (*exit_fn)(int);

MT_EXPORT void _exit(int status)
{
  static exit_fn real;
  if (!real)
    real = (exit_fn)mt__resolve("_exit");
  mt__shutdown("_exit");
  real(status);
  __builtin_unreachable();
}

MT_EXPORT void _Exit(int status)
{
  static exit_fn real;
  if (!real)
    real = (exit_fn)mt__resolve("_Exit");
  mt__shutdown("_exit");
  real(status);
  __builtin_unreachable();
}

/* ---- load / unload ------------------------------------------------------ */

__attribute__((constructor)) static void mt__load(void)
{
  mt__t_in = MT_F_SELF;
  owner_pid = getpid();
  read_config();
  resolve_exec();
  mt__start_ns = mt__now();
  if (pthread_key_create(&tbuf_key, tbuf_release) == 0)
    tbuf_key_ok = 1;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  mt__t_in = 0;
}

__attribute__((destructor)) static void mt__unload(void)
{
  mt__shutdown("exit");
}
