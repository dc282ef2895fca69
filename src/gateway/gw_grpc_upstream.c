/* The gateway's HTTP/2 client to the nodes' gRPC ports: per gRPC loop, one connection per
 * node (an nghttp2 client session on a libuv TCP handle) carrying many streams; a connection
 * that got GOAWAY takes no new streams (the next call makes a new one) and closes once its
 * streams are done. Request messages are queued per stream and pulled by a data provider;
 * response DATA is handed on as it comes (its message prefixes followed, not buffered), and
 * the node's window is given back only as the caller consumes (no automatic WINDOW_UPDATE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "gw_grpc.h"
#include "inferd/log.h"

#define H2_WRITE_HIGH    (1u << 20)
#define H2_STREAM_WINDOW (1u << 20) /* also what a call may hold unconsumed */
#define H2_CONN_WINDOW   (32u << 20)

typedef struct h2_conn h2_conn;

struct gw_h2_stream {
    h2_conn *conn;
    gw_h2_stream *prev, *next; /* in conn->streams */
    int32_t id;                /* 0 until submitted (the connection may still be connecting) */
    const gw_h2_cb *cb;        /* NULL once cancelled */
    void *arg;
    char method[256], timeout[32];
    int has_timeout;
    grpc_mdlist md;                /* request custom metadata */
    grpc_mdlist md_head, md_trail; /* the node's response custom metadata */
    int md_err;                    /* grpc_mdlist_add's error on the node's metadata */
    grpc_outq out;                 /* request messages, prefixes included */
    int eof, deferred;
    /* the response message being passed on: its prefix, then in_want bytes, in_len seen */
    uint8_t prefix[5];
    size_t prefix_len;
    size_t in_len, in_want;
    size_t unconsumed; /* handed to on_data, not yet gw_h2_consume'd */
    int code;          /* grpc-status seen, else -1 */
    char message[512];
    int http_status;
};

struct h2_conn {
    gw_h2_loop *L;
    int node;
    h2_conn *prev, *next; /* in L->conns */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    int handles; /* open handles (tcp, timer); freed at 0 */
    nghttp2_session *session;
    int connected, closed, goaway, busy, again, dirty;
    h2_conn *next_dirty; /* on L->dirty: flushed at the loop's next idle phase */
    gw_h2_stream *streams;
    size_t write_pending;
    uint8_t rbuf[65536];
};

struct gw_h2_loop {
    uv_loop_t *loop;
    int64_t connect_timeout_ms;
    h2_conn *cur[GW_MAX_NODES]; /* the connection new streams go on */
    h2_conn *conns;
    h2_conn *dirty; /* connections with frames to write: one write each per loop turn */
    uv_idle_t idle;
    int closing;
};

static void conn_close(h2_conn *c, const char *why);
static void conn_flush(h2_conn *c);

static void on_idle(uv_idle_t *h)
{
    gw_h2_loop *L = h->data;
    uv_idle_stop(h);
    h2_conn *c = L->dirty;
    L->dirty = NULL;
    while (c) {
        h2_conn *next = c->next_dirty;
        c->dirty = 0;
        c->next_dirty = NULL;
        conn_flush(c);
        c = next;
    }
}

/* Requests of many calls made in one loop turn go out in one write per connection. */
static void conn_flush_soon(h2_conn *c)
{
    if (c->closed) return;
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = c->L->dirty;
        c->L->dirty = c;
    }
    uv_idle_start(&c->L->idle, on_idle);
}

gw_h2_loop *gw_h2_loop_new(void *uv_loop, int64_t connect_timeout_ms)
{
    gw_h2_loop *L = calloc(1, sizeof *L);
    if (!L) return NULL;
    L->loop = uv_loop;
    uv_idle_init(uv_loop, &L->idle);
    L->idle.data = L;
    L->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 1000;
    return L;
}

void gw_h2_loop_close(gw_h2_loop *L)
{
    if (!L) return;
    if (L->closing) return;
    L->closing = 1;
    while (L->conns) conn_close(L->conns, "the gateway is stopping");
    uv_close((uv_handle_t *)&L->idle, NULL);
}

