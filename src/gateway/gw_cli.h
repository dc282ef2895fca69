/* The gateway's command line and config file, parsed into gw_cli (pure: no I/O except
 * reading --config and resolving --node host names at start; unit-tested).
 *
 * Ownership: gw_cli_parse fills a caller-owned gw_cli; gw_cli_free frees what it holds
 * (strings point into argv or into the gw_cli's own copies). */
#ifndef GW_CLI_H
#define GW_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "gw_health.h"
#include "gw_nodes.h"
#include "gw_proxy.h"
#include "inferd/http_server.h"
#include "inferd/log.h"

typedef struct gw_cli {
    http_options http;
    gw_nodes_options nodes;
    gw_health_options health;
    gw_upstream_limits upstream;
    int64_t request_timeout_ms;
    int max_retries;
    size_t body_buffer_bytes; /* larger request bodies stream through (default 1 MiB) */
    int64_t drain_timeout_ms;
    int grpc_port;      /* --grpc-port, -1 = no gRPC */
    int node_grpc_port; /* --node-grpc-port, 0 = none */
    log_level level;
    log_format format;
    gw_node_spec *specs; /* malloc'd [n_specs]: --node and the config file's nodes */
    int n_specs;
    char *dns_name; /* malloc'd, --node-dns NAME (its port in health.dns_port) */
    int help, version;
} gw_cli;

/* Fills o with the defaults, then the flags. 0, or -1 with err (a message for the user). */
int gw_cli_parse(int argc, char **argv, gw_cli *o, char *err, size_t err_len);
/* Parses "HOST:PORT[,weight=W]" ("[v6]:PORT" too), resolving HOST. 0, or -1 with err. */
int gw_cli_parse_node(const char *text, gw_node_spec *out, char *err, size_t err_len);
void gw_cli_usage(FILE *f);
void gw_cli_free(gw_cli *o);

#endif
