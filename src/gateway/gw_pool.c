/* The idle keep-alive connections to the nodes, per loop thread, per node: taken for an
 * exchange, given back after a complete keep-alive response, closed when the node closes
 * them, when the pool is full, and at shutdown. */
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
    if (c) gw_pool_unlink(c);
    return c;
}

void gw_pool_put(gw_uconn *c)
{
    gw_pool *p = c->pool;
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
