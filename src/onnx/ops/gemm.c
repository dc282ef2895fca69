/* Gemm: Y = alpha * op(A) * op(B) + beta * C (C broadcast to M x N). float32 with more than
 * one row or a packed B through nn_gemm.h (a constant B packed at load and then read only
 * packed, C's bias row and the fused activation in the GEMM's store); other single rows
 * through sgemv; float64 through BLAS, C copied
 * into Y first and accumulated onto (beta), then the activation (activation.h). */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_ops.h"

/* Writes C broadcast to m x n into y (row strides from C's shape: cm, cn each 1 or full). */
#define NN_GEMM_FILL_DEFINE(NAME, T)                                                 \
    static void NAME(const T *c, int64_t cm, int64_t cn, T *y, int64_t m, int64_t n) \
    {                                                                                \
        for (int64_t i = 0; i < m; i++) {                                            \
            const T *cr = c + (cm == 1 ? 0 : i * cn);                                \
            T *yr = y + i * n;                                                       \
            if (cn == 1) {                                                           \
                for (int64_t j = 0; j < n; j++) yr[j] = cr[0];                       \
            } else {                                                                 \
                memcpy(yr, cr, (size_t)n * sizeof(T));                               \
            }                                                                        \
        }                                                                            \
    }
NN_GEMM_FILL_DEFINE(gemm_fill_f32, float)
NN_GEMM_FILL_DEFINE(gemm_fill_f64, double)

/* float32, k > 0, m > 1 or B packed: our GEMM or OpenBLAS's (nn_gemm.h), with B packed at load when it
 * is a constant (node->state); a C of one row (the bias) with beta 1 is the GEMM's column
 * bias, any other C is written first and accumulated onto after scaling by beta. */
static int gemm_f32(onnx_ctx *ctx, const onnx_tensor *a, const onnx_tensor *b, const onnx_tensor *c,
                    int64_t cm, int64_t cn, int ta, int tb, float alpha, float beta,
                    const onnx_activation *act, onnx_tensor *y)
{
    const int64_t m = y->dims[0], n = y->dims[1], k = ta ? a->dims[0] : a->dims[1];
    onnx_gemm_args g = {.m = m,
                        .n = n,
                        .k = k,
                        .a = a->data,
                        .lda = a->dims[1],
                        .trans_a = ta,
                        .b = b->data,
                        .ldb = b->dims[1],
                        .trans_b = tb,
                        .alpha = alpha,
                        .c = y->data,
                        .ldc = n,
                        .act = *act};
    const onnx_gemm_packed *pb = onnx_ctx_node(ctx)->state;
    if (onnx_gemm_packed_fits(pb, 0, k, n) && b == onnx_ctx_input(ctx, 1)) g.pb = pb;
    if (c && cm == 1 && cn == n && beta == 1.0f) {
        g.col_bias = c->data;
    } else if (c) {
        float *yd = y->data;
        gemm_fill_f32(c->data, cm, cn, yd, m, n);
        if (beta != 1.0f)
            for (int64_t i = 0; i < m * n; i++) yd[i] *= beta;
        g.accumulate = 1;
    }
    return nn_gemm_f32(ctx, &g);
}

int nn_gemm_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len)
{
    (void)err, (void)err_len;
    const onnx_tensor *b = node->n_inputs > 1 ? consts[1] : NULL;
    if (!b || b->dtype != INFERD_DTYPE_FP32 || b->ndim != 2 || onnx_tensor_numel(b) == 0) return 0;
    const int tb = onnx_attr_int(node, "transB", 0) != 0;
    const int64_t k = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    node->state = onnx_gemm_pack_b(b->data, tb, k, n, b->dims[1]);
    /* NULL state on ENOMEM: run multiplies the unpacked B; else run reads only the packed B
     * (one row included: gemv.h), so the model may free the plain one */
    if (node->state) {
        node->plain_unused |= 1u << 1;
        node->stream = onnx_gemm_packed_data(node->state, &node->stream_bytes);
    }
    return 0;
}

void nn_gemm_release(onnx_node *node)
{
    onnx_gemm_packed_free(node->state);
    node->state = NULL;
}

