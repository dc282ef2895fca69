/* One HTTP/1.1 exchange with a node: connect (or reuse a pooled connection), write the
 * request, parse the response with http_parser, hand it to the caller, and pool or close
 * the connection. The pool itself is in gw_pool.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_upstream_internal.h"
#include "inferd/log.h"

const char *gw_upstream_err_name(int err)
{
    switch (err) {
    case GW_UP_OK: return "ok";
    case GW_UP_CONNECT: return "connect failed";
    case GW_UP_RESET: return "connection reset";
    case GW_UP_TIMEOUT: return "timed out";
    case GW_UP_PROTOCOL: return "bad response";
    case GW_UP_TOO_LARGE: return "response too large";
    default: return "?";
    }
}

void gw_upstream_limits_default(gw_upstream_limits *l)
{
    l->connect_timeout_ms = 1000;
    l->max_response_bytes = ((size_t)64 << 20) + ((size_t)1 << 20);
    l->max_header_bytes = 64 << 10;
    l->max_idle_per_node = 64;
    l->max_conns_per_node = 256;
    l->max_queue_per_node = 1024;
}

void gw_upstream_result_free(gw_upstream_result *r)
{
    free(r->content_type);
    free(r->headers);
    free(r->body);
    r->content_type = r->headers = r->body = NULL;
}

/* ---- closing --------------------------------------------------------------------------- */
static void on_handle_closed(uv_handle_t *h)
{
    gw_uconn *c = h->data;
    if (--c->handles_open > 0) return;
    gw_pool *p = c->pool;
    free(c->head);
    free(c->pend);
    free(c->out);
    http_buf_free(&c->hdrs);
    http_buf_free(&c->body);
    http_buf_free(&c->field);
    http_buf_free(&c->value);
    gw_upstream_result_free(&c->res);
    free(c);
    gw_pool_conn_gone(p);
}

void gw_uconn_close(gw_uconn *c)
{
    if (c->closing) return;
    c->closing = 1;
    c->cb = NULL;
    gw_pool_unlink(c);
    gw_pool_mark_free(c);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void gw_upstream_cancel(gw_uconn *c)
{
    if (c) gw_uconn_close(c);
}

/* Ends the exchange: pools or closes the connection, then tells the caller. */
static void finish(gw_uconn *c, int err)
{
    if (!c->cb) return;
    uv_timer_stop(&c->timer);
    gw_upstream_cb cb = c->cb;
    void *arg = c->arg;
    c->cb = NULL;
    gw_upstream_result res = c->res;
    memset(&c->res, 0, sizeof c->res);
    c->res.content_length = -1;
    res.err = err;
    res.got_bytes = c->got_bytes;
    res.reused = c->reused;
    if (err == GW_UP_OK) {
        res.status = c->parser.status_code;
        res.headers = http_buf_take(&c->hdrs, NULL);
        res.body = http_buf_take(&c->body, &res.body_len);
        if (!res.body) res.body_len = 0;
    } else {
        res.status = 0;
        gw_upstream_result_free(&res);
    }
    http_buf_free(&c->hdrs);
    http_buf_free(&c->body);
    int body_done = !c->streaming || (!c->body_left && !c->pend_len && !c->out_len);
    if (c->streaming && body_done) { /* pooled: give the buffers back */
        free(c->pend);
        free(c->out);
        c->pend = c->out = NULL;
        c->pend_cap = c->out_cap = 0;
        c->streaming = 0;
    }
    c->drain = NULL;
    if (err == GW_UP_OK && c->keep_alive && !c->writing && body_done) gw_pool_put(c);
    else gw_uconn_close(c);
    cb(arg, &res);
}

/* ---- the response parser ---------------------------------------------------------------- */
static int hop_by_hop(const char *name)
{
    static const char *names[] = {
        "connection", "keep-alive", "transfer-encoding", "content-length",   "content-type",
        "te",         "trailer",    "upgrade",           "proxy-connection", "proxy-authenticate",
        NULL};
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], name) == 0) return 1;
    return 0;
}

static int commit_header(gw_uconn *c)
{
    if (c->field.len == 0) return 0;
    http_buf_append(&c->field, "", 1);
    http_buf_append(&c->value, "", 1);
    if (c->field.oom || c->value.oom) return -1;
    const char *name = c->field.data, *value = c->value.data;
    if (strcasecmp(name, "content-type") == 0) {
        free(c->res.content_type);
        c->res.content_type = strdup(value);
        if (!c->res.content_type) return -1;
    } else if (!hop_by_hop(name) && !strchr(value, '\r') && !strchr(value, '\n')) {
        http_buf_printf(&c->hdrs, "%s: %s\r\n", name, value);
        if (c->hdrs.oom) return -1;
    }
    c->field.len = c->value.len = 0;
    return 0;
}

