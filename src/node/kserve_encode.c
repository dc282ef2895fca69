/* KServe v2 infer response from a finished request's output tensors in the arena: JSON data,
 * binary data (pointed at, never copied) or a copy into the client's shared memory.
 * Numbers are printed exactly: FP32 with %.9g, FP64 with %.17g (round-trip precision),
 * integers and integral floats by http_buf_put_i64/u64 (the same text, without printf);
 * non-finite values, which JSON cannot express, as the strings "NaN", "Inf", "-Inf". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "inferd/half.h"
#include "inferd/unaligned.h"
#include "kserve.h"
#include "kserve_binary.h"

/* 10^digits for the precisions below (digits 0..17, each exact in a double): %.*g prints an
 * integral value under it without an exponent or a fraction, exactly as its integer digits. */
static const double integral_limit[18] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                          1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

static void put_double(http_buf *b, double v, int digits)
{
    if (isnan(v)) http_buf_puts(b, "\"NaN\"");
    else if (isinf(v)) http_buf_puts(b, v > 0 ? "\"Inf\"" : "\"-Inf\"");
    else if (fabs(v) < integral_limit[digits] && v == (double)(long long)v) {
        /* integral: the same text as %.*g, without printf ("-0" for negative zero) */
        if (v == 0 && signbit(v)) http_buf_puts(b, "-0");
        else http_buf_put_i64(b, (long long)v);
    } else http_buf_printf(b, "%.*g", digits, v);
}

int kserve_encode_data(const shm_region *region, const shm_tensor *t, http_buf *b, char *err,
                       size_t err_len)
{
    if (!inferd_dtype_is_valid((int)t->dtype)) {
        snprintf(err, err_len, "output has an invalid datatype %u", t->dtype);
        return -1;
    }
    inferd_dtype dt = (inferd_dtype)t->dtype;
    int64_t n = kserve_tensor_elements(t);
    if (n < 0) {
        snprintf(err, err_len, "output has an invalid shape");
        return -1;
    }
    if (!shm_arena_range_ok(region, t->offset, t->nbytes)) {
        snprintf(err, err_len, "output data lies outside the arena");
        return -1;
    }
    size_t es = inferd_dtype_size(dt);
    if (dt != INFERD_DTYPE_BYTES && (uint64_t)n * es != t->nbytes) {
        snprintf(err, err_len, "output holds %llu bytes, its shape needs %llu",
                 (unsigned long long)t->nbytes, (unsigned long long)((uint64_t)n * es));
        return -1;
    }
    const uint8_t *p = shm_arena_ptr(region, t->offset);
    /* rough reservation: avoids most regrowth for numeric tensors */
    if ((uint64_t)n < ((uint64_t)1 << 32)) http_buf_reserve(b, (size_t)n * 4 + 2);
    http_buf_append(b, "[", 1);
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i) http_buf_append(b, ",", 1);
        switch (dt) {
        case INFERD_DTYPE_BOOL: http_buf_puts(b, p[i] ? "true" : "false"); break;
        case INFERD_DTYPE_INT8: http_buf_put_i64(b, (int8_t)p[i]); break;
        case INFERD_DTYPE_UINT8: http_buf_put_u64(b, p[i]); break;
        case INFERD_DTYPE_INT16: http_buf_put_i64(b, inferd_load_i16(p, i)); break;
        case INFERD_DTYPE_UINT16: http_buf_put_u64(b, inferd_load_u16(p, i)); break;
        case INFERD_DTYPE_INT32: http_buf_put_i64(b, inferd_load_i32(p, i)); break;
        case INFERD_DTYPE_UINT32: http_buf_put_u64(b, inferd_load_u32(p, i)); break;
        case INFERD_DTYPE_INT64: http_buf_put_i64(b, inferd_load_i64(p, i)); break;
        case INFERD_DTYPE_UINT64: http_buf_put_u64(b, inferd_load_u64(p, i)); break;
        case INFERD_DTYPE_FP32: put_double(b, inferd_load_f32(p, i), 9); break;
        case INFERD_DTYPE_FP64: put_double(b, inferd_load_f64(p, i), 17); break;
        case INFERD_DTYPE_FP16:
            put_double(b, inferd_half_to_float(inferd_load_u16(p, i)), 5);
            break;
        case INFERD_DTYPE_BF16:
            put_double(b, inferd_bf16_to_float(inferd_load_u16(p, i)), 4);
            break;
        case INFERD_DTYPE_BYTES: {
            uint32_t l;
            if (t->nbytes - pos < 4) goto short_bytes;
            memcpy(&l, p + pos, 4);
            pos += 4;
            if (t->nbytes - pos < l) goto short_bytes;
            http_buf_json_string(b, (const char *)p + pos, l);
            pos += l;
            break;
        }
        default:
            snprintf(err, err_len, "output datatype %s cannot be encoded", inferd_dtype_name(dt));
            return -1;
        }
    }
    http_buf_append(b, "]", 1);
    if (b->oom) {
        snprintf(err, err_len, "out of memory encoding the response");
        return -1;
    }
    return 0;
