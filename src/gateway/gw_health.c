/* The control thread (gw_health.h): active checks and repository index reads over the
 * gateway's upstream client on a private loop, and DNS membership changes. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_dns.h"
#include "gw_health.h"
#include "gw_upstream.h"
#include "inferd/clock.h"
#include "inferd/log.h"

typedef struct gw_check {
    struct gw_health *h;
    int slot;
    struct sockaddr_storage addr;
    gw_uconn *c; /* the exchange in flight, or NULL */
    int stage;   /* 0: ready check, 1: repository index */
} gw_check;

struct gw_health {
    gw_nodes *nodes;
    gw_health_options o;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_async_t stop;
    uv_async_t refresh; /* gw_health_dns_refresh from other threads */
    _Atomic int stopping;
    gw_pool *pool;
    gw_dns *dns;
    gw_check checks[GW_MAX_NODES];
    pthread_t thread;
};

void gw_health_options_default(gw_health_options *o)
{
    memset(o, 0, sizeof *o);
    o->interval_ms = 1000;
    o->timeout_ms = 1000;
    o->dns_interval_ms = 5000;
}

static int64_t now_ms(void)
{
    return clock_now_ns() / 1000000;
}

static void on_check_done(void *arg, gw_upstream_result *res);

static void send_stage(gw_check *k)
{
    static const char ready[] = "GET /v2/health/ready HTTP/1.1\r\nHost: inferd\r\n\r\n";
    static const char index_head[] = "POST /v2/repository/index HTTP/1.1\r\nHost: inferd\r\n"
                                     "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n";
    static const char index_body[] = "{\"ready\": true}";
    const char *text = k->stage == 0 ? ready : index_head;
    char *head = strdup(text);
    k->c = head ? gw_upstream_send(k->h->pool, k->slot, (struct sockaddr *)&k->addr, head,
                                   strlen(head), k->stage ? index_body : NULL,
                                   k->stage ? sizeof index_body - 1 : 0, GW_UP_FRESH,
                                   k->h->o.timeout_ms, on_check_done, k)
                : NULL;
    if (!k->c && k->stage == 0) gw_nodes_check_result(k->h->nodes, k->slot, 0, now_ms());
}

/* The READY models of a repository index answer ([{"name", "state"}...]). */
static void read_index(gw_check *k, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return;
    }
    const char *names[GW_MAX_MODELS];
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(doc, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *state = json_string_value(json_object_get(m, "state"));
        if (name && (!state || strcmp(state, "READY") == 0) && n < GW_MAX_MODELS) names[n++] = name;
    }
    gw_nodes_set_models(k->h->nodes, k->slot, names, n);
    json_decref(doc);
}

static void on_check_done(void *arg, gw_upstream_result *res)
{
    gw_check *k = arg;
    k->c = NULL;
    if (k->stage == 0) {
        int ready = res->err == GW_UP_OK && res->status == 200;
        gw_nodes_check_result(k->h->nodes, k->slot, ready, now_ms());
        /* a refused or timed-out connect: the node may have moved; the resolver paces these */
        if (res->err == GW_UP_CONNECT && k->h->dns) gw_dns_refresh_now(k->h->dns);
        if (ready && !uv_is_closing((uv_handle_t *)&k->h->stop)) {
            k->stage = 1;
            send_stage(k);
        }
    } else if (res->err == GW_UP_OK && res->status == 200 && res->body) {
        read_index(k, res->body, res->body_len);
    }
    gw_upstream_result_free(res);
}

static void on_tick(uv_timer_t *t)
{
    gw_health *h = t->data;
    int slots[GW_MAX_NODES];
    static struct sockaddr_storage addrs[GW_MAX_NODES]; /* the control thread's alone */
    int n = gw_nodes_targets(h->nodes, slots, addrs, GW_MAX_NODES);
    for (int i = 0; i < n; i++) {
        gw_check *k = &h->checks[slots[i]];
        if (k->c) continue; /* the last one is still out (it has its own timeout) */
        k->h = h;
        k->slot = slots[i];
        k->addr = addrs[i];
        k->stage = 0;
        send_stage(k);
    }
}

