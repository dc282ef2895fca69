/* KServe v2 JSON infer request -> infer_request with its input tensors written straight into
 * arena buffers (no intermediate tensor copy), checked against the model config. */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kserve.h"

#define MAX_ELEMENTS ((int64_t)1 << 40)

void kserve_model_version(const model_config *m, char *buf, size_t len)
{
    snprintf(buf, len, "%d", m->version > 0 ? m->version : 1);
}

int64_t kserve_tensor_elements(const shm_tensor *t)
{
    if (t->ndim > SHM_MAX_DIMS) return -1;
    int64_t n = 1;
    for (uint32_t i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0 || t->dims[i] > MAX_ELEMENTS) return -1;
        if (t->dims[i] && n > MAX_ELEMENTS / t->dims[i]) return -1;
        n *= t->dims[i];
    }
    return n;
}

void kserve_free_inputs(shm_arena *arena, infer_request *req)
{
    for (uint32_t i = 0; i < req->n_inputs; i++) {
        shm_arena_free(arena, req->inputs[i].offset);
        memset(&req->inputs[i], 0, sizeof req->inputs[i]);
    }
    req->n_inputs = 0;
}

/* ---- element writing ------------------------------------------------------------------ */
typedef struct decoder {
    const char *tname;        /* input name, for messages */
    inferd_dtype dtype;
    const shm_tensor *t;
    uint8_t *dst;             /* NULL while measuring BYTES */
    uint64_t pos;             /* BYTES: write position; else unused */
    uint64_t bytes_total;     /* BYTES: measured size */
    int64_t index;            /* next element index */
    char *err;
    size_t err_len;
} decoder;

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int bad_element(decoder *d, const json_t *v, const char *want)
{
    snprintf(d->err, d->err_len, "input '%s': data element %lld: expected %s for %s, got %s",
             d->tname, (long long)d->index, want, inferd_dtype_name(d->dtype), json_kind(v));
    return -1;
}

static int int_range(decoder *d, const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!json_is_integer(v)) return bad_element(d, v, "an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        snprintf(d->err, d->err_len, "input '%s': data element %lld: %lld is out of range for %s",
                 d->tname, (long long)d->index, (long long)x, inferd_dtype_name(d->dtype));
        return -1;
    }
    *out = x;
    return 0;
}

