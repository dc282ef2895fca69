/* MatMulInteger (10) and QLinearMatMul (10): numpy-style matrix products of uint8/int8
 * operands (batch dims broadcast, a 1-D operand gets a unit row/column that the output drops)
 * with integer accumulation:
 *   MatMulInteger  y(int32) = sum_k (a[m][k] - a_zp[m]) * (b[k][n] - b_zp[n])
 *   QLinearMatMul  y = saturate(round(acc * a_scale[m] * b_scale[n] / y_scale) + y_zp)
 * a_zp/a_scale hold one value or one per row of a, b_zp/b_scale one or one per column of b. */
#include <string.h>

#include "../broadcast.h"
#include "quant.h"
#include "tensor_util.h"

typedef struct qmm_shape {
    int64_t m, k, n, batch;
    int ndim; /* output rank */
    int64_t dims[ONNX_MAX_DIMS];
    int64_t a_off_step[ONNX_MAX_DIMS], b_off_step[ONNX_MAX_DIMS]; /* per batch dim, in matrices */
    int nb;                                                       /* batch rank */
} qmm_shape;

static int qmm_plan(onnx_ctx *ctx, const onnx_tensor *a, const onnx_tensor *b, qmm_shape *s)
{
    if (!quant_is_8bit(a->dtype) || !quant_is_8bit(b->dtype))
        return onnx_ctx_unsupported(ctx, "operand types %s and %s not supported",
                                    inferd_dtype_name(a->dtype), inferd_dtype_name(b->dtype));
    if (a->ndim < 1 || b->ndim < 1) return onnx_ctx_fail(ctx, "operands must have rank >= 1");
    const int ra = a->ndim, rb = b->ndim;
    s->m = ra == 1 ? 1 : a->dims[ra - 2];
    s->k = a->dims[ra - 1];
    const int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2];
    s->n = rb == 1 ? 1 : b->dims[rb - 1];
    if (kb != s->k)
        return onnx_ctx_fail(ctx, "inner dims differ: %lld vs %lld", (long long)s->k,
                             (long long)kb);
    int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0;
    int nds[2] = {bra, brb};
    const int64_t *dps[2] = {a->dims, b->dims};
    if (onnx_broadcast_shape(2, nds, dps, &s->nb, s->dims) < 0)
        return onnx_ctx_fail(ctx, "batch dims do not broadcast");
    /* matrix strides of each operand per output batch dim (0 where broadcast) */
    int64_t sa = 1, sb = 1;
    for (int d = s->nb - 1; d >= 0; d--) {
        int ia = d - (s->nb - bra), ib = d - (s->nb - brb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        s->a_off_step[d] = da == 1 ? 0 : sa;
        s->b_off_step[d] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    s->batch = onnx_tu_prod(s->dims, 0, s->nb);
    s->ndim = s->nb;
    if (ra > 1) s->dims[s->ndim++] = s->m;
    if (rb > 1) s->dims[s->ndim++] = s->n;
    return 0;
}

/* acc[batch][m][n] as int32 (wrapping like the int32 hardware accumulators). */
static void qmm_accumulate(const qmm_shape *s, const onnx_tensor *a, const onnx_tensor *azp,
                           const onnx_tensor *b, const onnx_tensor *bzp, int32_t *acc)
{
    int64_t idx[ONNX_MAX_DIMS] = {0};
    for (int64_t bi = 0; bi < s->batch; bi++) {
        int64_t ma = 0, mb = 0;
        for (int d = 0; d < s->nb; d++) {
            ma += idx[d] * s->a_off_step[d];
            mb += idx[d] * s->b_off_step[d];
        }
        const int64_t a0 = ma * s->m * s->k, b0 = mb * s->k * s->n;
        for (int64_t i = 0; i < s->m; i++) {
            const int za = (int)quant_param(azp, i);
            for (int64_t j = 0; j < s->n; j++) {
                const int zb = (int)quant_param(bzp, j);
                int64_t sum = 0;
                for (int64_t t = 0; t < s->k; t++)
                    sum += (int64_t)(quant_load(a->data, a->dtype, a0 + i * s->k + t) - za) *
                           (quant_load(b->data, b->dtype, b0 + t * s->n + j) - zb);
                acc[(bi * s->m + i) * s->n + j] = (int32_t)(uint32_t)(uint64_t)sum;
            }
        }
        for (int d = s->nb - 1; d >= 0; d--) {
            if (++idx[d] < s->dims[d]) break;
            idx[d] = 0;
        }
    }
}

int quant_run_matmul_integer(onnx_ctx *ctx)
{
    const onnx_tensor *a = onnx_ctx_input(ctx, 0), *b = onnx_ctx_input(ctx, 1);
    const onnx_tensor *azp = onnx_ctx_input(ctx, 2), *bzp = onnx_ctx_input(ctx, 3);
    if (!a || !b) return onnx_ctx_fail(ctx, "needs inputs A and B");
    qmm_shape s;
    if (qmm_plan(ctx, a, b, &s) < 0 ||
        quant_check_param(ctx, azp, a->ndim > 1 ? s.m : 0, a->dtype, "a_zero_point") < 0 ||
        quant_check_param(ctx, bzp, b->ndim > 1 ? s.n : 0, b->dtype, "b_zero_point") < 0)
        return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT32, s.ndim, s.dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) > 0) qmm_accumulate(&s, a, azp, b, bzp, y->data);
    return 0;
}

