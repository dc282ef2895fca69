/* Loading and unloading one slot of the live model table (docs/scheduler.md, "Model
 * lifecycle"): region and scheduler made, a worker awaited, published READY; or taken out of
 * lookup, drained, stopped and freed. Runs on the repository's thread (or at open/close). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "inferd/clock.h"
#include "inferd/log.h"
#include "inferd/model_config_triton.h"
#include "repository_internal.h"

#define REPO_REFS_GRACE_MS 10000 /* after the drain, how long held references may linger */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

int repo_stamp_read(repository *r, const char *name, const char *config_json, repo_stamp *out,
                    char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!repo_name_valid(name)) {
        snprintf(err, err_len,
                 "'%.64s' is not a model name (1..%d bytes, no '/', not starting "
                 "with '.')",
                 name, MODEL_NAME_LEN - 1);
        return 400;
    }
    char dir[MODEL_PATH_LEN];
    struct stat st;
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", r->dir, name) >= sizeof dir ||
        stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "no model '%s' in the repository %s", name, r->dir);
        return 404;
    }
    char why[384];
    char *native = NULL; /* a Triton-shaped override, as config.json */
    int rc = config_json ? model_config_from_triton(config_json, &native, why, sizeof why) : 0;
    if (rc >= 0)
        rc = config_json ? model_config_parse(name, dir, native ? native : config_json, &out->cfg,
                                              why, sizeof why)
                         : model_config_load(dir, &out->cfg, why, sizeof why);
    free(native);
    if (rc != 0) {
        snprintf(err, err_len, "%s%s", config_json ? "config override: " : "", why);
        return 400;
    }
    if (r->opts.backend_available && !r->opts.backend_available(out->cfg.backend)) {
        snprintf(err, err_len, "backend '%s' is not available in this build", out->cfg.backend);
        return 400;
    }
    if (out->cfg.model_file[0] && stat(out->cfg.model_file, &st) == 0) {
        out->file_size = (int64_t)st.st_size;
        out->file_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        out->file_ino = (uint64_t)st.st_ino;
    }
    return 0;
}

int repo_stamp_equal(const repo_stamp *a, const repo_stamp *b)
{
    /* both were zeroed before they were filled (repo_stamp_read), padding included */
    return memcmp(a, b, sizeof *a) == 0;
}

void repo_note_failure(repository *r, const char *name, const char *err)
{
    repo_model *loaded = repo_find_loaded(r, name);
    if (!loaded) {
        repo_name_set(r, name, REPO_STATE_UNAVAILABLE, 0, err);
        return;
    }
    char reason[REPO_REASON_LEN];
    snprintf(reason, sizeof reason, "version %d still serves; the new one did not load: %.160s",
             loaded->stamp.cfg.version > 0 ? loaded->stamp.cfg.version : 1, err);
    repo_name_set(r, name, REPO_STATE_READY, 0, reason);
}

/* Waits until model 0 of s is ready: 0, or an HTTP status with err. */
static int wait_ready(repository *r, scheduler *s, const char *name, char *err, size_t err_len)
{
    int64_t deadline = clock_now_ns() + r->opts.load_timeout_ms * 1000000LL;
    for (;;) {
        if (sched_model_ready(s, 0)) return 0;
        sched_stats st;
        if (sched_model_stats(s, 0, &st) == 0 && st.restart_backoff_ms > 0) {
            snprintf(err, err_len,
                     "model '%s': its worker exited while starting (the node's log says why)",
                     name);
            return 500;
        }
        if (clock_now_ns() > deadline) {
            snprintf(err, err_len, "model '%s': no worker became live within %lld ms", name,
                     (long long)r->opts.load_timeout_ms);
            return 500;
        }
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) {
            snprintf(err, err_len, "the node is shutting down");
            return 503;
        }
        sleep_ms(2);
    }
}

static repo_model *free_slot(repository *r)
{
    for (int i = 0; i < REPO_MAX_MODELS; i++) {
        repo_model *m = &r->slots[i];
        if (atomic_load(&m->state) != REPO_SLOT_EMPTY) continue;
        if (i >= atomic_load(&r->n_slots)) atomic_store(&r->n_slots, i + 1);
        return m;
    }
    return NULL;
}

