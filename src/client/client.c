/* The client: its request queue, the choice of connection for each request, the timeout scan
 * and the close sequence (include/inferd/client.h describes the states). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define CLIENT_MAX_CONNECTIONS 1024u
#define CLIENT_MAX_DEPTH 1024u
#define CLIENT_DEFAULT_MAX_BODY ((size_t)1 << 30)

void client_queue_push(client_queue *q, client_req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

client_req *client_queue_pop(client_queue *q)
{
    client_req *r = q->head;
    if (!r)
        return NULL;
    q->head = r->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    r->next = NULL;
    return r;
}

void client_req_release(client_req *r)
{
    if (r->done && !r->write_pending)
        free(r);
}

static void timer_update(inferd_client *c);

void client_req_finish(inferd_client *c, client_req *r, int err,
                       const inferd_client_response *resp)
{
    if (!r->done) {
        r->done = 1;
        c->pending--;
        r->cb(r->user, err, err ? NULL : resp);
    }
    client_req_release(r);
    if (!c->closing)
        timer_update(c);
}

static void client_free_if_done(inferd_client *c)
{
    if (!c->closing || c->handles_open > 0)
        return;
    void (*cb)(void *) = c->closed_cb;
    void *user = c->closed_user;
    free(c->conns);
    free(c);
    if (cb)
        cb(user);
}

void client_handle_closed(inferd_client *c)
{
    c->handles_open--;
    if (c->closing)
        client_free_if_done(c);
    else
        client_dispatch(c);
}

void client_dispatch(inferd_client *c)
{
    while (c->queued.head && !c->closing) {
        client_conn *best = NULL;
        for (unsigned i = 0; i < c->nconn; i++) {
            client_conn *conn = &c->conns[i];
            if (conn->state == CONN_CLOSING || conn->inflight.n >= c->depth)
                continue;
            if (!best || conn->inflight.n < best->inflight.n ||
                (conn->inflight.n == best->inflight.n && best->state == CONN_CLOSED &&
                 conn->state != CONN_CLOSED))
                best = conn;
        }
        if (!best)
            return;
        client_conn_assign(best, client_queue_pop(&c->queued));
    }
}

/* ---- timeouts ---- */

static int expired(const client_req *r, uint64_t now)
{
    return r->deadline_ms && now >= r->deadline_ms;
}

static void on_timer(uv_timer_t *t)
{
    inferd_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    /* queued ones: unlink the expired, keep the order of the rest */
    client_queue keep = {0};
    client_queue late = {0};
    client_req *r;
    while ((r = client_queue_pop(&c->queued)) != NULL)
        client_queue_push(expired(r, now) ? &late : &keep, r);
    c->queued = keep;
    for (unsigned i = 0; i < c->nconn; i++) {
        client_conn *conn = &c->conns[i];
        if (conn->state != CONN_OPEN && conn->state != CONN_CONNECTING)
            continue;
        int any = 0;
        for (client_req *q = conn->inflight.head; q; q = q->next)
            if (expired(q, now)) {
                q->err = INFERD_CLIENT_E_TIMEOUT;
                any = 1;
            }
        if (any)
            client_conn_fail(conn, INFERD_CLIENT_E_CONN);
    }
    while ((r = client_queue_pop(&late)) != NULL)
        client_req_finish(c, r, INFERD_CLIENT_E_TIMEOUT, NULL);
}

/* The scan runs only while requests with a deadline are outstanding, so an idle client
 * does not keep its loop alive. */
static void timer_update(inferd_client *c)
{
    if (!c->timeout_ms)
        return;
    if (c->pending > 0 && !c->timer_on) {
        uint64_t tick = c->timeout_ms / 10;
        tick = tick < 1 ? 1 : tick > 100 ? 100 : tick;
        uv_timer_start(&c->timer, on_timer, tick, tick);
        c->timer_on = 1;
    } else if (c->pending == 0 && c->timer_on) {
        uv_timer_stop(&c->timer);
        c->timer_on = 0;
    }
}

/* ---- public ---- */