static int count_header_bytes(gw_uconn *c, size_t n)
{
    c->header_bytes += n;
    return c->header_bytes > c->pool->limits.max_header_bytes ? -1 : 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    gw_uconn *c = hp->data;
    if (count_header_bytes(c, n)) return -1;
    if (c->in_value && commit_header(c)) return -1;
    c->in_value = 0;
    http_buf_append(&c->field, at, n);
    return c->field.oom ? -1 : 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    gw_uconn *c = hp->data;
    if (count_header_bytes(c, n)) return -1;
    c->in_value = 1;
    http_buf_append(&c->value, at, n);
    return c->value.oom ? -1 : 0;
}

static int on_headers_complete(http_parser *hp)
{
    gw_uconn *c = hp->data;
    if (c->in_value && commit_header(c)) return -1;
    c->in_value = 0;
    c->res.content_length = hp->content_length != (uint64_t)-1 && hp->content_length <= INT64_MAX
                                ? (int64_t)hp->content_length
                                : -1;
    if (c->head_only) return 1; /* a HEAD response has no body, whatever it says */
    /* a response may announce its size: refuse a too-large one before reading it */
    if (hp->content_length != (uint64_t)-1 &&
        hp->content_length > (uint64_t)c->pool->limits.max_response_bytes) {
        c->too_large = 1;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    gw_uconn *c = hp->data;
    if (c->body.len + n > c->pool->limits.max_response_bytes) {
        c->too_large = 1;
        return -1;
    }
    http_buf_append(&c->body, at, n);
    return c->body.oom ? -1 : 0;
}

static int on_message_complete(http_parser *hp)
{
    gw_uconn *c = hp->data;
    c->complete = 1;
    c->keep_alive = http_should_keep_alive(hp);
    http_parser_pause(hp, 1); /* anything after the response is not ours */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- I/O ------------------------------------------------------------------------------ */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    gw_uconn *c = h->data;
    *buf = uv_buf_init(c->pool->scratch, sizeof c->pool->scratch);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    gw_uconn *c = s->data;
    if (nread == 0 || c->closing) return;
    if (!c->cb) { /* idle in the pool: the node closed it, or said something unasked */
        gw_uconn_close(c);
        return;
    }
    if (nread < 0) {
        /* a response that ends with the connection (no length) is complete at EOF */
        if (nread == UV_EOF && c->got_bytes)
            http_parser_execute(&c->parser, &parser_settings, NULL, 0);
        c->keep_alive = 0;
        finish(c, c->complete ? GW_UP_OK : GW_UP_RESET);
        return;
    }
    c->got_bytes = 1;
    size_t used = http_parser_execute(&c->parser, &parser_settings, buf->base, (size_t)nread);
    if (c->complete) {
        if (used < (size_t)nread) c->keep_alive = 0; /* bytes beyond the response */
        finish(c, GW_UP_OK);
        return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != (size_t)nread) {
        c->keep_alive = 0;
        finish(c, c->too_large ? GW_UP_TOO_LARGE : GW_UP_PROTOCOL);
    }
}

static void flush_stream(gw_uconn *c);

static void on_written(uv_write_t *w, int status)
{
    gw_uconn *c = w->data;
    c->writing = 0;
    free(c->head);
    c->head = NULL;
    c->out_len = 0;
    if (status < 0 && c->cb && !c->closing) {
        c->keep_alive = 0;
        finish(c, c->got_bytes && c->complete ? GW_UP_OK : GW_UP_RESET);
        return;
    }
    if (!c->streaming || c->closing) return;
    flush_stream(c);
    if (c->drain && c->cb) c->drain(c->arg); /* last: it may give more, or cancel c */
}

static void on_timeout(uv_timer_t *t)
{
    gw_uconn *c = t->data;
    if (c->fail_err) finish(c, c->fail_err); /* a failure noticed inside gw_upstream_send */
    else finish(c, c->connected ? GW_UP_TIMEOUT : GW_UP_CONNECT);
}

/* A write failed inside start_exchange: told from the loop, never from inside
 * gw_upstream_send. */
static void fail_soon(gw_uconn *c)
{
    c->keep_alive = 0;
    c->fail_err = GW_UP_RESET;
    uv_timer_start(&c->timer, on_timeout, 0, 0);
}

/* ---- a streamed body -------------------------------------------------------------------- */
/* Starts writing what pend holds, when connected and no write is in flight. */
static void flush_stream(gw_uconn *c)
{
    if (!c->connected || c->writing || c->closing || !c->pend_len) return;
    char *b = c->out; /* swap: pend's bytes go out, out's buffer collects the next ones */
    size_t cap = c->out_cap;
    c->out = c->pend;
    c->out_cap = c->pend_cap;
    c->out_len = c->pend_len;
    c->pend = b;
    c->pend_cap = cap;
    c->pend_len = 0;
    uv_buf_t buf = uv_buf_init(c->out, (unsigned)c->out_len);
    c->write_req.data = c;
    c->writing = 1;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
        c->writing = 0;
        fail_soon(c);
    }
}

