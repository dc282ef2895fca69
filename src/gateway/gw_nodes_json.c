/* GET /gateway/nodes: the node table as JSON, so an operator sees routing at a glance. */
#include <stdlib.h>
#include <string.h>

#include "gw_nodes_internal.h"
#include "inferd/http_buf.h"

char *gw_nodes_json(gw_nodes *t, int64_t now_ms, size_t *len)
{
    http_buf b;
    http_buf_init(&b);
    pthread_mutex_lock(&t->lock);
    http_buf_puts(&b, "{\"nodes\": [");
    int first = 1;
    for (int i = 0; i < t->n_slots; i++) {
        gw_node *nd = &t->slot[i];
        if (!nd->present && nd->requests == 0) continue;
        http_buf_puts(&b, first ? "\n  {\"address\": " : ",\n  {\"address\": ");
        first = 0;
        http_buf_json_string(&b, nd->spec.name, strlen(nd->spec.name));
        uint64_t p50 = gw_latency_quantile(&nd->lat, (uint64_t)now_ms, 0.5);
        uint64_t p99 = gw_latency_quantile(&nd->lat, (uint64_t)now_ms, 0.99);
        http_buf_printf(&b,
                        ", \"weight\": %u, \"present\": %s, \"ready\": %s, \"breaker\": \"%s\", "
                        "\"ejections\": %llu, \"in_flight\": %d, \"requests\": %llu, "
                        "\"failures\": %llu, \"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f}, "
                        "\"models\": ",
                        nd->spec.weight, nd->present ? "true" : "false",
                        nd->checked_ready ? "true" : "false",
                        gw_breaker_state_name(gw_breaker_state_at(&nd->br, (uint64_t)now_ms)),
                        (unsigned long long)nd->br.ejections_total, atomic_load(&nd->in_flight),
                        (unsigned long long)nd->requests, (unsigned long long)nd->failures,
                        (double)p50 / 1000.0, (double)p99 / 1000.0);
        if (!nd->models_known) {
            http_buf_puts(&b, "null}");
            continue;
        }
        http_buf_puts(&b, "[");
        for (int k = 0; k < nd->n_models; k++) {
            if (k) http_buf_puts(&b, ", ");
            http_buf_json_string(&b, nd->models[k], strlen(nd->models[k]));
        }
        http_buf_puts(&b, "]}");
    }
    http_buf_puts(&b, first ? "]}" : "\n]}");
    pthread_mutex_unlock(&t->lock);
    return http_buf_take(&b, len);
}
