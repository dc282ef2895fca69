/* Graceful drain and destruction of the scheduler: stop accepting, let queued and running
 * requests finish (bounded), answer the rest 503, stop the workers (bounded), free. */
#include "inferd/clock.h"
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "inferd/log.h"
#include "inferd/resp_cache.h"
#include "scheduler_internal.h"

static void timed_wait(scheduler *s, pthread_cond_t *cv, int64_t until_ns)
{
    struct timespec ts = {.tv_sec = until_ns / 1000000000LL, .tv_nsec = until_ns % 1000000000LL};
    pthread_cond_timedwait(cv, &s->mu, &ts);
}

static int live_worker_count(scheduler *s)
{
    int n = 0;
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].state != SCHED_WORKER_EMPTY) n++;
    return n;
}

/* Answers everything still queued or in flight with 503. Caller holds mu. */
static void answer_all(scheduler *s, infer_request **done_list)
{
    for (int m = 0; m < s->n_models; m++) {
        sched_model_state *ms = &s->models[m];
        pthread_mutex_lock(&ms->mu);
        infer_request *req;
        while ((req = sched_queue_pop(&ms->queue)))
            sched_answer(s, req, 503, "the node is shutting down", done_list);
        for (uint32_t i = 0; i < s->n_batches; i++) {
            sched_batch *b = &s->batches[i];
            if (atomic_load_explicit(&b->state, memory_order_acquire) != SCHED_BATCH_SUBMITTED ||
                atomic_load_explicit(&b->model, memory_order_relaxed) != m || b->orphaned)
                continue;
            /* A worker may still hold it: answer its requests, keep the slot and its arena
             * ranges until the batch comes back or its worker is gone. */
            for (int r = 0; r < b->n; r++)
                sched_answer(s, b->reqs[r], 503, "the node is shutting down", done_list);
            b->orphaned = 1;
        }
        pthread_mutex_unlock(&ms->mu);
    }
}

static void stop_workers(scheduler *s)
{
    s->workers_stop = 1;
    for (int m = 0; m < s->n_models; m++) atomic_store(&s->models[m].region->header->shutdown, 1);
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].state != SCHED_WORKER_EMPTY)
            atomic_store(&sched_worker_region(s, w)->workers[w].stop, 1);
    for (int m = 0; m < s->n_models; m++)
        shm_waiter_wake(&s->models[m].region->models[s->models[m].slot].work, INT_MAX);
}

void sched_stop_intake(scheduler *s)
{
    if (!atomic_exchange(&s->draining, 1))
        log_info("scheduler draining pending=%lld", (long long)atomic_load(&s->pending));
    sched_kick_batcher(s);
}

int sched_drain(scheduler *s, int64_t timeout_ms)
{
    infer_request *done_list = NULL;
    pthread_mutex_lock(&s->mu);
    if (!s->draining)
        log_info("scheduler draining pending=%lld timeout_ms=%lld",
                 (long long)atomic_load(&s->pending), (long long)timeout_ms);
    s->draining = 1;
    sched_kick_batcher(s);
    int64_t deadline = clock_now_ns() + (timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    while (atomic_load(&s->pending) > 0 && clock_now_ns() < deadline) {
        int64_t until = clock_now_ns() + 50000000LL;
        timed_wait(s, &s->idle_cv, until < deadline ? until : deadline);
    }
    int left = (int)atomic_load(&s->pending);
    if (left > 0) log_warn("scheduler drain timed out: answering %d requests with 503", left);
    answer_all(s, &done_list);
    stop_workers(s);
    pthread_mutex_unlock(&s->mu);
    sched_finish_list(s, done_list);

    /* Workers finish what they hold and exit; the supervisor reaps them. */
    pthread_mutex_lock(&s->mu);
    int64_t stop_deadline = clock_now_ns() + 5000000000LL;
    while (live_worker_count(s) > 0 && clock_now_ns() < stop_deadline && s->supervisor_started)
        timed_wait(s, &s->idle_cv, clock_now_ns() + 20000000LL);
    if (live_worker_count(s) > 0) {
        for (uint32_t w = 0; w < s->n_workers; w++)
            if (s->workers[w].state != SCHED_WORKER_EMPTY)
                sched_worker_kill(s, w, "did not exit at shutdown");
        int64_t kill_deadline = clock_now_ns() + 2000000000LL;
        while (live_worker_count(s) > 0 && clock_now_ns() < kill_deadline && s->supervisor_started)
            timed_wait(s, &s->idle_cv, clock_now_ns() + 20000000LL);
    }
    pthread_mutex_unlock(&s->mu);
    log_info("scheduler drained unanswered=%d", left);
    return left;
}

void sched_destroy(scheduler *s)
{
    if (!s) return;
    int drained = atomic_load(&s->workers_stop);
    if (!drained && s->supervisor_started) sched_drain(s, 0);

    atomic_store(&s->stopping, 1);
    atomic_store(&s->threads_stop, 1);
    sched_kick_batcher(s);
    for (int m = 0; m < s->n_models; m++)
        shm_waiter_wake(&s->models[m].region->header->completion, INT_MAX);
    if (s->batcher_started) pthread_join(s->batcher_thread, NULL);
    if (s->completion_started) pthread_join(s->completion_thread, NULL);
    if (s->supervisor_started)
        pthread_join(s->supervisor_thread, NULL); /* kills and reaps any worker left */

    /* Nothing runs any more: answer what is left (only without a drain) and free. */
    infer_request *done_list = NULL;
    pthread_mutex_lock(&s->mu);
    answer_all(s, &done_list);
    for (uint32_t i = 0; i < s->n_batches; i++) {
        sched_batch *b = &s->batches[i];
        if (atomic_load(&b->state) != SCHED_BATCH_SUBMITTED) continue;
        sched_model_state *ms = &s->models[atomic_load(&b->model)];
        pthread_mutex_lock(&ms->mu);
        sched_batch_free(s, b);
        pthread_mutex_unlock(&ms->mu);
    }
    pthread_mutex_unlock(&s->mu);
    sched_finish_list(s, done_list);
    resp_cache_purge(s->opts.cache, s->instance);
    sched_free_state(s);
}
