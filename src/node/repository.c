/* The node's live model table (include/inferd/repository.h): the lock-free lookup the front
 * ends use per request, the index, the per-name records, and opening, draining and closing
 * the repository. Loading and unloading one slot is repository_slot.c, the operation queue
 * and poll rescans repository_thread.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/clock.h"
#include "inferd/log.h"
#include "repository_internal.h"

int repo_mode_parse(const char *s, repo_mode *out)
{
    static const char *names[] = {"none", "explicit", "poll"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (repo_mode)i;
            return 0;
        }
    return -1;
}

const char *repo_mode_name(repo_mode mode)
{
    return mode == REPO_MODE_EXPLICIT ? "explicit" : mode == REPO_MODE_POLL ? "poll" : "none";
}

const char *repo_state_name(repo_state state)
{
    switch (state) {
    case REPO_STATE_LOADING: return "LOADING";
    case REPO_STATE_READY: return "READY";
    case REPO_STATE_UNLOADING: return "UNLOADING";
    default: return "UNAVAILABLE";
    }
}

void repo_options_default(repo_options *o)
{
    memset(o, 0, sizeof *o);
    o->dir = "models";
    o->mode = REPO_MODE_NONE;
    o->poll_ms = 15000;
    shm_config_default(&o->shm);
    o->arena_mb = 256;
    sched_options_default(&o->sched);
    o->load_timeout_ms = 60000;
    o->unload_timeout_ms = 30000;
}

/* ---- the hot path ---------------------------------------------------------------------- */

/* Takes a reference on slot m if it is READY (see docs/scheduler.md for why the second load
 * of state makes this safe against a concurrent unload). */
static int slot_try_ref(repo_model *m)
{
    if (atomic_load_explicit(&m->state, memory_order_relaxed) != REPO_SLOT_READY) return 0;
    atomic_fetch_add(&m->refs, 1);
    if (atomic_load(&m->state) == REPO_SLOT_READY) return 1;
    atomic_fetch_sub(&m->refs, 1);
    return 0;
}

repo_model *repository_acquire(repository *r, const char *name)
{
    /* A reload may publish the new version in a slot this scan already passed and then take
     * the old one out before the scan reaches it; it bumps the generation in between, so a
     * scan that found nothing while the generation moved looks again. */
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned gen = atomic_load(&r->generation);
        int n = atomic_load(&r->n_slots);
        for (int i = 0; i < n; i++) {
            repo_model *m = &r->slots[i];
            if (!slot_try_ref(m)) continue;
            if (strcmp(m->stamp.cfg.name, name) == 0) return m;
            atomic_fetch_sub(&m->refs, 1);
        }
        if (atomic_load(&r->generation) == gen) break;
    }
    return NULL;
}

void repository_release(repo_model *m)
{
    if (m) atomic_fetch_sub(&m->refs, 1);
}

int repository_list(repository *r, repo_model **out, int max)
{
    int n = atomic_load(&r->n_slots), k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (slot_try_ref(&r->slots[i])) out[k++] = &r->slots[i];
    return k;
}

scheduler *repo_model_sched(const repo_model *m)
{
    return m->sched;
}

const model_config *repo_model_config(const repo_model *m)
{
    return &m->stamp.cfg;
}

shm_region *repo_model_region(const repo_model *m)
{
    return m->regions.regions[0];
}

shm_arena *repo_model_arena(const repo_model *m)
{
    return m->regions.arenas[0];
}

int64_t repository_progress_age_ns(repository *r)
{
    repo_model *ms[REPO_MAX_MODELS];
    int n = repository_list(r, ms, REPO_MAX_MODELS);
    int64_t worst = 0;
    for (int i = 0; i < n; i++) {
        int64_t age = sched_progress_age_ns(ms[i]->sched);
        if (age > worst) worst = age;
        repository_release(ms[i]);
    }
    return worst;
}

repo_model *repo_find_loaded(repository *r, const char *name)
{
    int n = atomic_load(&r->n_slots);
    for (int i = 0; i < n; i++) {
        repo_model *m = &r->slots[i];
        int st = atomic_load(&m->state);
        if ((st == REPO_SLOT_READY || st == REPO_SLOT_LOADING) &&
            strcmp(m->stamp.cfg.name, name) == 0)
            return m;
    }
    return NULL;
}

int repo_name_valid(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n < MODEL_NAME_LEN && name[0] != '.' && !strchr(name, '/');
}

/* ---- per-name records and the index ---------------------------------------------------- */

/* name's record, created if new. Caller holds mu. NULL only when out of memory. */
static repo_name *name_record(repository *r, const char *name)
{
    for (int i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i].name, name) == 0) return &r->names[i];
    if (r->n_names == r->cap_names) {
        int cap = r->cap_names ? r->cap_names * 2 : 16;
        repo_name *nn = realloc(r->names, (size_t)cap * sizeof *nn);
        if (!nn) return NULL;
        r->names = nn;
        r->cap_names = cap;
    }
    repo_name *rec = &r->names[r->n_names++];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->name, sizeof rec->name, "%s", name);
    return rec;
}

