/* KServe v2 infer request -> infer_request, checked against the model config. The common
 * request is read in one pass by kserve_decode_fast.c; any other, minus its tensor data, is
 * parsed with jansson; each tensor's JSON data is decoded from the
 * request text straight into its arena buffer (no JSON tree, no intermediate copy); binary
 * and shared-memory inputs are copied in once (kserve_place.c). */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scratch.h"
#include "kserve.h"
#include "kserve_json.h"
#include "kserve_place.h"

#define MAX_ELEMENTS ((int64_t)1 << 40)

void kserve_model_version(const model_config *m, char *buf, size_t len)
{
    /* named in every infer answer: the digits without printf, cut to fit as snprintf does */
    char digits[HTTP_DEC_U64_MAX];
    size_t n = http_dec_u64(digits, m->version > 0 ? (unsigned)m->version : 1);
    if (!len) return;
    if (n > len - 1) n = len - 1;
    memcpy(buf, digits, n);
    buf[n] = '\0';
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

void kserve_unwind_inputs(shm_arena *arena, infer_request *req, const int *seen)
{
    for (int k = 0; k < MODEL_MAX_IO; k++)
        if (seen[k]) shm_arena_free(arena, req->inputs[k].offset);
    memset(req->inputs, 0, sizeof req->inputs);
    req->n_inputs = 0;
}

typedef struct decoder {
    const char *tname; /* input name, for messages */
    inferd_dtype dtype;
    const shm_tensor *t;
    uint8_t *dst;         /* NULL while measuring BYTES */
    uint64_t pos;         /* BYTES: write position; else unused */
    uint64_t bytes_total; /* BYTES: measured size */
    int64_t index;        /* next element index */
    char *err;
    size_t err_len;
} decoder;

/* ---- tensor data, read from the request text (no JSON tree) ----------------------------- */
int kserve_find_io(const model_config *m, int outputs, size_t idx, const char *name, uint32_t taken,
                   char *err, size_t err_len)
{
    const model_io *ios = outputs ? m->outputs : m->inputs;
    int n = outputs ? m->n_outputs : m->n_inputs, j = -1;
    const char *list = outputs ? "outputs" : "inputs", *kind = outputs ? "output" : "input";
    for (int k = 0; k < n; k++)
        if (strcmp(ios[k].name, name) == 0) j = k;
    if (j < 0) {
        snprintf(err, err_len, "%s[%zu]: model '%s' has no %s '%.64s'", list, idx, m->name, kind,
                 name);
        return -1;
    }
    if (taken & (1u << j)) {
        snprintf(err, err_len, "%s[%zu]: %s '%s' %s twice", list, idx, kind, name,
                 outputs ? "asked for" : "given");
        return -1;
    }
    return j;
}

/* seen[k] != 0 as bit k. */
static uint32_t seen_mask(const int *seen, int n)
{
    uint32_t mask = 0;
    for (int k = 0; k < n; k++)
        if (seen[k]) mask |= 1u << k;
    return mask;
}

static const char *kj_kind_name(int kind)
{
    switch (kind) {
    case KJ_STRING: return "a string";
    case KJ_NUMBER: return "a number";
    case KJ_TRUE:
    case KJ_FALSE: return "a boolean";
    case KJ_NULL: return "null";
    case KJ_ARRAY: return "an array";
    case KJ_OBJECT: return "an object";
    default: return "invalid JSON";
    }
}

static int sbad(decoder *d, const char *got, const char *want)
{
    snprintf(d->err, d->err_len, "input '%s': data element %lld: expected %s for %s, got %s",
             d->tname, (long long)d->index, want, inferd_dtype_name(d->dtype), got);
    return -1;
}

static int smalformed(decoder *d)
{
    snprintf(d->err, d->err_len, "input '%s': malformed JSON in data near element %lld", d->tname,
             (long long)d->index);
    return -1;
}

static int sput(decoder *d, kj_cursor *c)
{
    int kind = kj_peek(c);
    size_t es = inferd_dtype_size(d->dtype);
    uint8_t *p = d->dst && es ? d->dst + (uint64_t)d->index * es : NULL;
    int is_int, over;
    int64_t x = 0;
    double y = 0;
    if (d->dtype == INFERD_DTYPE_BOOL) {
        if (kind != KJ_TRUE && kind != KJ_FALSE)
            return sbad(d, kj_kind_name(kind), "true or false");
        if (kj_literal(c, kind)) return smalformed(d);
        p[0] = kind == KJ_TRUE;
    } else if (d->dtype == INFERD_DTYPE_BYTES) {
        if (kind != KJ_STRING) return sbad(d, kj_kind_name(kind), "a string");
        kj_cursor probe = *c;
        size_t n;
        if (kj_string(&probe, NULL, &n)) return smalformed(d);
        if (n > UINT32_MAX) return sbad(d, "a longer string", "a string under 4 GiB");
        if (!d->dst) {
            d->bytes_total += 4 + (uint64_t)n;
            *c = probe;
        } else {
            uint32_t l = (uint32_t)n;
            memcpy(d->dst + d->pos, &l, 4);
            if (kj_string(c, d->dst + d->pos + 4, &n)) return smalformed(d);
            d->pos += 4 + n;
        }
    } else {
        int is_float = d->dtype == INFERD_DTYPE_FP32 || d->dtype == INFERD_DTYPE_FP64;
        if (kind != KJ_NUMBER)
            return sbad(d, kj_kind_name(kind), is_float ? "a number" : "an integer");
        if (kj_number(c, &is_int, &x, &over, &y)) return smalformed(d);
        if (!is_float) {
            if (!is_int) return sbad(d, "a real number", "an integer");
            int64_t lo = 0, hi = 0;
            if (inferd_dtype_int_range(d->dtype, &lo, &hi) != 0) {
                snprintf(d->err, d->err_len,
                         "input '%s': datatype %s is not supported in JSON "
                         "requests",
                         d->tname, inferd_dtype_name(d->dtype));
                return -1;
            }
            if (over || x < lo || x > hi) {
                snprintf(d->err, d->err_len,
                         "input '%s': data element %lld: %.17g is out of "
                         "range for %s",
                         d->tname, (long long)d->index, y, inferd_dtype_name(d->dtype));
                return -1;
            }
            switch (es) {
            case 1: {
                uint8_t v = (uint8_t)x;
                memcpy(p, &v, 1);
                break;
            }
            case 2: {
                uint16_t v = (uint16_t)x;
                memcpy(p, &v, 2);
                break;
            }
            case 4: {
                uint32_t v = (uint32_t)x;
                memcpy(p, &v, 4);
                break;
            }
            default: memcpy(p, &x, 8); break;
            }
        } else {
            int f32 = d->dtype == INFERD_DTYPE_FP32;
            if (!isfinite(y) || (f32 && fabs(y) > FLT_MAX)) {
                snprintf(d->err, d->err_len,
                         "input '%s': data element %lld: %g is out of range "
                         "for %s",
                         d->tname, (long long)d->index, y, inferd_dtype_name(d->dtype));
                return -1;
            }
            if (f32) {
                float f = (float)y;
                memcpy(p, &f, 4);
            } else {
                memcpy(p, &y, 8);
            }
        }
    }
    d->index++;
    return 0;
}

static int snested(decoder *d, kj_cursor *c, uint32_t depth)
{
    int kind = kj_peek(c);
    if (depth == d->t->ndim) {
        if (kind == KJ_ARRAY || kind == KJ_OBJECT) {
            snprintf(d->err, d->err_len,
                     "input '%s': nested data is deeper than the shape "
                     "(%u dimensions)",
                     d->tname, d->t->ndim);
            return -1;
        }
        return sput(d, c);
    }
    int64_t count = 0;
    int first = 1, more;
    if (kind != KJ_ARRAY) goto mismatch;
    c->p++;
    while ((more = kj_array_next(c, &first)) == 1) {
        if (count == d->t->dims[depth]) goto mismatch;
        if (snested(d, c, depth + 1)) return -1;
        count++;
    }
    if (more < 0) return smalformed(d);
    if (count == d->t->dims[depth]) return 0;
mismatch:
    snprintf(d->err, d->err_len,
             "input '%s': nested data does not match the shape: "
             "dimension %u should be an array of %lld entries, got %s",
             d->tname, depth, (long long)d->t->dims[depth],
             kind == KJ_ARRAY ? "an array of another length" : kj_kind_name(kind));
    return -1;
}

static int stream_data(decoder *d, const char *text, size_t len, int64_t elements)
{
    kj_cursor c = {text, text + len};
    d->index = 0;
    d->pos = 0;
    int kind = kj_peek(&c);
    if (kind != KJ_ARRAY) {
        if (elements == 1 && kind != KJ_OBJECT && kind != KJ_NULL && kind != KJ_BAD)
            return sput(d, &c); /* a bare scalar for a one-element tensor */
        snprintf(d->err, d->err_len, "input '%s': data must be an array", d->tname);
        return -1;
    }
    kj_cursor probe = c;
    probe.p++;
    if (d->t->ndim >= 2 && kj_peek(&probe) == KJ_ARRAY) return snested(d, &c, 0);
    c.p++;
    int first = 1, more;
    int64_t n = 0;
    while ((more = kj_array_next(&c, &first)) == 1) {
        kind = kj_peek(&c);
        if (kind == KJ_ARRAY || kind == KJ_OBJECT) return sbad(d, kj_kind_name(kind), "a scalar");
        if (n == elements) {
            snprintf(d->err, d->err_len,
                     "input '%s': shape holds %lld elements but data has "
                     "more",
                     d->tname, (long long)elements);
            return -1;
        }
        if (sput(d, &c)) return -1;
        n++;
    }
    if (more < 0) return smalformed(d);
    if (n != elements) {
        snprintf(d->err, d->err_len, "input '%s': shape holds %lld elements but data has %lld",
                 d->tname, (long long)elements, (long long)n);
        return -1;
    }
    return 0;
}

/* ---- request structure ---------------------------------------------------------------- */
int kserve_check_shape(const int64_t *dims, size_t nd, const model_io *io, int max_batch,
                       shm_tensor *t, char *err, size_t err_len)
{
    int batched = max_batch > 0;
    size_t want = (size_t)io->ndim + (batched ? 1 : 0);
    if (nd != want) {
        snprintf(err, err_len, "input '%s': shape has %zu dimensions, the model expects %zu%s",
                 io->name, nd, want, batched ? " (batch dimension first)" : "");
        return -1;
    }
    t->ndim = (uint32_t)nd;
    for (size_t i = 0; i < nd; i++) {
        int64_t x = dims[i];
        if (x < 0 || x > MAX_ELEMENTS) {
            snprintf(err, err_len, "input '%s': shape[%zu] must be a non-negative integer",
                     io->name, i);
            return -1;
        }
        t->dims[i] = x;
        if (batched && i == 0) {
            if (x < 1 || x > max_batch) {
                snprintf(err, err_len,
                         "input '%s': batch size %lld is outside 1..%d "
                         "(max_batch_size)",
                         io->name, (long long)x, max_batch);
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

/* The JSON "shape" array, read into integers and checked by kserve_check_shape. */
static int decode_shape(const json_t *shape, const model_io *io, int max_batch, shm_tensor *t,
                        char *err, size_t err_len)
{
    if (!json_is_array(shape)) {
        snprintf(err, err_len, "input '%s': shape must be an array of integers", io->name);
        return -1;
    }
    size_t nd = json_array_size(shape);
    int64_t dims[SHM_MAX_DIMS];
    for (size_t i = 0; i < nd && i < SHM_MAX_DIMS; i++) {
        const json_t *v = json_array_get(shape, i);
        if (!json_is_integer(v)) {
            snprintf(err, err_len, "input '%s': shape[%zu] must be a non-negative integer",
                     io->name, i);
            return -1;
        }
        dims[i] = json_integer_value(v);
    }
    return kserve_check_shape(dims, nd, io, max_batch, t, err, err_len);
}

/* The binary part of a request body: inputs with binary_data_size take their bytes from
 * here in the order of the JSON inputs. */
typedef struct binary_part {
    const uint8_t *p; /* the body */
    size_t len;       /* the body's length */
    size_t pos;       /* next unclaimed byte (starts at the JSON header's end) */
    int present;      /* the request had Inference-Header-Content-Length */
} binary_part;

typedef struct decode_env {
    const char *body;
    size_t body_len; /* the JSON header's length */
    binary_part *bin;
    client_shm *cshm;
    const model_config *m;
    const shm_region *region;
    shm_arena *arena;
    infer_request *req;
    kserve_params *params;
    int *seen;
    char *err;
    size_t err_len;
    int *status;
} decode_env;

/* An input with binary_data_size or shared_memory_region: its bytes are copied in whole. */
static int decode_whole(decode_env *e, const json_t *params, const kserve_shm_spec *shm,
                        const model_io *io, int j, shm_tensor *t, int64_t elements)
{
    char *err = e->err;
    size_t err_len = e->err_len;
    if (shm->present)
        return kserve_shm_place_input(e->cshm, shm, &e->params->shm, io->name, t, elements,
                                      e->region, e->arena, e->req, j, e->seen, err, err_len,
                                      e->status);
    const json_t *v = json_object_get(params, "binary_data_size");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, err_len,
                 "input '%s': parameters.binary_data_size must be a non-negative "
                 "integer",
                 io->name);
        return -1;
    }
    uint64_t n = (uint64_t)json_integer_value(v);
    binary_part *b = e->bin;
    if (!b->present && n > 0) {
        snprintf(err, err_len,
                 "input '%s': binary_data_size is given but the body has no "
                 "binary data after its JSON header (no Inference-Header-Content-Length, or "
                 "one equal to the body's length)",
                 io->name);
        return -1;
    }
    if (n > b->len - b->pos) {
        snprintf(err, err_len,
                 "input '%s': binary_data_size %llu runs past the end of the body "
                 "(%zu bytes of binary data left)",
                 io->name, (unsigned long long)n, b->len - b->pos);
        return -1;
    }
    const uint8_t *src = b->p + b->pos;
    b->pos += (size_t)n;
    return kserve_place_bytes(io->name, "its binary data", t, elements, src, n, 0, e->region,
                              e->arena, e->req, j, e->seen, err, err_len, e->status);
}

int kserve_decode_json_data(const char *text, size_t text_len, size_t body_len, const model_io *io,
                            shm_tensor *t, int64_t elements, const shm_region *region,
                            shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                            size_t err_len, int *status)
{
    /* every element takes at least one byte of the body: refuse before sizing anything */
    if ((uint64_t)elements > body_len) {
        snprintf(err, err_len,
                 "input '%s': shape holds %lld elements but data has fewer "
                 "(the body is %zu bytes)",
                 io->name, (long long)elements, body_len);
        return -1;
    }
    inferd_dtype dtype = (inferd_dtype)t->dtype;
    decoder d = {.tname = io->name, .dtype = dtype, .t = t, .err = err, .err_len = err_len};
    uint64_t nbytes;
    if (dtype == INFERD_DTYPE_BYTES) {
        if (stream_data(&d, text, text_len, elements)) return -1; /* measure */
        nbytes = d.bytes_total;
    } else {
        /* a JSON element takes at least 2 bytes, so this bounds elements before sizing */
        if (elements > (int64_t)(SIZE_MAX / 16)) {
            snprintf(err, err_len, "input '%s': shape is too large", io->name);
            return -1;
        }
        nbytes = (uint64_t)elements * inferd_dtype_size(dtype);
    }
    d.dst =
        kserve_place_alloc(io->name, t, nbytes, region, arena, req, j, seen, err, err_len, status);
    if (!d.dst) return -1;
    return stream_data(&d, text, text_len, elements); /* the caller frees the buffer */
}

static int decode_input(decode_env *e, const json_t *in, size_t idx, const kj_span *span)
{
    const model_config *m = e->m;
    const char *body = e->body;
    size_t body_len = e->body_len;
    const shm_region *region = e->region;
    infer_request *req = e->req;
    int *seen = e->seen;
    char *err = e->err;
    size_t err_len = e->err_len;
    if (!json_is_object(in)) {
        snprintf(err, err_len, "inputs[%zu]: must be an object", idx);
        return -1;
    }
    const char *name = json_string_value(json_object_get(in, "name"));
    if (!name) {
        snprintf(err, err_len, "inputs[%zu]: missing string field 'name'", idx);
        return -1;
    }
    int j = kserve_find_io(m, 0, idx, name, seen_mask(seen, m->n_inputs), err, err_len);
    if (j < 0) return -1;
    const model_io *io = &m->inputs[j];
    const char *dt = json_string_value(json_object_get(in, "datatype"));
    if (!dt) {
        snprintf(err, err_len, "input '%s': missing string field 'datatype'", io->name);
        return -1;
    }
    inferd_dtype dtype = inferd_dtype_from_name(dt);
    if (dtype != io->dtype) {
        snprintf(err, err_len, "input '%s': datatype %.16s does not match the model's %s", io->name,
                 dt, inferd_dtype_name(io->dtype));
        return -1;
    }
    const json_t *params = json_object_get(in, "parameters");
    if (params && !json_is_object(params)) {
        snprintf(err, err_len, "input '%s': parameters must be an object", io->name);
        return -1;
    }
    char what[MODEL_NAME_LEN + 16];
    snprintf(what, sizeof what, "input '%s'", io->name);
    kserve_shm_spec shm;
    if (kserve_shm_params(params, what, &shm, err, err_len)) return -1;
    json_t *data = json_object_get(in, "data");
    int has_bin = params && json_object_get(params, "binary_data_size");
    int sources = (data != NULL) + has_bin + shm.present;
    if (sources > 1) {
        snprintf(err, err_len,
                 "input '%s': give only one of 'data', "
                 "parameters.binary_data_size and parameters.shared_memory_region",
                 io->name);
        return -1;
    }
    if (sources == 0) {
        snprintf(err, err_len,
                 "input '%s': missing field 'data' (or binary_data_size or "
                 "shared_memory_region in its parameters)",
                 io->name);
        return -1;
    }
    if (data && (dtype == INFERD_DTYPE_FP16 || dtype == INFERD_DTYPE_BF16)) {
        snprintf(err, err_len,
                 "input '%s': datatype %s is not supported in JSON data; send it "
                 "as binary data",
                 io->name, dt);
        return -1;
    }
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (uint32_t)dtype;
    if (decode_shape(json_object_get(in, "shape"), io, m->max_batch_size, &t, err, err_len))
        return -1;
    int64_t elements = kserve_tensor_elements(&t);
    if (elements < 0) {
        snprintf(err, err_len, "input '%s': shape is too large", io->name);
        return -1;
    }
    if (!data) {
        if (decode_whole(e, params, &shm, io, j, &t, elements)) return -1;
        goto batch;
    }
    /* kj_split cut every inputs[i].data out of the skeleton (null there); read the text */
    if (!json_is_null(data) || !span || !span->len) {
        snprintf(err, err_len, "input '%s': data could not be located", io->name);
        return -1;
    }
    if (kserve_decode_json_data(body + span->off, span->len, body_len, io, &t, elements, region,
                                e->arena, req, j, seen, err, err_len, e->status))
        return -1;
batch:
    if (m->max_batch_size > 0) {
        if (req->batch_rows && req->batch_rows != t.dims[0]) {
            snprintf(err, err_len,
                     "input '%s': batch size %lld differs from another input's "
                     "%lld",
                     io->name, (long long)t.dims[0], (long long)req->batch_rows);
            return -1;
        }
        req->batch_rows = t.dims[0];
    }
    return 0;
}

static int decode_params(const json_t *params, const model_config *m, infer_request *req,
                         kserve_params *out, int *binary_default, char *err, size_t err_len)
{
    if (!params) return 0;
    if (!json_is_object(params)) {
        snprintf(err, err_len, "parameters: must be an object");
        return -1;
    }
    const json_t *v;
    if ((v = json_object_get(params, "binary_data_output"))) {
        if (!json_is_boolean(v)) {
            snprintf(err, err_len, "parameters.binary_data_output: must be true or false");
            return -1;
        }
        *binary_default = json_is_true(v);
    }
    if ((v = json_object_get(params, "timeout"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(err, err_len,
                     "parameters.timeout: must be a non-negative integer "
                     "(microseconds)");
            return -1;
        }
        out->timeout_us = json_integer_value(v); /* the route checks it against its maximum */
    }
    if ((v = json_object_get(params, "priority"))) {
        if (!json_is_integer(v) || json_integer_value(v) < -1000000 ||
            json_integer_value(v) > 1000000) {
            snprintf(err, err_len,
                     "parameters.priority: must be an integer in "
                     "[-1000000, 1000000]");
            return -1;
        }
        req->priority = (int)json_integer_value(v);
    }
    if ((v = json_object_get(params, "delay_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > m->max_delay_ms) {
            snprintf(err, err_len,
                     "parameters.delay_ms: must be an integer in [0, %lld] "
                     "(the model's max_delay_ms)",
                     (long long)m->max_delay_ms);
            return -1;
        }
        req->delay_us = json_integer_value(v) * 1000;
    }
    return 0;
}

static int decode_outputs(const json_t *outs, const model_config *m, infer_request *req,
                          int binary_default, client_shm *cshm, kserve_params *p, char *err,
                          size_t err_len)
{
    req->output_mask = 0;
    uint32_t all = (1u << m->n_outputs) - 1; /* n_outputs <= MODEL_MAX_IO = 16 */
    if (!outs) {
        p->binary_outputs = binary_default ? all : 0;
        return 0;
    }
    if (!json_is_array(outs)) {
        snprintf(err, err_len, "outputs: must be an array of {\"name\": ...}");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        const char *name = json_is_object(o) ? json_string_value(json_object_get(o, "name")) : NULL;
        if (!name) {
            snprintf(err, err_len, "outputs[%zu]: must be an object with a string 'name'", i);
            return -1;
        }
        int j = kserve_find_io(m, 1, i, name, req->output_mask, err, err_len);
        if (j < 0) return -1;
        const json_t *prm = json_object_get(o, "parameters");
        if (prm && !json_is_object(prm)) {
            snprintf(err, err_len, "outputs[%zu]: parameters must be an object", i);
            return -1;
        }
        if (prm && json_object_get(prm, "binary_data_size")) {
            snprintf(err, err_len,
                     "outputs[%zu]: binary_data_size belongs to response outputs; "
                     "ask for binary data with \"binary_data\": true",
                     i);
            return -1;
        }
        const json_t *bd = prm ? json_object_get(prm, "binary_data") : NULL;
        if (bd && !json_is_boolean(bd)) {
            snprintf(err, err_len, "outputs[%zu]: parameters.binary_data must be true or false", i);
            return -1;
        }
        int binary = bd ? json_is_true(bd) : binary_default;
        char what[32];
        snprintf(what, sizeof what, "outputs[%zu]", i);
        kserve_shm_spec shm;
        if (kserve_shm_params(prm, what, &shm, err, err_len)) return -1;
        if (shm.present) {
            if (bd && json_is_true(bd)) {
                snprintf(err, err_len,
                         "outputs[%zu]: binary_data and shared_memory_region "
                         "cannot both be given",
                         i);
                return -1;
            }
            binary = 0;
            if (kserve_shm_take_output(cshm, &shm, &p->shm, j, what, err, err_len)) return -1;
        }
        if (binary) p->binary_outputs |= 1u << j;
        req->output_mask |= 1u << j;
    }
    return 0;
}

void kserve_params_free(client_shm *cshm, kserve_params *p)
{
    free(p->id);
    p->id = NULL;
    p->id_len = 0;
    kserve_shm_refs_release(cshm, &p->shm);
}

int kserve_decode_infer(const char *body, size_t len, size_t json_len, client_shm *cshm,
                        const model_config *m, const shm_region *region, shm_arena *arena,
                        infer_request *req, kserve_params *params, char *err, size_t err_len)
{
    memset(params, 0, sizeof *params);
    params->timeout_us = -1;
    req->n_inputs = 0;
    req->batch_rows = 1;
    req->priority = 0;
    req->delay_us = -1;
    if (json_len > len) json_len = len;
    if (json_len == 0 && len > 0) /* Inference-Header-Content-Length: 0 */
        return kserve_decode_raw(body, len, m, region, arena, req, params, err, err_len);
    if (json_len == 0) {
        snprintf(err, err_len, "empty request body: expected a JSON object with 'inputs'");
        return 400;
    }
    if (json_len == len && kserve_decode_fast(body, len, m, region, arena, req)) return 0;
    kj_span spans[KJ_MAX_SPANS];
    char *skeleton;
    size_t skeleton_len;
    if (kj_split(body, json_len, spans, &skeleton, &skeleton_len, err, err_len)) return 400;
    json_error_t jerr;
    json_scratch_begin(); /* the tree is freed below, on this thread */
    json_t *root =
        json_loadb(skeleton, skeleton_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    free(skeleton);
    if (!root) {
        json_scratch_end();
        snprintf(err, err_len, "malformed JSON: %s", jerr.text);
        return 400;
    }
    int status = 400;
    int seen[MODEL_MAX_IO] = {0};
    int binary_default = 0;
    binary_part bin = {(const uint8_t *)body, len, json_len, json_len < len};
    decode_env env = {body, json_len, &bin, cshm, m,       region, arena,
                      req,  params,   seen, err,  err_len, &status};
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
    if (decode_params(json_object_get(root, "parameters"), m, req, params, &binary_default, err,
                      err_len))
        goto fail;
    if (decode_outputs(json_object_get(root, "outputs"), m, req, binary_default, cshm, params, err,
                       err_len))
        goto fail;
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
        if (decode_input(&env, json_array_get(inputs, i), i, i < KJ_MAX_SPANS ? &spans[i] : NULL))
            goto fail;
    if (bin.pos != bin.len) {
        snprintf(err, err_len,
                 "%zu bytes of binary data after the JSON header belong to no "
                 "input (the inputs' binary_data_size add up to %zu)",
                 bin.len - bin.pos, bin.pos - json_len);
        goto fail;
    }
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
    json_scratch_end();
    return 0;

fail:
    kserve_unwind_inputs(arena, req, seen);
    kserve_params_free(cshm, params);
    params->binary_outputs = 0;
    json_decref(root);
    json_scratch_end();
    return status;
}
