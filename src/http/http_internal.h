/* Private types shared by the files of src/http. Layers, each calling only downwards:
 * http_status.c, http_bufs.c < http_exchange.c (one request and its response) < http_conn.c
 * (one connection: parsing, ordering, writing, timeouts) < http_respond.c (the public
 * answer calls) and http_server.c (threads, listeners, cross-thread posts, shutdown). */
#ifndef NODE_HTTP_INTERNAL_H
#define NODE_HTTP_INTERNAL_H

#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "inferd/http_buf.h"
#include "inferd/http_server.h"

typedef struct http_loop http_loop;
typedef struct http_conn http_conn;

struct http_exchange {
    http_loop *lp;       /* immutable: the loop that owns this exchange */
    http_conn *conn;     /* NULL once orphaned (client gone) */
    http_exchange *next; /* in the connection's response queue */
    /* cross-thread post */
    http_exchange *post_next;
    void (*post_fn)(http_exchange *, void *);
    void *post_arg;
    /* request */
    int method; /* enum http_method (http_parser) */
    int keep_alive;
    int http10;         /* HTTP/1.0: keep-alive must be said explicitly */
    int64_t arrival_ns; /* clock_now_ns() of the read that brought the first byte */
    char *url;          /* malloc'd request target; split at message end into the */
    size_t url_len;     /* path (url, NUL-ended at '?' or '#') and the query; */
    size_t url_cap;     /* url, headers and body buffers outlive a reused exchange */
    const char *query;  /* inside url: after '?', NUL-ended; "" when none */
    char *headers;      /* "name\0value\0" pairs, malloc'd */
    size_t headers_len, headers_cap;
    char *body;
    size_t body_len, body_cap;
    size_t reserved;   /* bytes of srv->inflight_bytes this request holds */
    int body_streamed; /* the body goes to body_fn as it is read */
    int body_paused;   /* the reader asked to stop reading */
    http_body_fn body_fn;
    void *body_arg;
    void (*orphan_fn)(http_exchange *, void *); /* called when conn goes away unanswered */
    void *orphan_arg;
    /* response */
    int ready; /* response filled in */
    int status;
    int close_after;    /* close the connection after writing this one */
    http_buf resp_head; /* status line + headers, without the Connection header and the
                         * blank line (added when written, with a small body: one iovec) */
    char *resp_body;
    size_t resp_body_len;
    http_span *resp_spans; /* malloc'd list of borrowed body pieces after resp_body */
    int n_spans;
    size_t spans_len;    /* their total length */
    int has_head_length; /* HEAD answered with the length a GET would have */
    size_t head_length;
    void (*resp_done)(void *arg); /* called once when ex is freed (written or dropped) */
    void *resp_done_arg;
};

struct http_loop {
    uv_loop_t loop;
    uv_poll_t listen_poll;   /* the listening socket (http_listen.c) */
    uv_timer_t listen_timer; /* ends a pause in accepting after EMFILE */
    int listen_fd;
    int reserve_fd; /* /dev/null, given up to shed a connection on EMFILE */
    int listener_open;
    uv_async_t post_async; /* posts from other threads */
    uv_async_t ctl_async;  /* shutdown phases */
    int index;             /* 0..n_loops-1 */
    uv_prepare_t before;   /* opts.hooks.before_wait */
    uv_check_t after;      /* opts.hooks.after_wait */
    uv_idle_t again;       /* active while before_wait asked to look again: no blocking wait */
    uv_poll_t wake;        /* opts.hooks.wake_fd, when it gives one */
    int hooks_open;        /* before and after are initialised (and wake when wake_open) */
    int wake_open;
    int tick_posted; /* this loop's thread only: before_wait posted to this loop */
    /* this loop's thread only: what its before_wait posted to other loops, in post order,
     * handed over when it returns (one lock and one wake-up per loop, not per post) */
    http_exchange *staged_head, *staged_tail;
    int asyncs_open;
    pthread_t thread;
    int thread_started;
    http_server *srv;
    pthread_mutex_t post_lock;
    http_exchange *post_head, *post_tail;
    int post_closed; /* under post_lock: the loop is gone, drop posts */
    /* set with post_lock when posts are queued, cleared when they are taken: a hint read
     * without the lock between reads, so that answers do not wait for the loop's whole
     * round of reads to reach the wake-up */
    atomic_int posts_waiting;
    void (*run_posts)(http_loop *lp); /* set by http_server.c: runs the queued posts */
    http_conn *conns;                 /* live connections (doubly linked) */
    int phase_seen;
    void (*conn_gone)(http_loop *lp); /* set by http_server.c: a connection was freed */
    http_exchange *ex_cache; /* freed exchanges kept for reuse (via next), this thread only */
    int ex_cached;           /* how many: at most HTTP_EX_CACHE */
    char read_scratch[65536];
};

