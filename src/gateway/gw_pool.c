/* The idle keep-alive connections to the nodes, per loop thread, per node: taken for an
 * exchange, given back after a complete keep-alive response, closed when the node closes
 * them, when the pool is full, and at shutdown. Also the cap on active connections per node
 * and the queue of requests waiting for one (woken in arrival order). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gw_upstream_internal.h"

gw_pool *gw_pool_new(uv_loop_t *loop, const gw_upstream_limits *limits)
{
    gw_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->limits = *limits;
    return p;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) return 0;
    size_t n = b->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return memcmp(a, b, n) == 0;
}

void gw_pool_unlink(gw_uconn *c)
{
    if (!c->idle) return;
    gw_pool *p = c->pool;
    if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
    else p->idle[c->node] = c->idle_next;
    if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
    c->idle_next = c->idle_prev = NULL;
    c->idle = 0;
    p->n_idle[c->node]--;
}

gw_uconn *gw_pool_take(gw_pool *p, int node, const struct sockaddr *addr)
{
    if (node < 0 || node >= GW_POOL_MAX_NODES) return NULL;
    gw_uconn *c = p->idle[node];
    while (c && !same_addr(&c->addr, addr)) {
        gw_uconn *stale = c; /* the slot's address changed: not ours any more */
        c = c->idle_next;
        gw_uconn_close(stale);
    }
    if (c) {
        gw_pool_unlink(c);
        gw_pool_mark_busy(c);
    }
    return c;
}

static int node_ok(int node)
{
    return node >= 0 && node < GW_POOL_MAX_NODES;
}

void gw_pool_mark_busy(gw_uconn *c)
{
    if (c->busy || !node_ok(c->node)) return;
    c->busy = 1;
    c->pool->n_busy[c->node]++;
}

void gw_pool_mark_free(gw_uconn *c)
{
    if (!c->busy) return;
    gw_pool *p = c->pool;
    c->busy = 0;
    p->n_busy[c->node]--;
    gw_pool_waiter *w = p->wait_head[c->node];
    if (!w) return;
    gw_pool_wait_cancel(p, w);
    w->wake(w->arg);
}

int gw_pool_has_room(const gw_pool *p, int node)
{
    if (!node_ok(node)) return 1; /* not capped (gw_upstream_send refuses it anyway) */
    return p->idle[node] != NULL || p->n_busy[node] < p->limits.max_conns_per_node;
}

int gw_pool_wait(gw_pool *p, int node, gw_pool_waiter *w, int front)
{
    if (!node_ok(node) || p->closing ||
        (!front && p->n_waiting[node] >= p->limits.max_queue_per_node))
        return -1; /* one woken too late takes its place back even in a full queue */
    w->node = node;
    w->linked = 1;
    if (front) {
        w->prev = NULL;
        w->next = p->wait_head[node];
        if (w->next) w->next->prev = w;
        else p->wait_tail[node] = w;
        p->wait_head[node] = w;
    } else {
        w->next = NULL;
        w->prev = p->wait_tail[node];
        if (w->prev) w->prev->next = w;
        else p->wait_head[node] = w;
        p->wait_tail[node] = w;
    }
    p->n_waiting[node]++;
    return 0;
}

void gw_pool_wait_cancel(gw_pool *p, gw_pool_waiter *w)
{
    if (!w->linked) return;
    if (w->prev) w->prev->next = w->next;
    else p->wait_head[w->node] = w->next;
    if (w->next) w->next->prev = w->prev;
    else p->wait_tail[w->node] = w->prev;
    w->next = w->prev = NULL;
    w->linked = 0;
    p->n_waiting[w->node]--;
}

void gw_pool_kick(gw_pool *p, int node)
{
    if (!node_ok(node) || !p->wait_head[node] || !gw_pool_has_room(p, node)) return;
    gw_pool_waiter *w = p->wait_head[node];
    gw_pool_wait_cancel(p, w);
    w->wake(w->arg);
}

int gw_pool_busy_count(const gw_pool *p, int node)
{
    return node_ok(node) ? p->n_busy[node] : 0;
}

int gw_pool_waiting_count(const gw_pool *p, int node)
{
    return node_ok(node) ? p->n_waiting[node] : 0;
}

void gw_pool_put(gw_uconn *c)
{
    gw_pool *p = c->pool;
    gw_pool_mark_free(c);
    if (p->closing || c->node < 0 || c->node >= GW_POOL_MAX_NODES ||
        p->n_idle[c->node] >= p->limits.max_idle_per_node) {
        gw_uconn_close(c);
        return;
    }
    c->idle = 1;
    c->idle_prev = NULL;
    c->idle_next = p->idle[c->node];
    if (c->idle_next) c->idle_next->idle_prev = c;
    p->idle[c->node] = c;
    p->n_idle[c->node]++;
}

int gw_pool_idle_count(const gw_pool *p, int node)
{
    return node >= 0 && node < GW_POOL_MAX_NODES ? p->n_idle[node] : 0;
}

void gw_pool_close_idle(gw_pool *p)
{
    p->closing = 1;
    for (int i = 0; i < GW_POOL_MAX_NODES; i++)
        while (p->idle[i]) gw_uconn_close(p->idle[i]);
}

void gw_pool_conn_made(gw_pool *p)
{
    p->n_conns++;
}

void gw_pool_conn_gone(gw_pool *p)
{
    if (--p->n_conns == 0 && p->freeing) free(p);
}

void gw_pool_free(gw_pool *p)
{
    if (!p) return;
    gw_pool_close_idle(p);
    if (p->n_conns == 0) free(p);
    else p->freeing = 1;
}
