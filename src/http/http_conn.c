/* One HTTP/1.1 connection on a loop thread: feeds bytes to http_parser, turns each request
 * into an exchange queued in arrival order, writes responses in that order (several per
 * write when ready together), pauses reading when too much is in flight or unsent, and
 * enforces the header/body/idle timeouts and size limits.
 *
 * Closing is always deferred: conn_close sets `closing` and the memory goes in the handles'
 * close callback. The parser never runs on a closing connection: conn_execute checks after
 * every http_parser_execute, and on_message_complete pauses the parser when the handler's
 * answer closed the connection (a failed write), so no later pipelined request is parsed.
 *
 * Streamed bodies (opts.stream_body): at the headers the exchange is queued and handed to the
 * handler, c->cur lets go of it and c->stream_ex points at it (not owning it: freeing it
 * clears the pointer) while c->streaming says the body being parsed goes to its reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "http_internal.h"
#include "inferd/clock.h"
#include "inferd/log.h"

#define LINGER_MS        2000
#define FLUSH_BATCH      32
#define HTTP_INLINE_BODY 2048 /* bodies up to this are copied behind their head */

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    int handles_open;
    http_loop *lp;
    http_server *srv;
    http_conn *prev, *next;
    http_parser parser;
    char *in; /* unparsed input kept while parsing is paused */
    size_t in_len, in_cap;
    http_exchange *cur;          /* request being parsed */
    http_exchange *stream_ex;    /* whose body is being streamed (queued, not owned; or NULL) */
    int streaming;               /* the body being parsed is streamed */
    int in_headers, header_last; /* header_last: 0 none, 1 field, 2 value */
    size_t header_bytes;
    int err_status; /* set by a callback that rejects the request */
    char err_msg[160];
    http_exchange *q_head, *q_tail; /* complete requests, answered or not, in order */
    int n_pending;
    int writes_in_flight;
    int paused, reading, in_execute;
    int no_more;  /* parse no further requests */
    int draining; /* shutdown: read nothing more, answer what was received */
    int close_when_flushed;
    int finishing, discarding, peer_eof, closing;
    int64_t read_ns;    /* clock_now_ns() of the read whose bytes are being parsed */
    int64_t in_read_ns; /* ... and of the oldest bytes kept in `in` */
    uint64_t msg_begin_ms, last_read_ms, last_write_ms, last_activity_ms, linger_deadline_ms;
    size_t write_queue_mark; /* conn_unsent when last_write_ms was set */
};

typedef struct write_req {
    uv_write_t req;
    http_conn *conn;
    int n;
    http_exchange *exs[FLUSH_BATCH];
} write_req;

static void conn_close(http_conn *c);
static void conn_flush(http_conn *c);
static void conn_update(http_conn *c);
static void conn_arm_timer(http_conn *c);

/* ---- exchanges ------------------------------------------------------------------------ */

static int grow_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n, size_t limit)
{
    if (n > limit || *len > limit - n) return -1;
    size_t need = *len + n + 1;
    if (need > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < need) nc *= 2;
        if (nc > limit + 1) nc = limit + 1;
        char *nb = realloc(*buf, nc);
        if (!nb) return -2;
        *buf = nb;
        *cap = nc;
    }
    if (n) memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static void queue_push(http_conn *c, http_exchange *ex)
{
    ex->next = NULL;
    if (c->q_tail) c->q_tail->next = ex;
    else c->q_head = ex;
    c->q_tail = ex;
    c->n_pending++;
}

static void conn_free_ex(http_conn *c, http_exchange *ex)
{
    if (c->stream_ex == ex) c->stream_ex = NULL;
    http_exchange_free(ex);
}

/* Gives a piece of a streamed body to its reader (while its exchange and reader are there). */
static void stream_give(http_conn *c, const char *data, size_t len, int end)
{
    http_exchange *ex = c->stream_ex;
    if (end) {
        c->streaming = 0;
        c->stream_ex = NULL;
    }
    if (ex && ex->body_fn) ex->body_fn(ex, ex->body_arg, data, len, end);
}

/* A streamed body will not be complete: its reader hears so. */
static void stream_cut(http_conn *c)
{
    if (c->streaming) stream_give(c, NULL, 0, -1);
}

