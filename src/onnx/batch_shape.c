/* Batch slicing through shape computations: tracks, element by element, which small integer
 * values computed from Shape depend on the batch size, and lets Reshape/Resize/Slice read them
 * when the batch stays on dim 0 (FPN's and LR-ASPP's Resize to a feature map's size,
 * ShuffleNet's channel shuffle and split). See docs/onnx-runtime.md, "Batch slicing". */
#include <string.h>

#include "batch_shape.h"

static int is_op(const onnx_node *n, const char *t)
{
    return strcmp(n->op_type, t) == 0;
}

static int is_const(const onnx_model *m, const onnx_node *n, int k)
{
    return k < n->n_inputs && n->inputs[k] >= 0 && m->values[n->inputs[k]].kind == ONNX_VALUE_CONST;
}

static int absent(const onnx_node *n, int k)
{
    return k >= n->n_inputs || n->inputs[k] < 0;
}

/* Constant integer input k (int64 or int32, rank 0 or 1, at most max elements) into out;
 * its count, or -1. */
static int const_ints(const onnx_model *m, const onnx_node *n, int k, int64_t *out, int max)
{
    if (!is_const(m, n, k)) return -1;
    const onnx_tensor *t = &m->values[n->inputs[k]].t;
    if (t->ndim > 1) return -1;
    const int64_t c = t->ndim == 1 ? t->dims[0] : 1;
    if (c < 0 || c > max || (c > 0 && !t->data)) return -1;
    for (int64_t i = 0; i < c; i++) {
        if (t->dtype == INFERD_DTYPE_INT64) out[i] = ((const int64_t *)t->data)[i];
        else if (t->dtype == INFERD_DTYPE_INT32) out[i] = ((const int32_t *)t->data)[i];
        else return -1;
    }
    return (int)c;
}

/* Input k as a shape value: a tracked one, or a small numeric constant (every element fixed). */
static int sv_in(const onnx_model *m, const onnx_node *n, int k, const batch_sv *sv, batch_sv *o)
{
    if (absent(n, k)) return -1;
    const int v = n->inputs[k];
    if (sv[v].len >= 0) {
        *o = sv[v];
        return 0;
    }
    if (!is_const(m, n, k)) return -1;
    const onnx_tensor *t = &m->values[v].t;
    const inferd_dtype d = t->dtype;
    if (t->ndim > 1 || (d != INFERD_DTYPE_INT64 && d != INFERD_DTYPE_INT32 &&
                        d != INFERD_DTYPE_FP32 && d != INFERD_DTYPE_FP64))
        return -1;
    const int64_t c = t->ndim == 1 ? t->dims[0] : 1;
    if (c < 0 || c > BATCH_SV_MAX) return -1;
    memset(o, 0, sizeof *o);
    o->len = (int8_t)c;
    o->scalar = t->ndim == 0;
    return 0;
}

/* Whether every element of a shape value is fixed. */
static int sv_fixed(const batch_sv *s)
{
    for (int i = 0; i < s->len; i++)
        if (s->kind[i] != BATCH_SV_FIXED) return 0;
    return 1;
}

/* A single axis attribute or constant input that must name dim 0 of a 1-D value. */
static int axis_is_0(int64_t a)
{
    return a == 0 || a == -1;
}

/* Slice of a 1-D value of len elements by one start/end/step (ONNX's clamping); the picked
 * indices into idx, their count, or -1. */
static int slice_indices(int64_t len, int64_t start, int64_t end, int64_t step, int *idx)
{
    if (step == 0) return -1;
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (step > 0) {
        start = start < 0 ? 0 : start > len ? len : start;
        end = end < 0 ? 0 : end > len ? len : end;
    } else {
        start = start < 0 ? -1 : start > len - 1 ? len - 1 : start;
        end = end < -1 ? -1 : end > len - 1 ? len - 1 : end;
    }
    int c = 0;
    for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
        if (c >= BATCH_SV_MAX) return -1;
        idx[c++] = (int)i;
    }
    return c;
}

