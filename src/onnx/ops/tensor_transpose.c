/* Transpose: axes merged where the permutation keeps them adjacent, then a memcpy, a
 * cache-blocked batched 2-D transpose, or the generic strided copy (the last two split over
 * the session's pool). */
#include "tensor_ops.h"
#include "tensor_util.h"
#include "nn_common.h"

#include <string.h>

#define TILE 32

/* The copy of one Transpose: out[b][r][c] = src[b*bs + r + c*cs] (r < rows, c < cols) when
 * ndim is 0; else the generic strided copy of ndim dims/strides. Split over bands of TILE
 * rows of each batch (2-D) or over the outermost dim (generic) on the session's pool. */
typedef struct transpose_job {
    char *out;
    const char *src;
    int64_t bs, rows, cols, cs, row_tiles;
    size_t es;
    int ndim;
    const int64_t *dims, *strides;
    int64_t inner; /* elements per index of dims[0] (generic) */
} transpose_job;

/* Bands [t0, t1) of TILE rows, band t = batch t / row_tiles, rows from (t % row_tiles) * TILE. */
static void transpose_2d_bands(void *arg, int64_t t0, int64_t t1)
{
    const transpose_job *j = arg;
    const int64_t rows = j->rows, cols = j->cols, cs = j->cs, es = (int64_t)j->es;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t b = t / j->row_tiles, r0 = t % j->row_tiles * TILE;
        const char *s = j->src + b * j->bs * es;
        char *o = j->out + b * rows * cols * es;
        const int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
            int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
            if (es == 4) {
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++)
                        memcpy(o + 4 * (r * cols + c), s + 4 * (r + c * cs), 4);
            } else {
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++)
                        memcpy(o + es * (r * cols + c), s + es * (r + c * cs), (size_t)es);
            }
        }
    }
}

/* Indices [i0, i1) of the outermost dim of the generic copy. */
static void transpose_strided_range(void *arg, int64_t i0, int64_t i1)
{
    const transpose_job *j = arg;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, j->dims, (size_t)j->ndim * sizeof *dims);
    dims[0] = i1 - i0;
    onnx_tu_copy_strided(j->out + i0 * j->inner * (int64_t)j->es, j->src, j->ndim, dims, j->strides,
                         i0 * j->strides[0], j->es);
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
            transpose_job j = {.out = y->data,
                               .src = x->data,
                               .bs = c == 3 ? cs[0] : 0,
                               .rows = cd[c - 2],
                               .cols = cd[c - 1],
                               .cs = cs[c - 1],
                               .row_tiles = (cd[c - 2] + TILE - 1) / TILE,
                               .es = es};
            nn_parallel_rows(ctx, batch * j.row_tiles, numel, transpose_2d_bands, &j);
            return 0;
        }
    }
    transpose_job j = {.out = y->data,
                       .src = x->data,
                       .es = es,
                       .ndim = c,
                       .dims = cd,
                       .strides = cs,
                       .inner = numel / cd[0]};
    nn_parallel_rows(ctx, cd[0], numel, transpose_strided_range, &j);
    return 0;
}