/* ---- parser callbacks ----------------------------------------------------------------- */
static int reject(http_conn *c, int status, const char *msg)
{
    c->err_status = status;
    snprintf(c->err_msg, sizeof c->err_msg, "%s", msg);
    return -1;
}

/* The node-wide budget of request bytes in memory is spent: 503, and the connection closes. */
static int reject_busy(http_conn *c)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "the server holds its limit of %zu request bytes in memory; "
             "try again later",
             c->srv->opts.max_inflight_bytes);
    return reject(c, 503, msg);
}

static int count_header_bytes(http_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->opts.max_header_bytes)
        return reject(c, 431, "request line and headers exceed the header size limit");
    return 0;
}

static int on_message_begin(http_parser *p)
{
    http_conn *c = p->data;
    if (c->closing) return -1; /* defensive: conn_execute stops before this */
    http_exchange_free(c->cur);
    c->cur = http_exchange_new(c->lp, c);
    if (!c->cur) return reject(c, 500, "out of memory");
    c->in_headers = 1;
    c->header_last = 0;
    c->header_bytes = 0;
    c->msg_begin_ms = uv_now(&c->lp->loop);
    c->cur->arrival_ns = c->read_ns;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (count_header_bytes(c, n)) return -1;
    if (!c->cur->url_len) c->cur->method = p->method; /* known once the target starts */
    if (grow_append(&c->cur->url, &c->cur->url_len, &c->cur->url_cap, at, n, (size_t)-2))
        return reject(c, 500, "out of memory");
    return 0;
}

static int header_put(http_conn *c, const char *p, size_t n)
{
    http_exchange *ex = c->cur;
    if (grow_append(&ex->headers, &ex->headers_len, &ex->headers_cap, p, n, (size_t)-2))
        return reject(c, 500, "out of memory");
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (count_header_bytes(c, n + 4)) return -1;
    if (c->header_last == 2 && header_put(c, "", 1)) return -1; /* ends the value */
    c->header_last = 1;
    size_t start = c->cur->headers_len;
    if (header_put(c, at, n)) return -1;
    for (size_t i = start; i < c->cur->headers_len; i++)
        if (c->cur->headers[i] >= 'A' && c->cur->headers[i] <= 'Z') c->cur->headers[i] += 32;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (count_header_bytes(c, n)) return -1;
    if (c->header_last == 1 && header_put(c, "", 1)) return -1; /* ends the name */
    c->header_last = 2;
    return header_put(c, at, n);
}

static void on_continue_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void write_continue(http_conn *c)
{
    static char text[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_write_t *w = malloc(sizeof *w);
    if (!w) return;
    w->data = c;
    uv_buf_t b = uv_buf_init(text, sizeof text - 1);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written) != 0) free(w);
}

static int on_headers_complete(http_parser *p)
{
    http_conn *c = p->data;
    if (c->header_last == 1 && header_put(c, "", 1)) return -1;
    if (c->header_last && header_put(c, "", 1)) return -1;
    c->header_last = 0;
    c->in_headers = 0;
    c->cur->method = p->method;
    c->last_read_ms = uv_now(&c->lp->loop);
    if (!c->cur->url_len) return reject(c, 400, "empty request target");
    if (p->http_major != 1) return reject(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        p->content_length > c->srv->opts.max_body_bytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body of %llu bytes exceeds the limit of %zu bytes",
                 (unsigned long long)p->content_length, c->srv->opts.max_body_bytes);
        return reject(c, 413, msg);
    }
    int sized = !(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX && p->content_length > 0;
    http_exchange *ex = c->cur;
    if (sized && c->srv->opts.stream_body) { /* the path and query, for the decision */
        ex->method = p->method;
        ex->keep_alive = http_should_keep_alive(p) && !p->upgrade;
        ex->http10 = p->http_major == 1 && p->http_minor == 0;
        http_exchange_split_target(ex); /* again at the message's end: no change then */
        ex->body_streamed = c->srv->opts.stream_body(ex, c->srv->ctx) == 1;
    }
    if (sized && !ex->body_streamed && http_exchange_reserve(ex, (size_t)p->content_length) != 0)
        return reject_busy(c);
    const char *expect = http_ex_header(ex, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && !c->q_head) write_continue(c);
    if (!ex->body_streamed) return 0;
    c->cur = NULL;
    c->streaming = 1;
    c->stream_ex = ex;
    c->last_activity_ms = uv_now(&c->lp->loop);
    queue_push(c, ex);
    c->srv->handler(ex, c->srv->ctx); /* may answer at once */
    if (c->closing || (c->stream_ex && c->stream_ex->body_paused)) http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    http_exchange *ex = c->cur;
    c->last_read_ms = uv_now(&c->lp->loop);
    if (c->streaming) {
        stream_give(c, at, n, 0);
        if (c->closing || (c->stream_ex && c->stream_ex->body_paused)) http_parser_pause(p, 1);
        return 0;
    }
    /* a body without Content-Length is charged as it grows */
    if (n > ex->reserved - ex->body_len && ex->body_len + n <= c->srv->opts.max_body_bytes &&
        http_exchange_reserve(ex, ex->body_len + n - ex->reserved) != 0)
        return reject_busy(c);
    int rc =
        grow_append(&ex->body, &ex->body_len, &ex->body_cap, at, n, c->srv->opts.max_body_bytes);
    if (rc == -1) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes",
                 c->srv->opts.max_body_bytes);
        return reject(c, 413, msg);
    }
    if (rc) return reject(c, 500, "out of memory");
    return 0;
}

