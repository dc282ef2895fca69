/* Scan: runs the body once per position along the scan axis of M scan inputs, carrying N
 * state tensors and stacking K scan outputs. Scan-9 and later: axes and directions per input
 * and output. Scan-8: a batch dim 0 on every input and output (the body runs per batch entry,
 * scan axis 1), and an optional sequence_lens input (only full lengths are implemented). */
#include <stdlib.h>
#include <string.h>

#include "../exec.h"
#include "../model.h"
#include "control_ops.h"

typedef struct scan_spec {
    int n_state, n_in, n_out;
    const int64_t *in_axes, *in_dirs, *out_axes, *out_dirs; /* NULL: all 0 */
} scan_spec;

static int64_t attr_at(const int64_t *v, int i)
{
    return v ? v[i] : 0;
}

/* Element `pos` along `axis` of t, copied into dst (t's shape without that axis). */
static void scan_slice(const onnx_tensor *t, int axis, int64_t pos, onnx_tensor *dst)
{
    const size_t es = inferd_dtype_size(t->dtype);
    size_t outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)t->dims[k];
    for (int k = axis + 1; k < t->ndim; k++) inner *= (size_t)t->dims[k];
    const size_t len = (size_t)t->dims[axis];
    for (size_t q = 0; q < outer && inner; q++)
        memcpy((char *)dst->data + q * inner,
               (const char *)t->data + (q * len + (size_t)pos) * inner, inner);
    dst->dtype = t->dtype;
    dst->ndim = t->ndim - 1;
    for (int k = 0, j = 0; k < t->ndim; k++)
        if (k != axis) dst->dims[j++] = t->dims[k];
}

/* One scan over `states` (n_state tensors) and `ins` (n_in tensors): final states into
 * out_states (kept copies), scan outputs into stacks. */
static int scan_core(onnx_ctx *ctx, onnx_subrun *r, const scan_spec *sp, const onnx_tensor *states,
                     const onnx_tensor *ins, onnx_item *out_states, ctl_stack *stacks)
{
    const int n_args = sp->n_state + sp->n_in;
    onnx_item *args = calloc((size_t)n_args + 1, sizeof *args);
    int *axes = calloc((size_t)sp->n_in + 1, sizeof *axes);
    onnx_item *next = calloc((size_t)sp->n_state + 1, sizeof *next);
    for (int s = 0; next && s < sp->n_state; s++) next[s].kind = ONNX_ITEM_NONE;
    int rc = args && axes && next ? 0 : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    int64_t len = -1;
    for (int j = 0; j < sp->n_state + sp->n_in && rc == 0; j++)
        if ((j < sp->n_state ? states[j] : ins[j - sp->n_state]).dtype == INFERD_DTYPE_BYTES)
            rc = onnx_ctx_unsupported(ctx, "string tensors are not implemented in Scan");
    for (int j = 0; j < sp->n_in && rc == 0; j++) {
        int64_t a = attr_at(sp->in_axes, j);
        if (a < 0) a += ins[j].ndim;
        if (a < 0 || a >= ins[j].ndim) {
            rc = onnx_ctx_fail(ctx, "scan input %d: axis out of range", j);
            break;
        }
        axes[j] = (int)a;
        if (len >= 0 && ins[j].dims[a] != len)
            rc = onnx_ctx_fail(ctx, "scan inputs have different lengths");
        len = ins[j].dims[a];
        args[sp->n_state + j].kind = ONNX_ITEM_TENSOR;
        size_t nb = onnx_tensor_nbytes(&ins[j]) / (len ? (size_t)len : 1);
        args[sp->n_state + j].t.data = nb ? malloc(nb) : NULL;
        if (nb && !args[sp->n_state + j].t.data)
            rc = onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    }
    if (len < 0) len = 0;
    for (int s = 0; s < sp->n_state && rc == 0; s++) {
        onnx_item in = {.kind = ONNX_ITEM_TENSOR, .t = states[s]};
        rc = ctl_item_keep(ctx, &in, &out_states[s]);
    }
    for (int64_t t = 0; t < len && rc == 0; t++) {
        for (int s = 0; s < sp->n_state; s++) args[s] = out_states[s];
        for (int j = 0; j < sp->n_in; j++)
            scan_slice(&ins[j], axes[j], attr_at(sp->in_dirs, j) ? len - 1 - t : t,
                       &args[sp->n_state + j].t);
        if ((rc = onnx_ctx_subrun(ctx, r, "body", args, n_args)) < 0) break;
        /* outputs may be views of this step's states: copy all before replacing any */
        for (int s = sp->n_state + sp->n_out - 1; s >= 0 && rc == 0; s--) {
            onnx_item o;
            onnx_subrun_output(r, s, &o);
            if (o.kind != ONNX_ITEM_TENSOR)
                rc = onnx_ctx_fail(ctx, "body output %d is not a tensor", s);
            else if (s < sp->n_state) rc = ctl_item_keep(ctx, &o, &next[s]);
            else rc = ctl_stack_push(ctx, &stacks[s - sp->n_state], &o.t, "scan output");
        }
        for (int s = 0; s < sp->n_state; s++) {
            if (rc == 0) {
                ctl_item_drop(&out_states[s]);
                out_states[s] = next[s];
            } else {
                ctl_item_drop(&next[s]);
            }
            next[s].kind = ONNX_ITEM_NONE;
        }
    }
    for (int j = 0; args && j < sp->n_in; j++) free(args[sp->n_state + j].t.data);
    free(args);
    free(axes);
    free(next);
    return rc;
}

