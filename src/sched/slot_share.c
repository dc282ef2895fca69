/* Batch-slot sharing policy between models (see slot_share.h). */
#include "slot_share.h"

#include <stdlib.h>

/* What a model keeps back from a taker below its share: the headroom not yet used. */
static uint32_t base_reserve(const slot_share *sh, uint32_t used)
{
    return used < sh->headroom ? sh->headroom - used : 0;
}

int slot_share_init(slot_share *sh, uint32_t total, int n_models)
{
    sh->used = NULL;
    if (n_models < 0) return -1;
    sh->total = total;
    sh->n_models = n_models;
    uint32_t raw = n_models > 0 ? total / (uint32_t)n_models : total;
    sh->share = raw > 0 ? raw : 1;
    /* Every reserve must fit at once: none when there are fewer slots than models. */
    sh->headroom = raw / 8 > 0 ? raw / 8 : raw > 0 ? 1 : 0;
    sh->used_total = 0;
    sh->used = calloc(n_models > 0 ? (size_t)n_models : 1, sizeof(*sh->used));
    if (!sh->used) return -1;
    sh->reserved_total = (uint64_t)slot_share_reserved(sh, 0) * (uint64_t)n_models;
    sh->base_total = (uint64_t)base_reserve(sh, 0) * (uint64_t)n_models;
    return 0;
}

void slot_share_destroy(slot_share *sh)
{
    free(sh->used);
    sh->used = NULL;
}

uint32_t slot_share_reserved(const slot_share *sh, uint32_t used)
{
    if (used >= sh->share) return 0;
    uint32_t below = sh->share - used;
    return below < sh->headroom ? below : sh->headroom;
}

int slot_share_may_take(const slot_share *sh, int m)
{
    if (m < 0 || m >= sh->n_models || sh->used_total >= sh->total) return 0;
    uint32_t used = sh->used[m];
    uint64_t free_slots = sh->total - sh->used_total;
    /* Below its share a model leaves the others the headroom they have not used yet; above
     * it (borrowing) it leaves them headroom beyond their use, up to their share. */
    uint64_t others = used < sh->share ? sh->base_total - base_reserve(sh, used)
                                       : sh->reserved_total - slot_share_reserved(sh, used);
    return free_slots > others;
}

static void set_used(slot_share *sh, int m, uint32_t used)
{
    sh->reserved_total -= slot_share_reserved(sh, sh->used[m]);
    sh->reserved_total += slot_share_reserved(sh, used);
    sh->base_total -= base_reserve(sh, sh->used[m]);
    sh->base_total += base_reserve(sh, used);
    sh->used[m] = used;
}

void slot_share_take(slot_share *sh, int m)
{
    if (m < 0 || m >= sh->n_models || sh->used_total >= sh->total)
        return; /* never more slots than there are: the sums below cannot wrap */
    set_used(sh, m, sh->used[m] + 1);
    sh->used_total++;
}

void slot_share_give(slot_share *sh, int m)
{
    if (m < 0 || m >= sh->n_models || sh->used[m] == 0) return;
    set_used(sh, m, sh->used[m] - 1);
    sh->used_total--;
}