void gw_h2_loop_free(gw_h2_loop *L)
{
    free(L);
}

static void stream_free(gw_h2_stream *s)
{
    grpc_outq_free(&s->out);
    grpc_mdlist_free(&s->md);
    grpc_mdlist_free(&s->md_head);
    grpc_mdlist_free(&s->md_trail);
    free(s);
}

static void stream_unlink(gw_h2_stream *s)
{
    h2_conn *c = s->conn;
    if (!c) return;
    if (c->session && s->unconsumed) /* the connection's window back: the bytes are dropped */
        nghttp2_session_consume_connection(c->session, s->unconsumed);
    s->unconsumed = 0;
    if (s->prev) s->prev->next = s->next;
    else c->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->conn = NULL;
    if (c->session && s->id > 0) nghttp2_session_set_stream_user_data(c->session, s->id, NULL);
}

/* The stream is over: tell its owner (unless cancelled) and free it. */
static void stream_end(gw_h2_stream *s, int transport, const char *why)
{
    stream_unlink(s);
    const gw_h2_cb *cb = s->cb;
    s->cb = NULL;
    if (cb) {
        if (!transport && s->code >= 0) {
            cb->on_end(s->arg, s->code, s->message, 0, &s->md_trail);
        } else {
            char msg[300];
            grpc_mdlist none = {0};
            snprintf(msg, sizeof msg, "node unreachable: %s", why);
            cb->on_end(s->arg, GRPC_STATUS_UNAVAILABLE, msg, 1, &none);
        }
    }
    stream_free(s);
}

/* ---- writing ----------------------------------------------------------------------- */

typedef struct write_req {
    uv_write_t req;
    h2_conn *conn;
    uint8_t *buf;
    size_t len;
} write_req;

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    h2_conn *c = w->conn;
    c->write_pending -= w->len;
    free(w->buf);
    free(w);
    if (c->closed) return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    conn_flush(c);
}

static void conn_flush(h2_conn *c)
{
    if (c->closed || !c->connected) return;
    if (c->busy) {
        c->again = 1;
        return;
    }
    c->busy = 1;
    int failed = 0;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    do {
        c->again = 0;
        while (c->write_pending + len < H2_WRITE_HIGH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->session, &data);
            if (n < 0) {
                failed = 1;
                break;
            }
            if (n == 0) break;
            if (len + (size_t)n > cap) {
                size_t nc = cap ? cap : 16384;
                while (nc < len + (size_t)n) nc *= 2;
                uint8_t *p = realloc(buf, nc);
                if (!p) {
                    failed = 1;
                    break;
                }
                buf = p;
                cap = nc;
            }
            memcpy(buf + len, data, (size_t)n);
            len += (size_t)n;
        }
    } while (c->again && !failed);
    c->busy = 0;
    if (!failed && len) {
        write_req *w = malloc(sizeof *w);
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        if (!w) {
            failed = 1;
        } else {
            w->conn = c;
            w->buf = buf;
            w->len = len;
            if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
                free(w);
                failed = 1;
            } else {
                c->write_pending += len;
                buf = NULL;
            }
        }
    }
    free(buf);
    if (failed) {
        conn_close(c, "write failed");
        return;
    }
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
        c->write_pending == 0)
        conn_close(c, "connection ended");
    else if (c->goaway && !c->streams && c->write_pending == 0) conn_close(c, "GOAWAY");
}

/* ---- closing ----------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    h2_conn *c = h->data;
    if (--c->handles == 0) free(c);
}

static void conn_close(h2_conn *c, const char *why)
{
    if (c->closed) return;
    c->closed = 1;
    gw_h2_loop *L = c->L;
    if (c->dirty) { /* off the flush list: its memory goes before the list is run */
        h2_conn **pp = &L->dirty;
        while (*pp && *pp != c) pp = &(*pp)->next_dirty;
        if (*pp) *pp = c->next_dirty;
        c->dirty = 0;
    }
    if (L->cur[c->node] == c) L->cur[c->node] = NULL;
    if (c->prev) c->prev->next = c->next;
    else L->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    /* detach every stream first: nghttp2_session_del must not reach them */
    gw_h2_stream *list = c->streams;
    for (gw_h2_stream *s = list; s; s = s->next) {
        if (c->session && s->id > 0) nghttp2_session_set_stream_user_data(c->session, s->id, NULL);
        s->conn = NULL;
    }
    c->streams = NULL;
    if (c->session) nghttp2_session_del(c->session);
    c->session = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    while (list) {
        gw_h2_stream *next = list->next;
        list->prev = list->next = NULL;
        stream_end(list, 1, why);
        list = next;
    }
}

