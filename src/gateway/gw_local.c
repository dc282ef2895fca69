/* The routes the gateway answers itself: its own liveness and readiness (ready = some node
 * is ready), GET /gateway/nodes (the node table as JSON), GET /metrics (Prometheus) and the
 * dashboard (GET /dashboard, the node's page in its gateway mode). */
#include <stdlib.h>
#include <string.h>

#include "gw_proxy.h"
#include "inferd/clock.h"
#include "inferd/dashboard.h"

int gw_local_route(gw_proxy *p, http_exchange *ex)
{
    const char *path = http_ex_path(ex);
    int m = http_ex_method(ex);
    int get = m == HTTP_KIND_GET || m == HTTP_KIND_HEAD;
    int64_t now = clock_now_ns() / 1000000;
    if (strcmp(path, "/v2/health/live") == 0 && get) {
        char *body = strdup("{\"live\": true}");
        http_ex_respond(ex, 200, "application/json", body, body ? strlen(body) : 0, "");
        return 1;
    }
    if (strcmp(path, "/v2/health/ready") == 0 && get) {
        if (atomic_load(&p->stopping)) {
            http_ex_error(ex, 503, "Retry-After: 1\r\n", "not ready: the gateway is stopping");
        } else if (!gw_nodes_any_ready(p->nodes, now)) {
            http_ex_error(ex, 503, "Retry-After: 1\r\n", "not ready: no node is ready");
        } else {
            char *body = strdup("{\"ready\": true}");
            http_ex_respond(ex, 200, "application/json", body, body ? strlen(body) : 0, "");
        }
        return 1;
    }
    const char *file = strncmp(path, "/dashboard/", 11) == 0 ? path + 11 : NULL;
    if (strcmp(path, "/dashboard") == 0 || (file && !strchr(file, '/'))) {
        if (!get)
            http_ex_error(ex, 405, "Allow: GET, HEAD\r\n", "method %s is not allowed on %s",
                          http_ex_method_name(ex), path);
        else dashboard_serve(ex, file, DASHBOARD_GATEWAY);
        return 1;
    }
    int metrics = strcmp(path, "/metrics") == 0;
    if (metrics || strcmp(path, "/gateway/nodes") == 0) {
        if (!get) {
            http_ex_error(ex, 405, "Allow: GET, HEAD\r\n", "method %s is not allowed on %s",
                          http_ex_method_name(ex), path);
            return 1;
        }
        size_t len;
        char *body = metrics ? gw_metrics_text(p, &len) : gw_nodes_json(p->nodes, now, &len);
        if (!body) http_ex_error(ex, 500, "", "out of memory");
        else
            http_ex_respond(
                ex, 200, metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json",
                body, len, "");
        return 1;
    }
    return 0;
}
