/* The gRPC service's unary RPCs besides inference: health (the same checks as the HTTP
 * routes), server and model metadata, model config (model_config_triton.h, the mapping the
 * HTTP config route uses), statistics, the repository extension (index, load, unload, run by
 * the repository's thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_service.h"
#include "grpc_service.pb-c.h"
#include "grpc_infer.h"
#include "inferd/model_config_triton.h"
#include "kserve.h"

void grpc_rpc_server_live(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)msg, (void)len;
    char why[256];
    Inference__ServerLiveResponse r = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    r.live = routes_is_live(ctx, why, sizeof why);
    grpc_rpc_reply(call, &r.base);
}

void grpc_rpc_server_ready(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)msg, (void)len;
    char why[256];
    Inference__ServerReadyResponse r = INFERENCE__SERVER_READY_RESPONSE__INIT;
    r.ready = routes_is_ready(ctx, why, sizeof why);
    grpc_rpc_reply(call, &r.base);
}

/* 1 if the repository knows a model of that name (loaded or not). */
static int known_model(routes_ctx *ctx, const char *name)
{
    repo_index_entry *e = NULL;
    int n = 0, found = 0;
    char err[256];
    if (repository_index(ctx->repo, 0, &e, &n, err, sizeof err) != 0) return 0;
    for (int i = 0; i < n && !found; i++) found = strcmp(e[i].name, name) == 0;
    free(e);
    return found;
}

void grpc_rpc_model_ready(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelReadyRequest *q;
    UNPACK("ModelReadyRequest", inference__model_ready_request__unpack, call, msg, len, q);
    Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
    repo_model *rm = q->name[0] ? repository_acquire(ctx->repo, q->name) : NULL;
    if (!rm && known_model(ctx, q->name)) { /* in the repository, not loaded: not ready */
        inference__model_ready_request__free_unpacked(q, NULL);
        grpc_rpc_reply(call, &r.base);
        return;
    }
    if (rm) repository_release(rm);
    rm = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_ready_request__free_unpacked(q, NULL);
    if (!rm) return;
    r.ready = sched_model_ready(repo_model_sched(rm), 0);
    repository_release(rm);
    grpc_rpc_reply(call, &r.base);
}

void grpc_rpc_server_metadata(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)msg, (void)len;
    static char *extensions[] = {"parameters", "statistics", "model_repository"};
    Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    r.name = (char *)ctx->server_name;
    r.version = (char *)ctx->version;
    r.n_extensions = sizeof extensions / sizeof extensions[0];
    r.extensions = extensions;
    grpc_rpc_reply(call, &r.base);
}

/* Shapes as the metadata reports them: -1 first for the batch dimension when batched. */
typedef struct io_meta {
    Inference__ModelMetadataResponse__TensorMetadata t[MODEL_MAX_IO];
    Inference__ModelMetadataResponse__TensorMetadata *p[MODEL_MAX_IO];
    int64_t shape[MODEL_MAX_IO][MODEL_MAX_DIMS + 1];
} io_meta;

static void fill_ios(io_meta *im, const model_io *ios, int n, int batched)
{
    for (int i = 0; i < n; i++) {
        Inference__ModelMetadataResponse__TensorMetadata *t = &im->t[i];
        inference__model_metadata_response__tensor_metadata__init(t);
        t->name = (char *)ios[i].name;
        t->datatype = (char *)inferd_dtype_name(ios[i].dtype);
        size_t k = 0;
        if (batched) im->shape[i][k++] = -1;
        for (int d = 0; d < ios[i].ndim; d++) im->shape[i][k++] = ios[i].dims[d];
        t->n_shape = k;
        t->shape = im->shape[i];
        im->p[i] = t;
    }
}

void grpc_rpc_model_metadata(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelMetadataRequest *q;
    UNPACK("ModelMetadataRequest", inference__model_metadata_request__unpack, call, msg, len, q);
    repo_model *rm = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_metadata_request__free_unpacked(q, NULL);
    if (!rm) return;
    const model_config *m = repo_model_config(rm);
    char version[16];
    char *versions[1] = {version};
    kserve_model_version(m, version, sizeof version);
    static io_meta in, out; /* loop thread only */
    fill_ios(&in, m->inputs, m->n_inputs, m->max_batch_size > 0);
    fill_ios(&out, m->outputs, m->n_outputs, m->max_batch_size > 0);
    Inference__ModelMetadataResponse r = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    r.name = (char *)m->name;
    r.n_versions = 1;
    r.versions = versions;
    r.platform = (char *)m->backend;
    r.n_inputs = (size_t)m->n_inputs;
    r.inputs = in.p;
    r.n_outputs = (size_t)m->n_outputs;
    r.outputs = out.p;
    grpc_rpc_reply(call, &r.base);
    repository_release(rm);
}

