/* A model's request queue inside the node: priority (higher first) then FIFO, with row
 * counts for admission control. Not thread-safe: the scheduler's mutex guards it. */
#ifndef NODE_SCHEDULER_QUEUE_H
#define NODE_SCHEDULER_QUEUE_H

#include <stdint.h>

#include "inferd/infer_request.h"

typedef struct sched_queue {
    infer_request *head, *tail;
    int len;
    int64_t rows;
} sched_queue;

void sched_queue_init(sched_queue *q);
/* Inserts req (borrowed, linked through req->next) after every request of priority >= its. */
void sched_queue_push(sched_queue *q, infer_request *req);
/* Removes and returns the head, or NULL. */
infer_request *sched_queue_pop(sched_queue *q);
/* Puts req back at the front of its priority class (e.g. a batch that could not be sent). */
void sched_queue_push_front(sched_queue *q, infer_request *req);
/* Unlinks req if it is in q (O(queue length)); returns 1 if it was there, else 0. */
int sched_queue_remove(sched_queue *q, infer_request *req);
/* Rows of a request as counted by the queue (batch_rows, at least 1). */
int64_t sched_queue_req_rows(const infer_request *req);

#endif