int nn_gemm_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *a = onnx_ctx_input(ctx, 0), *b = onnx_ctx_input(ctx, 1);
    const onnx_tensor *c = onnx_ctx_input(ctx, 2);
    if (!a || !b) return onnx_ctx_fail(ctx, "needs inputs A and B");
    const inferd_dtype t = a->dtype;
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64)
        return onnx_ctx_unsupported(ctx, "unsupported element type %s", inferd_dtype_name(t));
    if (b->dtype != t || (c && c->dtype != t))
        return onnx_ctx_fail(ctx, "A, B and C element types differ");
    if (a->ndim != 2 || b->ndim != 2)
        return onnx_ctx_fail(ctx, "A and B must be 2-D (ranks %d, %d)", a->ndim, b->ndim);
    const int ta = onnx_attr_int(node, "transA", 0) != 0;
    const int tb = onnx_attr_int(node, "transB", 0) != 0;
    const float alpha = onnx_attr_float(node, "alpha", 1.0f);
    const float beta = onnx_attr_float(node, "beta", 1.0f);
    const int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
    const int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (k != kb)
        return onnx_ctx_fail(ctx, "inner dims differ: %lld vs %lld", (long long)k, (long long)kb);
    int64_t cm = 1, cn = 1;
    if (c) {
        if (c->ndim > 2) return onnx_ctx_fail(ctx, "C has rank %d, expected <= 2", c->ndim);
        if (c->ndim >= 1) cn = c->dims[c->ndim - 1];
        if (c->ndim == 2) cm = c->dims[0];
        if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
            return onnx_ctx_fail(ctx, "C does not broadcast to %lld x %lld", (long long)m,
                                 (long long)n);
        if (onnx_tensor_numel(c) == 0) c = NULL; /* only possible when M or N is 0 */
    }
    onnx_activation act;
    if (nn_activation_read(ctx, node, &act) != 0) return -1;
    if (act.kind != ONNX_ACT_NONE && t != INFERD_DTYPE_FP32)
        return onnx_ctx_fail(ctx, "fused activation needs float32");
    int64_t dims[2] = {m, n};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, t, 2, dims);
    if (!y) return -1;
    if (m == 0 || n == 0) return 0;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return onnx_ctx_fail(ctx, "matrix dims too large for BLAS");

    const int use_c = c && beta != 0.0f;
    /* one row too when B is packed (its plain copy may be gone): our GEMM's few-row path */
    if (t == INFERD_DTYPE_FP32 && k > 0 && (m > 1 || onnx_gemm_packed_fits(node->state, 0, k, n)))
        return gemm_f32(ctx, a, b, use_c ? c : NULL, cm, cn, ta, tb, alpha, beta, &act, y);
    if (use_c) {
        if (t == INFERD_DTYPE_FP32) gemm_fill_f32(c->data, cm, cn, y->data, m, n);
        else gemm_fill_f64(c->data, cm, cn, y->data, m, n);
    }
    const int64_t total = m * n;
    if (k == 0) { /* no product term: beta * C or zeros */
        if (!use_c) {
            memset(y->data, 0, onnx_tensor_nbytes(y));
        } else if (t == INFERD_DTYPE_FP32) {
            for (int64_t i = 0; i < total; i++) ((float *)y->data)[i] *= beta;
        } else {
            for (int64_t i = 0; i < total; i++) ((double *)y->data)[i] *= beta;
        }
    } else if (t == INFERD_DTYPE_FP32 && m == 1) {
        /* one row (a classifier at batch 1): a matrix-vector product, which OpenBLAS runs
         * straight from B instead of packing it first like sgemm does */
        if (tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, alpha, b->data, (int)k,
                        a->data, 1, use_c ? beta : 0.0f, y->data, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, b->data, (int)n, a->data,
                        1, use_c ? beta : 0.0f, y->data, 1);
    } else {
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, alpha, a->data, (int)a->dims[1], b->data,
                    (int)b->dims[1], use_c ? beta : 0.0, y->data, (int)n);
    }
    if (t == INFERD_DTYPE_FP32) nn_activation_run(&act, y->data, total);
    return 0;
}
