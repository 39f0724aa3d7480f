/* Simulated NCCL: the shared-memory rendezvous of one communicator.
 *
 * ncclGetUniqueId only invents a name.  The first rank to reach
 * ncclCommInitRank creates the POSIX shm segment of that name (O_EXCL),
 * sizes and initialises it, then publishes `ready`; the others open it, wait
 * for `ready`, and everyone waits under the segment's process-shared mutex
 * until all nranks have joined.  The last rank to join unlinks the name: the
 * mapping lives on in every rank and disappears with the last munmap.
 *
 * Every wait is bounded: MT_SIM_NCCL_TIMEOUT seconds (default 60), checked in
 * slices of at most 200 ms during which peers' pids are probed, so that a rank
 * that died or never came turns into ncclSystemError (or ncclRemoteError)
 * instead of a hang.  A failure marks the segment `broken` so that the other
 * ranks fail at their next wait too. */
#include "tests/sim/nccl/nccl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

double mt__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t env_size(const char *name, size_t dflt, size_t lo, size_t hi)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (end == s || v < lo || v > hi)
		return dflt;
	return (size_t)v;
}

/* Lock the segment's mutex; a holder that died leaves the mutex
 * EOWNERDEAD: make it consistent again and mark the communicator broken. */
static void shm_lock(struct mt__shm *s)
{
	int rc = pthread_mutex_lock(&s->mu);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(&s->mu);
		if (!atomic_load(&s->broken)) {
			snprintf(s->broken_msg, sizeof s->broken_msg,
				 "a rank died while holding the communicator lock");
			atomic_store(&s->broken, 1);
		}
	}
}

static void shm_unlock(struct mt__shm *s)
{
	pthread_mutex_unlock(&s->mu);
}

static struct mt__rank_info *info(struct mt__shm *s, int r)
{
	return (struct mt__rank_info *)((char *)s + s->off_info) + r;
}

/* Under the lock: a joined peer whose pid is gone breaks the comm. */
static int peers_dead(struct ncclComm *c)
{
	struct mt__shm *s = c->shm;
	for (int r = 0; r < s->nranks; r++) {
		struct mt__rank_info *ri = info(s, r);
		if (r == c->rank || !atomic_load(&ri->joined))
			continue;
		if (kill(ri->pid, 0) == -1 && errno == ESRCH) {
			if (!atomic_load(&s->broken)) {
				snprintf(s->broken_msg, sizeof s->broken_msg,
					 "rank %d (pid %d) exited", r, (int)ri->pid);
				atomic_store(&s->broken, 1);
				atomic_fetch_add(&s->change_seq, 1);
				pthread_cond_broadcast(&s->cv);
			}
			return 1;
		}
	}
	return 0;
}

/* Under the lock: sleep on the condvar until at most deadline (one slice). */
static void timed_wait_slice(struct mt__shm *s, double deadline)
{
	double now = mt__now();
	double until = deadline < now + 0.2 ? deadline : now + 0.2;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double add = until - now;
	if (add < 0)
		add = 0;
	ts.tv_sec += (time_t)add;
	ts.tv_nsec += (long)((add - (double)(time_t)add) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	int rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(&s->mu);
		atomic_store(&s->broken, 1);
	}
}

void mt__mark_broken(struct ncclComm *c, const char *msg)
{
	struct mt__shm *s = c->shm;
	shm_lock(s);
	if (!atomic_load(&s->broken)) {
		snprintf(s->broken_msg, sizeof s->broken_msg, "%s", msg);
		atomic_store(&s->broken, 1);
	}
	atomic_fetch_add(&s->change_seq, 1);
	pthread_cond_broadcast(&s->cv);
	shm_unlock(s);
}

static ncclResult_t broken_error(struct ncclComm *c)
{
	mt__set_error(c, "communicator broken: %s", c->shm->broken_msg);
	return ncclRemoteError;
}

static ncclResult_t timeout_error(struct ncclComm *c, const char *what)
{
	char msg[sizeof c->shm->broken_msg];
	snprintf(msg, sizeof msg, "rank %d timed out after %.1f s waiting for %s",
		 c->rank, mt__timeout_s(), what);
	mt__mark_broken(c, msg);
	mt__set_error(c, "%s (MT_SIM_NCCL_TIMEOUT)", msg);
	return ncclSystemError;
}

