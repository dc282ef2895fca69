/* The gRPC ModelInfer codec: a decoded (protobuf-c) ModelInferRequest -> infer_request with
 * its tensors in the arena, checked against the model's config exactly as the JSON codec
 * checks (shape, datatype, batch size, sizes of raw contents, ranges of typed contents); and a
 * finished infer_request -> ModelInferResponse with raw_output_contents read from the arena. */
#ifndef NODE_GRPC_INFER_H
#define NODE_GRPC_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "client_shm.h"
#include "grpc_service.pb-c.h"
#include "kserve_shm.h"
#include "inferd/infer_request.h"
#include "inferd/model_config.h"
#include "inferd/shm.h"

typedef struct grpc_infer_params {
    int64_t timeout_us;  /* parameters["timeout"] in µs; -1 if absent */
    kserve_shm_refs shm; /* inputs and outputs in client shared memory */
} grpc_infer_params;

/* Decodes r for model m into req (inputs allocated in arena, in the model's input order;
 * batch_rows, output_mask, priority, delay_us) and params. Inputs and outputs may name client
 * shared memory (shared_memory_region, _byte_size, _offset parameters, resolved in cshm, which
 * may be NULL = disabled); raw_input_contents then holds one entry per input not in shared
 * memory, as Triton's clients send it. Returns 0, or a gRPC status code (INVALID_ARGUMENT;
 * UNAVAILABLE when the arena is full) with err filled; on error nothing stays allocated and
 * params holds no reference. On success the caller owns the input buffers (sched_release frees
 * them) and params->shm (kserve_shm_refs_release). */
int grpc_infer_decode(const Inference__ModelInferRequest *r, client_shm *cshm,
                      const model_config *m, const shm_region *region, shm_arena *arena,
                      infer_request *req, grpc_infer_params *params, char *err, size_t err_len);

/* Packs the ModelInferResponse of a finished request (outputs selected by req->output_mask,
 * in model order, data as raw_output_contents; an output in shm->outputs is copied into its
 * client region instead and has no raw_output_contents entry, as in Triton) into a malloc'd
 * buffer that starts with `headroom` free bytes; when `stream` the response is wrapped in a
 * ModelStreamInferResponse. Returns the buffer (caller frees) and its total length in *len, or
 * NULL with err and *code (INTERNAL: an output outside the arena, out of memory;
 * INVALID_ARGUMENT: an output does not fit its client region). */
uint8_t *grpc_infer_encode(const infer_request *req, const model_config *m,
                           const shm_region *region, const kserve_shm_refs *shm, const char *id,
                           int stream, size_t headroom, size_t *len, int *code, char *err,
                           size_t err_len);

/* gRPC status for the HTTP-style status a request was answered with (429 ->
 * RESOURCE_EXHAUSTED, 503 -> UNAVAILABLE, 504 -> DEADLINE_EXCEEDED, ...). */
int grpc_status_from_http(int http_status);

#endif
