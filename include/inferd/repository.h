/* The node's live model table and Triton's repository extension: which models are loaded,
 * loading, reloading and unloading them while the node serves (docs/scheduler.md, "Model
 * lifecycle").
 *
 * Each loaded model version is a `repo_model`: its config, its own shared-memory region and
 * arena, and its own one-model scheduler (model index 0 in it) with its workers. The table
 * is a fixed array of slots; a slot moves
 *
 *     EMPTY -> LOADING -> READY -> UNLOADING -> EMPTY
 *
 * and only READY slots are found by name. A reload loads the new version into another slot,
 * makes it READY (both versions serve for a moment), then takes the old one out of lookup
 * and drains it: requests that already hold it finish on it, so no request fails.
 *
 * Threading: repository_acquire / repository_release / repository_list are lock-free and
 * safe from any thread (the HTTP loops call them per request). The operations (load,
 * unload, poll rescans) run one at a time on the repository's own thread and answer
 * through a callback from that thread. repository_index takes the repository's lock briefly.
 */
#ifndef INFERD_REPOSITORY_H
#define INFERD_REPOSITORY_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/model_config.h"
#include "inferd/scheduler.h"
#include "inferd/shm.h"

typedef struct repository repository;
typedef struct repo_model repo_model;

/* --model-control-mode, as Triton has it. */
typedef enum repo_mode {
    REPO_MODE_NONE = 0, /* load every model at start; no load/unload API (the default) */
    REPO_MODE_EXPLICIT, /* load only --load-model NAMEs at start, then what the API asks */
    REPO_MODE_POLL,     /* load all at start, rescan every poll_secs: new, changed, removed */
} repo_mode;

/* "none" | "explicit" | "poll" -> mode. 0, or -1 if unknown. */
int repo_mode_parse(const char *s, repo_mode *out);
const char *repo_mode_name(repo_mode mode);

/* A model's state in the index (Triton's names). */
typedef enum repo_state {
    REPO_STATE_UNAVAILABLE = 0, /* not loaded (never, unloaded, or its load failed) */
    REPO_STATE_LOADING,
    REPO_STATE_READY,
    REPO_STATE_UNLOADING,
} repo_state;

const char *repo_state_name(repo_state state); /* "UNAVAILABLE", "LOADING", ... */

typedef struct repo_options {
    const char *dir; /* the model repository (borrowed for the repository's life) */
    repo_mode mode;
    int64_t poll_ms;                /* REPO_MODE_POLL: rescan period (> 0) */
    const char *const *load_models; /* REPO_MODE_EXPLICIT: loaded at start (borrowed) */
    int n_load_models;              /*   ... and how many */
    shm_config shm;                 /* each model's region: this geometry, one model */
    uint64_t arena_mb;              /* --arena-mb, shared as node_regions_arena_mb says over */
    int arena_share;                /*   this many models (0: those in dir at start) */
    sched_options sched;            /* each model's scheduler (worker_path borrowed) */
    int64_t load_timeout_ms;        /* a load waits this long for a live worker (default 60000) */
    int64_t unload_timeout_ms;      /* an unload waits this long for in-flight requests before
                                        answering the rest 503 (default 30000) */
    int (*backend_available)(const char *backend); /* NULL: every backend */
} repo_options;

void repo_options_default(repo_options *o);

/* Opens dir and loads what the mode says at start (none and poll: every model whose config
 * parses and whose backend is available; explicit: load_models, each of which must load).
 * Starts the repository's thread. Returns 0, or -1 with err: the directory cannot be read,
 * an explicitly named model does not load, or (none and poll) no model loads at all. Free
 * with repository_close. */
int repository_open(const repo_options *opts, repository **out, char *err, size_t err_len);

/* Shutdown, step one: every loaded model stops accepting (submit answers 503) and its
 * queued and running requests get up to timeout_ms in total to finish. Returns how many
 * were still unanswered then (they are answered 503). Operations still queued are answered
 * 503. */
int repository_drain(repository *r, int64_t timeout_ms);

/* Stops the repository's thread, the schedulers and workers of every model, frees every
 * region. No repo_model may be in use (call after the front ends are shut down). */
void repository_close(repository *r);

/* ---- the hot path (lock-free, any thread) --------------------------------------------- */

/* A READY version of the model called name, with a reference that keeps it (config,
 * scheduler, region) alive until repository_release; NULL if none is READY. */
repo_model *repository_acquire(repository *r, const char *name);
/* Drops the reference of repository_acquire / repository_list. NULL is ignored. */
void repository_release(repo_model *m);

/* Up to max READY models (each with a reference the caller releases), in slot order.
 * Returns how many. */
int repository_list(repository *r, repo_model **out, int max);

scheduler *repo_model_sched(const repo_model *m); /* the model is index 0 in it */
const model_config *repo_model_config(const repo_model *m);
shm_region *repo_model_region(const repo_model *m);
shm_arena *repo_model_arena(const repo_model *m);

/* Largest sched_progress_age_ns over the loaded models (0 with none). */
int64_t repository_progress_age_ns(repository *r);

/* ---- Triton's repository extension ---------------------------------------------------- */

#define REPO_REASON_LEN 256
#define REPO_MAX_MODELS 64 /* loaded versions at once, a reload's two included */

typedef struct repo_index_entry {
    char name[MODEL_NAME_LEN];
    int version; /* loaded (or last tried) version, 1 when the model has no version folder;
                    0 = none known (only seen in the directory, config unreadable) */
    repo_state state;
    char reason[REPO_REASON_LEN]; /* "" when READY; else why ("unloaded", a load error) */
} repo_index_entry;

/* Every model in the repository directory and every model loaded (one entry per name, by
 * name), or only READY ones with ready_only. 0 with a malloc'd array in *out (caller frees)
 * and its length in *n, or -1 with err. */
int repository_index(repository *r, int ready_only, repo_index_entry **out, int *n, char *err,
                     size_t err_len);

/* How an operation ended: status 0, or an HTTP status with a message: 400 (mode does not
 * allow it, bad config override, a broken config), 404 (no such model in the repository),
 * 500 (its workers did not start), 503 (the node is shutting down). Called exactly once,
 * from the repository's thread (or from the caller's, when refused at once). */
typedef void (*repository_done_cb)(void *arg, int status, const char *message);

/* Loads the model `name` from the repository directory (explicit mode only), or reloads it
 * if loaded: the new version serves once a worker of it is live, then the old one drains.
 * config_json: NULL, or a config.json text used instead of the file's (Triton's "config"
 * load parameter; the files of <dir>/<name>/ are still used). Copies name and config_json. */
void repository_load(repository *r, const char *name, const char *config_json,
                     repository_done_cb done, void *arg);

/* Unloads the model (explicit mode only): out of lookup at once, in-flight requests
 * finish, then its workers stop and its region is freed; done() after all that. Unloading
 * a model that is in the repository but not loaded succeeds. */
void repository_unload(repository *r, const char *name, repository_done_cb done, void *arg);

#endif