/* The creator's layout: every size is a multiple of 64 bytes. */
static void layout(struct mt__shm *s, int nranks)
{
	size_t n = (size_t)nranks;
	s->half_bytes = ALIGN_UP(env_size("MT_SIM_NCCL_CHUNK", 512 << 10, 4096, (size_t)1 << 30), 4096);
	size_t ring = ((size_t)16 << 20) / (n * n);
	if (ring > (256 << 10))
		ring = 256 << 10;
	if (ring < (16 << 10))
		ring = 16 << 10;
	s->ring_bytes = ALIGN_UP(env_size("MT_SIM_NCCL_RING", ring, 4096, (size_t)1 << 30), 4096);
	s->off_info = ALIGN_UP(sizeof(struct mt__shm), 64);
	s->off_slots = ALIGN_UP(s->off_info + n * sizeof(struct mt__rank_info), 4096);
	s->off_rings = s->off_slots + n * 2 * s->half_bytes;
	s->off_ringdata = ALIGN_UP(s->off_rings + n * n * sizeof(struct mt__ring), 4096);
	s->total_bytes = s->off_ringdata + n * n * s->ring_bytes;
}

static ncclResult_t create(struct ncclComm *c, int fd)
{
	struct mt__shm tmp;
	memset(&tmp, 0, sizeof tmp);
	layout(&tmp, c->nranks);
	if (ftruncate(fd, (off_t)tmp.total_bytes) != 0) {
		mt__set_error(c, "ftruncate(%s, %zu): %s", c->shm_name, tmp.total_bytes, strerror(errno));
		return ncclSystemError;
	}
	void *p = mmap(NULL, tmp.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mt__set_error(c, "mmap(%s): %s", c->shm_name, strerror(errno));
		return ncclSystemError;
	}
	struct mt__shm *s = p;
	memcpy(s, &tmp, sizeof tmp); /* the segment is zero-filled; copy sizes */
	s->version = MT__SHM_VERSION;
	s->nranks = c->nranks;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store_explicit(&s->ready, MT__SHM_READY, memory_order_release);
	c->shm = s;
	c->map_bytes = s->total_bytes;
	return ncclSuccess;
}

static ncclResult_t attach(struct ncclComm *c, int fd, double deadline)
{
	struct stat st;
	for (;;) {
		if (fstat(fd, &st) != 0) {
			mt__set_error(c, "fstat(%s): %s", c->shm_name, strerror(errno));
			return ncclSystemError;
		}
		if ((size_t)st.st_size >= sizeof(struct mt__shm))
			break;
		if (mt__now() > deadline)
			goto timeout;
		usleep(1000);
	}
	struct mt__shm *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		mt__set_error(c, "mmap(%s): %s", c->shm_name, strerror(errno));
		return ncclSystemError;
	}
	while (atomic_load_explicit(&h->ready, memory_order_acquire) != MT__SHM_READY) {
		if (mt__now() > deadline) {
			munmap(h, sizeof *h);
			goto timeout;
		}
		usleep(1000);
	}
	size_t total = h->total_bytes;
	int nranks = h->nranks;
	uint32_t version = h->version;
	munmap(h, sizeof *h);
	if (version != MT__SHM_VERSION) {
		mt__set_error(c, "rendezvous %s has layout version %u, this library %u",
			      c->shm_name, version, MT__SHM_VERSION);
		return ncclInvalidUsage;
	}
	if (nranks != c->nranks) {
		mt__set_error(c, "rank %d says nranks=%d but the communicator was created with nranks=%d",
			      c->rank, c->nranks, nranks);
		return ncclInvalidArgument;
	}
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		mt__set_error(c, "mmap(%s): %s", c->shm_name, strerror(errno));
		return ncclSystemError;
	}
	c->shm = p;
	c->map_bytes = total;
	return ncclSuccess;
timeout:
	mt__set_error(c, "rank %d timed out after %.1f s: rendezvous %s was never initialised (MT_SIM_NCCL_TIMEOUT)",
		      c->rank, mt__timeout_s(), c->shm_name);
	return ncclSystemError;
}