static int put_element(decoder *d, const json_t *v)
{
    size_t es = inferd_dtype_size(d->dtype);
    uint8_t *p = d->dst ? d->dst + (uint64_t)d->index * es : NULL;
    int64_t x = 0;
    switch (d->dtype) {
    case INFERD_DTYPE_BOOL:
        if (!json_is_boolean(v)) return bad_element(d, v, "true or false");
        p[0] = json_is_true(v) ? 1 : 0;
        break;
    case INFERD_DTYPE_INT8:
        if (int_range(d, v, INT8_MIN, INT8_MAX, &x)) return -1;
        { int8_t y = (int8_t)x; memcpy(p, &y, 1); }
        break;
    case INFERD_DTYPE_INT16:
        if (int_range(d, v, INT16_MIN, INT16_MAX, &x)) return -1;
        { int16_t y = (int16_t)x; memcpy(p, &y, 2); }
        break;
    case INFERD_DTYPE_INT32:
        if (int_range(d, v, INT32_MIN, INT32_MAX, &x)) return -1;
        { int32_t y = (int32_t)x; memcpy(p, &y, 4); }
        break;
    case INFERD_DTYPE_INT64:
        if (int_range(d, v, INT64_MIN, INT64_MAX, &x)) return -1;
        memcpy(p, &x, 8);
        break;
    case INFERD_DTYPE_UINT8:
        if (int_range(d, v, 0, UINT8_MAX, &x)) return -1;
        { uint8_t y = (uint8_t)x; memcpy(p, &y, 1); }
        break;
    case INFERD_DTYPE_UINT16:
        if (int_range(d, v, 0, UINT16_MAX, &x)) return -1;
        { uint16_t y = (uint16_t)x; memcpy(p, &y, 2); }
        break;
    case INFERD_DTYPE_UINT32:
        if (int_range(d, v, 0, UINT32_MAX, &x)) return -1;
        { uint32_t y = (uint32_t)x; memcpy(p, &y, 4); }
        break;
    case INFERD_DTYPE_UINT64:   /* JSON integers beyond INT64_MAX are refused by the parser */
        if (int_range(d, v, 0, INT64_MAX, &x)) return -1;
        { uint64_t y = (uint64_t)x; memcpy(p, &y, 8); }
        break;
    case INFERD_DTYPE_FP32: {
        if (!json_is_number(v)) return bad_element(d, v, "a number");
        double y = json_number_value(v);
        if (!isfinite(y) || fabs(y) > FLT_MAX) {
            snprintf(d->err, d->err_len, "input '%s': data element %lld: %g is out of range "
                     "for FP32", d->tname, (long long)d->index, y);
            return -1;
        }
        float f = (float)y;
        memcpy(p, &f, 4);
        break;
    }
    case INFERD_DTYPE_FP64: {
        if (!json_is_number(v)) return bad_element(d, v, "a number");
        double y = json_number_value(v);
        memcpy(p, &y, 8);
        break;
    }
    case INFERD_DTYPE_BYTES: {
        if (!json_is_string(v)) return bad_element(d, v, "a string");
        size_t n = json_string_length(v);
        if (n > UINT32_MAX) return bad_element(d, v, "a string under 4 GiB");
        if (!d->dst) {
            d->bytes_total += 4 + (uint64_t)n;
        } else {
            uint32_t l = (uint32_t)n;
            memcpy(d->dst + d->pos, &l, 4);
            memcpy(d->dst + d->pos + 4, json_string_value(v), n);
            d->pos += 4 + n;
        }
        break;
    }
    default:
        snprintf(d->err, d->err_len, "input '%s': datatype %s is not supported in JSON "
                 "requests", d->tname, inferd_dtype_name(d->dtype));
        return -1;
    }
    d->index++;
    return 0;
}

/* Nested data: at depth k an array of exactly dims[k] entries; scalars at depth ndim. */
static int walk_nested(decoder *d, const json_t *v, uint32_t depth)
{
    if (depth == d->t->ndim) {
        if (json_is_array(v) || json_is_object(v)) {
            snprintf(d->err, d->err_len, "input '%s': nested data is deeper than the shape "
                     "(%u dimensions)", d->tname, d->t->ndim);
            return -1;
        }
        return put_element(d, v);
    }
    if (!json_is_array(v) || (int64_t)json_array_size(v) != d->t->dims[depth]) {
        snprintf(d->err, d->err_len, "input '%s': nested data does not match the shape: "
                 "dimension %u should be an array of %lld entries, got %s", d->tname, depth,
                 (long long)d->t->dims[depth],
                 json_is_array(v) ? "an array of another length" : json_kind(v));
        return -1;
    }
    for (size_t i = 0; i < json_array_size(v); i++)
        if (walk_nested(d, json_array_get(v, i), depth + 1)) return -1;
    return 0;
}

