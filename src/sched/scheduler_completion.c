/* Answering finished batches: drains a worker's completion ring, checks each batch's outputs,
 * answers its requests (or resubmits it with a bigger output area, or fails it and kills a
 * worker that broke the protocol). Who drains: with a doorbell, the node's event loops before
 * they wait (woken by the doorbell), the completion thread only as a backstop; without one,
 * the completion thread, asleep on the regions' completion waiters. */
#include "inferd/fence.h"
#include "inferd/clock.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "inferd/log.h"
#include "inferd/shm_doorbell.h"
#include "scheduler_internal.h"

#define COMPLETION_SPIN_NS 5000
#define BACKSTOP_BUSY_NS   2000000LL  /* with a doorbell, while requests are in flight */
#define BACKSTOP_IDLE_NS   20000000LL /* with a doorbell, while nothing is */

static int status_http(int32_t st)
{
    switch (st) {
    case SHM_STATUS_OK: return 0;
    case SHM_STATUS_BAD_INPUT: return 400;
    case SHM_STATUS_DEADLINE: return 504;
    default: return 500;
    }
}

static const char *status_text(int32_t st)
{
    switch (st) {
    case SHM_STATUS_BAD_INPUT: return "the model rejected the inputs";
    case SHM_STATUS_DEADLINE: return "deadline exceeded before the model ran";
    default: return "the model failed";
    }
}

/* The worker's claim and completion times of b (its own clock, only shown: clamped into
 * [dispatch, seen] and in order, so that a request's stages always add up). */
static void worker_times(const shm_region *region, uint32_t slot, int64_t dispatched, int64_t seen,
                         int64_t *claimed, int64_t *ran)
{
    const volatile shm_batch *sb = &region->batches[slot];
    int64_t c = sb->claimed_ns, r = sb->done_ns;
    if (c < dispatched || c > seen) c = dispatched;
    if (r < c || r > seen) r = seen; /* unstamped (an older worker): its wait counts as run */
    *claimed = c;
    *ran = r;
}

/* Makes the scheduler's scratch for checked outputs hold n_desc tensors and n statuses (grown,
 * never shrunk: a warm scheduler answers a batch without malloc). Caller holds mu. */
static int done_scratch_reserve(scheduler *s, size_t n_desc, size_t n)
{
    if (n_desc > s->done_outs_cap) {
        shm_tensor *o = realloc(s->done_outs, n_desc * sizeof(*o));
        if (!o) return -1;
        s->done_outs = o;
        s->done_outs_cap = n_desc;
    }
    if (n > s->done_statuses_cap) {
        int32_t *st = realloc(s->done_statuses, n * sizeof(*st));
        if (!st) return -1;
        s->done_statuses = st;
        s->done_statuses_cap = n;
    }
    return 0;
}

