/* One-node ONNX models encoded by hand (protobuf wire format) and run through the public
 * onnx_model / onnx_session API. See op_model.h. */
#include "op_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/onnx.h"

typedef struct pb {
    uint8_t *p;
    size_t len, cap;
} pb;

static void pb_raw(pb *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n) c *= 2;
        uint8_t *q = realloc(b->p, c);
        if (!q) abort(); /* test helper: out of memory is fatal */
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, t, (size_t)n);
}

static void pb_int(pb *b, int field, int64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, (uint64_t)v);
}

static void pb_bytes(pb *b, int field, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, d, n);
}

static void pb_str(pb *b, int field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

static void pb_msg(pb *b, int field, pb *m)
{
    pb_bytes(b, field, m->p, m->len);
    free(m->p);
    memset(m, 0, sizeof *m);
}

static void value_info(pb *g, int field, const char *name, const opm_tensor *t)
{
    pb vi = {0}, tp = {0}, tt = {0}, sh = {0};
    pb_str(&vi, 1, name);
    if (t) {
        pb_int(&tt, 1, t->dtype);
        for (int k = 0; k < t->ndim; k++) {
            pb d = {0};
            pb_int(&d, 1, t->dims[k]);
            pb_msg(&sh, 1, &d);
        }
        pb_bytes(&tt, 2, sh.p ? sh.p : (uint8_t *)"", sh.len);
        free(sh.p);
        pb_msg(&tp, 1, &tt);
        pb_msg(&vi, 2, &tp);
    }
    pb_msg(g, field, &vi);
}

static uint8_t *build(const char *op_type, int opset, const opm_attr *attrs, int n_attrs,
                      const opm_tensor *inputs, int n_inputs, int n_outputs, size_t *len)
{
    pb model = {0}, graph = {0}, node = {0}, os = {0};
    char name[32];
    for (int i = 0; i < n_inputs; i++) {
        snprintf(name, sizeof name, "x%d", i);
        pb_str(&node, 1, inputs[i].data ? name : "");
    }
    for (int i = 0; i < n_outputs; i++) {
        snprintf(name, sizeof name, "y%d", i);
        pb_str(&node, 2, name);
    }
    pb_str(&node, 3, "n");
    pb_str(&node, 4, op_type);
    for (int a = 0; a < n_attrs; a++) {
        pb at = {0};
        pb_str(&at, 1, attrs[a].name);
        switch (attrs[a].type) {
        case OPM_INT:
            pb_int(&at, 3, attrs[a].i);
            pb_int(&at, 20, 2);
            break;
        case OPM_FLOAT: {
            pb_varint(&at, 2 << 3 | 5);
            pb_raw(&at, &attrs[a].f, 4);
            pb_int(&at, 20, 1);
            break;
        }
        case OPM_STRING:
            pb_str(&at, 4, attrs[a].s);
            pb_int(&at, 20, 3);
            break;
        case OPM_INTS:
            for (int k = 0; k < attrs[a].n; k++) pb_int(&at, 8, attrs[a].ints[k]);
            pb_int(&at, 20, 7);
            break;
        case OPM_FLOATS:
            for (int k = 0; k < attrs[a].n; k++) {
                pb_varint(&at, 7 << 3 | 5);
                pb_raw(&at, &attrs[a].floats[k], 4);
            }
            pb_int(&at, 20, 6);
            break;
        case OPM_STRINGS:
            for (int k = 0; k < attrs[a].n; k++) pb_str(&at, 9, attrs[a].strings[k]);
            pb_int(&at, 20, 8);
            break;
        }
        pb_msg(&node, 5, &at);
    }
    pb_msg(&graph, 1, &node);
    pb_str(&graph, 2, "g");
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i].data) continue;
        snprintf(name, sizeof name, "x%d", i);
        value_info(&graph, 11, name, &inputs[i]);
    }
    for (int i = 0; i < n_outputs; i++) {
        snprintf(name, sizeof name, "y%d", i);
        value_info(&graph, 12, name, NULL);
    }
    pb_int(&model, 1, 8); /* ir_version */
    pb_str(&model, 2, "opm");
    pb_msg(&model, 7, &graph);
    pb_str(&os, 1, "");
    pb_int(&os, 2, opset);
    pb_msg(&model, 8, &os);
    *len = model.len;
    return model.p;
}

int opm_run(const char *op_type, int opset, const opm_attr *attrs, int n_attrs,
            const opm_tensor *inputs, int n_inputs, int n_outputs, opm_result *out, char *err,
            size_t err_len)
{
    size_t len;
    uint8_t *bytes = build(op_type, opset, attrs, n_attrs, inputs, n_inputs, n_outputs, &len);
    onnx_model *m = NULL;
    onnx_session *s = NULL;
    int rc = onnx_model_load_buffer(bytes, len, NULL, &m, err, err_len);
    free(bytes);
    if (rc == 0) rc = onnx_session_create(m, 1, &s, err, err_len);
    if (rc == 0) {
        onnx_input in[16];
        int n = 0;
        for (int i = 0; i < n_inputs && n < 16; i++) {
            if (!inputs[i].data) continue;
            size_t nb = inferd_dtype_size(inputs[i].dtype);
            for (int k = 0; k < inputs[i].ndim; k++) nb *= (size_t)inputs[i].dims[k];
            in[n] = (onnx_input){.name = NULL,
                                 .dtype = inputs[i].dtype,
                                 .ndim = inputs[i].ndim,
                                 .dims = inputs[i].dims,
                                 .data = inputs[i].data,
                                 .nbytes = nb};
            n++;
        }
        rc = onnx_run(s, in, n, err, err_len);
    }
    for (int i = 0; rc == 0 && i < n_outputs; i++) {
        onnx_output o;
        rc = onnx_session_output(s, i, &o);
        if (rc) break;
        out[i].dtype = o.dtype;
        out[i].ndim = o.ndim;
        for (int k = 0; k < o.ndim && k < 8; k++) out[i].dims[k] = o.dims[k];
        out[i].nbytes = o.nbytes;
        out[i].data = malloc(o.nbytes ? o.nbytes : 1);
        if (o.nbytes) memcpy(out[i].data, o.data, o.nbytes);
    }
    onnx_session_free(s);
    onnx_model_free(m);
    return rc;
}

void opm_result_free(opm_result *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].data);
        r[i].data = NULL;
    }
}
