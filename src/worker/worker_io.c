/* Helpers backends use to read inputs and place outputs inside a batch's output area. */
#include "inferd/clock.h"
#include "backend.h"

#include <string.h>
#include <time.h>

void *worker_output_alloc(worker_batch *b, uint32_t r, uint32_t o, inferd_dtype dtype,
                          uint32_t ndim, const int64_t *dims, uint64_t nbytes)
{
    if (r >= b->n_requests || o >= b->n_outputs || ndim > SHM_MAX_DIMS) return NULL;
    shm_tensor *t = &b->outputs[(size_t)r * b->n_outputs + o];
    memset(t, 0, sizeof *t);
    uint64_t start = (b->out_used + 7) & ~(uint64_t)7;
    uint64_t need = (b->out_needed + 7) & ~(uint64_t)7;
    b->out_needed = nbytes > UINT64_MAX - need ? UINT64_MAX : need + nbytes;
    uint64_t cap = b->batch->out_cap;
    if (start > cap || nbytes > cap - start) {
        b->out_used = cap; /* nothing more fits: keep later outputs out too */
        return NULL;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (uint32_t d = 0; d < ndim; d++) t->dims[d] = dims[d];
    t->offset = b->batch->out_off + start;
    t->nbytes = nbytes;
    b->out_used = start + nbytes;
    return shm_arena_ptr(b->region, t->offset);
}

const void *worker_input(const worker_batch *b, uint32_t r, uint32_t i, uint64_t *count)
{
    if (r >= b->n_requests || i >= b->n_inputs) return NULL;
    const shm_tensor *t = &b->inputs[(size_t)r * b->n_inputs + i];
    if (t->ndim > SHM_MAX_DIMS || !inferd_dtype_is_valid((int)t->dtype)) return NULL;
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0) return NULL;
        uint64_t dim = (uint64_t)t->dims[d];
        if (dim && n > UINT64_MAX / dim) return NULL;
        n *= dim;
    }
    if (t->dtype == INFERD_DTYPE_BYTES) {
        if (n > t->nbytes / 4) return NULL;
    } else {
        uint64_t es = inferd_dtype_size((inferd_dtype)t->dtype);
        if (es == 0 || n > UINT64_MAX / es || n * es != t->nbytes) return NULL;
    }
    if (!shm_arena_range_ok(b->region, t->offset, t->nbytes)) return NULL;
    *count = n;
    return shm_arena_ptr(b->region, t->offset);
}

int worker_bytes_next(const uint8_t *data, uint64_t nbytes, uint64_t *pos, const uint8_t **s,
                      uint32_t *len)
{
    if (*pos > nbytes || nbytes - *pos < 4) return -1;
    uint32_t l;
    memcpy(&l, data + *pos, 4);
    if (l > nbytes - *pos - 4) return -1;
    *s = data + *pos + 4;
    *len = l;
    *pos += 4 + (uint64_t)l;
    return 0;
}

int worker_batch_init(worker_batch *wb, shm_region *region, uint32_t slot, int64_t now_ns)
{
    memset(wb, 0, sizeof *wb);
    if (slot >= region->batch_slots) return -1;
    shm_batch *b = &region->batches[slot];
    wb->region = region;
    wb->slot = slot;
    wb->batch = b;
    wb->n_requests = b->n_requests;
    wb->n_inputs = b->n_inputs;
    wb->n_outputs = b->n_outputs;
    if (wb->n_requests == 0 || wb->n_requests > SHM_MAX_BATCH || wb->n_inputs > SHM_MAX_TENSORS ||
        wb->n_outputs > SHM_MAX_TENSORS ||
        !shm_arena_range_ok(region, b->table_off,
                            shm_batch_table_size(wb->n_requests, wb->n_inputs, wb->n_outputs)) ||
        !shm_arena_range_ok(region, b->out_off, b->out_cap))
        return -1;
    uint8_t *table = shm_arena_ptr(region, b->table_off);
    wb->requests = (shm_request *)table;
    wb->inputs = (const shm_tensor *)(table + (size_t)wb->n_requests * sizeof(shm_request));
    wb->outputs = (shm_tensor *)(table + (size_t)wb->n_requests *
                                             (sizeof(shm_request) +
                                              (size_t)wb->n_inputs * sizeof(shm_tensor)));
    memset(wb->outputs, 0, (size_t)wb->n_requests * wb->n_outputs * sizeof(shm_tensor));
    for (uint32_t r = 0; r < wb->n_requests; r++) {
        int64_t dl = wb->requests[r].deadline_ns;
        wb->requests[r].status = dl > 0 && dl <= now_ns ? SHM_STATUS_DEADLINE : SHM_STATUS_OK;
    }
    return 0;
}
