/* ModelInferRequest (already unpacked by protobuf-c) -> infer_request: every input checked
 * against the model (name, datatype, shape, batch size) and copied once into its arena
 * buffer, from raw_input_contents or from the typed contents field of its datatype. */
#include <stdio.h>
#include <string.h>

#include "grpc_infer.h"
#include "inferd/grpc_server.h"
#include "kserve.h"
#include "kserve_place.h"

/* The parameter maps of requests, inputs and outputs are distinct generated types of one
 * layout (base, key, value); read them through the request-level one. */
typedef Inference__ModelInferRequest__ParametersEntry param_entry;

static const Inference__InferParameter *param_get(size_t n, void *const *entries, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const param_entry *e = entries[i];
        if (e->key && strcmp(e->key, key) == 0) return e->value;
    }
    return NULL;
}

static int param_int(const Inference__InferParameter *p, int64_t *v)
{
    if (!p) return -1;
    if (p->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM) {
        *v = p->int64_param;
        return 0;
    }
    if (p->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM &&
        p->uint64_param <= INT64_MAX) {
        *v = (int64_t)p->uint64_param;
        return 0;
    }
    return -1;
}

/* shared_memory_region (string_param), shared_memory_byte_size and shared_memory_offset
 * (int64_param or uint64_param) of one input or output. 0, or -1 with err. */
static int shm_spec(size_t n, void *const *entries, const char *what, kserve_shm_spec *s, char *err,
                    size_t err_len)
{
    memset(s, 0, sizeof *s);
    const Inference__InferParameter *r = param_get(n, entries, "shared_memory_region");
    const Inference__InferParameter *size = param_get(n, entries, "shared_memory_byte_size");
    const Inference__InferParameter *off = param_get(n, entries, "shared_memory_offset");
    int64_t v;
    if (r &&
        r->parameter_choice_case != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM) {
        snprintf(err, err_len, "%s: parameters.shared_memory_region must be a string_param", what);
        return -1;
    }
    if (size) {
        if (param_int(size, &v) || v < 0) goto bad_int;
        s->byte_size = (uint64_t)v;
    }
    if (off) {
        if (param_int(off, &v) || v < 0) goto bad_int;
        s->offset = (uint64_t)v;
    }
    if (kserve_shm_spec_check(s, r != NULL, size != NULL, off != NULL, what, err, err_len))
        return -1;
    s->region = r ? r->string_param : NULL;
    return 0;
bad_int:
    snprintf(err, err_len,
             "%s: parameters.shared_memory_byte_size and shared_memory_offset must be "
             "non-negative int64_param or uint64_param",
             what);
    return -1;
}

/* Number of elements the typed contents hold for dtype, or -1 if the type has no typed form. */
static int64_t typed_count(const Inference__InferTensorContents *c, inferd_dtype dt)
{
    switch (dt) {
    case INFERD_DTYPE_BOOL: return (int64_t)c->n_bool_contents;
    case INFERD_DTYPE_INT8:
    case INFERD_DTYPE_INT16:
    case INFERD_DTYPE_INT32: return (int64_t)c->n_int_contents;
    case INFERD_DTYPE_INT64: return (int64_t)c->n_int64_contents;
    case INFERD_DTYPE_UINT8:
    case INFERD_DTYPE_UINT16:
    case INFERD_DTYPE_UINT32: return (int64_t)c->n_uint_contents;
    case INFERD_DTYPE_UINT64: return (int64_t)c->n_uint64_contents;
    case INFERD_DTYPE_FP32: return (int64_t)c->n_fp32_contents;
    case INFERD_DTYPE_FP64: return (int64_t)c->n_fp64_contents;
    case INFERD_DTYPE_BYTES: return (int64_t)c->n_bytes_contents;
    default: return -1;
    }
}

static int64_t contents_total(const Inference__InferTensorContents *c)
{
    return (int64_t)(c->n_bool_contents + c->n_int_contents + c->n_int64_contents +
                     c->n_uint_contents + c->n_uint64_contents + c->n_fp32_contents +
                     c->n_fp64_contents + c->n_bytes_contents);
}

