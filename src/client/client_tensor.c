/* Tensor values between JSON and bytes: a (nested) JSON array of numbers, booleans or strings
 * becomes the little-endian, row-major bytes of a dtype (the binary tensor wire form), with
 * the shape read from the nesting or checked against a given one. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_buf.h"
#include "client_tensor.h"

int64_t inferd_tensor_elements(const inferd_tensor *t)
{
    int64_t n = 1;
    if (t->ndim < 0 || t->ndim > INFERD_CLIENT_MAX_DIMS)
        return -1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0 || (t->dims[i] > 0 && n > INT64_MAX / t->dims[i]))
            return -1;
        n *= t->dims[i];
    }
    return n;
}

void inferd_tensors_free(inferd_tensor *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].data);
    free(t);
}

typedef struct byte_sink {
    unsigned char *p;
    size_t len, cap;
} byte_sink;

static int sink_put(byte_sink *s, const void *v, size_t n)
{
    if (n > SIZE_MAX - s->len)
        return -1;
    void *b = s->p;
    if (client_buf_reserve(&b, &s->cap, s->len + n) != 0)
        return -1;
    s->p = b;
    memcpy(s->p + s->len, v, n);
    s->len += n;
    return 0;
}

static int put_int(byte_sink *s, inferd_dtype dt, json_t *v, char *err, size_t err_len)
{
    if (!json_is_integer(v)) {
        snprintf(err, err_len, "%s value must be an integer", inferd_dtype_name(dt));
        return -1;
    }
    json_int_t x = json_integer_value(v);
    long long lo, hi;
    switch (dt) {
    case INFERD_DTYPE_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case INFERD_DTYPE_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case INFERD_DTYPE_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case INFERD_DTYPE_UINT8: lo = 0; hi = UINT8_MAX; break;
    case INFERD_DTYPE_UINT16: lo = 0; hi = UINT16_MAX; break;
    case INFERD_DTYPE_UINT32: lo = 0; hi = UINT32_MAX; break;
    case INFERD_DTYPE_UINT64: lo = 0; hi = INT64_MAX; break;
    default: lo = INT64_MIN; hi = INT64_MAX; break;
    }
    if (x < lo || x > hi) {
        snprintf(err, err_len, "%lld is out of range for %s", (long long)x,
                 inferd_dtype_name(dt));
        return -1;
    }
    size_t size = inferd_dtype_size(dt);
    uint64_t u = (uint64_t)x; /* little-endian host: the low bytes are the value */
    return sink_put(s, &u, size);
}

static int put_float(byte_sink *s, inferd_dtype dt, json_t *v, char *err, size_t err_len)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0) {
        d = NAN;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "Inf") == 0) {
        d = INFINITY;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "-Inf") == 0) {
        d = -INFINITY;
    } else {
        snprintf(err, err_len, "%s value must be a number", inferd_dtype_name(dt));
        return -1;
    }
    if (dt == INFERD_DTYPE_FP32) {
        float f = (float)d;
        return sink_put(s, &f, sizeof f);
    }
    return sink_put(s, &d, sizeof d);
}

static int put_value(byte_sink *s, inferd_dtype dt, json_t *v, char *err, size_t err_len)
{
    switch (dt) {
    case INFERD_DTYPE_BOOL: {
        if (!json_is_boolean(v)) {
            snprintf(err, err_len, "BOOL value must be true or false");
            return -1;
        }
        unsigned char b = json_is_true(v);
        return sink_put(s, &b, 1);
    }
    case INFERD_DTYPE_FP32:
    case INFERD_DTYPE_FP64: return put_float(s, dt, v, err, err_len);
    case INFERD_DTYPE_BYTES: {
        if (!json_is_string(v)) {
            snprintf(err, err_len, "BYTES value must be a string");
            return -1;
        }
        size_t n = json_string_length(v);
        if (n > UINT32_MAX) {
            snprintf(err, err_len, "BYTES element too long");
            return -1;
        }
        uint32_t len = (uint32_t)n;
        return sink_put(s, &len, 4) || sink_put(s, json_string_value(v), n) ? -1 : 0;
    }
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16:
    case INFERD_DTYPE_INVALID:
        snprintf(err, err_len, "%s has no JSON form", inferd_dtype_name(dt));
        return -1;
    default: return put_int(s, dt, v, err, err_len);
    }
}

/* Walks nested arrays: at depth d an array must have dims[d] entries (set from the first
 * array met at that depth when learn is set). */
