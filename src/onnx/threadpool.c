/* The compute thread pool (threadpool.h): a job is (fn, arg, n) published under a mutex with
 * a generation bump. The indices are cut into one contiguous home range per thread (the caller
 * is thread 0); each thread takes its own range front to back, then takes what is left of the
 * others' (one atomic counter per range, so every index is taken once). The caller waits for
 * the count of finished indices. Spin, then futex, on both sides. */
#include "threadpool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TPOOL_SPINS 4000 /* the caller's wait for the job's end; a worker's longest spin */
#define TPOOL_LINE  64

/* One thread's home range of the current job: indices [next, end) not yet taken. On its own
 * cache line: the owner and a thief are the only writers. */
typedef struct tpool_range {
    _Alignas(TPOOL_LINE) _Atomic int64_t next;
    int64_t end;
} tpool_range;

typedef struct tpool_worker_arg {
    struct onnx_tpool *p;
    int id; /* 1..n_workers: the home range it takes first */
} tpool_worker_arg;

struct onnx_tpool {
    int n_workers;
    pthread_t *th;
    tpool_worker_arg *wa;
    tpool_range *ranges;  /* n_workers + 1, ranges[0] the caller's */
    pthread_mutex_t lock; /* the job fields below and workers' registration for a job */
    onnx_tpool_fn fn;
    void *arg;
    int64_t n;
    _Atomic int stop;
    _Atomic int busy; /* a parallel_for is running */
    /* read by spinning workers: kept off the lines the job's counters change on */
    _Alignas(TPOOL_LINE) _Atomic uint32_t gen; /* futex word: bumped per job and at stop */
    _Atomic int sleepers;                      /* workers in futex_wait on gen */
    _Alignas(TPOOL_LINE) _Atomic int active;   /* workers registered for the current job */
    _Atomic int64_t done;                      /* indices finished */
    _Atomic uint32_t finished;                 /* futex word: 1 when done == n */
    _Atomic int caller_sleeps;
};

static void tpool_futex_wait(_Atomic uint32_t *word, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void tpool_futex_wake(_Atomic uint32_t *word, int count)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

static inline void tpool_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Takes and runs indices of the job until none is left: thread `self`'s home range first, then
 * the others' in turn. A thread keeps to the same part of every job, so consecutive operators
 * split the same way find their inputs in its own cache rather than the other core's. */
static void tpool_take(onnx_tpool *p, int self, onnx_tpool_fn fn, void *arg, int64_t n)
{
    const int threads = p->n_workers + 1;
    int64_t ran = 0;
    for (int k = 0; k < threads; k++) {
        tpool_range *r = &p->ranges[(self + k) % threads];
        int64_t i;
        while (atomic_load_explicit(&r->next, memory_order_relaxed) < r->end &&
               (i = atomic_fetch_add(&r->next, 1)) < r->end) {
            fn(arg, i);
            ran++;
        }
    }
    /* counted once per thread and job, not per index: `done` is shared by both cores, and
     * each add moved its line across (~0.5 us here) */
    if (ran > 0 && atomic_fetch_add(&p->done, ran) + ran == n) {
        atomic_store(&p->finished, 1);
        if (atomic_load(&p->caller_sleeps)) tpool_futex_wake(&p->finished, 1);
    }
}

int onnx_tpool_spin_budget(int hit)
{
    if (hit < 0) hit = 0;
    if (hit > ONNX_TPOOL_HIT_ONE) hit = ONNX_TPOOL_HIT_ONE;
    return ONNX_TPOOL_SPIN_MIN +
           (int)((int64_t)(ONNX_TPOOL_SPIN_MAX - ONNX_TPOOL_SPIN_MIN) * hit / ONNX_TPOOL_HIT_ONE);
}

int onnx_tpool_spin_update(int hit, int caught)
{
    /* an average over about the last 16 waits; the +15 rounds a decay to 0 all the way */
    return caught ? hit + (ONNX_TPOOL_HIT_ONE - hit + 15) / 16 : hit - (hit + 15) / 16;
}

static void *tpool_worker(void *vp)
{
    const tpool_worker_arg *wa = vp;
    onnx_tpool *p = wa->p;
    uint32_t seen = 0;
    int hit = ONNX_TPOOL_HIT_ONE; /* how often this worker's recent spins caught a job */
    for (;;) {
        const int budget = onnx_tpool_spin_budget(hit);
        int spins = 0, slept = 0;
        while (atomic_load(&p->gen) == seen) {
            if (++spins < budget) {
                tpool_relax();
                continue;
            }
            slept = 1;
            atomic_fetch_add(&p->sleepers, 1);
            if (atomic_load(&p->gen) == seen) tpool_futex_wait(&p->gen, seen);
            atomic_fetch_sub(&p->sleepers, 1);
        }
        hit = onnx_tpool_spin_update(hit, !slept);
        pthread_mutex_lock(&p->lock);
        if (atomic_load(&p->stop)) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = atomic_load(&p->gen);
        onnx_tpool_fn fn = p->fn;
        void *arg = p->arg;
        int64_t n = p->n;
        atomic_fetch_add(&p->active, 1);
        pthread_mutex_unlock(&p->lock);
        tpool_take(p, wa->id, fn, arg, n);
        atomic_fetch_sub(&p->active, 1);
    }
}

onnx_tpool *onnx_tpool_create(int threads)
{
    const size_t size = (sizeof(onnx_tpool) + TPOOL_LINE - 1) / TPOOL_LINE * TPOOL_LINE;
    onnx_tpool *p = aligned_alloc(TPOOL_LINE, size);
    if (!p) return NULL;
    memset(p, 0, size);
    pthread_mutex_init(&p->lock, NULL);
    if (threads <= 1) return p;
    if (!(p->th = calloc((size_t)threads - 1, sizeof *p->th)) ||
        !(p->wa = calloc((size_t)threads - 1, sizeof *p->wa)) ||
        !(p->ranges = aligned_alloc(TPOOL_LINE, (size_t)threads * sizeof *p->ranges))) {
        onnx_tpool_free(p);
        return NULL;
    }
    memset(p->ranges, 0, (size_t)threads * sizeof *p->ranges);
    for (int i = 0; i < threads - 1; i++) {
        p->wa[i] = (tpool_worker_arg){.p = p, .id = i + 1};
        if (pthread_create(&p->th[i], NULL, tpool_worker, &p->wa[i]) != 0) {
            onnx_tpool_free(p);
            return NULL;
        }
        p->n_workers++;
    }
    return p;
}

void onnx_tpool_free(onnx_tpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1);
    pthread_mutex_unlock(&p->lock);
    tpool_futex_wake(&p->gen, p->n_workers);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->lock);
    free(p->th);
    free(p->wa);
    free(p->ranges);
    free(p);
}

