/* The distinct (pointer, size) buffers a simulated library was handed
 * (cuBLAS's cublasSetWorkspace, cuBLASLt's and cuDNN's per-call
 * workspaces): its ground truth of the workspaces the caller allocated.
 * Shared by tests/sim/cublas, cublaslt and cudnn; thread-safe. */
#ifndef MT_SIM_BUFSET_H
#define MT_SIM_BUFSET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MT_SIM_BUFSET_MAX 256

struct mt_sim_bufset {
	pthread_mutex_t lock;
	int n;
	uint64_t max_need; /* the largest need noted */
	struct { void *ptr; uint64_t size; } b[MT_SIM_BUFSET_MAX];
};
#define MT_SIM_BUFSET_INIT { PTHREAD_MUTEX_INITIALIZER, 0, 0, {{0, 0}} }

/* Notes a need, and (ptr, size) once if ptr and size are non-zero. */
static inline void mt_sim_bufset_note(struct mt_sim_bufset *s, void *ptr, uint64_t size, uint64_t need)
{
	int i;
	pthread_mutex_lock(&s->lock);
	if (need > s->max_need)
		s->max_need = need;
	if (ptr && size) {
		for (i = 0; i < s->n && !(s->b[i].ptr == ptr && s->b[i].size == size); i++)
			;
		if (i == s->n && i < MT_SIM_BUFSET_MAX) {
			s->b[i].ptr = ptr;
			s->b[i].size = size;
			s->n++;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* Up to max (pointer, size) pairs in first-noted order into ptrs / sizes
 * (either may be NULL); returns how many there are. */
static inline int mt_sim_bufset_get(struct mt_sim_bufset *s, unsigned long long *ptrs, void *sizes, size_t size_width,
				    int max)
{
	int i, n;
	pthread_mutex_lock(&s->lock);
	n = s->n;
	for (i = 0; i < n && i < max; i++) {
		if (ptrs)
			ptrs[i] = (unsigned long long)(uintptr_t)s->b[i].ptr;
		if (sizes && size_width == sizeof(uint64_t))
			((uint64_t *)sizes)[i] = s->b[i].size;
		else if (sizes)
			((size_t *)sizes)[i] = (size_t)s->b[i].size;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static inline uint64_t mt_sim_bufset_max_need(struct mt_sim_bufset *s)
{
	uint64_t v;
	pthread_mutex_lock(&s->lock);
	v = s->max_need;
	pthread_mutex_unlock(&s->lock);
	return v;
}

#endif
