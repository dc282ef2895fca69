/* Private to gw_nodes*.c: the node table's layout (docs/gateway.md). Everything but
 * in_flight is guarded by gw_nodes.lock. */
#ifndef GW_NODES_INTERNAL_H
#define GW_NODES_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "gw_alias.h"
#include "gw_breaker.h"
#include "gw_budget.h"
#include "gw_latency.h"
#include "gw_nodes.h"
#include "gw_ring.h"

typedef struct gw_model_latency {
    char model[GW_MODEL_LEN];
    gw_latency lat;
    uint64_t p95_us;   /* of lat, cached for picks (0: not known yet) */
    int64_t p95_at_ms; /* when p95_us was read */
    int p95_read;
} gw_model_latency;

/* Routing's latency memory: a node that turns slow must lose its keys within about a second,
 * not after the 10 s half-life of the estimates /gateway/nodes shows. */
#define GW_ROUTE_HALF_LIFE_MS 1000

typedef struct gw_node {
    gw_node_spec spec;
    int present;       /* configured or resolved now */
    int joined;        /* in the breaker set */
    int checked_ready; /* the last active check passed */
    int checks;        /* active checks answered */
    gw_breaker br;
    char *models[GW_MAX_MODELS]; /* READY models in its repository index (malloc'd) */
    int n_models;
    int models_known;            /* the index was read at least once (until then: serves all) */
    gw_latency lat;              /* all its requests, for /gateway/nodes */
    gw_latency recent;           /* the same with a short half-life: routing's p50 */
    gw_model_latency *per_model; /* malloc'd [n_per_model], for hedging */
    int n_per_model;
    _Atomic int in_flight;
    uint64_t requests, failures;
    uint64_t p50_us;   /* of recent, cached for routing (0: not known yet) */
    int64_t p50_at_ms; /* when p50_us was read */
    int p50_read;
    uint64_t retries, hedges, hedges_won; /* copies of each kind sent to it (enum gw_note) */
} gw_node;

struct gw_nodes {
    gw_nodes_options opts;
    pthread_mutex_t lock;
    gw_node slot[GW_MAX_NODES];
    int n_slots;
    uint64_t generation; /* membership changes */
    gw_breaker_set brset;
    gw_ring *ring; /* over the present nodes; member id = slot */
    gw_alias *alias;
    int alias_slot[GW_MAX_NODES]; /* alias index -> slot */
    int n_alias;
    gw_retry_budget retry;
    gw_hedge_bucket hedge;
    _Atomic uint64_t retries_refused; /* a retry the budget did not allow */
};

/* gw_nodes.c */
int gw_node_accepts(gw_nodes *t, int slot, const char *model, int64_t now_ms);
void gw_node_free_models(gw_node *nd);
/* gw_nodes_route.c: the ring and the alias table over the present nodes; the hedge time */
void gw_route_rebuild(gw_nodes *t);
int64_t gw_node_hedge_ms(gw_nodes *t, gw_node *nd, const char *model, int64_t now_ms);
int gw_route_pick(gw_nodes *t, const char *model, int keyed, uint64_t key, uint64_t u,
                  const gw_node_set *tried, int64_t now_ms);
/* gw_nodes_health.c: breaker and latency per node */
void gw_node_join(gw_nodes *t, gw_node *nd, int64_t now_ms);
void gw_node_leave(gw_nodes *t, gw_node *nd);
int gw_node_admits(gw_nodes *t, const gw_node *nd, int64_t now_ms);
void gw_node_admitted(gw_nodes *t, gw_node *nd, int64_t now_ms);
void gw_node_outcome(gw_nodes *t, gw_node *nd, const char *model, int outcome, int64_t latency_us,
                     int64_t now_ms);
void gw_node_check(gw_nodes *t, gw_node *nd, int ready, int64_t now_ms);
int64_t gw_node_p95_ms(gw_node *nd, const char *model, int64_t now_ms); /* 0: not known */
void gw_node_free_latency(gw_node *nd);

#endif
