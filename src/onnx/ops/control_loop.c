/* Loop: runs the body while the trip count and the condition allow, carrying N values
 * (tensors, sequences or optionals) from one iteration to the next and stacking K
 * per-iteration scan outputs. Body inputs: iteration number, condition, the N carried values;
 * body outputs: condition, the N carried values, the K scan outputs. */
#include <stdlib.h>
#include <string.h>

#include "../exec.h"
#include "../model.h"
#include "control_ops.h"

typedef struct loop_state {
    const onnx_model *body;
    int n_carried, n_scan;
    onnx_item *carried; /* kept copies, n_carried */
    onnx_item *next;    /* the next iteration's, while the body's outputs are read */
    ctl_stack *scans;   /* n_scan */
    onnx_item *args;    /* body inputs, 2 + n_carried */
} loop_state;

/* One iteration: the body's outputs become the carried values and scan items. */
static int loop_step(onnx_ctx *ctx, loop_state *st, onnx_subrun *r, int64_t iter, int *cond)
{
    unsigned char cond_in = (unsigned char)*cond;
    st->args[0] = (onnx_item){.kind = ONNX_ITEM_TENSOR,
                              .t = {.dtype = INFERD_DTYPE_INT64, .ndim = 0, .data = &iter}};
    st->args[1] = (onnx_item){.kind = ONNX_ITEM_TENSOR,
                              .t = {.dtype = INFERD_DTYPE_BOOL, .ndim = 0, .data = &cond_in}};
    for (int j = 0; j < st->n_carried; j++) st->args[2 + j] = st->carried[j];
    if (onnx_ctx_subrun(ctx, r, "body", st->args, 2 + st->n_carried) < 0) return -1;
    onnx_item out;
    onnx_subrun_output(r, 0, &out);
    if (out.kind != ONNX_ITEM_TENSOR || out.t.dtype != INFERD_DTYPE_BOOL ||
        onnx_tensor_numel(&out.t) != 1)
        return onnx_ctx_fail(ctx, "body: the condition output must be one bool");
    *cond = ((const unsigned char *)out.t.data)[0] != 0;
    /* outputs may be views of this iteration's carried inputs: copy them all before the
     * carried values are replaced */
    for (int k = 0; k < st->n_scan; k++) {
        onnx_subrun_output(r, 1 + st->n_carried + k, &out);
        if (out.kind != ONNX_ITEM_TENSOR)
            return onnx_ctx_fail(ctx, "body: scan output %d is not a tensor", k);
        if (ctl_stack_push(ctx, &st->scans[k], &out.t, "scan output") < 0) return -1;
    }
    for (int j = 0; j < st->n_carried; j++) {
        onnx_item kept;
        onnx_subrun_output(r, 1 + j, &out);
        if (ctl_item_keep(ctx, &out, &kept) < 0) return -1;
        st->next[j] = kept;
    }
    for (int j = 0; j < st->n_carried; j++) {
        ctl_item_drop(&st->carried[j]);
        st->carried[j] = st->next[j];
        st->next[j].kind = ONNX_ITEM_NONE;
    }
    return 0;
}

static int loop_outputs(onnx_ctx *ctx, loop_state *st)
{
    for (int j = 0; j < st->n_carried; j++)
        if (onnx_ctx_output_item(ctx, j, &st->carried[j]) < 0) return -1;
    for (int k = 0; k < st->n_scan; k++) {
        const onnx_value_info *vi = onnx_model_output(st->body, 1 + st->n_carried + k);
        if (ctl_stack_output(ctx, st->n_carried + k, &st->scans[k], 0, 0, vi->dtype, vi->ndim,
                             vi->dims) < 0)
            return -1;
    }
    return 0;
}

int ctl_run_loop(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const int n_decl = node->n_inputs - node->n_captures;
    loop_state st = {.body = ctl_graph_attr(ctx, "body"), .n_carried = n_decl - 2};
    if (!st.body) return -1;
    if (n_decl < 2 || st.body->n_inputs != 2 + st.n_carried ||
        st.body->n_outputs < 1 + st.n_carried)
        return onnx_ctx_fail(ctx, "%d carried values, the body has %d inputs and %d outputs",
                             n_decl - 2, st.body->n_inputs, st.body->n_outputs);
    st.n_scan = st.body->n_outputs - 1 - st.n_carried;
    if (onnx_ctx_num_outputs(ctx) != st.n_carried + st.n_scan)
        return onnx_ctx_fail(ctx, "%d outputs, the body gives %d", onnx_ctx_num_outputs(ctx),
                             st.n_carried + st.n_scan);
    int64_t trips = INT64_MAX;
    int cond = 1;
    const onnx_tensor *m = onnx_ctx_input(ctx, 0), *c = onnx_ctx_input(ctx, 1);
    if (m && (m->dtype != INFERD_DTYPE_INT64 || onnx_tensor_numel(m) != 1))
        return onnx_ctx_fail(ctx, "the trip count M must be one int64");
    if (c && (c->dtype != INFERD_DTYPE_BOOL || onnx_tensor_numel(c) != 1))
        return onnx_ctx_fail(ctx, "the condition must be one bool");
    if (m) trips = ((const int64_t *)m->data)[0];
    if (c) cond = ((const unsigned char *)c->data)[0] != 0;

    st.carried = calloc((size_t)st.n_carried + 1, sizeof *st.carried);
    st.scans = calloc((size_t)st.n_scan + 1, sizeof *st.scans);
    st.args = calloc((size_t)st.n_carried + 2, sizeof *st.args);
    st.next = calloc((size_t)st.n_carried + 1, sizeof *st.next);
    onnx_subrun *r =
        st.carried && st.scans && st.args && st.next ? onnx_ctx_subrun_new(ctx, st.body) : NULL;
    int rc = r ? 0 : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    for (int j = 0; r && j < st.n_carried; j++)
        st.carried[j].kind = st.next[j].kind = ONNX_ITEM_NONE;
    for (int j = 0; j < st.n_carried && rc == 0; j++) {
        onnx_item in;
        if (onnx_ctx_input_item(ctx, 2 + j, &in) < 0)
            rc = onnx_ctx_fail(ctx, "carried value %d is missing", j);
        else rc = ctl_item_keep(ctx, &in, &st.carried[j]);
    }
    for (int64_t iter = 0; rc == 0 && iter < trips && cond; iter++) {
        if (iter >= ONNX_LOOP_MAX_TRIPS)
            rc = onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "more than %lld iterations",
                                    (long long)ONNX_LOOP_MAX_TRIPS);
        else rc = loop_step(ctx, &st, r, iter, &cond);
    }
    if (rc == 0) rc = loop_outputs(ctx, &st);
    onnx_subrun_free(r);
    for (int j = 0; r && j < st.n_carried; j++) {
        ctl_item_drop(&st.carried[j]);
        ctl_item_drop(&st.next[j]);
    }
    for (int k = 0; st.scans && k < st.n_scan; k++) ctl_stack_free(&st.scans[k]);
    free(st.carried), free(st.scans), free(st.args), free(st.next);
    return rc;
}
