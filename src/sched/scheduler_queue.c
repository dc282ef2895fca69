/* The per-model priority/FIFO request queue as two indexed binary heaps (see
 * scheduler_queue.h). */
#include "scheduler_queue.h"

#include <stddef.h>
#include <stdlib.h>

void sched_queue_init(sched_queue *q)
{
    q->by_prio = q->by_deadline = NULL;
    q->n_deadline = q->cap = 0;
    q->len = 0;
    q->rows = 0;
    q->next_seq = 0;
    q->front_seq = -1;
}

void sched_queue_destroy(sched_queue *q)
{
    free(q->by_prio);
    free(q->by_deadline);
    sched_queue_init(q);
}

int64_t sched_queue_req_rows(const infer_request *req)
{
    return req->batch_rows > 0 ? req->batch_rows : 1;
}

/* ---- the priority heap: a before b when a runs first ---- */
static int prio_before(const infer_request *a, const infer_request *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->queue_seq < b->queue_seq;
}

static void prio_set(sched_queue *q, uint32_t i, infer_request *r)
{
    q->by_prio[i] = r;
    r->queue_pos = i;
}

static void prio_up(sched_queue *q, uint32_t i)
{
    infer_request *r = q->by_prio[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!prio_before(r, q->by_prio[parent]))
            break;
        prio_set(q, i, q->by_prio[parent]);
        i = parent;
    }
    prio_set(q, i, r);
}

static void prio_down(sched_queue *q, uint32_t i)
{
    uint32_t n = (uint32_t)q->len;
    infer_request *r = q->by_prio[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && prio_before(q->by_prio[c + 1], q->by_prio[c]))
            c++;
        if (!prio_before(q->by_prio[c], r))
            break;
        prio_set(q, i, q->by_prio[c]);
        i = c;
    }
    prio_set(q, i, r);
}

/* ---- the deadline heap: earliest on top ---- */
static void dl_set(sched_queue *q, uint32_t i, infer_request *r)
{
    q->by_deadline[i] = r;
    r->deadline_pos = i;
}

static void dl_up(sched_queue *q, uint32_t i)
{
    infer_request *r = q->by_deadline[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (q->by_deadline[parent]->deadline_ns <= r->deadline_ns)
            break;
        dl_set(q, i, q->by_deadline[parent]);
        i = parent;
    }
    dl_set(q, i, r);
}

static void dl_down(sched_queue *q, uint32_t i)
{
    uint32_t n = q->n_deadline;
    infer_request *r = q->by_deadline[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && q->by_deadline[c + 1]->deadline_ns < q->by_deadline[c]->deadline_ns)
            c++;
        if (q->by_deadline[c]->deadline_ns >= r->deadline_ns)
            break;
        dl_set(q, i, q->by_deadline[c]);
        i = c;
    }
    dl_set(q, i, r);
}

/* Take the entry at i out of a heap: the last entry fills the hole, then moves up or down. */
static void prio_take(sched_queue *q, uint32_t i)
{
    uint32_t last = (uint32_t)q->len - 1;
    q->by_prio[i]->queue_pos = SCHED_QUEUE_NONE;
    q->len--;
    if (i == last)
        return;
    infer_request *moved = q->by_prio[last];
    prio_set(q, i, moved);
    prio_up(q, i);
    prio_down(q, moved->queue_pos);
}

static void dl_take(sched_queue *q, uint32_t i)
{
    uint32_t last = q->n_deadline - 1;
    q->by_deadline[i]->deadline_pos = SCHED_QUEUE_NONE;
    q->n_deadline--;
    if (i == last)
        return;
    infer_request *moved = q->by_deadline[last];
    dl_set(q, i, moved);
    dl_up(q, i);
    dl_down(q, moved->deadline_pos);
}

static int reserve(sched_queue *q)
{
    if ((uint32_t)q->len < q->cap)
        return 0;
    if (q->cap >= (UINT32_MAX - 1) / 2)
        return -1;
    uint32_t cap = q->cap ? q->cap * 2 : 16;
    infer_request **a = realloc(q->by_prio, (size_t)cap * sizeof(*a));
    if (!a)
        return -1;
    q->by_prio = a;
    infer_request **d = realloc(q->by_deadline, (size_t)cap * sizeof(*d));
    if (!d)
        return -1; /* by_prio grew; cap did not: still consistent */
    q->by_deadline = d;
    q->cap = cap;
    return 0;
}

static int insert(sched_queue *q, infer_request *req, int64_t seq)
{
    if (reserve(q) != 0)
        return -1;
    req->queue_seq = seq;
    req->next = NULL;
    uint32_t i = (uint32_t)q->len++;
    q->rows += sched_queue_req_rows(req);
    prio_set(q, i, req);
    prio_up(q, i);
    req->deadline_pos = SCHED_QUEUE_NONE;
    if (req->deadline_ns > 0) {
        uint32_t d = q->n_deadline++;
        dl_set(q, d, req);
        dl_up(q, d);
    }
    return 0;
}

int sched_queue_push(sched_queue *q, infer_request *req)
{
    return insert(q, req, q->next_seq++);
}

int sched_queue_push_front(sched_queue *q, infer_request *req)
{
    return insert(q, req, q->front_seq--);
}

infer_request *sched_queue_peek(const sched_queue *q)
{
    return q->len > 0 ? q->by_prio[0] : NULL;
}

static int in_queue(const sched_queue *q, const infer_request *req)
{
    return req->queue_pos < (uint32_t)q->len && q->by_prio[req->queue_pos] == req;
}

static void unlink_req(sched_queue *q, infer_request *req)
{
    if (req->deadline_pos < q->n_deadline && q->by_deadline[req->deadline_pos] == req)
        dl_take(q, req->deadline_pos);
    prio_take(q, req->queue_pos);
    req->deadline_pos = SCHED_QUEUE_NONE;
    q->rows -= sched_queue_req_rows(req);
}

infer_request *sched_queue_pop(sched_queue *q)
{
    infer_request *req = sched_queue_peek(q);
    if (req)
        unlink_req(q, req);
    return req;
}

int sched_queue_remove(sched_queue *q, infer_request *req)
{
    if (!in_queue(q, req))
        return 0;
    unlink_req(q, req);
    return 1;
}

infer_request *sched_queue_pop_expired(sched_queue *q, int64_t now_ns)
{
    if (q->n_deadline == 0 || q->by_deadline[0]->deadline_ns > now_ns)
        return NULL;
    infer_request *req = q->by_deadline[0];
    unlink_req(q, req);
    return req;
}
