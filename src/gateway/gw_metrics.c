/* GET /metrics on the gateway: the Prometheus text (docs/metrics.md, gateway section):
 * forwarded requests by outcome, the node table's families (gw_nodes_metrics.c), the HTTP
 * front end's connections and the process_* families. */
#include <stdlib.h>

#include "gw_proxy.h"
#include "inferd/clock.h"
#include "inferd/prom.h"
#include "inferd/prom_process.h"

const char *gw_result_name(int result)
{
    static const char *const names[GW_RES_N] = {"2xx",     "4xx",      "5xx",        "deadline",
                                                "no_node", "upstream", "client_gone"};
    return result >= 0 && result < GW_RES_N ? names[result] : "unknown";
}

char *gw_metrics_text(gw_proxy *p, size_t *len)
{
    prom_writer w;
    prom_init(&w);
    prom_family(&w, "inferd_gateway_requests_total", PROM_COUNTER,
                "Forwarded requests by how the gateway answered them (2xx, 4xx, 5xx, deadline: "
                "504, no_node: 503, upstream: 502, client_gone).");
    for (int i = 0; i < GW_RES_N; i++) {
        prom_label l = {"outcome", gw_result_name(i)};
        prom_sample(&w, &l, 1, (double)atomic_load(&p->results[i]));
    }
    prom_family(&w, "inferd_gateway_upstream_waiting", PROM_GAUGE,
                "Requests waiting for a connection to their node (--max-upstream-conns reached).");
    prom_sample(&w, NULL, 0, (double)atomic_load(&p->upstream_waiting));
    prom_family(&w, "inferd_gateway_upstream_queue_full_total", PROM_COUNTER,
                "Requests answered 503 because their node's wait queue was full "
                "(--max-upstream-queue).");
    prom_sample(&w, NULL, 0, (double)atomic_load(&p->upstream_queue_full));
    prom_family(&w, "inferd_gateway_bodies_streamed_total", PROM_COUNTER,
                "Requests whose body streamed through (above --body-buffer-bytes).");
    prom_sample(&w, NULL, 0, (double)atomic_load(&p->bodies_streamed));
    prom_family(&w, "inferd_gateway_streamed_not_retried_total", PROM_COUNTER,
                "Failures of streamed requests not retried: their body had gone to the node.");
    prom_sample(&w, NULL, 0, (double)atomic_load(&p->streamed_not_retried));
    gw_nodes_metrics(p->nodes, &w, clock_now_ns() / 1000000);
    if (p->more_metrics) p->more_metrics(&w, p->more_metrics_arg);
    int open = 0;
    uint64_t accepted = 0;
    http_server *srv = atomic_load(&p->srv);
    if (srv) http_server_connections(srv, &open, &accepted);
    int gopen = 0;
    uint64_t gaccepted = 0;
    if (p->more_connections) p->more_connections(p->more_metrics_arg, &gopen, &gaccepted);
    prom_label http = {"protocol", "http"}, grpc = {"protocol", "grpc"};
    prom_family(&w, "inferd_connections", PROM_GAUGE, "Client connections open now.");
    prom_sample(&w, &http, 1, open);
    if (p->more_connections) prom_sample(&w, &grpc, 1, gopen);
    prom_family(&w, "inferd_connections_accepted_total", PROM_COUNTER,
                "Client connections accepted since start.");
    prom_sample(&w, &http, 1, (double)accepted);
    if (p->more_connections) prom_sample(&w, &grpc, 1, (double)gaccepted);
    prom_process_metrics(&w);
    char *text = prom_take(&w, len);
    prom_free(&w);
    return text;
}
