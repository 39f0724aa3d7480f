/* sim_driver.c - the simulated CUDA driver, built as libcuda.so.1.
 *
 * A device model behind the real driver API (cuda.h signatures): devices with
 * a capacity, device memory that is real process memory at a fixed,
 * recognisable address range per device, a first-fit allocator over it, a
 * default memory pool for stream-ordered allocations, VMM (physical handles
 * backed by memfd, mapped into a reserved range), pinned host and managed
 * memory, streams and events on a simulated clock, modules and kernels that
 * are names only (kernels do no device work).  Every entry point is also
 * handed out by cuGetProcAddress_v2 (see sim_procs.h).
 *
 * Locking: one mutex around the whole model.  Data movement (memcpy/memset)
 * is done after validation, outside the lock.  pthread_atfork re-initialises
 * the lock in a forked child, which keeps its copy of the model.
 */
#define _GNU_SOURCE
#include <cuda.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/sim/cuda/sim_arena.h"
#include "tests/sim/cuda/sim_procs.h"
#include "tests/sim/cuda/simcuda.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SIM_DRIVER_VERSION 13000
#define SIM_DEFAULT_DEVICES 8
#define SIM_DEFAULT_MEMORY (80ULL << 30)
#define SIM_VMM_GRANULARITY (2ULL << 20)
#define SIM_ALLOC_ALIGN 512ULL
#define SIM_HOST_PAGE 4096ULL

/* Simulated durations (ns), before MT_SIM_TIME_SCALE. */
#define SIM_KERNEL_BASE_NS 3000.0          /* launch latency */
#define SIM_KERNEL_THREADS_PER_NS 8.0      /* + 1 ns per 8 threads */
#define SIM_COPY_BASE_NS 2000.0
#define SIM_COPY_PCIE_BYTES_PER_NS 25.0    /* H2D / D2H: 25 GB/s */
#define SIM_COPY_DEVICE_BYTES_PER_NS 2000.0 /* D2D, memset: 2 TB/s */
#define SIM_COPY_HOST_BYTES_PER_NS 10.0    /* H2H: 10 GB/s */
#define SIM_MEMSET_BASE_NS 1000.0

enum { K_ALLOC = 1, K_ASYNC, K_MANAGED, K_PINNED, K_RESERVE, K_MAP };

#define MAGIC_CTX 0x43545853u
#define MAGIC_STREAM 0x53545253u
#define MAGIC_EVENT 0x45564e54u
#define MAGIC_MOD 0x4d4f4455u
#define MAGIC_FUNC 0x46554e43u
#define MAGIC_HANDLE 0x484e444cu
#define MAGIC_DEAD 0xdeadbeefu

struct CUctx_st {
	uint32_t magic;
	int dev;
};

struct CUstream_st {
	uint32_t magic;
	int dev;
	unsigned flags;
	int prio;
	int legacy;
	uint64_t busy_ns;
	struct CUstream_st *next, *prev;
};

struct CUevent_st {
	uint32_t magic;
	int dev;
	unsigned flags;
	int recorded;
	uint64_t t_ns;
};

struct CUfunc_st {
	uint32_t magic;
	char *name;
	uint64_t launches;
	struct CUmod_st *mod;
	struct CUfunc_st *next;
};

struct CUmod_st {
	uint32_t magic;
	struct CUfunc_st *funcs;
	struct CUmod_st *next, *prev;
};

struct sim_handle {
	uint32_t magic;
	int dev;
	int fd;
	int released;
	uint64_t size;
	uint64_t refs; /* 1 until cuMemRelease, + 1 per mapping */
};

struct sim_dev {
	uint64_t capacity;
	uint64_t used;
	uint64_t pool_used;
	uint64_t pool_high;  /* highest pool_used since the last reset */
	uint64_t vmm_phys;
	uint64_t nallocs;
	mt__arena arena;
	struct CUctx_st ctx;
	int ctx_refs;
	unsigned ctx_flags;
	struct CUstream_st legacy;
	struct CUstream_st *streams; /* created streams */
};

static struct {
	pthread_mutex_t lock;
	int inited;  /* cuInit succeeded */
	int ndev;
	uint64_t alloc_gran;
	double time_scale;
	struct sim_dev dev[MT_SIM_MAX_DEVICES];
	mt__arena vmm;     /* reservations (K_RESERVE) */
	mt__arena maps;    /* mappings (K_MAP), same span as vmm */
	mt__arena managed; /* K_MANAGED */
	mt__arena pinned;  /* K_PINNED, span of the whole address space */
	uint64_t pinned_bytes;
	uint64_t managed_bytes;
	uint64_t reserved_bytes;
	uint64_t launches;
	struct CUmod_st *mods;
	int log_fd;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .log_fd = -1 };

/* MT_SIM_GPU: the device model.  Memory is what nvidia-smi reports as
 * memory.total for the SXM part; SMs and compute capability from NVIDIA's
 * data sheets / CUDA programming guide. */
struct sim_model {
	const char *key, *name;
	uint64_t memory;
	int sms, cc_major, cc_minor;
};
static const struct sim_model sim_models[] = {
	{ "h100", "NVIDIA H100 80GB HBM3", 81559ULL << 20, 132, 9, 0 },
	{ "h200", "NVIDIA H200", 143771ULL << 20, 132, 9, 0 },
	{ "a100-80gb", "NVIDIA A100-SXM4-80GB", 81920ULL << 20, 108, 8, 0 },
	{ "a100-40gb", "NVIDIA A100-SXM4-40GB", 40960ULL << 20, 108, 8, 0 },
};
static const struct sim_model *S_model; /* NULL: the generic H100-class device */

static pthread_once_t S_once = PTHREAD_ONCE_INIT;
static CUresult S_init_rc = CUDA_SUCCESS; /* model set-up result */
static __thread struct CUctx_st *tls_ctx;
static __thread uint64_t tls_ptds_busy[MT_SIM_MAX_DEVICES];

#define LOCK() pthread_mutex_lock(&S.lock)
#define UNLOCK() pthread_mutex_unlock(&S.lock)

/* ---------------------------------------------------------------- setup */

/* Parses "80GiB", "16GB", "512M", "1073741824".  K/M/G/T and KiB.. are
 * binary, KB/MB/GB/TB decimal.  Returns 0 on success. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	if (*end) {
		char u = (char)(*end | 0x20);
		const char *rest = end + 1;
		int i, pow = 0;
		static const char units[] = "kmgt";
		for (i = 0; units[i]; i++)
			if (u == units[i])
				pow = i + 1;
		if (u == 'b' && !end[1]) {
			pow = 0;
			rest = end + 1;
		} else if (!pow) {
			return -1;
		}
		if (pow) {
			int dec = 0;
			if (!strcasecmp(rest, "ib") || !strcasecmp(rest, "i") || !*rest)
				dec = 0;
			else if (!strcasecmp(rest, "b"))
				dec = 1;
			else
				return -1;
			for (i = 0; i < pow; i++)
				mult *= dec ? 1000ULL : 1024ULL;
		}
	}
	v *= (double)mult;
	if (v > 1.8e19)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("memtrace-sim libcuda: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fork_prepare(void)
{
	LOCK();
}

static void fork_parent(void)
{
	UNLOCK();
}

static void fork_child(void)
{
	pthread_mutex_init(&S.lock, NULL);
}

/* Maps [base, base+size) with no access and no commit charge, at base if
 * the range is free.  Returns the address, or 0. */
static uint64_t reserve_va(uint64_t base, uint64_t size)
{
	void *p = mmap((void *)(uintptr_t)base, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		warn("cannot reserve %#llx+%#llx (%s); using a kernel-chosen range",
		     (unsigned long long)base, (unsigned long long)size, strerror(errno));
		p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return 0;
	} else if ((uint64_t)(uintptr_t)p != base) {
		/* Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a hint. */
		munmap(p, size);
		return 0;
	}
	return (uint64_t)(uintptr_t)p;
}

