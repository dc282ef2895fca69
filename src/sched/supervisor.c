/* The supervisor thread: every ~20 ms it reaps dead workers (recovering the batches they
 * held), notices attachment, kills hung workers, restarts crashed ones with exponential
 * backoff, and scales each model's pool between its min and max by load and idleness. */
#include "inferd/clock.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/log.h"
#include "scheduler_internal.h"

#define SUP_TICK_NS           20000000LL
#define SUP_LIVED_LONG_NS     10000000000LL /* a worker this old resets the backoff */
#define SUP_ATTACH_TIMEOUT_NS 30000000000LL
#define SUP_RATE_WINDOW_NS    250000000LL
#define SUP_SCALE_TICKS       3
#define SUP_STOP_TIMEOUT_NS   10000000000LL /* a stopping worker gets at least this long */
#define SUP_CLOCK_SLACK_NS    1000000000LL  /* a heartbeat this far in the future is a lie */

/* 1 if batch state st / owner names a live worker of model m other than w. */
static int held_by_other(const scheduler *s, int m, uint32_t w, uint32_t st, uint32_t owner)
{
    return (st == SHM_BATCH_CLAIMED || st == SHM_BATCH_DONE) && owner != w &&
           owner < s->n_workers && s->workers[owner].model == m &&
           s->workers[owner].state != SCHED_WORKER_EMPTY;
}

/* Recovers what dead worker w held and frees its slot. Caller holds mu. */
static void worker_died(scheduler *s, uint32_t w, int wstatus, infer_request **done_list)
{
    sched_worker *wk = &s->workers[w];
    sched_model_state *ms = &s->models[wk->model];
    shm_worker *sw = &sched_worker_region(s, w)->workers[w];
    int64_t now = clock_now_ns();
    int expected = s->workers_stop || wk->state == SCHED_WORKER_STOPPING;
    int was_starting =
        wk->state == SCHED_WORKER_STARTING && atomic_load(&sw->state) == SHM_WORKER_STARTING;
    if (WIFSIGNALED(wstatus))
        log_warn_limited("worker exited model=%s worker=%u pid=%d signal=%d (%s) lived_ms=%lld",
                         ms->cfg.name, w, (int)wk->pid, WTERMSIG(wstatus),
                         strsignal(WTERMSIG(wstatus)), (long long)((now - wk->spawn_ns) / 1000000));
    else
        log_write(expected && WEXITSTATUS(wstatus) == 0 ? LOG_INFO : LOG_WARN,
                  "worker exited model=%s worker=%u pid=%d status=%d lived_ms=%lld", ms->cfg.name,
                  w, (int)wk->pid, WEXITSTATUS(wstatus),
                  (long long)((now - wk->spawn_ns) / 1000000));
    if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0))
        expected = s->workers_stop || (wk->state == SCHED_WORKER_STOPPING && !wk->killed);

    /* Reaped: its pid may be reused from now on, so never signal it again. */
    wk->killed = 1;

    /* Completed batches in its ring are valid results (unless it lied: then none is read). */
    sched_drain_completions(s, w, done_list);

    /* What it held: a half-popped ring cell, every batch it CLAIMED, and every batch of its
     * model that is neither queued nor held by another live worker of the model. */
    pthread_mutex_lock(&ms->mu);
    for (uint32_t i = 0; i < s->n_batches; i++) s->batches[i].collected = 0;
    uint64_t cp = atomic_load(&sw->claim_pos);
    uint64_t value;
    if (cp != 0 && !ms->ring_corrupt &&
        shm_model_ring_repair(ms->region, (uint32_t)ms->slot, cp, &value) == 1) {
        if (value < s->n_batches && s->batches[value].state == SCHED_BATCH_SUBMITTED)
            s->batches[value].collected = 1;
        else
            log_error_limited("ring repair of worker %u gave unknown slot %llu", w,
                              (unsigned long long)value);
    }
    for (uint32_t i = 0; i < s->n_batches; i++) {
        sched_batch *b = &s->batches[i];
        shm_batch *rb = &ms->region->batches[i];
        if (b->state != SCHED_BATCH_SUBMITTED || b->model != wk->model) continue;
        uint32_t st = atomic_load(&rb->state), owner = rb->worker;
        if (st == SHM_BATCH_CLAIMED && owner == w) b->collected = 1;
        else if (st != SHM_BATCH_QUEUED && !held_by_other(s, wk->model, w, st, owner))
            b->collected = 1; /* not queued and nobody else's: it died marking it DONE, or it
                                 * rewrote state or owner. Either way it was the one holding it */
    }
    int resubmitted = 0, failed = 0;
    for (uint32_t i = 0; i < s->n_batches; i++) {
        sched_batch *b = &s->batches[i];
        if (!b->collected) continue;
        b->collected = 0;
        if (b->orphaned) {
            sched_batch_free(s, b);
        } else if (wk->lied) {
            sched_batch_fail(s, b, 500, "the worker running this request broke the protocol",
                             done_list);
            failed++;
        } else if (b->attempts < 2 && !s->workers_stop && !ms->ring_corrupt &&
                   sched_batch_resubmit(s, b) == 0) {
            resubmitted++;
            s->models[b->model].counters.batches_retried++;
        } else {
            sched_batch_fail(s, b, 500, "the worker running this request died", done_list);
            failed++;
        }
    }
    pthread_mutex_unlock(&ms->mu);
    if (resubmitted || failed)
        log_warn_limited("worker %u held batches model=%s resubmitted=%d failed=%d", w,
                         ms->cfg.name, resubmitted, failed);

    atomic_store(&sw->stop, 0);
    atomic_store(&sw->claim_pos, 0);
    atomic_store(&sw->in_hand, 0);
    atomic_store(&sw->pid, 0);
    atomic_store(&sw->state, SHM_WORKER_EMPTY);
    wk->state = SCHED_WORKER_EMPTY;
    wk->last_pid = wk->pid;
    wk->pid = 0;
    sched_model_recount(s, wk->model);

    if (!expected && !s->workers_stop) {
        wk->crashed = 1;
        ms->restarts++;
        int64_t b = ms->backoff_ms > 0 ? ms->backoff_ms * 2 : s->opts.restart_backoff_min_ms;
        if (b > s->opts.restart_backoff_max_ms) b = s->opts.restart_backoff_max_ms;
        ms->backoff_ms = b;
        ms->next_spawn_ns = now + b * 1000000LL;
        log_warn_limited("worker restart model=%s in %lld ms%s", ms->cfg.name, (long long)b,
                         was_starting ? " (it died before attaching)" : "");
    }
    pthread_cond_broadcast(&s->idle_cv);
    sched_kick_batcher(s);
}

