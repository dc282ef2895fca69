/* GET /metrics, the node table's part: per node (label node="host:port") routing counters,
 * in-flight load, breaker state, readiness and latency, and the retry budget and hedge tokens.
 * A snapshot is taken under the table's lock, then written one family at a time. */
#include <stdlib.h>
#include <string.h>

#include "gw_nodes_internal.h"
#include "inferd/prom.h"

typedef struct node_snap {
    char name[GW_NAME_LEN];
    int present, ready, in_flight;
    gw_breaker_state state;
    uint64_t requests, failures, retries, hedges, hedges_won, ejections;
    double p50_s, p99_s;
} node_snap;

typedef double (*snap_value)(const node_snap *s);
#define SNAP_FN(fname, expr)                \
    static double fname(const node_snap *s) \
    {                                       \
        return (double)(expr);              \
    }
SNAP_FN(v_requests, s->requests)
SNAP_FN(v_failures, s->failures)
SNAP_FN(v_retries, s->retries)
SNAP_FN(v_hedges, s->hedges)
SNAP_FN(v_hedges_won, s->hedges_won)
SNAP_FN(v_ejections, s->ejections)
SNAP_FN(v_in_flight, s->in_flight)
SNAP_FN(v_present, s->present)
SNAP_FN(v_ready, s->ready)
SNAP_FN(v_p50, s->p50_s)
SNAP_FN(v_p99, s->p99_s)

/* The per-node families that are one number per node. */
static const struct per_node_family {
    const char *name;
    prom_type type;
    const char *help;
    snap_value value;
} per_node_families[] = {
    {"inferd_gateway_node_requests_total", PROM_COUNTER,
     "Copies of requests sent to the node (first tries, retries and hedges).", v_requests},
    {"inferd_gateway_node_failures_total", PROM_COUNTER,
     "Copies that failed on the node (connect error, reset, timeout, 5xx but 503).", v_failures},
    {"inferd_gateway_node_retries_total", PROM_COUNTER, "Retry and rescue copies sent to the node.",
     v_retries},
    {"inferd_gateway_node_hedges_total", PROM_COUNTER, "Hedge copies sent to the node.", v_hedges},
    {"inferd_gateway_node_hedges_won_total", PROM_COUNTER,
     "Hedge copies sent to the node whose answer the client got.", v_hedges_won},
    {"inferd_gateway_node_ejections_total", PROM_COUNTER, "Times the node's breaker opened.",
     v_ejections},
    {"inferd_gateway_node_in_flight", PROM_GAUGE, "Copies sent to the node and not answered yet.",
     v_in_flight},
    {"inferd_gateway_node_present", PROM_GAUGE, "1 if the node is configured or resolved now.",
     v_present},
    {"inferd_gateway_node_ready", PROM_GAUGE, "1 if the node's last active health check passed.",
     v_ready},
    {"inferd_gateway_node_latency_p50_seconds", PROM_GAUGE,
     "The node's median answer time, recent (decaying) estimate; 0 until known.", v_p50},
    {"inferd_gateway_node_latency_p99_seconds", PROM_GAUGE,
     "The node's 99th percentile answer time, recent estimate; 0 until known.", v_p99},
};

/* The nodes worth showing (as /gateway/nodes: present, or routed to once). */
static int snapshot(gw_nodes *t, node_snap *ns, int64_t now_ms)
{
    int n = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *nd = &t->slot[i];
        if (!nd->present && nd->requests == 0) continue;
        node_snap *s = &ns[n++];
        memcpy(s->name, nd->spec.name, sizeof s->name);
        s->present = nd->present;
        s->ready = nd->checked_ready;
        s->in_flight = atomic_load(&nd->in_flight);
        s->state = gw_breaker_state_at(&nd->br, (uint64_t)now_ms);
        s->requests = nd->requests;
        s->failures = nd->failures;
        s->retries = nd->retries;
        s->hedges = nd->hedges;
        s->hedges_won = nd->hedges_won;
        s->ejections = nd->br.ejections_total;
        s->p50_s = (double)gw_latency_quantile(&nd->lat, (uint64_t)now_ms, 0.5) / 1e6;
        s->p99_s = (double)gw_latency_quantile(&nd->lat, (uint64_t)now_ms, 0.99) / 1e6;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

void gw_nodes_metrics(gw_nodes *t, prom_writer *w, int64_t now_ms)
{
    node_snap *ns = calloc(GW_MAX_NODES, sizeof *ns);
    if (!ns) {
        w->failed = 1;
        return;
    }
    int n = snapshot(t, ns, now_ms);
    for (size_t f = 0; f < sizeof per_node_families / sizeof per_node_families[0]; f++) {
        const struct per_node_family *pf = &per_node_families[f];
        prom_family(w, pf->name, pf->type, pf->help);
        for (int i = 0; i < n; i++) {
            prom_label l = {"node", ns[i].name};
            prom_sample(w, &l, 1, pf->value(&ns[i]));
        }
    }
    prom_family(w, "inferd_gateway_node_breaker_state", PROM_GAUGE,
                "The node's circuit breaker: 1 for its current state, 0 for the others.");
    static const gw_breaker_state states[] = {GW_BREAKER_CLOSED, GW_BREAKER_OPEN,
                                              GW_BREAKER_HALF_OPEN};
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
            prom_label l[2] = {{"node", ns[i].name}, {"state", gw_breaker_state_name(states[k])}};
            prom_sample(w, l, 2, ns[i].state == states[k]);
        }
    free(ns);
    prom_family(w, "inferd_gateway_retry_budget_refusals_total", PROM_COUNTER,
                "Retries the retry budget did not allow.");
    prom_sample(w, NULL, 0, (double)atomic_load(&t->retries_refused));
    prom_family(w, "inferd_gateway_retries_in_flight", PROM_GAUGE,
                "Retries holding a place in the retry budget now.");
    prom_sample(w, NULL, 0, (double)gw_retry_budget_retries(&t->retry));
    prom_family(w, "inferd_gateway_hedge_tokens", PROM_GAUGE,
                "Hedge tokens in the bucket (a hedge spends one).");
    prom_sample(w, NULL, 0, gw_hedge_bucket_tokens(&t->hedge));
}
