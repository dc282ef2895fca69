/* The consistent hash ring: building the sorted virtual-node array and the bounded-load walk
 * (gw_ring.h). */
#include "gw_ring.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct gw_ring_place {
    uint64_t hash;
    uint32_t member;
} gw_ring_place;

struct gw_ring {
    size_t n_members;
    size_t n_places;
    uint32_t *ids;
    uint32_t *weights;
    char **names;
    gw_ring_place *places; /* sorted by hash, then by member name */
};

uint64_t gw_ring_hash(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

static int place_cmp(const void *a, const void *b, void *ring)
{
    const gw_ring_place *x = a, *y = b;
    const gw_ring *sort_ring = ring;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    /* equal hashes (rare): order by name, so the order does not depend on member order */
    return strcmp(sort_ring->names[x->member], sort_ring->names[y->member]);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int names_unique(const gw_ring_member *members, size_t n)
{
    if (n < 2)
        return 1;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = members[i].name;
    qsort(sorted, n, sizeof *sorted, name_cmp);
    int ok = 1;
    for (size_t i = 1; i < n && ok; i++)
        ok = strcmp(sorted[i - 1], sorted[i]) != 0;
    free(sorted);
    return ok;
}

int gw_ring_build(const gw_ring_member *members, size_t n, uint32_t vnodes_per_weight,
                  gw_ring **out)
{
    *out = NULL;
    if (n > GW_RING_MAX_MEMBERS || (n && !members))
        return -EINVAL;
    if (vnodes_per_weight == 0)
        vnodes_per_weight = GW_RING_VNODES_DEFAULT;
    if (vnodes_per_weight > 100000)
        return -EINVAL;
    size_t places = 0;
    for (size_t i = 0; i < n; i++) {
        if (!members[i].name || members[i].weight > GW_RING_MAX_WEIGHT)
            return -EINVAL;
        /* at most 1024 * 1000 * 100000 < 2^37: no overflow in size_t (64-bit) */
        places += (size_t)members[i].weight * vnodes_per_weight;
    }
    if (places > ((size_t)1 << 26))
        return -EINVAL; /* 64M places is far beyond any sensible cluster */
    int uniq = names_unique(members, n);
    if (uniq <= 0)
        return uniq < 0 ? uniq : -EINVAL;

    gw_ring *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->n_members = n;
    r->ids = calloc(n ? n : 1, sizeof *r->ids);
    r->weights = calloc(n ? n : 1, sizeof *r->weights);
    r->names = calloc(n ? n : 1, sizeof *r->names);
    r->places = calloc(places ? places : 1, sizeof *r->places);
    if (!r->ids || !r->weights || !r->names || !r->places)
        goto nomem;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        r->ids[i] = members[i].id;
        r->weights[i] = members[i].weight;
        r->names[i] = strdup(members[i].name);
        if (!r->names[i])
            goto nomem;
        size_t len = strlen(members[i].name);
        size_t count = (size_t)members[i].weight * vnodes_per_weight;
        for (size_t v = 0; v < count; v++) {
            r->places[k].hash = XXH3_64bits_withSeed(members[i].name, len, v);
            r->places[k].member = (uint32_t)i;
            k++;
        }
    }
    r->n_places = places;
    qsort_r(r->places, places, sizeof *r->places, place_cmp, r);
    *out = r;
    return 0;
nomem:
    gw_ring_free(r);
    return -ENOMEM;
}

void gw_ring_free(gw_ring *ring)
{
    if (!ring)
        return;
    if (ring->names)
        for (size_t i = 0; i < ring->n_members; i++)
            free(ring->names[i]);
    free(ring->names);
    free(ring->ids);
    free(ring->weights);
    free(ring->places);
    free(ring);
}

size_t gw_ring_members(const gw_ring *ring) { return ring->n_members; }
size_t gw_ring_places(const gw_ring *ring) { return ring->n_places; }

uint32_t gw_ring_member_id(const gw_ring *ring, size_t index)
{
    return index < ring->n_members ? ring->ids[index] : 0;
}

const char *gw_ring_member_name(const gw_ring *ring, size_t index)
{
    return index < ring->n_members ? ring->names[index] : NULL;
}

void gw_ring_iter_init(gw_ring_iter *it, const gw_ring *ring, uint64_t key_hash)
{
    memset(it, 0, sizeof *it);
    it->ring = ring;
    /* first place with hash >= key_hash, wrapping to 0 */
    size_t lo = 0, hi = ring->n_places;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring->places[mid].hash < key_hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    it->start = ring->n_places ? lo % ring->n_places : 0;
}

static bool bit_get(const uint64_t *bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1u; }
static void bit_set(uint64_t *bits, size_t i) { bits[i / 64] |= (uint64_t)1 << (i % 64); }

long gw_ring_iter_next(gw_ring_iter *it, gw_ring_accept_fn accept, void *ctx,
                       const uint32_t *load, double factor)
{
    const gw_ring *r = it->ring;
    if (r->n_places == 0 || it->given >= r->n_members)
        return -1;
    /* The candidates: accepted, on the ring, not yet given. Their load and weight sums set
     * each one's capacity. */
    uint64_t candidate[GW_RING_MAX_MEMBERS / 64] = {0};
    uint64_t total_load = 0, total_weight = 0;
    size_t candidates = 0;
    for (size_t i = 0; i < r->n_members; i++) {
        if (r->weights[i] == 0 || bit_get(it->seen, i) || (accept && !accept(ctx, i)))
            continue;
        bit_set(candidate, i);
        candidates++;
        total_weight += r->weights[i];
        if (load)
            total_load += load[i];
    }
    if (candidates == 0)
        return -1;
    bool bounded = load && factor > 0 && isfinite(factor);
    long fallback = -1;
    uint64_t looked[GW_RING_MAX_MEMBERS / 64] = {0};
    size_t distinct = 0;
    for (size_t step = 0; step < r->n_places && distinct < candidates; step++) {
        size_t m = r->places[(it->start + step) % r->n_places].member;
        if (!bit_get(candidate, m) || bit_get(looked, m))
            continue;
        bit_set(looked, m);
        distinct++;
        if (fallback < 0)
            fallback = (long)m;
        if (!bounded)
            break;
        /* capacity = ceil(factor * (T + 1) * w / W) */
        double cap = ceil(factor * (double)(total_load + 1) * (double)r->weights[m] /
                          (double)total_weight);
        if ((double)load[m] < cap) {
            fallback = (long)m;
            break;
        }
    }
    bit_set(it->seen, (size_t)fallback);
    it->given++;
    return fallback;
}

long gw_ring_pick(const gw_ring *ring, uint64_t key_hash, gw_ring_accept_fn accept, void *ctx,
                  const uint32_t *load, double factor)
{
    gw_ring_iter it;
    gw_ring_iter_init(&it, ring, key_hash);
    return gw_ring_iter_next(&it, accept, ctx, load, factor);
}
