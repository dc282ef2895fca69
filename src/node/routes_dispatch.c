/* Request routing: splits the path, finds the route and the model (with a reference from
 * the live model table), and answers 404/405 (with Allow) for anything that does not match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/dashboard.h"
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

static void no_route(http_exchange *ex)
{
    http_ex_error(ex, 404, "", "no route for %s %.200s", http_ex_method_name(ex), http_ex_path(ex));
}

/* The READY model called name, with a reference the caller drops; else answers 404. */
static repo_model *find_model(http_exchange *ex, routes_ctx *ctx, const char *name)
{
    repo_model *m = repository_acquire(ctx->repo, name);
    if (!m)
        http_ex_error(ex, 404, "",
                      "unknown model '%.64s': not in the repository or not loaded (POST "
                      "/v2/repository/index lists them)",
                      name);
    return m;
}

/* /v2/models/{m}[/versions/{v}][/ready|/infer|/stats|/config] */
static void model_route(http_exchange *ex, routes_ctx *ctx, const path_parts *pp)
{
    int i = 3;
    const char *version = NULL;
    if (is(pp, 3, "versions")) {
        if (pp->n < 5) goto not_found;
        version = pp->seg[4];
        i = 5;
    }
    const char *action = i < pp->n ? pp->seg[i] : "";
    if (i + (action[0] ? 1 : 0) != pp->n) goto not_found;
    static const char *actions[] = {"", "ready", "infer", "stats", "config"};
    int a = 0;
    while (a < 5 && strcmp(action, actions[a]) != 0) a++;
    if (a == 5) goto not_found;
    if (!routes_method_ok(ex, a == 2 ? "POST" : "GET")) return;
    repo_model *rm = find_model(ex, ctx, pp->seg[2]);
    if (!rm) return;
    if (version) {
        char have[16];
        const model_config *mc = repo_model_config(rm);
        snprintf(have, sizeof have, "%d", mc->version > 0 ? mc->version : 1);
        if (strcmp(version, have) != 0) {
            http_ex_error(ex, 404, "", "model '%s' has no version '%.32s' (available: %s)",
                          mc->name, version, have);
            repository_release(rm);
            return;
        }
    }
    switch (a) {
    case 0: routes_model_metadata(ex, ctx, rm); break;
    case 1: routes_model_ready(ex, ctx, rm); break;
    case 2: routes_infer(ex, ctx, rm); return; /* keeps the reference until answered */
    case 3: routes_model_stats(ex, ctx, rm); break;
    default: routes_model_config(ex, ctx, rm); break;
    }
    repository_release(rm);
    return;
not_found:
    no_route(ex);
}

/* /v2/repository/index, /v2/repository/models/{m}/load|unload */
static void repository_route(http_exchange *ex, routes_ctx *ctx, const path_parts *pp)
{
    if (pp->n == 3 && is(pp, 2, "index")) {
        if (routes_method_ok(ex, "POST")) routes_repository_index(ex, ctx);
        return;
    }
    if (pp->n == 5 && is(pp, 2, "models") && (is(pp, 4, "load") || is(pp, 4, "unload"))) {
        if (routes_method_ok(ex, "POST"))
            routes_repository_load(ex, ctx, pp->seg[3], is(pp, 4, "load"));
        return;
    }
    no_route(ex);
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
    if (pp.n == 1 && is(&pp, 0, "metrics")) {
        if (routes_method_ok(ex, "GET")) routes_metrics(ex, ctx);
        return;
    }
    if ((pp.n == 1 || pp.n == 2) && is(&pp, 0, "dashboard")) {
        if (routes_method_ok(ex, "GET"))
            dashboard_serve(ex, pp.n == 2 ? pp.seg[1] : NULL, DASHBOARD_NODE);
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
        if (routes_method_ok(ex, "GET")) routes_model_stats(ex, ctx, NULL);
        return;
    }
    if (pp.n >= 3 && is(&pp, 1, "models")) {
        model_route(ex, ctx, &pp);
        return;
    }
    if (pp.n >= 3 && is(&pp, 1, "repository")) {
        repository_route(ex, ctx, &pp);
        return;
    }
not_found:
    no_route(ex);
}