/* Reads the attributes shared by both versions; n_decl is the node's declared inputs. */
static int scan_spec_read(onnx_ctx *ctx, const onnx_model *body, int n_inputs, scan_spec *sp)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const int64_t m = onnx_attr_int(node, "num_scan_inputs", -1);
    if (m < 1 || m > n_inputs) return onnx_ctx_fail(ctx, "num_scan_inputs out of range");
    sp->n_in = (int)m;
    sp->n_state = n_inputs - sp->n_in;
    if (body->n_inputs != n_inputs || body->n_outputs < sp->n_state)
        return onnx_ctx_fail(ctx, "the body's inputs and outputs do not match the node's");
    sp->n_out = body->n_outputs - sp->n_state;
    if (onnx_ctx_num_outputs(ctx) != body->n_outputs)
        return onnx_ctx_fail(ctx, "%d outputs, the body gives %d", onnx_ctx_num_outputs(ctx),
                             body->n_outputs);
    const char *names[4] = {node->opset < 9 ? "directions" : "scan_input_directions",
                            "scan_input_axes", "scan_output_axes", "scan_output_directions"};
    const int64_t **dst[4] = {&sp->in_dirs, &sp->in_axes, &sp->out_axes, &sp->out_dirs};
    const int want[4] = {sp->n_in, sp->n_in, sp->n_out, sp->n_out};
    for (int k = 0; k < 4; k++) {
        int n = onnx_attr_ints(node, names[k], dst[k]);
        if (n >= 0 && n != want[k])
            return onnx_ctx_fail(ctx, "%s: %d values, expected %d", names[k], n, want[k]);
    }
    if (node->opset < 9 && (sp->in_axes || sp->out_axes || sp->out_dirs))
        return onnx_ctx_fail(ctx, "Scan-8 has no axes attributes");
    return 0;
}

static void scan_free(scan_spec *sp, onnx_item *states, ctl_stack *stacks)
{
    for (int s = 0; states && s < sp->n_state; s++) ctl_item_drop(&states[s]);
    for (int k = 0; stacks && k < sp->n_out; k++) ctl_stack_free(&stacks[k]);
    free(states);
    free(stacks);
}

/* Scan-9 and later. */
static int scan_run9(onnx_ctx *ctx, const onnx_model *body, int n_decl)
{
    scan_spec sp;
    if (scan_spec_read(ctx, body, n_decl, &sp) < 0) return -1;
    onnx_tensor *ins = calloc((size_t)n_decl + 1, sizeof *ins);
    onnx_item *states = calloc((size_t)sp.n_state + 1, sizeof *states);
    ctl_stack *stacks = calloc((size_t)sp.n_out + 1, sizeof *stacks);
    onnx_subrun *r = ins && states && stacks ? onnx_ctx_subrun_new(ctx, body) : NULL;
    int rc = r ? 0 : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < n_decl && rc == 0; i++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, i);
        if (!t) rc = onnx_ctx_fail(ctx, "input %d is missing", i);
        else ins[i] = *t;
    }
    if (rc == 0) rc = scan_core(ctx, r, &sp, ins, ins + sp.n_state, states, stacks);
    for (int s = 0; s < sp.n_state && rc == 0; s++) rc = onnx_ctx_output_item(ctx, s, &states[s]);
    for (int k = 0; k < sp.n_out && rc == 0; k++) {
        const onnx_value_info *vi = onnx_model_output(body, sp.n_state + k);
        rc = ctl_stack_output(ctx, sp.n_state + k, &stacks[k], attr_at(sp.out_axes, k),
                              (int)attr_at(sp.out_dirs, k), vi->dtype, vi->ndim, vi->dims);
    }
    onnx_subrun_free(r);
    free(ins);
    scan_free(&sp, states, stacks);
    return rc;
}

