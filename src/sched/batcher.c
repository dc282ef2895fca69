/* The dynamic batcher thread: forms batches from the head of each model's queue and submits
 * them while keeping the model's shared ring shallow, drops requests whose deadline passed. */
#include "inferd/clock.h"
#include <stdlib.h>
#include <time.h>

#include "batcher.h"
#include "inferd/log.h"
#include "scheduler_internal.h"

#define BATCHER_POLL_NS 500000LL      /* ring full of queued batches: look again soon */
#define BATCHER_SWEEP_NS 20000000LL   /* expired requests deep in a queue */

/* Moves every request of q whose deadline passed onto *expired. */
static void sweep_expired(sched_queue *q, int64_t now, infer_request **expired)
{
    sched_queue keep;
    sched_queue_init(&keep);
    infer_request *req;
    while ((req = sched_queue_pop(q))) {
        if (req->deadline_ns > 0 && req->deadline_ns <= now) {
            req->next = *expired;
            *expired = req;
        } else {
            /* Already in order: appending keeps it. */
            if (keep.tail) {
                keep.tail->next = req;
                keep.tail = req;
            } else {
                keep.head = keep.tail = req;
            }
            keep.len++;
            keep.rows += sched_queue_req_rows(req);
        }
    }
    *q = keep;
}

/* One pass over model m; returns ns until it wants to look again (-1 = only on signal). */
static int64_t batcher_model(scheduler *s, int m, int64_t now, infer_request **expired)
{
    sched_model_state *ms = &s->models[m];
    infer_request *reqs[SHM_MAX_BATCH];
    int64_t max_rows = batcher_max_rows(&ms->cfg);
    for (;;) {
        if (!ms->queue.head)
            return -1;
        int live, starting, idle;
        sched_model_workers(s, m, &live, &starting, &idle);
        int64_t depth = (int64_t)shm_model_ring_size(s->region, (uint32_t)ms->slot);
        if (!batcher_should_dispatch(ms->queue.rows, max_rows, ms->queue.head->enqueue_ns, now,
                                     ms->cfg.max_queue_delay_us, idle, depth)) {
            if (depth >= (int64_t)idle + 1)
                return BATCHER_POLL_NS;
            int64_t due = ms->queue.head->enqueue_ns + ms->cfg.max_queue_delay_us * 1000 - now;
            return due > 0 ? due : BATCHER_POLL_NS;
        }
        int n = batcher_form(&ms->queue, max_rows, SHM_MAX_BATCH, now, reqs, expired);
        if (n == 0)
            continue;
        if (sched_dispatch(s, m, reqs, n) != 0) {
            for (int r = n; r-- > 0;)
                sched_queue_push_front(&ms->queue, reqs[r]);
            return 1000000LL; /* no slot / arena space: retry after completions */
        }
    }
}

void *sched_batcher_main(void *arg)
{
    scheduler *s = arg;
    int64_t last_sweep = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->threads_stop) {
        infer_request *expired = NULL;
        int64_t now = clock_now_ns();
        int64_t wait = -1;
        int sweep = now - last_sweep >= BATCHER_SWEEP_NS;
        if (sweep)
            last_sweep = now;
        if (!s->workers_stop) {
            for (int m = 0; m < s->n_models; m++) {
                if (sweep)
                    sweep_expired(&s->models[m].queue, now, &expired);
                int64_t w = batcher_model(s, m, now, &expired);
                if (w >= 0 && (wait < 0 || w < wait))
                    wait = w;
                if (s->models[m].queue.head && (wait < 0 || wait > BATCHER_SWEEP_NS))
                    wait = BATCHER_SWEEP_NS;
            }
        }
        infer_request *done_list = NULL;
        while (expired) {
            infer_request *next = expired->next;
            log_debug("request dropped: deadline passed while queued id=%llu",
                      (unsigned long long)expired->id);
            sched_answer(s, expired, 504, "deadline exceeded while queued", &done_list);
            expired = next;
        }
        if (done_list) {
            pthread_mutex_unlock(&s->mu);
            sched_finish_list(done_list);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->threads_stop)
            break;
        if (wait < 0) {
            pthread_cond_wait(&s->batcher_cv, &s->mu);
        } else {
            int64_t until = clock_now_ns() + wait;
            struct timespec ts = {.tv_sec = until / 1000000000LL,
                                  .tv_nsec = until % 1000000000LL};
            pthread_cond_timedwait(&s->batcher_cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
