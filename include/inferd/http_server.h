/* The node's HTTP/1.1 server: N event-loop threads (libuv), each with its own listening
 * socket on the same port (SO_REUSEPORT), keep-alive and pipelining with responses in
 * request order, limits on header and body size, header/idle timeouts, a connection cap and
 * backpressure. Each complete request becomes an http_exchange handed to the handler on the
 * connection's loop thread; the handler answers it (now or later) with http_ex_respond.
 *
 * Threads: everything about an exchange happens on its loop thread, except http_ex_post,
 * which any thread may call to run a function on that loop thread (how answers computed
 * elsewhere, e.g. by the scheduler, get back to the connection). */
#ifndef NODE_HTTP_SERVER_H
#define NODE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* Optional hooks that let the application collect finished work on the loop threads
 * themselves instead of posting it from another thread. `loop` is the loop's index
 * (0..threads-1). Each may be NULL. */
typedef struct http_loop_hooks {
    /* Once per loop iteration, just before the loop waits for I/O. http_ex_post calls it
     * makes for exchanges of this loop run right after it returns, on this thread, with no
     * wake-up at all; those for other loops are handed over when it returns, one list and one
     * wake-up per loop. Returns nonzero when it could not finish its look (a lock was busy):
     * the loop then does not wait this time round, and calls it again at once. */
    int (*before_wait)(void *arg, int loop);
    /* Once per loop iteration, just after the wait. */
    void (*after_wait)(void *arg, int loop);
    /* A file descriptor that, when readable, must wake this loop (-1: none), and what to do
     * when it is readable (the application empties it there). */
    int (*wake_fd)(void *arg, int loop);
    void (*woken)(void *arg, int loop);
    void *arg;
} http_loop_hooks;

typedef struct http_server http_server;
typedef struct http_exchange http_exchange;

typedef struct http_options {
    const char *host;          /* default "0.0.0.0" */
    int port;                  /* 0 = any free port (see http_server_port) */
    int threads;               /* event-loop threads, default 2 */
    size_t max_body_bytes;     /* default 64 MiB; larger => 413 */
    size_t max_header_bytes;   /* request line + headers, default 16 KiB; larger => 431 */
    int64_t header_timeout_ms; /* from a request's first byte to its last header, default 10 s */
    int64_t idle_timeout_ms;   /* no request and nothing in flight, default 60 s */
    int max_connections;       /* default 10000; beyond: accepted and closed at once */
    int max_pipeline;          /* requests read but not yet answered per connection, default 64 */
    size_t max_write_queue;    /* bytes queued to a client before we stop reading it, 4 MiB */
    size_t max_inflight_bytes; /* request bodies held at once, all connections together:
                                    from the headers (Content-Length reserved at once; chunked
                                    bodies as they grow) until the request is answered
                                    (http_ex_respond gives them back before the answer is
                                    written, so a client that has it finds the room). Beyond:
                                    503, Retry-After: 1, Connection: close. Default 1 GiB;
                                    0 = no limit */
    http_loop_hooks hooks;     /* default: none */
    /* Streamed request bodies (a proxy's): called once a request's headers are in, for a
     * body with a Content-Length above 0 (never a chunked one). Path, query, method and
     * headers are readable; the body is not. Returning 1 streams it: the handler is called
     * at once, before the body, which then goes to the reader the handler sets with
     * http_ex_body_reader as it is read, never held whole (nor counted in
     * max_inflight_bytes). NULL (default): every body is read whole first. */
    int (*stream_body)(http_exchange *ex, void *ctx);
} http_options;

void http_options_default(http_options *opts);

/* Called on a loop thread for each complete request. It must eventually call
 * http_ex_respond exactly once for ex (directly, or later through http_ex_post). */
typedef void (*http_handler)(http_exchange *ex, void *ctx);

/* Binds every thread's socket and starts the threads. 0, or -1 with err. */
int http_server_start(const http_options *opts, http_handler handler, void *ctx, http_server **out,
                      char *err, size_t err_len);
int http_server_port(const http_server *srv); /* the bound port */
/* Connections open now and taken on since start (for metrics). Any thread. */
void http_server_connections(http_server *srv, int *open, uint64_t *accepted);
/* Closes the listening sockets (new connections are refused) and winds down every
 * connection: nothing more is read; requests already received (pipelined or buffered ones
 * too) still go to the handler and are answered; the last answer says Connection: close and
 * then the connection closes (idle ones at once). In-flight work continues. */
void http_server_stop_accepting(http_server *srv);
/* As http_server_stop_accepting, then waits up to timeout_ms for every connection to close,
 * then closes whatever is left and joins the threads. After this no handler or posted
 * function runs any more. Frees srv. */
void http_server_shutdown(http_server *srv, int64_t timeout_ms);

/* ---- the exchange: one request and its response (valid until http_ex_respond) ---- */
enum http_method_kind { HTTP_KIND_OTHER = 0, HTTP_KIND_GET, HTTP_KIND_HEAD, HTTP_KIND_POST };
int http_ex_method(const http_exchange *ex); /* enum http_method_kind */
const char *http_ex_method_name(const http_exchange *ex);
const char *http_ex_path(const http_exchange *ex);              /* the target up to '?' or '#' */
const char *http_ex_query(const http_exchange *ex);             /* after '?' (up to '#'), or "" */
const char *http_ex_body(const http_exchange *ex, size_t *len); /* owned by ex; NUL-ended */
/* Value of a request header (case-insensitive name), or NULL. Owned by ex. */
const char *http_ex_header(const http_exchange *ex, const char *name);
/* Walks the request headers in arrival order: start with *pos = 0; each call returns 1 and
 * sets *name and *value (owned by ex), or 0 after the last one. For proxies. */