/* Pauses the parser after a request when nothing more should be parsed now. */
static void pause_if_full(http_conn *c, http_parser *p)
{
    if (c->closing || c->no_more || c->n_pending >= c->srv->opts.max_pipeline ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > c->srv->opts.max_write_queue)
        http_parser_pause(p, 1);
}

static int on_message_complete(http_parser *p)
{
    http_conn *c = p->data;
    if (c->streaming) { /* the handler has it already: its reader hears the end */
        int keep = http_should_keep_alive(p) && !p->upgrade;
        c->last_activity_ms = uv_now(&c->lp->loop);
        stream_give(c, NULL, 0, 1);
        if (!keep) c->no_more = 1;
        pause_if_full(c, p);
        return 0;
    }
    http_exchange *ex = c->cur;
    c->cur = NULL;
    if (!ex) return reject(c, 400, "malformed request");
    ex->method = p->method;
    ex->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    ex->http10 = p->http_major == 1 && p->http_minor == 0;
    http_exchange_split_target(ex);
    if (!ex->body && grow_append(&ex->body, &ex->body_len, &ex->body_cap, "", 0, 1)) {
        http_exchange_free(ex);
        return reject(c, 500, "out of memory");
    }
    c->last_activity_ms = uv_now(&c->lp->loop);
    queue_push(c, ex);
    if (!ex->keep_alive) c->no_more = 1;
    c->srv->handler(ex, c->srv->ctx); /* may answer at once */
    pause_if_full(c, p); /* also when the answer's write failed (closing): parse no more */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- input ---------------------------------------------------------------------------- */
static void protocol_error(http_conn *c, enum http_errno e)
{
    int status = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    char msg[256];
    if (c->err_status) snprintf(msg, sizeof msg, "%s", c->err_msg);
    else snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
    stream_cut(c);
    /* HEAD gets no body, also in an error answer: the method counts once it was read */
    int method = c->cur && c->cur->method >= 0 ? c->cur->method : HTTP_GET;
    http_exchange_free(c->cur);
    c->cur = NULL;
    c->no_more = 1;
    c->in_len = 0;
    http_exchange *ex = http_exchange_new(c->lp, c);
    if (!ex) {
        conn_close(c);
        return;
    }
    ex->method = method;
    ex->keep_alive = 0;
    queue_push(c, ex);
    log_debug_limited("http: closing connection after error %d: %s", status, msg);
    size_t len = 0;
    char *body = http_error_json(msg, &len);
    http_exchange_set_response(ex, status, "application/json", body, len,
                               status == 503 ? "Retry-After: 1\r\n" : "");
    http_conn_respond(ex);
}

/* Parses data[0..len) until done, paused or failed; returns bytes consumed. */
static size_t conn_execute(http_conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->paused && !c->no_more && !c->closing) {
        c->in_execute = 1;
        size_t n = http_parser_execute(&c->parser, &parser_settings, data + off, len - off);
        c->in_execute = 0;
        off += n;
        if (c->closing) return len; /* a callback's answer closed it: stop right here */
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            c->paused = 1;
            break;
        }
        if (e != HPE_OK) {
            protocol_error(c, e);
            return len;
        }
        if (c->parser.upgrade) { /* not supported: answer what we have, then close */
            c->no_more = 1;
            return len;
        }
        if (n == 0) break;
    }
    return off;
}

