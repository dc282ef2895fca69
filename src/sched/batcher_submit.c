/* Building, submitting, resubmitting and freeing shared-memory batches (node side). */
#include "inferd/clock.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "inferd/log.h"
#include "scheduler_internal.h"

static uint32_t batch_slot(const scheduler *s, const sched_batch *b)
{
    return (uint32_t)(b - s->batches);
}

/* Writes the request part of the table (statuses reset) and the batch descriptor, then
 * pushes it on the model's ring; the worker wake-up is done at once, or, when defer, owed to
 * sched_wake_workers after the lock. Caller holds the model's lock. */
static int write_and_submit(scheduler *s, sched_batch *b, int defer)
{
    uint32_t slot = batch_slot(s, b);
    shm_region *region = s->models[atomic_load_explicit(&b->model, memory_order_relaxed)].region;
    shm_request *table = shm_arena_ptr(region, b->snapshot.table_off);
    for (int r = 0; r < b->n; r++) table[r].status = SHM_STATUS_OK;
    b->snapshot.tag = atomic_fetch_add(&s->next_tag, 1);
    b->snapshot.worker = UINT32_MAX;
    b->snapshot.out_needed = 0;
    b->snapshot.claimed_ns = 0;
    b->snapshot.done_ns = 0;
    b->snapshot.status = SHM_STATUS_OK;
    b->snapshot.error[0] = '\0';
    atomic_store_explicit(&b->snapshot.state, SHM_BATCH_FREE, memory_order_relaxed);
    memcpy(&region->batches[slot], &b->snapshot, sizeof(shm_batch));
    int rc = defer ? shm_submit_push(region, slot) : shm_submit(region, slot);
    if (rc == 0 && defer)
        atomic_fetch_add_explicit(&s->models[b->model].wakes_owed, 1, memory_order_relaxed);
    if (rc == -EPROTO) /* the supervisor, holding the pool lock, kills and resets */
        atomic_store(&s->models[b->model].ring_suspect, 1);
    if (rc != 0) return -1;
    b->attempts++;
    return 0;
}

/* Makes b->reqs hold at least n requests. The array stays with the slot from one batch to
 * the next (freed with the scheduler), so a warm slot dispatches without malloc. */
static int batch_reserve(sched_batch *b, int n)
{
    if (n <= b->reqs_cap) return 0;
    int cap = b->reqs_cap > 0 ? b->reqs_cap : 16;
    while (cap < n) cap *= 2;
    infer_request **r = realloc(b->reqs, (size_t)cap * sizeof(*r));
    if (!r) return -1;
    b->reqs = r;
    b->reqs_cap = cap;
    return 0;
}

/* Puts slot b, taken by sched_dispatch for model m and not submitted, back on the free list. */
static void give_back(scheduler *s, sched_batch *b, int m)
{
    pthread_mutex_lock(&s->batch_mu);
    b->next_free = s->free_batches;
    s->free_batches = b;
    slot_share_give(&s->share, m);
    pthread_mutex_unlock(&s->batch_mu);
}