/* Handles one DONE batch returned by worker w. Caller holds mu and the batch's model's lock. */
static void batch_done(scheduler *s, sched_batch *b, uint32_t w, infer_request **done_list)
{
    sched_model_state *ms = &s->models[b->model];
    if (b->orphaned) {
        sched_batch_free(s, b);
        return;
    }
    int32_t status;
    uint64_t needed;
    char werr[SHM_ERROR_LEN];
    shm_batch_read_result(ms->region, (uint32_t)(b - s->batches), &status, &needed, werr,
                          sizeof(werr));
    if (status < 0) {
        sched_batch_fail(s, b, 500, "the worker broke the protocol", done_list);
        sched_worker_lied(s, w, "batch status is not a known value");
        return;
    }

    if (status == SHM_STATUS_OUTPUT_TOO_SMALL) {
        uint64_t off;
        if (b->resized || needed <= b->snapshot.out_cap || needed > ms->region->arena_size ||
            shm_arena_alloc(ms->arena, needed, &off) != 0) {
            log_warn_limited("batch failed model=%s: output area too small (needed %llu, had %llu)",
                             ms->cfg.name, (unsigned long long)needed,
                             (unsigned long long)b->snapshot.out_cap);
            sched_batch_fail(s, b, 500, "model output larger than the node could hold", done_list);
            return;
        }
        shm_arena_free(ms->arena, b->snapshot.out_off);
        b->snapshot.out_off = off;
        b->snapshot.out_cap = needed;
        b->resized = 1;
        b->attempts--; /* not a failure: the retry does not count */
        if (sched_batch_resubmit(s, b) != 0)
            sched_batch_fail(s, b, 500, "cannot resubmit batch (ring full)", done_list);
        else
            log_debug_limited("batch resubmitted model=%s with out_cap=%llu", ms->cfg.name,
                              (unsigned long long)needed);
        return;
    }
    if (status != SHM_STATUS_OK) {
        int http = status == SHM_STATUS_DEADLINE ? 504 : 500;
        if (status == SHM_STATUS_BAD_INPUT) http = 400;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s%s%s", status_text(status), werr[0] ? ": " : "", werr);
        log_debug_limited("batch failed model=%s status=%d: %s", ms->cfg.name, (int)status, werr);
        sched_batch_fail(s, b, http, msg, done_list);
        return;
    }

    uint32_t n_out = b->snapshot.n_outputs;
    size_t n_desc = (size_t)b->n * (n_out ? n_out : 1);
    sched_out_area *area = malloc(sizeof(*area));
    char err[256];
    if (!area || done_scratch_reserve(s, n_desc, (size_t)b->n) != 0) {
        free(area);
        sched_batch_fail(s, b, 500, "out of memory", done_list);
        return;
    }
    shm_tensor *outs = s->done_outs;
    int32_t *statuses = s->done_statuses;
    if (shm_batch_check_outputs(ms->region, &b->snapshot, outs, statuses, err, sizeof(err)) != 0) {
        free(area);
        sched_batch_fail(s, b, 500, "the worker returned invalid outputs", done_list);
        sched_worker_lied(s, w, err);
        return;
    }
    admission_rate_add(&ms->rate, b->rows);
    int64_t seen = clock_now_ns(), took = seen - b->dispatch_ns;
    int64_t claimed, ran;
    worker_times(ms->region, (uint32_t)(b - s->batches), b->dispatch_ns, seen, &claimed, &ran);
    ms->counters.batches++;
    ms->counters.batch_rows += (uint64_t)b->rows;
    ms->counters.compute_ns += took > 0 ? (uint64_t)took : 0;
    sched_hist_add(&ms->counters.hist[SCHED_HIST_COMPUTE], SCHED_HIST_COMPUTE, took);
    sched_hist_add(&ms->counters.hist[SCHED_HIST_BATCH_ROWS], SCHED_HIST_BATCH_ROWS, b->rows);
    area->offset = b->snapshot.out_off;
    int refs = 0;
    for (int r = 0; r < b->n; r++) {
        infer_request *req = b->reqs[r];
        int http = status_http(statuses[r]);
        if (http != 0) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s%s%s", status_text(statuses[r]), werr[0] ? ": " : "",
                     werr);
            sched_answer(s, req, http, msg, done_list);
            continue;
        }
        req->trace_ns[INFER_TP_CLAIMED] = claimed;
        req->trace_ns[INFER_TP_RAN] = ran;
        req->trace_ns[INFER_TP_SEEN] = seen;
        req->n_outputs = n_out;
        for (uint32_t o = 0; o < n_out; o++) req->outputs[o] = outs[(size_t)r * n_out + o];
        req->sched_out = area;
        refs++;
        sched_answer(s, req, 0, NULL, done_list);
    }
    /* done() (and so sched_release) runs only after the locks, when the count is set. */
    atomic_init(&area->refs, refs);
    if (refs > 0) b->out_handed = 1;
    else free(area);
    sched_batch_free(s, b);
}

void sched_drain_completions(scheduler *s, uint32_t w, infer_request **done_list)
{
    int m = s->workers[w].model;
    sched_model_state *ms = &s->models[m];
    shm_region *region = ms->region;
    uint32_t slot;
    int handled = 0;
    pthread_mutex_lock(&ms->mu);
    /* At most one ring's worth per call, and nothing more from a worker caught lying: what
     * it wrote cannot keep this thread (and the locks) here. */
    for (uint32_t i = 0; i < region->completion_capacity && !s->workers[w].lied; i++) {
        int rc = shm_poll_completion(region, w, &slot);
        if (rc == -EPROTO) {
            sched_worker_lied(s, w, "completion ring head/tail or entry out of range");
            break;
        }
        if (rc != 0) break;
        sched_batch *b = &s->batches[slot]; /* slot < batch_slots: checked by the poll */
        if (slot >= s->n_batches ||
            atomic_load_explicit(&b->state, memory_order_acquire) != SCHED_BATCH_SUBMITTED ||
            atomic_load_explicit(&b->model, memory_order_relaxed) != m ||
            atomic_load(&region->batches[slot].state) != SHM_BATCH_DONE) {
            sched_worker_lied(s, w, "returned a batch slot it does not hold");
            break;
        }
        batch_done(s, b, w, done_list);
        handled++;
    }
    /* The worker is free again: hand it what waits, without a hop to the batcher. */
    if (handled && ms->queue.len > 0 && !atomic_load(&s->workers_stop))
        sched_dispatch_ready(s, m, clock_now_ns(), done_list);
    pthread_mutex_unlock(&ms->mu);
    sched_wake_workers(s, m);
}

/* 1 if worker w's completion ring looks non-empty: a hint read without the model's lock, so
 * that the spinning completion thread does not take every model's lock in turn. */
