/* Det (11): determinants of the trailing square matrices of [*, M, M] float input, by LU
 * decomposition with partial pivoting in double precision. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"
#include "tensor_util.h"

int nn_det_run(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP64 &&
        x->dtype != INFERD_DTYPE_FP16)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    const int r = x->ndim;
    if (r < 2 || x->dims[r - 1] != x->dims[r - 2])
        return onnx_ctx_fail(ctx, "input must be [*, M, M]");
    const int64_t m = x->dims[r - 1];
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r - 2, x->dims);
    if (!y) return -1;
    const int64_t count = onnx_tensor_numel(y);
    size_t mm;
    if (nn_mul_size((size_t)m, (size_t)m, &mm) != 0 ||
        nn_mul_size(mm + 1, sizeof(double), &mm) != 0)
        return onnx_ctx_fail(ctx, "matrix too large");
    double *a = onnx_ctx_scratch(ctx, mm);
    if (!a) return -1;
    for (int64_t b = 0; b < count; b++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = onnx_tu_load(x->data, x->dtype, b * m * m + i);
        double det = 1.0;
        for (int64_t col = 0; col < m && det != 0.0; col++) {
            int64_t piv = col;
            for (int64_t row = col + 1; row < m; row++)
                if (fabs(a[row * m + col]) > fabs(a[piv * m + col])) piv = row;
            if (a[piv * m + col] == 0.0) {
                det = 0.0;
                break;
            }
            if (piv != col) {
                for (int64_t k = 0; k < m; k++) {
                    double t = a[col * m + k];
                    a[col * m + k] = a[piv * m + k];
                    a[piv * m + k] = t;
                }
                det = -det;
            }
            const double d = a[col * m + col];
            det *= d;
            for (int64_t row = col + 1; row < m; row++) {
                const double f = a[row * m + col] / d;
                for (int64_t k = col; k < m; k++) a[row * m + k] -= f * a[col * m + k];
            }
        }
        onnx_tu_store(y->data, y->dtype, b, det);
    }
    return 0;
}
