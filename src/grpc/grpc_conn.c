/* One gRPC client connection: a TCP stream on the server's loop and its nghttp2 server
 * session. Bytes read go to nghttp2_session_mem_recv; frames it wants to send are gathered
 * into one buffer per uv_write, and no more are pulled while GRPC_WRITE_HIGH bytes wait for
 * the socket (HTTP/2 flow control then holds the rest). A protocol error (garbage, a bad
 * preface, a flood) ends the connection with GOAWAY; the server goes on serving others. */
#include <stdlib.h>
#include <string.h>

#include "grpc_internal.h"
#include "inferd/clock.h"
#include "inferd/log.h"

#define GRPC_WRITE_HIGH    (1u << 20) /* bytes queued to the socket before we stop pulling */
#define GRPC_WRITE_GATHER  (64u << 10)
#define GRPC_STREAM_WINDOW (4u << 20)  /* per-stream receive window: large tensors flow */
#define GRPC_CONN_WINDOW   (32u << 20) /* connection receive window */

typedef struct write_req {
    uv_write_t req;
    grpc_conn *conn;
    uint8_t *buf;
    size_t len;
} write_req;

static ssize_t on_send_none(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *u)
{
    (void)s, (void)d, (void)n, (void)f, (void)u;
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* we only use mem_send */
}

static void on_handle_closed(uv_handle_t *h)
{
    grpc_conn *c = h->data;
    /* libuv runs the cancelled writes' callbacks before this one */
    free(c->wbuf);
    free(c);
}

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    grpc_conn *c = w->conn;
    c->write_pending -= w->len;
    free(w->buf);
    free(w);
    if (c->closed) return; /* cancelled by uv_close: on_handle_closed frees c */
    if (status < 0) {
        grpc_conn_close(c);
        return;
    }
    grpc_conn_flush(c);
}

static int write_gathered(grpc_conn *c)
{
    if (!c->wlen) return 0;
    write_req *w = malloc(sizeof *w);
    if (!w) return -1;
    w->conn = c;
    w->buf = c->wbuf;
    w->len = c->wlen;
    c->wbuf = NULL;
    c->wlen = c->wcap = 0;
    uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w->buf);
        free(w);
        return -1;
    }
    c->write_pending += w->len;
    return 0;
}

static int gather(grpc_conn *c, const uint8_t *data, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : GRPC_WRITE_GATHER;
        while (cap < c->wlen + n) cap *= 2;
        uint8_t *p = realloc(c->wbuf, cap);
        if (!p) return -1;
        c->wbuf = p;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, data, n);
    c->wlen += n;
    return 0;
}

void grpc_conn_flush(grpc_conn *c)
{
    if (c->closed) return;
    if (c->srv->deferring) { /* many answers at once: one write for all of them */
        if (!c->dirty) {
            c->dirty = 1;
            c->next_dirty = c->srv->dirty;
            c->srv->dirty = c;
        }
        return;
    }
    if (c->busy) {
        c->again = 1;
        return;
    }
    c->busy = 1;
    int failed = 0;
    do {
        c->again = 0;
        while (c->write_pending + c->wlen < GRPC_WRITE_HIGH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->session, &data);
            if (n < 0) {
                failed = 1;
                break;
            }
            if (n == 0) break;
            if (gather(c, data, (size_t)n) != 0) {
                failed = 1;
                break;
            }
            if (c->wlen >= GRPC_WRITE_GATHER && write_gathered(c) != 0) {
                failed = 1;
                break;
            }
        }
    } while (c->again && !failed);
    c->busy = 0;
    if (!failed && write_gathered(c) != 0) failed = 1;
    if (failed) {
        grpc_conn_close(c);
        return;
    }
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
        c->write_pending == 0)
        grpc_conn_close(c); /* GOAWAY sent and every stream done */
}

void grpc_conn_close(grpc_conn *c)
{
    if (c->closed) return;
    c->closed = 1;
    grpc_loop *srv = c->srv;
    if (c->dirty) { /* off the flush list: its memory goes before the list is run */
        grpc_conn **pp = &srv->dirty;
        while (*pp && *pp != c) pp = &(*pp)->next_dirty;
        if (*pp) *pp = c->next_dirty;
        c->dirty = 0;
    }
    while (c->calls) grpc_call_stream_gone(c->calls); /* cancels what the service still has */
    nghttp2_session_del(c->session);
    c->session = NULL;
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->n_conns--;
    atomic_store(&srv->n_conns_shared, srv->n_conns);
    free(c->wbuf);
    c->wbuf = NULL;
    c->wlen = c->wcap = 0;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void grpc_conn_goaway(grpc_conn *c, uint32_t error_code)
{
    if (c->closed) return;
    nghttp2_session_terminate_session(c->session, error_code);
    grpc_conn_flush(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    grpc_conn *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    grpc_conn *c = st->data;
    if (c->closed) return;
    if (nread < 0) {
        grpc_conn_close(c);
        return;
    }
    if (nread == 0) return;
    c->last_activity_ns = clock_now_ns();
    c->ping_sent = 0;
    c->busy = 1;
    ssize_t rv = nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread);
    c->busy = 0;
    if (c->closed) return;
    if (rv < 0) {
        log_debug_limited("grpc: closing a connection after a protocol error: %s",
                          nghttp2_strerror((int)rv));
        uv_read_stop(st);
        c->reading = 0;
        grpc_conn_goaway(c, NGHTTP2_PROTOCOL_ERROR);
        return;
    }
    grpc_conn_flush(c);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    return grpc_call_on_frame_recv(s, frame, user);
}

void grpc_conn_accept(grpc_loop *srv)
{
    grpc_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = srv;
    uv_tcp_init(&srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0 ||
        srv->n_conns >= srv->opts.max_connections || atomic_load(&srv->phase) >= 1) {
        if (srv->n_conns >= srv->opts.max_connections)
            log_debug_limited("grpc: connection limit %d reached, closing a new connection",
                              srv->opts.max_connections);
        c->closed = 1;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0) goto fail;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        goto fail;
    }
    nghttp2_session_callbacks_set_send_callback(cb, on_send_none);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, grpc_call_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, grpc_call_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, grpc_call_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, grpc_call_on_stream_close);
    /* streams over the limit are refused by nghttp2 itself (RST_STREAM REFUSED_STREAM) */
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    int rc = nghttp2_session_server_new2(&c->session, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rc != 0) goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, srv->opts.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
    };
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, GRPC_CONN_WINDOW);
    c->last_activity_ns = clock_now_ns();
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    atomic_store(&srv->n_conns_shared, srv->n_conns);
    atomic_fetch_add_explicit(&srv->accepted, 1, memory_order_relaxed);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        grpc_conn_close(c);
        return;
    }
    c->reading = 1;
    grpc_conn_flush(c); /* our SETTINGS */
    return;
fail:
    if (c->session) nghttp2_session_del(c->session);
    c->closed = 1;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void grpc_conn_tick(grpc_conn *c, int64_t now_ns)
{
    const grpc_options *o = &c->srv->opts;
    int64_t idle_ns = now_ns - c->last_activity_ns;
    if (o->idle_timeout_ms > 0 && !c->calls && idle_ns > o->idle_timeout_ms * 1000000) {
        grpc_conn_goaway(c, NGHTTP2_NO_ERROR);
        return;
    }
    if (o->keepalive_ms > 0 && !c->ping_sent && idle_ns > o->keepalive_ms * 1000000) {
        c->ping_sent = 1;
        nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);
        grpc_conn_flush(c);
    }
}