static int walk_data(decoder *d, const json_t *data, int64_t elements)
{
    d->index = 0;
    d->pos = 0;
    if (!json_is_array(data)) {
        if (elements == 1 && !json_is_object(data) && !json_is_null(data))
            return put_element(d, data);   /* a bare scalar for a one-element tensor */
        snprintf(d->err, d->err_len, "input '%s': data must be an array", d->tname);
        return -1;
    }
    size_t n = json_array_size(data);
    int nested = d->t->ndim >= 2 && n > 0 && json_is_array(json_array_get(data, 0));
    if (nested) return walk_nested(d, data, 0);
    if ((int64_t)n != elements) {
        snprintf(d->err, d->err_len, "input '%s': shape holds %lld elements but data has %zu",
                 d->tname, (long long)elements, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(data, i);
        if (json_is_array(v) || json_is_object(v)) return bad_element(d, v, "a scalar");
        if (put_element(d, v)) return -1;
    }
    return 0;
}

/* ---- request structure ---------------------------------------------------------------- */
static int decode_shape(const json_t *shape, const model_io *io, int batched, int max_batch,
                        shm_tensor *t, char *err, size_t err_len)
{
    if (!json_is_array(shape)) {
        snprintf(err, err_len, "input '%s': shape must be an array of integers", io->name);
        return -1;
    }
    size_t nd = json_array_size(shape);
    size_t want = (size_t)io->ndim + (batched ? 1 : 0);
    if (nd != want) {
        snprintf(err, err_len, "input '%s': shape has %zu dimensions, the model expects %zu%s",
                 io->name, nd, want, batched ? " (batch dimension first)" : "");
        return -1;
    }
    t->ndim = (uint32_t)nd;
    for (size_t i = 0; i < nd; i++) {
        const json_t *v = json_array_get(shape, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > MAX_ELEMENTS) {
            snprintf(err, err_len, "input '%s': shape[%zu] must be a non-negative integer",
                     io->name, i);
            return -1;
        }
        int64_t x = json_integer_value(v);
        t->dims[i] = x;
        if (batched && i == 0) {
            if (x < 1 || x > max_batch) {
                snprintf(err, err_len, "input '%s': batch size %lld is outside 1..%d "
                         "(max_batch_size)", io->name, (long long)x, max_batch);
                return -1;
            }
            continue;
        }
        int64_t md = io->dims[i - (batched ? 1 : 0)];
        if (md >= 0 && md != x) {
            snprintf(err, err_len, "input '%s': shape[%zu] is %lld, the model expects %lld",
                     io->name, i, (long long)x, (long long)md);
            return -1;
        }
    }
    return 0;
}

static int decode_input(const json_t *in, size_t idx, size_t body_len, const model_config *m,
                        const shm_region *region, shm_arena *arena, infer_request *req,
                        int *seen, char *err, size_t err_len, int *status)
{
    if (!json_is_object(in)) {
        snprintf(err, err_len, "inputs[%zu]: must be an object", idx);
        return -1;
    }
    const char *name = json_string_value(json_object_get(in, "name"));
    if (!name) {
        snprintf(err, err_len, "inputs[%zu]: missing string field 'name'", idx);
        return -1;
    }
    int j = -1;
    for (int k = 0; k < m->n_inputs; k++)
        if (strcmp(m->inputs[k].name, name) == 0) j = k;
    if (j < 0) {
        snprintf(err, err_len, "inputs[%zu]: model '%s' has no input '%.64s'", idx, m->name,
                 name);
        return -1;
    }
    if (seen[j]) {
        snprintf(err, err_len, "inputs[%zu]: input '%s' given twice", idx, name);
        return -1;
    }
    const model_io *io = &m->inputs[j];
    const char *dt = json_string_value(json_object_get(in, "datatype"));
    if (!dt) {
        snprintf(err, err_len, "input '%s': missing string field 'datatype'", io->name);
        return -1;
    }
    inferd_dtype dtype = inferd_dtype_from_name(dt);
    if (dtype != io->dtype) {
        snprintf(err, err_len, "input '%s': datatype %.16s does not match the model's %s",
                 io->name, dt, inferd_dtype_name(io->dtype));
        return -1;
    }
    if (dtype == INFERD_DTYPE_FP16 || dtype == INFERD_DTYPE_BF16) {
        snprintf(err, err_len, "input '%s': datatype %s is not supported in JSON requests",
                 io->name, dt);
        return -1;
    }
    json_t *params = json_object_get(in, "parameters");
    if (params && json_object_get(params, "binary_data_size")) {
        snprintf(err, err_len, "input '%s': binary tensor data is not supported; send JSON "
                 "'data'", io->name);
        return -1;
    }
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (uint32_t)dtype;
    if (decode_shape(json_object_get(in, "shape"), io, m->max_batch_size > 0,
                     m->max_batch_size, &t, err, err_len))
        return -1;
    int64_t elements = kserve_tensor_elements(&t);
    if (elements < 0) {
        snprintf(err, err_len, "input '%s': shape is too large", io->name);
        return -1;
    }
    /* every element takes at least one byte of the body: refuse before sizing anything */
    if ((uint64_t)elements > body_len) {
        snprintf(err, err_len, "input '%s': shape holds %lld elements but data has fewer "
                 "(the body is %zu bytes)", io->name, (long long)elements, body_len);
        return -1;
    }
    json_t *data = json_object_get(in, "data");
    if (!data) {
        snprintf(err, err_len, "input '%s': missing field 'data'", io->name);
        return -1;
    }
    decoder d = {.tname = io->name, .dtype = dtype, .t = &t, .err = err, .err_len = err_len};
    uint64_t nbytes;
    if (dtype == INFERD_DTYPE_BYTES) {
        if (walk_data(&d, data, elements)) return -1;   /* measure */
        nbytes = d.bytes_total;
    } else {
        /* a JSON element takes at least 2 bytes, so this bounds elements before sizing */
        if (elements > (int64_t)(SIZE_MAX / 16)) {
            snprintf(err, err_len, "input '%s': shape is too large", io->name);
            return -1;
        }
        nbytes = (uint64_t)elements * inferd_dtype_size(dtype);
    }
    uint64_t off = 0;
    if (shm_arena_alloc(arena, nbytes ? nbytes : 8, &off) != 0) {
        snprintf(err, err_len, "no room in the tensor arena for input '%s' (%llu bytes); try "
                 "again later", io->name, (unsigned long long)nbytes);
        *status = 503;
        return -1;
    }
    t.offset = off;
    t.nbytes = nbytes;
    req->inputs[j] = t;
    seen[j] = 1;
    d.dst = shm_arena_ptr(region, off);
    if (walk_data(&d, data, elements)) return -1;   /* the caller frees the buffer */
    if (m->max_batch_size > 0) {
        if (req->batch_rows && req->batch_rows != t.dims[0]) {
            snprintf(err, err_len, "input '%s': batch size %lld differs from another input's "
                     "%lld", io->name, (long long)t.dims[0], (long long)req->batch_rows);
            return -1;
        }
        req->batch_rows = t.dims[0];
    }
    return 0;
}

static int decode_params(const json_t *params, infer_request *req, kserve_params *out,
                         char *err, size_t err_len)
{
    if (!params) return 0;
    if (!json_is_object(params)) {
        snprintf(err, err_len, "parameters: must be an object");
        return -1;
    }
    const json_t *v;
    if ((v = json_object_get(params, "timeout"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(err, err_len, "parameters.timeout: must be a non-negative integer "
                     "(microseconds)");
            return -1;
        }
        out->timeout_us = json_integer_value(v);
        if (out->timeout_us > (int64_t)86400 * 1000000 * 365) out->timeout_us = 0;
    }
    if ((v = json_object_get(params, "priority"))) {
        if (!json_is_integer(v) || json_integer_value(v) < -1000000 ||
            json_integer_value(v) > 1000000) {
            snprintf(err, err_len, "parameters.priority: must be an integer in "
                     "[-1000000, 1000000]");
            return -1;
        }
        req->priority = (int)json_integer_value(v);
    }
    if ((v = json_object_get(params, "delay_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 86400000) {
            snprintf(err, err_len, "parameters.delay_ms: must be an integer in [0, 86400000]");
            return -1;
        }
        req->delay_us = json_integer_value(v) * 1000;
    }
    return 0;
}

static int decode_outputs(const json_t *outs, const model_config *m, infer_request *req,
                          char *err, size_t err_len)
{
    req->output_mask = 0;
    if (!outs) return 0;
    if (!json_is_array(outs)) {
        snprintf(err, err_len, "outputs: must be an array of {\"name\": ...}");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        const char *name = json_is_object(o) ? json_string_value(json_object_get(o, "name"))
                                             : NULL;
        if (!name) {
            snprintf(err, err_len, "outputs[%zu]: must be an object with a string 'name'", i);
            return -1;
        }
        int j = -1;
        for (int k = 0; k < m->n_outputs; k++)
            if (strcmp(m->outputs[k].name, name) == 0) j = k;
        if (j < 0) {
            snprintf(err, err_len, "outputs[%zu]: model '%s' has no output '%.64s'", i,
                     m->name, name);
            return -1;
        }
        const json_t *p = json_object_get(o, "parameters");
        if (p && json_is_true(json_object_get(p, "binary_data"))) {
            snprintf(err, err_len, "outputs[%zu]: binary_data is not supported", i);
            return -1;
        }
        req->output_mask |= 1u << j;
    }
    return 0;
}

int kserve_decode_infer(const char *body, size_t len, const model_config *m,
                        const shm_region *region, shm_arena *arena, infer_request *req,
                        kserve_params *params, char *err, size_t err_len)
{
    params->id = NULL;
    params->id_len = 0;
    params->timeout_us = -1;
    req->n_inputs = 0;
    req->batch_rows = 1;
    req->priority = 0;
    req->delay_us = -1;
    if (len == 0) {
        snprintf(err, err_len, "empty request body: expected a JSON object with 'inputs'");
        return 400;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        snprintf(err, err_len, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return 400;
    }
    int status = 400;
    int seen[MODEL_MAX_IO] = {0};
    const json_t *inputs, *id;
    if (!json_is_object(root)) {
        snprintf(err, err_len, "request body must be a JSON object");
        goto fail;
    }
    id = json_object_get(root, "id");
    if (id && !json_is_string(id)) {
        snprintf(err, err_len, "id: must be a string");
        goto fail;
    }
    if (decode_params(json_object_get(root, "parameters"), req, params, err, err_len))
        goto fail;
    if (decode_outputs(json_object_get(root, "outputs"), m, req, err, err_len)) goto fail;
    inputs = json_object_get(root, "inputs");
    if (!json_is_array(inputs)) {
        snprintf(err, err_len, "missing array field 'inputs'");
        goto fail;
    }
    if (json_array_size(inputs) != (size_t)m->n_inputs) {
        snprintf(err, err_len, "model '%s' takes %d input%s, the request has %zu", m->name,
                 m->n_inputs, m->n_inputs == 1 ? "" : "s", json_array_size(inputs));
        goto fail;
    }
    req->n_inputs = (uint32_t)m->n_inputs;
    memset(req->inputs, 0, sizeof req->inputs);
    req->batch_rows = 0;
    for (size_t i = 0; i < json_array_size(inputs); i++)
        if (decode_input(json_array_get(inputs, i), i, len, m, region, arena, req, seen, err,
                         err_len, &status))
            goto fail;
    if (m->max_batch_size == 0) req->batch_rows = 1;
    if (id) {
        params->id_len = json_string_length(id);
        params->id = malloc(params->id_len + 1);
        if (!params->id) {
            snprintf(err, err_len, "out of memory");
            status = 500;
            goto fail;
        }
        memcpy(params->id, json_string_value(id), params->id_len + 1);
    }
    json_decref(root);
    return 0;

fail:
    for (int k = 0; k < MODEL_MAX_IO; k++)
        if (seen[k]) shm_arena_free(arena, req->inputs[k].offset);
    memset(req->inputs, 0, sizeof req->inputs);
    req->n_inputs = 0;
    json_decref(root);
    return status;
}