void repo_name_set(repository *r, const char *name, repo_state state, int version,
                   const char *reason)
{
    pthread_mutex_lock(&r->mu);
    repo_name *rec = name_record(r, name);
    if (rec) {
        rec->state = state;
        if (version > 0) rec->version = version;
        snprintf(rec->reason, sizeof rec->reason, "%.*s", (int)sizeof rec->reason - 1,
                 reason ? reason : "");
        if (state == REPO_STATE_READY) rec->failed_stamp_valid = 0;
    }
    pthread_mutex_unlock(&r->mu);
}

int repo_name_failed_same(repository *r, const char *name, const repo_stamp *st)
{
    pthread_mutex_lock(&r->mu);
    repo_name *rec = name_record(r, name);
    int same = rec && rec->failed_stamp_valid && repo_stamp_equal(&rec->failed_stamp, st);
    pthread_mutex_unlock(&r->mu);
    return same;
}

void repo_name_failed_remember(repository *r, const char *name, const repo_stamp *st)
{
    pthread_mutex_lock(&r->mu);
    repo_name *rec = name_record(r, name);
    if (rec) {
        rec->failed_stamp = *st;
        rec->failed_stamp_valid = 1;
    }
    pthread_mutex_unlock(&r->mu);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const repo_index_entry *)a)->name, ((const repo_index_entry *)b)->name);
}

int repository_index(repository *r, int ready_only, repo_index_entry **out, int *n, char *err,
                     size_t err_len)
{
    *out = NULL;
    *n = 0;
    char **dir_names = NULL;
    int n_dir = 0;
    if (model_repository_list(r->dir, &dir_names, &n_dir, err, err_len) != 0) return -1;
    pthread_mutex_lock(&r->mu);
    size_t cap = (size_t)r->n_names + (size_t)n_dir;
    repo_index_entry *e = calloc(cap ? cap : 1, sizeof *e);
    int k = 0;
    for (int i = 0; e && i < r->n_names; i++) {
        const repo_name *rec = &r->names[i];
        snprintf(e[k].name, sizeof e[k].name, "%s", rec->name);
        e[k].version = rec->version;
        e[k].state = rec->state;
        snprintf(e[k].reason, sizeof e[k].reason, "%s", rec->reason);
        k++;
    }
    int n_rec = k;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; e && i < n_dir; i++) {
        int known = 0;
        for (int j = 0; j < n_rec && !known; j++) known = strcmp(e[j].name, dir_names[i]) == 0;
        if (known || strlen(dir_names[i]) >= MODEL_NAME_LEN) continue;
        snprintf(e[k].name, sizeof e[k].name, "%s", dir_names[i]);
        e[k].state = REPO_STATE_UNAVAILABLE;
        snprintf(e[k].reason, sizeof e[k].reason, "not loaded");
        k++;
    }
    model_repository_list_free(dir_names, n_dir);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (ready_only) {
        int w = 0;
        for (int i = 0; i < k; i++)
            if (e[i].state == REPO_STATE_READY) e[w++] = e[i];
        k = w;
    }
    if (k > 1) qsort(e, (size_t)k, sizeof *e, entry_cmp);
    *out = e;
    *n = k;
    return 0;
}

/* ---- operations from other threads ----------------------------------------------------- */

static void enqueue(repository *r, int kind, const char *name, const char *config_json,
                    repository_done_cb done, void *arg)
{
    if (atomic_load(&r->draining)) {
        done(arg, 503, "the node is shutting down");
        return;
    }
    if (r->opts.mode != REPO_MODE_EXPLICIT) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "explicit model load and unload are not allowed in model control mode '%s' "
                 "(start the node with --model-control-mode explicit)",
                 repo_mode_name(r->opts.mode));
        done(arg, 400, msg);
        return;
    }
    if (!repo_name_valid(name)) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "'%.64s' is not a model name (1..%d bytes, no '/', not "
                 "starting with '.')",
                 name, MODEL_NAME_LEN - 1);
        done(arg, 400, msg);
        return;
    }
    repo_op *op = calloc(1, sizeof *op);
    if (!op || (config_json && !(op->config_json = strdup(config_json)))) {
        free(op);
        done(arg, 500, "out of memory");
        return;
    }
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->done = done;
    op->arg = arg;
    pthread_mutex_lock(&r->mu);
    if (r->ops_tail) r->ops_tail->next = op;
    else r->ops_head = op;
    r->ops_tail = op;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void repository_load(repository *r, const char *name, const char *config_json,
                     repository_done_cb done, void *arg)
{
    enqueue(r, REPO_OP_LOAD, name, config_json, done, arg);
}

void repository_unload(repository *r, const char *name, repository_done_cb done, void *arg)
{
    enqueue(r, REPO_OP_UNLOAD, name, NULL, done, arg);
}