static int walk(json_t *v, int depth, inferd_tensor *t, int learn, byte_sink *s, int64_t *count,
                char *err, size_t err_len)
{
    if (!json_is_array(v)) {
        if (depth != t->ndim) {
            snprintf(err, err_len, "nesting does not match the shape");
            return -1;
        }
        (*count)++;
        if (put_value(s, t->dtype, v, err, err_len) != 0) {
            if (!*err)
                snprintf(err, err_len, "out of memory");
            return -1;
        }
        return 0;
    }
    if (learn && depth == t->ndim) {
        if (t->ndim == INFERD_CLIENT_MAX_DIMS) {
            snprintf(err, err_len, "more than %d dimensions", INFERD_CLIENT_MAX_DIMS);
            return -1;
        }
        t->dims[t->ndim++] = (int64_t)json_array_size(v);
    }
    if (depth >= t->ndim || (int64_t)json_array_size(v) != t->dims[depth]) {
        /* a flat array for a shaped tensor is fine at the top */
        snprintf(err, err_len, "nesting does not match the shape");
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (walk(e, depth + 1, t, learn && i == 0, s, count, err, err_len) != 0)
            return -1;
    }
    return 0;
}

int client_tensor_from_json(json_t *data, inferd_tensor *t, int shape_known, char *err,
                            size_t err_len)
{
    byte_sink s = {0};
    int64_t count = 0;
    err[0] = '\0';
    int rc;
    int64_t want = shape_known ? inferd_tensor_elements(t) : -1;
    if (shape_known && json_is_array(data) && t->ndim != 1 &&
        (int64_t)json_array_size(data) == want && want >= 0 &&
        (json_array_size(data) == 0 || !json_is_array(json_array_get(data, 0)))) {
        /* flat data for a shaped tensor */
        size_t i;
        json_t *e;
        rc = 0;
        json_array_foreach(data, i, e) {
            if ((rc = put_value(&s, t->dtype, e, err, err_len)) != 0)
                break;
            count++;
        }
    } else {
        if (!shape_known)
            t->ndim = 0;
        rc = walk(data, 0, t, !shape_known, &s, &count, err, err_len);
    }
    if (rc == 0 && shape_known && count != want) {
        snprintf(err, err_len, "%lld values for a shape of %lld elements", (long long)count,
                 (long long)want);
        rc = -1;
    }
    if (rc != 0) {
        if (!err[0])
            snprintf(err, err_len, "out of memory");
        free(s.p);
        return -1;
    }
    t->data = s.p;
    t->nbytes = s.len;
    return 0;
}

int inferd_tensor_from_json_text(const char *text, inferd_dtype dtype, inferd_tensor *t,
                                 char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j) {
        snprintf(err, err_len, "not JSON: %s", jerr.text);
        return INFERD_CLIENT_E_INVALID;
    }
    t->dtype = dtype;
    t->data = NULL;
    t->nbytes = 0;
    int rc = client_tensor_from_json(j, t, 0, err, err_len);
    json_decref(j);
    return rc == 0 ? 0 : INFERD_CLIENT_E_INVALID;
}

int client_tensor_check_bytes(const inferd_tensor *t, char *err, size_t err_len)
{
    int64_t n = inferd_tensor_elements(t);
    if (n < 0) {
        snprintf(err, err_len, "'%s': bad shape", t->name);
        return -1;
    }
    if (t->dtype != INFERD_DTYPE_BYTES) {
        size_t es = inferd_dtype_size(t->dtype);
        if (es == 0 || (uint64_t)n > SIZE_MAX / es || (size_t)n * es != t->nbytes) {
            snprintf(err, err_len, "'%s': %zu bytes do not hold shape x %s", t->name, t->nbytes,
                     inferd_dtype_name(t->dtype));
            return -1;
        }
        return 0;
    }
    const unsigned char *p = t->data;
    size_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t len;
        if (t->nbytes - off < 4) {
            snprintf(err, err_len, "'%s': BYTES elements run past the data", t->name);
            return -1;
        }
        memcpy(&len, p + off, 4);
        off += 4;
        if (t->nbytes - off < len) {
            snprintf(err, err_len, "'%s': BYTES elements run past the data", t->name);
            return -1;
        }
        off += len;
    }
    if (off != t->nbytes) {
        snprintf(err, err_len, "'%s': bytes left after the BYTES elements", t->name);
        return -1;
    }
    return 0;
}