/* Reaps, notices attachment, checks heartbeats. Caller holds mu. */
static void check_workers(scheduler *s, int64_t now, infer_request **done_list)
{
    for (uint32_t w = 0; w < s->n_workers; w++) {
        sched_worker *wk = &s->workers[w];
        if (wk->state == SCHED_WORKER_EMPTY) continue;
        int wstatus = 0;
        pid_t r = waitpid(wk->pid, &wstatus, WNOHANG);
        if (r == wk->pid || (r < 0 && errno == ECHILD)) {
            worker_died(s, w, r == wk->pid ? wstatus : 0, done_list);
            continue;
        }
        shm_worker *sw = &sched_worker_region(s, w)->workers[w];
        uint32_t st = atomic_load(&sw->state);
        sched_model_state *ms = &s->models[wk->model];
        if (wk->state == SCHED_WORKER_STARTING) {
            if (st == SHM_WORKER_IDLE || st == SHM_WORKER_BUSY) {
                wk->state = SCHED_WORKER_LIVE;
                wk->crashed = 0;
                wk->last_active_ns = now;
                sched_model_recount(s, wk->model);
                log_info("worker ready model=%s worker=%u pid=%d startup_ms=%lld", ms->cfg.name, w,
                         (int)wk->pid, (long long)((now - wk->spawn_ns) / 1000000));
                sched_kick_batcher(s);
            } else if (now - wk->spawn_ns > SUP_ATTACH_TIMEOUT_NS) {
                sched_worker_kill(s, w, "did not attach in time");
            }
            continue;
        }
        if (wk->state == SCHED_WORKER_STOPPING && wk->stop_ns > 0 &&
            now - wk->stop_ns > SUP_STOP_TIMEOUT_NS &&
            now - wk->stop_ns > ms->cfg.hang_timeout_ms * 1000000LL && !wk->killed) {
            sched_worker_kill(s, w, "asked to stop, still running");
            continue;
        }
        uint32_t in_hand = atomic_load(&sw->in_hand);
        uint64_t done = atomic_load(&sw->batches_done);
        int64_t hb = (int64_t)atomic_load(&sw->heartbeat_ns);
        if (!wk->killed) {
            /* What a live worker publishes must be plausible, or hang detection is blind. */
            /* against the clock read after hb, not `now`: a supervisor held up since `now`
             * (a starved machine) must not take a fresh heartbeat for one from the future */
            if (hb == 0 || hb > clock_now_ns() + SUP_CLOCK_SLACK_NS) {
                sched_worker_lied(s, w, hb ? "heartbeat in the future" : "heartbeat cleared");
                continue;
            }
            if (in_hand > s->n_batches) {
                sched_worker_lied(s, w, "in_hand larger than the batch table");
                continue;
            }
        }
        if (in_hand > 0 || done != wk->last_batches_done) {
            wk->last_active_ns = now;
            wk->last_batches_done = done;
        }
        /* Hung: no heartbeat for hang_timeout while it holds work, or while work waits in
         * its model's ring (a stopped worker that never claimed is just as stuck). */
        int64_t hang_ns = ms->cfg.hang_timeout_ms * 1000000LL;
        uint64_t waiting = shm_model_ring_size(ms->region, (uint32_t)ms->slot);
        int holds = in_hand > 0 || (waiting > 0 && wk->state == SCHED_WORKER_LIVE);
        if (holds && hang_ns > 0 && hb > 0 && now - hb > hang_ns && !wk->killed) {
            char why[112];
            snprintf(why, sizeof(why),
                     "hang: holds %u batches (%llu waiting), no heartbeat for %lld ms", in_hand,
                     (unsigned long long)waiting, (long long)((now - hb) / 1000000));
            sched_worker_kill(s, w, why);
        }
    }
}