static void sim_setup(void)
{
	const char *e;
	uint64_t mem = SIM_DEFAULT_MEMORY;
	int n = SIM_DEFAULT_DEVICES, i;

	S.alloc_gran = SIM_ALLOC_ALIGN;
	S.time_scale = 1.0;
	if ((e = getenv("MT_SIM_GPU")) && *e) {
		for (i = 0; i < (int)(sizeof sim_models / sizeof sim_models[0]); i++)
			if (!strcasecmp(e, sim_models[i].key))
				S_model = &sim_models[i];
		if (S_model)
			mem = S_model->memory;
		else
			warn("MT_SIM_GPU=%s is not one of h100, h200, a100-80gb, a100-40gb; using the generic device", e);
	}
	if ((e = getenv("MT_SIM_DEVICES")) && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (*end || v < 0 || v > MT_SIM_MAX_DEVICES)
			warn("MT_SIM_DEVICES=%s is not 0..%d; using %d", e, MT_SIM_MAX_DEVICES, n);
		else
			n = (int)v;
	}
	if ((e = getenv("MT_SIM_DEVICE_MEMORY")) && *e) {
		uint64_t v;
		if (parse_size(e, &v) || v < (1ULL << 20) || v > MT_SIM_DEVICE_VA_STRIDE / 2)
			warn("MT_SIM_DEVICE_MEMORY=%s is not a size in 1MiB..512GiB; using 80GiB", e);
		else
			mem = v;
	}
	if ((e = getenv("MT_SIM_ALLOC_GRANULARITY")) && *e) {
		uint64_t v;
		if (parse_size(e, &v) || v < SIM_ALLOC_ALIGN || (v & (v - 1)) || v > (1ULL << 30))
			warn("MT_SIM_ALLOC_GRANULARITY=%s is not a power of two in 512..1GiB; using 512", e);
		else
			S.alloc_gran = v;
	}
	if ((e = getenv("MT_SIM_TIME_SCALE")) && *e) {
		char *end;
		double v = strtod(e, &end);
		if (*end || !(v >= 0) || v > 1e6)
			warn("MT_SIM_TIME_SCALE=%s is not a number in 0..1e6; using 1", e);
		else
			S.time_scale = v;
	}
	if ((e = getenv("MT_SIM_LOG")) && *e) {
		S.log_fd = open(e, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (S.log_fd < 0)
			warn("cannot open MT_SIM_LOG=%s: %s", e, strerror(errno));
	}

	S.ndev = n;
	for (i = 0; i < n; i++) {
		struct sim_dev *d = &S.dev[i];
		/* Twice the capacity of address space, so that a fragmented
		 * address range never answers OOM before the capacity does. */
		uint64_t span = (mem * 2 + SIM_VMM_GRANULARITY - 1) & ~(SIM_VMM_GRANULARITY - 1);
		d->capacity = mem;
		d->arena.base = reserve_va(MT_SIM_DEVICE_VA_BASE + (uint64_t)i * MT_SIM_DEVICE_VA_STRIDE, span);
		d->arena.size = span;
		d->ctx.magic = MAGIC_CTX;
		d->ctx.dev = i;
		d->legacy.magic = MAGIC_STREAM;
		d->legacy.dev = i;
		d->legacy.legacy = 1;
		if (!d->arena.base) {
			S_init_rc = CUDA_ERROR_OUT_OF_MEMORY;
			return;
		}
	}
	S.vmm.base = reserve_va(MT_SIM_VMM_VA_BASE, MT_SIM_VMM_VA_SIZE);
	S.vmm.size = MT_SIM_VMM_VA_SIZE;
	S.maps.base = S.vmm.base;
	S.maps.size = S.vmm.size;
	S.managed.base = reserve_va(MT_SIM_MANAGED_VA_BASE, MT_SIM_MANAGED_VA_SIZE);
	S.managed.size = MT_SIM_MANAGED_VA_SIZE;
	S.pinned.base = SIM_HOST_PAGE;
	S.pinned.size = UINT64_MAX / 2;
	if (!S.vmm.base || !S.managed.base) {
		S_init_rc = CUDA_ERROR_OUT_OF_MEMORY;
		return;
	}
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void ensure_setup(void)
{
	pthread_once(&S_once, sim_setup);
}

static void sim_log(const char *fmt, ...)
{
	char buf[1024];
	int n;
	va_list ap;
	if (S.log_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "pid=%d ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(S.log_fd, buf, (size_t)n) < 0) {
		/* the log is best effort */
	}
}

/* ------------------------------------------------------- activity sink */

/* The sink (simcuda.h): correlation ids are assigned to the outermost
 * instrumented driver call of a thread, only while a sink is set. */
static mt_sim_activity_fn act_fn;
static void *act_user;
static uint32_t act_corr;
static __thread uint32_t tls_corr;
static __thread int tls_api_depth;
static __thread const char *tls_api;

mt_sim_activity_fn mt_sim_set_activity_sink(mt_sim_activity_fn fn, void *user)
{
	mt_sim_activity_fn old = __atomic_load_n(&act_fn, __ATOMIC_ACQUIRE);
	__atomic_store_n(&act_user, user, __ATOMIC_RELEASE);
	__atomic_store_n(&act_fn, fn, __ATOMIC_RELEASE);
	return old;
}

static int act_on(void)
{
	return __atomic_load_n(&act_fn, __ATOMIC_RELAXED) != NULL;
}

static void act_emit(mt_sim_activity *a)
{
	struct timespec ts;
	mt_sim_activity_fn fn = __atomic_load_n(&act_fn, __ATOMIC_ACQUIRE);
	if (!fn)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	a->correlation = tls_corr;
	a->api = tls_api;
	a->host_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	fn(a, __atomic_load_n(&act_user, __ATOMIC_ACQUIRE));
}

struct api_scope {
	int on;
};

static struct api_scope api_enter(const char *name)
{
	struct api_scope sc = { 0 };
	if (!act_on())
		return sc;
	sc.on = 1;
	if (tls_api_depth++ == 0) {
		mt_sim_activity a = { .kind = MT_SIM_ACT_API_ENTER, .device = -1 };
		tls_corr = __atomic_add_fetch(&act_corr, 1, __ATOMIC_RELAXED);
		tls_api = name;
		act_emit(&a);
	}
	return sc;
}

static void api_exit(struct api_scope *sc)
{
	if (!sc->on)
		return;
	if (--tls_api_depth == 0) {
		mt_sim_activity a = { .kind = MT_SIM_ACT_API_EXIT, .device = -1 };
		act_emit(&a);
		tls_corr = 0;
		tls_api = NULL;
	}
}

/* First statement of an instrumented entry point. */
#define SIM_API(name) __attribute__((cleanup(api_exit))) struct api_scope api_scope_ = api_enter(name)

static void act_mem(int kind, int dev, int mem, uint64_t addr, uint64_t bytes, uint64_t pool)
{
	mt_sim_activity a;
	if (!act_on())
		return;
	memset(&a, 0, sizeof a);
	a.kind = kind;
	a.device = dev;
	a.dst_mem = mem;
	a.dst = addr;
	a.bytes = bytes;
	a.pool = pool;
	act_emit(&a);
}

/* ------------------------------------------------------------- helpers */

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t scaled(double ns)
{
	double v = ns * S.time_scale;
	return v <= 0 ? 0 : (uint64_t)llround(v);
}

/* Checks initialisation (caller holds no lock). */
static CUresult check_init(void)
{
	ensure_setup();
	if (S_init_rc != CUDA_SUCCESS)
		return S_init_rc;
	if (!__atomic_load_n(&S.inited, __ATOMIC_ACQUIRE))
		return CUDA_ERROR_NOT_INITIALIZED;
	return CUDA_SUCCESS;
}

/* Device of the calling thread's current context (lock held). */
static CUresult cur_dev_locked(int *dev)
{
	struct CUctx_st *c = tls_ctx;
	if (!c || c->magic != MAGIC_CTX || S.dev[c->dev].ctx_refs <= 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*dev = c->dev;
	return CUDA_SUCCESS;
}

static CUresult check_dev(CUdevice d)
{
	return d >= 0 && d < S.ndev ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* Stream timeline of h (lock held).  *legacy_out is set for the legacy
 * default stream.  Returns CUDA_ERROR_INVALID_HANDLE for a bad handle. */
static CUresult stream_busy(CUstream h, int *dev, uint64_t **busy, struct CUstream_st **sp)
{
	CUresult rc;
	*sp = NULL;
	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
		if ((rc = cur_dev_locked(dev)) != CUDA_SUCCESS)
			return rc;
		if (h == CU_STREAM_PER_THREAD) {
			*busy = &tls_ptds_busy[*dev];
		} else {
			*sp = &S.dev[*dev].legacy;
			*busy = &S.dev[*dev].legacy.busy_ns;
		}
		return CUDA_SUCCESS;
	}
	if (h->magic != MAGIC_STREAM)
		return CUDA_ERROR_INVALID_HANDLE;
	*dev = h->dev;
	*sp = h;
	*busy = &h->busy_ns;
	return CUDA_SUCCESS;
}

/* Earliest start of an operation on stream h, honouring the legacy default
 * stream's implicit synchronisation with blocking streams (lock held). */
static uint64_t stream_ready(int dev, uint64_t *busy, struct CUstream_st *sp)
{
	uint64_t t = *busy;
	struct sim_dev *d = &S.dev[dev];
	if (sp && sp->legacy) {
		struct CUstream_st *s;
		for (s = d->streams; s; s = s->next)
			if (!(s->flags & CU_STREAM_NON_BLOCKING) && s->busy_ns > t)
				t = s->busy_ns;
	} else if (sp && !(sp->flags & CU_STREAM_NON_BLOCKING)) {
		if (d->legacy.busy_ns > t)
			t = d->legacy.busy_ns;
	}
	return t;
}

/* Enqueues an operation of dur_ns on h; returns its start time. */
static CUresult stream_enqueue_dev(CUstream h, uint64_t dur_ns, uint64_t *start, uint64_t *end, int *devp)
{
	int dev;
	uint64_t *busy, t;
	struct CUstream_st *sp;
	CUresult rc = stream_busy(h, &dev, &busy, &sp);
	if (rc != CUDA_SUCCESS)
		return rc;
	t = stream_ready(dev, busy, sp);
	*busy = t + dur_ns;
	if (start)
		*start = t;
	if (end)
		*end = t + dur_ns;
	if (devp)
		*devp = dev;
	return CUDA_SUCCESS;
}

static CUresult stream_enqueue(CUstream h, uint64_t dur_ns, uint64_t *start, uint64_t *end)
{
	return stream_enqueue_dev(h, dur_ns, start, end, NULL);
}

/* Releases the host pages lying wholly inside the free gap [lo, hi). */
static void decommit(uint64_t lo, uint64_t hi)
{
	uint64_t a = round_up(lo, SIM_HOST_PAGE), b = hi & ~(SIM_HOST_PAGE - 1);
	if (b > a) {
		madvise((void *)(uintptr_t)a, b - a, MADV_DONTNEED);
		mprotect((void *)(uintptr_t)a, b - a, PROT_NONE);
	}
}

/* Makes the host pages under [p, p+n) readable and writable. */
static int commit(uint64_t p, uint64_t n)
{
	uint64_t a = p & ~(SIM_HOST_PAGE - 1), b = round_up(p + n, SIM_HOST_PAGE);
	return mprotect((void *)(uintptr_t)a, b - a, PROT_READ | PROT_WRITE);
}

/* Takes device memory of kind K_ALLOC/K_ASYNC on dev (lock held). */
static CUresult dev_alloc_locked(int dev, size_t bytes, int kind, CUdeviceptr *out)
{
	struct sim_dev *d = &S.dev[dev];
	uint64_t sz = round_up(bytes, S.alloc_gran);
	long i;
	if (sz < bytes || sz > d->capacity - d->used)
		return CUDA_ERROR_OUT_OF_MEMORY;
	i = mt__arena_take(&d->arena, sz, SIM_ALLOC_ALIGN, 0);
	if (i < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (commit(d->arena.v[i].start, sz) != 0) {
		mt__arena_remove(&d->arena, (size_t)i, NULL, NULL);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	d->arena.v[i].req = bytes;
	d->arena.v[i].kind = kind;
	d->arena.v[i].dev = dev;
	d->used += sz;
	d->nallocs++;
	if (kind == K_ASYNC && (d->pool_used += sz) > d->pool_high)
		d->pool_high = d->pool_used;
	*out = (CUdeviceptr)d->arena.v[i].start;
	sim_log("alloc kind=%s dev=%d ptr=%#llx size=%zu taken=%llu", kind == K_ASYNC ? "async" : "sync",
		dev, (unsigned long long)*out, bytes, (unsigned long long)sz);
	act_mem(MT_SIM_ACT_ALLOC, dev, kind == K_ASYNC ? MT_SIM_MEM_ASYNC : MT_SIM_MEM_DEVICE, *out, bytes,
		kind == K_ASYNC ? d->arena.base : 0);
	return CUDA_SUCCESS;
}

/* Which device arena holds p, or -1 (lock held). */
static int dev_of_addr(uint64_t p)
{
	int i;
	for (i = 0; i < S.ndev; i++) {
		const mt__arena *a = &S.dev[i].arena;
		if (p >= a->base && p < a->base + a->size)
			return i;
	}
	return -1;
}

/* Frees the device allocation starting exactly at p (lock held). */
static CUresult dev_free_locked(uint64_t p, int want_kind)
{
	int dev = dev_of_addr(p);
	struct sim_dev *d;
	long i;
	uint64_t lo, hi, sz;
	int kind;
	if (dev < 0)
		return CUDA_ERROR_INVALID_VALUE;
	d = &S.dev[dev];
	i = mt__arena_find(&d->arena, p);
	if (i < 0 || d->arena.v[i].start != p)
		return CUDA_ERROR_INVALID_VALUE;
	kind = d->arena.v[i].kind;
	if (want_kind && kind != want_kind)
		return CUDA_ERROR_INVALID_VALUE;
	sz = d->arena.v[i].size;
	mt__arena_remove(&d->arena, (size_t)i, &lo, &hi);
	decommit(lo, hi);
	d->used -= sz;
	d->nallocs--;
	if (kind == K_ASYNC)
		d->pool_used -= sz;
	sim_log("free kind=%s dev=%d ptr=%#llx taken=%llu", kind == K_ASYNC ? "async" : "sync", dev,
		(unsigned long long)p, (unsigned long long)sz);
	act_mem(MT_SIM_ACT_FREE, dev, kind == K_ASYNC ? MT_SIM_MEM_ASYNC : MT_SIM_MEM_DEVICE, p, sz,
		kind == K_ASYNC ? d->arena.base : 0);
	return CUDA_SUCCESS;
}

/* Checks that [p, p+n) lies in simulated memory that is live, when p is in
 * one of the simulated ranges at all; host memory is not checked.  *is_dev
 * tells whether p is device-side memory.  Lock held. */
static CUresult check_range_locked(uint64_t p, uint64_t n, int *is_dev)
{
	int dev = dev_of_addr(p);
	long i;
	*is_dev = 1;
	if (dev >= 0) {
		const mt__arena *a = &S.dev[dev].arena;
		i = mt__arena_find(a, p);
		if (i < 0 || p + n > a->v[i].start + a->v[i].size || p + n < p)
			return CUDA_ERROR_INVALID_VALUE;
		return CUDA_SUCCESS;
	}
	if (p >= S.managed.base && p < S.managed.base + S.managed.size) {
		i = mt__arena_find(&S.managed, p);
		if (i < 0 || p + n > S.managed.v[i].start + S.managed.v[i].size || p + n < p)
			return CUDA_ERROR_INVALID_VALUE;
		return CUDA_SUCCESS;
	}
	if (p >= S.maps.base && p < S.maps.base + S.maps.size) {
		/* Mapped VMM memory: adjacent mappings may be crossed. */
		uint64_t at = p, end = p + n;
		if (end < p)
			return CUDA_ERROR_INVALID_VALUE;
		do {
			i = mt__arena_find(&S.maps, at);
			if (i < 0 || S.maps.v[i].kind != K_MAP || !S.maps.v[i].req)
				return CUDA_ERROR_INVALID_VALUE; /* unmapped, or no access */
			at = S.maps.v[i].start + S.maps.v[i].size;
		} while (at < end);
		return CUDA_SUCCESS;
	}
	*is_dev = 0;
	return CUDA_SUCCESS;
}

/* --------------------------------------------------- init and devices */

CUresult cuInit(unsigned int Flags)
{
	ensure_setup();
	if (Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (S_init_rc != CUDA_SUCCESS)
		return S_init_rc;
	if (S.ndev == 0)
		return CUDA_ERROR_NO_DEVICE;
	__atomic_store_n(&S.inited, 1, __ATOMIC_RELEASE);
	return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = SIM_DRIVER_VERSION;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = S.ndev;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (check_dev(ordinal) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_DEVICE;
	*device = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	if (S_model)
		snprintf(name, (size_t)len, "%s", S_model->name);
	else
		snprintf(name, (size_t)len, "memtrace-sim H100-class GPU %d", dev);
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	*bytes = S.dev[dev].capacity;
	return CUDA_SUCCESS;
}

/* Attributes of an H100 SXM (compute capability 9.0); unlisted valid
 * attributes read 0. */
static int attr_value(CUdevice_attribute a, int dev)
{
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
	case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
	case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
	case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
	case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return 1980000;
	case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
	case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return S_model ? S_model->sms : 132;
	case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
	case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
	case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 1;
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 0x18 + dev * 0x10;
	case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return 2619000;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return 5120;
	case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return 52428800;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
	case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 3;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
	case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return S_model ? S_model->cc_major : 9;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return S_model ? S_model->cc_minor : 0;
	case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return 233472;
	case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
	case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: return 1;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return 232448;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 32;
	case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: return 32505856;
	case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: return 134213632;
	case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return 1024;
	case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES: return CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: return 1;
	default: return 0;
	}
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pi || (int)attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	*pi = attr_value(attrib, dev);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	static const char tag[8] = { 'm', 't', '-', 's', 'i', 'm', 'g', 'p' };
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	memset(uuid, 0, sizeof(*uuid));
	memcpy(uuid->bytes, tag, sizeof(tag));
	uuid->bytes[15] = (char)dev;
	return CUDA_SUCCESS;
}

/* The pre-12.0 name, same signature. */
CUresult mt__cuDeviceGetUuid_v1(CUuuid *uuid, CUdevice dev) __asm__("cuDeviceGetUuid");
CUresult mt__cuDeviceGetUuid_v1(CUuuid *uuid, CUdevice dev)
{
	return cuDeviceGetUuid_v2(uuid, dev);
}

/* ------------------------------------------------------------- contexts */

/* Frees every allocation the device holds (context destruction). */
static void dev_reset_locked(int dev)
{
	struct sim_dev *d = &S.dev[dev];
	size_t i;
	for (i = 0; i < d->arena.n; i++) {
		sim_log("free kind=reset dev=%d ptr=%#llx taken=%llu", dev,
			(unsigned long long)d->arena.v[i].start, (unsigned long long)d->arena.v[i].size);
		act_mem(MT_SIM_ACT_FREE, dev, d->arena.v[i].kind == K_ASYNC ? MT_SIM_MEM_ASYNC : MT_SIM_MEM_DEVICE,
			d->arena.v[i].start, d->arena.v[i].size, d->arena.v[i].kind == K_ASYNC ? d->arena.base : 0);
	}
	if (d->arena.n)
		decommit(d->arena.base, d->arena.base + d->arena.size);
	mt__arena_clear(&d->arena);
	d->used = d->vmm_phys; /* VMM handles are process objects here; they stay */
	d->pool_used = 0;
	d->pool_high = 0;
	d->nallocs = 0;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	LOCK();
	S.dev[dev].ctx_refs++;
	*pctx = &S.dev[dev].ctx;
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	LOCK();
	if (S.dev[dev].ctx_refs <= 0) {
		UNLOCK();
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (--S.dev[dev].ctx_refs == 0)
		dev_reset_locked(dev);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	LOCK();
	dev_reset_locked(dev);
	S.dev[dev].ctx_refs = 0;
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	LOCK();
	*flags = S.dev[dev].ctx_flags;
	*active = S.dev[dev].ctx_refs > 0;
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if ((rc = check_dev(dev)) != CUDA_SUCCESS)
		return rc;
	LOCK();
	S.dev[dev].ctx_flags = flags;
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = tls_ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (ctx && ctx->magic != MAGIC_CTX)
		return CUDA_ERROR_INVALID_CONTEXT;
	tls_ctx = ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *device)
{
	int dev;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = cur_dev_locked(&dev);
	UNLOCK();
	if (rc == CUDA_SUCCESS)
		*device = dev;
	return rc;
}

CUresult cuCtxSynchronize(void)
{
	int dev;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	rc = cur_dev_locked(&dev);
	UNLOCK();
	return rc; /* simulated work is complete when it is issued */
}

/* --------------------------------------------------------------- memory */

CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total)
{
	int dev;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!free_b || !total)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((rc = cur_dev_locked(&dev)) == CUDA_SUCCESS) {
		*free_b = S.dev[dev].capacity - S.dev[dev].used;
		*total = S.dev[dev].capacity;
	}
	UNLOCK();
	return rc;
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	SIM_API("cuMemAlloc_v2");
	int dev;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((rc = cur_dev_locked(&dev)) == CUDA_SUCCESS)
		rc = dev_alloc_locked(dev, bytesize, K_ALLOC, dptr);
	UNLOCK();
	return rc;
}

CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
			    unsigned int ElementSizeBytes)
{
	SIM_API("cuMemAllocPitch_v2");
	size_t pitch;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || !pPitch || !WidthInBytes || !Height ||
	    (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
		return CUDA_ERROR_INVALID_VALUE;
	pitch = round_up(WidthInBytes, 512);
	if (Height > SIZE_MAX / pitch)
		return CUDA_ERROR_OUT_OF_MEMORY;
	rc = cuMemAlloc_v2(dptr, pitch * Height);
	if (rc == CUDA_SUCCESS)
		*pPitch = pitch;
	return rc;
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	SIM_API("cuMemFree_v2");
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if (dptr >= S.managed.base && dptr < S.managed.base + S.managed.size) {
		long i = mt__arena_find(&S.managed, dptr);
		uint64_t lo, hi;
		if (i < 0 || S.managed.v[i].start != dptr) {
			rc = CUDA_ERROR_INVALID_VALUE;
		} else {
			S.managed_bytes -= S.managed.v[i].size;
			act_mem(MT_SIM_ACT_FREE, -1, MT_SIM_MEM_MANAGED, dptr, S.managed.v[i].req, 0);
			mt__arena_remove(&S.managed, (size_t)i, &lo, &hi);
			decommit(lo, hi);
			sim_log("free kind=managed ptr=%#llx", (unsigned long long)dptr);
		}
	} else {
		rc = dev_free_locked(dptr, 0);
	}
	UNLOCK();
	return rc;
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
	int dev;
	long i;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	dev = dev_of_addr(dptr);
	rc = CUDA_ERROR_NOT_FOUND;
	if (dev >= 0 && (i = mt__arena_find(&S.dev[dev].arena, dptr)) >= 0) {
		if (pbase)
			*pbase = S.dev[dev].arena.v[i].start;
		if (psize)
			*psize = S.dev[dev].arena.v[i].req;
		rc = CUDA_SUCCESS;
	} else if ((i = mt__arena_find(&S.managed, dptr)) >= 0) {
		if (pbase)
			*pbase = S.managed.v[i].start;
		if (psize)
			*psize = S.managed.v[i].req;
		rc = CUDA_SUCCESS;
	}
	UNLOCK();
	return rc;
}

/* Stream-ordered allocation from the device's default pool.  Work on the
 * simulated device is complete as soon as it is issued, so the pool hands
 * memory back to the device at once (release threshold 0, no caching). */
CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	SIM_API("cuMemAllocAsync");
	int dev;
	uint64_t *busy;
	struct CUstream_st *sp;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = stream_busy(hStream, &dev, &busy, &sp);
	if (rc == CUDA_SUCCESS)
		rc = dev_alloc_locked(dev, bytesize, K_ASYNC, dptr);
	UNLOCK();
	return rc;
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	SIM_API("cuMemFreeAsync");
	int dev;
	uint64_t *busy;
	struct CUstream_st *sp;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = stream_busy(hStream, &dev, &busy, &sp);
	if (rc == CUDA_SUCCESS)
		rc = dev_free_locked(dptr, 0);
	UNLOCK();
	return rc;
}

CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	SIM_API("cuMemHostAlloc");
	void *p;
	long i;
	uint64_t sz;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pp || bytesize == 0 ||
	    (Flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((rc = cur_dev_locked(&(int){ 0 })) != CUDA_SUCCESS) {
		UNLOCK();
		return rc;
	}
	sz = round_up(bytesize, SIM_HOST_PAGE);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	i = mt__arena_take(&S.pinned, sz, SIM_HOST_PAGE, (uint64_t)(uintptr_t)p);
	if (i < 0) {
		munmap(p, sz);
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	S.pinned.v[i].kind = K_PINNED;
	S.pinned.v[i].req = bytesize;
	S.pinned_bytes += bytesize;
	sim_log("alloc kind=pinned ptr=%p size=%zu", p, bytesize);
	act_mem(MT_SIM_ACT_ALLOC, -1, MT_SIM_MEM_PINNED, (uint64_t)(uintptr_t)p, bytesize, 0);
	UNLOCK();
	*pp = p;
	return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	SIM_API("cuMemAllocHost_v2");
	return cuMemHostAlloc(pp, bytesize, 0);
}

CUresult cuMemFreeHost(void *p)
{
	SIM_API("cuMemFreeHost");
	long i;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	i = p ? mt__arena_find(&S.pinned, (uint64_t)(uintptr_t)p) : -1;
	if (i < 0 || S.pinned.v[i].start != (uint64_t)(uintptr_t)p) {
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	S.pinned_bytes -= S.pinned.v[i].req;
	act_mem(MT_SIM_ACT_FREE, -1, MT_SIM_MEM_PINNED, (uint64_t)(uintptr_t)p, S.pinned.v[i].req, 0);
	munmap(p, S.pinned.v[i].size);
	mt__arena_remove(&S.pinned, (size_t)i, NULL, NULL);
	sim_log("free kind=pinned ptr=%p", p);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
	long i;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pdptr || Flags)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	i = mt__arena_find(&S.pinned, (uint64_t)(uintptr_t)p);
	UNLOCK();
	if (i < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*pdptr = (CUdeviceptr)(uintptr_t)p; /* unified addressing */
	return CUDA_SUCCESS;
}

CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	SIM_API("cuMemAllocManaged");
	long i;
	uint64_t sz;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((rc = cur_dev_locked(&(int){ 0 })) != CUDA_SUCCESS) {
		UNLOCK();
		return rc;
	}
	sz = round_up(bytesize, SIM_HOST_PAGE);
	i = mt__arena_take(&S.managed, sz, SIM_HOST_PAGE, 0);
	if (i < 0 || commit(S.managed.v[i].start, sz) != 0) {
		if (i >= 0)
			mt__arena_remove(&S.managed, (size_t)i, NULL, NULL);
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	S.managed.v[i].kind = K_MANAGED;
	S.managed.v[i].req = bytesize;
	S.managed_bytes += sz;
	*dptr = S.managed.v[i].start;
	sim_log("alloc kind=managed ptr=%#llx size=%zu", (unsigned long long)*dptr, bytesize);
	act_mem(MT_SIM_ACT_ALLOC, -1, MT_SIM_MEM_MANAGED, *dptr, bytesize, 0);
	UNLOCK();
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------- copies and sets */

enum { CP_ANY, CP_HTOD, CP_DTOH, CP_DTOD };

/* MT_SIM_MEM_* of an address, for the activity sink (lock held). */
static int mem_kind_locked(uint64_t p)
{
	long i;
	if (dev_of_addr(p) >= 0 || (p >= S.maps.base && p < S.maps.base + S.maps.size))
		return MT_SIM_MEM_DEVICE;
	if (p >= S.managed.base && p < S.managed.base + S.managed.size)
		return MT_SIM_MEM_MANAGED;
	i = mt__arena_find(&S.pinned, p);
	if (i >= 0 && p < S.pinned.v[i].start + S.pinned.v[i].size)
		return MT_SIM_MEM_PINNED;
	return MT_SIM_MEM_PAGEABLE;
}

static const char *const mem_kind_name[] = { "?", "pageable", "pinned", "device", "async", "managed" };

static CUresult do_copy(uint64_t dst, uint64_t src, size_t n, int dir, CUstream s, int async)
{
	int ddev, sdev, dev = -1, have_a = 0;
	uint64_t start = 0, end = 0;
	mt_sim_activity a;
	double bw;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (n == 0)
		return CUDA_SUCCESS;
	if (!dst || !src)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = check_range_locked(dst, n, &ddev);
	if (rc == CUDA_SUCCESS)
		rc = check_range_locked(src, n, &sdev);
	if (rc == CUDA_SUCCESS && ((dir == CP_HTOD && !ddev) || (dir == CP_DTOH && !sdev) ||
				   (dir == CP_DTOD && (!ddev || !sdev))))
		rc = CUDA_ERROR_INVALID_VALUE;
	if (rc == CUDA_SUCCESS) {
		if (ddev && sdev)
			bw = SIM_COPY_DEVICE_BYTES_PER_NS;
		else if (ddev || sdev)
			bw = SIM_COPY_PCIE_BYTES_PER_NS;
		else
			bw = SIM_COPY_HOST_BYTES_PER_NS;
		rc = stream_enqueue_dev(async ? s : NULL, scaled(SIM_COPY_BASE_NS + (double)n / bw), &start, &end, &dev);
	}
	if (rc == CUDA_SUCCESS && (S.log_fd >= 0 || act_on())) {
		memset(&a, 0, sizeof a);
		have_a = 1;
		a.kind = MT_SIM_ACT_MEMCPY;
		a.device = dev;
		a.stream = async ? s : NULL;
		a.start_ns = start;
		a.end_ns = end;
		a.bytes = n;
		a.dst = dst;
		a.src = src;
		a.dst_mem = mem_kind_locked(dst);
		a.src_mem = mem_kind_locked(src);
		sim_log("copy dev=%d stream=%p bytes=%zu dst=%s src=%s start_ns=%llu end_ns=%llu", dev, a.stream, n,
			mem_kind_name[a.dst_mem], mem_kind_name[a.src_mem], (unsigned long long)start,
			(unsigned long long)end);
	}
	UNLOCK();
	if (rc == CUDA_SUCCESS && have_a)
		act_emit(&a);
	if (rc == CUDA_SUCCESS)
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
	return rc;
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
	SIM_API("cuMemcpy");
	return do_copy(dst, src, ByteCount, CP_ANY, NULL, 0);
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	SIM_API("cuMemcpyAsync");
	return do_copy(dst, src, ByteCount, CP_ANY, hStream, 1);
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	SIM_API("cuMemcpyHtoD_v2");
	return do_copy(dstDevice, (uint64_t)(uintptr_t)srcHost, ByteCount, CP_HTOD, NULL, 0);
}

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	SIM_API("cuMemcpyDtoH_v2");
	return do_copy((uint64_t)(uintptr_t)dstHost, srcDevice, ByteCount, CP_DTOH, NULL, 0);
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	SIM_API("cuMemcpyDtoD_v2");
	return do_copy(dstDevice, srcDevice, ByteCount, CP_DTOD, NULL, 0);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
{
	SIM_API("cuMemcpyHtoDAsync_v2");
	return do_copy(dstDevice, (uint64_t)(uintptr_t)srcHost, ByteCount, CP_HTOD, hStream, 1);
}

CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	SIM_API("cuMemcpyDtoHAsync_v2");
	return do_copy((uint64_t)(uintptr_t)dstHost, srcDevice, ByteCount, CP_DTOH, hStream, 1);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	SIM_API("cuMemcpyDtoDAsync_v2");
	return do_copy(dstDevice, srcDevice, ByteCount, CP_DTOD, hStream, 1);
}

static CUresult do_set(uint64_t dst, uint32_t v, size_t n, size_t elem, CUstream s, int async)
{
	int isdev, dev = -1, have_a = 0;
	uint64_t start = 0, end = 0;
	mt_sim_activity a;
	size_t i, bytes = n * elem;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dst || (elem > 1 && (dst & (elem - 1))) || (elem && bytes / elem != n))
		return CUDA_ERROR_INVALID_VALUE;
	if (n == 0)
		return CUDA_SUCCESS;
	LOCK();
	rc = check_range_locked(dst, bytes, &isdev);
	if (rc == CUDA_SUCCESS && !isdev)
		rc = CUDA_ERROR_INVALID_VALUE;
	if (rc == CUDA_SUCCESS)
		rc = stream_enqueue_dev(async ? s : NULL,
					scaled(SIM_MEMSET_BASE_NS + (double)bytes / SIM_COPY_DEVICE_BYTES_PER_NS), &start, &end,
					&dev);
	if (rc == CUDA_SUCCESS && (S.log_fd >= 0 || act_on())) {
		memset(&a, 0, sizeof a);
		have_a = 1;
		a.kind = MT_SIM_ACT_MEMSET;
		a.device = dev;
		a.stream = async ? s : NULL;
		a.start_ns = start;
		a.end_ns = end;
		a.bytes = bytes;
		a.dst = dst;
		a.src = v;
		a.dst_mem = mem_kind_locked(dst);
		sim_log("memset dev=%d stream=%p bytes=%zu start_ns=%llu end_ns=%llu", dev, a.stream, bytes,
			(unsigned long long)start, (unsigned long long)end);
	}
	UNLOCK();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (have_a)
		act_emit(&a);
	if (elem == 1) {
		memset((void *)(uintptr_t)dst, (int)(v & 0xff), n);
	} else {
		uint32_t *p = (uint32_t *)(uintptr_t)dst;
		for (i = 0; i < n; i++)
			p[i] = v;
	}
	return CUDA_SUCCESS;
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
	SIM_API("cuMemsetD8_v2");
	return do_set(dstDevice, uc, N, 1, NULL, 0);
}

CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
	SIM_API("cuMemsetD32_v2");
	return do_set(dstDevice, ui, N, 4, NULL, 0);
}

CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
	SIM_API("cuMemsetD8Async");
	return do_set(dstDevice, uc, N, 1, hStream, 1);
}

CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
	SIM_API("cuMemsetD32Async");
	return do_set(dstDevice, ui, N, 4, hStream, 1);
}

/* ------------------------------------------------------------------ VMM */

static CUresult check_prop(const CUmemAllocationProp *prop)
{
	if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.id < 0 || prop->location.id >= S.ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	return CUDA_SUCCESS;
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
				       CUmemAllocationGranularity_flags option)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!granularity || (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
			     option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_prop(prop)) != CUDA_SUCCESS)
		return rc;
	*granularity = SIM_VMM_GRANULARITY;
	return CUDA_SUCCESS;
}