/* Slice's starts/ends/axes/steps of a one-axis slice: attributes before opset 10, else
 * inputs 1-4. On a shape value every one must be constant. Returns 0 or -1. */
static int slice_params(const onnx_model *m, const onnx_node *n, int64_t p[4])
{
    p[2] = 0;
    p[3] = 1;
    if (n->opset < 10) {
        static const char *const names[] = {"starts", "ends", "axes"};
        for (int k = 0; k < 3; k++) {
            const int64_t *v = NULL;
            int c = onnx_attr_ints(n, names[k], &v);
            if (k < 2 && (!v || c != 1)) return -1;
            if (k == 2 && v && (c != 1 || !axis_is_0(v[0]))) return -1;
            if (v && k < 2) p[k] = v[0];
        }
        return 0;
    }
    for (int k = 1; k <= 4; k++) {
        int64_t v[1];
        if (k >= 3 && absent(n, k)) continue;
        if (const_ints(m, n, k, v, 1) != 1) return -1;
        if (k == 3 && !axis_is_0(v[0])) return -1;
        if (k != 3) p[k == 4 ? 3 : k - 1] = v[0];
    }
    return 0;
}

/* Elementwise arithmetic of shape values (numpy broadcasting of scalars and 1-D values):
 * fixed where every operand is, else mixed (any arithmetic of the batch size differs from it). */
static int sv_arith(const onnx_model *m, const onnx_node *n, const batch_sv *sv, batch_sv *o)
{
    memset(o, 0, sizeof *o);
    o->scalar = 1;
    o->len = 1;
    int mixed = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        batch_sv a;
        if (sv_in(m, n, k, sv, &a) < 0) return -1;
        if (!a.scalar) {
            if (!o->scalar && o->len != a.len && o->len != 1 && a.len != 1) return -1;
            if (o->scalar || o->len == 1) o->len = a.len;
            o->scalar = 0;
        }
        mixed |= !sv_fixed(&a);
    }
    for (int i = 0; i < o->len; i++) o->kind[i] = mixed ? BATCH_SV_MIXED : BATCH_SV_FIXED;
    return 0;
}

