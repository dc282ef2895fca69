/* Triton's system shared-memory extension over HTTP: /v2/systemsharedmemory[/region/{name}]/
 * status (GET), .../region/{name}/register (POST {"key", "offset", "byte_size"}) and
 * [/region/{name}]/unregister (POST), over the client_shm registry. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/http_buf.h"
#include "routes.h"

static int shm_status_code(int rc)
{
    return rc == CLIENT_SHM_EOFF ? 403 : rc == CLIENT_SHM_ENOMEM ? 500 : 400;
}

static void shm_status(http_exchange *ex, routes_ctx *ctx, const char *name)
{
    int max = client_shm_max_regions(ctx->cshm);
    client_shm_info *info = calloc((size_t)max, sizeof *info);
    if (!info) {
        http_ex_error(ex, 500, "", "out of memory");
        return;
    }
    char err[256];
    int n = client_shm_status(ctx->cshm, name, info, max, err, sizeof err);
    if (n < 0) {
        free(info);
        http_ex_error(ex, shm_status_code(n), "", "%s", err);
        return;
    }
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "[");
    for (int i = 0; i < n; i++) {
        http_buf_puts(&b, i ? ", {\"name\": " : "{\"name\": ");
        http_buf_json_string(&b, info[i].name, strlen(info[i].name));
        http_buf_puts(&b, ", \"key\": ");
        http_buf_json_string(&b, info[i].key, strlen(info[i].key));
        http_buf_printf(&b, ", \"offset\": %llu, \"byte_size\": %llu}",
                        (unsigned long long)info[i].offset, (unsigned long long)info[i].byte_size);
    }
    http_buf_puts(&b, "]");
    free(info);
    routes_send_buf(ex, 200, &b);
}

static int get_u64(const json_t *o, const char *key, int required, uint64_t *out, char *err,
                   size_t err_len)
{
    const json_t *v = json_object_get(o, key);
    if (!v && !required) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, err_len, "'%s' must be a non-negative integer", key);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static void shm_register(http_exchange *ex, routes_ctx *ctx, const char *name)
{
    if (!client_shm_enabled(ctx->cshm)) {
        http_ex_error(ex, 403, "",
                      "client shared memory is disabled (start the node with "
                      "--allow-client-shm)");
        return;
    }
    size_t len;
    const char *body = http_ex_body(ex, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    char err[320];
    const char *key = root ? json_string_value(json_object_get(root, "key")) : NULL;
    uint64_t offset = 0, byte_size = 0;
    if (!root || !json_is_object(root)) {
        http_ex_error(ex, 400, "", "expected a JSON object {\"key\", \"offset\", \"byte_size\"}");
    } else if (!key) {
        http_ex_error(ex, 400, "", "'key' must be a string (the shm_open name)");
    } else if (get_u64(root, "offset", 0, &offset, err, sizeof err) ||
               get_u64(root, "byte_size", 1, &byte_size, err, sizeof err)) {
        http_ex_error(ex, 400, "", "%s", err);
    } else {
        int rc = client_shm_register(ctx->cshm, name, key, offset, byte_size, err, sizeof err);
        if (rc) http_ex_error(ex, shm_status_code(rc), "", "%s", err);
        else http_ex_respond(ex, 200, "application/json", NULL, 0, "");
    }
    json_decref(root);
}

static void shm_unregister(http_exchange *ex, routes_ctx *ctx, const char *name)
{
    char err[256];
    int rc = client_shm_unregister(ctx->cshm, name, err, sizeof err);
    if (rc) http_ex_error(ex, shm_status_code(rc), "", "%s", err);
    else http_ex_respond(ex, 200, "application/json", NULL, 0, "");
}

void routes_system_shm(http_exchange *ex, routes_ctx *ctx, const char *region, const char *action)
{
    int is_status = strcmp(action, "status") == 0;
    if (!is_status && strcmp(action, "register") != 0 && strcmp(action, "unregister") != 0) {
        http_ex_error(ex, 404, "", "no route for %s %.200s", http_ex_method_name(ex),
                      http_ex_path(ex));
        return;
    }
    if (!routes_method_ok(ex, is_status ? "GET" : "POST")) return;
    if (is_status) shm_status(ex, ctx, region);
    else if (strcmp(action, "unregister") == 0) shm_unregister(ex, ctx, region);
    else if (region) shm_register(ex, ctx, region);
    else
        http_ex_error(ex, 404, "",
                      "register needs a region: "
                      "POST /v2/systemsharedmemory/region/{name}/register");
}