struct http_server {
    http_options opts;
    http_handler handler;
    void *ctx;
    int port;
    int n_loops;
    http_loop *loops;
    _Atomic int phase; /* 0 run, 1 stop accepting, 2 drain, 3 force close */
    _Atomic int n_conns;
    _Atomic uint64_t accepted;     /* connections taken on since start (metrics) */
    _Atomic size_t inflight_bytes; /* sum of every live exchange's `reserved` */
};

/* http_status.c */
const char *http_status_text(int status);

/* http_bufs.c: a uv_buf_t of any size_t length (uv_buf_init takes an unsigned int), and
 * dropping the first `written` bytes from bufs[0..nb): returns how many buffers are left
 * (the first one trimmed when cut short). */
uv_buf_t http_buf_span(char *base, size_t len);
int http_bufs_consume(uv_buf_t *bufs, int nb, size_t written);

/* http_exchange.c. Exchanges are recycled per loop (lp->ex_cache, at most HTTP_EX_CACHE,
 * each keeping request and head buffers of at most HTTP_EX_KEEP_BYTES): on the loop's
 * thread, a request costs no malloc here once the loop is warm. */
#define HTTP_EX_CACHE      128
#define HTTP_EX_KEEP_BYTES 4096
/* A zeroed exchange of lp (from the cache when it has one), or NULL. */
http_exchange *http_exchange_new(http_loop *lp, http_conn *c);
/* Calls resp_done, gives back ex->reserved (if still held), frees the response body, and puts ex in its loop's
 * cache (or frees it). On ex's loop thread, or after that thread has ended. */
void http_exchange_free(http_exchange *ex);
/* Frees every cached exchange of lp (its thread has ended). */
void http_exchange_cache_drop(http_loop *lp);
/* Charges n more body bytes to ex against opts.max_inflight_bytes. 0, or -1 (nothing
 * charged) when the node-wide budget has no room. */
int http_exchange_reserve(http_exchange *ex, size_t n);
/* Gives back every body byte ex holds in the budget. Done when ex is answered, before the
 * answer is written: a client that has read it may send its next body at once, on another
 * connection (another loop thread), and must find the room. */
void http_exchange_unreserve(http_exchange *ex);
/* Splits url into the path and the query (once the whole target is in). */
void http_exchange_split_target(http_exchange *ex);
/* Fills in the response: takes body; builds resp_head (resp_head.oom if out of memory). */
void http_exchange_set_response(http_exchange *ex, int status, const char *content_type, char *body,
                                size_t len, const char *extra_headers);
/* {"error": "<msg>"} as a malloc'd body, or NULL if out of memory. */
char *http_error_json(const char *msg, size_t *len);

/* http_listen.c: binds lp's socket (SO_REUSEPORT) and starts accepting. 0, or -1 with err. */
int http_listener_open(http_loop *lp, const char *host, int *port, char *err, size_t err_len);
void http_listener_close(http_loop *lp);

/* http_conn.c: takes the accepted socket fd (closed on failure). */
void http_conn_accept(http_loop *lp, int fd);
void http_conn_drain(http_conn *c);       /* shutdown: answer what was received, then close */
void http_conn_force_close(http_conn *c); /* phase 3 */
http_conn *http_conn_next(http_conn *c);
/* Queues ex's filled-in response for writing, or frees ex if its client is gone. */
void http_conn_respond(http_exchange *ex);
/* A streamed body's reader paused or resumed (ex->body_paused changed). */
void http_conn_body_resume(http_exchange *ex);

#endif
