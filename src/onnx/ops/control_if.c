/* If: runs then_branch or else_branch (subgraphs without inputs that read the enclosing
 * graph's values) and passes its outputs on; the branches may give different shapes. And
 * Identity from opset 14, which also passes sequences and optionals. */
#include "../exec.h"
#include "../model.h"
#include "control_ops.h"

int ctl_run_if(onnx_ctx *ctx)
{
    const onnx_tensor *c = onnx_ctx_input(ctx, 0);
    if (!c || c->dtype != INFERD_DTYPE_BOOL || onnx_tensor_numel(c) != 1)
        return onnx_ctx_fail(ctx, "the condition must be one bool");
    const int cond = ((const unsigned char *)c->data)[0] != 0;
    const onnx_model *g = ctl_graph_attr(ctx, cond ? "then_branch" : "else_branch");
    if (!g) return -1;
    if (g->n_outputs != onnx_ctx_num_outputs(ctx))
        return onnx_ctx_fail(ctx, "the %s branch has %d outputs, the node %d",
                             cond ? "then" : "else", g->n_outputs, onnx_ctx_num_outputs(ctx));
    onnx_subrun *r = onnx_ctx_subrun_new(ctx, g);
    if (!r) return -1;
    int rc = onnx_ctx_subrun(ctx, r, cond ? "then_branch" : "else_branch", NULL, 0);
    for (int i = 0; rc == 0 && i < g->n_outputs; i++) {
        onnx_item it;
        onnx_subrun_output(r, i, &it);
        rc = onnx_ctx_output_item(ctx, i, &it);
    }
    onnx_subrun_free(r);
    return rc;
}

int ctl_run_identity(onnx_ctx *ctx)
{
    onnx_item it;
    if (onnx_ctx_input_item(ctx, 0, &it) < 0) return onnx_ctx_fail(ctx, "missing input");
    if (it.kind != ONNX_ITEM_TENSOR) return onnx_ctx_output_item(ctx, 0, &it);
    return onnx_ctx_alias_output(ctx, 0, 0, it.t.ndim, it.t.dims) ? 0 : -1;
}
