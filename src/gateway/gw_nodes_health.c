/* A node's health and speed: its circuit breaker (active checks and passive outlier
 * detection, gw_breaker) and its latency estimates (gw_latency), overall and per model.
 * Called with the table's lock held. */
#include <stdlib.h>
#include <string.h>

#include "gw_nodes_internal.h"
#include "inferd/log.h"

void gw_node_join(gw_nodes *t, gw_node *nd, int64_t now_ms)
{
    gw_breaker_join(&nd->br, &t->brset, (uint64_t)now_ms);
    nd->joined = 1;
}

void gw_node_leave(gw_nodes *t, gw_node *nd)
{
    gw_breaker_leave(&nd->br, &t->brset);
    nd->joined = 0;
    nd->checked_ready = 0;
    nd->checks = 0;
}

int gw_node_admits(gw_nodes *t, const gw_node *nd, int64_t now_ms)
{
    (void)t;
    /* a node that failed its last active check takes nothing, even before the breaker opens */
    if (nd->checks > 0 && !nd->checked_ready) return 0;
    return gw_breaker_can_send(&nd->br, (uint64_t)now_ms);
}

void gw_node_admitted(gw_nodes *t, gw_node *nd, int64_t now_ms)
{
    gw_breaker_on_send(&nd->br, &t->brset, (uint64_t)now_ms);
}

static gw_model_latency *model_latency(gw_node *nd, const char *model, int64_t now_ms, int make)
{
    if (!model || !model[0]) return NULL;
    for (int i = 0; i < nd->n_per_model; i++)
        if (strcmp(nd->per_model[i].model, model) == 0) return &nd->per_model[i];
    if (!make || nd->n_per_model >= GW_MAX_MODELS || strlen(model) >= GW_MODEL_LEN) return NULL;
    gw_model_latency *grown = realloc(nd->per_model, (size_t)(nd->n_per_model + 1) * sizeof *grown);
    if (!grown) return NULL;
    nd->per_model = grown;
    gw_model_latency *m = &grown[nd->n_per_model++];
    memset(m, 0, sizeof *m);
    strcpy(m->model, model);
    gw_latency_init(&m->lat, 0, 0, (uint64_t)now_ms);
    return m;
}

void gw_node_free_latency(gw_node *nd)
{
    free(nd->per_model);
    nd->per_model = NULL;
    nd->n_per_model = 0;
}

void gw_node_outcome(gw_nodes *t, gw_node *nd, const char *model, int outcome, int64_t latency_us,
                     int64_t now_ms)
{
    gw_breaker_state was = nd->br.state;
    gw_breaker_outcome o = outcome == GW_OUT_FAIL        ? GW_OUTCOME_FAIL
                           : outcome == GW_OUT_CANCELLED ? GW_OUTCOME_CANCELLED
                           : outcome == GW_OUT_OUTRUN    ? GW_OUTCOME_CANCELLED
                                                         : GW_OUTCOME_OK;
    gw_breaker_on_result(&nd->br, &t->brset, (uint64_t)now_ms, o);
    if (was != GW_BREAKER_OPEN && nd->br.state == GW_BREAKER_OPEN)
        log_warn("gateway: node %s ejected (%u consecutive failures; ejection %llu)", nd->spec.name,
                 t->brset.cfg.passive_fails_out, (unsigned long long)nd->br.ejections_total);
    if ((outcome == GW_OUT_OK || outcome == GW_OUT_OUTRUN) && latency_us >= 0) {
        gw_latency_add(&nd->lat, (uint64_t)now_ms, (uint64_t)latency_us);
        gw_latency_add(&nd->recent, (uint64_t)now_ms, (uint64_t)latency_us);
        gw_model_latency *ml = model_latency(nd, model, now_ms, 1);
        if (ml) gw_latency_add(&ml->lat, (uint64_t)now_ms, (uint64_t)latency_us);
    }
}

void gw_node_check(gw_nodes *t, gw_node *nd, int ready, int64_t now_ms)
{
    if (!nd->present) return;
    int was = nd->checks > 0 ? nd->checked_ready : -1;
    nd->checks++;
    nd->checked_ready = ready;
    gw_breaker_on_check(&nd->br, &t->brset, (uint64_t)now_ms, ready != 0);
    if (was != ready)
        log_info("gateway: node %s is %s", nd->spec.name, ready ? "ready" : "not ready");
}

#define GW_P95_REFRESH_MS 100 /* how stale a cached p95 may be for hedging */
#define GW_P95_UNKNOWN_MS \
    5 /* how long "not known yet" is believed: a burst that starts
                               * before the first samples must not go unhedged for 100 ms */

int64_t gw_node_p95_ms(gw_node *nd, const char *model, int64_t now_ms)
{
    gw_model_latency *ml = model_latency(nd, model, now_ms, 0);
    if (!ml) return 0;
    const int64_t max_age = ml->p95_us ? GW_P95_REFRESH_MS : GW_P95_UNKNOWN_MS;
    if (!ml->p95_read || now_ms - ml->p95_at_ms >= max_age) {
        ml->p95_us = gw_latency_quantile(&ml->lat, (uint64_t)now_ms, 0.95);
        ml->p95_at_ms = now_ms;
        ml->p95_read = 1;
    }
    return ml->p95_us ? (int64_t)((ml->p95_us + 999) / 1000) : 0;
}
