/* The dynamic batcher's decisions, kept free of threads and processes so they can be unit
 * tested: when to dispatch, which requests form a batch, how big the output area must be. */
#ifndef NODE_BATCHER_H
#define NODE_BATCHER_H

#include <stdint.h>

#include "inferd/model_config.h"
#include "scheduler_queue.h"

/* Rows a batch of this model may hold (1 request when the model is not batched). */
int64_t batcher_max_rows(const model_config *cfg);

/* Pops from q, in order, the requests of the next batch: as many as fit in max_rows rows
 * (always at least one if a live request is queued) and at most max_reqs. Requests whose
 * deadline passed (deadline_ns != 0 && <= now_ns) are linked onto *expired (through ->next)
 * instead. Returns the number stored in out[]. */
int batcher_form(sched_queue *q, int64_t max_rows, int max_reqs, int64_t now_ns,
                 infer_request **out, infer_request **expired);

/* 1 if a batch should go now: the queue is non-empty, the ring is shallow (ring_depth <
 * idle_workers + 1) and either a worker is idle (work-conserving), a full batch is waiting,
 * or the oldest request has waited max_delay_us. */
int batcher_should_dispatch(int64_t queue_rows, int64_t max_rows, int64_t oldest_enqueue_ns,
                            int64_t now_ns, int64_t max_delay_us, int idle_workers,
                            int64_t ring_depth);

/* Output bytes to reserve for output `o` of req: exact when every dim is known; else an
 * estimate from the inputs (BYTES, reverse-style: input bytes + 24 per element + 256;
 * otherwise input bytes * 2 + 4 KiB). A worker that needs more answers OUTPUT_TOO_SMALL and
 * the batch is resubmitted once with the size it asked for. Returns 0, or -1 on overflow. */
int batcher_output_estimate(const model_config *cfg, const infer_request *req, int o,
                            uint64_t *bytes);

#endif
