/* The batch life cycle across processes: node submit / completion poll / output checks, and
 * the worker's claim / complete. */
#include "inferd/fence.h"
#include "inferd/clock.h"
#include "shm_internal.h"
#include "inferd/shm_doorbell.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 1 if a worker of the region has promised to poll its ring past now (docs/protocol.md 5.2):
 * it will find the batch just pushed without a futex wake. Called after the push. A promise
 * further than SHM_SPIN_MAX_NS ahead is not believed, a stale one (a worker that died while
 * polling) has expired: a worker can make the node skip a wake, nothing more. */
static int worker_polling(shm_region *region)
{
    /* The push, then the look (the worker: clear its promise, fence, look at the ring). */
    inferd_full_fence();
    uint64_t now = 0;
    for (uint32_t w = 0; w < region->max_workers; w++) {
        uint64_t until =
            atomic_load_explicit(&region->workers[w].spin_until_ns, memory_order_relaxed);
        if (until == 0) continue;
        if (now == 0) now = (uint64_t)clock_now_ns();
        if (until > now && until - now <= SHM_SPIN_MAX_NS) return 1;
    }
    return 0;
}

int shm_submit_push(shm_region *region, uint32_t slot)
{
    if (slot >= region->batch_slots) return -EINVAL;
    shm_batch *b = &region->batches[slot];
    uint32_t model = b->model;
    if (model >= region->max_models) return -EINVAL;
    atomic_store_explicit(&b->state, SHM_BATCH_QUEUED, memory_order_release);
    int rc = shm_ring_push_masked(shm_model_ring(region, model),
                                  (uint64_t)region->ring_capacity - 1, slot);
    if (rc) atomic_store_explicit(&b->state, SHM_BATCH_FREE, memory_order_relaxed);
    return rc;
}

void shm_submit_wake(shm_region *region, uint32_t model, int n)
{
    if (n <= 0 || model >= region->max_models) return;
    if (!worker_polling(region)) shm_waiter_wake(&region->models[model].work, n);
}

int shm_submit(shm_region *region, uint32_t slot)
{
    if (slot >= region->batch_slots) return -EINVAL;
    uint32_t model = region->batches[slot].model; /* read before the push hands the slot over */
    int rc = shm_submit_push(region, slot);
    if (rc == 0) shm_submit_wake(region, model, 1);
    return rc;
}

int shm_poll_completion(shm_region *region, uint32_t worker, uint32_t *slot)
{
    shm_spsc *ring = shm_worker_completions(region, worker);
    if (!ring) return -EINVAL;
    uint64_t v;
    int rc = shm_spsc_pop_masked(ring, (uint64_t)region->completion_capacity - 1, &v);
    if (rc) return rc;
    if (v >= region->batch_slots) return -EPROTO; /* a worker wrote garbage */
    *slot = (uint32_t)v;
    return 0;
}

int shm_batch_read_result(const shm_region *region, uint32_t slot, int32_t *status,
                          uint64_t *out_needed, char *error, size_t error_len)
{
    if (slot >= region->batch_slots) return -EINVAL;
    const shm_batch *b = &region->batches[slot];
    int32_t s = *(const volatile int32_t *)&b->status;
    *status = (s >= SHM_STATUS_OK && s <= SHM_STATUS_DEADLINE) ? s : -EPROTO;
    *out_needed = *(const volatile uint64_t *)&b->out_needed;
    if (error_len) {
        size_t n = error_len - 1 < SHM_ERROR_LEN - 1 ? error_len - 1 : SHM_ERROR_LEN - 1;
        memcpy(error, b->error, n);
        error[n] = '\0';
        error[strnlen(error, n)] = '\0';
    }
    return 0;
}

/* Element count of a tensor from its dims, or -1 if a dim is negative or the product
 * overflows. */
static int64_t tensor_count(const shm_tensor *t)
{
    uint64_t count = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0) return -1;
        uint64_t dim = (uint64_t)t->dims[d];
        if (dim && count > (uint64_t)INT64_MAX / dim) return -1;
        count *= dim;
    }
    return (int64_t)count;
}

