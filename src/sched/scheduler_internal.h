/* The scheduler's private state, shared by scheduler.c (API), batcher.c (batcher thread),
 * scheduler_completion.c (completion thread) and supervisor*.c (worker pool). Locks (see
 * docs/scheduler.md), always taken in this order: scheduler.mu (the worker pool) ->
 * sched_model_state.mu (one model's queue, counters and batches) -> scheduler.batch_mu (the
 * free batch slots) -> scheduler.batcher_mu (the batcher's sleep). Never two models' locks
 * at once. Each field says which lock guards it. */
#ifndef NODE_SCHEDULER_INTERNAL_H
#define NODE_SCHEDULER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "admission.h"
#include "inferd/scheduler.h"
#include "scheduler_answer.h"
#include "scheduler_queue.h"
#include "slot_share.h"

/* Refcounted output area of a batch: one reference per request answered from it. */
typedef struct sched_out_area {
    uint64_t offset;
    atomic_int refs; /* dropped by sched_release on any thread */
} sched_out_area;

/* Internal status of a request taken out of the queue by sched_cancel (never sent). */
#define SCHED_STATUS_CANCELLED 499

enum sched_batch_state { SCHED_BATCH_FREE = 0, SCHED_BATCH_SUBMITTED = 1 };

/* A batch slot. Free: on scheduler.free_batches (batch_mu). Submitted: belongs to its model
 * and every field is guarded by that model's mu; state and model change only under it, and
 * are atomic so that a scan of all slots may read them under another lock (state is stored
 * last with release, and must be loaded first with acquire). */
typedef struct sched_batch {
    _Atomic int state; /* enum sched_batch_state */
    _Atomic int model;
    int attempts;       /* submissions so far (worker deaths, OUTPUT_TOO_SMALL) */
    int resized;        /* already resubmitted for OUTPUT_TOO_SMALL */
    int orphaned;       /* its requests were answered (drain); free it when safe */
    int out_handed;     /* the output area now belongs to a sched_out_area */
    int collected;      /* scratch: picked up after its worker died */
    shm_batch snapshot; /* as the node wrote it: the trusted copy */
    int n;              /* requests */
    int64_t rows;
    int64_t dispatch_ns;  /* when it was (last) submitted to the ring */
    infer_request **reqs; /* n of reqs_cap, malloc'd, kept with the slot across batches */
    int reqs_cap;
    struct sched_batch *next_free;
} sched_batch;

enum sched_worker_state {
    SCHED_WORKER_EMPTY = 0,
    SCHED_WORKER_STARTING, /* forked, not yet attached */
    SCHED_WORKER_LIVE,     /* attached (shm state IDLE/BUSY seen) */
    SCHED_WORKER_STOPPING, /* stop flag set by the node */
};

/* Guarded by scheduler.mu. */
typedef struct sched_worker {
    int state; /* enum sched_worker_state */
    int model;
    pid_t pid; /* 0 while sched_spawn_worker forks outside mu */
    int64_t spawn_ns;
    int64_t last_active_ns; /* last time seen holding work */
    uint64_t last_batches_done;
    int killed;      /* the node SIGKILLed it (hang / protocol error) */
    int lied;        /* killed for breaking the protocol: its batches fail, 500 */
    int64_t stop_ns; /* when the node asked it to stop (0 = not asked) */
    /* Kept across the slot's reuse by the replacement of a worker that died unexpectedly
     * (sched_spawn_worker prefers such a slot), for the dashboard's worker rows. */
    int crashed;       /* its worker died unexpectedly; cleared when the replacement is live */
    uint32_t restarts; /* replacements started in this slot after such deaths */
    pid_t last_pid;    /* the pid of the worker that died (shown while it is replaced) */
} sched_worker;

