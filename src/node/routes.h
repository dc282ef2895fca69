/* The node's HTTP routes: KServe v2 health, metadata, config, stats and infer, Triton's
 * repository extension, plus POST /process. routes_handle is the http_server handler; it
 * runs on a front-end loop thread. A model route gets the model with a reference
 * (repository_acquire) that the route drops when it has answered (an infer: when the
 * request is released). */
#ifndef NODE_ROUTES_H
#define NODE_ROUTES_H

#include <stdatomic.h>

#include "client_shm.h"
#include "inferd/http_server.h"
#include "inferd/repository.h"
#include "inferd/scheduler.h"
#include "inferd/shm.h"

typedef struct routes_ctx {
    repository *repo;        /* borrowed */
    const char *server_name; /* "inferd" */
    const char *version;     /* e.g. "0.1.0" */
    int64_t live_stale_ns;   /* live is 503 once the scheduler's progress is this old */
    int64_t max_timeout_ms;  /* largest timeout a client may ask for (header or parameter);
                                beyond => 400 */
    client_shm *cshm;        /* borrowed; client shared-memory registry (may be disabled) */
    _Atomic int draining;    /* set on SIGTERM: ready answers 503 while requests still flow */
    /* borrowed; the response cache (resp_cache.h), NULL when off */
    struct resp_cache *cache;
    /* The front ends, for their connection counts in /metrics: set by main once started
     * (NULL before, or for a front end that is off); read by any loop thread. */
    _Atomic(struct http_server *) http;
    _Atomic(struct grpc_server *) grpc;
    /* borrowed; the HTTP loops' recycled infer jobs (routes_job_cache.h), NULL: calloc each */
    struct routes_job_cache *jobs;
    /* borrowed; the per-stage request trace (req_trace.h), one shard per HTTP loop; NULL:
     * requests are not traced */
    struct req_trace *trace;
} routes_ctx;

void routes_handle(http_exchange *ex, void *ctx);

/* routes_meta.c. routes_is_live / routes_is_ready: 1, or 0 with the reason in why (shared
 * with the gRPC ServerLive / ServerReady). */
int routes_is_live(routes_ctx *ctx, char *why, size_t why_len);
int routes_is_ready(routes_ctx *ctx, char *why, size_t why_len);
void routes_health_live(http_exchange *ex, routes_ctx *ctx);
void routes_health_ready(http_exchange *ex, routes_ctx *ctx);
void routes_server_metadata(http_exchange *ex, routes_ctx *ctx);
void routes_model_metadata(http_exchange *ex, routes_ctx *ctx, repo_model *model);
void routes_model_ready(http_exchange *ex, routes_ctx *ctx, repo_model *model);

/* routes_config.c: GET /v2/models/{m}/config */
void routes_model_config(http_exchange *ex, routes_ctx *ctx, repo_model *model);

/* routes_stats.c: model = NULL for every model */
void routes_model_stats(http_exchange *ex, routes_ctx *ctx, repo_model *model);

/* routes_metrics.c: GET /metrics (Prometheus text format, docs/metrics.md) */
void routes_metrics(http_exchange *ex, routes_ctx *ctx);

/* routes_repository.c: POST /v2/repository/index, .../models/{m}/load and unload */
void routes_repository_index(http_exchange *ex, routes_ctx *ctx);
void routes_repository_load(http_exchange *ex, routes_ctx *ctx, const char *name, int load);

/* routes_infer.c: takes over the reference to model (dropped once answered). The size of the
 * job each request holds, for routes_job_cache_create. */
size_t routes_infer_job_size(void);
void routes_infer(http_exchange *ex, routes_ctx *ctx, repo_model *model);
void routes_process(http_exchange *ex, routes_ctx *ctx);

/* routes_deadline.c: the deadline of an infer request from either front end, counted from
 * arrival_ns: parameters.timeout (timeout_us >= 0; above max_timeout_ms refused), else the
 * front end's own timeout (transport_ns >= 0: HTTP's Inferd-Timeout-Ms, gRPC's grpc-timeout,
 * already checked by the caller; 0 = none), else the model's timeout_ms. Sets
 * req->deadline_ns (0 = none). Returns 0, or -1 with err (the request is refused as invalid). */
int routes_infer_deadline(const model_config *m, int64_t max_timeout_ms, int64_t timeout_us,
                          int64_t transport_ns, int64_t arrival_ns, infer_request *req, char *err,
                          size_t err_len);

/* routes_shm.c: /v2/systemsharedmemory[/region/{region}]/{action}; region may be NULL. */
void routes_system_shm(http_exchange *ex, routes_ctx *ctx, const char *region, const char *action);

/* routes_dispatch.c: 1 if ex's method fits allow ("GET" = GET or HEAD, "POST"); else answers
 * 405 with Allow and returns 0. */
int routes_method_ok(http_exchange *ex, const char *allow);

/* routes_reply.c: responds with a JSON body (takes the http_buf's data; 500 if it ran out of
 * memory). */
struct http_buf;
void routes_send_buf(http_exchange *ex, int status, struct http_buf *b);

#endif