void sched_worker_lied(scheduler *s, uint32_t w, const char *what)
{
    sched_worker *wk = &s->workers[w];
    if (wk->state == SCHED_WORKER_EMPTY || wk->killed)
        return; /* one line per worker, however often it is caught */
    wk->lied = 1;
    char why[160];
    snprintf(why, sizeof(why), "protocol violation: %s", what);
    sched_worker_kill(s, w, why);
}

void sched_model_ring_corrupt(scheduler *s, int m, const char *what)
{
    sched_model_state *ms = &s->models[m];
    if (ms->ring_corrupt) return;
    ms->ring_corrupt = 1;
    log_error_limited("model=%s %s: killing its workers, failing its queued batches, "
                      "resetting the ring",
                      ms->cfg.name, what);
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].model == m && s->workers[w].state != SCHED_WORKER_EMPTY)
            sched_worker_lied(s, w, "its model's submission ring was corrupted");
}

/* Once model m has no worker left (all reaped), nothing but the node can touch its ring:
 * fail what was still queued there and reset it. Returns 1 if the ring is usable again.
 * Caller holds mu (not the model's lock). */
static int ring_reset_if_unused(scheduler *s, int m, infer_request **done_list)
{
    sched_model_state *ms = &s->models[m];
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].model == m && s->workers[w].state != SCHED_WORKER_EMPTY) return 0;
    int failed = 0;
    pthread_mutex_lock(&ms->mu);
    for (uint32_t i = 0; i < s->n_batches; i++) {
        sched_batch *b = &s->batches[i];
        if (b->state != SCHED_BATCH_SUBMITTED || b->model != m) continue;
        failed += b->n;
        sched_batch_fail(s, b, 500, "the model's workers corrupted its submission ring", done_list);
    }
    shm_model_ring_reset(ms->region, (uint32_t)ms->slot);
    ms->ring_corrupt = 0;
    pthread_mutex_unlock(&ms->mu);
    log_warn_limited("model=%s submission ring reset; %d queued requests failed", ms->cfg.name,
                     failed);
    sched_kick_batcher(s);
    return 1;
}