static int sv_node(const onnx_model *m, const onnx_node *n, const int *rank, const batch_sv *sv,
                   batch_sv *o)
{
    batch_sv a;
    memset(o, 0, sizeof *o);
    if (is_op(n, "Shape")) {
        const int v = n->inputs[0];
        batch_sv s;
        memset(&s, 0, sizeof s);
        if (rank[v] >= 1) {
            s.len = (int8_t)rank[v];
            s.kind[0] = BATCH_SV_BATCH;
        } else if (sv[v].len >= 0) s.len = sv[v].scalar ? 0 : 1; /* its own length: fixed */
        else return -1;
        int idx[BATCH_SV_MAX];
        const int64_t end = onnx_node_attr(n, "end") ? onnx_attr_int(n, "end", 0) : s.len;
        const int c = slice_indices(s.len, onnx_attr_int(n, "start", 0), end, 1, idx);
        if (c < 0) return -1;
        o->len = (int8_t)c;
        for (int i = 0; i < c; i++) o->kind[i] = s.kind[idx[i]];
        return 0;
    }
    if (is_op(n, "Gather")) {
        int64_t ix[BATCH_SV_MAX];
        if (sv_in(m, n, 0, sv, &a) < 0 || a.scalar || !axis_is_0(onnx_attr_int(n, "axis", 0)))
            return -1;
        const int c = const_ints(m, n, 1, ix, BATCH_SV_MAX);
        if (c < 0) return -1;
        o->scalar = m->values[n->inputs[1]].t.ndim == 0;
        o->len = (int8_t)c;
        for (int i = 0; i < c; i++) {
            const int64_t j = ix[i] < 0 ? ix[i] + a.len : ix[i];
            if (j < 0 || j >= a.len) return -1;
            o->kind[i] = a.kind[j];
        }
        return 0;
    }
    if (is_op(n, "Unsqueeze") || is_op(n, "Squeeze")) { /* scalar <-> one element */
        int64_t ax[1];
        int c;
        if (n->opset < 13) {
            const int64_t *axa = NULL;
            c = onnx_attr_ints(n, "axes", &axa);
            if (!axa) c = 0;
            else if (c == 1) ax[0] = axa[0];
            else return -1;
        } else c = absent(n, 1) ? 0 : const_ints(m, n, 1, ax, 1);
        if (sv_in(m, n, 0, sv, &a) < 0 || c < 0 || (c == 1 && !axis_is_0(ax[0]))) return -1;
        const int sq = is_op(n, "Squeeze");
        if (sq ? a.scalar || a.len != 1 : !a.scalar || c != 1) return -1;
        *o = a;
        o->scalar = (int8_t)sq;
        return 0;
    }
    if (is_op(n, "Concat")) {
        if (n->n_inputs < 1 || !axis_is_0(onnx_attr_int(n, "axis", 0))) return -1;
        for (int k = 0; k < n->n_inputs; k++) {
            if (sv_in(m, n, k, sv, &a) < 0 || a.scalar || o->len + a.len > BATCH_SV_MAX) return -1;
            memcpy(o->kind + o->len, a.kind, (size_t)a.len);
            o->len = (int8_t)(o->len + a.len);
        }
        return 0;
    }
    if (is_op(n, "Slice")) {
        int64_t p[4];
        int idx[BATCH_SV_MAX];
        if (sv_in(m, n, 0, sv, &a) < 0 || a.scalar || slice_params(m, n, p) < 0) return -1;
        const int c = slice_indices(a.len, p[0], p[1], p[3], idx);
        if (c < 0) return -1;
        o->len = (int8_t)c;
        for (int i = 0; i < c; i++) o->kind[i] = a.kind[idx[i]];
        return 0;
    }
    if (is_op(n, "Cast")) { /* to float, int32, int64, double: shape sizes stay exact */
        const int64_t to = onnx_attr_int(n, "to", 0);
        if (to != 1 && to != 6 && to != 7 && to != 11) return -1;
        return sv_in(m, n, 0, sv, o);
    }
    if (is_op(n, "Identity")) return sv_in(m, n, 0, sv, o);
    if (is_op(n, "Reshape")) { /* to 1-D ([-1] or [len]) or a scalar ([] of one element) */
        int64_t s[1];
        const int c = const_ints(m, n, 1, s, 1);
        if (sv_in(m, n, 0, sv, &a) < 0 || c < 0 || !is_const(m, n, 1) ||
            m->values[n->inputs[1]].t.ndim != 1)
            return -1;
        if (c == 0 && a.len == 1) a.scalar = 1;
        else if (c == 1 && (s[0] == -1 || s[0] == a.len)) a.scalar = 0;
        else return -1;
        *o = a;
        return 0;
    }
    static const char *const arith[] = {"Add", "Sub",   "Mul",  "Div", "Mod", "Max",
                                        "Min", "Floor", "Ceil", "Neg", "Abs"};
    for (size_t i = 0; i < sizeof arith / sizeof arith[0]; i++)
        if (is_op(n, arith[i])) return sv_arith(m, n, sv, o);
    return -1;
}

int batch_shape_node(const onnx_model *m, const onnx_node *n, const int *rank, batch_sv *sv)
{
    if (n->n_outputs < 1 || n->outputs[0] < 0 || n->n_inputs < 1 || n->inputs[0] < 0) return 0;
    for (int k = 1; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) return 0;
    int reads = is_op(n, "Shape");
    for (int k = 0; k < n->n_inputs; k++) {
        const int v = n->inputs[k];
        if (v >= 0 && sv[v].len >= 0) reads = 1;
        if (v >= 0 && rank[v] >= 1 && !(k == 0 && is_op(n, "Shape"))) return 0;
    }
    batch_sv o;
    if (!reads || sv_node(m, n, rank, sv, &o) < 0) return 0;
    sv[n->outputs[0]] = o;
    return 1;
}

/* Resize of a batched input: the batch dim keeps its size, so its taps are an exact copy
 * (tensor_resize.c skips such an axis) in every mode but tf_crop_and_resize. */