/* Scan-8: input 0 is sequence_lens; every other input and output has the batch as dim 0. */
static int scan_run8(onnx_ctx *ctx, const onnx_model *body, int n_decl)
{
    scan_spec sp;
    if (n_decl < 2 || scan_spec_read(ctx, body, n_decl - 1, &sp) < 0)
        return n_decl < 2 ? onnx_ctx_fail(ctx, "too few inputs") : -1;
    const onnx_tensor *x0 = onnx_ctx_input(ctx, 1);
    if (!x0 || x0->ndim < 1) return onnx_ctx_fail(ctx, "inputs need a batch dim");
    const int64_t batch = x0->dims[0];
    onnx_tensor *ins = calloc((size_t)n_decl, sizeof *ins);
    onnx_tensor *views = calloc((size_t)n_decl, sizeof *views);
    onnx_item *states = calloc((size_t)sp.n_state + 1, sizeof *states);
    ctl_stack *stacks = calloc((size_t)sp.n_out + 1, sizeof *stacks);
    onnx_subrun *r = ins && views && states && stacks ? onnx_ctx_subrun_new(ctx, body) : NULL;
    int rc = r ? 0 : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < n_decl - 1 && rc == 0; i++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, 1 + i);
        if (!t || t->ndim < 1 + (i >= sp.n_state) || t->dims[0] != batch)
            rc = onnx_ctx_fail(ctx, "input %d: missing, or no batch dim of %lld", 1 + i,
                               (long long)batch);
        else if (t->dtype == INFERD_DTYPE_BYTES)
            rc = onnx_ctx_unsupported(ctx, "string tensors are not implemented in Scan");
        else ins[i] = *t;
    }
    const onnx_tensor *lens = onnx_ctx_input(ctx, 0);
    for (int64_t b = 0; lens && rc == 0 && b < onnx_tensor_numel(lens); b++)
        if (onnx_tensor_get_int(lens, b) != ins[sp.n_state].dims[1])
            rc = onnx_ctx_unsupported(ctx, "sequence_lens shorter than the inputs");
    onnx_tensor **outs = calloc((size_t)(sp.n_state + sp.n_out) + 1, sizeof *outs);
    if (!outs && rc == 0) rc = onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    for (int64_t b = 0; b < batch && rc == 0; b++) {
        for (int i = 0; i < n_decl - 1; i++) { /* entry b of each input, in place */
            views[i] = ins[i];
            views[i].ndim--;
            memmove(views[i].dims, views[i].dims + 1, (size_t)views[i].ndim * sizeof(int64_t));
            const size_t per = onnx_tensor_nbytes(&views[i]);
            views[i].data = (char *)ins[i].data + (size_t)b * per;
        }
        scan_free(&sp, states, stacks);
        states = calloc((size_t)sp.n_state + 1, sizeof *states);
        stacks = calloc((size_t)sp.n_out + 1, sizeof *stacks);
        if (!states || !stacks) {
            rc = onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
            break;
        }
        rc = scan_core(ctx, r, &sp, views, views + sp.n_state, states, stacks);
        for (int o = 0; o < sp.n_state + sp.n_out && rc == 0; o++) {
            onnx_tensor one; /* this entry's result, before the batch dim is added */
            if (o < sp.n_state) {
                one = states[o].t;
            } else {
                const ctl_stack *s = &stacks[o - sp.n_state];
                if (s->n == 0) {
                    rc = onnx_ctx_unsupported(ctx, "empty scan with a batch");
                    break;
                }
                one = s->items[0];
                if (one.ndim + 1 > ONNX_MAX_DIMS) {
                    rc = onnx_ctx_fail(ctx, "scan output rank too large");
                    break;
                }
                memmove(one.dims + 1, one.dims, (size_t)one.ndim * sizeof(int64_t));
                one.dims[0] = s->n;
                one.ndim++;
            }
            if (one.ndim + 1 > ONNX_MAX_DIMS) {
                rc = onnx_ctx_fail(ctx, "output rank too large");
                break;
            }
            int64_t dims[ONNX_MAX_DIMS];
            dims[0] = batch;
            memcpy(dims + 1, one.dims, (size_t)one.ndim * sizeof(int64_t));
            if (b == 0 && !(outs[o] = onnx_ctx_output(ctx, o, one.dtype, one.ndim + 1, dims))) {
                rc = -1;
                break;
            }
            const size_t per = onnx_tensor_nbytes(outs[o]) / (size_t)batch;
            int fits = outs[o]->dtype == one.dtype && onnx_tensor_nbytes(&one) == per;
            if (!fits) {
                rc = onnx_ctx_fail(ctx, "output %d: batch entries give different shapes", o);
                break;
            }
            char *dst = (char *)outs[o]->data + (size_t)b * per;
            if (o < sp.n_state) {
                if (per) memcpy(dst, one.data, per);
            } else {
                const ctl_stack *s = &stacks[o - sp.n_state];
                const size_t item = s->n ? per / (size_t)s->n : 0;
                for (int64_t t = 0; t < s->n && item; t++)
                    memcpy(dst + (size_t)t * item, s->items[t].data, item);
            }
        }
    }
    onnx_subrun_free(r);
    free(ins), free(views), free(outs);
    scan_free(&sp, states, stacks);
    return rc;
}

int ctl_run_scan(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_model *body = ctl_graph_attr(ctx, "body");
    if (!body) return -1;
    const int n_decl = node->n_inputs - node->n_captures;
    return node->opset < 9 ? scan_run8(ctx, body, n_decl) : scan_run9(ctx, body, n_decl);
}
