/* Answering requests: status, counters, pending count, done() after the locks (see
 * scheduler_answer.h). */
#include "scheduler_answer.h"

#include <stdio.h>

#include "inferd/clock.h"
#include "scheduler_internal.h"

void sched_count_answer(sched_counters *c, int status, int64_t took_ns)
{
    uint64_t ns = took_ns > 0 ? (uint64_t)took_ns : 0;
    c->outcomes[sched_outcome_of_status(status)]++;
    if (status != SCHED_STATUS_CANCELLED)
        c->last_inference_ms = (uint64_t)(clock_wall_ns() / 1000000);
    if (status == 0) {
        c->requests_ok++;
        c->ok_ns += ns;
        sched_hist_add(&c->hist[SCHED_HIST_REQUEST], SCHED_HIST_REQUEST, took_ns);
    } else if (status == SCHED_STATUS_CANCELLED) {
        c->requests_cancelled++;
    } else {
        c->requests_failed++;
        c->failed_ns += ns;
    }
}

void sched_answer(scheduler *s, infer_request *req, int status, const char *error,
                  infer_request **done_list)
{
    req->status = status;
    sched_count_answer(&s->models[req->model].counters, status, clock_now_ns() - req->enqueue_ns);
    if (status != 0) {
        req->n_outputs = 0;
        req->sched_out = NULL;
        snprintf(req->error, sizeof(req->error), "%s", error ? error : "error");
        if ((status == 503 || status == 429) && req->retry_after_s <= 0) req->retry_after_s = 1;
    } else {
        req->error[0] = '\0';
    }
    req->next = *done_list;
    *done_list = req;
    /* Only drain waits for the pending count to reach zero (in bounded timed waits). */
    if (atomic_fetch_sub(&s->pending, 1) == 1 && atomic_load(&s->draining))
        pthread_cond_broadcast(&s->idle_cv);
}

void sched_finish_list(scheduler *s, infer_request *list)
{
    /* sched_answer pushes in front: turned round, the first answered is the first told (the
     * requests of a batch in its order, the oldest first) */
    infer_request *fifo = NULL;
    while (list) {
        infer_request *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    list = fifo;
    while (list) {
        infer_request *next = list->next;
        list->next = NULL;
        if (list->cache_entry) sched_cache_finish(s, list);
        list->done(list);
        list = next;
    }
}