int repo_slot_load(repository *r, const repo_stamp *stamp, int wait, char *err, size_t err_len)
{
    const char *name = stamp->cfg.name;
    repo_model *old = repo_find_loaded(r, name);
    repo_model *m = free_slot(r);
    if (!m) {
        snprintf(err, err_len, "model '%s': the node holds %d model versions already", name,
                 REPO_MAX_MODELS);
        return 503;
    }
    /* EMPTY: nobody reads these fields until READY is stored below */
    m->stamp = *stamp;
    m->sched = NULL;
    const model_config *cfg = &m->stamp.cfg;
    if (!old) repo_name_set(r, name, REPO_STATE_LOADING, cfg->version, "");
    atomic_store(&m->state, REPO_SLOT_LOADING);

    char why[384];
    int status = 0;
    int share = r->opts.arena_share > 0 ? r->opts.arena_share : 1;
    shm_config shm = r->opts.shm; /* room for replacements while a dead worker is reaped */
    if ((uint32_t)cfg->workers_max * 2 > shm.max_workers)
        shm.max_workers = (uint32_t)cfg->workers_max * 2;
    sched_options so = r->opts.sched;
    so.doorbell_loop = (int)(m - r->slots); /* models spread over the loops' doorbells */
    if (node_regions_create(cfg, 1, &shm, r->opts.arena_mb / (uint64_t)share, &m->regions, why,
                            sizeof why) != 0 ||
        sched_create(&so, cfg, 1, m->regions.regions, m->regions.arenas, &m->sched, why,
                     sizeof why) != 0) {
        snprintf(err, err_len, "model '%s': %s", name, why);
        status = 500;
    } else if (wait) {
        status = wait_ready(r, m->sched, name, err, err_len);
    }
    if (status != 0) {
        sched_destroy(m->sched);
        m->sched = NULL;
        node_regions_destroy(&m->regions);
        atomic_store(&m->state, REPO_SLOT_EMPTY);
        repo_note_failure(r, name, err);
        return status;
    }
    atomic_store(&m->state, REPO_SLOT_READY); /* found by name from now on */
    atomic_fetch_add(&r->generation, 1);      /* before the old version leaves lookup */
    repo_name_set(r, name, REPO_STATE_READY, cfg->version > 0 ? cfg->version : 1, "");
    log_info("model %s %s: backend=%s version=%d max_batch_size=%d workers=%d..%d", name,
             old ? "reloaded" : "loaded", cfg->backend, cfg->version, cfg->max_batch_size,
             cfg->workers_min, cfg->workers_max);
    if (old) repo_slot_unload(r, old, NULL); /* traffic has moved: the old version drains */
    return 0;
}

/* Waits until nobody holds m or the deadline passes. 1 if nobody does. */
static int wait_unheld(repo_model *m, int64_t timeout_ms)
{
    int64_t deadline = clock_now_ns() + timeout_ms * 1000000LL;
    while (atomic_load(&m->refs) > 0) {
        if (clock_now_ns() > deadline) return 0;
        sleep_ms(1);
    }
    return 1;
}

void repo_slot_unload(repository *r, repo_model *m, const char *reason)
{
    char name[MODEL_NAME_LEN];
    snprintf(name, sizeof name, "%s", m->stamp.cfg.name);
    int version = m->stamp.cfg.version;
    atomic_store(&m->state, REPO_SLOT_UNLOADING); /* seq_cst: see slot_try_ref */
    if (reason) repo_name_set(r, name, REPO_STATE_UNLOADING, 0, "");
    /* In-flight requests finish on a scheduler that runs as usual. */
    int quiet = wait_unheld(m, r->opts.unload_timeout_ms);
    int left = sched_drain(m->sched, 0);
    if (!quiet)
        log_warn("model %s: unload: requests still in flight after %lld ms; %d answered 503", name,
                 (long long)r->opts.unload_timeout_ms, left);
    if (!wait_unheld(m, REPO_REFS_GRACE_MS)) {
        /* Cannot free what someone holds: the slot stays UNLOADING, out of lookup. */
        log_error("model %s: unload: still referenced after the drain; its slot is leaked", name);
        if (reason) repo_name_set(r, name, REPO_STATE_UNAVAILABLE, 0, reason);
        return;
    }
    sched_destroy(m->sched);
    m->sched = NULL;
    node_regions_destroy(&m->regions);
    atomic_store(&m->state, REPO_SLOT_EMPTY);
    log_info("model %s version %d unloaded%s%s", name, version, reason ? ": " : "",
             reason ? reason : " (replaced)");
    if (reason) repo_name_set(r, name, REPO_STATE_UNAVAILABLE, 0, reason);
}

void repo_slot_destroy(repo_model *m)
{
    if (atomic_load(&m->state) == REPO_SLOT_EMPTY) return;
    sched_destroy(m->sched);
    m->sched = NULL;
    node_regions_destroy(&m->regions);
    atomic_store(&m->state, REPO_SLOT_EMPTY);
}
