/* One client connection: connect, write pipelined requests, parse answers with http_parser
 * and hand each to the oldest request in flight; any failure closes the connection and fails
 * what it held. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_buf.h"
#include "client_internal.h"

static const char IHCL[] = "inference-header-content-length";

static void on_close(uv_handle_t *h)
{
    client_conn *conn = h->data;
    inferd_client *c = conn->client;
    conn->state = CONN_CLOSED;
    free(conn->body);
    conn->body = NULL;
    conn->body_len = conn->body_cap = 0;
    client_req *r;
    while ((r = client_queue_pop(&conn->inflight)) != NULL)
        client_req_finish(c, r, r->err ? r->err : conn->err, NULL);
    client_handle_closed(c);
}

void client_conn_fail(client_conn *conn, int err)
{
    if (conn->state == CONN_CLOSED || conn->state == CONN_CLOSING)
        return;
    int was_open = conn->state == CONN_OPEN;
    conn->state = CONN_CLOSING;
    conn->err = err;
    if (was_open)
        uv_read_stop((uv_stream_t *)&conn->tcp);
    uv_close((uv_handle_t *)&conn->tcp, on_close);
}

/* ---- http_parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    client_conn *conn = p->data;
    conn->body_len = 0;
    conn->hfield_len = 0;
    conn->in_value = 0;
    conn->ihcl_seen = conn->ihcl_bad = 0;
    conn->ihcl_len = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    client_conn *conn = p->data;
    if (conn->in_value) {
        conn->in_value = 0;
        conn->hfield_len = 0;
    }
    if (conn->hfield_len + len < sizeof conn->hfield) {
        memcpy(conn->hfield + conn->hfield_len, at, len);
        conn->hfield_len += len;
    } else {
        conn->hfield_len = sizeof conn->hfield; /* too long to be one we read */
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    client_conn *conn = p->data;
    if (!conn->in_value) {
        conn->in_value = 1;
        conn->field_is_ihcl = conn->hfield_len == sizeof IHCL - 1 &&
                              strncasecmp(conn->hfield, IHCL, sizeof IHCL - 1) == 0;
        if (conn->field_is_ihcl) {
            conn->ihcl_bad |= conn->ihcl_seen; /* twice */
            conn->ihcl_seen = 1;
            conn->ihcl_len = 0;
        }
    }
    if (conn->field_is_ihcl) {
        if (conn->ihcl_len + len >= sizeof conn->ihcl) {
            conn->ihcl_bad = 1;
        } else {
            memcpy(conn->ihcl + conn->ihcl_len, at, len);
            conn->ihcl_len += len;
        }
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    client_conn *conn = p->data;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > conn->client->max_body) {
        conn->err = INFERD_CLIENT_E_TOO_LARGE;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    client_conn *conn = p->data;
    size_t max = conn->client->max_body;
    if (len > max - conn->body_len) {
        conn->err = INFERD_CLIENT_E_TOO_LARGE;
        return -1;
    }
    void *b = conn->body;
    if (client_buf_reserve(&b, &conn->body_cap, conn->body_len + len + 1) != 0) {
        conn->err = INFERD_CLIENT_E_NOMEM;
        return -1;
    }
    conn->body = b;
    memcpy(conn->body + conn->body_len, at, len);
    conn->body_len += len;
    return 0;
}

