/* The gRPC service's unary RPCs besides inference: health (the same checks as the HTTP
 * routes), server and model metadata, model config (Triton's ModelConfig fields that inferd
 * has), statistics, the repository index, and the RPCs whose subsystems this node lacks. */
#include <stdio.h>
#include <string.h>

#include "grpc_service.h"
#include "grpc_service.pb-c.h"
#include "kserve.h"

#define UNPACK(type, fn, call, msg, len, out)                                                 \
    do {                                                                                     \
        out = fn(NULL, len, msg);                                                            \
        if (!out) {                                                                          \
            grpc_rpc_end(call, GRPC_STATUS_INVALID_ARGUMENT, "the request is not a valid " type \
                         " message");                                                        \
            return;                                                                          \
        }                                                                                    \
    } while (0)

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

void grpc_rpc_model_ready(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelReadyRequest *q;
    UNPACK("ModelReadyRequest", inference__model_ready_request__unpack, call, msg, len, q);
    int m = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_ready_request__free_unpacked(q, NULL);
    if (m < 0) return;
    Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
    r.ready = sched_model_ready(ctx->sched, m);
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
    int mi = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_metadata_request__free_unpacked(q, NULL);
    if (mi < 0) return;
    const model_config *m = sched_model(ctx->sched, mi);
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
}

static Inference__DataType config_type(inferd_dtype dt)
{
    switch (dt) {
    case INFERD_DTYPE_BOOL: return INFERENCE__DATA_TYPE__TYPE_BOOL;
    case INFERD_DTYPE_UINT8: return INFERENCE__DATA_TYPE__TYPE_UINT8;
    case INFERD_DTYPE_UINT16: return INFERENCE__DATA_TYPE__TYPE_UINT16;
    case INFERD_DTYPE_UINT32: return INFERENCE__DATA_TYPE__TYPE_UINT32;
    case INFERD_DTYPE_UINT64: return INFERENCE__DATA_TYPE__TYPE_UINT64;
    case INFERD_DTYPE_INT8: return INFERENCE__DATA_TYPE__TYPE_INT8;
    case INFERD_DTYPE_INT16: return INFERENCE__DATA_TYPE__TYPE_INT16;
    case INFERD_DTYPE_INT32: return INFERENCE__DATA_TYPE__TYPE_INT32;
    case INFERD_DTYPE_INT64: return INFERENCE__DATA_TYPE__TYPE_INT64;
    case INFERD_DTYPE_FP16: return INFERENCE__DATA_TYPE__TYPE_FP16;
    case INFERD_DTYPE_FP32: return INFERENCE__DATA_TYPE__TYPE_FP32;
    case INFERD_DTYPE_FP64: return INFERENCE__DATA_TYPE__TYPE_FP64;
    case INFERD_DTYPE_BYTES: return INFERENCE__DATA_TYPE__TYPE_STRING;
    case INFERD_DTYPE_BF16: return INFERENCE__DATA_TYPE__TYPE_BF16;
    default: return INFERENCE__DATA_TYPE__TYPE_INVALID;
    }
}