static int check_tensor(const shm_region *region, const shm_batch *snap, const shm_tensor *t,
                        char *err, size_t err_len)
{
    if (!inferd_dtype_is_valid((int)t->dtype)) {
        snprintf(err, err_len, "output dtype %u is not a known type", t->dtype);
        return -EPROTO;
    }
    if (t->ndim > SHM_MAX_DIMS) {
        snprintf(err, err_len, "output ndim %u > %d", t->ndim, SHM_MAX_DIMS);
        return -EPROTO;
    }
    int64_t count = tensor_count(t);
    if (count < 0) {
        snprintf(err, err_len, "output dims are negative or overflow");
        return -EPROTO;
    }
    if (t->dtype == INFERD_DTYPE_BYTES) {
        /* Each element carries at least its 4-byte length. Encoders must still bound every
         * element length against nbytes while walking the (shared, mutable) data. */
        if ((uint64_t)count > t->nbytes / 4) {
            snprintf(err, err_len, "BYTES output of %lld elements in %llu bytes", (long long)count,
                     (unsigned long long)t->nbytes);
            return -EPROTO;
        }
    } else {
        uint64_t esize = inferd_dtype_size((inferd_dtype)t->dtype);
        if (esize == 0 || (uint64_t)count > UINT64_MAX / esize ||
            (uint64_t)count * esize != t->nbytes) {
            snprintf(err, err_len, "output nbytes %llu does not match dims (%lld x %llu)",
                     (unsigned long long)t->nbytes, (long long)count, (unsigned long long)esize);
            return -EPROTO;
        }
    }
    /* Inside [out_off, out_off + out_cap), overflow-safe. */
    if (t->offset < snap->out_off || t->offset - snap->out_off > snap->out_cap ||
        t->nbytes > snap->out_cap - (t->offset - snap->out_off) ||
        !shm_arena_range_ok(region, t->offset, t->nbytes)) {
        snprintf(err, err_len, "output range [%llu, +%llu) outside the output area [%llu, +%llu)",
                 (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                 (unsigned long long)snap->out_off, (unsigned long long)snap->out_cap);
        return -EPROTO;
    }
    return 0;
}

int shm_batch_check_outputs(const shm_region *region, const shm_batch *snapshot,
                            shm_tensor *outputs, int32_t *statuses, char *err, size_t err_len)
{
    uint32_t n = snapshot->n_requests, ni = snapshot->n_inputs, no = snapshot->n_outputs;
    if (n == 0 || n > SHM_MAX_BATCH || ni > SHM_MAX_TENSORS || no > SHM_MAX_TENSORS ||
        !shm_arena_range_ok(region, snapshot->table_off, shm_batch_table_size(n, ni, no)) ||
        !shm_arena_range_ok(region, snapshot->out_off, snapshot->out_cap)) {
        snprintf(err, err_len, "batch snapshot is inconsistent");
        return -EINVAL;
    }
    const uint8_t *table = region->arena + snapshot->table_off;
    const shm_request *reqs = (const shm_request *)table;
    const shm_tensor *outs =
        (const shm_tensor *)(table + (uint64_t)n *
                                         (sizeof(shm_request) + (uint64_t)ni * sizeof(shm_tensor)));
    /* Copy first, then check the copy: the worker may still be scribbling. */
    for (uint32_t r = 0; r < n; r++) statuses[r] = *(const volatile int32_t *)&reqs[r].status;
    memcpy(outputs, outs, (size_t)n * no * sizeof(shm_tensor));
    for (uint32_t r = 0; r < n; r++) {
        int32_t s = statuses[r];
        if (s != SHM_STATUS_OK && s != SHM_STATUS_ERROR && s != SHM_STATUS_BAD_INPUT &&
            s != SHM_STATUS_DEADLINE) {
            snprintf(err, err_len, "request %u: status %d is not valid", r, s);
            return -EPROTO;
        }
        if (s != SHM_STATUS_OK) {
            memset(&outputs[(size_t)r * no], 0, no * sizeof(shm_tensor));
            continue;
        }
        for (uint32_t o = 0; o < no; o++) {
            char why[160];
            if (check_tensor(region, snapshot, &outputs[(size_t)r * no + o], why, sizeof why)) {
                snprintf(err, err_len, "request %u output %u: %s", r, o, why);
                return -EPROTO;
            }
        }
    }
    return 0;
}

int shm_worker_claim(shm_region *region, uint32_t worker, uint32_t model, uint32_t *slot)
{
    if (worker >= region->max_workers || model >= region->max_models) return -EINVAL;
    shm_worker *w = &region->workers[worker];
    shm_ring *ring = shm_model_ring(region, model);
    uint64_t mask = (uint64_t)region->ring_capacity - 1;
    for (uint32_t round = 0; round <= region->ring_capacity; round++) {
        uint64_t pos, value;
        int rc = shm_ring_pop_begin(ring, mask, &w->claim_pos, &pos, &value);
        if (rc) return rc;
        if (value >= region->batch_slots) {
            /* Not from a correct node; drop it rather than touch memory we cannot name. */
            shm_ring_pop_finish(ring, mask, pos);
            atomic_store_explicit(&w->claim_pos, 0, memory_order_release);
            return -EPROTO;
        }
        shm_batch *b = &region->batches[value];
        /* Record ownership in the batch before releasing the ring cell: at every instant
         * the node can find the batch either via claim_pos (repair) or via batch.worker. */
        b->worker = worker;
        b->claimed_ns = clock_now_ns();
        b->status = SHM_STATUS_OK;
        b->out_needed = 0;
        b->error[0] = '\0';
        atomic_fetch_add_explicit(&w->in_hand, 1, memory_order_relaxed);
        atomic_store_explicit(&b->state, SHM_BATCH_CLAIMED, memory_order_release);
        if (shm_ring_pop_finish(ring, mask, pos) != 0) {
            /* The node repaired this cell (it believed we were dead): the batch is its. */
            atomic_fetch_sub_explicit(&w->in_hand, 1, memory_order_relaxed);
            continue;
        }
        atomic_store_explicit(&w->claim_pos, 0, memory_order_release);
        *slot = (uint32_t)value;
        return 0;
    }
    return -EAGAIN; /* the node kept repairing our cells: look again on the next round */
}

int shm_worker_complete(shm_region *region, uint32_t worker, uint32_t slot)
{
    if (worker >= region->max_workers || slot >= region->batch_slots) return -EINVAL;
    shm_worker *w = &region->workers[worker];
    shm_spsc *ring = shm_worker_completions(region, worker);
    uint64_t mask = (uint64_t)region->completion_capacity - 1;
    /* We are the only producer: space seen now is still there after marking DONE. */
    if (atomic_load_explicit(&ring->head, memory_order_relaxed) -
            atomic_load_explicit(&ring->tail, memory_order_acquire) >
        mask)
        return -EAGAIN;
    shm_batch *b = &region->batches[slot];
    uint32_t n = b->n_requests;
    /* What a client may read (stats, metrics) once it has its answer is updated before the
     * node can see the completion: the releases below order these stores before it. The
     * node only reports these, never trusts them (docs/protocol.md 2.1). */
    if (atomic_fetch_sub_explicit(&w->in_hand, 1, memory_order_relaxed) == 1) {
        uint32_t busy = SHM_WORKER_BUSY;
        atomic_compare_exchange_strong_explicit(&w->state, &busy, SHM_WORKER_IDLE,
                                                memory_order_relaxed, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&w->batches_done, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->requests_done, n, memory_order_relaxed);
    b->done_ns = clock_now_ns();
    atomic_store_explicit(&b->state, SHM_BATCH_DONE, memory_order_release);
    if (shm_spsc_push_masked(ring, mask, slot) != 0) return -EAGAIN; /* cannot happen */
    if (region->doorbell) shm_doorbell_ring(region->doorbell);
    else shm_waiter_wake(&region->header->completion, 1);
    return 0;
}
