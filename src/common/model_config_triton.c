/* model_config <-> Triton's ModelConfig fields (include/inferd/model_config_triton.h): the
 * fields the config route and gRPC answer, and a Triton-shaped load override read back. */
#include "inferd/model_config_triton.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
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
    out->response_cache = m->response_cache != 0;
    add_param(out, "workers_min", m->workers_min);
    add_param(out, "workers_max", m->workers_max);
    add_param(out, "version", m->version > 0 ? m->version : 1);
}

/* ---- Triton's JSON -> config.json ------------------------------------------------------ */

/* "TYPE_FP32" -> "FP32", "TYPE_STRING" -> "BYTES"; NULL if unknown. */
static const char *native_type(const char *triton)
{
    if (!triton || strncmp(triton, "TYPE_", 5) != 0) return NULL;
    if (strcmp(triton, "TYPE_STRING") == 0) return "BYTES";
    const char *name = triton + 5;
    return inferd_dtype_from_name(name) != INFERD_DTYPE_INVALID ? name : NULL;
}

/* A number, or protobuf JSON's string form of an int64. 0 or -1. */
static int int_of(json_t *v, json_int_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v)) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(json_string_value(v), &end, 10);
    if (errno || end == json_string_value(v) || *end) return -1;
    *out = x;
    return 0;
}

static json_t *ios_from_triton(json_t *arr, const char *what, char *err, size_t err_len)
{
    json_t *out = json_array();
    if (!json_is_array(arr)) {
        snprintf(err, err_len, "%s: must be an array", what);
        goto fail;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        json_t *dims = json_object_get(e, "dims"), *nd = json_array(), *d;
        const char *type = native_type(json_string_value(json_object_get(e, "data_type")));
        json_t *name = json_object_get(e, "name");
        json_t *io = json_object();
        json_array_append_new(out, io);
        json_object_set_new(io, "dims", nd);
        if (!json_is_string(name) || !type || !json_is_array(dims)) {
            snprintf(err, err_len, "%s[%zu]: needs a string name, a data_type TYPE_... and dims",
                     what, i);
            goto fail;
        }
        json_object_set(io, "name", name);
        json_object_set_new(io, "datatype", json_string(type));
        size_t k;
        json_array_foreach(dims, k, d)
        {
            json_int_t x;
            if (int_of(d, &x) != 0) {
                snprintf(err, err_len, "%s[%zu].dims[%zu]: not an integer", what, i, k);
                goto fail;
            }
            json_array_append_new(nd, json_integer(x));
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* Copies the integer at src[key] (number or string) to dst[as], scaled down by div. */
static int copy_int(json_t *src, const char *key, json_t *dst, const char *as, json_int_t div,
                    char *err, size_t err_len)
{
    json_t *v = json_object_get(src, key);
    json_int_t x;
    if (!v) return 0;
    if (int_of(v, &x) != 0) {
        snprintf(err, err_len, "%s: not an integer", key);
        return -1;
    }
    json_object_set_new(dst, as, json_integer(x / div));
    return 0;
}

/* parameters workers_min / workers_max, then instance_group[0].count as the max (Triton's
 * own field wins when both are given). */
static int workers_from_triton(json_t *root, json_t *out, char *err, size_t err_len)
{
    json_t *workers = json_object();
    json_object_set_new(out, "workers", workers);
    json_t *params = json_object_get(root, "parameters");
    static const char *keys[][2] = {{"workers_min", "min"}, {"workers_max", "max"}};
    for (int i = 0; i < 2; i++) {
        json_t *p = json_object_get(params, keys[i][0]);
        if (p && copy_int(p, "string_value", workers, keys[i][1], 1, err, err_len)) return -1;
    }
    json_t *group = json_array_get(json_object_get(root, "instance_group"), 0);
    if (group && copy_int(group, "count", workers, "max", 1, err, err_len)) return -1;
    if (json_object_size(workers) == 0) json_object_del(out, "workers");
    return 0;
}

int model_config_from_triton(const char *json_text, char **native, char *err, size_t err_len)
{
    *native = NULL;
    json_error_t jerr;
    json_t *root = json_loads(json_text ? json_text : "", 0, &jerr);
    if (!json_is_object(root) ||
        (!json_object_get(root, "input") && !json_object_get(root, "output"))) {
        json_decref(root);
        return 0; /* not Triton's shape: the config.json parser says what is wrong, if anything */
    }
    json_t *out = json_object();
    int rc = -1;
    json_t *backend = json_object_get(root, "backend");
    const char *platform = json_string_value(json_object_get(root, "platform"));
    if (json_is_string(backend) && json_string_length(backend) > 0)
        json_object_set(out, "backend", backend);
    else if (platform && strcmp(platform, "onnxruntime_onnx") == 0)
        json_object_set_new(out, "backend", json_string("onnx"));
    /* an absent list stays absent (config.json's default); a present one must translate */
    json_t *in_arr = json_object_get(root, "input"), *out_arr = json_object_get(root, "output");
    json_t *ins = in_arr ? ios_from_triton(in_arr, "input", err, err_len) : json_null();
    json_t *outs = !ins      ? NULL
                   : out_arr ? ios_from_triton(out_arr, "output", err, err_len)
                             : json_null();
    json_t *db = json_object_get(root, "dynamic_batching");
    json_t *policy = json_object_get(db, "default_queue_policy");
    json_t *batching = json_object();
    json_object_set_new(out, "dynamic_batching", batching);
    if (ins && outs && !copy_int(root, "max_batch_size", out, "max_batch_size", 1, err, err_len) &&
        !copy_int(db, "max_queue_delay_microseconds", batching, "max_queue_delay_us", 1, err,
                  err_len) &&
        !copy_int(policy, "max_queue_size", out, "max_queue_size", 1, err, err_len) &&
        !copy_int(policy, "default_timeout_microseconds", out, "timeout_ms", 1000, err, err_len) &&
        !workers_from_triton(root, out, err, err_len)) {
        /* Triton's response_cache {enable} is config.json's own shape */
        json_t *cache = json_object_get(root, "response_cache");
        if (cache) json_object_set(out, "response_cache", cache);
        if (in_arr) json_object_set(out, "inputs", ins);
        if (out_arr) json_object_set(out, "outputs", outs);
        *native = json_dumps(out, JSON_COMPACT);
        if (*native) rc = 1;
        else snprintf(err, err_len, "out of memory");
    }
    json_decref(ins);
    json_decref(outs);
    json_decref(out);
    json_decref(root);
    return rc;
}