int sched_dispatch(scheduler *s, int m, infer_request **reqs, int n)
{
    sched_model_state *ms = &s->models[m];
    const model_config *cfg = &ms->cfg;
    shm_region *region = ms->region;
    shm_arena *arena = ms->arena;
    if (n <= 0 || n > SHM_MAX_BATCH || atomic_load(&ms->ring_corrupt) ||
        atomic_load(&ms->ring_suspect))
        return -1;
    uint32_t n_in = (uint32_t)cfg->n_inputs, n_out = (uint32_t)cfg->n_outputs;
    uint64_t table_size = shm_batch_table_size((uint32_t)n, n_in, n_out);
    uint64_t out_cap = 0;
    int64_t rows = 0;
    for (int r = 0; r < n; r++) {
        rows += sched_queue_req_rows(reqs[r]);
        for (uint32_t o = 0; o < n_out; o++) {
            uint64_t est;
            if (batcher_output_estimate(cfg, reqs[r], (int)o, &est) != 0 ||
                out_cap + est + SHM_ALIGN < out_cap)
                return -1;
            out_cap += est + SHM_ALIGN; /* workers may align each tensor */
        }
    }
    if (out_cap == 0) out_cap = SHM_ALIGN;
    uint64_t table_off, out_off;
    if (shm_arena_alloc(arena, table_size, &table_off) != 0) return -1;
    if (shm_arena_alloc(arena, out_cap, &out_off) != 0) {
        shm_arena_free(arena, table_off);
        return -1;
    }
    pthread_mutex_lock(&s->batch_mu);
    sched_batch *b = slot_share_may_take(&s->share, m) ? s->free_batches : NULL;
    if (b) {
        s->free_batches = b->next_free;
        slot_share_take(&s->share, m);
    }
    pthread_mutex_unlock(&s->batch_mu);
    if (!b || batch_reserve(b, n) != 0) {
        if (b) give_back(s, b, m);
        shm_arena_free(arena, table_off);
        shm_arena_free(arena, out_off);
        return -1;
    }
    b->next_free = NULL;
    memcpy(b->reqs, reqs, (size_t)n * sizeof(*b->reqs));

    uint8_t *base = shm_arena_ptr(region, table_off);
    shm_request *sreq = (shm_request *)base;
    shm_tensor *in = (shm_tensor *)(base + (uint64_t)n * sizeof(shm_request));
    shm_tensor *outs = in + (uint64_t)n * n_in;
    for (int r = 0; r < n; r++) {
        sreq[r].id = reqs[r]->id;
        sreq[r].deadline_ns = reqs[r]->deadline_ns;
        sreq[r].delay_us = reqs[r]->delay_us;
        sreq[r].status = SHM_STATUS_OK;
        sreq[r].reserved = 0;
        for (uint32_t i = 0; i < n_in; i++) in[(uint64_t)r * n_in + i] = reqs[r]->inputs[i];
    }
    memset(outs, 0, (uint64_t)n * n_out * sizeof(shm_tensor));

    memset(&b->snapshot, 0, sizeof(b->snapshot));
    b->snapshot.model = (uint32_t)ms->slot;
    b->snapshot.n_requests = (uint32_t)n;
    b->snapshot.n_inputs = n_in;
    b->snapshot.n_outputs = n_out;
    b->snapshot.table_off = table_off;
    b->snapshot.out_off = out_off;
    b->snapshot.out_cap = out_cap;
    atomic_store_explicit(&b->model, m, memory_order_relaxed);
    b->attempts = 0;
    b->resized = 0;
    b->orphaned = 0;
    b->out_handed = 0;
    b->collected = 0;
    b->n = n;
    b->rows = rows;
    if (write_and_submit(s, b, 1) != 0) {
        shm_arena_free(arena, table_off);
        shm_arena_free(arena, out_off);
        b->n = 0;
        give_back(s, b, m);
        return -1;
    }
    atomic_store_explicit(&b->state, SCHED_BATCH_SUBMITTED, memory_order_release);
    b->dispatch_ns = clock_now_ns();
    for (int r = 0; r < n; r++) {
        reqs[r]->trace_ns[INFER_TP_DISPATCHED] = b->dispatch_ns;
        int64_t waited = b->dispatch_ns - reqs[r]->enqueue_ns;
        ms->counters.queue_ns += waited > 0 ? (uint64_t)waited : 0;
        sched_hist_add(&ms->counters.hist[SCHED_HIST_QUEUE], SCHED_HIST_QUEUE, waited);
    }
    ms->counters.queue_count += (uint64_t)n;
    ms->batches_in_flight++;
    ms->rows_in_flight += rows;
    for (int r = 0; r < n; r++) reqs[r]->attempts++;
    log_debug_limited("batch submitted model=%s slot=%u requests=%d rows=%lld out_cap=%llu",
                      cfg->name, batch_slot(s, b), n, (long long)rows, (unsigned long long)out_cap);
    return 0;
}

int sched_batch_resubmit(scheduler *s, sched_batch *b)
{
    return write_and_submit(s, b, 0);
}

void sched_wake_workers(scheduler *s, int m)
{
    sched_model_state *ms = &s->models[m];
    if (atomic_load_explicit(&ms->wakes_owed, memory_order_relaxed) == 0) return;
    int n = atomic_exchange(&ms->wakes_owed, 0);
    if (n > 0) shm_submit_wake(ms->region, (uint32_t)ms->slot, n);
}

void sched_batch_free(scheduler *s, sched_batch *b)
{
    if (b->state == SCHED_BATCH_FREE) return;
    int m = atomic_load_explicit(&b->model, memory_order_relaxed);
    sched_model_state *ms = &s->models[m];
    shm_region *region = ms->region;
    shm_arena *arena = ms->arena;
    shm_arena_free(arena, b->snapshot.table_off);
    if (!b->out_handed) shm_arena_free(arena, b->snapshot.out_off);
    ms->batches_in_flight--;
    ms->rows_in_flight -= b->rows;
    b->n = 0; /* b->reqs stays with the slot */
    atomic_store_explicit(&b->state, SCHED_BATCH_FREE, memory_order_release);
    atomic_store(&region->batches[batch_slot(s, b)].state, SHM_BATCH_FREE);
    pthread_mutex_lock(&s->batch_mu);
    b->next_free = s->free_batches;
    s->free_batches = b;
    slot_share_give(&s->share, m);
    pthread_mutex_unlock(&s->batch_mu);
    if (atomic_load_explicit(&s->slot_wait, memory_order_relaxed) &&
        atomic_exchange(&s->slot_wait, 0))
        sched_kick_batcher(s); /* a model waits for a slot */
}

void sched_batch_fail(scheduler *s, sched_batch *b, int status, const char *error,
                      infer_request **done_list)
{
    if (!b->orphaned)
        for (int r = 0; r < b->n; r++) sched_answer(s, b->reqs[r], status, error, done_list);
    sched_batch_free(s, b);
}
