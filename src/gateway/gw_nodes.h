/* The gateway's node table: every node it knows (configured or resolved), with each node's
 * health (breaker, last active check), the models it serves, its latency and in-flight load,
 * and the routing built on them (ring with bounded load for keyed requests, alias table by
 * weight for keyless ones, retry budget, hedge tokens). The layout is in docs/gateway.md.
 *
 * Threads: every function may be called from any thread (loop threads pick and report, the
 * health thread checks, the DNS resolver changes membership); one mutex guards the table.
 * Ownership: the table owns everything in it; functions that return text return malloc'd
 * text the caller frees. */
#ifndef GW_NODES_H
#define GW_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GW_MAX_NODES  256
#define GW_NAME_LEN   96
#define GW_MODEL_LEN  128
#define GW_MAX_MODELS 64

typedef struct gw_node_spec {
    char name[GW_NAME_LEN]; /* "host:port" as shown */
    struct sockaddr_storage addr;
    uint32_t weight; /* >= 1 */
} gw_node_spec;

typedef struct gw_nodes_options {
    double balance_factor;    /* bounded load, default 1.25 (<= 1: no bound) */
    uint32_t vnodes;          /* virtual nodes per unit of weight, default 160 */
    int fail_threshold;       /* active checks failed in a row to mark down, default 2 */
    int success_threshold;    /* active checks passed in a row to mark up, default 2 */
    int outlier_consecutive;  /* passive failures in a row to eject, default 5 */
    int64_t ejection_base_ms; /* default 30000 */
    int64_t ejection_max_ms;  /* default 300000 */
    double hedge_ratio;       /* hedge tokens per request, default 0.05 (0: no hedging) */
    double retry_ratio;       /* retries in flight / active requests, default 0.2 */
    int retry_min;            /* retries always allowed in flight, default 3 */
} gw_nodes_options;
void gw_nodes_options_default(gw_nodes_options *o);

typedef struct gw_nodes gw_nodes;

gw_nodes *gw_nodes_new(const gw_nodes_options *o); /* NULL if out of memory */
void gw_nodes_free(gw_nodes *t);

/* Makes exactly specs[0..n) the present nodes (a node already known by address keeps its
 * slot, state and counters; the rest are marked absent and stop receiving requests).
 * 0, or -1 if the table is full (the nodes that fit are present). */
int gw_nodes_set(gw_nodes *t, const gw_node_spec *specs, int n, int64_t now_ms);

/* A set of node slots (requests remember where they went). */
typedef struct gw_node_set {
    uint64_t bits[GW_MAX_NODES / 64];
} gw_node_set;
static inline void gw_node_set_add(gw_node_set *s, int i)
{
    s->bits[i / 64] |= (uint64_t)1 << (i % 64);
}
static inline int gw_node_set_has(const gw_node_set *s, int i)
{
    return (int)((s->bits[i / 64] >> (i % 64)) & 1);
}

typedef struct gw_pick {
    int node;
    struct sockaddr_storage addr;
    int64_t hedge_ms; /* hedge past this wait: the lowest p95 for the model among the nodes
                       * that could take it now (this one included); 0: none known yet */
} gw_pick;

/* Picks a node for a request on model (NULL or "" for routes of no model), not in tried:
 * keyed: the ring walk from key with bounded load; else by weight (alias table) from the
 * random u. Counts the request in the node's in-flight load. 0, or -1 when no node can
 * take it. */
int gw_nodes_pick(gw_nodes *t, const char *model, int keyed, uint64_t key, uint64_t u,
                  const gw_node_set *tried, int64_t now_ms, gw_pick *out);

enum gw_outcome {
    GW_OUT_OK = 0,     /* an answer that says the node works (any status below 500) */
    GW_OUT_FAIL,       /* connect error, reset, timeout, 5xx: counts toward ejection */
    GW_OUT_OVERLOADED, /* 429/503: not the node's fault, no breaker effect */
    GW_OUT_CANCELLED,  /* we gave up on it (the client left, a later copy lost) */
    GW_OUT_OUTRUN,     /* a copy sent later, to another node, answered first: no verdict, but
                        * latency_us (its wait so far) is a lower bound of the node's latency */
};
/* The end of a request picked with gw_nodes_pick: in-flight load down, the breaker and the
 * latency estimate (for GW_OUT_OK and GW_OUT_OUTRUN) updated. Recording the outrun copies
 * keeps a slow node slow in its estimate: its requests mostly end as the losers of hedges,
 * and without them it would look as fast as the few answers it wins. latency_us < 0: not a
 * latency sample (a stream, a metadata call; see gw_proxy.c and gw_grpc_proxy.c). */
void gw_nodes_done(gw_nodes *t, int node, const char *model, int outcome, int64_t latency_us,
                   int64_t now_ms);

/* 1 if node still looks able to answer: present, its last check passed, breaker not open
 * (a request waiting on it is rescued elsewhere otherwise). */
int gw_nodes_usable(gw_nodes *t, int node, int64_t now_ms);

/* Requests in the gateway, and the retry budget and hedge tokens drawn against them. */
void gw_nodes_request_begin(gw_nodes *t);
void gw_nodes_request_end(gw_nodes *t);
int gw_nodes_retry_acquire(gw_nodes *t); /* 1 if a retry may go now (release it after) */
void gw_nodes_retry_release(gw_nodes *t);
int gw_nodes_hedge_acquire(gw_nodes *t); /* 1 if a hedge may go now (spends a token) */

/* What a copy sent to a node was, for the node's counters in /metrics. */
enum gw_note {
    GW_NOTE_RETRY,     /* a retry or a rescue copy went to the node */
    GW_NOTE_HEDGE,     /* a hedge copy went to the node */
    GW_NOTE_HEDGE_WON, /* the node's answer to a hedge copy was the one the client got */
};
void gw_nodes_note(gw_nodes *t, int node, int note);

/* ---- for the health thread ---- */
/* The present nodes' slots and addresses (at most max). */
int gw_nodes_targets(gw_nodes *t, int *slots, struct sockaddr_storage *addrs, int max);
/* An active check's result. */
void gw_nodes_check_result(gw_nodes *t, int node, int ready, int64_t now_ms);
/* The READY models the node listed in its repository index. */
void gw_nodes_set_models(gw_nodes *t, int node, const char *const *names, int n);
/* 1 if some present node is ready. */
int gw_nodes_any_ready(gw_nodes *t, int64_t now_ms);

/* GET /gateway/nodes: {"nodes": [...]} (docs/gateway.md), malloc'd, or NULL. */
char *gw_nodes_json(gw_nodes *t, int64_t now_ms, size_t *len);

/* GET /metrics: appends the per-node families (label node) and the routing-wide ones (retry
 * budget, hedge tokens) to w (docs/metrics.md, gateway section). */
struct prom_writer;
void gw_nodes_metrics(gw_nodes *t, struct prom_writer *w, int64_t now_ms);

#endif
