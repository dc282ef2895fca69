/* Consistent hash ring over the gateway's nodes: virtual nodes (160 per unit of weight by
 * default) placed by xxh3-64 of the node's name, so a node keeps its places whatever else joins
 * or leaves: adding or removing one of N nodes moves about 1/N of the keys.
 *
 * Picking walks clockwise from the key's hash and takes the first node that the caller's
 * filter accepts (serves the model, breaker lets it) and that is not over its bounded-load
 * capacity (Mirrokni, Thorup, Zadimoghaddam 2017; HAProxy's hash-balance-factor, Envoy's
 * hash_balance_factor): with the accepted nodes' in-flight loads summing to T and weights to W,
 * node i may take the request while load[i] < ceil(factor * (T + 1) * w_i / W). Since the
 * capacities add up to more than T, some accepted node always has room; a hot key spills to
 * the next nodes along the ring instead of piling onto one. factor <= 0 or load == NULL turns
 * bounding off (pure consistent hashing).
 *
 * The iterator continues the same walk, giving each node at most once: the pick, then the node
 * for a retry, then one for a hedge...
 *
 * Members are named by their index in the array given to gw_ring_build; load[] and the filter
 * use the same index. A ring is immutable once built: any number of threads may pick from it
 * at once; rebuild and swap it (free the old one when no thread reads it) when nodes change. */
#ifndef GW_RING_H
#define GW_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_RING_VNODES_DEFAULT 160
#define GW_RING_MAX_MEMBERS 1024          /* nodes per ring */
#define GW_RING_MAX_WEIGHT 1000           /* per member */
#define GW_RING_BALANCE_FACTOR_DEFAULT 1.25

typedef struct gw_ring_member {
    uint32_t id;      /* the caller's own id, handed back by gw_ring_member_id */
    const char *name; /* places the virtual nodes ("host:port"); copied; must be unique */
    uint32_t weight;  /* 0 = on no place (never picked); at most GW_RING_MAX_WEIGHT */
} gw_ring_member;

typedef struct gw_ring gw_ring;

/* Builds a ring of n members (n <= GW_RING_MAX_MEMBERS), vnodes_per_weight places per unit of
 * weight (0 = GW_RING_VNODES_DEFAULT). 0 and *out (the caller frees it with gw_ring_free), or
 * -EINVAL (bad sizes, NULL or duplicate names) / -ENOMEM. n == 0 builds an empty ring. */
int gw_ring_build(const gw_ring_member *members, size_t n, uint32_t vnodes_per_weight,
                  gw_ring **out);
void gw_ring_free(gw_ring *ring); /* NULL is fine */

size_t gw_ring_members(const gw_ring *ring);           /* n given to gw_ring_build */
uint32_t gw_ring_member_id(const gw_ring *ring, size_t index);
const char *gw_ring_member_name(const gw_ring *ring, size_t index); /* owned by the ring */
size_t gw_ring_places(const gw_ring *ring);            /* virtual nodes on the ring */

/* The hash routing keys are placed by (xxh3-64, seed 0): hash the Inferd-Routing-Key header,
 * or the model name and the input bytes, with this. */
uint64_t gw_ring_hash(const void *data, size_t len);

/* May the request go to member `index`? Pure query: it may be called for every member, more
 * than once, in any order, before anything is picked. */
typedef bool (*gw_ring_accept_fn)(void *ctx, size_t index);

/* The walk for one key. Plain value, no allocation; lives on the caller's stack. */
typedef struct gw_ring_iter {
    const gw_ring *ring;
    size_t start;  /* first place at or after the key's hash */
    size_t given;  /* members handed out so far */
    uint64_t seen[GW_RING_MAX_MEMBERS / 64];
} gw_ring_iter;

void gw_ring_iter_init(gw_ring_iter *it, const gw_ring *ring, uint64_t key_hash);
/* The next member along the walk not handed out before by this iterator, that accept takes
 * (accept NULL takes all) and that is under its bounded-load capacity; when every accepted
 * member left is over capacity, the first accepted one along the walk. Its index, or -1 when
 * no member is left. load[] has gw_ring_members() entries (in-flight requests per member) or is
 * NULL. The capacity is computed over the accepted members not yet handed out. */
long gw_ring_iter_next(gw_ring_iter *it, gw_ring_accept_fn accept, void *ctx,
                       const uint32_t *load, double factor);

/* gw_ring_iter_init + one gw_ring_iter_next. */
long gw_ring_pick(const gw_ring *ring, uint64_t key_hash, gw_ring_accept_fn accept, void *ctx,
                  const uint32_t *load, double factor);

#endif