/* Answers what waits for a model that has no worker and none coming soon. Caller holds mu. */
static void fail_orphan_model(scheduler *s, int m, infer_request **done_list)
{
    sched_model_state *ms = &s->models[m];
    infer_request *req;
    int n = 0;
    pthread_mutex_lock(&ms->mu);
    while ((req = sched_queue_pop(&ms->queue))) {
        req->retry_after_s = (int)((ms->next_spawn_ns - clock_now_ns()) / 1000000000LL) + 1;
        sched_answer(s, req, 503, "model has no live worker", done_list);
        n++;
    }
    /* The node may pop its own ring: nobody else will take these batches soon. At most
     * one ring's worth: what a worker left there cannot keep us here. */
    uint64_t value;
    for (uint32_t i = 0; i < ms->region->ring_capacity; i++) {
        int rc = shm_model_ring_pop(ms->region, (uint32_t)ms->slot, &value);
        if (rc == -EPROTO)
            sched_model_ring_corrupt(s, m, "submission ring inconsistent when popped");
        if (rc != 0) break;
        if (value < s->n_batches && s->batches[value].state == SCHED_BATCH_SUBMITTED &&
            s->batches[value].model == m) {
            n += s->batches[value].n;
            sched_batch_fail(s, &s->batches[value], 503, "model has no live worker", done_list);
        }
    }
    pthread_mutex_unlock(&ms->mu);
    if (n)
        log_warn_limited("model=%s has no live worker: answered %d waiting requests with 503",
                         ms->cfg.name, n);
}

/* Pool sizing of model m. Caller holds mu. */
static void manage_model(scheduler *s, int m, int64_t now, infer_request **done_list)
{
    sched_model_state *ms = &s->models[m];
    pthread_mutex_lock(&ms->mu);
    int has_work = ms->queue.len > 0 || ms->batches_in_flight > 0;
    int64_t load = ms->queue.rows + ms->rows_in_flight;
    admission_rate_tick(&ms->rate, now, has_work, SUP_RATE_WINDOW_NS);
    /* Checked under the model's lock: no push of a loop thread is half done meanwhile. */
    int suspect = atomic_exchange(&ms->ring_suspect, 0);
    int bad =
        !ms->ring_corrupt && (suspect || shm_model_ring_check(ms->region, (uint32_t)ms->slot) != 0);
    pthread_mutex_unlock(&ms->mu);
    if (bad)
        sched_model_ring_corrupt(s, m,
                                 suspect ? "submission ring inconsistent on push"
                                         : "submission ring positions or geometry changed");
    if (ms->ring_corrupt && !ring_reset_if_unused(s, m, done_list))
        return; /* its workers are still being killed */
    if (s->workers_stop) return;
    /* Draining: only keep workers coming for work that is still waiting. */
    if (s->draining && !has_work) return;
    int live, starting, idle;
    sched_model_workers(s, m, &live, &starting, &idle);
    for (uint32_t w = 0; w < s->n_workers; w++) {
        sched_worker *wk = &s->workers[w];
        if (wk->model != m) continue;
        if (wk->state == SCHED_WORKER_LIVE && now - wk->spawn_ns > SUP_LIVED_LONG_NS &&
            ms->backoff_ms > 0) {
            log_info("model=%s worker lived 10 s: restart backoff reset", ms->cfg.name);
            ms->backoff_ms = 0;
        }
    }
    int min = ms->cfg.workers_min > 0 ? ms->cfg.workers_min : 0;
    int max = ms->cfg.workers_max > min ? ms->cfg.workers_max : min;
    if (live + starting < min) {
        /* Fill the minimum at once, but only one at a time while crashes back off. */
        int need = ms->backoff_ms > 0 ? 1 : min - live - starting;
        for (int i = 0; i < need && now >= ms->next_spawn_ns; i++) {
            if (sched_spawn_worker(s, m, ms->backoff_ms > 0 ? "restart" : "min") != 0) break;
        }
        if (now < ms->next_spawn_ns && live + starting == 0 &&
            ms->next_spawn_ns - now > 1000000000LL && has_work)
            fail_orphan_model(s, m, done_list);
        return;
    }
    /* The minimum holds without them: dead workers' slots wait for no replacement. */
    for (uint32_t w = 0; w < s->n_workers; w++)
        if (s->workers[w].model == m && s->workers[w].state == SCHED_WORKER_EMPTY)
            s->workers[w].crashed = 0;
    /* min 0: the pool grows from zero on demand. */
    if (live + starting == 0 && max > 0 && has_work) {
        if (now >= ms->next_spawn_ns) sched_spawn_worker(s, m, "demand");
        else if (ms->next_spawn_ns - now > 1000000000LL) fail_orphan_model(s, m, done_list);
        return;
    }
    if (now - ms->last_scale_ns < s->opts.scale_interval_ms * 1000000LL) return;
    ms->last_scale_ns = now;
    int64_t per = ms->cfg.max_batch_size > 0 ? 2LL * ms->cfg.max_batch_size : 2;
    if (live > 0 && starting == 0 && load > per * live) ms->overload_ticks++;
    else ms->overload_ticks = 0;
    if (ms->overload_ticks >= SUP_SCALE_TICKS && live + starting < max &&
        now >= ms->next_spawn_ns) {
        log_info("scale up model=%s live=%d load_rows=%lld threshold=%lld", ms->cfg.name, live,
                 (long long)load, (long long)(per * live));
        ms->overload_ticks = 0;
        sched_spawn_worker(s, m, "scale-up");
        return;
    }
    int64_t idle_ns = ms->cfg.idle_timeout_ms * 1000000LL;
    if (idle_ns <= 0 || live <= min) return;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        sched_worker *wk = &s->workers[w];
        if (wk->state != SCHED_WORKER_LIVE || wk->model != m) continue;
        shm_worker *sw = &sched_worker_region(s, w)->workers[w];
        if (atomic_load(&sw->in_hand) == 0 && now - wk->last_active_ns > idle_ns) {
            log_info("scale down model=%s worker=%u pid=%d idle_ms=%lld live=%d", ms->cfg.name, w,
                     (int)wk->pid, (long long)((now - wk->last_active_ns) / 1000000), live - 1);
            wk->state = SCHED_WORKER_STOPPING;
            wk->stop_ns = now;
            sched_model_recount(s, m);
            atomic_store(&sw->stop, 1);
            shm_waiter_wake(&ms->region->models[ms->slot].work, INT_MAX);
            break; /* one per interval */
        }
    }
}

