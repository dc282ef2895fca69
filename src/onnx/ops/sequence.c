/* Sequence operators that build, index and measure sequences: SequenceEmpty,
 * SequenceConstruct, SequenceAt, SequenceInsert, SequenceErase, SequenceLength. A sequence is
 * immutable: Insert and Erase give a new one. */
#include "../exec.h"
#include "../seq.h"
#include "control_ops.h"

/* The sequence in input i, or NULL after recording an error. */
static const onnx_seq *seq_input(onnx_ctx *ctx, int i)
{
    onnx_item it;
    if (onnx_ctx_input_item(ctx, i, &it) < 0 || it.kind != ONNX_ITEM_SEQUENCE) {
        onnx_ctx_fail(ctx, "input %d must be a sequence", i);
        return NULL;
    }
    return it.seq;
}

/* Optional position input i (one int32/int64) into 0..n-1+extra, negatives from the end;
 * def when absent. Returns 0 or -1 with the error set. */
static int seq_position(onnx_ctx *ctx, int i, int n, int extra, int64_t def, int *pos)
{
    const onnx_tensor *p = onnx_ctx_input(ctx, i);
    int64_t v = def;
    if (p) {
        if ((p->dtype != INFERD_DTYPE_INT64 && p->dtype != INFERD_DTYPE_INT32) ||
            onnx_tensor_numel(p) != 1)
            return onnx_ctx_fail(ctx, "position must be one int32 or int64");
        v = onnx_tensor_get_int(p, 0);
    }
    if (v < 0) v += n;
    if (v < 0 || v >= (int64_t)n + extra)
        return onnx_ctx_fail(ctx, "position %lld out of range for %d items", (long long)v, n);
    *pos = (int)v;
    return 0;
}

static int seq_fail_insert(onnx_ctx *ctx, int rc)
{
    return rc == -2 ? onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "sequence too long")
                    : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
}

int seq_run_empty(onnx_ctx *ctx)
{
    int64_t dt = onnx_attr_int(onnx_ctx_node(ctx), "dtype", INFERD_DTYPE_FP32);
    if (dt < 0 || dt > 64 || !inferd_dtype_is_valid((int)dt))
        return onnx_ctx_fail(ctx, "bad dtype %lld", (long long)dt);
    onnx_seq *s = onnx_seq_new((inferd_dtype)dt);
    if (!s) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    return onnx_ctx_output_seq(ctx, 0, s);
}

int seq_run_construct(onnx_ctx *ctx)
{
    const onnx_tensor *t0 = onnx_ctx_input(ctx, 0);
    if (!t0) return onnx_ctx_fail(ctx, "needs at least one input");
    onnx_seq *s = onnx_seq_new(t0->dtype);
    if (!s) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < onnx_ctx_num_inputs(ctx); i++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, i);
        int rc = !t || t->dtype != s->elem ? -3 : onnx_seq_insert(s, s->n, t);
        if (rc < 0) {
            onnx_seq_unref(s);
            return rc == -3 ? onnx_ctx_fail(ctx, "input %d: missing or of another type", i)
                            : seq_fail_insert(ctx, rc);
        }
    }
    return onnx_ctx_output_seq(ctx, 0, s);
}

int seq_run_at(onnx_ctx *ctx)
{
    const onnx_seq *s = seq_input(ctx, 0);
    int pos;
    if (!s || !onnx_ctx_input(ctx, 1) || seq_position(ctx, 1, s->n, 0, 0, &pos) < 0)
        return onnx_ctx_fail(ctx, "needs a sequence and a position");
    onnx_item it = {.kind = ONNX_ITEM_TENSOR, .t = s->items[pos]};
    return onnx_ctx_output_item(ctx, 0, &it);
}

int seq_run_insert(onnx_ctx *ctx)
{
    const onnx_seq *s = seq_input(ctx, 0);
    const onnx_tensor *t = onnx_ctx_input(ctx, 1);
    int pos;
    if (!s || !t) return onnx_ctx_fail(ctx, "needs a sequence and a tensor");
    if (s->elem != INFERD_DTYPE_INVALID && t->dtype != s->elem)
        return onnx_ctx_fail(ctx, "tensor of type %s into a sequence of %s",
                             inferd_dtype_name(t->dtype), inferd_dtype_name(s->elem));
    if (seq_position(ctx, 2, s->n, 1, s->n, &pos) < 0) return -1;
    onnx_seq *c = onnx_seq_clone(s);
    if (!c) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    int rc = onnx_seq_insert(c, pos, t);
    if (rc < 0) {
        onnx_seq_unref(c);
        return seq_fail_insert(ctx, rc);
    }
    return onnx_ctx_output_seq(ctx, 0, c);
}

int seq_run_erase(onnx_ctx *ctx)
{
    const onnx_seq *s = seq_input(ctx, 0);
    int pos;
    if (!s || seq_position(ctx, 1, s->n, 0, -1, &pos) < 0) return -1;
    onnx_seq *c = onnx_seq_clone(s);
    if (!c) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    onnx_seq_erase(c, pos);
    return onnx_ctx_output_seq(ctx, 0, c);
}

int seq_run_length(onnx_ctx *ctx)
{
    const onnx_seq *s = seq_input(ctx, 0);
    if (!s) return -1;
    onnx_tensor *o = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 0, NULL);
    if (!o) return -1;
    *(int64_t *)o->data = s->n;
    return 0;
}