static int enum_value(const ProtobufCEnumDescriptor *d, const char *name)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, name);
    return v ? v->value : 0;
}

/* One of Triton's ModelInput/ModelOutput from the shared mapping (model_config_triton.h). */
static void config_ios(const triton_io *ios, int n, Inference__ModelInput *in,
                       Inference__ModelOutput *out, void **ptrs)
{
    for (int i = 0; i < n; i++) {
        int dt = enum_value(&inference__data_type__descriptor, ios[i].data_type);
        if (in) {
            inference__model_input__init(&in[i]);
            in[i].name = (char *)ios[i].name;
            in[i].data_type = dt;
            in[i].n_dims = (size_t)ios[i].ndim;
            in[i].dims = (int64_t *)ios[i].dims;
            ptrs[i] = &in[i];
        } else {
            inference__model_output__init(&out[i]);
            out[i].name = (char *)ios[i].name;
            out[i].data_type = dt;
            out[i].n_dims = (size_t)ios[i].ndim;
            out[i].dims = (int64_t *)ios[i].dims;
            ptrs[i] = &out[i];
        }
    }
}

void grpc_rpc_model_config(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelConfigRequest *q;
    UNPACK("ModelConfigRequest", inference__model_config_request__unpack, call, msg, len, q);
    repo_model *rm = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_config_request__free_unpacked(q, NULL);
    if (!rm) return;
    triton_model_config t;
    model_config_to_triton(repo_model_config(rm), &t);
    Inference__ModelInput ins[MODEL_MAX_IO];
    Inference__ModelOutput outs[MODEL_MAX_IO];
    void *insp[MODEL_MAX_IO], *outsp[MODEL_MAX_IO];
    config_ios(t.inputs, t.n_inputs, ins, NULL, insp);
    config_ios(t.outputs, t.n_outputs, NULL, outs, outsp);
    Inference__ModelInstanceGroup group = INFERENCE__MODEL_INSTANCE_GROUP__INIT, *groupp = &group;
    group.name = (char *)t.instance_name;
    group.count = t.instance_count;
    group.kind = enum_value(&inference__model_instance_group__kind__descriptor, t.instance_kind);
    Inference__ModelQueuePolicy policy = INFERENCE__MODEL_QUEUE_POLICY__INIT;
    policy.max_queue_size = t.max_queue_size > 0 ? (uint32_t)t.max_queue_size : 0;
    policy.default_timeout_microseconds =
        t.default_timeout_us > 0 ? (uint64_t)t.default_timeout_us : 0;
    Inference__ModelDynamicBatching db = INFERENCE__MODEL_DYNAMIC_BATCHING__INIT;
    int32_t preferred = (int32_t)t.preferred_batch_size;
    db.n_preferred_batch_size = 1;
    db.preferred_batch_size = &preferred;
    db.max_queue_delay_microseconds = t.max_queue_delay_us > 0 ? (uint64_t)t.max_queue_delay_us : 0;
    db.default_queue_policy = &policy;
    Inference__ModelVersionPolicy__Latest latest = INFERENCE__MODEL_VERSION_POLICY__LATEST__INIT;
    latest.num_versions = (uint32_t)t.latest_num_versions;
    Inference__ModelVersionPolicy vp = INFERENCE__MODEL_VERSION_POLICY__INIT;
    vp.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_LATEST;
    vp.latest = &latest;
    Inference__ModelParameter pv[TRITON_MAX_PARAMS];
    Inference__ModelConfig__ParametersEntry pe[TRITON_MAX_PARAMS], *pep[TRITON_MAX_PARAMS];
    for (int i = 0; i < t.n_params && i < TRITON_MAX_PARAMS; i++) {
        inference__model_parameter__init(&pv[i]);
        pv[i].string_value = t.params[i].value;
        inference__model_config__parameters_entry__init(&pe[i]);
        pe[i].key = (char *)t.params[i].key;
        pe[i].value = &pv[i];
        pep[i] = &pe[i];
    }
    Inference__ModelResponseCache cache = INFERENCE__MODEL_RESPONSE_CACHE__INIT;
    cache.enable = t.response_cache != 0;
    Inference__ModelConfig cfg = INFERENCE__MODEL_CONFIG__INIT;
    cfg.response_cache = &cache;
    cfg.name = (char *)t.name;
    cfg.platform = (char *)t.platform;
    cfg.backend = (char *)t.backend;
    cfg.version_policy = &vp;
    cfg.max_batch_size = t.max_batch_size;
    cfg.n_input = (size_t)t.n_inputs;
    cfg.input = (Inference__ModelInput **)insp;
    cfg.n_output = (size_t)t.n_outputs;
    cfg.output = (Inference__ModelOutput **)outsp;
    cfg.n_instance_group = 1;
    cfg.instance_group = &groupp;
    cfg.n_parameters = (size_t)t.n_params;
    cfg.parameters = pep;
    if (t.dynamic_batching) {
        cfg.scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING;
        cfg.dynamic_batching = &db;
    }
    Inference__ModelConfigResponse r = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    r.config = &cfg;
    grpc_rpc_reply(call, &r.base);
    repository_release(rm);
}

