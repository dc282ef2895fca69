/* The gateway's HTTP handler: answers its own routes (gw_local.c) and forwards every other
 * request to a node (the state machine in docs/gateway.md: pick, send, wait, retry or hedge,
 * answer).
 *
 * Threads: gw_proxy_handle and the before_wait hook run on the HTTP server's loop threads;
 * each loop has its own upstream pool, made on that loop at its first request. */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <stdatomic.h>
#include <stdint.h>

#include "gw_nodes.h"
#include "gw_upstream.h"
#include "inferd/http_server.h"

/* How the gateway answered a forwarded request (inferd_gateway_requests_total{outcome}). */
enum gw_result {
    GW_RES_2XX = 0,     /* any answer below 400 */
    GW_RES_4XX,         /* a node's 4xx, or the gateway's 400 */
    GW_RES_5XX,         /* a node's 5xx (its 503/429 passed on too), or the gateway's own */
    GW_RES_DEADLINE,    /* 504: the deadline passed before a node answered */
    GW_RES_NO_NODE,     /* 503: no node could take it */
    GW_RES_UPSTREAM,    /* 502: every node tried failed at the transport */
    GW_RES_CLIENT_GONE, /* the client closed the request first */
    GW_RES_N
};
const char *gw_result_name(int result);

struct prom_writer;
typedef struct gw_proxy {
    gw_nodes *nodes; /* borrowed */
    gw_upstream_limits limits;
    int64_t request_timeout_ms; /* used when the client sets no Inferd-Timeout-Ms (600000) */
    int max_retries;            /* retries per request (default 2) */
    size_t body_buffer_bytes;   /* bodies up to this are read whole (routing hash, retries,
                                   hedges); larger ones stream through (default 1 MiB) */
    int64_t backoff_base_ms;    /* jittered backoff before retry k: [0, base * 2^k) (default 5) */
    int n_loops;
    gw_pool **pools;                   /* [n_loops], each made on its loop */
    int *loop_closed;                  /* [n_loops], each its loop's: its pool is closed */
    _Atomic int stopping;              /* set before the server shuts down: pools close */
    _Atomic int loops_closed;          /* loops whose pool is closed */
    _Atomic uint64_t seed;             /* for jitter and keyless picks */
    void (*connect_failed)(void *arg); /* may be NULL: a node refused or timed out a connect
                                          (main: ask the resolver for a fresh lookup) */
    void *connect_failed_arg;
    _Atomic uint64_t results[GW_RES_N];    /* forwarded requests by enum gw_result */
    _Atomic int64_t upstream_waiting;      /* requests queued for a connection now (all loops) */
    _Atomic uint64_t bodies_streamed;      /* requests whose body streamed through */
    _Atomic uint64_t streamed_not_retried; /* failures of those a retry would have followed */
    _Atomic uint64_t upstream_queue_full;  /* requests answered 503: their node's queue was full */
    http_server *_Atomic srv;              /* for the connection counts in /metrics; may be NULL */
    /* may be NULL: more families for /metrics (main: the gRPC side's, gw_grpc_metrics) */
    void (*more_metrics)(struct prom_writer *w, void *arg);
    void *more_metrics_arg;
    /* may be NULL: the gRPC side's connections (open, accepted), with more_metrics_arg, for
     * inferd_connections{protocol="grpc"} (gw_grpc_connections) */
    void (*more_connections)(void *arg, int *open, uint64_t *accepted);
} gw_proxy;

/* 0, or -1 if out of memory. n_loops = the HTTP server's threads. */
int gw_proxy_init(gw_proxy *p, gw_nodes *nodes, int n_loops);
/* Shutdown, between http_server_stop_accepting and http_server_shutdown: readiness turns
 * false and every loop closes its idle upstream connections (waits up to timeout_ms for the
 * loops to do it; later answers close their connections instead of pooling them). */
void gw_proxy_stop(gw_proxy *p, int64_t timeout_ms);
/* After http_server_shutdown: frees the pools. */
void gw_proxy_destroy(gw_proxy *p);
/* The http_handler (ctx = the gw_proxy). */
void gw_proxy_handle(http_exchange *ex, void *ctx);
/* For http_options.stream_body (ctx = the gw_proxy): 1 for a body above body_buffer_bytes. */
int gw_proxy_stream_body(http_exchange *ex, void *ctx);
/* Hooks for http_options.hooks: close each loop's idle upstream connections once stopping is
 * set, so the loops can end. */
http_loop_hooks gw_proxy_hooks(gw_proxy *p);

/* gw_local.c: answers the gateway's own routes; 1 if ex was one of them (and is answered). */
int gw_local_route(gw_proxy *p, http_exchange *ex);

/* gw_metrics.c: GET /metrics, the Prometheus text (docs/metrics.md); malloc'd, or NULL. */
char *gw_metrics_text(gw_proxy *p, size_t *len);

/* gw_route_key.c: the model a path names ("" for none; /process is "reverse"), and whether
 * the route is an inference (keyed by Inferd-Routing-Key or model + xxh3 of the body). */
void gw_route_model(const char *path, char *model, size_t len, int *is_infer);
uint64_t gw_route_key(const char *routing_key, const char *model, const char *body,
                      size_t body_len);

#endif
