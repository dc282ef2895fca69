/* The completion doorbell: how a worker wakes the node's event loop that answers its model,
 * without a thread of the node in between.
 *
 * One doorbell per node event loop. Each has
 *   - a flag, 1 while that loop is about to wait or waiting for I/O ("armed"), in a page the
 *     node maps read-write and every worker maps read-only (the memfd is sealed with
 *     F_SEAL_FUTURE_WRITE, so a worker cannot map it writable);
 *   - a Unix datagram socket pair: the loop polls one end, the workers of the models whose home
 *     is this loop hold the other and send one byte to ring.
 * A worker rings (one send) after publishing a completion, only when the flag is set; the loop
 * arms before its last look at the completion rings, so a completion is always either seen by
 * that look or rung (both sides use sequentially consistent operations: docs/protocol.md).
 *
 * What a hostile worker can do: send bytes (its home loop wakes, a cost bounded by the
 * worker's own CPU; the node reads a bounded number per wake-up), or not ring at all (its
 * answers then wait for the loop's next turn or the completion thread's backstop, a few ms).
 * It cannot read the node's end, block it (the node reads with MSG_DONTWAIT), or write the
 * flags. */
#ifndef INFERD_SHM_DOORBELL_H
#define INFERD_SHM_DOORBELL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHM_DOORBELL_MAX_LOOPS 64

typedef struct shm_doorbell {
    int n_loops;
    int flags_fd;                          /* memfd of the flag page (close-on-exec) */
    _Atomic uint32_t *flags;               /* n_loops words, each on its own cache line */
    int loop_fd[SHM_DOORBELL_MAX_LOOPS];   /* the node's end, non-blocking, close-on-exec */
    int worker_fd[SHM_DOORBELL_MAX_LOOPS]; /* the end given to workers, close-on-exec */
} shm_doorbell;

/* Node: creates the doorbells of n_loops loops (1..SHM_DOORBELL_MAX_LOOPS). 0, or a negative
 * errno with err filled. */
int shm_doorbell_create(int n_loops, shm_doorbell *out, char *err, size_t err_len);
void shm_doorbell_close(shm_doorbell *db);

/* Node, on loop's thread: arm before the last look at the completion rings, disarm once the
 * loop is awake again. */
void shm_doorbell_arm(shm_doorbell *db, int loop);
void shm_doorbell_disarm(shm_doorbell *db, int loop);
/* Node: reads what was rung on loop's end (at most 64 datagrams; never blocks). Returns how
 * many were read. */
int shm_doorbell_drain(shm_doorbell *db, int loop);
/* The home loop of model slot m (models are spread over the loops). */
int shm_doorbell_home(const shm_doorbell *db, int m);

/* Worker side: one loop's doorbell. */
typedef struct shm_doorbell_end {
    const _Atomic uint32_t *flag; /* in the read-only mapping */
    void *map;
    int sock_fd;
} shm_doorbell_end;

/* Worker: maps the flag page behind flags_fd read-only (refusing one that is not sealed
 * against writable mappings) and takes loop's flag and the socket end sock_fd. 0, or a
 * negative errno with err filled. */
int shm_doorbell_attach(int flags_fd, int sock_fd, int loop, shm_doorbell_end *out, char *err,
                        size_t err_len);
void shm_doorbell_detach(shm_doorbell_end *end);
/* Worker: after publishing a completion: rings when the loop is armed. Never blocks. */
void shm_doorbell_ring(const shm_doorbell_end *end);

#endif
