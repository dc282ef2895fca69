/* `delay` mock backend: OUTPUT0 = INPUT0 like identity, handed back only after each
 * request's delay (shm_request.delay_us, or the model's delay_ms when -1). Asynchronous: it
 * holds any number of batches in a min-heap keyed by due time, so one worker sleeps for many
 * batches at once while the loop keeps claiming. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>

int backend_identity_copy(worker_batch *b);

typedef struct delay_item {
    int64_t due_ns;
    worker_batch *batch;
} delay_item;

typedef struct delay_state {
    int64_t default_delay_ns;
    delay_item *heap;
    size_t len, cap;
} delay_state;

#define MAX_DELAY_NS (3600ll * 1000000000) /* one hour: anything longer is clamped */

static int delay_create(const model_config *cfg, void **state, char *err, size_t err_len)
{
    delay_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "delay: out of memory");
        return -1;
    }
    int64_t ms = cfg->delay_ms < 0 ? 0 : cfg->delay_ms;
    s->default_delay_ns = ms > MAX_DELAY_NS / 1000000 ? MAX_DELAY_NS : ms * 1000000;
    *state = s;
    return 0;
}

static void heap_swap(delay_item *a, delay_item *b)
{
    delay_item t = *a;
    *a = *b;
    *b = t;
}

static int heap_push(delay_state *s, delay_item item)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        delay_item *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return -1;
        s->heap = h;
        s->cap = cap;
    }
    size_t i = s->len++;
    s->heap[i] = item;
    while (i > 0 && s->heap[(i - 1) / 2].due_ns > s->heap[i].due_ns) {
        heap_swap(&s->heap[(i - 1) / 2], &s->heap[i]);
        i = (i - 1) / 2;
    }
    return 0;
}

static delay_item heap_pop(delay_state *s)
{
    delay_item top = s->heap[0];
    s->heap[0] = s->heap[--s->len];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->len && s->heap[l].due_ns < s->heap[m].due_ns) m = l;
        if (r < s->len && s->heap[r].due_ns < s->heap[m].due_ns) m = r;
        if (m == i) break;
        heap_swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
    return top;
}

static int delay_run(void *state, worker_batch *b, char *err, size_t err_len)
{
    delay_state *s = state;
    int64_t start = b->batch->claimed_ns, due = start;
    for (uint32_t r = 0; r < b->n_requests; r++) {
        shm_request *q = &b->requests[r];
        if (q->status != SHM_STATUS_OK) continue;
        int64_t d = q->delay_us < 0                     ? s->default_delay_ns
                    : q->delay_us > MAX_DELAY_NS / 1000 ? MAX_DELAY_NS
                                                        : q->delay_us * 1000;
        int64_t when = start + d;
        if (q->deadline_ns > 0 && q->deadline_ns < when) {
            q->status = SHM_STATUS_DEADLINE; /* it would finish too late: answer at deadline */
            when = q->deadline_ns;
        }
        if (when > due) due = when;
    }
    backend_identity_copy(b);
    if (heap_push(s, (delay_item){due, b}) != 0) {
        snprintf(err, err_len, "delay: out of memory holding %zu batches", s->len);
        return -1;
    }
    return BACKEND_PENDING;
}

static worker_batch *delay_poll(void *state, int64_t now_ns, int64_t *next_due_ns)
{
    delay_state *s = state;
    worker_batch *b = NULL;
    if (s->len && s->heap[0].due_ns <= now_ns) b = heap_pop(s).batch;
    *next_due_ns = s->len ? s->heap[0].due_ns : INT64_MAX;
    return b;
}

static void delay_destroy(void *state)
{
    delay_state *s = state;
    if (!s) return;
    free(s->heap);
    free(s);
}

const backend_ops backend_delay = {"delay", delay_create, delay_run, delay_poll, delay_destroy};
