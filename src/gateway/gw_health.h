/* The gateway's control thread: its own libuv loop that checks every node actively
 * (GET /v2/health/ready every interval, then POST /v2/repository/index for the models it
 * serves) and, with --node-dns, re-resolves the nodes' name (gw_dns) and sets the table's
 * membership: the static --node list plus the resolved addresses.
 *
 * Threads: gw_health_start and gw_health_stop from one thread (main); everything else runs
 * on the control thread. The table is shared (gw_nodes.h is thread-safe). */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdint.h>

#include "gw_nodes.h"

typedef struct gw_health_options {
    int64_t interval_ms; /* between checks of a node, default 1000 */
    int64_t timeout_ms;  /* per check, default 1000 */
    /* discovery by DNS (dns_name NULL: none) */
    const char *dns_name;
    uint16_t dns_port;
    int dns_srv;
    const char *dns_server; /* "IP[:PORT]" or NULL */
    int64_t dns_interval_ms; /* default 5000 */
    /* the static nodes (kept in every membership the DNS sets), borrowed until stop */
    const gw_node_spec *static_nodes;
    int n_static;
} gw_health_options;
void gw_health_options_default(gw_health_options *o);

typedef struct gw_health gw_health;

/* Starts the thread (the first checks go out at once). 0, or -1 with err. */
int gw_health_start(gw_nodes *nodes, const gw_health_options *o, gw_health **out, char *err,
                    size_t err_len);
/* From any thread: asks for a DNS lookup now (after a connection failure: a node may be
 * gone); the resolver paces them (gw_dns min_gap_ms). No-op without --node-dns. */
void gw_health_dns_refresh(gw_health *h);
/* Stops the thread, waits for it and frees h. NULL is fine. */
void gw_health_stop(gw_health *h);

#endif
