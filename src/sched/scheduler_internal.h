/* The scheduler's private state, shared by scheduler.c (API), batcher.c (batcher thread),
 * scheduler_completion.c (completion thread) and supervisor*.c (worker pool). Everything
 * here is guarded by scheduler.mu unless noted. */
#ifndef NODE_SCHEDULER_INTERNAL_H
#define NODE_SCHEDULER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "admission.h"
#include "inferd/scheduler.h"
#include "scheduler_queue.h"

/* Refcounted output area of a batch: one reference per request answered from it. */
typedef struct sched_out_area {
    uint64_t offset;
    int refs;
} sched_out_area;

/* Internal status of a request taken out of the queue by sched_cancel (never sent). */
#define SCHED_STATUS_CANCELLED 499

enum sched_batch_state { SCHED_BATCH_FREE = 0, SCHED_BATCH_SUBMITTED = 1 };

typedef struct sched_batch {
    int state;                  /* enum sched_batch_state */
    int model;
    int attempts;               /* submissions so far (worker deaths, OUTPUT_TOO_SMALL) */
    int resized;                /* already resubmitted for OUTPUT_TOO_SMALL */
    int orphaned;               /* its requests were answered (drain); free it when safe */
    int out_handed;             /* the output area now belongs to a sched_out_area */
    int collected;              /* scratch: picked up after its worker died */
    shm_batch snapshot;         /* as the node wrote it: the trusted copy */
    int n;                      /* requests */
    int64_t rows;
    int64_t dispatch_ns;        /* when it was (last) submitted to the ring */
    infer_request **reqs;       /* n, malloc'd */
    struct sched_batch *next_free;
} sched_batch;

enum sched_worker_state {
    SCHED_WORKER_EMPTY = 0,
    SCHED_WORKER_STARTING,      /* forked, not yet attached */
    SCHED_WORKER_LIVE,          /* attached (shm state IDLE/BUSY seen) */
    SCHED_WORKER_STOPPING,      /* stop flag set by the node */
};

typedef struct sched_worker {
    int state;                  /* enum sched_worker_state */
    int model;
    pid_t pid;
    int64_t spawn_ns;
    int64_t last_active_ns;     /* last time seen holding work */
    uint64_t last_batches_done;
    int killed;                 /* the node SIGKILLed it (hang / protocol error) */
    int lied;                   /* killed for breaking the protocol: its batches fail, 500 */
    int64_t stop_ns;            /* when the node asked it to stop (0 = not asked) */
} sched_worker;

typedef struct sched_model_state {
    model_config cfg;
    int slot;                   /* shm model slot (== index) */
    sched_queue queue;
    int64_t rows_in_flight;
    int batches_in_flight;
    admission_rate rate;
    int64_t backoff_ms;         /* current restart backoff; 0 = none */
    int64_t next_spawn_ns;      /* no spawn before this */
    int overload_ticks;         /* consecutive scale intervals above the threshold */
    int64_t last_scale_ns;
    uint64_t spawns;            /* total, for logs */
    sched_counters counters;    /* cumulative, for GET /v2/models/{m}/stats */
    int ring_corrupt;           /* its submission ring was scribbled on: workers killed, ring
                                 * reset by the supervisor once none is left */
} sched_model_state;

struct scheduler {
    sched_options opts;
    char worker_path[1024];
    shm_region *region;
    shm_arena *arena;

    pthread_mutex_t mu;
    pthread_cond_t batcher_cv;  /* work for the batcher (queue, idle worker, stop) */
    pthread_cond_t idle_cv;     /* something was answered (drain waits on it) */

    int n_models;
    sched_model_state *models;
    uint32_t n_batches;
    sched_batch *batches;
    sched_batch *free_batches;
    uint32_t n_workers;
    sched_worker *workers;

    uint64_t next_id, next_tag;
    int64_t pending;            /* submitted and not yet answered */
    int draining, stopping, threads_stop;
    int workers_stop;           /* the supervisor stops spawning and stops every worker */

    _Atomic int64_t progress_ns; /* supervisor tick heartbeat (CLOCK_MONOTONIC), lock-free */
    pthread_t batcher_thread, completion_thread, supervisor_thread;
    int batcher_started, completion_started, supervisor_started;
};

/* Frees the scheduler's memory (threads must be stopped). */
void sched_free_state(scheduler *s);
/* Batcher: builds and submits one batch of model m from reqs[0..n). Returns 0, or -1 if no
 * batch slot, arena space or ring room is available (reqs untouched). Caller holds mu. */
int sched_dispatch(scheduler *s, int m, infer_request **reqs, int n);
/* Spawns one worker for model m (supervisor thread only). 0 or -1. Caller holds mu. */
int sched_spawn_worker(scheduler *s, int m, const char *why);

/* Answers req with status/error (through a local list: call sched_finish_list after unlock).
 * Decrements pending. Caller holds mu. */
void sched_answer(scheduler *s, infer_request *req, int status, const char *error,
                  infer_request **done_list);
/* Calls done() of every request on the list (without mu). */
void sched_finish_list(infer_request *list);

/* Batcher thread body. */
void *sched_batcher_main(void *arg);
/* Completion thread body. */
void *sched_completion_main(void *arg);
/* Supervisor thread body. */
void *sched_supervisor_main(void *arg);

/* Completion: drains worker w's completion ring and handles every batch there. Caller holds
 * mu. */
void sched_drain_completions(scheduler *s, uint32_t w, infer_request **done_list);
/* Resubmits a batch (new tag; attempts++); returns 0 or -1 (ring full). Caller holds mu. */
int sched_batch_resubmit(scheduler *s, sched_batch *b);
/* Answers every request of b with status and frees b (table, and the output area if no
 * request refers to it). Caller holds mu. */
void sched_batch_fail(scheduler *s, sched_batch *b, int status, const char *error,
                      infer_request **done_list);
/* Frees b's arena table and returns it to the free list. Caller holds mu. */
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
