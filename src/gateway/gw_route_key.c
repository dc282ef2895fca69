/* What a request path says for routing: the model it names, whether it is an inference, and
 * the routing key (Inferd-Routing-Key, else model + xxh3 of the body, so repeats meet the
 * node that has them cached). Pure functions. */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "gw_proxy.h"

void gw_route_model(const char *path, char *model, size_t len, int *is_infer)
{
    model[0] = '\0';
    *is_infer = 0;
    if (strcmp(path, "/process") == 0) {
        snprintf(model, len, "reverse"); /* the node runs /process on its reverse model */
        *is_infer = 1;
        return;
    }
    static const char prefix[] = "/v2/models/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) return;
    const char *m = path + sizeof prefix - 1;
    size_t n = strcspn(m, "/");
    if (n == 0 || n >= len) return; /* "/v2/models/stats" names no model either */
    if (n == 5 && strncmp(m, "stats", 5) == 0 && m[5] == '\0') return;
    memcpy(model, m, n);
    model[n] = '\0';
    const char *rest = m + n;
    size_t rl = strlen(rest);
    *is_infer = rl >= 6 && strcmp(rest + rl - 6, "/infer") == 0;
}

uint64_t gw_route_key(const char *routing_key, const char *model, const char *body,
                      size_t body_len)
{
    if (routing_key) return XXH3_64bits(routing_key, strlen(routing_key));
    return XXH3_64bits_withSeed(body, body_len, XXH3_64bits(model, strlen(model)));
}
