/* A model's configuration as Triton's ModelConfig names it (model_config.proto): the one
 * mapping from model_config to Triton's fields, used by GET /v2/models/{m}/config and by the
 * gRPC ModelConfig RPC, so both front ends answer the same.
 *
 *   name, platform ("onnxruntime_onnx" for onnx, else ""), backend, max_batch_size,
 *   input/output: name, data_type ("TYPE_FP32", BYTES -> "TYPE_STRING"), dims (without the
 *     batch dimension when max_batch_size > 0, as the config.json has them; -1 = variable),
 *   dynamic_batching (only when max_batch_size > 0): preferred_batch_size [max_batch_size],
 *     max_queue_delay_microseconds, default_queue_policy {max_queue_size,
 *     default_timeout_microseconds},
 *   instance_group: one group {name "<model>", count = workers max, kind "KIND_CPU"},
 *   version_policy: latest {num_versions: 1} (the node serves the highest version folder),
 *   response_cache: {enable} (config.json's "response_cache", same shape both ways),
 *   parameters: inferd's own settings as {"key": {"string_value": "..."}} (workers_min,
 *     workers_max, version). */
#ifndef INFERD_MODEL_CONFIG_TRITON_H
#define INFERD_MODEL_CONFIG_TRITON_H

#include <stdint.h>

#include "inferd/model_config.h"

#define TRITON_MAX_PARAMS 4

typedef struct triton_io {
    const char *name;      /* borrowed from the model_config */
    const char *data_type; /* static string */
    int ndim;
    const int64_t *dims; /* borrowed, ndim of them */
} triton_io;

typedef struct triton_param {
    const char *key; /* static string */
    char value[32];
} triton_param;

typedef struct triton_model_config {
    const char *name, *platform, *backend; /* borrowed / static */
    int max_batch_size;
    int n_inputs, n_outputs;
    triton_io inputs[MODEL_MAX_IO], outputs[MODEL_MAX_IO];
    int dynamic_batching;         /* 1: the block below is present */
    int64_t preferred_batch_size; /* one value */
    int64_t max_queue_delay_us;
    int64_t max_queue_size;
    int64_t default_timeout_us;
    const char *instance_name; /* borrowed (the model's name) */
    int instance_count;
    const char *instance_kind; /* "KIND_CPU" */
    int latest_num_versions;   /* version_policy.latest.num_versions */
    int response_cache;        /* response_cache.enable */
    int n_params;
    triton_param params[TRITON_MAX_PARAMS];
} triton_model_config;

/* Triton's data_type name for dtype: "TYPE_FP32", ..., "TYPE_STRING" for BYTES,
 * "TYPE_INVALID" for an unknown value. Static string. */
const char *triton_data_type(inferd_dtype dtype);

/* Fills out from m; out borrows m's strings, so m must outlive it. */
void model_config_to_triton(const model_config *m, triton_model_config *out);

/* The other way, for a load's config override written as Triton's JSON (what Triton's
 * clients send, and what GET /v2/models/{m}/config answers): when json_text has "input" or
 * "output" (config.json has "inputs" / "outputs"), writes the config.json it means into
 * *native (malloc'd; caller frees) and returns 1: backend (or platform onnxruntime_onnx ->
 * onnx), max_batch_size, input/output (data_type TYPE_X -> X, TYPE_STRING -> BYTES; dims as
 * numbers or protobuf's strings), dynamic_batching (max_queue_delay_microseconds,
 * default_queue_policy), instance_group[0].count -> workers max, parameters workers_min /
 * workers_max; other Triton fields are ignored. Returns 0 (and *native = NULL) when the text
 * is not Triton-shaped, -1 with err when it is but does not translate. */
int model_config_from_triton(const char *json_text, char **native, char *err, size_t err_len);

#endif