void grpc_rpc_model_config(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__ModelConfigRequest *q;
    UNPACK("ModelConfigRequest", inference__model_config_request__unpack, call, msg, len, q);
    int mi = grpc_rpc_find_model(call, ctx, q->name, q->version);
    inference__model_config_request__free_unpacked(q, NULL);
    if (mi < 0) return;
    const model_config *m = sched_model(ctx->sched, mi);
    Inference__ModelInput ins[MODEL_MAX_IO], *insp[MODEL_MAX_IO];
    Inference__ModelOutput outs[MODEL_MAX_IO], *outsp[MODEL_MAX_IO];
    int64_t in_dims[MODEL_MAX_IO][MODEL_MAX_DIMS], out_dims[MODEL_MAX_IO][MODEL_MAX_DIMS];
    for (int i = 0; i < m->n_inputs; i++) {
        inference__model_input__init(&ins[i]);
        ins[i].name = (char *)m->inputs[i].name;
        ins[i].data_type = config_type(m->inputs[i].dtype);
        memcpy(in_dims[i], m->inputs[i].dims, sizeof(int64_t) * (size_t)m->inputs[i].ndim);
        ins[i].n_dims = (size_t)m->inputs[i].ndim;
        ins[i].dims = in_dims[i];
        insp[i] = &ins[i];
    }
    for (int i = 0; i < m->n_outputs; i++) {
        inference__model_output__init(&outs[i]);
        outs[i].name = (char *)m->outputs[i].name;
        outs[i].data_type = config_type(m->outputs[i].dtype);
        memcpy(out_dims[i], m->outputs[i].dims, sizeof(int64_t) * (size_t)m->outputs[i].ndim);
        outs[i].n_dims = (size_t)m->outputs[i].ndim;
        outs[i].dims = out_dims[i];
        outsp[i] = &outs[i];
    }
    Inference__ModelInstanceGroup group = INFERENCE__MODEL_INSTANCE_GROUP__INIT, *groupp = &group;
    group.count = m->workers_max;
    group.kind = INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU;
    Inference__ModelQueuePolicy policy = INFERENCE__MODEL_QUEUE_POLICY__INIT;
    policy.max_queue_size = m->max_queue_size > 0 ? (uint32_t)m->max_queue_size : 0;
    policy.default_timeout_microseconds = m->timeout_ms > 0 ? (uint64_t)m->timeout_ms * 1000 : 0;
    policy.allow_timeout_override = 1;
    Inference__ModelDynamicBatching db = INFERENCE__MODEL_DYNAMIC_BATCHING__INIT;
    db.max_queue_delay_microseconds = m->max_queue_delay_us > 0 ? (uint64_t)m->max_queue_delay_us : 0;
    db.default_queue_policy = &policy;
    Inference__ModelConfig cfg = INFERENCE__MODEL_CONFIG__INIT;
    cfg.name = (char *)m->name;
    cfg.backend = (char *)m->backend;
    cfg.max_batch_size = m->max_batch_size;
    cfg.n_input = (size_t)m->n_inputs;
    cfg.input = insp;
    cfg.n_output = (size_t)m->n_outputs;
    cfg.output = outsp;
    cfg.n_instance_group = 1;
    cfg.instance_group = &groupp;
    if (m->max_batch_size > 0) {
        cfg.scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING;
        cfg.dynamic_batching = &db;
    }
    Inference__ModelConfigResponse r = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    r.config = &cfg;
    grpc_rpc_reply(call, &r.base);
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
    int only = -1;
    if (q->name && q->name[0]) only = grpc_rpc_find_model(call, ctx, q->name, q->version);
    int bad = q->name && q->name[0] && only < 0;
    inference__model_statistics_request__free_unpacked(q, NULL);
    if (bad) return;
    int n = sched_model_count(ctx->sched);
    if (n > 256) n = 256;
    static Inference__ModelStatistics st[256];
    static Inference__ModelStatistics *stp[256];
    static Inference__InferStatistics is[256];
    static Inference__StatisticDuration d[256][5];
    static char versions[256][16];
    size_t k = 0;
    for (int m = 0; m < n; m++) {
        if (only >= 0 && m != only) continue;
        const model_config *cfg = sched_model(ctx->sched, m);
        sched_stats s;
        sched_model_stats(ctx->sched, m, &s);
        const sched_counters *c = &s.counters;
        inference__model_statistics__init(&st[k]);
        inference__infer_statistics__init(&is[k]);
        kserve_model_version(cfg, versions[k], sizeof versions[k]);
        st[k].name = (char *)cfg->name;
        st[k].version = versions[k];
        st[k].inference_count = c->batch_rows;
        st[k].execution_count = c->batches;
        duration(&d[k][0], c->requests_ok, c->ok_ns);
        duration(&d[k][1], c->requests_failed, c->failed_ns);
        duration(&d[k][2], c->queue_count, c->queue_ns);
        duration(&d[k][3], c->batches, c->compute_ns);
        is[k].success = &d[k][0];
        is[k].fail = &d[k][1];
        is[k].queue = &d[k][2];
        is[k].compute_infer = &d[k][3];
        st[k].inference_stats = &is[k];
        stp[k] = &st[k];
        k++;
    }
    Inference__ModelStatisticsResponse r = INFERENCE__MODEL_STATISTICS_RESPONSE__INIT;
    r.n_model_stats = k;
    r.model_stats = stp;
    grpc_rpc_reply(call, &r.base);
}

void grpc_rpc_repository_index(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__RepositoryIndexRequest *q;
    UNPACK("RepositoryIndexRequest", inference__repository_index_request__unpack, call, msg, len,
           q);
    int ready_only = q->ready;
    inference__repository_index_request__free_unpacked(q, NULL);
    int n = sched_model_count(ctx->sched);
    if (n > 256) n = 256;
    static Inference__RepositoryIndexResponse__ModelIndex idx[256];
    static Inference__RepositoryIndexResponse__ModelIndex *idxp[256];
    static char versions[256][16];
    size_t k = 0;
    for (int m = 0; m < n; m++) {
        const model_config *cfg = sched_model(ctx->sched, m);
        int ready = sched_model_ready(ctx->sched, m);
        if (ready_only && !ready) continue;
        inference__repository_index_response__model_index__init(&idx[k]);
        kserve_model_version(cfg, versions[k], sizeof versions[k]);
        idx[k].name = (char *)cfg->name;
        idx[k].version = versions[k];
        idx[k].state = ready ? "READY" : "UNAVAILABLE";
        idx[k].reason = ready ? "" : "no live worker";
        idxp[k] = &idx[k];
        k++;
    }
    Inference__RepositoryIndexResponse r = INFERENCE__REPOSITORY_INDEX_RESPONSE__INIT;
    r.n_models = k;
    r.models = idxp;
    grpc_rpc_reply(call, &r.base);
}

static void not_here(grpc_call *call, const char *what)
{
    grpc_rpc_end(call, GRPC_STATUS_UNIMPLEMENTED, "%s is not available on this node yet", what);
}

void grpc_rpc_repository_load(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    not_here(call, "RepositoryModelLoad (model control)");
}

void grpc_rpc_repository_unload(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    not_here(call, "RepositoryModelUnload (model control)");
}

void grpc_rpc_shm_status(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    not_here(call, "SystemSharedMemoryStatus (client shared memory)");
}

void grpc_rpc_shm_register(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    not_here(call, "SystemSharedMemoryRegister (client shared memory)");
}

void grpc_rpc_shm_unregister(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    not_here(call, "SystemSharedMemoryUnregister (client shared memory)");
}
