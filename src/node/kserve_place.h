/* Shared by the KServe (HTTP) and gRPC decoders: placing an input's bytes that arrive whole
 * (binary data after the JSON header, gRPC raw contents, a client shared-memory region) into
 * the arena; and, for the JSON codec, the raw binary form and the shared_memory_* parameters. */
#ifndef NODE_KSERVE_PLACE_H
#define NODE_KSERVE_PLACE_H

#include <jansson.h>

#include "kserve.h"

/* Reads the shared_memory_* parameters (params may be NULL). what: "input 'x'" or
 * "outputs[3]", for messages. 0, or -1 with err (one without the other, wrong types). */
int kserve_shm_params(const json_t *params, const char *what, kserve_shm_spec *s, char *err,
                      size_t err_len);

/* Allocates n bytes (8 when n is 0) in the arena for input j of shape t (dtype, dims set)
 * and records them: t->offset, t->nbytes = n, req->inputs[j] = *t, seen[j] = 1 (the caller
 * frees what seen[] marks). Returns the block, or NULL with err and *status = 503 when the
 * arena has no room. tname: the input's name, for the message. */
uint8_t *kserve_place_alloc(const char *tname, shm_tensor *t, uint64_t n, const shm_region *region,
                            shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                            size_t err_len, int *status);

/* Copies n bytes from src into a new arena buffer for input j of shape t (dtype, dims set),
 * then checks the copy: n must be elements x datatype size, or for BYTES a walk of exactly
 * `elements` elements. On success req->inputs[j] = the tensor and seen[j] = 1; on a failed
 * check too (the caller frees what seen[] marks). Returns 0, or -1 with err and *status (400,
 * 503 when the arena is full). what: "binary data", "shared memory", for messages.
 * from_client: src is client shared memory (copied with client_shm_copy). */
int kserve_place_bytes(const char *tname, const char *what, shm_tensor *t, int64_t elements,
                       const uint8_t *src, uint64_t n, int from_client, const shm_region *region,
                       shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                       size_t err_len, int *status);

/* The raw form: the whole body is the bytes of m's only input; its shape is the model's
 * (batch 1 when batched), with at most one variable dimension, found from the size. All
 * outputs come back binary. Same contract as kserve_decode_infer. */
int kserve_decode_raw(const char *body, size_t len, const model_config *m, const shm_region *region,
                      shm_arena *arena, infer_request *req, kserve_params *params, char *err,
                      size_t err_len);

#endif
