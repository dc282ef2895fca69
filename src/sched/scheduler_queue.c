/* The per-model priority/FIFO request queue (see scheduler_queue.h). */
#include "scheduler_queue.h"

#include <stddef.h>

void sched_queue_init(sched_queue *q)
{
    q->head = q->tail = NULL;
    q->len = 0;
    q->rows = 0;
}

int64_t sched_queue_req_rows(const infer_request *req)
{
    return req->batch_rows > 0 ? req->batch_rows : 1;
}

void sched_queue_push(sched_queue *q, infer_request *req)
{
    q->len++;
    q->rows += sched_queue_req_rows(req);
    req->next = NULL;
    if (!q->tail) {
        q->head = q->tail = req;
        return;
    }
    if (req->priority <= q->tail->priority) { /* the common case: O(1) */
        q->tail->next = req;
        q->tail = req;
        return;
    }
    if (req->priority > q->head->priority) {
        req->next = q->head;
        q->head = req;
        return;
    }
    infer_request *prev = q->head;
    while (prev->next && prev->next->priority >= req->priority)
        prev = prev->next;
    req->next = prev->next;
    prev->next = req;
    if (!req->next)
        q->tail = req;
}

void sched_queue_push_front(sched_queue *q, infer_request *req)
{
    q->len++;
    q->rows += sched_queue_req_rows(req);
    if (!q->head || req->priority >= q->head->priority) {
        req->next = q->head;
        q->head = req;
        if (!q->tail)
            q->tail = req;
        return;
    }
    infer_request *prev = q->head;
    while (prev->next && prev->next->priority > req->priority)
        prev = prev->next;
    req->next = prev->next;
    prev->next = req;
    if (!req->next)
        q->tail = req;
}

infer_request *sched_queue_pop(sched_queue *q)
{
    infer_request *req = q->head;
    if (!req)
        return NULL;
    q->head = req->next;
    if (!q->head)
        q->tail = NULL;
    req->next = NULL;
    q->len--;
    q->rows -= sched_queue_req_rows(req);
    return req;
}

int sched_queue_remove(sched_queue *q, infer_request *req)
{
    infer_request *prev = NULL;
    for (infer_request *it = q->head; it; prev = it, it = it->next) {
        if (it != req)
            continue;
        if (prev)
            prev->next = it->next;
        else
            q->head = it->next;
        if (q->tail == it)
            q->tail = prev;
        it->next = NULL;
        q->len--;
        q->rows -= sched_queue_req_rows(it);
        return 1;
    }
    return 0;
}