typedef struct sched_model_state {
    model_config cfg; /* read-only after sched_create */
    int slot;         /* its slot in its own region: always 0; read-only */

    pthread_mutex_t mu; /* guards the fields below down to `counters` */
    sched_queue queue;
    int64_t rows_in_flight;
    int batches_in_flight;
    admission_rate rate;
    sched_counters counters; /* cumulative, for GET /v2/models/{m}/stats */

    /* Written under scheduler.mu by the supervisor, read anywhere without a lock. */
    atomic_int n_live, n_starting; /* workers LIVE / STARTING (see sched_model_recount) */
    _Atomic int64_t backoff_ms;    /* current restart backoff; 0 = none */
    _Atomic int64_t next_spawn_ns; /* no spawn before this */

    /* Guarded by scheduler.mu. */
    int overload_ticks; /* consecutive scale intervals above the threshold */
    int64_t last_scale_ns;
    uint64_t spawns;   /* total, for logs */
    uint64_t restarts; /* workers that died unexpectedly */
    /* Set by the supervisor under scheduler.mu (sched_model_ring_corrupt) and cleared with the
     * model's lock too once the ring is reset; read by dispatch under the model's lock. */
    atomic_int ring_corrupt; /* its submission ring was scribbled on: workers killed, ring
                                 * reset by the supervisor once none is left */
    atomic_int ring_suspect; /* a push found the ring inconsistent (any thread): the
                                 * supervisor's next tick declares it corrupt */
    atomic_int wakes_owed;   /* batches pushed under the lock whose worker wake-up is still to
                                 * be done, after the lock is released (sched_wake_workers) */
    /* Borrowed at create, constant: the model's own region (its workers map only this one;
     * the model is slot 0 in it) and the allocator over its arena. */
    shm_region *region;
    shm_arena *arena;
} sched_model_state;

struct scheduler {
    sched_options opts;
    char worker_path[1024];
    pthread_mutex_t mu;     /* the worker pool: workers[], the models' pool fields */
    pthread_cond_t idle_cv; /* with mu: answers while draining, a worker gone */

    pthread_mutex_t batch_mu;                    /* free_batches and share (a leaf lock) */
    pthread_mutex_t batcher_mu;                  /* the batcher sleeps with it (a leaf lock) */
    pthread_cond_t batcher_cv;                   /* with batcher_mu: work for the batcher */
    atomic_int batcher_kicked, batcher_sleeping; /* see sched_kick_batcher */
    _Atomic int64_t batcher_wake_ns; /* when the sleeping batcher looks again (INT64_MAX: kick) */
    atomic_int slot_wait;            /* a dispatch found no slot: the next freed one kicks */

    int n_models;
    sched_model_state *models;
    uint32_t n_batches;
    sched_batch *batches;
    sched_batch *free_batches;
    slot_share share; /* how many slots each model may hold (slot_share.h) */
    /* With mu: batch_done's scratch for a batch's checked outputs and statuses. */
    shm_tensor *done_outs;
    size_t done_outs_cap;
    int32_t *done_statuses;
    size_t done_statuses_cap;
    uint32_t n_workers;
    sched_worker *workers;

    atomic_uint_fast64_t next_id, next_tag;
    _Atomic int64_t pending; /* submitted and not yet answered */
    atomic_int draining, stopping, threads_stop;
    atomic_int workers_stop; /* the supervisor stops spawning and stops every worker */

    /* sched_poll_completions (lock-free): a loop holds mu in its look / a loop found mu
     * taken by such a look and left it to that loop to look once more. */
    atomic_int mu_poller, poll_wanted;
    _Atomic int64_t progress_ns; /* supervisor tick heartbeat (CLOCK_MONOTONIC), lock-free */
    uint64_t instance;           /* unique per scheduler in the process: the response cache's key */
    pthread_t batcher_thread, completion_thread, supervisor_thread;
    int batcher_started, completion_started, supervisor_started;
};

/* The region of worker w's model (w's completion ring and control block live there). */
static inline shm_region *sched_worker_region(scheduler *s, uint32_t w)
{
    return s->models[s->workers[w].model].region;
}

/* Frees the scheduler's memory (threads must be stopped). */
void sched_free_state(scheduler *s);
/* Builds and submits one batch of model m from reqs[0..n). Returns 0, or -1 if no batch
 * slot, arena space or ring room is available (reqs untouched). Caller holds models[m].mu. */