/* ---- DNS membership ---- */
static void on_dns_change(void *ctx, const gw_dns_addr *addrs, size_t n)
{
    gw_health *h = ctx;
    size_t total = (size_t)h->o.n_static + n;
    gw_node_spec *specs = calloc(total ? total : 1, sizeof *specs);
    if (!specs) return;
    int k = 0;
    for (int i = 0; i < h->o.n_static; i++) specs[k++] = h->o.static_nodes[i];
    for (size_t i = 0; i < n && k < GW_MAX_NODES; i++) {
        snprintf(specs[k].name, sizeof specs[k].name, "%s", addrs[i].text);
        specs[k].addr = addrs[i].addr;
        specs[k].weight = 1;
        k++;
    }
    log_info("gateway: %s resolves to %zu nodes", h->o.dns_name, n);
    if (gw_nodes_set(h->nodes, specs, k, now_ms()) != 0)
        log_warn("gateway: node table full (%d nodes)", GW_MAX_NODES);
    free(specs);
    on_tick(&h->tick); /* check the new ones at once */
}

static void on_dns_error(void *ctx, const char *message)
{
    gw_health *h = ctx;
    log_warn_limited("gateway: resolving %s: %s", h->o.dns_name, message);
}

static void on_refresh(uv_async_t *a)
{
    gw_health *h = a->data;
    if (h->dns) gw_dns_refresh_now(h->dns);
}

void gw_health_dns_refresh(gw_health *h)
{
    if (h && h->o.dns_name && !atomic_load(&h->stopping)) uv_async_send(&h->refresh);
}

static void on_stop(uv_async_t *a)
{
    gw_health *h = a->data;
    uv_close((uv_handle_t *)&h->stop, NULL);
    uv_close((uv_handle_t *)&h->refresh, NULL);
    uv_close((uv_handle_t *)&h->tick, NULL);
    for (int i = 0; i < GW_MAX_NODES; i++) {
        gw_upstream_cancel(h->checks[i].c);
        h->checks[i].c = NULL;
    }
    gw_pool_close_idle(h->pool);
    if (h->dns) gw_dns_stop(h->dns);
    h->dns = NULL;
}

static void *health_thread(void *arg)
{
    gw_health *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
    return NULL;
}

int gw_health_start(gw_nodes *nodes, const gw_health_options *o, gw_health **out, char *err,
                    size_t err_len)
{
    gw_health *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    h->nodes = nodes;
    h->o = *o;
    gw_upstream_limits lim;
    gw_upstream_limits_default(&lim);
    lim.max_idle_per_node = 0;
    lim.connect_timeout_ms = o->timeout_ms;
    uv_loop_init(&h->loop);
    h->pool = gw_pool_new(&h->loop, &lim);
    uv_timer_init(&h->loop, &h->tick);
    uv_async_init(&h->loop, &h->stop, on_stop);
    uv_async_init(&h->loop, &h->refresh, on_refresh);
    atomic_init(&h->stopping, 0);
    h->tick.data = h->stop.data = h->refresh.data = h;
    if (o->dns_name) {
        gw_dns_config dc = {.name = o->dns_name,
                            .port = o->dns_port,
                            .srv = o->dns_srv != 0,
                            .interval_ms = (uint64_t)o->dns_interval_ms,
                            .server = o->dns_server,
                            .on_change = on_dns_change,
                            .on_error = on_dns_error,
                            .ctx = h};
        if (gw_dns_start(&h->loop, &dc, &h->dns, err, err_len) != 0) goto fail;
    }
    uv_timer_start(&h->tick, on_tick, 0, (uint64_t)o->interval_ms);
    if (!h->pool || pthread_create(&h->thread, NULL, health_thread, h) != 0) {
        snprintf(err, err_len, "cannot start the health thread");
        if (h->dns) gw_dns_stop(h->dns);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    uv_close((uv_handle_t *)&h->tick, NULL);
    uv_close((uv_handle_t *)&h->stop, NULL);
    uv_close((uv_handle_t *)&h->refresh, NULL);
    if (h->pool) gw_pool_free(h->pool);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
    free(h);
    return -1;
}

void gw_health_stop(gw_health *h)
{
    if (!h) return;
    atomic_store(&h->stopping, 1); /* no uv_async_send on refresh once it may be closed */
    uv_async_send(&h->stop);
    pthread_join(h->thread, NULL);
    gw_pool_free(h->pool);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&h->loop) != 0) log_warn("gateway: health loop still had handles");
    free(h);
}
