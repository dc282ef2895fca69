/* The live model table's private state, shared by repository.c (table, lookup, index, open
 * and close), repository_slot.c (loading and unloading one slot) and repository_thread.c
 * (the operation queue and the poll rescans). docs/scheduler.md, "Model lifecycle". */
#ifndef INFERD_REPOSITORY_INTERNAL_H
#define INFERD_REPOSITORY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "inferd/repository.h"
#include "node_regions.h"

enum repo_slot_state {
    REPO_SLOT_EMPTY = 0,
    REPO_SLOT_LOADING,
    REPO_SLOT_READY,
    REPO_SLOT_UNLOADING
};

/* What makes two loads of a model the same: its parsed config and its model file. */
typedef struct repo_stamp {
    model_config cfg;
    int64_t file_size, file_mtime_ns;
    uint64_t file_ino;
} repo_stamp;

/* One slot. state and refs are atomics (see repository.h); every other field is written
 * only by the repository's thread while the slot is EMPTY or LOADING, and read by others
 * only while they hold a reference to a READY (or UNLOADING) slot. */
struct repo_model {
    _Atomic int state; /* enum repo_slot_state */
    atomic_int refs;
    repo_stamp stamp; /* stamp.cfg is the model's config */
    scheduler *sched;
    node_regions regions;
};

/* Per-name record for the index. Guarded by repository.mu. */
typedef struct repo_name {
    char name[MODEL_NAME_LEN];
    int version;
    repo_state state;
    char reason[REPO_REASON_LEN];
    int failed_stamp_valid; /* poll: the last failed load was of this stamp; not retried */
    repo_stamp failed_stamp;
} repo_name;

enum repo_op_kind { REPO_OP_LOAD, REPO_OP_UNLOAD };

typedef struct repo_op {
    int kind;
    char name[MODEL_NAME_LEN];
    char *config_json; /* malloc'd or NULL */
    repository_done_cb done;
    void *arg;
    struct repo_op *next;
} repo_op;

struct repository {
    repo_options opts;
    char dir[MODEL_PATH_LEN];
    repo_model slots[REPO_MAX_MODELS];
    atomic_int n_slots;     /* high-water mark: slots at or above it were never used */
    atomic_uint generation; /* bumped after a slot turns READY, before the version it
                               replaces leaves lookup (see repository_acquire) */

    pthread_mutex_t mu; /* names, the op queue, stop, draining */
    pthread_cond_t cv;  /* with mu: an op was queued, or stop */
    repo_name *names;
    int n_names, cap_names;
    repo_op *ops_head, *ops_tail;
    int stop;            /* the thread ends */
    atomic_int draining; /* shutdown: no new operations */
    pthread_t thread;
    int thread_started;
};

/* ---- repository.c ---- */
/* 1 if name can be a model folder's name (1..63 bytes, no '/', not starting with '.'). */
int repo_name_valid(const char *name);
/* Sets name's record (created if new; state, version, reason). Takes mu. */
void repo_name_set(repository *r, const char *name, repo_state state, int version,
                   const char *reason);
/* Poll: whether the last failed load of name was of exactly this stamp; remember one. */
int repo_name_failed_same(repository *r, const char *name, const repo_stamp *st);
void repo_name_failed_remember(repository *r, const char *name, const repo_stamp *st);
/* The READY or LOADING slot of name (thread only: no reference taken), or NULL. */
repo_model *repo_find_loaded(repository *r, const char *name);

/* ---- repository_slot.c (repository thread only, or open/close) ---- */
/* Reads <dir>/<name>/config.json (or parses config_json instead) and stats its model file.
 * 0, or an HTTP status (404 no folder, 400 broken) with err. */
int repo_stamp_read(repository *r, const char *name, const char *config_json, repo_stamp *out,
                    char *err, size_t err_len);
int repo_stamp_equal(const repo_stamp *a, const repo_stamp *b);
/* Records that a load of name failed with err: UNAVAILABLE, or, while a version of it is
 * loaded, READY with a reason saying that version still serves. */
void repo_note_failure(repository *r, const char *name, const char *err);
/* Loads st into a free slot and (wait_ready) waits until a worker is live; replaces (then unloads) the version
 * loaded before, if any. Updates name's record. 0, or an HTTP status with err. */
int repo_slot_load(repository *r, const repo_stamp *st, int wait_ready, char *err, size_t err_len);
/* Unloads slot m (READY): out of lookup, drained, freed. Records reason for its name unless
 * reason is NULL (a reload: the new version's record stands). */
void repo_slot_unload(repository *r, repo_model *m, const char *reason);
/* Frees a slot's scheduler and regions at once (close). */
void repo_slot_destroy(repo_model *m);

/* ---- repository_thread.c ---- */
void *repo_thread_main(void *arg);
/* Poll: one rescan of the directory. */
void repo_poll_once(repository *r);

#endif