/* ---- the request side ------------------------------------------------------------- */

static ssize_t read_out(nghttp2_session *sess, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    (void)sess, (void)stream_id, (void)user;
    gw_h2_stream *s = source->ptr;
    size_t n = grpc_outq_pull(&s->out, buf, length);
    if (!s->out.head && s->eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
        s->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

#define NV(n, v, vl)                                                                    \
    {                                                                                   \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, vl, NGHTTP2_NV_FLAG_NO_COPY_NAME \
    }

/* 0, or -1 when nghttp2 refused the stream (the caller ends it). */
static int stream_submit(h2_conn *c, gw_h2_stream *s)
{
    char authority[64];
    snprintf(authority, sizeof authority, "node%d", c->node);
    nghttp2_nv nv[7 + GRPC_MD_MAX_ENTRIES] = {
        NV(":method", "POST", 4),
        NV(":scheme", "http", 4),
        NV(":path", s->method, strlen(s->method)),
        NV(":authority", authority, strlen(authority)),
        NV("content-type", "application/grpc", 16),
        NV("te", "trailers", 8),
    };
    size_t n = 6;
    if (s->has_timeout) nv[n++] = (nghttp2_nv)NV("grpc-timeout", s->timeout, strlen(s->timeout));
    for (size_t i = 0; i < s->md.n; i++)
        nv[n++] = (nghttp2_nv){(uint8_t *)s->md.v[i].name, (uint8_t *)s->md.v[i].value,
                               s->md.v[i].name_len, s->md.v[i].value_len, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_out};
    int32_t id = nghttp2_submit_request(c->session, NULL, nv, n, &prd, s);
    if (id < 0) return -1;
    s->id = id;
    return 0;
}

int gw_h2_send(gw_h2_stream *s, const uint8_t *msg, size_t len)
{
    if (len > UINT32_MAX) return -1;
    uint8_t *buf = malloc(len + 5);
    if (!buf) return -1;
    grpc_prefix_write(buf, (uint32_t)len);
    if (len) memcpy(buf + 5, msg, len);
    if (grpc_outq_push(&s->out, buf, len + 5) != 0) return -1;
    h2_conn *c = s->conn;
    if (c && s->id > 0 && s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(c->session, s->id);
    }
    if (c) conn_flush_soon(c);
    return 0;
}

void gw_h2_close_send(gw_h2_stream *s)
{
    s->eof = 1;
    h2_conn *c = s->conn;
    if (c && s->id > 0 && s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(c->session, s->id);
    }
    if (c) conn_flush_soon(c);
}

void gw_h2_cancel(gw_h2_stream *s)
{
    s->cb = NULL;
    h2_conn *c = s->conn;
    if (c && s->id > 0 && c->session) {
        if (s->unconsumed) nghttp2_session_consume_connection(c->session, s->unconsumed);
        s->unconsumed = 0;
        /* freed when nghttp2 closes the stream (on_stream_close) */
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        conn_flush_soon(c);
        return;
    }
    stream_unlink(s); /* not sent yet (connecting) */
    stream_free(s);
}

const grpc_mdlist *gw_h2_headers(const gw_h2_stream *s)
{
    return &s->md_head;
}

void gw_h2_consume(gw_h2_stream *s, size_t n)
{
    h2_conn *c = s->conn;
    if (n > s->unconsumed) n = s->unconsumed;
    if (!n || !c || !c->session || s->id <= 0) return;
    s->unconsumed -= n;
    nghttp2_session_consume(c->session, s->id, n);
    conn_flush_soon(c);
}

/* ---- the response side ------------------------------------------------------------- */

/* The node sent something the gateway will not pass on: the stream is reset and ends with
 * code (no callback for it afterwards). */
static void stream_fail(nghttp2_session *sess, gw_h2_stream *s, int code, const char *message)
{
    nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    const gw_h2_cb *cb = s->cb;
    s->cb = NULL;
    grpc_mdlist none = {0};
    cb->on_end(s->arg, code, message, 0, &none);
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags, (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    gw_h2_stream *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (!s) return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        s->http_status = 0;
        for (size_t i = 0; i < valuelen && i < 4; i++)
            s->http_status = s->http_status * 10 + (value[i] - '0');
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int code = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++) {
            if (value[i] < '0' || value[i] > '9') {
                code = GRPC_STATUS_UNKNOWN;
                break;
            }
            code = code * 10 + (value[i] - '0');
        }
        s->code = code < GW_GRPC_CODES ? code : GRPC_STATUS_UNKNOWN;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        gw_grpc_message_decode((const char *)value, valuelen, s->message, sizeof s->message);
    } else if (!s->md_err && grpc_md_custom_response(name, namelen)) {
        /* a trailers-only answer's metadata is trailing metadata, as a client reads it */
        int trailing = frame->headers.cat == NGHTTP2_HCAT_HEADERS ||
                       (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
        s->md_err =
            grpc_mdlist_add(trailing ? &s->md_trail : &s->md_head, name, namelen, value, valuelen);
    }
    return 0;
}

static int on_data(nghttp2_session *sess, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *user)
{
    (void)flags, (void)user;
    gw_h2_stream *s = nghttp2_session_get_stream_user_data(sess, stream_id);
    if (!s || !s->cb) { /* nobody waits for these bytes: the windows back at once */
        nghttp2_session_consume(sess, stream_id, len);
        return 0;
    }
    /* follow the message prefixes through the chunk: a compressed message is refused */
    for (size_t i = 0; i < len;) {
        if (s->prefix_len < 5) {
            size_t take = 5 - s->prefix_len;
            if (take > len - i) take = len - i;
            memcpy(s->prefix + s->prefix_len, data + i, take);
            s->prefix_len += take;
            i += take;
            if (s->prefix_len < 5) break;
            int compressed;
            uint32_t mlen;
            grpc_prefix_read(s->prefix, &compressed, &mlen);
            if (compressed) {
                nghttp2_session_consume(sess, stream_id, len);
                stream_fail(sess, s, GRPC_STATUS_INTERNAL, "the node sent a compressed message");
                return 0;
            }
            s->in_want = mlen;
            s->in_len = 0;
        }
        size_t take = s->in_want - s->in_len < len - i ? s->in_want - s->in_len : len - i;
        s->in_len += take;
        i += take;
        if (s->in_len == s->in_want) s->prefix_len = s->in_len = s->in_want = 0;
    }
    s->unconsumed += len;
    s->cb->on_data(s->arg, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t stream_id, uint32_t error_code,
                           void *user)
{
    (void)user;
    gw_h2_stream *s = nghttp2_session_get_stream_user_data(sess, stream_id);
    if (!s) return 0;
    int transport = s->code < 0 || (s->http_status && s->http_status != 200);
    if (s->cb && !transport && s->prefix_len) {
        s->code = GRPC_STATUS_INTERNAL;
        snprintf(s->message, sizeof s->message, "the node's answer ended inside a message");
    }
    char why[96];
    snprintf(why, sizeof why, "stream reset (%s)", nghttp2_http2_strerror(error_code));
    stream_end(s, transport, why);
    return 0;
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
    h2_conn *c = user;
    if (frame->hd.type == NGHTTP2_HEADERS) {
        gw_h2_stream *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
        if (s && s->cb && s->md_err) {
            char msg[160] = "the gateway is out of memory for the node's metadata";
            if (s->md_err != -1)
                snprintf(msg, sizeof msg,
                         "the node's response metadata exceeds %d entries or %d bytes (names + "
                         "values + 32 each)",
                         GRPC_MD_MAX_ENTRIES, GRPC_MD_MAX_BYTES);
            stream_fail(sess, s, GRPC_STATUS_INTERNAL, msg);
        }
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1; /* streams above its last id are closed REFUSED_STREAM by nghttp2 */
        if (c->L->cur[c->node] == c) c->L->cur[c->node] = NULL;
    }
    return 0;
}

static ssize_t on_send_none(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *u)
{
    (void)s, (void)d, (void)n, (void)f, (void)u;
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* only mem_send is used */
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    h2_conn *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    h2_conn *c = st->data;
    if (c->closed) return;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "connection closed by the node" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) return;
    c->busy = 1;
    ssize_t rv = nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread);
    c->busy = 0;
    if (c->closed) return;
    if (rv < 0) {
        conn_close(c, nghttp2_strerror((int)rv));
        return;
    }
    conn_flush(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    h2_conn *c = req->data;
    if (c->closed) return;
    uv_timer_stop(&c->timer);
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c, "cannot read");
        return;
    }
    c->connected = 1;
    for (gw_h2_stream *s = c->streams, *next; s; s = next) {
        next = s->next;
        if (s->id == 0 && stream_submit(c, s) != 0) stream_end(s, 1, "stream refused");
    }
    conn_flush(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
    h2_conn *c = t->data;
    conn_close(c, "connect timed out");
}

static h2_conn *conn_new(gw_h2_loop *L, int node, const struct sockaddr_storage *addr)
{
    h2_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(c);
        return NULL;
    }
    nghttp2_session_callbacks_set_send_callback(cb, on_send_none);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option *opt = NULL;
    int rc = nghttp2_option_new(&opt);
    if (rc == 0) {
        nghttp2_option_set_no_auto_window_update(opt, 1); /* gw_h2_consume gives it back */
        rc = nghttp2_session_client_new2(&c->session, cb, c, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        free(c);
        return NULL;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
                                   {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    c->L = L;
    c->node = node;
    uv_tcp_init(L->loop, &c->tcp);
    uv_timer_init(L->loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->handles = 2;
    c->next = L->conns;
    if (L->conns) L->conns->prev = c;
    L->conns = c;
    int r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)addr, on_connect);
    if (r != 0) {
        /* the caller's stream is not on it yet: it fails through the timer at once */
        log_debug_limited("gateway grpc: connect to node %d: %s", node, uv_strerror(r));
        uv_timer_start(&c->timer, on_connect_timeout, 0, 0);
    } else {
        uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)L->connect_timeout_ms, 0);
    }
    return c;
}

