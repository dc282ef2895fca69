/* Optional values: Optional (wraps a value, or makes an empty optional of a declared type),
 * OptionalHasElement and OptionalGetElement. A present optional is its tensor or sequence
 * itself; an empty one is ONNX_ITEM_NONE. */
#include "../exec.h"
#include "control_ops.h"

int opt_run_optional(onnx_ctx *ctx)
{
    onnx_item it = {.kind = ONNX_ITEM_NONE};
    onnx_ctx_input_item(ctx, 0, &it); /* omitted: stays NONE */
    return onnx_ctx_output_item(ctx, 0, &it);
}

int opt_run_has_element(onnx_ctx *ctx)
{
    onnx_item it = {.kind = ONNX_ITEM_NONE};
    onnx_ctx_input_item(ctx, 0, &it);
    onnx_tensor *o = onnx_ctx_output(ctx, 0, INFERD_DTYPE_BOOL, 0, NULL);
    if (!o) return -1;
    *(unsigned char *)o->data = it.kind != ONNX_ITEM_NONE;
    return 0;
}

int opt_run_get_element(onnx_ctx *ctx)
{
    onnx_item it = {.kind = ONNX_ITEM_NONE};
    onnx_ctx_input_item(ctx, 0, &it);
    if (it.kind == ONNX_ITEM_NONE) return onnx_ctx_fail(ctx, "the optional has no value");
    if (it.kind == ONNX_ITEM_TENSOR)
        return onnx_ctx_alias_output(ctx, 0, 0, it.t.ndim, it.t.dims) ? 0 : -1;
    return onnx_ctx_output_item(ctx, 0, &it);
}
