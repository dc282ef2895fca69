/* Request routing: splits the path, finds the route and the model, and answers 404/405
 * (with Allow) for anything that does not match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

#define MAX_SEGMENTS 8
#define PATH_MAX_LEN 2048

typedef struct path_parts {
    int n;
    char *seg[MAX_SEGMENTS];
} path_parts;

/* Splits "/a/b/c" (the path, without the query) into segments (in place in buf). Returns -1
 * if too many or too long. */
static int split_path(const char *path, char *buf, size_t buf_len, path_parts *pp)
{
    size_t n = strlen(path);
    if (n >= buf_len) return -1;
    memcpy(buf, path, n);
    buf[n] = '\0';
    pp->n = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (pp->n == MAX_SEGMENTS) return -1;
        pp->seg[pp->n++] = s;
    }
    return 0;
}

static int is(const path_parts *pp, int i, const char *s)
{
    return i < pp->n && strcmp(pp->seg[i], s) == 0;
}

int routes_method_ok(http_exchange *ex, const char *allow)
{
    int m = http_ex_method(ex);
    int want_post = strcmp(allow, "POST") == 0;
    if (want_post ? m == HTTP_KIND_POST : (m == HTTP_KIND_GET || m == HTTP_KIND_HEAD)) return 1;
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", want_post ? "POST" : "GET, HEAD");
    http_ex_error(ex, 405, hdr, "method %s is not allowed on %s (allowed: %s)",
                  http_ex_method_name(ex), http_ex_path(ex), want_post ? "POST" : "GET, HEAD");
    return 0;
}

static int find_model(http_exchange *ex, routes_ctx *ctx, const char *name)
{
    int m = sched_find_model(ctx->sched, name);
    if (m < 0) http_ex_error(ex, 404, "", "unknown model '%.64s'", name);
    return m;
}

void routes_handle(http_exchange *ex, void *vctx)
{
    routes_ctx *ctx = vctx;
    char buf[PATH_MAX_LEN];
    path_parts pp;
    if (split_path(http_ex_path(ex), buf, sizeof buf, &pp) != 0) {
        http_ex_error(ex, 404, "", "no such route");
        return;
    }
    if (pp.n == 1 && is(&pp, 0, "process")) {
        if (routes_method_ok(ex, "POST")) routes_process(ex, ctx);
        return;
    }
    if (pp.n == 0 || !is(&pp, 0, "v2")) goto not_found;
    if (pp.n == 1) {
        if (routes_method_ok(ex, "GET")) routes_server_metadata(ex, ctx);
        return;
    }
    if (pp.n == 3 && is(&pp, 1, "health")) {
        if (is(&pp, 2, "live")) {
            if (routes_method_ok(ex, "GET")) routes_health_live(ex, ctx);
            return;
        }
        if (is(&pp, 2, "ready")) {
            if (routes_method_ok(ex, "GET")) routes_health_ready(ex, ctx);
            return;
        }
        goto not_found;
    }
    if (is(&pp, 1, "systemsharedmemory")) {
        /* /v2/systemsharedmemory[/region/{name}]/{status|register|unregister} */
        if (pp.n == 3) {
            routes_system_shm(ex, ctx, NULL, pp.seg[2]);
            return;
        }
        if (pp.n == 5 && is(&pp, 2, "region")) {
            routes_system_shm(ex, ctx, pp.seg[3], pp.seg[4]);
            return;
        }
        goto not_found;
    }
    if (pp.n == 3 && is(&pp, 1, "models") && is(&pp, 2, "stats")) {
        if (routes_method_ok(ex, "GET")) routes_model_stats(ex, ctx, -1);
        return;
    }
    if (pp.n >= 3 && is(&pp, 1, "models")) {
        /* /v2/models/{m}[/versions/{v}][/ready|/infer|/stats] */
        int i = 3;
        const char *version = NULL;
        if (is(&pp, 3, "versions")) {
            if (pp.n < 5) goto not_found;
            version = pp.seg[4];
            i = 5;
        }
        const char *action = i < pp.n ? pp.seg[i] : NULL;
        if (i + (action ? 1 : 0) != pp.n) goto not_found;
        if (action && strcmp(action, "ready") != 0 && strcmp(action, "infer") != 0 &&
            strcmp(action, "stats") != 0)
            goto not_found;
        int is_infer = action && strcmp(action, "infer") == 0;
        if (!routes_method_ok(ex, is_infer ? "POST" : "GET")) return;
        int m = find_model(ex, ctx, pp.seg[2]);
        if (m < 0) return;
        if (version) {
            char have[16];
            const model_config *mc = sched_model(ctx->sched, m);
            snprintf(have, sizeof have, "%d", mc->version > 0 ? mc->version : 1);
            if (strcmp(version, have) != 0) {
                http_ex_error(ex, 404, "", "model '%s' has no version '%.32s' (available: %s)",
                              mc->name, version, have);
                return;
            }
        }
        if (!action) routes_model_metadata(ex, ctx, m);
        else if (is_infer) routes_infer(ex, ctx, m);
        else if (strcmp(action, "stats") == 0) routes_model_stats(ex, ctx, m);
        else routes_model_ready(ex, ctx, m);
        return;
    }
not_found:
    http_ex_error(ex, 404, "", "no route for %s %.200s", http_ex_method_name(ex), http_ex_path(ex));
}
