/* Worker backends: what runs a claimed batch. A backend is one file with one backend_ops;
 * adding one (e.g. `onnx`) means writing that file and listing it in backend_registry.c.
 *
 * Sync backends (reverse, identity, onnx) do all their work inside run() and return
 * BACKEND_DONE. Async backends (delay) may return BACKEND_PENDING and keep the batch; the
 * worker loop then keeps claiming and asks poll() for batches that became ready. */
#ifndef INFERD_WORKER_BACKEND_H
#define INFERD_WORKER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/model_config.h"
#include "inferd/shm.h"

/* A claimed batch as a backend sees it. Everything points into the region; the node wrote
 * the requests and inputs (trusted), the backend writes request statuses and, through
 * worker_output_alloc, the outputs. Requests whose status is not SHM_STATUS_OK on entry
 * (e.g. SHM_STATUS_DEADLINE, set by the loop) must be skipped. */
typedef struct worker_batch {
    shm_region *region;
    uint32_t slot;
    shm_batch *batch;
    uint32_t n_requests, n_inputs, n_outputs;
    shm_request *requests;    /* [n_requests] */
    const shm_tensor *inputs; /* request r input i at [r * n_inputs + i] */
    shm_tensor *outputs;      /* request r output o at [r * n_outputs + o] */
    uint64_t out_used;        /* bytes of the output area handed out so far */
    uint64_t out_needed;      /* bytes all outputs asked for, fitting or not */
} worker_batch;

#define BACKEND_DONE    0
#define BACKEND_PENDING 1

typedef struct backend_ops {
    const char *name;
    /* Once per process. *state is the backend's own; freed by destroy. 0 or -1 with err. */
    int (*create)(const model_config *cfg, void **state, char *err, size_t err_len);
    /* Runs a batch. Returns BACKEND_DONE (outputs and statuses written), BACKEND_PENDING
     * (async only: the backend holds `b` until poll hands it back; `b` stays valid and owned
     * by the loop meanwhile), or -1 with err (the whole batch fails with SHM_STATUS_ERROR). */
    int (*run)(void *state, worker_batch *b, char *err, size_t err_len);
    /* Async only (NULL for sync backends): returns one held batch that is finished as of
     * now_ns, or NULL; *next_due_ns gets the earliest time another will be (INT64_MAX if
     * none). */
    worker_batch *(*poll)(void *state, int64_t now_ns, int64_t *next_due_ns);
    void (*destroy)(void *state);
} backend_ops;

/* The backend called `name`, or NULL if this build has none. */
const backend_ops *backend_find(const char *name);

/* Points wb at the batch in slot (claimed by this worker): checks the descriptor, clears the
 * output descriptors and sets each request's status to OK, or DEADLINE if its deadline is at
 * or before now_ns. Returns 0, or -1 if the descriptor is malformed. */
int worker_batch_init(worker_batch *wb, shm_region *region, uint32_t slot, int64_t now_ns);

/* Places output o of request r: fills its shm_tensor (dtype, dims, offset, nbytes) and returns
 * a pointer to nbytes of writable arena inside the batch's output area (8-byte aligned).
 * Returns NULL when the area is too small; out_needed still grows by the size, so after a
 * run the loop reports SHM_STATUS_OUTPUT_TOO_SMALL with the total. ndim <= SHM_MAX_DIMS. */
void *worker_output_alloc(worker_batch *b, uint32_t r, uint32_t o, inferd_dtype dtype,
                          uint32_t ndim, const int64_t *dims, uint64_t nbytes);

/* Pointer to the data of input i of request r after checking that its range lies inside the
 * arena and that its nbytes match its dims and dtype (BYTES: at least 4 per element). NULL if
 * not (the caller marks the request SHM_STATUS_BAD_INPUT). */
const void *worker_input(const worker_batch *b, uint32_t r, uint32_t i, uint64_t *count);

/* Reads BYTES element at *pos of data[0..nbytes): sets *s and *len and advances *pos.
 * Returns 0, or -1 if the element runs past nbytes. */
int worker_bytes_next(const uint8_t *data, uint64_t nbytes, uint64_t *pos, const uint8_t **s,
                      uint32_t *len);

#endif