int sched_dispatch(scheduler *s, int m, infer_request **reqs, int n);
/* Does the worker wake-ups that sched_dispatch owed model m (it pushes under the model's lock
 * and leaves the fence, the look at the workers' polls and the futex wake to this). Call it
 * after releasing models[m].mu wherever sched_dispatch_ready ran; any thread, no lock held. */
void sched_wake_workers(scheduler *s, int m);
/* Spawns one worker for model m (supervisor thread only). 0 or -1. Caller holds mu (and no
 * model's lock); mu is released around the fork. */
int sched_spawn_worker(scheduler *s, int m, const char *why);

/* Dispatches from model m's queue every batch the dispatch rule allows now (batcher.h) and
 * answers 504 (onto *done_list) every queued request whose deadline passed. Returns ns until
 * the queue should be looked at again (-1: it is empty). Caller holds models[m].mu and calls
 * sched_wake_workers(s, m) once it has released it. Called by the
 * batcher, by submit (a request that finds an idle worker goes at once, no thread hop) and
 * by the completion thread (a worker that just finished takes the next batch at once). */
int64_t sched_dispatch_ready(scheduler *s, int m, int64_t now, infer_request **done_list);
/* Wakes the batcher (any thread, any lock held). */
void sched_kick_batcher(scheduler *s);
/* Recounts model m's LIVE and STARTING workers into n_live / n_starting. Caller holds mu. */
void sched_model_recount(scheduler *s, int m);

/* Response cache (scheduler_cache.c, docs/cache.md). At submit, no lock held, inputs checked:
 * returns 1 when req was answered from the cache (done() already called) or waits for an
 * identical request in flight; 0 to go on (req->cache_entry set when it leads). */
int sched_cache_submit(scheduler *s, infer_request *req);
/* req leads a cache entry and was answered: stores its outputs (status 0) and answers its
 * followers. Before req's done(), with no lock held. */
void sched_cache_finish(scheduler *s, infer_request *req);
/* Logs a warning for each model that enables the cache on a node without one. */
void sched_cache_check_config(const scheduler *s);

/* Batcher thread body. */
void *sched_batcher_main(void *arg);
/* Completion thread body. */
void *sched_completion_main(void *arg);
/* Supervisor thread body. */
void *sched_supervisor_main(void *arg);

/* Completion: drains worker w's completion ring and handles every batch there. Caller holds
 * mu (not the model's lock). */
void sched_drain_completions(scheduler *s, uint32_t w, infer_request **done_list);
/* Resubmits a batch (new tag; attempts++); returns 0 or -1 (ring full). Caller holds its
 * model's mu. */
int sched_batch_resubmit(scheduler *s, sched_batch *b);
/* Answers every request of b with status and frees b (table, and the output area if no
 * request refers to it). Caller holds its model's mu. */
void sched_batch_fail(scheduler *s, sched_batch *b, int status, const char *error,
                      infer_request **done_list);
/* Frees b's arena table and returns it to the free list. Caller holds its model's mu. */
void sched_batch_free(scheduler *s, sched_batch *b);

/* Supervisor: SIGKILLs worker w (logged with reason). Caller holds mu. */
void sched_worker_kill(scheduler *s, uint32_t w, const char *reason);
/* Worker w was caught lying in the region (what: one phrase): logs one line, SIGKILLs it; the
 * supervisor replaces it and fails the batches it held with 500 (not retried: the batch data
 * itself may be what it scribbled). Idempotent. Caller holds mu. */
void sched_worker_lied(scheduler *s, uint32_t w, const char *what);
/* Model m's submission ring was found corrupt (which worker did it is unknown: every worker
 * of m can write it): logs one line, kills all of m's workers; once they are reaped the
 * supervisor fails the batches that were queued (500) and resets the ring. Idempotent.
 * Caller holds mu. */
void sched_model_ring_corrupt(scheduler *s, int m, const char *what);
/* Counts of a model's workers. Caller holds mu. */
void sched_model_workers(scheduler *s, int m, int *live, int *starting, int *idle);

#endif