ncclResult_t mt__shm_join(struct ncclComm *c, const struct mt__uid *uid)
{
	double deadline = mt__now() + mt__timeout_s();
	snprintf(c->shm_name, sizeof c->shm_name, "%s", uid->shm_name);
	ncclResult_t rc;
	int fd;
	for (;;) {
		fd = shm_open(c->shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			rc = create(c, fd);
			break;
		}
		if (errno != EEXIST) {
			mt__set_error(c, "shm_open(%s): %s", c->shm_name, strerror(errno));
			return ncclSystemError;
		}
		fd = shm_open(c->shm_name, O_RDWR, 0);
		if (fd >= 0) {
			rc = attach(c, fd, deadline);
			break;
		}
		if (errno != ENOENT) { /* ENOENT: unlinked in between; retry */
			mt__set_error(c, "shm_open(%s): %s", c->shm_name, strerror(errno));
			return ncclSystemError;
		}
	}
	close(fd);
	if (rc != ncclSuccess)
		return rc;

	struct mt__shm *s = c->shm;
	shm_lock(s);
	struct mt__rank_info *me = info(s, c->rank);
	if (atomic_load(&s->broken)) {
		shm_unlock(s);
		rc = broken_error(c);
		goto fail;
	}
	if (atomic_load(&me->joined)) {
		shm_unlock(s);
		mt__set_error(c, "rank %d joined communicator %s twice", c->rank, c->shm_name);
		rc = ncclInvalidUsage;
		goto fail;
	}
	me->pid = getpid();
	me->cudev = c->cudev;
	me->node = c->node;
	atomic_store(&me->joined, 1);
	s->joined++;
	if (s->joined == s->nranks)
		shm_unlink(c->shm_name); /* everyone has it mapped now */
	atomic_fetch_add(&s->change_seq, 1);
	pthread_cond_broadcast(&s->cv);
	while (s->joined < s->nranks && !atomic_load(&s->broken)) {
		if (mt__now() > deadline)
			break;
		peers_dead(c);
		timed_wait_slice(s, deadline);
	}
	int joined = s->joined, broken = atomic_load(&s->broken);
	char missing[160] = "";
	if (joined < s->nranks) {
		size_t len = 0;
		for (int r = 0; r < s->nranks && len + 12 < sizeof missing; r++)
			if (!atomic_load(&info(s, r)->joined))
				len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%d", len ? "," : "", r);
	}
	shm_unlock(s);
	if (broken) {
		rc = broken_error(c);
		goto fail;
	}
	if (joined < s->nranks) {
		char what[200];
		snprintf(what, sizeof what, "ranks [%s] of %d to join %s", missing, s->nranks, c->shm_name);
		shm_unlink(c->shm_name); /* a late rank starts afresh, and times out */
		rc = timeout_error(c, what);
		goto fail;
	}
	return ncclSuccess;
fail:
	munmap(c->shm, c->map_bytes);
	c->shm = NULL;
	return rc;
}

void mt__shm_leave(struct ncclComm *c, int abort)
{
	if (!c->shm)
		return;
	if (abort) {
		char msg[80];
		snprintf(msg, sizeof msg, "rank %d called ncclCommAbort", c->rank);
		mt__mark_broken(c, msg);
	}
	munmap(c->shm, c->map_bytes);
	c->shm = NULL;
}

ncclResult_t mt__barrier(struct ncclComm *c)
{
	struct mt__shm *s = c->shm;
	double deadline = mt__now() + mt__timeout_s();
	shm_lock(s);
	if (atomic_load(&s->broken)) {
		shm_unlock(s);
		return broken_error(c);
	}
	uint64_t gen = s->bar_gen;
	if (++s->bar_count == s->nranks) {
		s->bar_count = 0;
		s->bar_gen++;
		atomic_fetch_add(&s->change_seq, 1);
		pthread_cond_broadcast(&s->cv);
		shm_unlock(s);
		return ncclSuccess;
	}
	while (s->bar_gen == gen && !atomic_load(&s->broken) && mt__now() <= deadline) {
		timed_wait_slice(s, deadline);
		if (s->bar_gen == gen)
			peers_dead(c);
	}
	int ok = s->bar_gen != gen, broken = atomic_load(&s->broken);
	shm_unlock(s);
	if (ok)
		return ncclSuccess;
	if (broken)
		return broken_error(c);
	return timeout_error(c, "the other ranks in a collective");
}

ncclResult_t mt__wait_change(struct ncclComm *c, uint64_t seen, double deadline)
{
	struct mt__shm *s = c->shm;
	shm_lock(s);
	while (atomic_load(&s->change_seq) == seen && !atomic_load(&s->broken) &&
	       mt__now() <= deadline) {
		timed_wait_slice(s, deadline);
		if (atomic_load(&s->change_seq) == seen)
			peers_dead(c);
	}
	int changed = atomic_load(&s->change_seq) != seen, broken = atomic_load(&s->broken);
	shm_unlock(s);
	if (broken)
		return broken_error(c);
	if (changed)
		return ncclSuccess;
	return timeout_error(c, "a peer in send/recv");
}

void mt__notify(struct ncclComm *c)
{
	struct mt__shm *s = c->shm;
	shm_lock(s);
	atomic_fetch_add(&s->change_seq, 1);
	pthread_cond_broadcast(&s->cv);
	shm_unlock(s);
}
