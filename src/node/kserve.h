/* KServe v2 (Open Inference Protocol) JSON codec for the node: decodes an infer request's
 * tensors straight into shared-memory arena buffers, checked against the model's config, and
 * encodes the outputs of a finished request as the infer response. */
#ifndef NODE_KSERVE_H
#define NODE_KSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/http_buf.h"
#include "inferd/infer_request.h"
#include "inferd/model_config.h"
#include "inferd/shm.h"

typedef struct kserve_params {
    char *id; /* the request's "id", malloc'd (caller frees), or NULL */
    size_t id_len;
    int64_t timeout_us; /* parameters.timeout; -1 if absent */
} kserve_params;

/* Decodes a JSON infer request for model m into req: inputs (allocated in the arena, in the
 * model's input order), batch_rows, output_mask, priority, delay_us. Returns 0, or an HTTP
 * status (400, or 503 when the arena is full) with err filled; on error nothing stays
 * allocated in the arena and params->id is NULL. On success the caller owns req's input
 * buffers (sched_release frees them) and params->id. */
int kserve_decode_infer(const char *body, size_t len, const model_config *m,
                        const shm_region *region, shm_arena *arena, infer_request *req,
                        kserve_params *params, char *err, size_t err_len);

/* Frees req's input buffers (only for a request never given to the scheduler). */
void kserve_free_inputs(shm_arena *arena, infer_request *req);

/* Appends the JSON infer response for a finished request (the outputs selected by
 * req->output_mask, data read from the arena and bounds-checked). Returns 0, or -1 with err
 * if an output tensor is inconsistent (answer 500). */
int kserve_encode_infer(const infer_request *req, const model_config *m, const shm_region *region,
                        const char *id, size_t id_len, http_buf *out, char *err, size_t err_len);

/* Appends the data of tensor t as a flat JSON array. Returns 0 or -1 with err. */
int kserve_encode_data(const shm_region *region, const shm_tensor *t, http_buf *out, char *err,
                       size_t err_len);

/* Number of elements of t (product of dims), or -1 if ndim/dims are invalid or overflow. */
int64_t kserve_tensor_elements(const shm_tensor *t);

/* The version string the node reports for m ("1" when the model has no version folder). */
void kserve_model_version(const model_config *m, char *buf, size_t len);

#endif