int inferd_client_new(uv_loop_t *loop, const inferd_client_options *o, inferd_client **out,
                      char *err, size_t err_len)
{
    *out = NULL;
    char host[256];
    uint16_t port;
    int rc = inferd_client_parse_url(o->url, host, sizeof host, &port, err, err_len);
    if (rc != 0)
        return rc;
    unsigned nconn = o->connections ? o->connections : 1;
    unsigned depth = o->pipeline_depth ? o->pipeline_depth : 1;
    if (nconn > CLIENT_MAX_CONNECTIONS || depth > CLIENT_MAX_DEPTH) {
        snprintf(err, err_len, "connections and pipeline depth must be 1..%u",
                 CLIENT_MAX_CONNECTIONS);
        return INFERD_CLIENT_E_INVALID;
    }
    char port_s[8];
    snprintf(port_s, sizeof port_s, "%u", (unsigned)port);
    uv_getaddrinfo_t gai;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (uv_getaddrinfo(loop, &gai, NULL, host, port_s, &hints) != 0 || !gai.addrinfo) {
        snprintf(err, err_len, "cannot resolve host '%s'", host);
        return INFERD_CLIENT_E_RESOLVE;
    }
    inferd_client *c = calloc(1, sizeof *c);
    client_conn *conns = calloc(nconn, sizeof *conns);
    if (!c || !conns) {
        free(c);
        free(conns);
        uv_freeaddrinfo(gai.addrinfo);
        snprintf(err, err_len, "out of memory");
        return INFERD_CLIENT_E_NOMEM;
    }
    memcpy(&c->addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
    uv_freeaddrinfo(gai.addrinfo);
    snprintf(c->host_header, sizeof c->host_header, "%s:%u", host, (unsigned)port);
    c->loop = loop;
    c->nconn = nconn;
    c->depth = depth;
    c->timeout_ms = o->timeout_ms;
    c->max_body = o->max_body_bytes ? o->max_body_bytes : CLIENT_DEFAULT_MAX_BODY;
    c->conns = conns;
    for (unsigned i = 0; i < nconn; i++)
        conns[i].client = c;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 1;
    *out = c;
    return 0;
}

int inferd_client_send(inferd_client *c, const char *method, const char *path,
                       const char *content_type, long long json_len, const void *body,
                       size_t body_len, inferd_client_cb cb, void *user)
{
    if (c->closing)
        return INFERD_CLIENT_E_CLOSED;
    if (!cb || !method || !path || path[0] != '/' || (body_len && !body) ||
        body_len > UINT32_MAX || json_len > (long long)body_len)
        return INFERD_CLIENT_E_INVALID;
    client_req *r = calloc(1, sizeof *r);
    if (!r)
        return INFERD_CLIENT_E_NOMEM;
    int n = snprintf(r->head, sizeof r->head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n",
                     method, path, c->host_header, body_len);
    if (n > 0 && (size_t)n < sizeof r->head && content_type)
        n += snprintf(r->head + n, sizeof r->head - (size_t)n, "Content-Type: %s\r\n",
                      content_type);
    if (n > 0 && (size_t)n < sizeof r->head && json_len >= 0)
        n += snprintf(r->head + n, sizeof r->head - (size_t)n,
                      "Inference-Header-Content-Length: %lld\r\n", json_len);
    if (n > 0 && (size_t)n < sizeof r->head)
        n += snprintf(r->head + n, sizeof r->head - (size_t)n, "\r\n");
    if (n <= 0 || (size_t)n >= sizeof r->head) {
        free(r);
        return INFERD_CLIENT_E_INVALID; /* path too long */
    }
    r->head_len = (size_t)n;
    r->body = body;
    r->body_len = body_len;
    r->cb = cb;
    r->user = user;
    r->deadline_ms = c->timeout_ms ? uv_now(c->loop) + c->timeout_ms : 0;
    client_queue_push(&c->queued, r);
    c->pending++;
    timer_update(c);
    client_dispatch(c);
    return 0;
}

size_t inferd_client_pending(const inferd_client *c)
{
    return c->pending;
}

static void on_timer_closed(uv_handle_t *h)
{
    client_handle_closed(h->data);
}

void inferd_client_close(inferd_client *c, void (*closed_cb)(void *), void *user)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->closed_cb = closed_cb;
    c->closed_user = user;
    client_req *r;
    while ((r = client_queue_pop(&c->queued)) != NULL)
        client_req_finish(c, r, INFERD_CLIENT_E_CLOSED, NULL);
    for (unsigned i = 0; i < c->nconn; i++)
        client_conn_fail(&c->conns[i], INFERD_CLIENT_E_CLOSED);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