/* Checks the ranges of narrow integer types; then writes the typed contents to dst. */
static int typed_check(const Inference__InferTensorContents *c, inferd_dtype dt, const char *name,
                       char *err, size_t err_len)
{
    int64_t lo = 0, hi = 0;
    int is_signed = dt == INFERD_DTYPE_INT8 || dt == INFERD_DTYPE_INT16;
    if (dt == INFERD_DTYPE_INT8) lo = INT8_MIN, hi = INT8_MAX;
    else if (dt == INFERD_DTYPE_INT16) lo = INT16_MIN, hi = INT16_MAX;
    else if (dt == INFERD_DTYPE_UINT8) hi = UINT8_MAX;
    else if (dt == INFERD_DTYPE_UINT16) hi = UINT16_MAX;
    else return 0;
    size_t n = is_signed ? c->n_int_contents : c->n_uint_contents;
    for (size_t i = 0; i < n; i++) {
        int64_t v = is_signed ? c->int_contents[i] : (int64_t)c->uint_contents[i];
        if (v < lo || v > hi) {
            snprintf(err, err_len, "input '%s': contents element %zu: %lld is out of range for %s",
                     name, i, (long long)v, inferd_dtype_name(dt));
            return -1;
        }
    }
    return 0;
}

static void typed_write(const Inference__InferTensorContents *c, inferd_dtype dt, uint8_t *dst)
{
    size_t i;
    /* An empty tensor (a 0 in its shape) has no contents array to copy: protobuf-c leaves the
     * pointer NULL, and memcpy from NULL is undefined even for 0 bytes. */
    if (typed_count(c, dt) == 0) return;
    switch (dt) {
    case INFERD_DTYPE_BOOL:
        for (i = 0; i < c->n_bool_contents; i++) dst[i] = c->bool_contents[i] ? 1 : 0;
        break;
    case INFERD_DTYPE_INT8:
        for (i = 0; i < c->n_int_contents; i++) dst[i] = (uint8_t)(int8_t)c->int_contents[i];
        break;
    case INFERD_DTYPE_INT16:
        for (i = 0; i < c->n_int_contents; i++) {
            int16_t v = (int16_t)c->int_contents[i];
            memcpy(dst + 2 * i, &v, 2);
        }
        break;
    case INFERD_DTYPE_UINT8:
        for (i = 0; i < c->n_uint_contents; i++) dst[i] = (uint8_t)c->uint_contents[i];
        break;
    case INFERD_DTYPE_UINT16:
        for (i = 0; i < c->n_uint_contents; i++) {
            uint16_t v = (uint16_t)c->uint_contents[i];
            memcpy(dst + 2 * i, &v, 2);
        }
        break;
    case INFERD_DTYPE_INT32: memcpy(dst, c->int_contents, c->n_int_contents * 4); break;
    case INFERD_DTYPE_UINT32: memcpy(dst, c->uint_contents, c->n_uint_contents * 4); break;
    case INFERD_DTYPE_INT64: memcpy(dst, c->int64_contents, c->n_int64_contents * 8); break;
    case INFERD_DTYPE_UINT64: memcpy(dst, c->uint64_contents, c->n_uint64_contents * 8); break;
    case INFERD_DTYPE_FP32: memcpy(dst, c->fp32_contents, c->n_fp32_contents * 4); break;
    case INFERD_DTYPE_FP64: memcpy(dst, c->fp64_contents, c->n_fp64_contents * 8); break;
    case INFERD_DTYPE_BYTES:
        for (i = 0; i < c->n_bytes_contents; i++) {
            uint32_t l = (uint32_t)c->bytes_contents[i].len;
            memcpy(dst, &l, 4);
            if (l) memcpy(dst + 4, c->bytes_contents[i].data, l);
            dst += 4 + (size_t)l;
        }
        break;
    default: break;
    }
}

/* An input from the typed contents field of its datatype, range-checked, into a new arena
 * buffer (status 503 when the arena is full). */
static int decode_typed(const Inference__InferTensorContents *c, const model_io *io,
                        int64_t elements, shm_tensor *t, const shm_region *region, shm_arena *arena,
                        infer_request *req, int j, int *seen, char *err, size_t err_len,
                        int *status)
{
    inferd_dtype dt = io->dtype;
    int64_t have = c ? typed_count(c, dt) : 0;
    if (dt == INFERD_DTYPE_FP16 || dt == INFERD_DTYPE_BF16) {
        snprintf(err, err_len,
                 "input '%s': datatype %s has no typed contents field; send it in "
                 "raw_input_contents",
                 io->name, inferd_dtype_name(dt));
        return -1;
    }
    if (!c || have != elements || contents_total(c) != have) {
        snprintf(err, err_len,
                 "input '%s': the shape holds %lld elements but the contents field for %s has "
                 "%lld (and no raw_input_contents was sent)",
                 io->name, (long long)elements, inferd_dtype_name(dt), (long long)have);
        return -1;
    }
    if (typed_check(c, dt, io->name, err, err_len)) return -1;
    uint64_t nbytes = (uint64_t)elements * inferd_dtype_size(dt);
    if (dt == INFERD_DTYPE_BYTES) {
        nbytes = 0;
        for (size_t i = 0; i < c->n_bytes_contents; i++) {
            if (c->bytes_contents[i].len > UINT32_MAX) {
                snprintf(err, err_len, "input '%s': a BYTES element over 4 GiB", io->name);
                return -1;
            }
            nbytes += 4 + (uint64_t)c->bytes_contents[i].len;
        }
    }
    uint8_t *dst =
        kserve_place_alloc(io->name, t, nbytes, region, arena, req, j, seen, err, err_len, status);
    if (!dst) return -1;
    typed_write(c, dt, dst);
    return 0;
}

