/* model_config -> Triton's ModelConfig fields (include/inferd/model_config_triton.h). */
#include "inferd/model_config_triton.h"

#include <stdio.h>
#include <string.h>

const char *triton_data_type(inferd_dtype dtype)
{
    switch (dtype) {
    case INFERD_DTYPE_BOOL: return "TYPE_BOOL";
    case INFERD_DTYPE_UINT8: return "TYPE_UINT8";
    case INFERD_DTYPE_UINT16: return "TYPE_UINT16";
    case INFERD_DTYPE_UINT32: return "TYPE_UINT32";
    case INFERD_DTYPE_UINT64: return "TYPE_UINT64";
    case INFERD_DTYPE_INT8: return "TYPE_INT8";
    case INFERD_DTYPE_INT16: return "TYPE_INT16";
    case INFERD_DTYPE_INT32: return "TYPE_INT32";
    case INFERD_DTYPE_INT64: return "TYPE_INT64";
    case INFERD_DTYPE_FP16: return "TYPE_FP16";
    case INFERD_DTYPE_FP32: return "TYPE_FP32";
    case INFERD_DTYPE_FP64: return "TYPE_FP64";
    case INFERD_DTYPE_BF16: return "TYPE_BF16";
    case INFERD_DTYPE_BYTES: return "TYPE_STRING";
    default: return "TYPE_INVALID";
    }
}

static void map_ios(const model_io *ios, int n, triton_io *out)
{
    for (int i = 0; i < n; i++) {
        out[i].name = ios[i].name;
        out[i].data_type = triton_data_type(ios[i].dtype);
        out[i].ndim = ios[i].ndim;
        out[i].dims = ios[i].dims;
    }
}

static void add_param(triton_model_config *out, const char *key, long long value)
{
    if (out->n_params >= TRITON_MAX_PARAMS) return;
    triton_param *p = &out->params[out->n_params++];
    p->key = key;
    snprintf(p->value, sizeof p->value, "%lld", value);
}

void model_config_to_triton(const model_config *m, triton_model_config *out)
{
    memset(out, 0, sizeof *out);
    out->name = m->name;
    out->platform = strcmp(m->backend, "onnx") == 0 ? "onnxruntime_onnx" : "";
    out->backend = m->backend;
    out->max_batch_size = m->max_batch_size;
    out->n_inputs = m->n_inputs < MODEL_MAX_IO ? m->n_inputs : MODEL_MAX_IO;
    out->n_outputs = m->n_outputs < MODEL_MAX_IO ? m->n_outputs : MODEL_MAX_IO;
    map_ios(m->inputs, out->n_inputs, out->inputs);
    map_ios(m->outputs, out->n_outputs, out->outputs);
    if (m->max_batch_size > 0) {
        out->dynamic_batching = 1;
        out->preferred_batch_size = m->max_batch_size;
        out->max_queue_delay_us = m->max_queue_delay_us;
        out->max_queue_size = m->max_queue_size;
        out->default_timeout_us = m->timeout_ms * 1000;
    }
    out->instance_name = m->name;
    out->instance_count = m->workers_max;
    out->instance_kind = "KIND_CPU";
    out->latest_num_versions = 1;
    add_param(out, "workers_min", m->workers_min);
    add_param(out, "workers_max", m->workers_max);
    add_param(out, "version", m->version > 0 ? m->version : 1);
}
