/* One inference request inside the node, from the front end's decode to its response.
 * The front end fills the "input" part (tensors already decoded into the shared arena), hands
 * it to the scheduler, and gets it back exactly once through done(), with the "result" part
 * filled; then it encodes the response from the arena and calls sched_release(). */
#ifndef NODE_INFER_REQUEST_H
#define NODE_INFER_REQUEST_H

#include <stdint.h>

#include "inferd/model_config.h"
#include "inferd/shm.h"

typedef struct infer_request infer_request;

/* The points of a request's trace (docs/metrics.md, "Request stages"): CLOCK_MONOTONIC ns, 0 =
 * not reached. The worker's two are its own clock readings, clamped by the node between the
 * dispatch and the completion it saw. */
enum infer_trace_point {
    INFER_TP_ARRIVED = 0, /* front end: the request's first byte read */
    INFER_TP_SUBMITTED,   /* scheduler: decoded and queued (enqueue_ns) */
    INFER_TP_DISPATCHED,  /* scheduler: its batch pushed to the model's ring (last attempt) */
    INFER_TP_CLAIMED,     /* worker: claimed the batch */
    INFER_TP_RAN,         /* worker: completed the batch */
    INFER_TP_SEEN,        /* scheduler: the node handled the completion */
    INFER_TP_ON_LOOP,     /* front end: back on the connection's loop thread */
    INFER_TP_WRITTEN,     /* front end: the answer handed to the connection */
    INFER_TP_N
};
/* Called once per submitted request, with no scheduler lock held, from any thread: a
 * scheduler thread, or a loop thread inside sched_submit / sched_cancel of this or another
 * request. Inside the sched_submit of the request itself only when the response cache
 * answers it (docs/cache.md), as the last thing sched_submit does with it. */
typedef void (*infer_done_cb)(infer_request *req);

struct infer_request {
    /* ---- input: set by the front end before sched_submit ---- */
    int model;                       /* index into the scheduler's model table */
    uint32_t n_inputs;               /* == the model's n_inputs; in the model's input order */
    shm_tensor inputs[MODEL_MAX_IO]; /* data in the arena, allocated with shm_arena_alloc */
    uint32_t output_mask;            /* bit i set = model output i is wanted (0 = all) */
    int64_t batch_rows;              /* dim 0 of the inputs when batched, else 1 */
    int64_t deadline_ns;             /* CLOCK_MONOTONIC absolute; 0 = none */
    int priority;                    /* 0 = default; higher runs first */
    int64_t delay_us;                /* `delay` backend; -1 = model default */
    infer_done_cb done;
    void *user; /* the front end's own pointer */
    /* Stamped by the front end (ARRIVED, ON_LOOP, WRITTEN; the rest 0 before submit) and by
     * the scheduler (the others, for requests a worker computed). */
    int64_t trace_ns[INFER_TP_N];

    /* ---- result: set by the scheduler before done() ---- */
    int status;                       /* 0 = ok, else an HTTP status: 400/429/500/503/504 */
    int retry_after_s;                /* with 429/503: seconds for Retry-After */
    char error[256];                  /* with status != 0 */
    uint32_t n_outputs;               /* == the model's n_outputs; in model output order */
    shm_tensor outputs[MODEL_MAX_IO]; /* checked; data in the arena; freed by sched_release */

    /* ---- scheduler-private ---- */
    uint64_t id;
    int64_t enqueue_ns;
    int attempts;
    void *sched_out;                  /* refcounted output area these outputs live in */
    infer_request *next;              /* on the scheduler's local answer lists */
    int64_t queue_seq;                /* FIFO order within its priority */
    uint32_t queue_pos, deadline_pos; /* its places in the queue's two heaps */
    void *cache_entry;                /* the response cache entry it leads, or NULL */
    int64_t cache_lookup_ns;          /* its cache lookup's time, counted with its answer */
};

#endif