gw_h2_stream *gw_h2_open(gw_h2_loop *L, int node, const struct sockaddr_storage *addr,
                         const char *method, const char *timeout, const grpc_mdlist *md,
                         const gw_h2_cb *cb, void *arg)
{
    if (L->closing || node < 0 || node >= GW_MAX_NODES) return NULL;
    gw_h2_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cb = cb;
    s->arg = arg;
    s->code = -1;
    snprintf(s->method, sizeof s->method, "%s", method);
    if (timeout) {
        s->has_timeout = 1;
        snprintf(s->timeout, sizeof s->timeout, "%s", timeout);
    }
    if (grpc_mdlist_copy(&s->md, md) != 0) { /* within the bounds: it came through them */
        stream_free(s);
        return NULL;
    }
    h2_conn *c = L->cur[node];
    if (c && (c->goaway || !nghttp2_session_check_request_allowed(c->session))) {
        L->cur[node] = NULL; /* retired: finishes its streams, then closes */
        c = NULL;
    }
    if (!c && !(c = L->cur[node] = conn_new(L, node, addr))) {
        stream_free(s);
        return NULL;
    }
    s->conn = c;
    s->next = c->streams;
    if (c->streams) c->streams->prev = s;
    c->streams = s;
    if (c->connected) {
        if (stream_submit(c, s) != 0) { /* no callback inside gw_h2_open: the caller sees NULL */
            stream_unlink(s);
            stream_free(s);
            return NULL;
        }
        conn_flush_soon(c);
    }
    return s;
}
