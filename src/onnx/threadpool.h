/* Private: the runtime's one pool of compute threads per session (`threads` of
 * onnx_session_create): operators split their work with onnx_tpool_parallel_for.
 *
 * Threading rule: one parallel_for at a time per pool; a call made while one runs (from a
 * task, i.e. nested, or from another thread) runs its indices inline in the caller. Each
 * thread takes its own contiguous home range of a job's indices first (the caller the first),
 * then what is left of the others'. Workers spin briefly on the job generation, then sleep on a
 * futex; a job wakes them only if some sleep. */
#ifndef ONNX_THREADPOOL_H
#define ONNX_THREADPOOL_H

#include <stdint.h>

typedef struct onnx_tpool onnx_tpool;

/* fn(arg, i) for one index i of a parallel_for */
typedef void (*onnx_tpool_fn)(void *arg, int64_t i);

/* A pool of `threads` threads in all: the caller of parallel_for and threads - 1 workers
 * (threads <= 1: no workers, everything runs inline). Freed by onnx_tpool_free. NULL on
 * ENOMEM or if a thread cannot be started. */
onnx_tpool *onnx_tpool_create(int threads);
/* Stops and joins the workers; p may be NULL. */
void onnx_tpool_free(onnx_tpool *p);
/* Threads in the pool including the caller (1 for NULL). */
int onnx_tpool_threads(const onnx_tpool *p);
/* Calls fn(arg, i) exactly once for every i in [0, n), on the pool's threads and the caller's,
 * and returns when all have returned. p may be NULL (inline); n <= 0 does nothing. */
void onnx_tpool_parallel_for(onnx_tpool *p, int64_t n, onnx_tpool_fn fn, void *arg);

/* Below this much work (elements touched or multiply-adds, as the caller counts it) an
 * operator stays on the calling thread: waking a worker costs a few microseconds, which
 * batch-1 small ops do not repay. */
#define ONNX_TPOOL_MIN_WORK ((int64_t)1 << 16)

/* Tasks per thread for work of at least threads * this * ONNX_TPOOL_MIN_WORK. */
#define ONNX_TPOOL_TASKS_PER_THREAD 4

/* How many tasks to cut `items` independent items into (items split evenly, see
 * onnx_tpool_range): one per thread of p when `work` reaches ONNX_TPOOL_MIN_WORK,
 * ONNX_TPOOL_TASKS_PER_THREAD per thread when it is that many times larger, never more than
 * items; 1 without a pool or for small work. */
int onnx_tpool_tasks(const onnx_tpool *p, int64_t items, int64_t work);
/* Items [*lo, *hi) of task i of `tasks` over n items (contiguous, sizes differ by <= 1). */
void onnx_tpool_range(int64_t n, int64_t tasks, int64_t i, int64_t *lo, int64_t *hi);

/* A worker's spin before it sleeps, adapted to whether spinning pays: `hit` (0 ..
 * ONNX_TPOOL_HIT_ONE) is the share of its recent waits that a job ended while it spun. With
 * every wait caught (a quiet machine, an operator chain) it spins ONNX_TPOOL_SPIN_MAX pauses
 * (~80 us) so the next job finds it awake; when the jobs come rarer than that (long serial
 * stretches, or a loaded machine where it is descheduled) the spin is CPU taken from
 * everything else for nothing, and it shrinks towards ONNX_TPOOL_SPIN_MIN (~4 us). */
#define ONNX_TPOOL_SPIN_MAX 4000
#define ONNX_TPOOL_SPIN_MIN 200
#define ONNX_TPOOL_HIT_ONE  1024
/* The spin, in pauses, for share `hit` (clamped to 0 .. ONNX_TPOOL_HIT_ONE). */
int onnx_tpool_spin_budget(int hit);
/* `hit` after one more wait, caught while spinning or not: a moving average over ~16 waits
 * that reaches 0 after about 100 waits in a row not caught and ONNX_TPOOL_HIT_ONE after as
 * many caught. */
int onnx_tpool_spin_update(int hit, int caught);

#endif
