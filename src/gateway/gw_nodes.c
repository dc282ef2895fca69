/* The node table (gw_nodes.h): slots, membership, health and the routing glue over the
 * ring, alias, breaker, latency and budget modules. One mutex; picks hold it for one walk. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw_nodes_internal.h"

void gw_nodes_options_default(gw_nodes_options *o)
{
    o->balance_factor = 1.25;
    o->vnodes = 160;
    o->fail_threshold = 2;
    o->success_threshold = 2;
    o->outlier_consecutive = 5;
    o->ejection_base_ms = 30000;
    o->ejection_max_ms = 300000;
    o->hedge_ratio = 0.05;
    o->retry_ratio = 0.2;
    o->retry_min = 3;
}

gw_nodes *gw_nodes_new(const gw_nodes_options *o)
{
    gw_nodes *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->opts = *o;
    pthread_mutex_init(&t->lock, NULL);
    gw_breaker_config bc;
    gw_breaker_config_default(&bc);
    bc.active_fails_out = (uint32_t)o->fail_threshold;
    bc.active_passes_in = (uint32_t)o->success_threshold;
    bc.passive_fails_out = (uint32_t)o->outlier_consecutive;
    bc.base_ejection_ms = (uint64_t)o->ejection_base_ms;
    bc.max_ejection_ms = (uint64_t)o->ejection_max_ms;
    gw_breaker_set_init(&t->brset, &bc);
    gw_retry_budget_init(&t->retry, (uint32_t)(o->retry_ratio * 100 + 0.5), (uint32_t)o->retry_min);
    gw_hedge_bucket_init(&t->hedge, (uint32_t)(o->hedge_ratio * 1000 + 0.5), GW_HEDGE_CAP_DEFAULT);
    return t;
}

void gw_nodes_free(gw_nodes *t)
{
    if (!t) return;
    gw_ring_free(t->ring);
    gw_alias_free(t->alias);
    for (int i = 0; i < t->n_slots; i++) {
        gw_node_free_models(&t->slot[i]);
        gw_node_free_latency(&t->slot[i]);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static size_t addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return a->ss_family == b->ss_family && memcmp(a, b, addr_len(a)) == 0;
}

int gw_nodes_set(gw_nodes *t, const gw_node_spec *specs, int n, int64_t now_ms)
{
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    int want[GW_MAX_NODES] = {0};
    for (int k = 0; k < n; k++) {
        int found = -1;
        for (int i = 0; i < t->n_slots && found < 0; i++)
            if (same_addr(&t->slot[i].spec.addr, &specs[k].addr)) found = i;
        if (found < 0) {
            if (t->n_slots == GW_MAX_NODES) {
                rc = -1;
                continue;
            }
            found = t->n_slots++;
            gw_node *nd = &t->slot[found];
            memset(nd, 0, sizeof *nd);
            atomic_init(&nd->in_flight, 0);
            gw_latency_init(&nd->lat, 0, 0, (uint64_t)now_ms);
            gw_latency_init(&nd->recent, GW_ROUTE_HALF_LIFE_MS, 0, (uint64_t)now_ms);
        }
        gw_node *nd = &t->slot[found];
        nd->spec = specs[k];
        if (nd->spec.weight == 0) nd->spec.weight = 1;
        want[found] = 1;
    }
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *nd = &t->slot[i];
        nd->present = want[i];
        if (want[i] && !nd->joined) gw_node_join(t, nd, now_ms);
        if (!want[i] && nd->joined) gw_node_leave(t, nd);
    }
    t->generation++;
    gw_route_rebuild(t);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* A node can take a request for model now: present, serving it, admitted by its breaker. */
int gw_node_accepts(gw_nodes *t, int i, const char *model, int64_t now_ms)
{
    gw_node *nd = &t->slot[i];
    if (!nd->present) return 0;
    if (model && model[0] && nd->models_known) {
        int serves = 0;
        for (int k = 0; k < nd->n_models && !serves; k++)
            serves = strcmp(nd->models[k], model) == 0;
        if (!serves) return 0;
    }
    return gw_node_admits(t, nd, now_ms);
}

int gw_nodes_pick(gw_nodes *t, const char *model, int keyed, uint64_t key, uint64_t u,
                  const gw_node_set *tried, int64_t now_ms, gw_pick *out)
{
    pthread_mutex_lock(&t->lock);
    int i = gw_route_pick(t, model, keyed, key, u, tried, now_ms);
    if (i >= 0) {
        gw_node *nd = &t->slot[i];
        gw_node_admitted(t, nd, now_ms);
        atomic_fetch_add(&nd->in_flight, 1);
        nd->requests++;
        out->node = i;
        out->addr = nd->spec.addr;
        out->hedge_ms = gw_node_hedge_ms(t, nd, model, now_ms);
    }
    pthread_mutex_unlock(&t->lock);
    return i >= 0 ? 0 : -1;
}

