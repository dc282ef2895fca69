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

/* ---- the two heaps: one set of functions, the key chosen by `h` ---- */
enum { HEAP_PRIO, HEAP_DEADLINE };

/* 1 if a goes above b: higher priority then earlier push; or the earlier deadline. */
static int before(int h, const infer_request *a, const infer_request *b)
{
    if (h == HEAP_DEADLINE) return a->deadline_ns < b->deadline_ns;
    return a->priority != b->priority ? a->priority > b->priority : a->queue_seq < b->queue_seq;
}

static uint32_t *pos(int h, infer_request *r)
{
    return h == HEAP_DEADLINE ? &r->deadline_pos : &r->queue_pos;
}

static void put(int h, infer_request **heap, uint32_t i, infer_request *r)
{
    heap[i] = r;
    *pos(h, r) = i;
}

static void sift_up(int h, infer_request **heap, uint32_t i)
{
    infer_request *r = heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(h, r, heap[parent])) break;
        put(h, heap, i, heap[parent]);
        i = parent;
    }
    put(h, heap, i, r);
}

static void sift_down(int h, infer_request **heap, uint32_t n, uint32_t i)
{
    infer_request *r = heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(h, heap[c + 1], heap[c])) c++;
        if (!before(h, heap[c], r)) break;
        put(h, heap, i, heap[c]);
        i = c;
    }
    put(h, heap, i, r);
}

/* Takes the entry at i out of a heap of *n: the last entry fills the hole, then moves up or
 * down. */
static void take(int h, infer_request **heap, uint32_t *n, uint32_t i)
{
    uint32_t last = --*n;
    *pos(h, heap[i]) = SCHED_QUEUE_NONE;
    if (i == last) return;
    infer_request *moved = heap[last];
    put(h, heap, i, moved);
    sift_up(h, heap, i);
    sift_down(h, heap, *n, *pos(h, moved));
}

static int reserve(sched_queue *q)
{
    if ((uint32_t)q->len < q->cap) return 0;
    if (q->cap >= (UINT32_MAX - 1) / 2) return -1;
    uint32_t cap = q->cap ? q->cap * 2 : 16;
    infer_request **a = realloc(q->by_prio, (size_t)cap * sizeof(*a));
    if (!a) return -1;
    q->by_prio = a;
    infer_request **d = realloc(q->by_deadline, (size_t)cap * sizeof(*d));
    if (!d) return -1; /* by_prio grew; cap did not: still consistent */
    q->by_deadline = d;
    q->cap = cap;
    return 0;
}

static int insert(sched_queue *q, infer_request *req, int64_t seq)
{
    if (reserve(q) != 0) return -1;
    req->queue_seq = seq;
    req->next = NULL;
    uint32_t i = (uint32_t)q->len++;
    q->rows += sched_queue_req_rows(req);
    put(HEAP_PRIO, q->by_prio, i, req);
    sift_up(HEAP_PRIO, q->by_prio, i);
    req->deadline_pos = SCHED_QUEUE_NONE;
    if (req->deadline_ns > 0) {
        uint32_t d = q->n_deadline++;
        put(HEAP_DEADLINE, q->by_deadline, d, req);
        sift_up(HEAP_DEADLINE, q->by_deadline, d);
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
        take(HEAP_DEADLINE, q->by_deadline, &q->n_deadline, req->deadline_pos);
    req->deadline_pos = SCHED_QUEUE_NONE;
    uint32_t len = (uint32_t)q->len;
    take(HEAP_PRIO, q->by_prio, &len, req->queue_pos);
    q->len = (int)len;
    q->rows -= sched_queue_req_rows(req);
}

infer_request *sched_queue_pop(sched_queue *q)
{
    infer_request *req = sched_queue_peek(q);
    if (req) unlink_req(q, req);
    return req;
}

int sched_queue_remove(sched_queue *q, infer_request *req)
{
    if (!in_queue(q, req)) return 0;
    unlink_req(q, req);
    return 1;
}

infer_request *sched_queue_pop_expired(sched_queue *q, int64_t now_ns)
{
    if (q->n_deadline == 0 || q->by_deadline[0]->deadline_ns > now_ns) return NULL;
    infer_request *req = q->by_deadline[0];
    unlink_req(q, req);
    return req;
}
