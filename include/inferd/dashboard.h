/* The live dashboard page, shared by the node and the gateway: its page, script and style are
 * compiled into the binary (src/dashboard/). One page for both; it asks the server which
 * mode it is in (GET /dashboard/mode.json) and draws models and workers (node) or a row per
 * node (gateway). */
#ifndef INFERD_DASHBOARD_H
#define INFERD_DASHBOARD_H

#include "inferd/http_server.h"

typedef enum dashboard_mode {
    DASHBOARD_NODE,    /* polls GET /v2/models/stats */
    DASHBOARD_GATEWAY, /* polls GET /gateway/nodes */
} dashboard_mode;

/* Answers GET /dashboard (file NULL) or /dashboard/{file}: the page, dashboard.js,
 * dashboard.css, mode.json ({"mode": "node"|"gateway"}); 404 for any other file. */
void dashboard_serve(http_exchange *ex, const char *file, dashboard_mode mode);

#endif
