/* Header-trusting ring operations: they read capacity/mask from the ring header in shared
 * memory. Only for code that trusts whoever writes the region (workers trust the node; unit
 * tests over private rings). The node must use the shm_model_ring_* forms in inferd/shm.h. */
#ifndef INFERD_SHM_WORKER_H
#define INFERD_SHM_WORKER_H

#include "inferd/shm.h"

/* Returns 0, -EAGAIN when full, -EPROTO if the ring is inconsistent. */
int shm_ring_push(shm_ring *ring, uint64_t value);
/* Returns 0 and the value, -EAGAIN when empty, -EPROTO if the ring is inconsistent. If
 * claim_pos is non-NULL, the position being claimed (+1) is stored there before the claim and
 * must be cleared by the caller once the value is recorded elsewhere, so the node can repair a
 * cell whose consumer died mid-pop (shm_model_ring_repair). */
int shm_ring_pop(shm_ring *ring, uint64_t *value, _Atomic uint64_t *claim_pos);
/* As shm_model_ring_repair, with the header's mask. */
int shm_ring_repair(shm_ring *ring, uint64_t claim_pos, uint64_t *value);
uint64_t shm_ring_size(const shm_ring *ring); /* approximate, unclamped */

int shm_spsc_push(shm_spsc *ring, uint64_t value); /* 0 or -EAGAIN */
int shm_spsc_pop(shm_spsc *ring, uint64_t *value); /* 0, -EAGAIN, or -EPROTO */

#endif
