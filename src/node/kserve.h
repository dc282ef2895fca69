/* KServe v2 (Open Inference Protocol) codec for the node, JSON with Triton's binary tensor
 * and system shared-memory extensions: decodes an infer request's tensors straight into
 * shared-memory arena buffers, checked against the model's config, and encodes the outputs
 * of a finished request as the infer response. */
#ifndef NODE_KSERVE_H
#define NODE_KSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "client_shm.h"
#include "kserve_shm.h"
#include "inferd/http_buf.h"
#include "inferd/http_server.h"
#include "inferd/infer_request.h"
#include "inferd/model_config.h"
#include "inferd/shm.h"

typedef struct kserve_params {
    char *id; /* the request's "id", malloc'd, or NULL */
    size_t id_len;
    int64_t timeout_us; /* parameters.timeout; -1 if absent */
    /* how each output is answered (bit i = model output i) */
    uint32_t binary_outputs; /* as binary data after the JSON header */
    kserve_shm_refs shm;     /* inputs and outputs in client shared memory */
} kserve_params;

/* Decodes an infer request for model m into req: inputs (allocated in the arena, in the
 * model's input order), batch_rows, output_mask, priority, delay_us, and into params how the
 * outputs are to be answered. The body's first json_len bytes are the JSON header and the
 * rest the inputs' binary data (json_len == len: no binary part; json_len == 0: the raw form,
 * the whole body is the only input's bytes; see kserve_binary_split). cshm (may be NULL =
 * disabled) resolves shared_memory_region parameters. Returns 0, or an HTTP status (400, or
 * 503 when the arena is full) with err filled; on error nothing stays allocated in the arena
 * and params holds nothing. On success the caller owns req's input buffers (sched_release
 * frees them) and params (kserve_params_free). */
int kserve_decode_infer(const char *body, size_t len, size_t json_len, client_shm *cshm,
                        const model_config *m, const shm_region *region, shm_arena *arena,
                        infer_request *req, kserve_params *params, char *err, size_t err_len);

/* Frees params->id and drops its shared-memory references. */
void kserve_params_free(client_shm *cshm, kserve_params *params);

/* Frees req's input buffers (only for a request never given to the scheduler). */
void kserve_free_inputs(shm_arena *arena, infer_request *req);

/* A failed decode's unwind: frees the arena blocks of the inputs marked in seen (indexed by
 * the model's input number, MODEL_MAX_IO entries), zeroes every input and sets n_inputs to 0.
 * The JSON, binary and gRPC decoders all leave a request this way on error. */
void kserve_unwind_inputs(shm_arena *arena, infer_request *req, const int *seen);

/* Encodes the infer response for a finished request: the outputs selected by
 * req->output_mask, each as JSON data, or (params->binary_outputs) as binary data, or
 * (params->shm.outputs) copied into the client's region. Appends the JSON to out; the binary
 * outputs' bytes are not copied: spans[0..*n_spans) point at them in the arena, to be sent
 * after the JSON in that order; *json_only is 1 when no output is binary (then the body is
 * plain JSON without Inference-Header-Content-Length). Every output is checked against the
 * arena first. Returns 0, 400 (an output does not fit its client region) or 500 (an output
 * tensor is inconsistent), with err. */
int kserve_encode_infer(const infer_request *req, const model_config *m, const shm_region *region,
                        const kserve_params *params, http_buf *out, http_span *spans, int *n_spans,
                        int *json_only, char *err, size_t err_len);

/* Checks a finished output tensor before any byte of it is answered: a valid datatype and
 * shape, inside the arena, nbytes matching the shape (BYTES: a whole walk). 0, or -1 with err. */
int kserve_check_output(const shm_region *region, const shm_tensor *t, char *err, size_t err_len);

/* Appends the data of tensor t as a flat JSON array. Returns 0 or -1 with err. */
int kserve_encode_data(const shm_region *region, const shm_tensor *t, http_buf *out, char *err,
                       size_t err_len);

/* Checks an input's shape (nd dims) against model input io: the model's rank (plus the batch
 * dimension first when max_batch > 0, within 1..max_batch), its fixed dimensions, each in
 * 0..2^40; sets t->ndim and t->dims. 0, or -1 with err. */
int kserve_check_shape(const int64_t *dims, size_t nd, const model_io *io, int max_batch,
                       shm_tensor *t, char *err, size_t err_len);

/* One input's JSON data, text[0..text_len) (the value of its "data"), decoded into a new
 * arena block: t has its dtype and shape (kserve_check_shape), elements is their product and
 * body_len the length of the JSON it came from (every element takes a byte of it). On success
 * t->offset and t->nbytes are set, req->inputs[j] = *t and seen[j] = 1; so too once the block
 * is allocated and the data then fails, for the caller's kserve_unwind_inputs. Returns 0, or
 * -1 with err (and *status = 503 when the arena has no room). */
int kserve_decode_json_data(const char *text, size_t text_len, size_t body_len, const model_io *io,
                            shm_tensor *t, int64_t elements, const shm_region *region,
                            shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                            size_t err_len, int *status);

/* kserve_decode_infer's fast path for the common request, a body of exactly
 * {"inputs": [{"name", "datatype", "shape", "data"}, ...]} (any key order, no other key),
 * read in one pass without a JSON tree. Returns 1 with req decoded exactly as
 * kserve_decode_infer would (the caller sets what it sets before: params, priority,
 * delay_us), or 0 with req's inputs zeroed and nothing held in the arena, for anything else
 * or any error: the full decoder then answers it. */
int kserve_decode_fast(const char *body, size_t len, const model_config *m,
                       const shm_region *region, shm_arena *arena, infer_request *req);

/* The model's input (outputs = 0) or output (outputs = 1) called name, named by entry idx of
 * the request's list; bit i of `taken` set = that one was given already. Returns its index, or
 * -1 with err ("inputs[1]: model 'm' has no input 'x'", "... given twice"). Both front ends
 * (JSON and gRPC) name tensors this way. */
int kserve_find_io(const model_config *m, int outputs, size_t idx, const char *name, uint32_t taken,
                   char *err, size_t err_len);

/* Number of elements of t (product of dims), or -1 if ndim/dims are invalid or overflow. */
int64_t kserve_tensor_elements(const shm_tensor *t);

/* The version string the node reports for m ("1" when the model has no version folder). */
void kserve_model_version(const model_config *m, char *buf, size_t len);

#endif
