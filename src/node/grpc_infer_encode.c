/* Finished infer_request -> ModelInferResponse (or ModelStreamInferResponse): the selected
 * outputs with their names, datatypes and shapes, and their bytes as raw_output_contents
 * packed straight from the arena into the response buffer (one copy), or, for an output the
 * request put in client shared memory, copied into that region (no raw_output_contents entry,
 * as Triton answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_infer.h"
#include "inferd/grpc_server.h"
#include "kserve.h"

uint8_t *grpc_infer_encode(const infer_request *req, const model_config *m,
                           const shm_region *region, const kserve_shm_refs *shm, const char *id,
                           int stream, size_t headroom, size_t *len, int *code, char *err,
                           size_t err_len)
{
    *code = GRPC_STATUS_INTERNAL;
    Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse__InferOutputTensor outs[MODEL_MAX_IO];
    Inference__ModelInferResponse__InferOutputTensor *outp[MODEL_MAX_IO];
    ProtobufCBinaryData raw[MODEL_MAX_IO];
    int64_t shapes[MODEL_MAX_IO][SHM_MAX_DIMS];
    char version[16];
    kserve_model_version(m, version, sizeof version);
    resp.model_name = (char *)m->name;
    resp.model_version = version;
    resp.id = (char *)(id ? id : "");
    size_t n = 0, n_raw = 0;
    for (uint32_t i = 0; i < req->n_outputs && i < MODEL_MAX_IO && i < (uint32_t)m->n_outputs;
         i++) {
        if (req->output_mask && !(req->output_mask & (1u << i))) continue;
        const shm_tensor *t = &req->outputs[i];
        if (t->ndim > SHM_MAX_DIMS || !shm_arena_range_ok(region, t->offset, t->nbytes)) {
            snprintf(err, err_len, "output '%s' lies outside the tensor arena", m->outputs[i].name);
            return NULL;
        }
        Inference__ModelInferResponse__InferOutputTensor *o = &outs[n];
        inference__model_infer_response__infer_output_tensor__init(o);
        o->name = (char *)m->outputs[i].name;
        o->datatype = (char *)inferd_dtype_name((inferd_dtype)t->dtype);
        o->n_shape = t->ndim;
        memcpy(shapes[n], t->dims, sizeof(int64_t) * t->ndim);
        o->shape = shapes[n];
        if (shm->outputs & (1u << i)) {
            int rc =
                kserve_shm_write_output(shm, (int)i, m->outputs[i].name, region, t, err, err_len);
            if (rc) {
                *code = grpc_status_from_http(rc);
                return NULL;
            }
        } else {
            raw[n_raw].data = t->nbytes ? shm_arena_ptr(region, t->offset) : NULL;
            raw[n_raw].len = (size_t)t->nbytes;
            n_raw++;
        }
        outp[n] = o;
        n++;
    }
    resp.n_outputs = n;
    resp.outputs = outp;
    resp.n_raw_output_contents = n_raw;
    resp.raw_output_contents = raw;
    Inference__ModelStreamInferResponse sresp = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
    const ProtobufCMessage *msg = &resp.base;
    if (stream) {
        sresp.error_message = "";
        sresp.infer_response = &resp;
        msg = &sresp.base;
    }
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(headroom + size);
    if (!buf) {
        snprintf(err, err_len, "out of memory for a %zu-byte response", size);
        return NULL;
    }
    protobuf_c_message_pack(msg, buf + headroom);
    *len = headroom + size;
    return buf;
}