/* ---- open, drain, close ---------------------------------------------------------------- */

/* Models in the directory that take a share of --arena-mb (config parses, no arena_mb). */
static int count_arena_share(repository *r, char **names, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        repo_stamp st;
        char why[256];
        if (repo_stamp_read(r, names[i], NULL, &st, why, sizeof why) == 0 && st.cfg.arena_mb <= 0)
            k++;
    }
    return k;
}

/* Loads at start what the mode says (not waiting for workers: readiness shows them). */
static int load_at_start(repository *r, char **names, int n, char *err, size_t err_len)
{
    char why[512];
    repo_stamp st;
    if (r->opts.mode == REPO_MODE_EXPLICIT) {
        for (int i = 0; i < r->opts.n_load_models; i++) {
            const char *name = r->opts.load_models[i];
            int rc = repo_stamp_read(r, name, NULL, &st, why, sizeof why);
            if (rc == 0) rc = repo_slot_load(r, &st, 0, why, sizeof why);
            if (rc != 0) {
                snprintf(err, err_len, "--load-model %s: %s", name, why);
                return -1;
            }
        }
        return 0;
    }
    int loaded = 0;
    for (int i = 0; i < n; i++) {
        int rc = repo_stamp_read(r, names[i], NULL, &st, why, sizeof why);
        if (rc == 0) rc = repo_slot_load(r, &st, 0, why, sizeof why);
        if (rc != 0) {
            log_error("model %s: skipped: %s", names[i], why);
            repo_name_set(r, names[i], REPO_STATE_UNAVAILABLE, 0, why);
            if (rc == 400) repo_name_failed_remember(r, names[i], &st);
        } else {
            loaded++;
        }
    }
    if (loaded == 0) {
        snprintf(err, err_len, "no model could be loaded from %s", r->dir);
        return -1;
    }
    return 0;
}

int repository_open(const repo_options *opts, repository **out, char *err, size_t err_len)
{
    *out = NULL;
    repository *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    r->opts = *opts;
    if (r->opts.poll_ms <= 0) r->opts.poll_ms = 15000;
    if (r->opts.load_timeout_ms <= 0) r->opts.load_timeout_ms = 60000;
    if (r->opts.unload_timeout_ms < 0) r->opts.unload_timeout_ms = 0;
    snprintf(r->dir, sizeof r->dir, "%s", opts->dir ? opts->dir : "models");
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &attr);
    pthread_condattr_destroy(&attr);

    char **names = NULL;
    int n = 0;
    if (model_repository_list(r->dir, &names, &n, err, err_len) != 0) {
        repository_close(r);
        return -1;
    }
    if (r->opts.arena_share <= 0) r->opts.arena_share = count_arena_share(r, names, n);
    int rc = load_at_start(r, names, n, err, err_len);
    model_repository_list_free(names, n);
    if (rc == 0) {
        rc = pthread_create(&r->thread, NULL, repo_thread_main, r);
        if (rc != 0) snprintf(err, err_len, "cannot start the repository thread");
        else r->thread_started = 1;
    }
    if (rc != 0) {
        repository_close(r);
        return -1;
    }
    log_info("model repository %s: model control mode %s", r->dir, repo_mode_name(r->opts.mode));
    *out = r;
    return 0;
}

/* Ends the repository's thread (it finishes the operation in hand) and answers the queued
 * ones 503. */
static void stop_thread(repository *r)
{
    atomic_store(&r->draining, 1);
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    repo_op *ops = r->ops_head;
    r->ops_head = r->ops_tail = NULL;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    while (ops) {
        repo_op *next = ops->next;
        ops->done(ops->arg, 503, "the node is shutting down");
        free(ops->config_json);
        free(ops);
        ops = next;
    }
    if (r->thread_started) pthread_join(r->thread, NULL);
    r->thread_started = 0;
}

int repository_drain(repository *r, int64_t timeout_ms)
{
    stop_thread(r);
    int n = atomic_load(&r->n_slots), left = 0;
    for (int i = 0; i < n; i++)
        if (atomic_load(&r->slots[i].state) != REPO_SLOT_EMPTY)
            sched_stop_intake(r->slots[i].sched);
    int64_t deadline = clock_now_ns() + timeout_ms * 1000000LL;
    for (int i = 0; i < n; i++) {
        if (atomic_load(&r->slots[i].state) == REPO_SLOT_EMPTY) continue;
        int64_t rest = (deadline - clock_now_ns()) / 1000000LL;
        left += sched_drain(r->slots[i].sched, rest > 0 ? rest : 0);
    }
    return left;
}

void repository_close(repository *r)
{
    if (!r) return;
    stop_thread(r);
    int n = atomic_load(&r->n_slots);
    for (int i = 0; i < n; i++) repo_slot_destroy(&r->slots[i]);
    free(r->names);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
