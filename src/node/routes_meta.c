/* Health, server metadata and model metadata/readiness routes (KServe v2). */
#include <stdio.h>
#include <string.h>

#include "inferd/http_buf.h"
#include "kserve.h"
#include "routes.h"

int routes_is_live(routes_ctx *ctx, char *why, size_t why_len)
{
    int64_t age = repository_progress_age_ns(ctx->repo);
    if (ctx->live_stale_ns > 0 && age > ctx->live_stale_ns) {
        snprintf(why, why_len, "not live: the scheduler has made no progress for %lld ms",
                 (long long)(age / 1000000));
        return 0;
    }
    return 1;
}

int routes_is_ready(routes_ctx *ctx, char *why, size_t why_len)
{
    if (atomic_load(&ctx->draining)) {
        snprintf(why, why_len, "not ready: draining (shutting down)");
        return 0;
    }
    repo_model *ms[REPO_MAX_MODELS];
    int n = repository_list(ctx->repo, ms, REPO_MAX_MODELS);
    int ready = 1;
    for (int i = 0; i < n; i++) {
        if (ready && !sched_model_ready(repo_model_sched(ms[i]), 0)) {
            snprintf(why, why_len, "not ready: model '%s' has no live worker",
                     repo_model_config(ms[i])->name);
            ready = 0;
        }
        repository_release(ms[i]);
    }
    return ready;
}

void routes_health_live(http_exchange *ex, routes_ctx *ctx)
{
    char why[256];
    if (!routes_is_live(ctx, why, sizeof why)) {
        http_ex_error(ex, 503, "", "%s", why);
        return;
    }
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"live\": true}");
    routes_send_buf(ex, 200, &b);
}

void routes_health_ready(http_exchange *ex, routes_ctx *ctx)
{
    char why[256];
    if (!routes_is_ready(ctx, why, sizeof why)) {
        http_ex_error(ex, 503, "Retry-After: 1\r\n", "%s", why);
        return;
    }
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"ready\": true}");
    routes_send_buf(ex, 200, &b);
}

void routes_server_metadata(http_exchange *ex, routes_ctx *ctx)
{
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"name\": ");
    http_buf_json_string(&b, ctx->server_name, strlen(ctx->server_name));
    http_buf_puts(&b, ", \"version\": ");
    http_buf_json_string(&b, ctx->version, strlen(ctx->version));
    http_buf_puts(&b, ", \"extensions\": [\"parameters\", \"binary_tensor_data\", "
                      "\"model_configuration\", \"model_repository\", \"statistics\"");
    if (client_shm_enabled(ctx->cshm)) http_buf_puts(&b, ", \"system_shared_memory\"");
    http_buf_puts(&b, "]}");
    routes_send_buf(ex, 200, &b);
}

static void put_ios(http_buf *b, const model_io *ios, int n, int batched)
{
    http_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        const model_io *io = &ios[i];
        if (i) http_buf_puts(b, ", ");
        http_buf_puts(b, "{\"name\": ");
        http_buf_json_string(b, io->name, strlen(io->name));
        http_buf_printf(b, ", \"datatype\": \"%s\", \"shape\": [", inferd_dtype_name(io->dtype));
        if (batched) http_buf_puts(b, io->ndim ? "-1, " : "-1");
        for (int d = 0; d < io->ndim; d++)
            http_buf_printf(b, d ? ", %lld" : "%lld", (long long)io->dims[d]);
        http_buf_puts(b, "]}");
    }
    http_buf_puts(b, "]");
}

void routes_model_metadata(http_exchange *ex, routes_ctx *ctx, repo_model *model)
{
    (void)ctx;
    const model_config *m = repo_model_config(model);
    char version[16];
    kserve_model_version(m, version, sizeof version);
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"name\": ");
    http_buf_json_string(&b, m->name, strlen(m->name));
    http_buf_printf(&b, ", \"versions\": [\"%s\"], \"platform\": ", version);
    http_buf_json_string(&b, m->backend, strlen(m->backend));
    http_buf_puts(&b, ", \"backend\": ");
    http_buf_json_string(&b, m->backend, strlen(m->backend));
    http_buf_printf(&b, ", \"max_batch_size\": %d, \"inputs\": ", m->max_batch_size);
    put_ios(&b, m->inputs, m->n_inputs, m->max_batch_size > 0);
    http_buf_puts(&b, ", \"outputs\": ");
    put_ios(&b, m->outputs, m->n_outputs, m->max_batch_size > 0);
    http_buf_puts(&b, "}");
    routes_send_buf(ex, 200, &b);
}

void routes_model_ready(http_exchange *ex, routes_ctx *ctx, repo_model *model)
{
    (void)ctx;
    const model_config *m = repo_model_config(model);
    if (!sched_model_ready(repo_model_sched(model), 0)) {
        http_ex_error(ex, 503, "Retry-After: 1\r\n", "model '%s' is not ready: no live worker",
                      m->name);
        return;
    }
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"name\": ");
    http_buf_json_string(&b, m->name, strlen(m->name));
    http_buf_puts(&b, ", \"ready\": true}");
    routes_send_buf(ex, 200, &b);
}
