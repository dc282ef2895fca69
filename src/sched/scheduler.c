/* The scheduler's public API (scheduler.h): creation, submit with admission control,
 * cancel, release, readiness and stats. The threads live in batcher.c,
 * scheduler_completion.c and supervisor.c, drain and destroy in scheduler_drain.c; the shared
 * state in scheduler_internal.h. */
#include "inferd/clock.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inferd/log.h"
#include "scheduler_internal.h"

void sched_options_default(sched_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->worker_path = "inferd-worker";
    opts->restart_backoff_min_ms = 100;
    opts->restart_backoff_max_ms = 10000;
    opts->scale_interval_ms = 500;
}

void sched_kick_batcher(scheduler *s)
{
    /* Store kicked, then load sleeping (the batcher does the reverse, both seq_cst): either
     * it sees the kick before it sleeps, or this sees it asleep and signals under the mutex
     * it sleeps with. A kick costs no lock while the batcher is awake. */
    atomic_store(&s->batcher_kicked, 1);
    if (atomic_load(&s->batcher_sleeping)) {
        pthread_mutex_lock(&s->batcher_mu);
        pthread_cond_signal(&s->batcher_cv);
        pthread_mutex_unlock(&s->batcher_mu);
    }
}

void sched_model_recount(scheduler *s, int m)
{
    int live = 0, starting = 0;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        if (s->workers[w].model != m) continue;
        if (s->workers[w].state == SCHED_WORKER_STARTING) starting++;
        else if (s->workers[w].state == SCHED_WORKER_LIVE) live++;
    }
    atomic_store(&s->models[m].n_live, live);
    atomic_store(&s->models[m].n_starting, starting);
}

/* The locks the hot path shares (a model's, the batch slots') spin briefly before sleeping:
 * they are held for microseconds, and a futex sleep + wake costs more. */
static void mutex_init_adaptive(pthread_mutex_t *mu)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(mu, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

void sched_free_state(scheduler *s)
{
    if (!s) return;
    if (s->batches)
        for (uint32_t i = 0; i < s->n_batches; i++) free(s->batches[i].reqs);
    free(s->batches);
    free(s->done_outs);
    free(s->done_statuses);
    free(s->workers);
    slot_share_destroy(&s->share);
    if (s->models)
        for (int m = 0; m < s->n_models; m++) {
            sched_queue_destroy(&s->models[m].queue);
            pthread_mutex_destroy(&s->models[m].mu);
        }
    free(s->models);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->batch_mu);
    pthread_mutex_destroy(&s->batcher_mu);
    pthread_cond_destroy(&s->batcher_cv);
    pthread_cond_destroy(&s->idle_cv);
    free(s);
}

