/* Triton's repository extension over HTTP: POST /v2/repository/index ({"ready": true} keeps
 * only READY models) and POST /v2/repository/models/{m}/load | unload (a load may carry
 * {"parameters": {"config": "<config.json text>"}}). Load and unload run on the
 * repository's thread; the answer hops back to the connection's loop. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/http_buf.h"
#include "routes.h"

void routes_repository_index(http_exchange *ex, routes_ctx *ctx)
{
    size_t len;
    const char *body = http_ex_body(ex, &len);
    int ready_only = 0;
    if (len > 0) {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, 0, &jerr);
        json_t *ready = json_is_object(root) ? json_object_get(root, "ready") : NULL;
        if (!json_is_object(root) || (ready && !json_is_boolean(ready))) {
            json_decref(root);
            http_ex_error(ex, 400, "", "expected a JSON object with an optional boolean 'ready'");
            return;
        }
        ready_only = json_is_true(ready);
        json_decref(root);
    }
    repo_index_entry *e = NULL;
    int n = 0;
    char err[256];
    if (repository_index(ctx->repo, ready_only, &e, &n, err, sizeof err) != 0) {
        http_ex_error(ex, 500, "", "%s", err);
        return;
    }
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "[");
    for (int i = 0; i < n; i++) {
        http_buf_puts(&b, i ? ", {\"name\": " : "{\"name\": ");
        http_buf_json_string(&b, e[i].name, strlen(e[i].name));
        if (e[i].version > 0) http_buf_printf(&b, ", \"version\": \"%d\"", e[i].version);
        http_buf_printf(&b, ", \"state\": \"%s\", \"reason\": ", repo_state_name(e[i].state));
        http_buf_json_string(&b, e[i].reason, strlen(e[i].reason));
        http_buf_puts(&b, "}");
    }
    http_buf_puts(&b, "]");
    free(e);
    routes_send_buf(ex, 200, &b);
}

typedef struct repo_reply {
    int status;
    char message[512];
} repo_reply;

static repo_reply reply_oom = {.status = 500, .message = "out of memory"};

static void reply_on_loop(http_exchange *ex, void *arg)
{
    repo_reply *rep = arg;
    if (http_ex_orphaned(ex)) http_ex_respond(ex, 0, NULL, NULL, 0, ""); /* frees ex */
    else if (rep->status == 0) http_ex_respond(ex, 200, "application/json", NULL, 0, "");
    else
        http_ex_error(ex, rep->status, rep->status == 503 ? "Retry-After: 1\r\n" : "", "%s",
                      rep->message);
    if (rep != &reply_oom) free(rep);
}

/* From the repository's thread (or this one, when refused at once). */
static void on_repo_done(void *arg, int status, const char *message)
{
    http_exchange *ex = arg;
    repo_reply *rep = malloc(sizeof *rep);
    if (rep) {
        rep->status = status;
        snprintf(rep->message, sizeof rep->message, "%s", message ? message : "");
    }
    http_ex_post(ex, reply_on_loop, rep ? rep : &reply_oom); /* read-only when shared */
}

/* The override of a load body: {"parameters": {"config": "<json text>"}}. Returns 0 with
 * *config (a copy, or NULL when absent), or -1 with err. */
static int parse_load_body(const char *body, size_t len, char **config, char *err, size_t err_len)
{
    *config = NULL;
    if (len == 0) return 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, err_len, "the load body must be a JSON object");
        return -1;
    }
    json_t *params = json_object_get(root, "parameters");
    json_t *cfg = json_is_object(params) ? json_object_get(params, "config") : NULL;
    int rc = 0;
    if ((params && !json_is_object(params)) || (cfg && !json_is_string(cfg))) {
        snprintf(err, err_len,
                 "parameters.config must be a string holding the model's "
                 "config.json");
        rc = -1;
    } else if (cfg && !(*config = strdup(json_string_value(cfg)))) {
        snprintf(err, err_len, "out of memory");
        rc = -1;
    }
    json_decref(root);
    return rc;
}

void routes_repository_load(http_exchange *ex, routes_ctx *ctx, const char *name, int load)
{
    if (!load) {
        repository_unload(ctx->repo, name, on_repo_done, ex);
        return;
    }
    size_t len;
    const char *body = http_ex_body(ex, &len);
    char *config = NULL;
    char err[256];
    if (parse_load_body(body, len, &config, err, sizeof err) != 0) {
        http_ex_error(ex, 400, "", "%s", err);
        return;
    }
    repository_load(ctx->repo, name, config, on_repo_done, ex);
    free(config);
}