static void conn_feed(http_conn *c, const char *data, size_t len)
{
    size_t used = conn_execute(c, data, len);
    if (c->closing || c->no_more || used >= len) return;
    if (!c->in_len) c->in_read_ns = c->read_ns;
    size_t cap = c->in_cap;
    if (grow_append(&c->in, &c->in_len, &cap, data + used, len - used, (size_t)-2)) {
        conn_close(c);
        return;
    }
    c->in_cap = cap;
}

/* Shutdown: once every received byte is parsed, parse no more (a request cut short is
 * dropped) and close after the last answer, which then says Connection: close. */
static void drain_check(http_conn *c)
{
    if (!c->draining || c->no_more || c->closing || c->in_len) return;
    stream_cut(c); /* a body still coming will not be read */
    c->no_more = 1;
    c->close_when_flushed = 1;
    http_exchange_free(c->cur);
    c->cur = NULL;
}

static void resume_parsing(http_conn *c)
{
    if (c->closing || c->in_execute || !c->paused || c->no_more) return;
    if (c->stream_ex && c->stream_ex->body_paused) return; /* its reader holds the body */
    if (c->n_pending >= c->srv->opts.max_pipeline ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > c->srv->opts.max_write_queue)
        return;
    http_parser_pause(&c->parser, 0);
    c->paused = 0;
    if (c->in_len) {
        c->read_ns = c->in_read_ns;
        size_t used = conn_execute(c, c->in, c->in_len);
        if (c->closing) return;
        if (used >= c->in_len || c->no_more) c->in_len = 0;
        else {
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn *c = h->data;
    *buf = uv_buf_init(c->lp->read_scratch, sizeof c->lp->read_scratch);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn *c = s->data;
    if (c->closing) return;
    /* Answers posted from another thread go first, as if their wake-up had come before this
     * read: they need not wait for the rest of this round's reads (a batch's answers come
     * all at once, and a round can hold a read on every connection). */
    if (c->lp->run_posts && atomic_load_explicit(&c->lp->posts_waiting, memory_order_relaxed)) {
        c->lp->run_posts(c->lp);
        if (c->closing) return;
    }
    uint64_t now = uv_now(&c->lp->loop);
    if (nread < 0) {
        if (nread != UV_EOF || c->discarding) {
            conn_close(c);
            return;
        }
        c->peer_eof = 1;
        c->no_more = 1;
        stream_cut(c);
        http_exchange_free(c->cur);
        c->cur = NULL;
        c->in_len = 0;
        /* A client that closes while answers are still being computed is taken as gone (as
         * nginx does): its queued work is cancelled. Answers already made are still written. */
        int unanswered = 0;
        for (http_exchange *ex = c->q_head; ex; ex = ex->next)
            if (!ex->ready) unanswered = 1;
        if (unanswered || (!c->q_head && !c->writes_in_flight)) conn_close(c);
        else {
            c->close_when_flushed = 1;
            conn_update(c);
        }
        return;
    }
    if (nread == 0) return;
    c->last_read_ms = c->last_activity_ms = now;
    c->read_ns = clock_now_ns();
    if (c->discarding || c->no_more) return;
    if (c->in_len) {
        size_t cap = c->in_cap;
        if (grow_append(&c->in, &c->in_len, &cap, buf->base, (size_t)nread, (size_t)-2)) {
            conn_close(c);
            return;
        }
        c->in_cap = cap;
        c->paused = 1; /* re-run the buffered input through resume_parsing */
        http_parser_pause(&c->parser, 1);
        resume_parsing(c);
    } else {
        conn_feed(c, buf->base, (size_t)nread);
    }
    if (!c->closing) conn_update(c);
}

/* Starts or stops reading and re-arms the timer to match the connection's state. */
static void conn_update(http_conn *c)
{
    if (c->closing) return;
    resume_parsing(c);
    if (c->closing) return;
    drain_check(c);
    int want = c->discarding || (!c->no_more && !c->paused && !c->finishing && !c->draining);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    conn_arm_timer(c);
}

/* ---- timeouts ------------------------------------------------------------------------- */
static int conn_deadline(http_conn *c, uint64_t *deadline)
{
    const http_options *o = &c->srv->opts;
    if (c->discarding) *deadline = c->linger_deadline_ms;
    else if (c->cur && c->in_headers) *deadline = c->msg_begin_ms + (uint64_t)o->header_timeout_ms;
    else if (c->streaming && c->stream_ex && c->stream_ex->body_paused)
        return 0; /* held back by its reader, which bounds it */
    else if (c->cur || c->streaming) *deadline = c->last_read_ms + (uint64_t)o->header_timeout_ms;
    else if (c->writes_in_flight)
        *deadline = c->last_write_ms + (uint64_t)o->idle_timeout_ms; /* stall */
    else if (c->q_head) return 0; /* waiting for answers; the scheduler bounds those */
    else *deadline = c->last_activity_ms + (uint64_t)o->idle_timeout_ms;
    return 1;
}

/* Answer bytes the client has not taken yet: libuv's queue plus the kernel's send queue
 * (SIOCOUTQ: not yet acknowledged by the peer). The kernel holds megabytes on loopback, so
 * libuv's queue alone can stand still for seconds while the client reads steadily. With
 * libuv's queue empty every write is in the kernel and completes at once: 0, without the
 * ioctl (the common case: a small answer costs no extra syscall). */
static size_t conn_unsent(http_conn *c)
{
    size_t n = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (n == 0) return 0;
    uv_os_fd_t fd;
    int outq = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0)
        n += (size_t)outq;
    return n;
}

/* A client reading a large answer slowly but steadily is not stalled: when the stall clock runs
 * out while writes are in flight, fewer unsent bytes than at its start restart the clock. */
static int conn_write_progressed(http_conn *c)
{
    if (!c->writes_in_flight || c->cur || c->discarding) return 0;
    size_t unsent = conn_unsent(c);
    if (unsent >= c->write_queue_mark) return 0;
    c->write_queue_mark = unsent;
    c->last_write_ms = uv_now(&c->lp->loop);
    return 1;
}

static void on_timer(uv_timer_t *t)
{
    http_conn *c = t->data;
    uint64_t deadline;
    if (c->closing) return;
    if (conn_deadline(c, &deadline) && uv_now(&c->lp->loop) >= deadline &&
        !conn_write_progressed(c)) {
        log_debug_limited("http: closing connection: %s", c->discarding ? "linger over"
                                                          : c->cur ? "request not received in time"
                                                                   : "idle");
        conn_close(c);
        return;
    }
    conn_arm_timer(c);
}

static void conn_arm_timer(http_conn *c)
{
    uint64_t deadline, now = uv_now(&c->lp->loop);
    if (c->closing) return;
    if (!conn_deadline(c, &deadline)) {
        uv_timer_stop(&c->timer);
        return;
    }
    /* fails only for a closing handle; a connection without its timer must not live on */
    if (uv_timer_start(&c->timer, on_timer, deadline > now ? deadline - now : 0, 0) != 0)
        conn_close(c);
}

/* ---- output --------------------------------------------------------------------------- */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn *c = req->data;
    if (c->closing) return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    /* Read and drop what the client still sends, so closing does not reset the connection
     * before it has read our last response. */
    c->discarding = 1;
    c->linger_deadline_ms = uv_now(&c->lp->loop) + LINGER_MS;
    conn_update(c);
}

