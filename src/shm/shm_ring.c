/* Bounded MPMC ring (Vyukov: one sequence number per cell) with crash repair, and the SPSC
 * completion ring. Both live in shared memory and are used by several processes. */
#include "shm_internal.h"
#include "shm_worker.h"

#include <errno.h>

/* Cell protocol (position p, capacity C):
 *   seq == p          empty, ready for the producer of position p
 *   seq == p + 1      full (value written) ready for the consumer of position p; also the
 *                     state while that consumer reads it (claimed: dequeue_pos > p)
 *   seq == p + C      released by the consumer; empty for the producer of position p + C
 * The consumer releases with a CAS (p + 1 -> p + C) so that exactly one of the consumer and
 * shm_ring_repair releases a claimed cell and owns its value. */

/* Every loop below is bounded: a position that does not move while its cell says it should
 * have (dif > 0 with the same position re-read) can only be a scribbled ring, and a ring kept
 * busy for more than SHM_RING_SPIN_LIMIT(mask) rounds is treated the same. Both give -EPROTO,
 * never a spin. Legitimately, a producer's CAS on the position happens before its seq store
 * (release), so a consumer that saw the newer seq also sees the newer position. */
#define SHM_RING_SPIN_LIMIT(mask) (4 * ((mask) + 1) + 1024)

int shm_ring_push_masked(shm_ring *ring, uint64_t mask, uint64_t value)
{
    uint64_t pos = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
    for (uint64_t round = 0; round < SHM_RING_SPIN_LIMIT(mask); round++) {
        shm_ring_cell *cell = &ring->cells[pos & mask];
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                cell->value = value;
                atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
                return 0;
            }
        } else if (dif < 0) {
            return -EAGAIN; /* the cell still holds the value of position pos - C */
        } else {
            uint64_t again = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
            if (again == pos) return -EPROTO; /* cell ahead of a position nobody moved */
            pos = again;
        }
    }
    return -EPROTO;
}

int shm_ring_pop_begin(shm_ring *ring, uint64_t mask, _Atomic uint64_t *claim_pos,
                       uint64_t *pos_out, uint64_t *value)
{
    uint64_t pos = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
    for (uint64_t round = 0; round < SHM_RING_SPIN_LIMIT(mask); round++) {
        shm_ring_cell *cell = &ring->cells[pos & mask];
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            /* Announce the claim before making it, so a crash after the CAS is repairable. */
            if (claim_pos) atomic_store_explicit(claim_pos, pos + 1, memory_order_seq_cst);
            if (atomic_compare_exchange_weak_explicit(&ring->dequeue_pos, &pos, pos + 1,
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                *value = cell->value;
                *pos_out = pos;
                return 0;
            }
        } else if (dif < 0) {
            if (claim_pos) atomic_store_explicit(claim_pos, 0, memory_order_release);
            return -EAGAIN;
        } else {
            uint64_t again = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
            if (again == pos) break; /* cell ahead of a position nobody moved */
            pos = again;
        }
    }
    if (claim_pos) atomic_store_explicit(claim_pos, 0, memory_order_release);
    return -EPROTO;
}

int shm_ring_pop_finish(shm_ring *ring, uint64_t mask, uint64_t pos)
{
    uint64_t expect = pos + 1;
    if (atomic_compare_exchange_strong_explicit(&ring->cells[pos & mask].seq, &expect,
                                                pos + mask + 1, memory_order_acq_rel,
                                                memory_order_relaxed))
        return 0;
    return -ESTALE;
}

int shm_ring_push(shm_ring *ring, uint64_t value)
{
    return shm_ring_push_masked(ring, ring->mask, value);
}

int shm_ring_pop(shm_ring *ring, uint64_t *value, _Atomic uint64_t *claim_pos)
{
    uint64_t mask = ring->mask;
    for (uint64_t round = 0; round < SHM_RING_SPIN_LIMIT(mask); round++) {
        uint64_t pos, v;
        int rc = shm_ring_pop_begin(ring, mask, claim_pos, &pos, &v);
        if (rc) return rc;
        if (shm_ring_pop_finish(ring, mask, pos) == 0) {
            *value = v;
            return 0;
        }
        /* Repaired under us (the node thought we were dead): the node owns it; try again. */
    }
    return -EPROTO;
}

