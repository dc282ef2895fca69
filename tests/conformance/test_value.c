/* Reading TensorProto / SequenceProto / OptionalProto test data files (see test_value.h). */
#include "test_value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/onnx.h"
#include "model.h"
#include "pbtensor.h"

typedef struct wire {
    const uint8_t *p, *end;
} wire;

static int wire_varint(wire *w, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
        uint8_t b = *w->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* Next field: its number, and for length-delimited fields the bytes. Returns 1, 0 at the
 * end, -1 if malformed. */
static int wire_next(wire *w, uint32_t *field, const uint8_t **ld, size_t *ld_len)
{
    if (w->p >= w->end) return 0;
    uint64_t key, v;
    if (wire_varint(w, &key) < 0) return -1;
    *field = (uint32_t)(key >> 3);
    *ld = NULL;
    *ld_len = 0;
    switch (key & 7) {
    case 0: return wire_varint(w, &v) < 0 ? -1 : 1;
    case 1:
        if (w->end - w->p < 8) return -1;
        w->p += 8;
        return 1;
    case 5:
        if (w->end - w->p < 4) return -1;
        w->p += 4;
        return 1;
    case 2:
        if (wire_varint(w, &v) < 0 || v > (uint64_t)(w->end - w->p)) return -1;
        *ld = w->p;
        *ld_len = (size_t)v;
        w->p += v;
        return 1;
    default: return -1;
    }
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n) memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* SequenceProto: 1 name, 3 tensor_values. */
static int read_sequence(const uint8_t *buf, size_t len, test_value *v, char *err, size_t err_len)
{
    wire w = {buf, buf + len};
    uint32_t f;
    const uint8_t *ld;
    size_t n;
    int r;
    v->kind = ONNX_KIND_SEQUENCE;
    while ((r = wire_next(&w, &f, &ld, &n)) == 1) {
        if (f == 1 && ld && !v->name) {
            v->name = dup_bytes(ld, n);
        } else if (f == 3 && ld) {
            onnx_tensor *items = realloc(v->items, (size_t)(v->n_items + 1) * sizeof *items);
            if (!items) return ONNX_E_NOMEM;
            v->items = items;
            int rc = onnx_pb_tensor_read_buffer(ld, n, &v->items[v->n_items], NULL, err, err_len);
            if (rc < 0) return rc;
            v->n_items++;
        } else if (f == 4 || f == 5 || f == 6 || f == 7) {
            snprintf(err, err_len, "sequences of non-tensors are not supported");
            return ONNX_E_UNSUPPORTED;
        }
    }
    if (r < 0) {
        snprintf(err, err_len, "not a SequenceProto");
        return ONNX_E_INVALID;
    }
    return 0;
}

/* OptionalProto: 1 name, 3 tensor_value, 5 sequence_value; neither: no value. */
static int read_optional(const uint8_t *buf, size_t len, test_value *v, char *err, size_t err_len)
{
    wire w = {buf, buf + len};
    uint32_t f;
    const uint8_t *ld;
    size_t n;
    int r;
    v->kind = ONNX_KIND_NONE;
    while ((r = wire_next(&w, &f, &ld, &n)) == 1) {
        int rc = 0;
        if (f == 1 && ld && !v->name) {
            v->name = dup_bytes(ld, n);
        } else if (f == 3 && ld) {
            v->kind = ONNX_KIND_TENSOR;
            rc = onnx_pb_tensor_read_buffer(ld, n, &v->t, NULL, err, err_len);
        } else if (f == 5 && ld) {
            char *name = v->name;
            v->name = NULL;
            rc = read_sequence(ld, n, v, err, err_len);
            free(v->name);
            v->name = name;
        }
        if (rc < 0) return rc;
    }
    if (r < 0) {
        snprintf(err, err_len, "not an OptionalProto");
        return ONNX_E_INVALID;
    }
    return 0;
}

int test_value_read(const char *path, int is_sequence, int is_optional, test_value *v, char *err,
                    size_t err_len)
{
    memset(v, 0, sizeof *v);
    if (!is_sequence && !is_optional) {
        v->kind = ONNX_KIND_TENSOR;
        return onnx_pb_tensor_read_file(path, &v->t, &v->name, err, err_len);
    }
    onnx_load_err e = {err, err_len, 0};
    unsigned char *buf;
    size_t len;
    int rc = onnx_read_file(path, (size_t)1 << 31, &buf, &len, &e);
    if (rc < 0) return rc;
    rc = is_optional ? read_optional(buf, len, v, err, err_len)
                     : read_sequence(buf, len, v, err, err_len);
    free(buf);
    if (rc == 0 && !v->name && !(v->name = strdup(""))) rc = ONNX_E_NOMEM;
    return rc;
}

void test_value_free(test_value *v)
{
    free(v->t.data);
    free(v->name);
    for (int i = 0; i < v->n_items; i++) free(v->items[i].data);
    free(v->items);
    memset(v, 0, sizeof *v);
}