static void conn_finish(http_conn *c)
{
    if (c->finishing || c->closing) return;
    c->finishing = 1;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    http_conn *c = w->conn;
    for (int i = 0; i < w->n; i++) conn_free_ex(c, w->exs[i]);
    free(w);
    c->writes_in_flight--;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->last_write_ms = c->last_activity_ms = uv_now(&c->lp->loop);
    c->write_queue_mark = conn_unsent(c);
    conn_flush(c);
}

/* The Connection header and the blank line ending a response's head, decided when it is
 * written: a response is the last one when its request said so, or when nothing more will
 * be parsed (also once shutdown began, before this loop has heard of it: answers the
 * draining scheduler gives at once must say close too) and no other request waits behind
 * it. */
static const char *connection_line(http_conn *c, http_exchange *ex)
{
    static char close_line[] = "Connection: close\r\n\r\n";
    static char keep_line[] = "Connection: keep-alive\r\n\r\n";
    static char end_line[] = "\r\n";
    int ending = c->no_more || c->draining || atomic_load(&c->srv->phase) >= 1;
    if (ex->close_after || (ending && !c->q_head && !c->cur && !c->streaming && !c->in_len)) {
        ex->close_after = 1;
        return close_line;
    }
    return ex->http10 ? keep_line : end_line;
}