int gw_upstream_body(gw_uconn *c, const char *data, size_t len)
{
    if (!c->streaming || c->closing || !c->cb || len > c->body_left) return -1;
    c->body_left -= len;
    if (c->connected && !c->writing && !c->pend_len && len) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && n != UV_EAGAIN) {
            fail_soon(c);
            return 0;
        }
    }
    if (!len) return 0;
    if (c->pend_len + len > c->pend_cap) {
        size_t cap = c->pend_len + len;
        char *nb = realloc(c->pend, cap);
        if (!nb) {
            fail_soon(c);
            return 0;
        }
        c->pend = nb;
        c->pend_cap = cap;
    }
    memcpy(c->pend + c->pend_len, data, len);
    c->pend_len += len;
    flush_stream(c);
    return 0;
}

size_t gw_upstream_unsent(const gw_uconn *c)
{
    return c->pend_len + c->out_len;
}

void gw_upstream_on_drain(gw_uconn *c, void (*fn)(void *arg))
{
    c->drain = fn;
}

/* Writes the request on a connected c and arms the exchange's timeout. */
static void start_exchange(gw_uconn *c)
{
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->complete = c->got_bytes = c->in_value = c->too_large = c->fail_err = 0;
    c->header_bytes = 0;
    c->keep_alive = 0;
    if (c->timeout_ms > 0) uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)c->head_len),
                        uv_buf_init((char *)c->body_ptr, (unsigned)c->body_len)};
    unsigned nb = c->body_len ? 2 : 1;
    /* One writev now, before queuing: libuv's uv_write re-arms the socket's epoll interest
     * (an epoll_ctl per request) even when everything is written at once. */
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (n >= 0) {
        size_t done = (size_t)n;
        while (nb && done >= bufs[0].len) { /* drop what went out */
            done -= bufs[0].len;
            bufs[0] = bufs[1];
            nb--;
        }
        if (nb) {
            bufs[0].base += done;
            bufs[0].len -= done;
        }
        if (nb == 0) {
            free(c->head);
            c->head = NULL;
            flush_stream(c); /* what a streamed body gave while connecting */
            return;
        }
    } else if (n != UV_EAGAIN) {
        fail_soon(c);
        return;
    }
    c->write_req.data = c;
    c->writing = 1;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, nb, on_written) < 0) {
        c->writing = 0;
        fail_soon(c);
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    gw_uconn *c = req->data;
    if (c->closing) return;
    uv_timer_stop(&c->timer);
    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        finish(c, GW_UP_CONNECT);
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    start_exchange(c);
}

static gw_uconn *uconn_connect(gw_pool *p, int node, const struct sockaddr *addr)
{
    gw_uconn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->pool = p;
    c->node = node;
    size_t alen =
        addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&c->addr, addr, alen);
    http_buf_init(&c->hdrs);
    http_buf_init(&c->body);
    http_buf_init(&c->field);
    http_buf_init(&c->value);
    if (uv_tcp_init(p->loop, &c->tcp) < 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(p->loop, &c->timer);
    c->tcp.data = c->timer.data = c->connect_req.data = c;
    c->handles_open = 2;
    gw_pool_conn_made(p);
    gw_pool_mark_busy(c);
    if (uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connected) < 0) {
        gw_uconn_close(c);
        return NULL;
    }
    int64_t ct = p->limits.connect_timeout_ms;
    uv_timer_start(&c->timer, on_timeout, (uint64_t)(ct > 0 ? ct : 1), 0);
    return c;
}

gw_uconn *gw_upstream_send(gw_pool *p, int node, const struct sockaddr *addr, char *head,
                           size_t head_len, const char *body, size_t body_len, int flags,
                           int64_t timeout_ms, gw_upstream_cb cb, void *arg)
{
    if (head_len > UINT32_MAX || body_len > UINT32_MAX) {
        free(head);
        return NULL;
    }
    gw_uconn *c = (flags & GW_UP_FRESH) ? NULL : gw_pool_take(p, node, addr);
    int reused = c != NULL;
    if (!c) c = uconn_connect(p, node, addr);
    if (!c) {
        free(head);
        return NULL;
    }
    c->cb = cb;
    c->arg = arg;
    c->head = head;
    c->head_len = head_len;
    c->streaming = (flags & GW_UP_STREAM) != 0;
    c->body_ptr = c->streaming ? NULL : body;
    c->body_len = c->streaming ? 0 : body_len;
    c->body_left = c->streaming ? body_len : 0;
    c->pend_len = c->out_len = 0;
    c->drain = NULL;
    c->head_only = (flags & GW_UP_HEAD_ONLY) != 0;
    c->timeout_ms = timeout_ms;
    c->reused = reused;
    memset(&c->res, 0, sizeof c->res);
    c->res.content_length = -1;
    if (reused) start_exchange(c); /* a new connection starts once connected */
    return c;
}
