/* The dynamic batcher thread: forms batches from the head of each model's queue and submits
 * them while keeping the model's shared ring shallow, drops requests whose deadline passed.
 * It takes one model's lock at a time; submitters wake it through sched_kick_batcher. */
#include "inferd/clock.h"
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "batcher.h"
#include "inferd/log.h"
#include "scheduler_internal.h"

#define BATCHER_POLL_NS 500000LL /* ring full, nothing in flight: look again soon */
/* Ring full with batches in flight: their completion dispatches what waits (whoever drains
 * it calls sched_dispatch_ready), so the batcher only looks again as a backstop. Looking
 * every 500 us here cost a thread wake-up and lock contention with the loops under load. */
#define BATCHER_BACKSTOP_NS 20000000LL

/* Rows that may wait in the ring beyond the workers: one batch per idle worker, plus one.
 * A worker is idle when the model has fewer batches in flight than live workers. */
static int idle_estimate(const sched_model_state *ms)
{
    int idle = atomic_load(&ms->n_live) - ms->batches_in_flight;
    return idle > 0 ? idle : 0;
}

/* Forms and submits batches while the dispatch rule allows; returns ns until the next look
 * (-1: queue empty). Requests found expired are linked onto *expired. */
static int64_t dispatch_loop(scheduler *s, int m, int64_t now, infer_request **expired)
{
    sched_model_state *ms = &s->models[m];
    infer_request *reqs[SHM_MAX_BATCH];
    int64_t max_rows = batcher_max_rows(&ms->cfg);
    for (;;) {
        infer_request *head = sched_queue_peek(&ms->queue);
        if (!head) return -1;
        int idle = idle_estimate(ms);
        int64_t depth = (int64_t)shm_model_ring_size(ms->region, (uint32_t)ms->slot);
        if (!batcher_should_dispatch(ms->queue.rows, max_rows, head->enqueue_ns, now,
                                     ms->cfg.max_queue_delay_us, idle, depth)) {
            if (depth >= (int64_t)idle + 1)
                return ms->batches_in_flight > 0 ? BATCHER_BACKSTOP_NS : BATCHER_POLL_NS;
            int64_t due = head->enqueue_ns + ms->cfg.max_queue_delay_us * 1000 - now;
            return due > 0 ? due : BATCHER_POLL_NS;
        }
        int n = batcher_form(&ms->queue, max_rows, SHM_MAX_BATCH, now, reqs, expired);
        if (n == 0) continue;
        if (sched_dispatch(s, m, reqs, n) != 0) {
            for (int r = n; r-- > 0;) sched_queue_push_front(&ms->queue, reqs[r]);
            atomic_store(&s->slot_wait, 1); /* a freed batch slot kicks the batcher */
            return 1000000LL;               /* no slot / arena space: retry after completions */
        }
    }
}

int64_t sched_dispatch_ready(scheduler *s, int m, int64_t now, infer_request **done_list)
{
    sched_model_state *ms = &s->models[m];
    infer_request *expired = NULL, *req;
    while ((req = sched_queue_pop_expired(&ms->queue, now))) {
        req->next = expired;
        expired = req;
    }
    int64_t wait = dispatch_loop(s, m, now, &expired);
    /* The earliest deadline still queued is the next time anything can expire. */
    if (ms->queue.n_deadline > 0) {
        int64_t due = ms->queue.by_deadline[0]->deadline_ns - now;
        if (due < 0) due = 0;
        if (wait < 0 || due < wait) wait = due;
    }
    while (expired) {
        infer_request *next = expired->next;
        log_debug_limited("request dropped: deadline passed while queued id=%llu",
                          (unsigned long long)expired->id);
        sched_answer(s, expired, 504, "deadline exceeded while queued", done_list);
        expired = next;
    }
    return wait;
}

/* One pass over every model: dispatches what may go, answers what expired. Returns ns until
 * the next look (-1 = only when kicked). */
static int64_t batcher_pass(scheduler *s)
{
    int64_t wait = -1;
    for (int m = 0; m < s->n_models && !atomic_load(&s->workers_stop); m++) {
        sched_model_state *ms = &s->models[m];
        infer_request *done_list = NULL;
        pthread_mutex_lock(&ms->mu);
        int64_t w = sched_dispatch_ready(s, m, clock_now_ns(), &done_list);
        pthread_mutex_unlock(&ms->mu);
        sched_wake_workers(s, m);
        sched_finish_list(s, done_list);
        if (w >= 0 && (wait < 0 || w < wait)) wait = w;
    }
    return wait;
}

void *sched_batcher_main(void *arg)
{
    scheduler *s = arg;
    while (!atomic_load(&s->threads_stop)) {
        int64_t wait = batcher_pass(s);
        pthread_mutex_lock(&s->batcher_mu);
        atomic_store(&s->batcher_sleeping, 1);
        if (!atomic_load(&s->batcher_kicked) && !atomic_load(&s->threads_stop)) {
            if (wait < 0) {
                atomic_store(&s->batcher_wake_ns, INT64_MAX);
                pthread_cond_wait(&s->batcher_cv, &s->batcher_mu);
            } else {
                int64_t until = clock_now_ns() + wait;
                atomic_store(&s->batcher_wake_ns, until);
                struct timespec ts = {.tv_sec = until / 1000000000LL,
                                      .tv_nsec = until % 1000000000LL};
                pthread_cond_timedwait(&s->batcher_cv, &s->batcher_mu, &ts);
            }
        }
        atomic_store(&s->batcher_sleeping, 0);
        /* Awake: it will look at every queue before it sleeps again. */
        atomic_store(&s->batcher_wake_ns, INT64_MIN);
        atomic_store(&s->batcher_kicked, 0);
        pthread_mutex_unlock(&s->batcher_mu);
    }
    return NULL;
}
