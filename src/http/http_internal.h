/* Private types shared by http_server.c (threads, listeners, cross-thread posts) and
 * http_conn.c (one connection: parsing, ordering, writing, timeouts). */
#ifndef NODE_HTTP_INTERNAL_H
#define NODE_HTTP_INTERNAL_H

#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "inferd/http_server.h"

typedef struct http_loop http_loop;
typedef struct http_conn http_conn;

struct http_exchange {
    http_loop *lp;               /* immutable: the loop that owns this exchange */
    http_conn *conn;             /* NULL once orphaned (client gone) */
    http_exchange *next;         /* in the connection's response queue */
    /* cross-thread post */
    http_exchange *post_next;
    void (*post_fn)(http_exchange *, void *);
    void *post_arg;
    /* request */
    int method;                  /* enum http_method (http_parser) */
    int keep_alive;
    int http10;                  /* HTTP/1.0: keep-alive must be said explicitly */
    char *url;                   /* malloc'd, NUL-ended; path is url up to '?' */
    size_t url_len;
    char *headers;               /* "name\0value\0" pairs, malloc'd */
    size_t headers_len, headers_cap;
    char *body;
    size_t body_len, body_cap;
    void *user;
    void (*orphan_fn)(http_exchange *, void *); /* called when conn goes away unanswered */
    void *orphan_arg;
    /* response */
    int ready;                   /* response filled in */
    int status;
    int close_after;             /* close the connection after writing this one */
    char *resp_head;             /* malloc'd status line + headers (built at respond) */
    size_t resp_head_len;
    char *resp_body;
    size_t resp_body_len;
};

struct http_loop {
    uv_loop_t loop;
    uv_tcp_t listener;
    int listener_open;
    uv_async_t post_async;       /* posts from other threads */
    uv_async_t ctl_async;        /* shutdown phases */
    int asyncs_open;
    pthread_t thread;
    int thread_started;
    http_server *srv;
    pthread_mutex_t post_lock;
    http_exchange *post_head, *post_tail;
    int post_closed;             /* under post_lock: the loop is gone, drop posts */
    http_conn *conns;            /* live connections (doubly linked) */
    int phase_seen;
    char read_scratch[65536];
};

struct http_server {
    http_options opts;
    http_handler handler;
    void *ctx;
    int port;
    int n_loops;
    http_loop *loops;
    _Atomic int phase;           /* 0 run, 1 stop accepting, 2 drain, 3 force close */
    _Atomic int n_conns;
};

/* http_conn.c */
void http_conn_accept(http_loop *lp);
/* Test seam (tests/fuzz/fuzz_http_request.c): serves fd, an already connected stream socket
 * (e.g. one end of a socketpair), on lp exactly as an accepted connection, with no listener
 * and no connection cap. lp needs only loop, srv and conns set. On success the connection
 * owns fd (closed with it); on failure (negative libuv error) the caller still owns fd. */
int http_conn_open_fd(http_loop *lp, int fd);
void http_conn_drain(http_conn *c);        /* phase 2: close when flushed */
void http_conn_force_close(http_conn *c);  /* phase 3 */
http_conn *http_conn_next(http_conn *c);
void http_loop_maybe_finish(http_loop *lp);/* close the loop's handles once drained */
void http_exchange_free(http_exchange *ex);

#endif
