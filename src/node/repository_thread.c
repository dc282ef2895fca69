/* The repository's thread: runs load and unload operations one at a time, in order, and in
 * poll mode rescans the directory every poll period (new models loaded, changed ones
 * reloaded, removed ones unloaded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inferd/clock.h"
#include "inferd/log.h"
#include "repository_internal.h"

static void run_load(repository *r, repo_op *op)
{
    char err[512];
    repo_stamp st;
    int status = repo_stamp_read(r, op->name, op->config_json, &st, err, sizeof err);
    if (status == 0) {
        status = repo_slot_load(r, &st, 1, err, sizeof err);
    } else if (status != 404) {
        repo_note_failure(r, op->name, err);
    }
    if (status != 0) log_error("load of model %s failed: %s", op->name, err);
    op->done(op->arg, status, status ? err : "");
}

static void run_unload(repository *r, repo_op *op)
{
    repo_model *m = repo_find_loaded(r, op->name);
    if (m) {
        repo_slot_unload(r, m, "unloaded");
        op->done(op->arg, 0, "");
        return;
    }
    char err[512];
    repo_stamp st;
    int status = repo_stamp_read(r, op->name, NULL, &st, err, sizeof err);
    /* not loaded: fine if the repository has it, even with a broken config */
    op->done(op->arg, status == 404 ? 404 : 0, status == 404 ? err : "");
}

static int listed(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

/* Poll: one model folder looked at again. */
static void poll_model(repository *r, const char *name)
{
    char err[512];
    repo_stamp st;
    repo_model *loaded = repo_find_loaded(r, name);
    int status = repo_stamp_read(r, name, NULL, &st, err, sizeof err);
    if (status != 0) {
        if (repo_name_failed_same(r, name, &st)) return; /* said once already */
        repo_name_failed_remember(r, name, &st);
        log_error("poll: model %s: %s%s", name, err, loaded ? " (the loaded version stays)" : "");
        repo_note_failure(r, name, err);
        return;
    }
    if (loaded && repo_stamp_equal(&loaded->stamp, &st)) {
        repo_name_set(r, name, REPO_STATE_READY, 0, ""); /* a broken edit may have been undone */
        return;
    }
    if (repo_name_failed_same(r, name, &st)) return; /* this very version failed before */
    if (repo_slot_load(r, &st, 1, err, sizeof err) != 0) {
        log_error("poll: model %s: %s", name, err);
        repo_name_failed_remember(r, name, &st);
    }
}

void repo_poll_once(repository *r)
{
    char **names = NULL;
    int n = 0;
    char err[512];
    if (model_repository_list(r->dir, &names, &n, err, sizeof err) != 0) {
        log_error("poll: %s", err);
        return;
    }
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) < MODEL_NAME_LEN) poll_model(r, names[i]);
    int n_slots = atomic_load(&r->n_slots);
    for (int i = 0; i < n_slots; i++) {
        repo_model *m = &r->slots[i];
        if (atomic_load(&m->state) == REPO_SLOT_READY && !listed(names, n, m->stamp.cfg.name))
            repo_slot_unload(r, m, "removed from the repository");
    }
    model_repository_list_free(names, n);
}

static struct timespec abs_time(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
    return ts;
}

void *repo_thread_main(void *arg)
{
    repository *r = arg;
    int64_t next_poll = clock_now_ns() + r->opts.poll_ms * 1000000LL;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        repo_op *op = r->ops_head;
        if (op) {
            r->ops_head = op->next;
            if (!r->ops_head) r->ops_tail = NULL;
            pthread_mutex_unlock(&r->mu);
            if (op->kind == REPO_OP_LOAD) run_load(r, op);
            else run_unload(r, op);
            free(op->config_json);
            free(op);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (r->opts.mode != REPO_MODE_POLL) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        if (clock_now_ns() >= next_poll) {
            pthread_mutex_unlock(&r->mu);
            repo_poll_once(r);
            next_poll = clock_now_ns() + r->opts.poll_ms * 1000000LL;
            pthread_mutex_lock(&r->mu);
            continue;
        }
        struct timespec ts = abs_time(next_poll);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}
