/* Batch formation, dispatch decision and output sizing (see batcher.h). */
#include "batcher.h"

#include <stddef.h>

#include "inferd/dtype.h"

int64_t batcher_max_rows(const model_config *cfg)
{
    return cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
}

int batcher_form(sched_queue *q, int64_t max_rows, int max_reqs, int64_t now_ns,
                 infer_request **out, infer_request **expired)
{
    int n = 0;
    int64_t rows = 0;
    infer_request *req;
    while ((req = sched_queue_pop_expired(q, now_ns))) {
        req->next = *expired;
        *expired = req;
    }
    while ((req = sched_queue_peek(q)) && n < max_reqs) {
        int64_t r = sched_queue_req_rows(req);
        if (n > 0 && rows + r > max_rows) break;
        sched_queue_pop(q);
        out[n++] = req;
        rows += r;
        if (rows >= max_rows) break;
    }
    return n;
}

int batcher_should_dispatch(int64_t queue_rows, int64_t max_rows, int64_t oldest_enqueue_ns,
                            int64_t now_ns, int64_t max_delay_us, int idle_workers,
                            int64_t ring_depth)
{
    if (queue_rows <= 0) return 0;
    if (ring_depth >= (int64_t)idle_workers + 1) return 0;
    if (idle_workers > 0 || queue_rows >= max_rows || max_delay_us <= 0) return 1;
    return now_ns - oldest_enqueue_ns >= max_delay_us * 1000;
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int batcher_output_estimate(const model_config *cfg, const infer_request *req, int o,
                            uint64_t *bytes)
{
    const model_io *io = &cfg->outputs[o];
    size_t esize = inferd_dtype_size(io->dtype);
    uint64_t elems = 1;
    int known = esize > 0;
    if (cfg->max_batch_size > 0 && !mul_ok(elems, (uint64_t)sched_queue_req_rows(req), &elems))
        return -1;
    for (int d = 0; known && d < io->ndim; d++) {
        if (io->dims[d] < 0) known = 0;
        else if (!mul_ok(elems, (uint64_t)io->dims[d], &elems)) return -1;
    }
    if (known) return mul_ok(elems, esize, bytes) ? 0 : -1;

    uint64_t in_bytes = 0, in_elems = 0;
    for (uint32_t i = 0; i < req->n_inputs && i < MODEL_MAX_IO; i++) {
        uint64_t e = 1;
        for (uint32_t d = 0; d < req->inputs[i].ndim && d < SHM_MAX_DIMS; d++)
            if (req->inputs[i].dims[d] > 0 && !mul_ok(e, (uint64_t)req->inputs[i].dims[d], &e))
                return -1;
        if (in_bytes + req->inputs[i].nbytes < in_bytes || in_elems + e < in_elems) return -1;
        in_bytes += req->inputs[i].nbytes;
        in_elems += e;
    }
    uint64_t est;
    if (io->dtype == INFERD_DTYPE_BYTES) {
        /* reverse: "WORKER_PROCESSED: " (18) + the string per element, u32 length each */
        uint64_t extra;
        if (!mul_ok(in_elems, 24, &extra) || in_bytes + extra < in_bytes) return -1;
        est = in_bytes + extra;
        if (est + 256 < est) return -1;
        *bytes = est + 256;
        return 0;
    }
    if (!mul_ok(in_bytes, 2, &est) || est + 4096 < est) return -1;
    *bytes = est + 4096;
    return 0;
}