static int ring_repair_masked(shm_ring *ring, uint64_t mask, uint64_t claim_pos, uint64_t *value)
{
    if (claim_pos == 0) return 0;
    uint64_t pos = claim_pos - 1;
    shm_ring_cell *cell = &ring->cells[pos & mask];
    uint64_t expect = pos + 1;
    if (atomic_load_explicit(&cell->seq, memory_order_acquire) != expect) return 0;
    /* seq == pos + 1 and dequeue_pos > pos: claimed but never released. (dequeue_pos <= pos:
     * the claim was only announced; the value is still in the ring for others.) */
    if ((int64_t)(atomic_load_explicit(&ring->dequeue_pos, memory_order_seq_cst) - pos) <= 0)
        return 0;
    uint64_t v = cell->value;
    if (!atomic_compare_exchange_strong_explicit(&cell->seq, &expect, pos + mask + 1,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    *value = v;
    return 1;
}

int shm_ring_repair(shm_ring *ring, uint64_t claim_pos, uint64_t *value)
{
    return ring_repair_masked(ring, ring->mask, claim_pos, value);
}

int shm_model_ring_repair(shm_region *region, uint32_t model, uint64_t claim_pos, uint64_t *value)
{
    shm_ring *ring = shm_model_ring(region, model);
    if (!ring) return -EINVAL;
    return ring_repair_masked(ring, (uint64_t)region->ring_capacity - 1, claim_pos, value);
}

int shm_model_ring_pop(shm_region *region, uint32_t model, uint64_t *value)
{
    shm_ring *ring = shm_model_ring(region, model);
    if (!ring) return -EINVAL;
    uint64_t mask = (uint64_t)region->ring_capacity - 1;
    for (uint64_t round = 0; round < SHM_RING_SPIN_LIMIT(mask); round++) {
        uint64_t pos, v;
        int rc = shm_ring_pop_begin(ring, mask, NULL, &pos, &v);
        if (rc) return rc;
        if (shm_ring_pop_finish(ring, mask, pos) == 0) {
            *value = v;
            return 0;
        }
    }
    return -EPROTO;
}

uint64_t shm_model_ring_size(const shm_region *region, uint32_t model)
{
    shm_ring *ring = shm_model_ring(region, model);
    if (!ring) return 0;
    /* dequeue_pos first: legitimately enqueue_pos >= dequeue_pos at any later instant. */
    uint64_t d = atomic_load_explicit(&ring->dequeue_pos, memory_order_acquire);
    uint64_t e = atomic_load_explicit(&ring->enqueue_pos, memory_order_acquire);
    uint64_t n = e - d;
    return n > region->ring_capacity ? region->ring_capacity : n;
}

int shm_model_ring_check(const shm_region *region, uint32_t model)
{
    shm_ring *ring = shm_model_ring(region, model);
    if (!ring) return -EINVAL;
    uint64_t d = atomic_load_explicit(&ring->dequeue_pos, memory_order_acquire);
    uint64_t e = atomic_load_explicit(&ring->enqueue_pos, memory_order_acquire);
    if (e - d > region->ring_capacity) return -EPROTO; /* also catches e < d */
    if (ring->capacity != region->ring_capacity ||
        ring->mask != (uint64_t)region->ring_capacity - 1)
        return -EPROTO;
    return 0;
}

void shm_model_ring_reset(shm_region *region, uint32_t model)
{
    shm_ring *ring = shm_model_ring(region, model);
    if (!ring) return;
    ring->capacity = region->ring_capacity;
    ring->mask = (uint64_t)region->ring_capacity - 1;
    atomic_store_explicit(&ring->enqueue_pos, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->dequeue_pos, 0, memory_order_relaxed);
    for (uint64_t i = 0; i < region->ring_capacity; i++)
        atomic_store_explicit(&ring->cells[i].seq, i, memory_order_release);
}

uint64_t shm_ring_size(const shm_ring *ring)
{
    uint64_t e = atomic_load_explicit(&((shm_ring *)ring)->enqueue_pos, memory_order_relaxed);
    uint64_t d = atomic_load_explicit(&((shm_ring *)ring)->dequeue_pos, memory_order_relaxed);
    return e > d ? e - d : 0;
}

int shm_spsc_push_masked(shm_spsc *ring, uint64_t mask, uint64_t value)
{
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    if (head - tail > mask) return -EAGAIN;
    ring->items[head & mask] = value;
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return 0;
}

int shm_spsc_pop_masked(shm_spsc *ring, uint64_t mask, uint64_t *value)
{
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    if (head == tail) return -EAGAIN;
    if (head - tail > mask + 1) return -EPROTO; /* more items than the ring holds: a lie */
    *value = ring->items[tail & mask];
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    return 0;
}

int shm_spsc_push(shm_spsc *ring, uint64_t value)
{
    return shm_spsc_push_masked(ring, ring->mask, value);
}

int shm_spsc_pop(shm_spsc *ring, uint64_t *value)
{
    return shm_spsc_pop_masked(ring, ring->mask, value);
}