static void duration(Inference__StatisticDuration *d, uint64_t count, uint64_t ns)
{
    inference__statistic_duration__init(d);
    d->count = count;
    d->ns = ns;
}

void grpc_rpc_model_statistics(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelStatisticsRequest *q;
    UNPACK("ModelStatisticsRequest", inference__model_statistics_request__unpack, call, msg, len,
           q);
    repo_model *ms[REPO_MAX_MODELS];
    int n;
    if (q->name && q->name[0]) {
        ms[0] = grpc_rpc_find_model(call, ctx, q->name, q->version);
        n = ms[0] ? 1 : -1;
    } else {
        n = repository_list(ctx->repo, ms, REPO_MAX_MODELS);
    }
    inference__model_statistics_request__free_unpacked(q, NULL);
    if (n < 0) return;
    Inference__ModelStatistics st[REPO_MAX_MODELS], *stp[REPO_MAX_MODELS];
    Inference__InferStatistics is[REPO_MAX_MODELS];
    Inference__StatisticDuration d[REPO_MAX_MODELS][8];
    char versions[REPO_MAX_MODELS][16];
    for (int k = 0; k < n; k++) {
        const model_config *cfg = repo_model_config(ms[k]);
        sched_stats s;
        sched_model_stats(repo_model_sched(ms[k]), 0, &s);
        const sched_counters *c = &s.counters;
        inference__model_statistics__init(&st[k]);
        inference__infer_statistics__init(&is[k]);
        kserve_model_version(cfg, versions[k], sizeof versions[k]);
        st[k].name = (char *)cfg->name;
        st[k].version = versions[k];
        st[k].last_inference = c->last_inference_ms;
        st[k].inference_count = c->batch_rows;
        st[k].execution_count = c->batches;
        /* as in GET .../stats (routes_stats.c): input and output preparation are inside
         * compute_infer */
        duration(&d[k][0], c->requests_ok, c->ok_ns);
        duration(&d[k][1], c->requests_failed, c->failed_ns);
        duration(&d[k][2], c->queue_count, c->queue_ns);
        duration(&d[k][3], c->batches, 0);
        duration(&d[k][4], c->batches, c->compute_ns);
        duration(&d[k][5], c->batches, 0);
        duration(&d[k][6], c->cache_hits, c->cache_hit_ns);
        duration(&d[k][7], c->cache_misses, c->cache_miss_ns);
        is[k].success = &d[k][0];
        is[k].fail = &d[k][1];
        is[k].queue = &d[k][2];
        is[k].compute_input = &d[k][3];
        is[k].compute_infer = &d[k][4];
        is[k].compute_output = &d[k][5];
        is[k].cache_hit = &d[k][6];
        is[k].cache_miss = &d[k][7];
        st[k].inference_stats = &is[k];
        stp[k] = &st[k];
    }
    Inference__ModelStatisticsResponse r = INFERENCE__MODEL_STATISTICS_RESPONSE__INIT;
    r.n_model_stats = (size_t)n;
    r.model_stats = stp;
    grpc_rpc_reply(call, &r.base);
    for (int k = 0; k < n; k++) repository_release(ms[k]);
}