static void handle_unref_locked(struct sim_handle *h)
{
	if (--h->refs)
		return;
	S.dev[h->dev].used -= h->size;
	S.dev[h->dev].vmm_phys -= h->size;
	sim_log("free kind=vmm dev=%d handle=%p size=%llu", h->dev, (void *)h, (unsigned long long)h->size);
	close(h->fd);
	h->magic = MAGIC_DEAD;
	free(h);
}

static struct sim_handle *handle_of(CUmemGenericAllocationHandle hh)
{
	struct sim_handle *h = (struct sim_handle *)(uintptr_t)hh;
	if (!h || h->magic != MAGIC_HANDLE)
		return NULL;
	return h;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
		     unsigned long long flags)
{
	struct sim_handle *h;
	struct sim_dev *d;
	int fd;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!handle || flags || size == 0 || size % SIM_VMM_GRANULARITY)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_prop(prop)) != CUDA_SUCCESS)
		return rc;
	d = &S.dev[prop->location.id];
	h = calloc(1, sizeof(*h));
	if (!h)
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK();
	if (size > d->capacity - d->used) {
		UNLOCK();
		free(h);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	fd = memfd_create("mt-sim-vmm", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		if (fd >= 0)
			close(fd);
		UNLOCK();
		free(h);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	h->magic = MAGIC_HANDLE;
	h->dev = prop->location.id;
	h->fd = fd;
	h->size = size;
	h->refs = 1;
	d->used += size;
	d->vmm_phys += size;
	sim_log("alloc kind=vmm dev=%d handle=%p size=%zu", h->dev, (void *)h, size);
	UNLOCK();
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)h;
	return CUDA_SUCCESS;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	struct sim_handle *h;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	h = handle_of(handle);
	if (!h || h->released) {
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	h->released = 1;
	handle_unref_locked(h);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
			     unsigned long long flags)
{
	long i = -1;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!ptr || size == 0 || size % SIM_VMM_GRANULARITY || (alignment & (alignment - 1)) ||
	    flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (alignment < SIM_VMM_GRANULARITY)
		alignment = SIM_VMM_GRANULARITY;
	LOCK();
	if (addr) /* a hint: taken when free, else anywhere */
		i = mt__arena_take(&S.vmm, size, alignment, addr);
	if (i < 0)
		i = mt__arena_take(&S.vmm, size, alignment, 0);
	if (i < 0) {
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	S.vmm.v[i].kind = K_RESERVE;
	S.vmm.v[i].req = size;
	S.reserved_bytes += size;
	*ptr = S.vmm.v[i].start;
	sim_log("reserve ptr=%#llx size=%zu", (unsigned long long)*ptr, size);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	long i;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	i = mt__arena_find(&S.vmm, ptr);
	if (i < 0 || S.vmm.v[i].start != ptr || S.vmm.v[i].size != size) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		size_t j = mt__arena_lower(&S.maps, ptr);
		if (j < S.maps.n && S.maps.v[j].start < ptr + size) {
			rc = CUDA_ERROR_INVALID_VALUE; /* still mapped */
		} else {
			S.reserved_bytes -= size;
			mt__arena_remove(&S.vmm, (size_t)i, NULL, NULL);
			sim_log("unreserve ptr=%#llx size=%zu", (unsigned long long)ptr, size);
		}
	}
	UNLOCK();
	return rc;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
		  unsigned long long flags)
{
	struct sim_handle *h;
	long r, m;
	void *p;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (flags || !ptr || size == 0 || size % SIM_VMM_GRANULARITY || offset % SIM_VMM_GRANULARITY ||
	    ptr % SIM_VMM_GRANULARITY)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	h = handle_of(handle);
	r = mt__arena_find(&S.vmm, ptr);
	if (!h || h->released || offset > h->size || size > h->size - offset || r < 0 ||
	    ptr + size > S.vmm.v[r].start + S.vmm.v[r].size) {
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	m = mt__arena_take(&S.maps, size, SIM_VMM_GRANULARITY, ptr);
	if (m < 0) { /* overlaps a mapping */
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, h->fd, (off_t)offset);
	if (p == MAP_FAILED) {
		mt__arena_remove(&S.maps, (size_t)m, NULL, NULL);
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	S.maps.v[m].kind = K_MAP;
	S.maps.v[m].obj = h;
	S.maps.v[m].off = offset;
	S.maps.v[m].dev = h->dev;
	S.maps.v[m].req = 0; /* access flags: none until cuMemSetAccess */
	h->refs++;
	sim_log("map ptr=%#llx size=%zu dev=%d handle=%p offset=%zu", (unsigned long long)ptr, size, h->dev,
		(void *)h, offset);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	size_t i, j;
	uint64_t at, end = ptr + size;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!ptr || size == 0 || end < ptr)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	/* The range must be exactly a run of whole, adjacent mappings. */
	i = mt__arena_lower(&S.maps, ptr);
	for (j = i, at = ptr; j < S.maps.n && at < end; j++) {
		if (S.maps.v[j].start != at || S.maps.v[j].start + S.maps.v[j].size > end)
			break;
		at += S.maps.v[j].size;
	}
	if (at != end || j == i) {
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	while (j-- > i) {
		struct sim_handle *h = S.maps.v[j].obj;
		mmap((void *)(uintptr_t)S.maps.v[j].start, S.maps.v[j].size, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
		mt__arena_remove(&S.maps, j, NULL, NULL);
		handle_unref_locked(h);
	}
	sim_log("unmap ptr=%#llx size=%zu", (unsigned long long)ptr, size);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	size_t i, j, k;
	uint64_t at, end = ptr + size;
	int prot = PROT_NONE, flags = 0;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!ptr || size == 0 || !desc || count == 0 || end < ptr)
		return CUDA_ERROR_INVALID_VALUE;
	for (k = 0; k < count; k++) {
		if (desc[k].location.type != CU_MEM_LOCATION_TYPE_DEVICE || desc[k].location.id < 0 ||
		    desc[k].location.id >= S.ndev)
			return CUDA_ERROR_INVALID_DEVICE;
		if (desc[k].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			prot = PROT_READ | PROT_WRITE, flags = 3;
		else if (desc[k].flags == CU_MEM_ACCESS_FLAGS_PROT_READ && flags < 1)
			prot = PROT_READ, flags = 1;
		else if (desc[k].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE && desc[k].flags != CU_MEM_ACCESS_FLAGS_PROT_READ)
			return CUDA_ERROR_INVALID_VALUE;
	}
	LOCK();
	i = mt__arena_lower(&S.maps, ptr);
	for (j = i, at = ptr; j < S.maps.n && at < end; j++) {
		if (S.maps.v[j].start > at)
			break;
		at = S.maps.v[j].start + S.maps.v[j].size;
	}
	if (at < end || j == i) {
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE; /* not wholly mapped */
	}
	for (k = i; k < j; k++)
		S.maps.v[k].req = (uint64_t)flags;
	mprotect((void *)(uintptr_t)ptr, size, prot);
	UNLOCK();
	return CUDA_SUCCESS;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	int dev = -1, type = 0;
	long i;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((dev = dev_of_addr(ptr)) >= 0) {
		if (mt__arena_find(&S.dev[dev].arena, ptr) >= 0)
			type = CU_MEMORYTYPE_DEVICE;
	} else if ((i = mt__arena_find(&S.maps, ptr)) >= 0) {
		dev = S.maps.v[i].dev;
		type = CU_MEMORYTYPE_DEVICE;
	} else if (mt__arena_find(&S.managed, ptr) >= 0) {
		dev = 0;
		type = CU_MEMORYTYPE_UNIFIED;
	} else if (mt__arena_find(&S.pinned, ptr) >= 0) {
		dev = 0;
		type = CU_MEMORYTYPE_HOST;
	}
	UNLOCK();
	if (!type)
		return CUDA_ERROR_INVALID_VALUE;
	switch (attribute) {
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
		*(unsigned int *)data = (unsigned int)type;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
		*(int *)data = dev;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		*(void **)data = (void *)(uintptr_t)ptr;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
		*(unsigned int *)data = type == CU_MEMORYTYPE_UNIFIED;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		*(CUcontext *)data = &S.dev[dev].ctx;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

/* ------------------------------------------------- modules and kernels */

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	struct CUmod_st *m;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	if ((rc = cur_dev_locked(&(int){ 0 })) != CUDA_SUCCESS) {
		UNLOCK();
		return rc;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		UNLOCK();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	m->magic = MAGIC_MOD;
	m->next = S.mods;
	if (S.mods)
		S.mods->prev = m;
	S.mods = m;
	UNLOCK();
	*module = m;
	return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hmod)
{
	struct CUfunc_st *f, *nf;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hmod || hmod->magic != MAGIC_MOD)
		return CUDA_ERROR_INVALID_HANDLE;
	LOCK();
	if (hmod->prev)
		hmod->prev->next = hmod->next;
	else
		S.mods = hmod->next;
	if (hmod->next)
		hmod->next->prev = hmod->prev;
	for (f = hmod->funcs; f; f = nf) {
		nf = f->next;
		f->magic = MAGIC_DEAD;
		free(f->name);
		free(f);
	}
	hmod->magic = MAGIC_DEAD;
	free(hmod);
	UNLOCK();
	return CUDA_SUCCESS;
}

/* Any name resolves: the simulated module does not parse its image. */
CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	struct CUfunc_st *f;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hfunc || !name || !*name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hmod || hmod->magic != MAGIC_MOD)
		return CUDA_ERROR_INVALID_HANDLE;
	LOCK();
	for (f = hmod->funcs; f; f = f->next)
		if (!strcmp(f->name, name))
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (f && !(f->name = strdup(name))) {
			free(f);
			f = NULL;
		}
		if (!f) {
			UNLOCK();
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		f->magic = MAGIC_FUNC;
		f->mod = hmod;
		f->next = hmod->funcs;
		hmod->funcs = f;
	}
	UNLOCK();
	*hfunc = f;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hfunc || hfunc->magic != MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	*name = hfunc->name;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hfunc || hfunc->magic != MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	switch (attrib) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
	case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
	case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
	case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = 49152; break;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = -1; break;
	default:
		if ((int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		*pi = 0;
	}
	return CUDA_SUCCESS;
}

/* Simulated kernel duration: latency + 1 ns per 8 threads, times
 * MT_SIM_TIME_SCALE.  Kernels do no device work. */
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
			unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
			unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
	SIM_API("cuLaunchKernel");
	uint64_t threads, start, end;
	int dev = -1;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!f || f->magic != MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!gridDimX || !gridDimY || !gridDimZ || !blockDimX || !blockDimY || !blockDimZ ||
	    gridDimX > 2147483647u || gridDimY > 65535 || gridDimZ > 65535 || blockDimX > 1024 ||
	    blockDimY > 1024 || blockDimZ > 64 || (uint64_t)blockDimX * blockDimY * blockDimZ > 1024 ||
	    sharedMemBytes > 232448 || (kernelParams && extra))
		return CUDA_ERROR_INVALID_VALUE;
	threads = (uint64_t)gridDimX * gridDimY * gridDimZ * blockDimX * blockDimY * blockDimZ;
	LOCK();
	rc = stream_enqueue_dev(hStream, scaled(SIM_KERNEL_BASE_NS + (double)threads / SIM_KERNEL_THREADS_PER_NS),
				&start, &end, &dev);
	if (rc == CUDA_SUCCESS) {
		f->launches++;
		S.launches++;
		sim_log("launch name=%s stream=%p grid=%u,%u,%u block=%u,%u,%u shmem=%u start_ns=%llu end_ns=%llu",
			f->name, (void *)hStream, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
			sharedMemBytes, (unsigned long long)start, (unsigned long long)end);
	}
	UNLOCK();
	if (rc == CUDA_SUCCESS && act_on()) {
		mt_sim_activity a;
		memset(&a, 0, sizeof a);
		a.kind = MT_SIM_ACT_KERNEL;
		a.device = dev;
		a.stream = hStream;
		a.start_ns = start;
		a.end_ns = end;
		a.name = f->name;
		a.grid[0] = gridDimX, a.grid[1] = gridDimY, a.grid[2] = gridDimZ;
		a.block[0] = blockDimX, a.block[1] = blockDimY, a.block[2] = blockDimZ;
		a.shmem = sharedMemBytes;
		act_emit(&a);
	}
	return rc;
}

/* -------------------------------------------------------------- streams */

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
	int dev;
	struct CUstream_st *s;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!phStream || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	LOCK();
	if ((rc = cur_dev_locked(&dev)) != CUDA_SUCCESS) {
		UNLOCK();
		free(s);
		return rc;
	}
	s->magic = MAGIC_STREAM;
	s->dev = dev;
	s->flags = flags;
	/* Priorities clamp to the device range [-5, 0] (lower is higher). */
	s->prio = priority > 0 ? 0 : priority < -5 ? -5 : priority;
	/* A new stream starts when the device's work so far is issued. */
	s->busy_ns = 0;
	s->next = S.dev[dev].streams;
	if (s->next)
		s->next->prev = s;
	S.dev[dev].streams = s;
	UNLOCK();
	*phStream = s;
	return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	return cuStreamCreateWithPriority(phStream, Flags, 0);
}

CUresult cuStreamDestroy_v2(CUstream hStream)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hStream || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD ||
	    hStream->magic != MAGIC_STREAM || hStream->legacy)
		return CUDA_ERROR_INVALID_HANDLE;
	LOCK();
	/* Work still queued on the stream finishes first: the legacy stream
	 * inherits its busy time so that later ordering stays sound. */
	if (hStream->prev)
		hStream->prev->next = hStream->next;
	else
		S.dev[hStream->dev].streams = hStream->next;
	if (hStream->next)
		hStream->next->prev = hStream->prev;
	hStream->magic = MAGIC_DEAD;
	UNLOCK();
	free(hStream);
	return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
	int dev;
	uint64_t *busy;
	struct CUstream_st *sp;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	LOCK();
	rc = stream_busy(hStream, &dev, &busy, &sp);
	UNLOCK();
	return rc;
}

