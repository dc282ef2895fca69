/* A model's configuration, read from <repository>/<model>/config.json. Shared by the node
 * (routing, validation, batching, worker pool sizing) and by workers (backend settings).
 *
 * config.json (every field but "backend" optional):
 *   {
 *     "backend": "reverse" | "identity" | "delay" | "onnx",
 *     "max_batch_size": 64,            0 = not batched: dims are full shapes
 *     "inputs":  [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
 *     "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
 *     "workers": {"min": 2, "max": 4},  the default; given one, the other follows it
 *     "dynamic_batching": {"max_queue_delay_us": 0},
 *     "max_queue_size": 1024,          requests waiting in the node; beyond => 429
 *     "timeout_ms": 30000,             default per-request timeout (0 = none)
 *     "hang_timeout_ms": 10000,        worker holding a batch this long without heartbeat => killed
 *     "idle_timeout_ms": 30000,        a worker above min idle this long => stopped
 *     "delay_ms": 1000,                `delay` backend: default per-request delay
 *     "max_delay_ms": 300000,          largest parameters.delay_ms a request may ask (=> 400);
 *                                      default 300000 or delay_ms if larger; >= delay_ms
 *     "arena_mb": 64,                  this model's own tensor arena, MiB (1..1048576); 0 / absent
 *                                      = the node's --arena-mb divided over the models
 *     "threads": 1,                    `onnx` backend: compute threads per worker (1..64), one
 *                                      pool per session (docs/onnx-runtime.md, "Threads")
 *     "response_cache": {"enable": false}  answers kept in the node's response cache
 *                                      (--cache-bytes; docs/cache.md)
 *   }
 * dims exclude the batch dimension when max_batch_size > 0 (Triton's convention); -1 = any. */
#ifndef INFERD_MODEL_CONFIG_H
#define INFERD_MODEL_CONFIG_H

#include <stdint.h>

#include "inferd/dtype.h"

#define MODEL_NAME_LEN 64
#define MODEL_MAX_IO   16
#define MODEL_MAX_DIMS 8
#define MODEL_PATH_LEN 1024

typedef struct model_io {
    char name[MODEL_NAME_LEN];
    inferd_dtype dtype;
    int ndim;
    int64_t dims[MODEL_MAX_DIMS]; /* -1 = variable */
} model_io;

typedef struct model_config {
    char name[MODEL_NAME_LEN]; /* the folder name */
    char dir[MODEL_PATH_LEN];  /* the model's folder */
    char backend[32];
    int version;                     /* highest numeric version folder; 0 if none */
    char model_file[MODEL_PATH_LEN]; /* onnx: <dir>/<version>/model.onnx; "" otherwise */
    int max_batch_size;
    int n_inputs, n_outputs;
    model_io inputs[MODEL_MAX_IO];
    model_io outputs[MODEL_MAX_IO];
    int workers_min, workers_max;
    int64_t max_queue_delay_us;
    int max_queue_size;
    int64_t timeout_ms;
    int64_t hang_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t delay_ms;
    int64_t max_delay_ms;
    int64_t arena_mb; /* 0 = the node's share (see above) */
    int threads;      /* onnx backend: compute threads per worker session, default 1 */
    /* 1: answers go through the node's response cache (docs/cache.md) */
    int response_cache;
} model_config;

/* Parses config.json text for the model `name` in folder `dir` into out (defaults filled
 * first). Returns 0, or -1 with a reason in err ("inputs[1].datatype: unknown type 'FP8'"). */
int model_config_parse(const char *name, const char *dir, const char *json_text, model_config *out,
                       char *err, size_t err_len);

/* Reads and parses <dir>/config.json (name = the folder's base name). 0 or -1 with err. */
int model_config_load(const char *dir, model_config *out, char *err, size_t err_len);

/* The model folder names under repo_dir (sub-directories not starting with '.'), sorted. 0
 * with a malloc'd array of malloc'd names (free with model_repository_list_free), or -1 with
 * err if repo_dir cannot be read. */
int model_repository_list(const char *repo_dir, char ***names, int *count, char *err,
                          size_t err_len);
void model_repository_list_free(char **names, int count);

/* Loads every model folder under repo_dir, in name order. A folder whose config is broken is
 * logged (path and reason) and skipped; the others still load. Returns 0 with a malloc'd
 * array in *models (caller frees with free()) and its length, or -1 with err if repo_dir
 * cannot be read. */
int model_repository_load(const char *repo_dir, model_config **models, int *count, char *err,
                          size_t err_len);

#endif