int onnx_tpool_threads(const onnx_tpool *p)
{
    return p ? p->n_workers + 1 : 1;
}

void onnx_tpool_parallel_for(onnx_tpool *p, int64_t n, onnx_tpool_fn fn, void *arg)
{
    if (n <= 0) return;
    if (!p || p->n_workers == 0 || n == 1 || atomic_exchange(&p->busy, 1)) {
        for (int64_t i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->lock);
    /* workers that registered late for the previous job find it empty and leave; the job's
     * counters may be reset only when none still looks at them */
    while (atomic_load(&p->active) != 0) tpool_relax();
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    const int threads = p->n_workers + 1;
    for (int t = 0; t < threads; t++) {
        int64_t lo, hi;
        onnx_tpool_range(n, threads, t, &lo, &hi);
        atomic_store(&p->ranges[t].next, lo);
        p->ranges[t].end = hi;
    }
    atomic_store(&p->done, 0);
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->gen, 1);
    pthread_mutex_unlock(&p->lock);
    if (atomic_load(&p->sleepers) > 0) tpool_futex_wake(&p->gen, p->n_workers);
    tpool_take(p, 0, fn, arg, n);
    int spins = 0;
    while (atomic_load(&p->done) < n) {
        if (++spins < TPOOL_SPINS) {
            tpool_relax();
            continue;
        }
        atomic_store(&p->caller_sleeps, 1);
        if (atomic_load(&p->done) < n) tpool_futex_wait(&p->finished, 0);
        atomic_store(&p->caller_sleeps, 0);
    }
    atomic_store(&p->busy, 0);
}

int onnx_tpool_tasks(const onnx_tpool *p, int64_t items, int64_t work)
{
    const int threads = onnx_tpool_threads(p);
    if (threads <= 1 || items <= 1 || work < ONNX_TPOOL_MIN_WORK) return 1;
    /* big enough: several tasks per thread, taken one by one, so a thread that starts late
     * or is preempted leaves its share to the others */
    const int64_t want =
        work / ONNX_TPOOL_MIN_WORK >= (int64_t)threads * ONNX_TPOOL_TASKS_PER_THREAD
            ? (int64_t)threads * ONNX_TPOOL_TASKS_PER_THREAD
            : threads;
    return items < want ? (int)items : (int)want;
}

void onnx_tpool_range(int64_t n, int64_t tasks, int64_t i, int64_t *lo, int64_t *hi)
{
    const int64_t q = n / tasks, r = n % tasks;
    *lo = i * q + (i < r ? i : r);
    *hi = *lo + q + (i < r);
}