short_bytes:
    snprintf(err, err_len, "BYTES output is shorter than its shape says");
    return -1;
}

int kserve_check_output(const shm_region *region, const shm_tensor *t, char *err, size_t err_len)
{
    if (!inferd_dtype_is_valid((int)t->dtype)) {
        snprintf(err, err_len, "output has an invalid datatype %u", t->dtype);
        return -1;
    }
    int64_t n = kserve_tensor_elements(t);
    if (n < 0) {
        snprintf(err, err_len, "output has an invalid shape");
        return -1;
    }
    if (!shm_arena_range_ok(region, t->offset, t->nbytes)) {
        snprintf(err, err_len, "output data lies outside the arena");
        return -1;
    }
    if (t->dtype == INFERD_DTYPE_BYTES) {
        int64_t got;
        if (kserve_bytes_walk(shm_arena_ptr(region, t->offset), t->nbytes, &got, err, err_len))
            return -1;
        if (got != n) {
            snprintf(err, err_len, "BYTES output holds %lld elements, its shape %lld",
                     (long long)got, (long long)n);
            return -1;
        }
    } else if ((uint64_t)n * inferd_dtype_size((inferd_dtype)t->dtype) != t->nbytes) {
        snprintf(err, err_len, "output holds %llu bytes, its shape needs %llu",
                 (unsigned long long)t->nbytes,
                 (unsigned long long)((uint64_t)n * inferd_dtype_size((inferd_dtype)t->dtype)));
        return -1;
    }
    return 0;
}

int kserve_encode_infer(const infer_request *req, const model_config *m, const shm_region *region,
                        const kserve_params *params, http_buf *b, http_span *spans, int *n_spans,
                        int *json_only, char *err, size_t err_len)
{
    *n_spans = 0;
    *json_only = 1;
    if (req->n_outputs > MODEL_MAX_IO || (int)req->n_outputs != m->n_outputs) {
        snprintf(err, err_len, "the worker returned %u outputs, model '%s' has %d", req->n_outputs,
                 m->name, m->n_outputs);
        return 500;
    }
    char version[16];
    kserve_model_version(m, version, sizeof version);
    http_buf_puts(b, "{\"model_name\": ");
    http_buf_json_string(b, m->name, strlen(m->name));
    http_buf_puts(b, ", \"model_version\": ");
    http_buf_json_string(b, version, strlen(version));
    if (params->id) {
        http_buf_puts(b, ", \"id\": ");
        http_buf_json_string(b, params->id, params->id_len);
    }
    http_buf_puts(b, ", \"outputs\": [");
    int first = 1;
    for (uint32_t i = 0; i < req->n_outputs; i++) {
        if (req->output_mask && !(req->output_mask & (1u << i))) continue;
        const shm_tensor *t = &req->outputs[i];
        if (!first) http_buf_puts(b, ", ");
        first = 0;
        http_buf_puts(b, "{\"name\": ");
        http_buf_json_string(b, m->outputs[i].name, strlen(m->outputs[i].name));
        http_buf_puts(b, ", \"datatype\": \"");
        http_buf_puts(b, inferd_dtype_name((inferd_dtype)t->dtype));
        http_buf_puts(b, "\", \"shape\": [");
        for (uint32_t d = 0; d < t->ndim && d < SHM_MAX_DIMS; d++) {
            if (d) http_buf_append(b, ", ", 2);
            http_buf_put_i64(b, (long long)t->dims[d]);
        }
        http_buf_puts(b, "]");
        if (params->shm.outputs & (1u << i)) {
            int rc = kserve_shm_write_output(&params->shm, (int)i, m->outputs[i].name, region, t,
                                             err, err_len);
            if (rc) return rc;
            http_buf_puts(b, ", \"parameters\": {\"shared_memory_region\": ");
            const char *rn = params->shm.out_region[i];
            http_buf_json_string(b, rn, strlen(rn));
            http_buf_printf(b, ", \"shared_memory_byte_size\": %llu}}",
                            (unsigned long long)t->nbytes);
        } else if (params->binary_outputs & (1u << i)) {
            if (kserve_check_output(region, t, err, err_len)) return 500;
            http_buf_printf(b, ", \"parameters\": {\"binary_data_size\": %llu}}",
                            (unsigned long long)t->nbytes);
            *json_only = 0;
            if (t->nbytes) {
                spans[*n_spans].base = shm_arena_ptr(region, t->offset);
                spans[*n_spans].len = (size_t)t->nbytes;
                (*n_spans)++;
            }
        } else {
            http_buf_puts(b, ", \"data\": ");
            if (kserve_encode_data(region, t, b, err, err_len)) return 500;
            http_buf_puts(b, "}");
        }
    }
    http_buf_puts(b, "]}");
    if (b->oom) {
        snprintf(err, err_len, "out of memory encoding the response");
        return 500;
    }
    return 0;
}