int64_t sched_progress_age_ns(scheduler *s)
{
    int64_t t = atomic_load_explicit(&s->progress_ns, memory_order_acquire);
    if (t == 0) return 0; /* the supervisor has not ticked yet (just created) */
    int64_t age = clock_now_ns() - t;
    return age > 0 ? age : 0;
}

void *sched_supervisor_main(void *arg)
{
    scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->threads_stop) {
        infer_request *done_list = NULL;
        int64_t now = clock_now_ns();
        /* Stamped only with the lock held: a thread stuck under mu stops the heartbeat, and
         * /v2/health/live reports it (sched_progress_age_ns). */
        atomic_store_explicit(&s->progress_ns, now, memory_order_release);
        /* Only the node may ask every worker to stop; a worker that did it lied. */
        for (int m = 0; m < s->n_models && !s->workers_stop; m++) {
            shm_header *h = s->models[m].region->header;
            if (atomic_load(&h->shutdown)) {
                atomic_store(&h->shutdown, 0);
                log_error_limited("a worker set the region's shutdown flag; cleared (model %s)",
                                  s->models[m].cfg.name);
            }
        }
        check_workers(s, now, &done_list);
        for (int m = 0; m < s->n_models; m++) manage_model(s, m, now, &done_list);
        pthread_mutex_unlock(&s->mu);
        sched_finish_list(s, done_list);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = SUP_TICK_NS};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->mu);
    }
    /* Stopping: no worker may outlive the scheduler. */
    for (uint32_t w = 0; w < s->n_workers; w++) {
        sched_worker *wk = &s->workers[w];
        if (wk->state == SCHED_WORKER_EMPTY) continue;
        int wstatus = 0;
        if (waitpid(wk->pid, &wstatus, WNOHANG) == 0) {
            sched_worker_kill(s, w, "scheduler stopped");
            waitpid(wk->pid, &wstatus, 0);
        }
        infer_request *done_list = NULL;
        worker_died(s, w, wstatus, &done_list);
        pthread_mutex_unlock(&s->mu);
        sched_finish_list(s, done_list);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
