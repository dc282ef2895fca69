/* The node's scheduler: one queue per model with admission control (queue bound, deadline vs
 * predicted wait), priorities, a dynamic batcher that fills shared-memory batches for the
 * model's workers, the completion thread that answers requests, and the supervisor that keeps
 * every model's worker pool alive and sized to its load. */
#ifndef NODE_SCHEDULER_H
#define NODE_SCHEDULER_H

#include <stdint.h>

#include "inferd/infer_request.h"
#include "inferd/model_config.h"
#include "inferd/shm.h"

typedef struct scheduler scheduler;

typedef struct sched_options {
    const char *worker_path;        /* the inferd-worker executable */
    int64_t restart_backoff_min_ms; /* first restart delay after a crash (default 100) */
    int64_t restart_backoff_max_ms; /* cap of the exponential backoff (default 10000) */
    int64_t scale_interval_ms;      /* how often the pool size is reconsidered (default 500) */
    /* Borrowed, or NULL: the node's event loops answer completions themselves
     * (sched_poll_completions before they wait), woken by this doorbell; model m's workers
     * ring loop (m + doorbell_loop) % loops. The completion thread is then only a backstop
     * that looks every few milliseconds. NULL: the completion thread answers everything. */
    struct shm_doorbell *doorbell;
    int doorbell_loop;
    /* Borrowed, or NULL: the node-wide response cache (resp_cache.h), used for the models
     * whose config enables response_cache; it must outlive the scheduler. */
    struct resp_cache *cache;
} sched_options;

void sched_options_default(sched_options *opts);

/* Nanoseconds since the supervisor last completed a tick under the scheduler lock (it ticks
 * every ~20 ms): a large age means a scheduler thread is stuck and the node cannot make
 * progress. 0 before the first tick. Lock-free; any thread. */
int64_t sched_progress_age_ns(scheduler *s);

/* Creates the scheduler over models[0..n) (copied), model m served through regions[m] (its
 * own region, the model in slot 0; its workers get only this one) and arenas[m] (borrowed;
 * they must outlive it; worker and batch indices are global, so every region needs the same
 * max_workers and batch_slots, the smallest is used), starts its threads and each model's
 * minimum workers. Returns 0, or -1 with err. Free with sched_destroy. */
int sched_create(const sched_options *opts, const model_config *models, int n,
                 shm_region *const *regions, shm_arena *const *arenas, scheduler **out, char *err,
                 size_t err_len);

/* Queues req, and when one of the model's workers is idle hands it to that worker at once
 * (from the calling thread). With the response cache on for its model, req may instead be
 * answered from the cache (done() before this returns) or wait for an identical request in
 * flight (docs/cache.md). Returns 0: req->done(req) will be called exactly once
 * (see infer_done_cb). Or rejects at once and returns -1 with req->status (429, 503, 504, 400),
 * req->error and req->retry_after_s filled; done() is not called. */
int sched_submit(scheduler *s, infer_request *req);

/* Answers the batches workers have finished, on the calling thread (an event loop's, just
 * before it waits for I/O, after arming its doorbell), so their done() calls need no thread
 * hop. Never blocks: when the worker table is busy (another thread holds the pool lock) it
 * returns -1 at once without looking, and the caller must look again before it sleeps (a
 * completion published before the arm rang nobody). Else 0. */
int sched_poll_completions(scheduler *s);

/* Frees the arena buffers of req's inputs (each inputs[i], i < n_inputs, must be its own
 * shm_arena_alloc allocation in req->model's arena) and outputs. Call after encoding the
 * response, also after a rejected submit. Does nothing if req->model is out of range. */
void sched_release(scheduler *s, infer_request *req);

/* 1 if model index m has at least one live (attached) worker. */
int sched_model_ready(scheduler *s, int m);
/* 1 if every model is ready. */
int sched_all_ready(scheduler *s);

/* Index of the model called name, or -1. */
int sched_find_model(const scheduler *s, const char *name);
const model_config *sched_model(const scheduler *s, int m);
int sched_model_count(const scheduler *s);

/* Stops accepting (submit answers 503) at once and returns; queued and running requests go
 * on (sched_drain then waits for them). Any thread. */
void sched_stop_intake(scheduler *s);

/* Stops accepting (submit answers 503), waits up to timeout_ms for every queued and running
 * request to be answered, then stops the workers. Returns the number of requests still
 * unanswered at the deadline (they are answered 503 then). */
int sched_drain(scheduler *s, int64_t timeout_ms);

/* Stops threads and workers at once (answers anything left with 503) and frees everything. */
void sched_destroy(scheduler *s);

/* If req still waits in its model's queue (not yet in a batch), removes it and answers it
 * at once (done() with status 499, "cancelled"): the front end calls this when the client
 * went away, so that nobody computes an answer nobody reads. Returns 1 if it was cancelled,
 * 0 if it is already in a batch or answered (then done() comes as usual). req must be a
 * request submitted to s whose done() has not run yet, or whose done() ran but which the
 * caller still owns. */
int sched_cancel(scheduler *s, infer_request *req);

/* Counts a request for model m that the front end refused before submitting it (it did not
 * decode, or its shapes or datatypes do not fit the model): it shows in the stats as rejected. */
void sched_note_rejected(scheduler *s, int m);

/* A model's cumulative counters since the node started. */
typedef struct sched_counters {
    uint64_t requests_ok;     /* answered with outputs ... */
    uint64_t ok_ns;           /* ... and their summed time from submit to answer */
    uint64_t requests_failed; /* accepted, then answered with an error (500, 503, 504) */
    uint64_t failed_ns;
    uint64_t requests_rejected;  /* refused at submit (400, 429, 503, 504) */
    uint64_t requests_cancelled; /* left the queue because their client went away */
    uint64_t batches;            /* batches a worker completed */
    uint64_t batch_rows;         /* rows in those batches */
    uint64_t batches_retried;    /* resubmitted after their worker died */
    uint64_t queue_count;        /* requests that went into a batch ... */
    uint64_t queue_ns;           /* ... and their summed wait from submit to dispatch */
    uint64_t compute_ns;         /* summed dispatch-to-completion time of completed batches */
} sched_counters;

/* A model's live numbers, for GET /v2/models/{m}/stats and logs. */
typedef struct sched_stats {
    int workers_live, workers_starting, workers_stopping;
    int queue_len; /* requests waiting in the node */
    int64_t queue_rows;
    int batches_in_flight; /* in the shm ring or held by workers */
    int64_t rows_in_flight;
    uint64_t worker_spawns;     /* since start */
    double rows_per_s;          /* EWMA throughput; 0 = not measured yet */
    int64_t restart_backoff_ms; /* current crash backoff; 0 = none */
    sched_counters counters;
} sched_stats;

/* Fills out for model m. Returns 0, or -1 if m is out of range. */
int sched_model_stats(scheduler *s, int m, sched_stats *out);

/* Model m's region and arena (borrowed), for the front end's request inputs and outputs;
 * NULL if m is out of range. */
shm_region *sched_model_region(scheduler *s, int m);
shm_arena *sched_model_arena(scheduler *s, int m);

#endif
