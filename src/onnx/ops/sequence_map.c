/* SequenceMap: runs the body once per item of the first input sequence; further inputs are
 * sequences of the same length (item i goes in) or tensors (passed whole every time). Each
 * body output collects into an output sequence. */
#include <stdlib.h>

#include "../exec.h"
#include "../model.h"
#include "../seq.h"
#include "control_ops.h"

int seq_run_map(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_model *body = ctl_graph_attr(ctx, "body");
    if (!body) return -1;
    const int n_in = node->n_inputs - node->n_captures, n_out = onnx_ctx_num_outputs(ctx);
    if (n_in < 1 || body->n_inputs != n_in || body->n_outputs != n_out)
        return onnx_ctx_fail(ctx, "the body's inputs and outputs do not match the node's");
    onnx_item *ins = calloc((size_t)n_in, sizeof *ins), *args = calloc((size_t)n_in, sizeof *args);
    onnx_seq **outs = calloc((size_t)n_out + 1, sizeof *outs);
    onnx_subrun *r = ins && args && outs ? onnx_ctx_subrun_new(ctx, body) : NULL;
    int rc = r ? 0 : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    int len = 0;
    for (int i = 0; i < n_in && rc == 0; i++) {
        if (onnx_ctx_input_item(ctx, i, &ins[i]) < 0 || ins[i].kind == ONNX_ITEM_NONE ||
            (i == 0 && ins[i].kind != ONNX_ITEM_SEQUENCE))
            rc = onnx_ctx_fail(ctx, "input %d: missing or of the wrong kind", i);
        else if (i == 0) len = ins[0].seq->n;
        else if (ins[i].kind == ONNX_ITEM_SEQUENCE && ins[i].seq->n != len)
            rc = onnx_ctx_fail(ctx, "input %d: %d items, the first sequence has %d", i,
                               ins[i].seq->n, len);
    }
    for (int o = 0; o < n_out && rc == 0; o++) {
        const onnx_value_info *vi = onnx_model_output(body, o);
        if (!(outs[o] = onnx_seq_new(vi->dtype)))
            rc = onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    }
    for (int t = 0; t < len && rc == 0; t++) {
        for (int i = 0; i < n_in; i++) {
            args[i] = ins[i];
            if (ins[i].kind == ONNX_ITEM_SEQUENCE)
                args[i] = (onnx_item){.kind = ONNX_ITEM_TENSOR, .t = ins[i].seq->items[t]};
        }
        if ((rc = onnx_ctx_subrun(ctx, r, "body", args, n_in)) < 0) break;
        for (int o = 0; o < n_out && rc == 0; o++) {
            onnx_item it;
            onnx_subrun_output(r, o, &it);
            if (it.kind != ONNX_ITEM_TENSOR)
                rc = onnx_ctx_fail(ctx, "body output %d: not a tensor", o);
            else if (onnx_seq_insert(outs[o], outs[o]->n, &it.t) < 0)
                rc = onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "output %d: sequence too large", o);
        }
    }
    for (int o = 0; o < n_out && outs; o++) {
        if (rc == 0) onnx_ctx_output_seq(ctx, o, outs[o]);
        else onnx_seq_unref(outs[o]);
    }
    onnx_subrun_free(r);
    free(ins), free(args), free(outs);
    return rc;
}