int sched_create(const sched_options *opts, const model_config *models, int n,
                 shm_region *const *regions, shm_arena *const *arenas, scheduler **out, char *err,
                 size_t err_len)
{
    *out = NULL;
    if (n < 0 || (n > 0 && (!models || !regions || !arenas))) {
        snprintf(err, err_len, "scheduler: bad arguments");
        return -1;
    }
    /* Global batch and worker indices: each region's tables are full-size and used sparsely,
     * so take the smallest. */
    uint32_t n_batches = UINT32_MAX, n_workers = UINT32_MAX;
    for (int m = 0; m < n; m++) {
        if (!regions[m] || !regions[m]->header || !arenas[m] || regions[m]->max_models < 1) {
            snprintf(err, err_len, "scheduler: bad region for model %d", m);
            return -1;
        }
        if (regions[m]->batch_slots < n_batches) n_batches = regions[m]->batch_slots;
        if (regions[m]->max_workers < n_workers) n_workers = regions[m]->max_workers;
    }
    if (n == 0) n_batches = n_workers = 0;
    scheduler *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, err_len, "scheduler: out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    mutex_init_adaptive(&s->batch_mu);
    pthread_mutex_init(&s->batcher_mu, NULL);
    cond_init_monotonic(&s->batcher_cv);
    cond_init_monotonic(&s->idle_cv);
    if (opts) s->opts = *opts;
    else sched_options_default(&s->opts);
    if (s->opts.restart_backoff_min_ms <= 0) s->opts.restart_backoff_min_ms = 100;
    if (s->opts.restart_backoff_max_ms < s->opts.restart_backoff_min_ms)
        s->opts.restart_backoff_max_ms = s->opts.restart_backoff_min_ms;
    if (s->opts.scale_interval_ms <= 0) s->opts.scale_interval_ms = 500;
    snprintf(s->worker_path, sizeof(s->worker_path), "%s",
             s->opts.worker_path ? s->opts.worker_path : "inferd-worker");
    s->opts.worker_path = s->worker_path;
    s->n_batches = n_batches;
    s->n_workers = n_workers;
    s->models = calloc(n > 0 ? (size_t)n : 1, sizeof(*s->models));
    s->batches = calloc(s->n_batches ? s->n_batches : 1, sizeof(*s->batches));
    s->workers = calloc(s->n_workers ? s->n_workers : 1, sizeof(*s->workers));
    if (!s->models || !s->batches || !s->workers ||
        slot_share_init(&s->share, s->n_batches, n) != 0) {
        snprintf(err, err_len, "scheduler: out of memory");
        sched_free_state(s);
        return -1;
    }
    for (int m = 0; m < n; m++) {
        sched_model_state *ms = &s->models[m];
        ms->cfg = models[m];
        ms->slot = 0;
        ms->region = regions[m];
        ms->arena = arenas[m];
        mutex_init_adaptive(&ms->mu);
        sched_queue_init(&ms->queue);
        s->n_models = m + 1;
        snprintf(regions[m]->models[0].name, SHM_NAME_LEN, "%s", models[m].name);
    }
    for (uint32_t i = s->n_batches; i-- > 0;) {
        s->batches[i].next_free = s->free_batches;
        s->free_batches = &s->batches[i];
    }
    s->next_id = 1;
    s->next_tag = 1;
    static _Atomic uint64_t next_instance = 1;
    s->instance = atomic_fetch_add(&next_instance, 1);
    sched_cache_check_config(s);

    int rc = pthread_create(&s->supervisor_thread, NULL, sched_supervisor_main, s);
    if (rc == 0) {
        s->supervisor_started = 1;
        rc = pthread_create(&s->completion_thread, NULL, sched_completion_main, s);
    }
    if (rc == 0) {
        s->completion_started = 1;
        rc = pthread_create(&s->batcher_thread, NULL, sched_batcher_main, s);
    }
    if (rc == 0) s->batcher_started = 1;
    if (rc == 0) { /* names for profiles (perf, /proc/<pid>/task/<tid>/comm); best effort */
        pthread_setname_np(s->supervisor_thread, "sched-super");
        pthread_setname_np(s->completion_thread, "sched-complete");
        pthread_setname_np(s->batcher_thread, "sched-batcher");
    }
    if (rc != 0) {
        snprintf(err, err_len, "scheduler: cannot start threads: %s", strerror(rc));
        sched_destroy(s);
        return -1;
    }
    log_info("scheduler started models=%d batch_slots=%u worker_slots=%u worker=%s", n,
             s->n_batches, s->n_workers, s->worker_path);
    *out = s;
    return 0;
}

static int reject(infer_request *req, int status, int retry, const char *msg)
{
    req->status = status;
    req->retry_after_s = retry;
    req->n_outputs = 0;
    req->sched_out = NULL;
    snprintf(req->error, sizeof(req->error), "%s", msg);
    return -1;
}

/* sched_submit past the response cache. */
static int submit_queue(scheduler *s, infer_request *req, const char *bad);

int sched_submit(scheduler *s, infer_request *req)
{
    req->retry_after_s = 0;
    req->sched_out = NULL;
    req->n_outputs = 0;
    req->cache_entry = NULL;
    if (req->model < 0 || req->model >= s->n_models) return reject(req, 400, 0, "unknown model");
    sched_model_state *ms = &s->models[req->model];
    const char *bad = (int)req->n_inputs != ms->cfg.n_inputs || !req->done
                          ? "wrong number of inputs"
                      : ms->cfg.max_batch_size > 0 && req->batch_rows > ms->cfg.max_batch_size
                          ? "batch larger than the model's max_batch_size"
                          : NULL;
    if (!bad && sched_cache_submit(s, req)) return 0;
    int rc = submit_queue(s, req, bad);
    /* a refused leader: its followers get the same refusal (or are resubmitted) */
    if (rc != 0 && req->cache_entry) sched_cache_finish(s, req);
    return rc;
}