CUresult cuStreamQuery(CUstream hStream)
{
	return cuStreamSynchronize(hStream);
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
	int dev;
	uint64_t *busy;
	struct CUstream_st *sp;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hEvent || hEvent->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	if (Flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = stream_busy(hStream, &dev, &busy, &sp);
	if (rc == CUDA_SUCCESS && hEvent->recorded && hEvent->t_ns > *busy)
		*busy = hEvent->t_ns;
	UNLOCK();
	return rc;
}

/* --------------------------------------------------------------- events */

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	int dev;
	struct CUevent_st *e;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!phEvent || (Flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)))
		return CUDA_ERROR_INVALID_VALUE;
	if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	rc = cur_dev_locked(&dev);
	UNLOCK();
	if (rc != CUDA_SUCCESS)
		return rc;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->magic = MAGIC_EVENT;
	e->dev = dev;
	e->flags = Flags;
	*phEvent = e;
	return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	uint64_t t;
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hEvent || hEvent->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	LOCK();
	rc = stream_enqueue(hStream, 0, &t, NULL);
	if (rc == CUDA_SUCCESS) {
		hEvent->recorded = 1;
		hEvent->t_ns = t;
	}
	UNLOCK();
	return rc;
}

CUresult cuEventQuery(CUevent hEvent)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hEvent || hEvent->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent hEvent)
{
	return cuEventQuery(hEvent);
}

CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pMilliseconds)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hStart || hStart->magic != MAGIC_EVENT || !hEnd || hEnd->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	LOCK();
	if (!hStart->recorded || !hEnd->recorded || (hStart->flags & CU_EVENT_DISABLE_TIMING) ||
	    (hEnd->flags & CU_EVENT_DISABLE_TIMING))
		rc = CUDA_ERROR_INVALID_HANDLE;
	else
		*pMilliseconds = (float)(((double)hEnd->t_ns - (double)hStart->t_ns) / 1e6);
	UNLOCK();
	return rc;
}

CUresult mt__cuEventElapsedTime_v1(float *pMilliseconds, CUevent hStart, CUevent hEnd) __asm__("cuEventElapsedTime");
CUresult mt__cuEventElapsedTime_v1(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}

CUresult cuEventDestroy_v2(CUevent hEvent)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hEvent || hEvent->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	hEvent->magic = MAGIC_DEAD;
	free(hEvent);
	return CUDA_SUCCESS;
}

/* --------------------------------------------------------------- errors */

static const struct {
	CUresult code;
	const char *name;
	const char *text;
} errors[] = {
	{ CUDA_SUCCESS, "CUDA_SUCCESS", "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
	{ CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down" },
	{ CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
	{ CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid" },
	{ CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context" },
	{ CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle" },
	{ CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found" },
	{ CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready" },
	{ CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered" },
	{ CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch" },
	{ CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure" },
	{ CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported" },
	{ CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error" },
};

CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	size_t i;
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == error) {
			*pStr = errors[i].text;
			return CUDA_SUCCESS;
		}
	*pStr = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	size_t i;
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == error) {
			*pStr = errors[i].name;
			return CUDA_SUCCESS;
		}
	*pStr = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

/* ------------------------------------------------------ cuGetProcAddress */

/* The 4-argument cuGetProcAddress of CUDA 11.3-11.8, under its own name. */
CUresult mt__cuGetProcAddress_v1(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
	__asm__("cuGetProcAddress");

static const struct proc {
	const char *name;
	const char *symbol;
	void *fn;
	int version;
} procs[] = {
#define MT_SIM_PROC_ENTRY(n, sym, ver) { n, #sym, (void *)sym, ver },
	MT_SIM_DRIVER_PROCS(MT_SIM_PROC_ENTRY)
#undef MT_SIM_PROC_ENTRY
};

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
			     CUdriverProcAddressQueryResult *symbolStatus)
{
	char base[128];
	size_t i, n;
	if (symbolStatus)
		*symbolStatus = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	if (!symbol || !pfn || cudaVersion <= 0 ||
	    (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)))
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	/* Per-thread-stream spellings answer with the same functions. */
	n = strlen(symbol);
	if (n >= sizeof(base))
		return CUDA_ERROR_NOT_FOUND;
	memcpy(base, symbol, n + 1);
	if (n > 5 && (!strcmp(base + n - 5, "_ptsz") || !strcmp(base + n - 5, "_ptds")))
		base[n - 5] = 0;
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		if (strcmp(procs[i].name, base) && strcmp(procs[i].symbol, base))
			continue;
		if (!strcmp(procs[i].name, "cuGetProcAddress") && !strcmp(base, procs[i].name) && cudaVersion < 12000) {
			*pfn = (void *)mt__cuGetProcAddress_v1;
		} else if (cudaVersion < procs[i].version) {
			if (symbolStatus)
				*symbolStatus = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
			return CUDA_ERROR_NOT_FOUND;
		} else {
			*pfn = procs[i].fn;
		}
		if (symbolStatus)
			*symbolStatus = CU_GET_PROC_ADDRESS_SUCCESS;
		return CUDA_SUCCESS;
	}
	return CUDA_ERROR_NOT_FOUND;
}

CUresult mt__cuGetProcAddress_v1(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}

/* ------------------------------------------------------ introspection */

int mt_sim_device_count(void)
{
	ensure_setup();
	return S.ndev;
}

#define DEV_STAT(fn, expr)                                  \
	uint64_t fn(int dev)                                \
	{                                                   \
		uint64_t v;                                 \
		ensure_setup();                             \
		if (dev < 0 || dev >= S.ndev)               \
			return 0;                           \
		LOCK();                                     \
		v = (expr);                                 \
		UNLOCK();                                   \
		return v;                                   \
	}
DEV_STAT(mt_sim_device_capacity, S.dev[dev].capacity)
DEV_STAT(mt_sim_device_used_bytes, S.dev[dev].used)
DEV_STAT(mt_sim_pool_used_bytes, S.dev[dev].pool_used)
DEV_STAT(mt_sim_vmm_physical_bytes, S.dev[dev].vmm_phys)
DEV_STAT(mt_sim_device_alloc_count, S.dev[dev].nallocs)

#define GLOBAL_STAT(fn, expr)   \
	uint64_t fn(void)       \
	{                       \
		uint64_t v;     \
		ensure_setup(); \
		LOCK();         \
		v = (expr);     \
		UNLOCK();       \
		return v;       \
	}
GLOBAL_STAT(mt_sim_host_pinned_bytes, S.pinned_bytes)
GLOBAL_STAT(mt_sim_managed_bytes, S.managed_bytes)
GLOBAL_STAT(mt_sim_vmm_reserved_bytes, S.reserved_bytes)

int mt_sim_device_of_ptr(const void *p)
{
	uint64_t a = (uint64_t)(uintptr_t)p;
	int dev;
	long i;
	ensure_setup();
	LOCK();
	dev = dev_of_addr(a);
	if (dev >= 0 && mt__arena_find(&S.dev[dev].arena, a) < 0)
		dev = -1;
	if (dev < 0 && (i = mt__arena_find(&S.maps, a)) >= 0)
		dev = S.maps.v[i].dev;
	UNLOCK();
	return dev;
}

uint64_t mt_sim_launch_count(const char *name)
{
	uint64_t n = 0;
	struct CUmod_st *m;
	struct CUfunc_st *f;
	ensure_setup();
	LOCK();
	if (!name) {
		n = S.launches;
	} else {
		for (m = S.mods; m; m = m->next)
			for (f = m->funcs; f; f = f->next)
				if (!strcmp(f->name, name))
					n += f->launches;
	}
	UNLOCK();
	return n;
}

uint64_t mt_sim_stream_busy_ns(void *s)
{
	int dev;
	uint64_t *busy, v = 0;
	struct CUstream_st *sp;
	ensure_setup();
	LOCK();
	if (stream_busy((CUstream)s, &dev, &busy, &sp) == CUDA_SUCCESS)
		v = stream_ready(dev, busy, sp);
	UNLOCK();
	return v;
}

/* ------------------------------------------------ the default memory pool
 * One per device, holding what cuMemAllocAsync took and has not been freed;
 * it caches nothing (cuMemAllocAsync above), so reserved = used.  What the
 * stream-ordered allocators (PyTorch's cudaMallocAsync backend) read their
 * statistics from. */
static struct CUmemPoolHandle_st *pool_of(int dev)
{
	return (struct CUmemPoolHandle_st *)(void *)&S.dev[dev];
}

static int dev_of_pool(CUmemoryPool pool)
{
	for (int d = 0; d < S.ndev; d++)
		if (pool == pool_of(d))
			return d;
	return -1;
}

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
	CUresult rc = check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pool_out)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0 || dev >= S.ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	*pool_out = pool_of(dev);
	return CUDA_SUCCESS;
}

CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
	CUresult rc = check_init();
	int d;
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value || (d = dev_of_pool(pool)) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	switch (attr) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		*(int *)value = 1;
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		*(cuuint64_t *)value = 0;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		*(cuuint64_t *)value = S.dev[d].pool_used;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		*(cuuint64_t *)value = S.dev[d].pool_high;
		break;
	default:
		UNLOCK();
		return CUDA_ERROR_INVALID_VALUE;
	}
	UNLOCK();
	return CUDA_SUCCESS;
}

/* Setting a high-water mark resets it (to the current use); the release
 * threshold and reuse flags are accepted and change nothing here. */
CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
	CUresult rc = check_init();
	int d;
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value || (d = dev_of_pool(pool)) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH || attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH) {
		LOCK();
		S.dev[d].pool_high = S.dev[d].pool_used;
		UNLOCK();
	}
	return CUDA_SUCCESS;
}

/* Sharing memory between processes (IPC, used by PyTorch's expandable
 * segments only when tensors are shared) and stream memory operations:
 * not simulated. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
CUresult cuMemExportToShareableHandle(void *shareableHandle, CUmemGenericAllocationHandle handle,
				      CUmemAllocationHandleType handleType, unsigned long long flags)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle, void *osHandle,
					CUmemAllocationHandleType shHandleType)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuStreamWriteValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
#pragma GCC diagnostic pop
