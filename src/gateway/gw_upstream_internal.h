/* Private to gw_upstream.c and gw_pool.c: the connection and the pool. */
#ifndef GW_UPSTREAM_INTERNAL_H
#define GW_UPSTREAM_INTERNAL_H

#include <http_parser.h>

#include "gw_upstream.h"
#include "inferd/http_buf.h"

/* node slots a pool keeps idle lists for (the node table has as many) */
#define GW_POOL_MAX_NODES 256

struct gw_uconn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* connect timeout, then the exchange's timeout */
    uv_connect_t connect_req;
    uv_write_t write_req;
    gw_pool *pool;
    int node;
    struct sockaddr_storage addr;
    int handles_open; /* tcp and timer, until both close callbacks ran */
    int closing, connected, writing;
    gw_uconn *idle_next, *idle_prev; /* in the pool's idle list of node */
    int idle;
    int busy; /* counted in the pool's n_busy of node (connecting or in an exchange) */
    /* the exchange (cb NULL: none, the connection is idle or closing) */
    gw_upstream_cb cb;
    void *arg;
    char *head; /* malloc'd, until written */
    size_t head_len;
    const char *body_ptr; /* borrowed */
    size_t body_len;
    int head_only, reused;
    int64_t timeout_ms;
    int fail_err; /* a failure to report from the timer */
    /* a streamed body (GW_UP_STREAM): pend collects what cannot be written now, out is
     * the write in flight; they swap, so their memory is reused */
    int streaming;
    size_t body_left; /* bytes still to come from gw_upstream_body */
    char *pend, *out;
    size_t pend_len, pend_cap, out_len, out_cap;
    void (*drain)(void *arg);
    http_parser parser;
    int complete, got_bytes, keep_alive, in_value, too_large;
    size_t header_bytes;
    gw_upstream_result res;
    http_buf hdrs, body, field, value;
};

struct gw_pool {
    uv_loop_t *loop;
    gw_upstream_limits limits;
    gw_uconn *idle[GW_POOL_MAX_NODES];
    int n_idle[GW_POOL_MAX_NODES];
    int n_busy[GW_POOL_MAX_NODES];
    gw_pool_waiter *wait_head[GW_POOL_MAX_NODES], *wait_tail[GW_POOL_MAX_NODES];
    int n_waiting[GW_POOL_MAX_NODES];
    int n_conns; /* connections not yet freed */
    int closing; /* no more pooling */
    int freeing; /* free the pool when n_conns reaches 0 */
    char scratch[65536];
};

/* gw_upstream.c */
void gw_uconn_close(gw_uconn *c);
/* gw_pool.c */
gw_uconn *gw_pool_take(gw_pool *p, int node, const struct sockaddr *addr);
void gw_pool_put(gw_uconn *c); /* pools c, or closes it when the pool is full or closing */
void gw_pool_unlink(gw_uconn *c);
void gw_pool_mark_busy(gw_uconn *c); /* c is connecting or in an exchange */
void gw_pool_mark_free(gw_uconn *c); /* c is idle or closing: wakes a waiter of its node */
void gw_pool_conn_made(gw_pool *p);
void gw_pool_conn_gone(gw_pool *p);

#endif