void gw_nodes_done(gw_nodes *t, int node, const char *model, int outcome, int64_t latency_us,
                   int64_t now_ms)
{
    if (node < 0 || node >= GW_MAX_NODES) return;
    pthread_mutex_lock(&t->lock);
    gw_node *nd = &t->slot[node];
    atomic_fetch_sub(&nd->in_flight, 1);
    if (outcome == GW_OUT_FAIL) nd->failures++;
    gw_node_outcome(t, nd, model, outcome, latency_us, now_ms);
    pthread_mutex_unlock(&t->lock);
}

void gw_nodes_note(gw_nodes *t, int node, int note)
{
    if (node < 0 || node >= GW_MAX_NODES) return;
    pthread_mutex_lock(&t->lock);
    gw_node *nd = &t->slot[node];
    if (note == GW_NOTE_RETRY) nd->retries++;
    else if (note == GW_NOTE_HEDGE) nd->hedges++;
    else if (note == GW_NOTE_HEDGE_WON) nd->hedges_won++;
    pthread_mutex_unlock(&t->lock);
}

int gw_nodes_usable(gw_nodes *t, int node, int64_t now_ms)
{
    if (node < 0 || node >= GW_MAX_NODES) return 0;
    pthread_mutex_lock(&t->lock);
    gw_node *nd = &t->slot[node];
    int ok = nd->present && !(nd->checks > 0 && !nd->checked_ready) &&
             gw_breaker_state_at(&nd->br, (uint64_t)now_ms) != GW_BREAKER_OPEN;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

int gw_nodes_targets(gw_nodes *t, int *slots, struct sockaddr_storage *addrs, int max)
{
    int n = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_slots && n < max; i++) {
        if (!t->slot[i].present) continue;
        slots[n] = i;
        addrs[n] = t->slot[i].spec.addr;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

void gw_nodes_check_result(gw_nodes *t, int node, int ready, int64_t now_ms)
{
    if (node < 0 || node >= GW_MAX_NODES) return;
    pthread_mutex_lock(&t->lock);
    gw_node_check(t, &t->slot[node], ready, now_ms);
    pthread_mutex_unlock(&t->lock);
}

void gw_node_free_models(gw_node *nd)
{
    for (int k = 0; k < nd->n_models; k++) free(nd->models[k]);
    nd->n_models = 0;
}

void gw_nodes_set_models(gw_nodes *t, int node, const char *const *names, int n)
{
    if (node < 0 || node >= GW_MAX_NODES) return;
    if (n > GW_MAX_MODELS) n = GW_MAX_MODELS;
    char *copy[GW_MAX_MODELS];
    int m = 0;
    for (int k = 0; k < n; k++)
        if ((copy[m] = strdup(names[k]))) m++;
    pthread_mutex_lock(&t->lock);
    gw_node *nd = &t->slot[node];
    gw_node_free_models(nd);
    memcpy(nd->models, copy, (size_t)m * sizeof copy[0]);
    nd->n_models = m;
    nd->models_known = 1;
    pthread_mutex_unlock(&t->lock);
}

int gw_nodes_any_ready(gw_nodes *t, int64_t now_ms)
{
    int any = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_slots && !any; i++)
        any = t->slot[i].present && t->slot[i].checked_ready &&
              gw_node_admits(t, &t->slot[i], now_ms);
    pthread_mutex_unlock(&t->lock);
    return any;
}

/* ---- requests in the gateway: retry budget and hedge tokens (lock-free) ------------- */
void gw_nodes_request_begin(gw_nodes *t)
{
    gw_retry_budget_request_begin(&t->retry);
    gw_hedge_bucket_earn(&t->hedge);
}

void gw_nodes_request_end(gw_nodes *t)
{
    gw_retry_budget_request_end(&t->retry);
}

int gw_nodes_retry_acquire(gw_nodes *t)
{
    if (gw_retry_budget_retry_begin(&t->retry)) return 1;
    atomic_fetch_add(&t->retries_refused, 1);
    return 0;
}

void gw_nodes_retry_release(gw_nodes *t)
{
    gw_retry_budget_retry_end(&t->retry);
}

int gw_nodes_hedge_acquire(gw_nodes *t)
{
    return t->opts.hedge_ratio > 0 && gw_hedge_bucket_spend(&t->hedge);
}
