/* Internals of the shared-memory transport shared by its .c files (not a public API). */
#ifndef INFERD_SHM_INTERNAL_H
#define INFERD_SHM_INTERNAL_H

#include "inferd/shm.h"

#define SHM_HEADER_SIZE 4096u

/* Ring operations with the mask passed in by the caller (from trusted, private memory) so a
 * corrupted ring header in shared memory cannot send us out of bounds. */
int shm_ring_push_masked(shm_ring *ring, uint64_t mask, uint64_t value);
/* First half of a pop: claims the next cell (recording claim_pos), reads its value. The cell
 * stays claimed until shm_ring_pop_finish. Returns 0, or -EAGAIN when empty. */
int shm_ring_pop_begin(shm_ring *ring, uint64_t mask, _Atomic uint64_t *claim_pos, uint64_t *pos,
                       uint64_t *value);
/* Releases the cell claimed at pos. Returns 0, or -ESTALE if shm_ring_repair took it first. */
int shm_ring_pop_finish(shm_ring *ring, uint64_t mask, uint64_t pos);
int shm_spsc_push_masked(shm_spsc *ring, uint64_t mask, uint64_t value);
int shm_spsc_pop_masked(shm_spsc *ring, uint64_t mask, uint64_t *value);

static inline uint64_t shm_align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

#endif
