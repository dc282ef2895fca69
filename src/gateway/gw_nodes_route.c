/* Routing over the node table: the consistent-hash ring with bounded load for keyed
 * requests, the alias table by weight for keyless ones, both over the present nodes and
 * rebuilt when membership changes; and when a request should hedge. Called with the table's
 * lock held. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gw_nodes_internal.h"
#include "inferd/log.h"

void gw_route_rebuild(gw_nodes *t)
{
    gw_ring_member members[GW_MAX_NODES] = {{0}};
    double weights[GW_MAX_NODES];
    size_t n = 0;
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *nd = &t->slot[i];
        if (!nd->present) continue;
        uint32_t w = nd->spec.weight > GW_RING_MAX_WEIGHT ? GW_RING_MAX_WEIGHT : nd->spec.weight;
        members[n] = (gw_ring_member){.id = (uint32_t)i, .name = nd->spec.name, .weight = w};
        weights[n] = w;
        t->alias_slot[n] = i;
        n++;
    }
    gw_ring *ring = NULL;
    gw_alias *alias = NULL;
    int rc = gw_ring_build(members, n, t->opts.vnodes, &ring);
    if (rc != 0) log_error("gateway: cannot build the hash ring over %zu nodes (%d)", n, rc);
    if (n && gw_alias_build(weights, n, &alias) != 0)
        log_error("gateway: cannot build the alias table over %zu nodes", n);
    gw_ring_free(t->ring);
    gw_alias_free(t->alias);
    t->ring = ring;
    t->alias = alias;
    t->n_alias = alias ? (int)n : 0;
}

#define GW_P50_REFRESH_MS  100 /* how stale a node's cached p50 may be for routing */
#define GW_SLOW_FACTOR_MAX 64

/* Each ring member's load for the bounded-load walk: its requests in flight, scaled by how
 * many times slower than the fastest node it answers (p50, when over 2x), so a slow node
 * (added latency, a struggling machine) passes its keys on along the ring instead of
 * holding a third of the traffic at its own pace. */
static void fill_loads(gw_nodes *t, uint32_t *load, int64_t now_ms)
{
    size_t n = gw_ring_members(t->ring);
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < n && i < GW_MAX_NODES; i++) {
        gw_node *nd = &t->slot[gw_ring_member_id(t->ring, i)];
        if (!nd->p50_read || now_ms - nd->p50_at_ms >= GW_P50_REFRESH_MS) {
            nd->p50_us = gw_latency_quantile(&nd->recent, (uint64_t)now_ms, 0.5);
            nd->p50_at_ms = now_ms;
            nd->p50_read = 1;
        }
        if (nd->present && nd->p50_us && nd->p50_us < best) best = nd->p50_us;
    }
    for (size_t i = 0; i < n && i < GW_MAX_NODES; i++) {
        gw_node *nd = &t->slot[gw_ring_member_id(t->ring, i)];
        int v = atomic_load(&nd->in_flight);
        uint64_t l = v > 0 ? (uint64_t)v : 0;
        if (best != UINT64_MAX && nd->p50_us > 2 * best) {
            uint64_t scale = nd->p50_us / best;
            l *= scale < GW_SLOW_FACTOR_MAX ? scale : GW_SLOW_FACTOR_MAX;
        }
        load[i] = l > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)l;
    }
}

/* When a request on model sent to nd should hedge: past the lowest p95 for the model among
 * the nodes that could take it now (nd's own included). Not nd's own p95 alone: a uniformly
 * slow node (added latency) has a p95 that has become its slowness, and its requests would
 * never hedge. 0: no node's p95 is known yet. */
int64_t gw_node_hedge_ms(gw_nodes *t, gw_node *nd, const char *model, int64_t now_ms)
{
    int64_t best = gw_node_p95_ms(nd, model, now_ms);
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *o = &t->slot[i];
        if (o == nd || !gw_node_accepts(t, i, model, now_ms)) continue;
        int64_t p = gw_node_p95_ms(o, model, now_ms);
        if (p > 0 && (best == 0 || p < best)) best = p;
    }
    return best;
}

typedef struct pick_ctx {
    gw_nodes *t;
    const char *model;
    const gw_node_set *tried;
    int64_t now_ms;
} pick_ctx;

static int slot_ok(const pick_ctx *pc, int slot)
{
    return !gw_node_set_has(pc->tried, slot) && gw_node_accepts(pc->t, slot, pc->model, pc->now_ms);
}

static bool ring_accept(void *ctx, size_t index)
{
    pick_ctx *pc = ctx;
    return slot_ok(pc, (int)gw_ring_member_id(pc->t->ring, index));
}

/* Does some present node list model (or not told us its models yet)? */
static int model_somewhere(gw_nodes *t, const char *model)
{
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *nd = &t->slot[i];
        if (!nd->present) continue;
        if (!nd->models_known) return 1;
        for (int k = 0; k < nd->n_models; k++)
            if (strcmp(nd->models[k], model) == 0) return 1;
    }
    return 0;
}

int gw_route_pick(gw_nodes *t, const char *model, int keyed, uint64_t key, uint64_t u,
                  const gw_node_set *tried, int64_t now_ms)
{
    /* a model no node serves: any node answers it (404, as a node would) */
    if (model && model[0] && !model_somewhere(t, model)) model = NULL;
    pick_ctx pc = {t, model, tried, now_ms};
    if (keyed && t->ring) {
        uint32_t load[GW_MAX_NODES];
        fill_loads(t, load, now_ms);
        long idx = gw_ring_pick(t->ring, key, ring_accept, &pc, load, t->opts.balance_factor);
        return idx < 0 ? -1 : (int)gw_ring_member_id(t->ring, (size_t)idx);
    }
    if (!t->alias) return -1;
    /* by weight; when the pick cannot take it (model, breaker, tried), a few more draws,
     * then the first that can, from a random start */
    for (int k = 0; k < 4; k++) {
        uint64_t v = u * 0x9e3779b97f4a7c15ULL + (uint64_t)k * 0xbf58476d1ce4e5b9ULL;
        int slot = t->alias_slot[gw_alias_pick(t->alias, v ^ (v >> 29))];
        if (slot_ok(&pc, slot)) return slot;
    }
    int n = t->n_alias;
    for (int k = 0; k < n; k++) {
        int slot = t->alias_slot[(int)((u + (uint64_t)k) % (uint64_t)n)];
        if (slot_ok(&pc, slot)) return slot;
    }
    return -1;
}