/* Where the request's inputs take their bytes from: a client region (shm[k]), else the next
 * raw_input_contents entry (one per input not in shared memory, in order), else contents. */
typedef struct input_sources {
    kserve_shm_spec shm[MODEL_MAX_IO]; /* by request input index (n_inputs <= MODEL_MAX_IO) */
    size_t next_raw;
} input_sources;

static int decode_input(const Inference__ModelInferRequest *r, size_t idx, input_sources *src,
                        client_shm *cshm, const model_config *m, const shm_region *region,
                        shm_arena *arena, infer_request *req, kserve_shm_refs *refs, int *seen,
                        char *err, size_t err_len, int *status)
{
    const Inference__ModelInferRequest__InferInputTensor *in = r->inputs[idx];
    const char *name = in->name ? in->name : "";
    uint32_t taken = 0;
    for (int k = 0; k < m->n_inputs; k++)
        if (seen[k]) taken |= 1u << k;
    int j = kserve_find_io(m, 0, idx, name, taken, err, err_len);
    if (j < 0) return -1;
    const model_io *io = &m->inputs[j];
    inferd_dtype dt = inferd_dtype_from_name(in->datatype ? in->datatype : "");
    if (dt != io->dtype) {
        snprintf(err, err_len, "input '%s': datatype '%.16s' does not match the model's %s",
                 io->name, in->datatype ? in->datatype : "", inferd_dtype_name(io->dtype));
        return -1;
    }
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (uint32_t)dt;
    if (kserve_check_shape(in->shape, in->n_shape, io, m->max_batch_size, &t, err, err_len))
        return -1;
    int64_t elements = kserve_tensor_elements(&t);
    if (elements < 0) {
        snprintf(err, err_len, "input '%s': shape is too large", io->name);
        return -1;
    }
    const Inference__InferTensorContents *c = in->contents;
    const kserve_shm_spec *shm = &src->shm[idx];
    int use_raw = !shm->present && r->n_raw_input_contents > 0;
    if ((shm->present || use_raw) && c && contents_total(c)) {
        snprintf(err, err_len, "input '%s': has contents while %s (use one or the other)", io->name,
                 shm->present ? "it names a shared_memory_region"
                              : "the request has raw_input_contents");
        return -1;
    }
    if (shm->present) {
        if (kserve_shm_place_input(cshm, shm, refs, io->name, &t, elements, region, arena, req, j,
                                   seen, err, err_len, status))
            return -1;
    } else if (use_raw) {
        const ProtobufCBinaryData *raw = &r->raw_input_contents[src->next_raw++];
        if (kserve_place_bytes(io->name, "raw_input_contents", &t, elements, raw->data, raw->len, 0,
                               region, arena, req, j, seen, err, err_len, status))
            return -1;
    } else if (decode_typed(c, io, elements, &t, region, arena, req, j, seen, err, err_len,
                            status)) {
        return -1;
    }
    if (m->max_batch_size > 0) {
        if (req->batch_rows && req->batch_rows != t.dims[0]) {
            snprintf(err, err_len, "input '%s': batch size %lld differs from another input's %lld",
                     io->name, (long long)t.dims[0], (long long)req->batch_rows);
            return -1;
        }
        req->batch_rows = t.dims[0];
    }
    return 0;
}

static int decode_params(const Inference__ModelInferRequest *r, const model_config *m,
                         infer_request *req, grpc_infer_params *out, char *err, size_t err_len)
{
    void *const *e = (void *const *)r->parameters;
    const Inference__InferParameter *p;
    int64_t v;
    if ((p = param_get(r->n_parameters, e, "timeout"))) {
        if (param_int(p, &v) || v < 0) {
            snprintf(err, err_len,
                     "parameters.timeout: must be a non-negative int64_param (microseconds)");
            return -1;
        }
        out->timeout_us = v;
    }
    if ((p = param_get(r->n_parameters, e, "priority"))) {
        if (param_int(p, &v) || v < -1000000 || v > 1000000) {
            snprintf(err, err_len,
                     "parameters.priority: must be an integer in [-1000000, 1000000]");
            return -1;
        }
        req->priority = (int)v;
    }
    if ((p = param_get(r->n_parameters, e, "delay_ms"))) {
        if (param_int(p, &v) || v < 0 || v > m->max_delay_ms) {
            snprintf(err, err_len,
                     "parameters.delay_ms: must be an integer in [0, %lld] (the model's "
                     "max_delay_ms)",
                     (long long)m->max_delay_ms);
            return -1;
        }
        req->delay_us = v * 1000;
    }
    return 0;
}

