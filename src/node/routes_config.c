/* GET /v2/models/{m}[/versions/{v}]/config: the model's configuration in Triton's JSON shape
 * (model_config.proto), from the one mapping in model_config_triton.h. */
#include <string.h>

#include "inferd/http_buf.h"
#include "inferd/model_config_triton.h"
#include "routes.h"

static void put_str(http_buf *b, const char *key, const char *value)
{
    http_buf_printf(b, "\"%s\": ", key);
    http_buf_json_string(b, value, strlen(value));
}

static void put_ios(http_buf *b, const char *key, const triton_io *ios, int n)
{
    http_buf_printf(b, ", \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        http_buf_puts(b, i ? ", {" : "{");
        put_str(b, "name", ios[i].name);
        http_buf_puts(b, ", ");
        put_str(b, "data_type", ios[i].data_type);
        http_buf_puts(b, ", \"dims\": [");
        for (int d = 0; d < ios[i].ndim; d++)
            http_buf_printf(b, d ? ", %lld" : "%lld", (long long)ios[i].dims[d]);
        http_buf_puts(b, "]}");
    }
    http_buf_puts(b, "]");
}

void routes_model_config(http_exchange *ex, routes_ctx *ctx, repo_model *model)
{
    (void)ctx;
    triton_model_config t;
    model_config_to_triton(repo_model_config(model), &t);
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{");
    put_str(&b, "name", t.name);
    http_buf_puts(&b, ", ");
    put_str(&b, "platform", t.platform);
    http_buf_puts(&b, ", ");
    put_str(&b, "backend", t.backend);
    http_buf_printf(&b, ", \"max_batch_size\": %d", t.max_batch_size);
    put_ios(&b, "input", t.inputs, t.n_inputs);
    put_ios(&b, "output", t.outputs, t.n_outputs);
    if (t.dynamic_batching)
        http_buf_printf(&b,
                        ", \"dynamic_batching\": {\"preferred_batch_size\": [%lld], "
                        "\"max_queue_delay_microseconds\": %lld, \"default_queue_policy\": "
                        "{\"max_queue_size\": %lld, \"default_timeout_microseconds\": %lld}}",
                        (long long)t.preferred_batch_size, (long long)t.max_queue_delay_us,
                        (long long)t.max_queue_size, (long long)t.default_timeout_us);
    http_buf_puts(&b, ", \"instance_group\": [{");
    put_str(&b, "name", t.instance_name);
    http_buf_printf(&b, ", \"count\": %d, ", t.instance_count);
    put_str(&b, "kind", t.instance_kind);
    http_buf_printf(&b, "}], \"version_policy\": {\"latest\": {\"num_versions\": %d}}",
                    t.latest_num_versions);
    http_buf_printf(&b, ", \"response_cache\": {\"enable\": %s}",
                    t.response_cache ? "true" : "false");
    http_buf_puts(&b, ", \"parameters\": {");
    for (int i = 0; i < t.n_params; i++) {
        http_buf_printf(&b, "%s\"%s\": {", i ? ", " : "", t.params[i].key);
        put_str(&b, "string_value", t.params[i].value);
        http_buf_puts(&b, "}");
    }
    http_buf_puts(&b, "}}");
    routes_send_buf(ex, 200, &b);
}