/* Writes bufs[0..*nb) with one non-blocking writev when nothing else is queued (the common
 * case: the socket buffer has room). Returns 1 if everything was written; 0 if some is left
 * for uv_write (*nb and bufs updated to the rest); -1 if the connection is broken. */
static int write_now(http_conn *c, uv_buf_t *bufs, int *nb)
{
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)*nb);
    if (n == UV_EAGAIN || n == 0) return 0;
    if (n < 0) return -1;
    *nb = http_bufs_consume(bufs, *nb, (size_t)n);
    return *nb == 0;
}

/* Adds ex's response to bufs[*nb..]: the head ends with the Connection line and, when the
 * body is small, a copy of it (one iovec for the common response: the kernel copies it
 * once either way). -1 when the head could not be built (out of memory). */
static int add_response(http_conn *c, http_exchange *ex, uv_buf_t *bufs, int *nb)
{
    http_buf *head = &ex->resp_head;
    if (head->oom || !head->data) return -1;
    http_buf_puts(head, connection_line(c, ex));
    int with_body = ex->method != HTTP_HEAD;
    if (with_body && ex->resp_body_len && ex->resp_body_len <= HTTP_INLINE_BODY) {
        http_buf_append(head, ex->resp_body, ex->resp_body_len);
        with_body = 0;
    }
    if (head->oom) return -1;
    bufs[(*nb)++] = http_buf_span(head->data, head->len);
    if (with_body && ex->resp_body_len)
        bufs[(*nb)++] = http_buf_span(ex->resp_body, ex->resp_body_len);
    for (int i = 0; i < ex->n_spans && ex->method != HTTP_HEAD; i++)
        if (ex->resp_spans[i].len)
            bufs[(*nb)++] = http_buf_span((char *)ex->resp_spans[i].base, ex->resp_spans[i].len);
    return 0;
}

static void conn_flush(http_conn *c)
{
    while (!c->closing && c->q_head && c->q_head->ready) {
        /* the ready responses at the head of the queue, in one writev */
        http_exchange *exs[FLUSH_BATCH];
        int n = 0;
        uv_buf_t bufs[FLUSH_BATCH * 2 + HTTP_MAX_SPANS];
        const int cap = (int)(sizeof bufs / sizeof bufs[0]);
        int nb = 0;
        while (c->q_head && c->q_head->ready && n < FLUSH_BATCH &&
               nb + 2 + c->q_head->n_spans <= cap) {
            http_exchange *ex = c->q_head;
            c->q_head = ex->next;
            if (!c->q_head) c->q_tail = NULL;
            c->n_pending--;
            exs[n++] = ex;
            if (add_response(c, ex, bufs, &nb) != 0) { /* out of memory building it */
                c->no_more = 1;
                c->close_when_flushed = 1;
                break;
            }
            if (ex->close_after) {
                c->no_more = 1;
                c->close_when_flushed = 1;
                break;
            }
        }
        int now = nb && !c->writes_in_flight ? write_now(c, bufs, &nb) : 0;
        if (now < 0) {
            for (int i = 0; i < n; i++) conn_free_ex(c, exs[i]);
            conn_close(c);
            return;
        }
        if (now || nb == 0) {
            /* all of it went out (or nothing to send): no write request */
            c->last_write_ms = c->last_activity_ms = uv_now(&c->lp->loop);
            for (int i = 0; i < n; i++) conn_free_ex(c, exs[i]);
            if (c->close_when_flushed && c->no_more) break;
            continue;
        }
        /* the rest goes out with uv_write, which holds the exchanges until it is done */
        write_req *w = malloc(sizeof *w);
        if (!w) {
            for (int i = 0; i < n; i++) conn_free_ex(c, exs[i]);
            conn_close(c);
            return;
        }
        w->conn = c;
        w->n = n;
        memcpy(w->exs, exs, (size_t)n * sizeof exs[0]);
        /* the stall clock for a client that does not read starts with its oldest write */
        if (!c->writes_in_flight) c->last_write_ms = uv_now(&c->lp->loop);
        c->writes_in_flight++;
        int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, (unsigned)nb, on_write);
        c->write_queue_mark = conn_unsent(c);
        if (rc != 0) {
            c->writes_in_flight--;
            for (int i = 0; i < n; i++) conn_free_ex(c, exs[i]);
            free(w);
            conn_close(c);
            return;
        }
        if (c->close_when_flushed && c->no_more) break;
    }
    if (c->closing) return;
    if (c->no_more && c->close_when_flushed && !c->writes_in_flight && !c->q_head) {
        /* drop answers still queued after a close-after response (none are expected) */
        conn_finish(c);
        return;
    }
    conn_update(c);
}