static int submit_queue(scheduler *s, infer_request *req, const char *bad)
{
    sched_model_state *ms = &s->models[req->model];
    int live = atomic_load(&ms->n_live), starting = atomic_load(&ms->n_starting);
    int64_t now = clock_now_ns();
    /* A restart due soon counts as starting: a crash must not turn into a burst of 503s. */
    if (live + starting == 0 && !atomic_load(&s->workers_stop) &&
        (ms->cfg.workers_min > 0 || ms->cfg.workers_max > 0) &&
        atomic_load(&ms->next_spawn_ns) - now <= 1000000000LL)
        starting = 1;
    pthread_mutex_lock(&ms->mu);
    if (bad) {
        ms->counters.requests_rejected++;
        ms->counters.outcomes[SCHED_OUTCOME_BAD_REQUEST]++;
        pthread_mutex_unlock(&ms->mu);
        return reject(req, 400, 0, bad);
    }
    admission_input in = {
        .now_ns = now,
        .deadline_ns = req->deadline_ns,
        .req_rows = sched_queue_req_rows(req),
        .queue_len = ms->queue.len,
        .max_queue_size = ms->cfg.max_queue_size,
        .queue_rows = ms->queue.rows,
        .rate_rows_per_s = ms->rate.rows_per_s,
        .live_workers = live,
        .starting_workers = starting,
        .draining = atomic_load(&s->draining) || atomic_load(&s->stopping),
    };
    char msg[200];
    int retry = 0;
    int status = admission_decide(&in, &retry, msg, sizeof(msg));
    req->id = atomic_fetch_add(&s->next_id, 1);
    req->enqueue_ns = now;
    req->trace_ns[INFER_TP_SUBMITTED] = now;
    req->attempts = 0;
    req->status = 0;
    req->error[0] = '\0';
    if (status == 0 && sched_queue_push(&ms->queue, req) != 0) {
        status = 503;
        retry = 1;
        snprintf(msg, sizeof(msg), "out of memory for the queue");
    }
    if (status != 0) {
        ms->counters.requests_rejected++;
        ms->counters.outcomes[sched_outcome_of_status(status)]++;
        pthread_mutex_unlock(&ms->mu);
        log_debug_limited("request rejected model=%s status=%d: %s", ms->cfg.name, status, msg);
        return reject(req, status, retry, msg);
    }
    atomic_fetch_add(&s->pending, 1);
    /* The fast path: with a worker idle the batch goes now, from this thread. */
    infer_request *done_list = NULL;
    int first = ms->queue.len == 1;
    sched_dispatch_ready(s, req->model, now, &done_list);
    /* Still queued: a completion of this model dispatches it, unless none is in flight; the
     * batcher must also hear of a first waiter when the model has a queue delay to time, and
     * of a deadline earlier than its next look. Otherwise waking it would only cost a context
     * switch (with no queue delay, the next completion is what lets the request go). */
    int kick =
        ms->queue.len > 0 &&
        ((first && ms->cfg.max_queue_delay_us > 0) || ms->batches_in_flight == 0 ||
         (req->deadline_ns > 0 && req->queue_pos != SCHED_QUEUE_NONE &&
          req->deadline_ns < atomic_load_explicit(&s->batcher_wake_ns, memory_order_relaxed)));
    int m = req->model; /* req may be answered by another thread once the lock is gone */
    pthread_mutex_unlock(&ms->mu);
    sched_wake_workers(s, m);
    if (kick) sched_kick_batcher(s);
    sched_finish_list(s, done_list);
    return 0;
}

void sched_note_rejected(scheduler *s, int m, int status)
{
    if (m < 0 || m >= s->n_models) return;
    pthread_mutex_lock(&s->models[m].mu);
    s->models[m].counters.requests_rejected++;
    s->models[m].counters.outcomes[sched_outcome_of_status(status)]++;
    pthread_mutex_unlock(&s->models[m].mu);
}

int sched_cancel(scheduler *s, infer_request *req)
{
    if (req->model < 0 || req->model >= s->n_models) return 0;
    sched_model_state *ms = &s->models[req->model];
    infer_request *done_list = NULL;
    pthread_mutex_lock(&ms->mu);
    int found = sched_queue_remove(&ms->queue, req);
    if (found)
        sched_answer(s, req, SCHED_STATUS_CANCELLED, "cancelled: the client went away", &done_list);
    pthread_mutex_unlock(&ms->mu);
    if (found)
        log_debug_limited("request cancelled id=%llu: the client went away",
                          (unsigned long long)req->id);
    sched_finish_list(s, done_list);
    return found;
}

