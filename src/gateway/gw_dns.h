/* Node discovery by DNS on a libuv loop, with c-ares: resolves a name (A and AAAA, or SRV and
 * then the targets' A/AAAA) every interval_ms and whenever asked (gw_dns_refresh_now, e.g.
 * after connection failures), and reports the sorted address list only when it changed, as a
 * Kubernetes headless Service presents its ready pods. No blocking calls: c-ares sockets are
 * watched with uv_poll, its timeouts with a uv_timer.
 *
 * A failed lookup (timeout, unreachable server, NXDOMAIN, no records) goes to on_error and
 * keeps the last list: a DNS blip does not empty the cluster.
 *
 * Threads: everything (start, refresh, stop, and every callback) on the loop's thread. */
#ifndef GW_DNS_H
#define GW_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define GW_DNS_MAX_ADDRS 256

typedef struct gw_dns_addr {
    struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set */
    char text[64];                /* "10.0.0.5:8000" or "[fd00::5]:8000" */
} gw_dns_addr;

/* addrs is sorted (family, address bytes, port), without duplicates, and valid only during
 * the call. */
typedef void (*gw_dns_change_cb)(void *ctx, const gw_dns_addr *addrs, size_t n);
typedef void (*gw_dns_error_cb)(void *ctx, const char *message);

typedef struct gw_dns_config {
    const char *name;     /* the name to resolve, copied */
    uint16_t port;        /* for A/AAAA answers; SRV answers carry their own */
    bool srv;             /* look up SRV records for name */
    uint64_t interval_ms; /* between lookups; default (0) 5000 */
    uint64_t timeout_ms;  /* per try; default (0) 1000; two tries */
    uint64_t min_gap_ms;  /* between the starts of two lookups, default (0) 250: a storm of
                             gw_dns_refresh_now (one per failed connection) costs at most
                             one lookup per gap */
    const char *server;   /* "IP" or "IP:PORT" (IPv6: "[IP]:PORT"), NULL = the system's */
    gw_dns_change_cb on_change;
    gw_dns_error_cb on_error; /* may be NULL */
    void *ctx;
} gw_dns_config;

typedef struct gw_dns gw_dns;

/* Starts resolving at once on loop. 0 and *out, or -1 with err filled. */
int gw_dns_start(uv_loop_t *loop, const gw_dns_config *cfg, gw_dns **out, char *err,
                 size_t err_len);
/* Looks the name up now, or as soon as min_gap_ms has passed since the last lookup began
 * and the one in flight (if any) has ended. Calls while one is already due add nothing. */
void gw_dns_refresh_now(gw_dns *dns);
/* Stops: no callback runs after this returns. The handles close on the next loop turns and the
 * memory is freed then: keep running the loop until it has no handles left. */
void gw_dns_stop(gw_dns *dns);

#endif