static int completions_waiting(scheduler *s, uint32_t w)
{
    shm_spsc *ring = shm_worker_completions(sched_worker_region(s, w), w);
    return atomic_load_explicit(&ring->head, memory_order_acquire) !=
           atomic_load_explicit(&ring->tail, memory_order_relaxed);
}

/* Drains every worker's completions once; returns 1 if anything was answered. */
static int drain_all(scheduler *s)
{
    infer_request *done_list = NULL;
    pthread_mutex_lock(&s->mu);
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].state != SCHED_WORKER_EMPTY && completions_waiting(s, w))
            sched_drain_completions(s, w, &done_list);
    pthread_mutex_unlock(&s->mu);
    int any = done_list != NULL;
    sched_finish_list(s, done_list);
    return any;
}

#define POLL_ROUNDS 4 /* looks one poller makes for the others before it hands back -1 */

/* One loop's look, pool lock held: drains every worker's ring. mu_poller says so meanwhile. */
static void poll_locked(scheduler *s, infer_request **done_list)
{
    atomic_store(&s->mu_poller, 1);
    atomic_store(&s->poll_wanted, 0);
    inferd_full_fence(); /* the clear, then the look at the rings */
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].state != SCHED_WORKER_EMPTY && completions_waiting(s, w))
            sched_drain_completions(s, w, done_list);
    atomic_store(&s->mu_poller, 0);
}

/* Two loops look before they wait, so they often meet on the pool lock. The one that finds
 * it taken by the other leaves a note (poll_wanted) and may sleep; the holder reads the note
 * after it unlocks and looks once more for it (docs/scheduler.md "Completions"). When the
 * holder is not a loop (supervisor, backstop), nobody reads the note: the caller must look
 * again itself (-1). */
int sched_poll_completions(scheduler *s)
{
    /* seq_cst: read after the caller's arm of its doorbell */
    if (atomic_load_explicit(&s->pending, memory_order_seq_cst) <= 0) return 0;
    atomic_store(&s->poll_wanted, 1);
    for (int round = 0; round < POLL_ROUNDS; round++) {
        if (pthread_mutex_trylock(&s->mu) != 0) return atomic_load(&s->mu_poller) ? 0 : -1;
        infer_request *done_list = NULL;
        poll_locked(s, &done_list);
        pthread_mutex_unlock(&s->mu);
        sched_finish_list(s, done_list);
        inferd_full_fence(); /* the unlock, then the look at the note */
        if (!atomic_load(&s->poll_wanted)) return 0;
    }
    return -1; /* notes keep coming: look again rather than sleep on one */
}

/* With a doorbell the loops answer; this thread only catches what a missed ring (a worker
 * that does not ring, a loop that could not take the pool lock, no loop running) left. */
static void backstop_main(scheduler *s)
{
    while (!atomic_load(&s->threads_stop)) {
        drain_all(s);
        int64_t nap = atomic_load(&s->pending) > 0 ? BACKSTOP_BUSY_NS : BACKSTOP_IDLE_NS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)nap};
        nanosleep(&ts, NULL);
    }
}

void *sched_completion_main(void *arg)
{
    scheduler *s = arg;
    if (s->opts.doorbell) {
        backstop_main(s);
        return NULL;
    }
    /* One wake-up word per model region (each model's workers can reach only theirs). */
    int n = s->n_models;
    shm_waiter **wake = calloc(n > 0 ? (size_t)n : 1, sizeof(*wake));
    uint32_t *seq = calloc(n > 0 ? (size_t)n : 1, sizeof(*seq));
    for (int m = 0; wake && m < n; m++) wake[m] = &s->models[m].region->header->completion;
    for (;;) {
        if (atomic_load(&s->threads_stop)) break;
        if (drain_all(s)) continue;
        /* Spin a few microseconds before sleeping: under load the next completion is
         * usually that close, and a futex sleep + wake costs more. */
        int found = 0;
        int64_t spin_until = clock_now_ns() + COMPLETION_SPIN_NS;
        while (!found && clock_now_ns() < spin_until) found = drain_all(s);
        if (found) continue;
        if (!wake || !seq || n == 0) { /* out of memory or no model: poll, bounded */
            struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000000};
            nanosleep(&nap, NULL);
            continue;
        }
        for (int m = 0; m < n; m++) seq[m] = shm_waiter_prepare(wake[m]);
        if (drain_all(s)) {
            for (int m = 0; m < n; m++) shm_waiter_cancel(wake[m]);
            continue;
        }
        /* Bounded: a worker that bumps or freezes its word costs a wake, never an answer. */
        shm_waiter_wait_any(wake, seq, n, 50000000LL);
    }
    free(wake);
    free(seq);
    return NULL;
}
