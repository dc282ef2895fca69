/* MatMul with numpy semantics: N-d batched with broadcast batch dims, 1-D operands promoted
 * and their dim removed. float32/float64 through BLAS (a constant 2-D B folds all batches of A
 * into one GEMM), int32/int64 by plain loops. Honours the fusion contract: inferd_bias = 1
 * adds input 2 (1-D, length N) over the last dim, then the fused activation. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

#define NN_MATMUL_INT_DEFINE(NAME, T)                                                         \
    static void NAME(const T *a, const T *b, T *c, int64_t m, int64_t n, int64_t k)           \
    {                                                                                         \
        for (int64_t i = 0; i < m; i++) {                                                     \
            T *cr = c + i * n;                                                                \
            for (int64_t j = 0; j < n; j++) cr[j] = 0;                                        \
            for (int64_t p = 0; p < k; p++) {                                                 \
                const T av = a[i * k + p], *br = b + p * n;                                   \
                for (int64_t j = 0; j < n; j++)                                               \
                    cr[j] = (T)((uint64_t)cr[j] + (uint64_t)av * (uint64_t)br[j]);            \
            }                                                                                 \
        }                                                                                     \
    }
NN_MATMUL_INT_DEFINE(matmul_i32, int32_t)
NN_MATMUL_INT_DEFINE(matmul_i64, int64_t)

/* C (m x n) = A (m x k) * B (k x n), all row-major and contiguous. */
static void matmul_one(inferd_dtype t, const void *a, const void *b, void *c, int64_t m,
                       int64_t n, int64_t k)
{
    if (k == 0) {
        memset(c, 0, (size_t)(m * n) * inferd_dtype_size(t));
        return;
    }
    switch (t) {
    case INFERD_DTYPE_FP32:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)n, 0.0f, c, (int)n);
        break;
    case INFERD_DTYPE_FP64:
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, a,
                    (int)k, b, (int)n, 0.0, c, (int)n);
        break;
    case INFERD_DTYPE_INT32: matmul_i32(a, b, c, m, n, k); break;
    default: matmul_i64(a, b, c, m, n, k); break;
    }
}

int nn_matmul_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *a = onnx_ctx_input(ctx, 0), *b = onnx_ctx_input(ctx, 1);
    const onnx_tensor *bias = NULL;
    if (!a || !b) return onnx_ctx_fail(ctx, "needs inputs A and B");
    const inferd_dtype t = a->dtype;
    if (b->dtype != t) return onnx_ctx_fail(ctx, "A and B element types differ");
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64 && t != INFERD_DTYPE_INT32 &&
        t != INFERD_DTYPE_INT64)
        return onnx_ctx_unsupported(ctx, "unsupported element type %s", inferd_dtype_name(t));
    if (a->ndim < 1 || b->ndim < 1) return onnx_ctx_fail(ctx, "operands must have rank >= 1");
    onnx_activation act;
    if (nn_activation_read(ctx, node, &act) != 0) return -1;
    if (act.kind != ONNX_ACT_NONE && t != INFERD_DTYPE_FP32)
        return onnx_ctx_fail(ctx, "fused activation needs float32");

    const int a1 = a->ndim == 1, b1 = b->ndim == 1;
    const int64_t m = a1 ? 1 : a->dims[a->ndim - 2], k = a->dims[a->ndim - 1];
    const int64_t kb = b1 ? b->dims[0] : b->dims[b->ndim - 2];
    const int64_t n = b1 ? 1 : b->dims[b->ndim - 1];
    if (k != kb)
        return onnx_ctx_fail(ctx, "inner dims differ: A has %lld, B has %lld", (long long)k,
                             (long long)kb);
    if (onnx_attr_int(node, "inferd_bias", 0) == 1) {
        bias = onnx_ctx_input(ctx, 2);
        if (!bias || bias->dtype != t || bias->ndim != 1 || bias->dims[0] != n)
            return onnx_ctx_fail(ctx, "fused bias must be 1-D with %lld values", (long long)n);
    }

    /* broadcast batch dims, aligned from the right */
    const int ab = a1 ? 0 : a->ndim - 2, bb = b1 ? 0 : b->ndim - 2;
    const int ob = ab > bb ? ab : bb;
    int64_t odims[ONNX_MAX_DIMS], astr[ONNX_MAX_DIMS], bstr[ONNX_MAX_DIMS];
    int64_t nbatch = 1, as = 1, bs = 1;
    for (int i = ob - 1; i >= 0; i--) {
        int ia = i - (ob - ab), ib = i - (ob - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return onnx_ctx_fail(ctx, "batch dims %lld and %lld do not broadcast",
                                 (long long)da, (long long)db);
        odims[i] = da == 1 ? db : da;
        astr[i] = da == 1 ? 0 : as; /* in matrices */
        bstr[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        nbatch *= odims[i];
    }
    int rank = ob;
    if (!a1) odims[rank++] = m;
    if (!b1) odims[rank++] = n;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, t, rank, odims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return onnx_ctx_fail(ctx, "matrix dims too large for BLAS");

    const size_t esz = inferd_dtype_size(t);
    const char *ad = a->data, *bd = b->data;
    char *yd = y->data;
    if (k == 0) {
        memset(yd, 0, onnx_tensor_nbytes(y));
    } else if (bs == 1 && nbatch * m <= INT_MAX) {
        /* B is one matrix: every batch of A stacks into a single GEMM */
        matmul_one(t, ad, bd, yd, nbatch * m, n, k);
    } else {
        int64_t idx[ONNX_MAX_DIMS] = {0};
        int64_t aoff = 0, boff = 0;
        for (int64_t bi = 0; bi < nbatch; bi++) {
            matmul_one(t, ad + (size_t)(aoff * m * k) * esz, bd + (size_t)(boff * k * n) * esz,
                       yd + (size_t)(bi * m * n) * esz, m, n, k);
            for (int i = ob - 1; i >= 0; i--) { /* odometer over the output batch */
                aoff += astr[i];
                boff += bstr[i];
                if (++idx[i] < odims[i]) break;
                aoff -= astr[i] * odims[i];
                boff -= bstr[i] * odims[i];
                idx[i] = 0;
            }
        }
    }
    const int64_t rows = onnx_tensor_numel(y) / n;
    if (bias) {
        if (t == INFERD_DTYPE_FP32) {
            float *yf = (float *)(void *)yd;
            const float *bv = bias->data;
            for (int64_t r = 0; r < rows; r++) {
                float *row = yf + r * n;
                nn_k_add_vec(row, bv, n);
                nn_activation_run(&act, row, n);
            }
            return 0;
        }
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t j = 0; j < n; j++) {
                int64_t e = r * n + j;
                if (t == INFERD_DTYPE_FP64) {
                    ((double *)(void *)yd)[e] += ((const double *)bias->data)[j];
                } else if (t == INFERD_DTYPE_INT32) {
                    int32_t *v = (int32_t *)(void *)yd + e;
                    *v = (int32_t)((uint32_t)*v + (uint32_t)((const int32_t *)bias->data)[j]);
                } else {
                    int64_t *v = (int64_t *)(void *)yd + e;
                    *v = (int64_t)((uint64_t)*v + (uint64_t)((const int64_t *)bias->data)[j]);
                }
            }
        }
        return 0;
    }
    if (t == INFERD_DTYPE_FP32) nn_activation_run(&act, (float *)(void *)yd, onnx_tensor_numel(y));
    return 0;
}
