/* Fair sharing of the node's batch slots between models. Each of n models is guaranteed
 * share = max(1, total / n) slots, and headroom = max(1, share / 8) of them at once (no
 * headroom when there are fewer slots than models):
 * - a model below its share may take a free slot while the free slots outnumber the headroom
 *   the other models have not used yet (base reserve: headroom - used, at least 0);
 * - a model at or above its share (borrowing) may take one only while the free slots
 *   outnumber the others' full reserve: headroom free slots beyond their use, up to their
 *   share (min(share - used, headroom), at least 0).
 * So one model flooding the node cannot starve another: the other finds its headroom free at
 * once, and as the flood's slots come back it grows to its share before the flood may take
 * them again. An idle model holds back only its headroom, so a lone busy model still gets
 * nearly every slot. Pure bookkeeping, no locks (the scheduler's batch_mu guards it). */
#ifndef NODE_SLOT_SHARE_H
#define NODE_SLOT_SHARE_H

#include <stdint.h>

typedef struct slot_share {
    uint32_t total; /* slots in the node */
    int n_models;
    uint32_t share;    /* guaranteed per model */
    uint32_t headroom; /* reserved beyond use, below the share */
    uint32_t used_total;
    uint64_t reserved_total; /* sum over models of slot_share_reserved */
    uint64_t base_total;     /* sum over models of headroom not used yet */
    uint32_t *used;          /* n_models, owned */
} slot_share;

/* 0, or -1 (out of memory / n_models < 0). Free with slot_share_destroy. */
int slot_share_init(slot_share *sh, uint32_t total, int n_models);
void slot_share_destroy(slot_share *sh);
/* Free slots a model that uses `used` keeps from borrowers: min(share - used, headroom), or 0
 * at or above its share. */
uint32_t slot_share_reserved(const slot_share *sh, uint32_t used);
/* 1 if model m may take a free slot now, else 0 (also for m out of range). */
int slot_share_may_take(const slot_share *sh, int m);
/* Model m took / gave back one slot (take only after may_take said 1). */
void slot_share_take(slot_share *sh, int m);
void slot_share_give(slot_share *sh, int m);

#endif
