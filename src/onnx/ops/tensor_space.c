/* DepthToSpace (DCR / CRD) and SpaceToDepth: 6-D views of an NCHW tensor copied in the
 * permuted order with the strided copy. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

static int block_size(onnx_ctx *ctx, const onnx_tensor *x, int64_t *b)
{
    if (x->ndim != 4) return onnx_ctx_fail(ctx, "input must be 4-D, got rank %d", x->ndim);
    *b = onnx_attr_int(onnx_ctx_node(ctx), "blocksize", 0);
    if (*b < 1 || *b > (1 << 20)) return onnx_ctx_fail(ctx, "bad blocksize %lld", (long long)*b);
    return 0;
}

int onnx_run_depth_to_space(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    int64_t b = 0;
    if (!es || block_size(ctx, x, &b) < 0) return -1;
    const char *mode = onnx_attr_string(onnx_ctx_node(ctx), "mode", "DCR");
    int crd = !strcmp(mode, "CRD");
    if (!crd && strcmp(mode, "DCR")) return onnx_ctx_fail(ctx, "unknown mode '%s'", mode);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (C % (b * b))
        return onnx_ctx_fail(ctx, "channels %lld not divisible by blocksize^2", (long long)C);
    int64_t c = C / (b * b), dims[4] = {N, c, 0, 0};
    if (onnx_tu_mul(H, b, &dims[2]) < 0 || onnx_tu_mul(W, b, &dims[3]) < 0)
        return onnx_ctx_fail(ctx, "output too large");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, 4, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    /* Output viewed as (N, c, H, b1, W, b2); source channel = DCR: (b1*b + b2)*c + ci,
     * CRD: ci*b*b + b1*b + b2. */
    int64_t hw = H * W;
    int64_t vd[6] = {N, c, H, b, W, b};
    int64_t vs[6] = {C * hw, crd ? b * b * hw : hw, W, crd ? b * hw : b * c * hw,
                     1,      crd ? hw : c * hw};
    onnx_tu_copy_strided(y->data, x->data, 6, vd, vs, 0, es);
    return 0;
}

int onnx_run_space_to_depth(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    int64_t b = 0;
    if (!es || block_size(ctx, x, &b) < 0) return -1;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (H % b || W % b) return onnx_ctx_fail(ctx, "spatial dims not divisible by blocksize");
    int64_t dims[4] = {N, 0, H / b, W / b};
    if (onnx_tu_mul(C, b * b, &dims[1]) < 0) return onnx_ctx_fail(ctx, "output too large");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, 4, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    /* Output viewed as (N, b1, b2, C, H/b, W/b); source (n, ci, h*b + b1, w*b + b2). */
    int64_t vd[6] = {N, b, b, C, H / b, W / b};
    int64_t vs[6] = {C * H * W, W, 1, H * W, b * W, b};
    onnx_tu_copy_strided(y->data, x->data, 6, vd, vs, 0, es);
    return 0;
}
