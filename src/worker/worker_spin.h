/* How long a worker polls its ring after a batch before it sleeps: an adaptive budget that
 * follows the recent gaps between batches (docs/protocol.md 5.2), so a worker polls only
 * while polling pays. Pure arithmetic on caller-owned state; no clock, no shared memory. */
#ifndef INFERD_WORKER_SPIN_H
#define INFERD_WORKER_SPIN_H

#include <stdint.h>

/* Longest poll. Must stay within SHM_SPIN_MAX_NS (include/inferd/shm.h), or the node does
 * not believe the promise. */
#define WORKER_SPIN_MAX_NS 50000

typedef struct worker_spin {
    int64_t avg_gap_ns; /* moving average (1/8 weight) of gaps, each capped at 800 µs */
} worker_spin;

/* Starts with the full budget (a fresh worker polls as before). */
void worker_spin_init(worker_spin *s);

/* The poll to do after the batch that just finished: 0 (sleep at once) when the recent gaps
 * averaged over 200 µs (a mostly idle worker), else about twice the average gap, at most
 * WORKER_SPIN_MAX_NS. */
int64_t worker_spin_budget(const worker_spin *s);

/* Records one gap: nanoseconds from the end of the previous batch until the next one was
 * claimed (polled for or slept for alike). Negative gaps count as 0. */
void worker_spin_record(worker_spin *s, int64_t gap_ns);

#endif