static int resize_rank(const onnx_model *m, const onnx_node *n, int r0, const batch_sv *sv)
{
    const char *ct = onnx_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const char *kp = onnx_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    if (!strcmp(ct, "tf_crop_and_resize") || strcmp(kp, "stretch") || onnx_node_attr(n, "axes"))
        return -1;
    const int ks = n->opset < 11 ? 1 : 2, kz = 3;
    if (n->opset >= 11 && !absent(n, 1) && !is_const(m, n, 1)) return -1; /* roi */
    batch_sv s;
    if (n->opset >= 11 && !absent(n, kz) &&
        !(is_const(m, n, kz) && m->values[n->inputs[kz]].t.ndim == 1 &&
          m->values[n->inputs[kz]].t.dims[0] == 0)) {
        /* sizes: the batch, then fixed sizes */
        if (sv_in(m, n, kz, sv, &s) < 0 || s.scalar || s.len != r0 || s.kind[0] != BATCH_SV_BATCH)
            return -1;
        for (int i = 1; i < s.len; i++)
            if (s.kind[i] != BATCH_SV_FIXED) return -1;
        return absent(n, ks) || is_const(m, n, ks) ? r0 : -1;
    }
    if (!is_const(m, n, ks)) return -1; /* scales: 1 on the batch dim */
    const onnx_tensor *t = &m->values[n->inputs[ks]].t;
    if (t->dtype != INFERD_DTYPE_FP32 || t->ndim != 1 || t->dims[0] != r0 || !t->data) return -1;
    return ((const float *)t->data)[0] == 1.0f ? r0 : -1;
}

/* Slice of a batched input: constant axes other than 0; starts, ends and steps fixed. */
static int slice_rank(const onnx_model *m, const onnx_node *n, int r0, const batch_sv *sv)
{
    int64_t ax[ONNX_MAX_DIMS];
    int c;
    if (n->opset < 10) {
        const int64_t *a = NULL;
        c = onnx_attr_ints(n, "axes", &a);
        if (!a || c < 1 || c > ONNX_MAX_DIMS) return -1;
        memcpy(ax, a, (size_t)c * sizeof *ax);
    } else {
        c = const_ints(m, n, 3, ax, ONNX_MAX_DIMS); /* no axes: every dim from 0 */
        if (c < 1) return -1;
        for (int k = 1; k <= 4; k++) {
            batch_sv s;
            if (k == 3 || (k == 4 && absent(n, k))) continue;
            if (sv_in(m, n, k, sv, &s) < 0 || s.scalar || s.len != c || !sv_fixed(&s)) return -1;
        }
    }
    for (int i = 0; i < c; i++) {
        const int64_t a = ax[i] < 0 ? ax[i] + r0 : ax[i];
        if (a < 1 || a >= r0) return -1;
    }
    return r0;
}

int batch_shape_use(const onnx_model *m, const onnx_node *n, const int *rank, const batch_sv *sv)
{
    if (n->n_inputs < 1 || n->inputs[0] < 0) return 0; /* an omitted first input (fuzz: Loop) */
    const int r0 = rank[n->inputs[0]];
    if (r0 < 1) return 0;
    if (is_op(n, "Resize")) return resize_rank(m, n, r0, sv);
    if (is_op(n, "Slice")) return slice_rank(m, n, r0, sv);
    if (!is_op(n, "Reshape") || absent(n, 1) || sv[n->inputs[1]].len < 0) return 0;
    /* Reshape by a computed shape: the batch first, then fixed sizes (-1 and 0 among them
     * resolve per sample: dim 0 is the batch on both sides) */
    const batch_sv *s = &sv[n->inputs[1]];
    if (s->scalar || s->len < 1 || s->len > ONNX_MAX_DIMS || s->kind[0] != BATCH_SV_BATCH ||
        onnx_attr_int(n, "allowzero", 0) != 0)
        return -1;
    for (int i = 1; i < s->len; i++)
        if (s->kind[i] != BATCH_SV_FIXED) return -1;
    return s->len;
}
