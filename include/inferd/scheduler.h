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
 * hop. Never blocks: when the worker table is busy it returns at once without looking. If
 * another loop's look holds it, that loop looks again for this one after it (0); if any other
 * thread holds it, -1: the caller must look again before it sleeps (a completion published
 * before the arm rang nobody). Else 0. */
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

/* Counts a request for model m that the front end refused with status before submitting it
 * (it did not decode, or its shapes or datatypes do not fit the model: 400; no arena space:
 * 503): it shows in the stats as rejected, and in the outcomes by status. */
void sched_note_rejected(scheduler *s, int m, int status);

/* Why a request ended, for metrics (label `outcome`): success; refused as malformed (400 and
 * other 4xx but 429);
 * refused 429 (queue full) or 503 (no worker, draining; also an accepted request answered
 * 503 by a drain); timed out (504, in the queue or at admission); cancelled (its client went
 * away); worker failure (500: the worker died, failed or broke the protocol). */
enum sched_outcome {
    SCHED_OUTCOME_SUCCESS = 0,
    SCHED_OUTCOME_BAD_REQUEST,
    SCHED_OUTCOME_REJECTED_429,
    SCHED_OUTCOME_REJECTED_503,
    SCHED_OUTCOME_TIMEOUT,
    SCHED_OUTCOME_CANCELLED,
    SCHED_OUTCOME_WORKER_FAILURE,
    SCHED_OUTCOME_N
};
/* The outcome of a request answered with status (0 = success, 499 = cancelled, else HTTP). */
int sched_outcome_of_status(int status);
/* "success", "bad_request", ...; "unknown" out of range. Static strings. */
const char *sched_outcome_name(int outcome);

/* Fixed-bucket histograms (Prometheus style: an observation v goes into the first bucket
 * whose upper bound is >= v, the last bucket is +Inf). Times are in ns, batch sizes in rows.
 * counts[] are per bucket (not cumulative); count is their sum; sum the sum of observations.
 * Updated under the model's lock with a short loop over the bounds: no allocation. */
enum sched_hist_kind {
    SCHED_HIST_REQUEST = 0, /* submit to answer, successful requests */
    SCHED_HIST_QUEUE,       /* submit to dispatch, per request */
    SCHED_HIST_COMPUTE,     /* dispatch to completion, per batch */
    SCHED_HIST_BATCH_ROWS,  /* rows per completed batch */
    SCHED_HIST_STAGE,       /* finer times (10 us ..) for the node's request trace (req_trace.h);
                             * unused in sched_counters */
    SCHED_HIST_N
};
#define SCHED_HIST_MAX_BOUNDS 20
typedef struct sched_hist {
    uint64_t counts[SCHED_HIST_MAX_BOUNDS + 1];
    uint64_t count;
    uint64_t sum;
} sched_hist;
/* The upper bounds of kind's buckets (ascending, static), and their number (<= MAX_BOUNDS);
 * 0 with *bounds NULL for an unknown kind. */
int sched_hist_bounds(int kind, const int64_t **bounds);
/* Adds one observation v (negative counts as 0). */
void sched_hist_add(sched_hist *h, int kind, int64_t v);
/* The q-quantile (0..1) estimated as Prometheus' histogram_quantile does (linear within the
 * bucket; the largest finite bound if it falls in +Inf); 0 when empty. */
double sched_hist_quantile(const sched_hist *h, int kind, double q);

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
    uint64_t cache_hits;         /* answered from the response cache, or by an identical request
                                  * in flight (coalesced) ... */
    uint64_t cache_hit_ns;       /* ... and their summed cache lookup time */
    uint64_t cache_misses;       /* looked up, not found: computed, then stored ... */
    uint64_t cache_miss_ns;      /* ... and their summed lookup plus insertion time */
    uint64_t last_inference_ms;  /* wall clock (ms since the epoch) of the last answer; 0 = none */
    uint64_t outcomes[SCHED_OUTCOME_N]; /* every request counted once, by how it ended */
    sched_hist hist[SCHED_HIST_N];
} sched_counters;

/* A model's live numbers, for GET /v2/models/{m}/stats and logs. */
typedef struct sched_stats {
    int workers_live, workers_starting, workers_stopping;
    int queue_len;              /* requests waiting in the node */
    int64_t requests_in_flight; /* accepted and not answered yet (queued or in a batch); -1
                                 * when the scheduler serves several models (one count) */
    int64_t queue_rows;
    int batches_in_flight; /* in the shm ring or held by workers */
    int64_t rows_in_flight;
    uint64_t worker_spawns;     /* since start */
    double rows_per_s;          /* EWMA throughput; 0 = not measured yet */
    int64_t restart_backoff_ms; /* current crash backoff; 0 = none */
    uint64_t worker_restarts;   /* workers that died unexpectedly (each one is replaced) */
    int workers_restarting;     /* slots whose worker died and whose replacement is not live */
    sched_counters counters;
} sched_stats;

/* Fills out for model m. Returns 0, or -1 if m is out of range. */
int sched_model_stats(scheduler *s, int m, sched_stats *out);

/* One worker slot of a model, for the dashboard, the stats route, the live stats region and
 * tools. The numbers a worker writes (in_hand, batches_done, requests_done, heartbeat) are only
 * displayed, never trusted; in_hand is clamped to the scheduler's batch count. */
typedef enum sched_worker_state_code {
    SCHED_WINFO_STARTING = 1, /* forked, not attached yet (live_stats.h uses the same 1..4) */
    SCHED_WINFO_IDLE = 2,
    SCHED_WINFO_BUSY = 3,       /* holds batches */
    SCHED_WINFO_STOPPING = 4,   /* asked to stop (scale down, unload, shutdown) */
    SCHED_WINFO_RESTARTING = 5, /* its worker died unexpectedly; the replacement is not forked */
} sched_worker_state_code;

typedef struct sched_worker_info {
    int index;              /* its slot in the model's region */
    int pid;                /* 0 while forking; on a restarting row the dead worker's pid */
    int state;              /* a sched_worker_state_code */
    const char *state_name; /* "starting", "live", "stopping", "restarting" (static) */
    uint32_t restarts;      /* times this slot's worker died unexpectedly and was replaced */
    uint32_t in_hand;       /* batches it claimed and has not completed */
    uint64_t batches_done, requests_done;
    int64_t heartbeat_age_ns; /* -1 before its first heartbeat (and on restarting rows) */
    int64_t age_ns;           /* since spawn */
} sched_worker_info;

/* Fills out[0..max) with model m's workers in slot order, including the slots of dead workers
 * that wait for their replacement (SCHED_WINFO_RESTARTING), under the pool lock for a moment.
 * Returns how many (0 if m is out of range). */
int sched_worker_infos(scheduler *s, int m, sched_worker_info *out, int max);

/* Model m's region and arena (borrowed), for the front end's request inputs and outputs;
 * NULL if m is out of range. */
shm_region *sched_model_region(scheduler *s, int m);
shm_arena *sched_model_arena(scheduler *s, int m);

#endif
