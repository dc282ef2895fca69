/* The gateway's HTTP/1.1 client to its nodes: one request/response exchange over a
 * keep-alive connection taken from (and given back to) a per-loop pool.
 *
 *   gw_pool *p = gw_pool_new(loop, &limits);        // one per loop thread
 *   gw_uconn *c = gw_upstream_send(p, node, addr, head, head_len, body, body_len, 0,
 *                                  timeout_ms, on_done, arg);
 *   ... on_done(arg, &res) runs once on that loop (unless gw_upstream_cancel(c) first)
 *
 * Threads: a pool and its connections belong to the loop they were made on; every call on
 * that loop's thread only. Ownership: send takes head (malloc'd) and borrows body until
 * on_done or cancel; on_done's res fields (content_type, headers, body) are malloc'd and
 * belong to the callee, which frees them (gw_upstream_result_free) or takes them. */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

enum gw_upstream_err {
    GW_UP_OK = 0,    /* a complete response (any status) */
    GW_UP_CONNECT,   /* could not connect (refused, unreachable, connect timeout) */
    GW_UP_RESET,     /* the connection failed or closed before the response was complete */
    GW_UP_TIMEOUT,   /* no complete response within timeout_ms */
    GW_UP_PROTOCOL,  /* the node's response did not parse */
    GW_UP_TOO_LARGE, /* the response was larger than max_response_bytes */
};
const char *gw_upstream_err_name(int err);

typedef struct gw_upstream_limits {
    int64_t connect_timeout_ms; /* default 1000 */
    size_t max_response_bytes;  /* body, default 64 MiB + 1 MiB */
    size_t max_header_bytes;    /* status line + headers, default 64 KiB */
    int max_idle_per_node;      /* idle connections kept per node per loop, default 64 */
    int max_conns_per_node;     /* active (connecting or busy) connections per node per loop,
                                   default 256: gw_pool_has_room says no beyond */
    int max_queue_per_node;     /* waiters per node per loop (gw_pool_wait), default 1024 */
} gw_upstream_limits;
void gw_upstream_limits_default(gw_upstream_limits *l);

typedef struct gw_upstream_result {
    int err;            /* enum gw_upstream_err */
    int status;         /* HTTP status when err == GW_UP_OK */
    int got_bytes;      /* some response byte came back (then the node saw the request) */
    int reused;         /* the connection came from the pool */
    char *content_type; /* malloc'd value, or NULL */
    char *headers;      /* malloc'd "Name: value\r\n" lines to pass on (no hop-by-hop,
                           Content-Length or Content-Type), or NULL */
    char *body;         /* malloc'd, NUL-ended, or NULL */
    size_t body_len;
    int64_t content_length; /* the response's Content-Length header, -1 if none (for HEAD:
                               the length a GET would have) */
} gw_upstream_result;
void gw_upstream_result_free(gw_upstream_result *r);

typedef void (*gw_upstream_cb)(void *arg, gw_upstream_result *res);

typedef struct gw_pool gw_pool;
typedef struct gw_uconn gw_uconn;

/* NULL if out of memory. Copies limits. */
gw_pool *gw_pool_new(uv_loop_t *loop, const gw_upstream_limits *limits);
/* Closes every idle connection; from now on connections are closed after use instead of
 * pooled (shutdown). */
void gw_pool_close_idle(gw_pool *p);
/* Frees p once every connection made from it has closed (now, or when the last closes). */
void gw_pool_free(gw_pool *p);
/* Idle connections pooled for node (tests, /gateway/nodes). */
int gw_pool_idle_count(const gw_pool *p, int node);
/* Active connections to node: connecting or in an exchange (tests, metrics). */
int gw_pool_busy_count(const gw_pool *p, int node);

/* The cap on active connections per node (limits.max_conns_per_node). A caller that finds no
 * room waits: it links a waiter (its own memory) and is woken, in arrival order, when a
 * connection to that node is given back or closed. wake(arg) runs inside the pool's
 * bookkeeping (on the loop thread): it must only schedule (e.g. start a 0 ms timer), then
 * look at gw_pool_has_room again, since another request may take the room first. */
typedef struct gw_pool_waiter {
    struct gw_pool_waiter *next, *prev;
    int node;
    int linked;
    void (*wake)(void *arg);
    void *arg;
} gw_pool_waiter;
/* 1 if a request to node can be sent now (an idle connection, or fewer active than the cap). */
int gw_pool_has_room(const gw_pool *p, int node);
/* Links w (wake, arg set by the caller) for node, at the back (front: 1 = at the front, for
 * one woken too late; the queue's limit does not apply). 0, or -1 when the node's queue is
 * full or the pool is closing. gw_upstream_send itself does not check the cap: callers do. */
int gw_pool_wait(gw_pool *p, int node, gw_pool_waiter *w, int front);
/* Unlinks w if linked (no wake comes afterwards). */
void gw_pool_wait_cancel(gw_pool *p, gw_pool_waiter *w);
/* A waiter that was woken gave up before using the room: wakes the next one if there is room. */
void gw_pool_kick(gw_pool *p, int node);
/* Requests waiting for node (tests, metrics). */
int gw_pool_waiting_count(const gw_pool *p, int node);

enum gw_upstream_flags {
    GW_UP_HEAD_ONLY = 1, /* the request is HEAD: the response has no body */
    GW_UP_FRESH = 2,     /* a new connection even if one is pooled */
    GW_UP_STREAM = 4,    /* the body (body_len bytes, body NULL) follows with gw_upstream_body */
};
/* Sends head (the request line and headers, ending in the blank line) then body to node
 * (a slot number; addr its address, copied). flags: enum gw_upstream_flags. timeout_ms > 0 bounds the whole exchange. Returns the exchange, or NULL (nothing
 * sent; head freed) when even the attempt cannot start (out of memory, bad address): treat
 * as GW_UP_CONNECT. */
gw_uconn *gw_upstream_send(gw_pool *p, int node, const struct sockaddr *addr, char *head,
                           size_t head_len, const char *body, size_t body_len, int flags,
                           int64_t timeout_ms, gw_upstream_cb cb, void *arg);
/* Abandons the exchange: its connection is closed (the node sees the client go away) and cb
 * is not called. */
void gw_upstream_cancel(gw_uconn *c);

/* GW_UP_STREAM: the next len bytes of the body (copied when they cannot be written at once;
 * the copies reuse two buffers, so memory stays at what is unsent). More than the announced
 * length, or after the exchange ended: -1, nothing taken. */
int gw_upstream_body(gw_uconn *c, const char *data, size_t len);
/* Body bytes taken but not yet handed to the socket. */
size_t gw_upstream_unsent(const gw_uconn *c);
/* fn(arg of the send) runs on the loop after a queued write of the body completes (the caller
 * may give more then). NULL: none. */
void gw_upstream_on_drain(gw_uconn *c, void (*fn)(void *arg));

#endif