void grpc_rpc_repository_index(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__RepositoryIndexRequest *q;
    UNPACK("RepositoryIndexRequest", inference__repository_index_request__unpack, call, msg, len,
           q);
    int ready_only = q->ready;
    inference__repository_index_request__free_unpacked(q, NULL);
    repo_index_entry *e = NULL;
    int n = 0;
    char err[256];
    if (repository_index(ctx->repo, ready_only, &e, &n, err, sizeof err) != 0) {
        grpc_rpc_end(call, GRPC_STATUS_INTERNAL, "%s", err);
        return;
    }
    Inference__RepositoryIndexResponse__ModelIndex *idx = calloc((size_t)n + 1, sizeof *idx);
    Inference__RepositoryIndexResponse__ModelIndex **idxp = calloc((size_t)n + 1, sizeof *idxp);
    char(*versions)[16] = calloc((size_t)n + 1, sizeof *versions);
    if (!idx || !idxp || !versions) {
        grpc_rpc_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (int i = 0; i < n; i++) {
            inference__repository_index_response__model_index__init(&idx[i]);
            if (e[i].version > 0) snprintf(versions[i], sizeof versions[i], "%d", e[i].version);
            idx[i].name = e[i].name;
            idx[i].version = versions[i];
            idx[i].state = (char *)repo_state_name(e[i].state);
            idx[i].reason = e[i].reason;
            idxp[i] = &idx[i];
        }
        Inference__RepositoryIndexResponse r = INFERENCE__REPOSITORY_INDEX_RESPONSE__INIT;
        r.n_models = (size_t)n;
        r.models = idxp;
        grpc_rpc_reply(call, &r.base);
    }
    free(idx);
    free(idxp);
    free(versions);
    free(e);
}

typedef struct repo_reply {
    int status;
    char message[512];
} repo_reply;

/* The call stays open while the operation runs (rpc->inflight keeps on_cancel from ending
 * it), so the answer always finds it. */
static void repo_reply_on_loop(grpc_call *call, void *arg)
{
    repo_reply *rep = arg;
    grpc_rpc *rpc = grpc_call_user(call);
    rpc->inflight--;
    if (rpc->cancelled) {
        grpc_rpc_end(call, GRPC_STATUS_CANCELLED, "cancelled");
    } else if (rep->status == 0) {
        Inference__RepositoryModelLoadResponse r =
            INFERENCE__REPOSITORY_MODEL_LOAD_RESPONSE__INIT; /* Unload's is as empty */
        grpc_rpc_reply(call, &r.base);
    } else {
        grpc_rpc_end(call, grpc_status_from_http(rep->status), "%s", rep->message);
    }
    free(rep);
}

/* From the repository's thread (or this one, when refused at once). */
static void on_repo_done(void *arg, int status, const char *message)
{
    grpc_call *call = arg;
    repo_reply *rep = malloc(sizeof *rep);
    if (!rep) return; /* the call stays open (until its client's deadline) */
    rep->status = status;
    snprintf(rep->message, sizeof rep->message, "%s", message ? message : "");
    if (grpc_call_post(call, repo_reply_on_loop, rep) != 0) free(rep);
}

/* The "config" load parameter (Triton's override: the model's config.json text). */
typedef Inference__RepositoryModelLoadRequest__ParametersEntry load_param;

void grpc_rpc_repository_load(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__RepositoryModelLoadRequest *q;
    UNPACK("RepositoryModelLoadRequest", inference__repository_model_load_request__unpack, call,
           msg, len, q);
    const char *config = NULL;
    for (size_t i = 0; i < q->n_parameters; i++) {
        const load_param *p = q->parameters[i];
        if (!p->key || strcmp(p->key, "config") != 0) continue;
        if (!p->value || p->value->parameter_choice_case !=
                             INFERENCE__MODEL_REPOSITORY_PARAMETER__PARAMETER_CHOICE_STRING_PARAM) {
            inference__repository_model_load_request__free_unpacked(q, NULL);
            grpc_rpc_end(call, GRPC_STATUS_INVALID_ARGUMENT,
                         "parameters.config must be a string_param holding the model's "
                         "config.json");
            return;
        }
        config = p->value->string_param;
    }
    /* the repository copies name and config */
    ((grpc_rpc *)grpc_call_user(call))->inflight++;
    repository_load(ctx->repo, q->model_name, config, on_repo_done, call);
    inference__repository_model_load_request__free_unpacked(q, NULL);
}

void grpc_rpc_repository_unload(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__RepositoryModelUnloadRequest *q;
    UNPACK("RepositoryModelUnloadRequest", inference__repository_model_unload_request__unpack, call,
           msg, len, q);
    ((grpc_rpc *)grpc_call_user(call))->inflight++;
    repository_unload(ctx->repo, q->model_name, on_repo_done, call);
    inference__repository_model_unload_request__free_unpacked(q, NULL);
}
