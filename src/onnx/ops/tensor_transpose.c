/* Transpose: axes merged where the permutation keeps them adjacent, then a memcpy, a
 * cache-blocked batched 2-D transpose, or the generic strided copy. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

#define TILE 32

/* out[b][r][c] = src[b*bs + r + c*cs] for r < rows, c < cols. */
static void transpose_2d(char *out, const char *src, int64_t batch, int64_t bs, int64_t rows,
                         int64_t cols, int64_t cs, size_t es)
{
    for (int64_t b = 0; b < batch; b++) {
        const char *s = src + b * bs * (int64_t)es;
        char *o = out + b * rows * cols * (int64_t)es;
        for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
            int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
            for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
                int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
                if (es == 4) {
                    for (int64_t r = r0; r < r1; r++)
                        for (int64_t c = c0; c < c1; c++)
                            memcpy(o + 4 * (r * cols + c), s + 4 * (r + c * cs), 4);
                } else {
                    for (int64_t r = r0; r < r1; r++)
                        for (int64_t c = c0; c < c1; c++)
                            memcpy(o + (int64_t)es * (r * cols + c), s + (int64_t)es * (r + c * cs),
                                   es);
                }
            }
        }
    }
}

int onnx_run_transpose(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    int r = x->ndim;
    int64_t perm[ONNX_MAX_DIMS];
    const int64_t *p;
    int n = onnx_attr_ints(onnx_ctx_node(ctx), "perm", &p);
    if (n < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    } else {
        if (n != r) return onnx_ctx_fail(ctx, "perm has %d values for rank %d", n, r);
        memcpy(perm, p, (size_t)n * sizeof *perm);
        if (onnx_tu_axes(ctx, perm, n, r) < 0) return -1;
    }
    int64_t dims[ONNX_MAX_DIMS], xs[ONNX_MAX_DIMS];
    onnx_tensor_strides(x, xs);
    for (int i = 0; i < r; i++) dims[i] = x->dims[perm[i]];
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    int64_t numel = onnx_tensor_numel(x);
    if (numel == 0) return 0;

    /* Collapse: drop size-1 axes, merge output neighbours that are source neighbours too. */
    int64_t cd[ONNX_MAX_DIMS], cs[ONNX_MAX_DIMS];
    int c = 0;
    for (int i = 0; i < r; i++) {
        int64_t d = x->dims[perm[i]], s = xs[perm[i]];
        if (d == 1) continue;
        if (c > 0 && cs[c - 1] == s * d) {
            cd[c - 1] *= d;
            cs[c - 1] = s;
        } else {
            cd[c] = d;
            cs[c] = s;
            c++;
        }
    }
    if (c <= 1) {
        memcpy(y->data, x->data, onnx_tensor_nbytes(x));
        return 0;
    }
    if (cs[c - 1] != 1 && cs[c - 2] == 1) {
        int64_t batch = onnx_tu_prod(cd, 0, c - 2);
        if (c == 2 || c == 3) {
            transpose_2d(y->data, x->data, batch, c == 3 ? cs[0] : 0, cd[c - 2], cd[c - 1],
                         cs[c - 1], es);
            return 0;
        }
    }
    onnx_tu_copy_strided(y->data, x->data, c, cd, cs, 0, es);
    return 0;
}