/* Inference-Header-Content-Length: a decimal number no larger than the body. */
static int parse_ihcl(client_conn *conn, size_t *out)
{
    if (!conn->ihcl_seen) {
        *out = conn->body_len;
        return 0;
    }
    if (conn->ihcl_bad || conn->ihcl_len == 0)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < conn->ihcl_len; i++) {
        char ch = conn->ihcl[i];
        if (ch < '0' || ch > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(ch - '0');
    }
    if (v > conn->body_len)
        return -1;
    *out = v;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    client_conn *conn = p->data;
    inferd_client *c = conn->client;
    client_req *r = client_queue_pop(&conn->inflight);
    if (!r) { /* an answer nobody asked for */
        conn->err = INFERD_CLIENT_E_PROTOCOL;
        return -1;
    }
    inferd_client_response resp = {.status = (int)p->status_code};
    if (!conn->body && on_body(p, "", 0) != 0) {
        client_req_finish(c, r, INFERD_CLIENT_E_NOMEM, NULL);
        return -1;
    }
    conn->body[conn->body_len] = '\0';
    resp.body = conn->body;
    resp.body_len = conn->body_len;
    if (parse_ihcl(conn, &resp.json_len) != 0) {
        client_req_finish(c, r, INFERD_CLIENT_E_PROTOCOL, NULL);
        conn->err = INFERD_CLIENT_E_PROTOCOL;
        return -1;
    }
    int keep = http_should_keep_alive(p);
    client_req_finish(c, r, 0, &resp);
    if (conn->state != CONN_OPEN) /* the callback closed the client */
        return -1;
    if (!keep) {
        conn->err = INFERD_CLIENT_E_CONN;
        return -1;
    }
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- libuv callbacks ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client_conn *conn = h->data;
    *buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client_conn *conn = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        client_conn_fail(conn, INFERD_CLIENT_E_CONN);
        return;
    }
    conn->err = 0;
    size_t done = http_parser_execute(&conn->parser, &parser_settings, buf->base, (size_t)nread);
    if (conn->state != CONN_OPEN)
        return;
    if (done != (size_t)nread || HTTP_PARSER_ERRNO(&conn->parser) != HPE_OK) {
        client_conn_fail(conn, conn->err ? conn->err : INFERD_CLIENT_E_PROTOCOL);
        return;
    }
    client_dispatch(conn->client);
}

static void on_write(uv_write_t *w, int status)
{
    client_req *r = w->data;
    client_conn *conn = w->handle->data;
    r->write_pending = 0;
    if (status < 0)
        client_conn_fail(conn, INFERD_CLIENT_E_CONN);
    client_req_release(r);
}

static void conn_write(client_conn *conn, client_req *r)
{
    uv_buf_t bufs[2] = {uv_buf_init(r->head, (unsigned)r->head_len),
                        uv_buf_init((char *)r->body, (unsigned)r->body_len)};
    r->write.data = r;
    r->written = 1;
    if (uv_write(&r->write, (uv_stream_t *)&conn->tcp, bufs, r->body_len ? 2 : 1, on_write) !=
        0) {
        client_conn_fail(conn, INFERD_CLIENT_E_CONN);
        return;
    }
    r->write_pending = 1;
}

static void on_connect(uv_connect_t *req, int status)
{
    client_conn *conn = req->data;
    if (conn->state != CONN_CONNECTING)
        return; /* closing: on_close fails the requests */
    if (status < 0) {
        client_conn_fail(conn, INFERD_CLIENT_E_CONNECT);
        return;
    }
    conn->state = CONN_OPEN;
    uv_tcp_nodelay(&conn->tcp, 1);
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
        client_conn_fail(conn, INFERD_CLIENT_E_CONN);
        return;
    }
    for (client_req *r = conn->inflight.head; r && conn->state == CONN_OPEN; r = r->next)
        if (!r->written)
            conn_write(conn, r);
}

static int conn_open(client_conn *conn)
{
    inferd_client *c = conn->client;
    if (uv_tcp_init(c->loop, &conn->tcp) != 0)
        return INFERD_CLIENT_E_CONN;
    conn->tcp.data = conn;
    c->handles_open++;
    conn->state = CONN_CONNECTING;
    conn->err = 0;
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    conn->connect.data = conn;
    if (uv_tcp_connect(&conn->connect, &conn->tcp, (const struct sockaddr *)&c->addr,
                       on_connect) != 0) {
        client_conn_fail(conn, INFERD_CLIENT_E_CONNECT);
        return INFERD_CLIENT_E_CONNECT;
    }
    return 0;
}

void client_conn_assign(client_conn *conn, client_req *r)
{
    client_queue_push(&conn->inflight, r);
    if (conn->state == CONN_CLOSED) {
        conn_open(conn); /* a failure closes conn, which fails r later */
        return;
    }
    if (conn->state == CONN_OPEN)
        conn_write(conn, r);
}