int http_ex_header_next(const http_exchange *ex, size_t *pos, const char **name,
                        const char **value);
/* The libuv loop (a uv_loop_t) of ex's loop thread and its index (0..threads-1), for an
 * application that does its own I/O there (a proxy's upstream connections). Handles it opens
 * on that loop keep the loop running: close them once shutdown starts (hooks.before_wait is a
 * place to notice it), or http_server_shutdown waits for them. */
struct uv_loop_s *http_ex_loop(const http_exchange *ex);
int http_ex_loop_index(const http_exchange *ex);
/* When the request's first byte was read: clock_now_ns() (include/inferd/clock.h) at the read
 * that brought it (for a pipelined request parsed later, the read that buffered it). Request
 * deadlines count from here, so time spent waiting in a busy front end is not free. */
int64_t http_ex_arrival_ns(const http_exchange *ex);
/* 1 if the client went away: the response will be dropped (still call http_ex_respond). */
int http_ex_orphaned(const http_exchange *ex);
/* Asks for fn(ex, arg) to be called once, on the loop thread, if the client goes away before
 * ex is answered (e.g. to cancel work queued for it). ex stays valid during the call and must
 * still be answered with http_ex_respond afterwards. A later call replaces the earlier one. */
void http_ex_on_orphan(http_exchange *ex, void (*fn)(http_exchange *ex, void *arg), void *arg);

/* ---- streamed request bodies (http_options.stream_body) ---- */
/* 1 if ex's body is streamed (http_ex_body is then empty). */
int http_ex_body_streamed(const http_exchange *ex);
/* end: 0 more follows; 1 this is the last piece (the whole Content-Length came); -1 the body
 * was cut short (client gone, malformed), nothing more comes. data is only valid during the
 * call. */
typedef void (*http_body_fn)(http_exchange *ex, void *arg, const char *data, size_t len, int end);
/* Sets the reader of ex's streamed body; must be called in the handler's call (bytes before
 * a reader is set are dropped). Answering ex ends it: the reader is not called afterwards
 * and the rest of the body is read and dropped (the pause is lifted). */
void http_ex_body_reader(http_exchange *ex, http_body_fn fn, void *arg);
/* Stops (1) or resumes (0) reading ex's client for its body: backpressure while the bytes
 * cannot go on. Resuming may deliver pieces (to the reader) before it returns. */
void http_ex_body_pause(http_exchange *ex, int pause);

/* Answers ex. Takes body (malloc'd; may be NULL with len 0). extra_headers: "" or complete
 * "Name: value\r\n" lines (copied). ex must not be used afterwards. */
void http_ex_respond(http_exchange *ex, int status, const char *content_type, char *body,
                     size_t len, const char *extra_headers);
/* Answers a HEAD request with the head a GET would have had: Content-Length: length (the size
 * of the body a GET would get, as a proxy learns it from upstream) and no body. On a request
 * that is not HEAD it answers 500 (a bug of the caller). ex must not be used afterwards. */
void http_ex_respond_head(http_exchange *ex, int status, const char *content_type, size_t length,
                          const char *extra_headers);
/* A borrowed piece of a response body (see http_ex_respond_spans). */
typedef struct http_span {
    const void *base;
    size_t len;
} http_span;
#define HTTP_MAX_SPANS 16

/* Answers ex with a body that is head (malloc'd, taken; may be NULL with head_len 0) followed
 * by spans[0..n) (n <= HTTP_MAX_SPANS; more is a 500), written with one scatter write and
 * never copied. The spans are borrowed: each must stay valid and unchanged until done(arg)
 * is called. done (may be NULL) is called exactly once, on ex's loop thread, when the
 * response has been written or dropped (client gone, write failed, shutdown), possibly
 * before this returns. Content-Length is head_len plus the spans' lengths. */
void http_ex_respond_spans(http_exchange *ex, int status, const char *content_type, char *head,
                           size_t head_len, const http_span *spans, int n,
                           const char *extra_headers, void (*done)(void *arg), void *arg);
/* Answers {"error": "<message>"} with the given status. */
void http_ex_error(http_exchange *ex, int status, const char *extra_headers, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* On ex's loop thread: runs work(arg) on a thread of libuv's pool (UV_THREADPOOL_SIZE, 4 by
 * default), then done(ex, arg) on ex's loop thread. For work that would stall the loop's
 * other connections (decoding or encoding a large body). work must not touch ex; ex stays
 * valid until answered, but its client may go away meanwhile (http_ex_orphaned in done), and
 * it must still be answered after done. Returns 0, or -1 if it cannot be queued (then do the
 * work inline). */
int http_ex_offload(http_exchange *ex, void (*work)(void *arg),
                    void (*done)(http_exchange *ex, void *arg), void *arg);

/* From any thread: runs fn(ex, arg) on ex's loop thread soon. One post per exchange at a
 * time. If the server is already shut down, nothing runs (the exchange is dropped). */
void http_ex_post(http_exchange *ex, void (*fn)(http_exchange *ex, void *arg), void *arg);

#endif