void http_conn_respond(http_exchange *ex)
{
    http_conn *c = ex->conn;
    if (!c) { /* orphaned: the client is gone */
        http_exchange_free(ex);
        return;
    }
    if (!ex->keep_alive) ex->close_after = 1;
    ex->ready = 1;
    ex->body_fn = NULL; /* a streamed body's rest is read and dropped */
    ex->body_paused = 0;
    /* inside the parser: flush from there is fine; it does not re-enter the parser, and if
     * it closes the connection, on_message_complete stops the parser */
    conn_flush(c);
}

/* ---- life cycle ----------------------------------------------------------------------- */
static void on_handle_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    if (--c->handles_open > 0) return;
    http_loop *lp = c->lp;
    free(c->in);
    free(c);
    if (lp->conn_gone) lp->conn_gone(lp); /* unset when a test drives a bare loop */
}

static void conn_close(http_conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    stream_cut(c); /* its reader may answer: nothing is written any more */
    /* answered exchanges go; unanswered ones are orphaned and freed when answered */
    http_exchange *ex = c->q_head;
    while (ex) {
        http_exchange *next = ex->next;
        if (ex->ready) {
            http_exchange_free(ex);
        } else {
            ex->conn = NULL;
            void (*fn)(http_exchange *, void *) = ex->orphan_fn;
            ex->orphan_fn = NULL;
            if (fn) fn(ex, ex->orphan_arg);
        }
        ex = next;
    }
    c->q_head = c->q_tail = NULL;
    http_exchange_free(c->cur);
    c->cur = NULL;
    if (c->prev) c->prev->next = c->next;
    else c->lp->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_sub(&c->srv->n_conns, 1);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void http_conn_accept(http_loop *lp, int fd)
{
    http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->lp = lp;
    c->srv = lp->srv;
    if (uv_tcp_init(&lp->loop, &c->tcp) != 0) { /* cannot fail on Linux; be sure */
        free(c);
        close(fd);
        return;
    }
    if (uv_timer_init(&lp->loop, &c->timer) != 0) {
        close(fd);
        c->tcp.data = c;
        c->handles_open = 1;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = lp->conns;
    if (lp->conns) lp->conns->prev = c;
    lp->conns = c;
    int n = atomic_fetch_add(&c->srv->n_conns, 1) + 1;
    atomic_fetch_add_explicit(&c->srv->accepted, 1, memory_order_relaxed);
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        conn_close(c);
        return;
    }
    if (n > c->srv->opts.max_connections || atomic_load(&c->srv->phase) >= 2) {
        log_debug_limited("http: connection limit %d reached, closing a new connection",
                          c->srv->opts.max_connections);
        conn_close(c);
        return;
    }
    int rc = uv_tcp_nodelay(&c->tcp, 1);
    if (rc != 0) log_debug_limited("http: TCP_NODELAY: %s", uv_strerror(rc));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->last_activity_ms = c->last_read_ms = uv_now(&lp->loop);
    conn_update(c);
}

void http_conn_body_resume(http_exchange *ex)
{
    http_conn *c = ex->conn;
    if (c && !c->closing && !c->in_execute) conn_update(c);
}

void http_conn_drain(http_conn *c)
{
    if (c->closing || c->draining) return;
    c->draining = 1;
    drain_check(c);
    conn_flush(c); /* closes at once when nothing is left to answer */
}

void http_conn_force_close(http_conn *c)
{
    conn_close(c);
}

http_conn *http_conn_next(http_conn *c)
{
    return c->next;
}
