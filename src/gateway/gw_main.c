/* inferd-gateway: one address in front of many nodes. Parses the flags, fills the node
 * table, starts the control thread (health checks, DNS) and the HTTP front end, and on
 * SIGINT/SIGTERM stops intake, lets in-flight requests finish and exits (a second signal
 * exits at once). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_cli.h"
#include "gw_grpc.h"
#include "gw_health.h"
#include "gw_proxy.h"
#include "inferd/clock.h"
#include "inferd/log.h"
#include "inferd/signals.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

/* A node refused a connection: with --node-dns, look the name up again soon. */
static void on_connect_failed(void *health)
{
    gw_health_dns_refresh(health);
}

int main(int argc, char **argv)
{
    log_init(LOG_INFO, LOG_FORMAT_TEXT, "inferd-gateway");
    gw_cli o;
    char err[512];
    if (gw_cli_parse(argc, argv, &o, err, sizeof err) != 0) {
        fprintf(stderr, "inferd-gateway: %s\n", err);
        fprintf(stderr, "(inferd-gateway --help lists the options)\n");
        gw_cli_free(&o);
        return 2;
    }
    if (o.help) {
        gw_cli_usage(stdout);
        gw_cli_free(&o);
        return 0;
    }
    if (o.version) {
        printf("inferd-gateway %s\n", INFERD_VERSION);
        gw_cli_free(&o);
        return 0;
    }
    log_init(o.level, o.format, "inferd-gateway");
    if (signals_install() != 0) {
        log_error("cannot set up signal handling: %s", strerror(errno));
        gw_cli_free(&o);
        return 1;
    }
    gw_nodes *nodes = gw_nodes_new(&o.nodes);
    gw_proxy proxy;
    memset(&proxy, 0, sizeof proxy); /* the hooks main may leave unset (more_metrics) */
    if (!nodes || gw_proxy_init(&proxy, nodes, o.http.threads) != 0) {
        log_error("out of memory");
        return 1;
    }
    proxy.limits = o.upstream;
    proxy.request_timeout_ms = o.request_timeout_ms;
    proxy.max_retries = o.max_retries;
    proxy.body_buffer_bytes = o.body_buffer_bytes;
    gw_nodes_set(nodes, o.specs, o.n_specs, clock_now_ns() / 1000000);
    for (int i = 0; i < o.n_specs; i++)
        log_info("node %s weight=%u", o.specs[i].name, o.specs[i].weight);
    o.health.static_nodes = o.specs;
    o.health.n_static = o.n_specs;
    gw_health *health = NULL;
    if (gw_health_start(nodes, &o.health, &health, err, sizeof err) != 0) {
        log_error("%s", err);
        return 1;
    }
    proxy.connect_failed = on_connect_failed;
    proxy.connect_failed_arg = health;
    gw_grpc grpc;
    gw_grpc_init(&grpc, &proxy, o.node_grpc_port);
    grpc_server *gsrv = NULL;
    if (o.grpc_port >= 0) {
        grpc_options go;
        grpc_options_default(&go);
        go.host = o.http.host;
        go.port = o.grpc_port;
        go.threads = o.http.threads;
        go.keep_header = "inferd-routing-key";
        go.keep_metadata = 1; /* forwarded to the node */
        if (o.http.max_body_bytes) go.max_message_bytes = o.http.max_body_bytes;
        grpc_handler gh = gw_grpc_handler();
        if (grpc_server_start(&go, &gh, &grpc, &gsrv, err, sizeof err) != 0) {
            log_error("%s", err);
            gw_health_stop(health);
            return 1;
        }
        atomic_store(&grpc.srv, gsrv);
        proxy.more_metrics = gw_grpc_metrics;
        proxy.more_connections = gw_grpc_connections;
        proxy.more_metrics_arg = &grpc;
        log_info("listening on grpc port %d (nodes' grpc port %d)", grpc_server_port(gsrv),
                 o.node_grpc_port);
    }
    o.http.hooks = gw_proxy_hooks(&proxy);
    o.http.stream_body = gw_proxy_stream_body;
    http_server *srv = NULL;
    if (http_server_start(&o.http, gw_proxy_handle, &proxy, &srv, err, sizeof err) != 0) {
        log_error("%s", err);
        grpc_server_shutdown(gsrv, 0);
        gw_health_stop(health);
        return 1;
    }
    atomic_store(&proxy.srv, srv);
    log_info("listening on http port %d host=%s threads=%d nodes=%d%s%s", http_server_port(srv),
             o.http.host, o.http.threads, o.n_specs, o.dns_name ? " dns=" : "",
             o.dns_name ? o.dns_name : "");

    int sig = signals_wait(-1);
    log_info("shutdown: signal %d, stopping intake, draining for up to %lld ms", (int)sig,
             (long long)o.drain_timeout_ms);
    /* one drain for both fronts: the gRPC one gets what the HTTP one left of the deadline */
    int64_t drain_end_ms = clock_now_ns() / 1000000 + o.drain_timeout_ms;
    http_server_stop_accepting(srv);
    grpc_server_stop_accepting(gsrv);
    gw_proxy_stop(&proxy, 2000); /* readiness false, idle upstream connections close */
    atomic_store(&grpc.srv, NULL);
    atomic_store(&proxy.srv, NULL);
    http_server_shutdown(srv, drain_end_ms - clock_now_ns() / 1000000);
    int64_t left_ms = drain_end_ms - clock_now_ns() / 1000000;
    grpc_server_shutdown(gsrv, left_ms > 0 ? left_ms : 0);
    gw_grpc_destroy(&grpc);
    gw_health_stop(health);
    gw_proxy_destroy(&proxy);
    gw_nodes_free(nodes);
    gw_cli_free(&o);
    log_info("shutdown complete");
    return 0;
}
