/* `identity` mock backend: OUTPUT0 = INPUT0 (same dtype, dims and bytes), per request. */
#include "backend.h"

#include <string.h>

static int identity_create(const model_config *cfg, void **state, char *err, size_t err_len)
{
    (void)cfg;
    (void)err;
    (void)err_len;
    *state = NULL;
    return 0;
}

/* Shared with the delay backend, which copies the same way before it waits. */
int backend_identity_copy(worker_batch *b)
{
    for (uint32_t r = 0; r < b->n_requests; r++) {
        if (b->requests[r].status != SHM_STATUS_OK) continue;
        uint64_t count;
        const void *in = b->n_outputs ? worker_input(b, r, 0, &count) : NULL;
        if (!in) {
            b->requests[r].status = SHM_STATUS_BAD_INPUT;
            continue;
        }
        const shm_tensor *t = &b->inputs[(size_t)r * b->n_inputs];
        void *out =
            worker_output_alloc(b, r, 0, (inferd_dtype)t->dtype, t->ndim, t->dims, t->nbytes);
        if (out) memcpy(out, in, t->nbytes);
    }
    return BACKEND_DONE;
}

static int identity_run(void *state, worker_batch *b, char *err, size_t err_len)
{
    (void)state;
    (void)err;
    (void)err_len;
    return backend_identity_copy(b);
}

static void identity_destroy(void *state)
{
    (void)state;
}

const backend_ops backend_identity = {"identity", identity_create, identity_run, NULL,
                                      identity_destroy};