int quant_run_qlinear_matmul(onnx_ctx *ctx)
{
    const onnx_tensor *in[8];
    for (int i = 0; i < 8; i++)
        if (!(in[i] = onnx_ctx_input(ctx, i))) return onnx_ctx_fail(ctx, "missing input %d", i);
    const onnx_tensor *a = in[0], *as = in[1], *azp = in[2], *b = in[3], *bs = in[4];
    const onnx_tensor *bzp = in[5], *ys = in[6], *yzp = in[7];
    qmm_shape s;
    if (qmm_plan(ctx, a, b, &s) < 0 ||
        quant_check_param(ctx, as, a->ndim > 1 ? s.m : 0, INFERD_DTYPE_FP32, "a_scale") < 0 ||
        quant_check_param(ctx, azp, a->ndim > 1 ? s.m : 0, a->dtype, "a_zero_point") < 0 ||
        quant_check_param(ctx, bs, b->ndim > 1 ? s.n : 0, INFERD_DTYPE_FP32, "b_scale") < 0 ||
        quant_check_param(ctx, bzp, b->ndim > 1 ? s.n : 0, b->dtype, "b_zero_point") < 0 ||
        quant_check_param(ctx, ys, 0, INFERD_DTYPE_FP32, "y_scale") < 0 ||
        quant_check_param(ctx, yzp, 0, INFERD_DTYPE_INVALID, "y_zero_point") < 0)
        return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, yzp->dtype, s.ndim, s.dims);
    if (!y) return -1;
    const int64_t total = onnx_tensor_numel(y);
    if (total == 0) return 0;
    int32_t *acc = onnx_ctx_scratch(ctx, (size_t)total * sizeof(int32_t));
    if (!acc) return -1;
    qmm_accumulate(&s, a, azp, b, bzp, acc);
    const float y_scale = (float)quant_param(ys, 0);
    const int y_zp = (int)quant_param(yzp, 0);
    for (int64_t e = 0; e < total; e++) {
        const int64_t i = (e / s.n) % s.m, j = e % s.n;
        const float mult = (float)quant_param(as, i) * (float)quant_param(bs, j) / y_scale;
        quant_store(y->data, yzp->dtype, e, quant_saturate((float)acc[e] * mult, y_zp, yzp->dtype));
    }
    return 0;
}