static int decode_outputs(const Inference__ModelInferRequest *r, client_shm *cshm,
                          const model_config *m, infer_request *req, kserve_shm_refs *refs,
                          char *err, size_t err_len)
{
    req->output_mask = 0;
    for (size_t i = 0; i < r->n_outputs; i++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *o = r->outputs[i];
        const char *name = o->name ? o->name : "";
        int j = kserve_find_io(m, 1, i, name, req->output_mask, err, err_len);
        if (j < 0) return -1;
        void *const *e = (void *const *)o->parameters;
        if (param_get(o->n_parameters, e, "classification")) {
            snprintf(err, err_len, "outputs[%zu]: the classification extension is not supported",
                     i);
            return -1;
        }
        char what[32];
        snprintf(what, sizeof what, "outputs[%zu]", i);
        kserve_shm_spec shm;
        if (shm_spec(o->n_parameters, e, what, &shm, err, err_len)) return -1;
        if (shm.present && kserve_shm_take_output(cshm, &shm, refs, j, what, err, err_len))
            return -1;
        req->output_mask |= 1u << j;
    }
    return 0;
}

int grpc_infer_decode(const Inference__ModelInferRequest *r, client_shm *cshm,
                      const model_config *m, const shm_region *region, shm_arena *arena,
                      infer_request *req, grpc_infer_params *params, char *err, size_t err_len)
{
    memset(params, 0, sizeof *params);
    params->timeout_us = -1;
    req->n_inputs = 0;
    req->batch_rows = 1;
    req->priority = 0;
    req->delay_us = -1;
    memset(req->inputs, 0, sizeof req->inputs);
    int status = 400;
    int seen[MODEL_MAX_IO] = {0};
    input_sources src;
    memset(&src, 0, sizeof src);
    if (decode_params(r, m, req, params, err, err_len)) goto fail;
    if (decode_outputs(r, cshm, m, req, &params->shm, err, err_len)) goto fail;
    if (r->n_inputs != (size_t)m->n_inputs) {
        snprintf(err, err_len, "model '%s' takes %d input%s, the request has %zu", m->name,
                 m->n_inputs, m->n_inputs == 1 ? "" : "s", r->n_inputs);
        goto fail;
    }
    size_t n_plain = 0; /* inputs not in shared memory: each takes one raw entry */
    for (size_t i = 0; i < r->n_inputs; i++) {
        const Inference__ModelInferRequest__InferInputTensor *in = r->inputs[i];
        char what[MODEL_NAME_LEN + 16];
        snprintf(what, sizeof what, "input '%.64s'", in->name ? in->name : "");
        if (shm_spec(in->n_parameters, (void *const *)in->parameters, what, &src.shm[i], err,
                     err_len))
            goto fail;
        n_plain += !src.shm[i].present;
    }
    if (r->n_raw_input_contents && r->n_raw_input_contents != n_plain) {
        snprintf(err, err_len,
                 "raw_input_contents has %zu entries, the request has %zu inputs not in shared "
                 "memory (one entry each, in order)",
                 r->n_raw_input_contents, n_plain);
        goto fail;
    }
    req->batch_rows = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        if (decode_input(r, i, &src, cshm, m, region, arena, req, &params->shm, seen, err, err_len,
                         &status))
            goto fail;
    req->n_inputs = (uint32_t)m->n_inputs;
    if (m->max_batch_size == 0) req->batch_rows = 1;
    return 0;
fail:
    kserve_unwind_inputs(arena, req, seen);
    kserve_shm_refs_release(cshm, &params->shm);
    return grpc_status_from_http(status);
}

int grpc_status_from_http(int http_status)
{
    switch (http_status) {
    case 0: return GRPC_STATUS_OK;
    case 400: return GRPC_STATUS_INVALID_ARGUMENT;
    case 404: return GRPC_STATUS_NOT_FOUND;
    case 413:
    case 429: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case 499: return GRPC_STATUS_CANCELLED;
    case 503: return GRPC_STATUS_UNAVAILABLE;
    case 504: return GRPC_STATUS_DEADLINE_EXCEEDED;
    default: return GRPC_STATUS_INTERNAL;
    }
}
