/* The live stats publisher thread (live_publish.h): every period, READY models and their
 * workers into the region's records, then the header's publish count last. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inferd/clock.h"
#include "inferd/live_stats.h"
#include "inferd/log.h"
#include "inferd/scheduler.h"
#include "live_publish.h"

struct live_publish {
    repository *repo;
    live_stats_writer w;
    int64_t period_ms;
    atomic_int state;
    uint64_t publishes;
    uint32_t models_prev, workers_prev; /* records written last time (cleared if unused now) */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* with mu: stop */
    int stop;
    pthread_t thread;
    sched_worker_info infos[LIVE_PUBLISH_WORKER_SLOTS];
};

static void model_record(repo_model *rm, live_stats_model *out)
{
    const model_config *cfg = repo_model_config(rm);
    scheduler *s = repo_model_sched(rm);
    sched_stats st;
    sched_model_stats(s, 0, &st);
    const sched_counters *c = &st.counters;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", cfg->name);
    out->version = cfg->version > 0 ? cfg->version : 1;
    out->ready = sched_model_ready(s, 0);
    out->requests_ok = c->requests_ok;
    out->ok_ns = c->ok_ns;
    out->requests_failed = c->requests_failed;
    out->failed_ns = c->failed_ns;
    out->requests_rejected = c->requests_rejected;
    out->requests_cancelled = c->requests_cancelled;
    out->batches = c->batches;
    out->batch_rows = c->batch_rows;
    out->batches_retried = c->batches_retried;
    out->queue_count = c->queue_count;
    out->queue_ns = c->queue_ns;
    out->compute_ns = c->compute_ns;
    out->queue_len = st.queue_len;
    out->queue_rows = st.queue_rows;
    out->batches_in_flight = st.batches_in_flight;
    out->rows_in_flight = st.rows_in_flight;
    out->workers_live = st.workers_live;
    out->workers_starting = st.workers_starting;
    out->workers_stopping = st.workers_stopping;
    out->workers_min = cfg->workers_min;
    out->workers_max = cfg->workers_max;
    out->worker_spawns = st.worker_spawns;
    out->restart_backoff_ms = st.restart_backoff_ms;
    out->rows_per_s_milli = (int64_t)(st.rows_per_s * 1000.0);
    out->arena_used = shm_arena_used(repo_model_arena(rm));
    out->arena_size = repo_model_region(rm)->arena_size;
}

static void publish(live_publish *p)
{
    repo_model *ms[REPO_MAX_MODELS];
    int n = repository_list(p->repo, ms, REPO_MAX_MODELS);
    uint32_t workers = 0;
    for (int i = 0; i < n; i++) {
        live_stats_model rec;
        model_record(ms[i], &rec);
        live_stats_write_model(&p->w, (uint32_t)i, &rec);
        int room = LIVE_PUBLISH_WORKER_SLOTS - (int)workers;
        int k = sched_worker_infos(repo_model_sched(ms[i]), 0, p->infos, room);
        for (int j = 0; j < k; j++) {
            const sched_worker_info *in = &p->infos[j];
            if (in->state == SCHED_WINFO_RESTARTING) continue; /* no process to show */
            live_stats_worker wr = {.model = i,
                                    .index = in->index,
                                    .pid = in->pid,
                                    .state = in->state,
                                    .in_hand = in->in_hand,
                                    .batches_done = in->batches_done,
                                    .requests_done = in->requests_done,
                                    .heartbeat_age_ns = in->heartbeat_age_ns,
                                    .age_ns = in->age_ns};
            live_stats_write_worker(&p->w, workers++, &wr);
        }
        repository_release(ms[i]);
    }
    static const live_stats_model no_model;
    static const live_stats_worker no_worker;
    for (uint32_t i = (uint32_t)n; i < p->models_prev; i++)
        live_stats_write_model(&p->w, i, &no_model);
    for (uint32_t i = workers; i < p->workers_prev; i++)
        live_stats_write_worker(&p->w, i, &no_worker);
    p->models_prev = (uint32_t)n;
    p->workers_prev = workers;

    live_stats_header h;
    memset(&h, 0, sizeof h);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h.publishes = ++p->publishes;
    h.published_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    h.published_mono_ns = clock_now_ns();
    h.models_used = (uint64_t)n;
    h.workers_used = workers;
    h.node_state = atomic_load(&p->state);
    live_stats_write_header(&p->w, &h);
}

static void *publish_main(void *arg)
{
    live_publish *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        publish(p);
        pthread_mutex_lock(&p->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + p->period_ms * 1000000LL;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void live_publish_sweep(void)
{
    int swept = live_stats_sweep(LIVE_STATS_DIR);
    if (swept > 0) log_info("live stats: removed %d region(s) of nodes that are gone", swept);
}

live_publish *live_publish_start(repository *repo, int port, int64_t period_ms, char *err,
                                 size_t err_len)
{
    live_publish *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "live stats: out of memory");
        return NULL;
    }
    p->repo = repo;
    p->period_ms = period_ms;
    atomic_init(&p->state, LIVE_NODE_STARTING);
    char path[256];
    pthread_condattr_t ca;
    if (live_stats_path(port, path, sizeof path) != 0 ||
        live_stats_writer_create(path, getpid(), port, period_ms, REPO_MAX_MODELS,
                                 LIVE_PUBLISH_WORKER_SLOTS, &p->w, err, err_len) != 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->thread, NULL, publish_main, p) != 0) {
        snprintf(err, err_len, "live stats: cannot start the publisher thread");
        live_stats_writer_close(&p->w, 1);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

const char *live_publish_path(const live_publish *p)
{
    return p->w.path;
}

void live_publish_set_state(live_publish *p, int state)
{
    if (p) atomic_store(&p->state, state);
}

void live_publish_stop(live_publish *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    live_stats_writer_close(&p->w, 1);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
