/* A model's request queue inside the node: priority (higher first) then FIFO, with row
 * counts for admission control, and the same requests ordered by deadline so that expired
 * ones are found without a scan. Two indexed binary heaps over the requests themselves:
 * push, pop and remove (cancel) are O(log n), peek O(1); a request with the default
 * priority pushed behind others of the same priority costs O(1). Not thread-safe: the
 * model's lock guards it. */
#ifndef NODE_SCHEDULER_QUEUE_H
#define NODE_SCHEDULER_QUEUE_H

#include <stdint.h>

#include "inferd/infer_request.h"

/* Position stored in infer_request.queue_pos / deadline_pos when not in a heap. */
#define SCHED_QUEUE_NONE UINT32_MAX

typedef struct sched_queue {
    infer_request **by_prio;     /* heap: higher priority, then lower queue_seq, on top */
    infer_request **by_deadline; /* heap of the requests with a deadline: earliest on top */
    uint32_t n_deadline;
    uint32_t cap; /* slots of each array (both the same) */
    int len;
    int64_t rows;
    int64_t next_seq;  /* FIFO order of push (grows) ... */
    int64_t front_seq; /* ... and of push_front (shrinks, always before) */
} sched_queue;

void sched_queue_init(sched_queue *q);
/* Frees the heaps (not the requests). */
void sched_queue_destroy(sched_queue *q);
/* Inserts req (borrowed) after every queued request of priority >= its. Returns 0, or -1
 * (out of memory; req is not queued). */
int sched_queue_push(sched_queue *q, infer_request *req);
/* The request pop would return, or NULL. */
infer_request *sched_queue_peek(const sched_queue *q);
/* Removes and returns the head, or NULL. */
infer_request *sched_queue_pop(sched_queue *q);
/* Puts req back before every request of its priority (e.g. a batch that could not be sent).
 * Never fails when req left q since the last push (the room is still there). */
int sched_queue_push_front(sched_queue *q, infer_request *req);
/* Unlinks req if it is in q (O(log n)); returns 1 if it was there, else 0. */
int sched_queue_remove(sched_queue *q, infer_request *req);
/* Removes and returns a request whose deadline (!= 0) is <= now_ns, earliest first, or
 * NULL when none has passed. */
infer_request *sched_queue_pop_expired(sched_queue *q, int64_t now_ns);
/* Rows of a request as counted by the queue (batch_rows, at least 1). */
int64_t sched_queue_req_rows(const infer_request *req);

#endif