void sched_release(scheduler *s, infer_request *req)
{
    if (req->model < 0 || req->model >= s->n_models) return; /* nothing can be allocated */
    shm_arena *arena = s->models[req->model].arena;
    for (uint32_t i = 0; i < req->n_inputs && i < MODEL_MAX_IO; i++) {
        shm_arena_free(arena, req->inputs[i].offset);
        req->inputs[i].offset = 0;
        req->inputs[i].nbytes = 0;
    }
    req->n_inputs = 0;
    sched_out_area *area = req->sched_out;
    req->sched_out = NULL;
    req->n_outputs = 0;
    if (area && atomic_fetch_sub(&area->refs, 1) == 1) {
        shm_arena_free(arena, area->offset);
        free(area);
    }
}

void sched_model_workers(scheduler *s, int m, int *live, int *starting, int *idle)
{
    *live = *starting = *idle = 0;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        sched_worker *wk = &s->workers[w];
        if (wk->state == SCHED_WORKER_EMPTY || wk->model != m) continue;
        if (wk->state == SCHED_WORKER_STARTING) {
            (*starting)++;
        } else if (wk->state == SCHED_WORKER_LIVE) {
            (*live)++;
            shm_worker *sw = &s->models[m].region->workers[w];
            if (atomic_load_explicit(&sw->in_hand, memory_order_relaxed) == 0) (*idle)++;
        }
    }
}

int sched_model_ready(scheduler *s, int m)
{
    if (m < 0 || m >= s->n_models) return 0;
    const sched_model_state *ms = &s->models[m];
    /* A pool that scales from zero is ready while it is not crash-looping. */
    return atomic_load(&ms->n_live) > 0 || (ms->cfg.workers_min <= 0 && ms->cfg.workers_max > 0 &&
                                            atomic_load(&ms->backoff_ms) == 0);
}

int sched_all_ready(scheduler *s)
{
    for (int m = 0; m < s->n_models; m++)
        if (!sched_model_ready(s, m)) return 0;
    return 1;
}

int sched_find_model(const scheduler *s, const char *name)
{
    for (int m = 0; m < s->n_models; m++)
        if (strcmp(s->models[m].cfg.name, name) == 0) return m;
    return -1;
}

const model_config *sched_model(const scheduler *s, int m)
{
    return m >= 0 && m < s->n_models ? &s->models[m].cfg : NULL;
}

int sched_model_count(const scheduler *s)
{
    return s->n_models;
}

shm_region *sched_model_region(scheduler *s, int m)
{
    return m >= 0 && m < s->n_models ? s->models[m].region : NULL;
}

shm_arena *sched_model_arena(scheduler *s, int m)
{
    return m >= 0 && m < s->n_models ? s->models[m].arena : NULL;
}

int sched_model_stats(scheduler *s, int m, sched_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (m < 0 || m >= s->n_models) return -1;
    pthread_mutex_lock(&s->mu);
    sched_model_state *ms = &s->models[m];
    int idle;
    sched_model_workers(s, m, &out->workers_live, &out->workers_starting, &idle);
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].state == SCHED_WORKER_STOPPING && s->workers[w].model == m)
            out->workers_stopping++;
    out->worker_spawns = ms->spawns;
    out->worker_restarts = ms->restarts;
    /* one scheduler per model in the node: its pending count is the model's */
    out->requests_in_flight = s->n_models == 1 ? atomic_load(&s->pending) : -1;
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].model == m && s->workers[w].crashed &&
            s->workers[w].state != SCHED_WORKER_LIVE && !atomic_load(&s->workers_stop))
            out->workers_restarting++;
    out->restart_backoff_ms = ms->backoff_ms;
    pthread_mutex_lock(&ms->mu);
    out->queue_len = ms->queue.len;
    out->queue_rows = ms->queue.rows;
    out->batches_in_flight = ms->batches_in_flight;
    out->rows_in_flight = ms->rows_in_flight;
    out->rows_per_s = ms->rate.rows_per_s;
    out->counters = ms->counters;
    pthread_mutex_unlock(&ms->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;
}
