/* Numpy-style (multidirectional) broadcasting: the broadcast shape of several shapes and the
 * zero-on-broadcast strides an operand is read with. */
#include "broadcast.h"

int onnx_broadcast_shape(int n, const int *ndims, const int64_t *const *dims, int *out_ndim,
                         int64_t *out_dims)
{
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (ndims[i] < 0 || ndims[i] > ONNX_MAX_DIMS) return -1;
        if (ndims[i] > r) r = ndims[i];
    }
    for (int k = 0; k < r; k++) { /* k counts axes from the right */
        int64_t d = 1;
        for (int i = 0; i < n; i++) {
            if (k >= ndims[i]) continue;
            int64_t v = dims[i][ndims[i] - 1 - k];
            if (v < 0) return -1;
            if (v == d || v == 1) continue;
            if (d != 1) return -1; /* two different sizes, neither 1 */
            d = v;
        }
        out_dims[r - 1 - k] = d;
    }
    *out_ndim = r;
    return 0;
}

void onnx_broadcast_strides(const onnx_tensor *t, int out_ndim, const int64_t *out_dims,
                            int64_t *strides)
{
    int64_t s = 1;
    int off = out_ndim - t->ndim; /* t's axes align with the rightmost out axes */
    (void)out_dims;
    for (int k = out_ndim - 1; k >= 0; k--) {
        int tk = k - off;
        if (tk < 0) {
            strides[k] = 0;
            continue;
        }
        int64_t d = t->dims[tk];
        strides[k] = d == 1 ? 0 : s; /* a size-1 axis is read at offset 0 whatever the size */
        s *= d;
    }
}
