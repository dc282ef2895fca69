/* The buffer pool and onnx_ctx: how an operator receives inputs, allocates outputs and scratch,
 * and reports errors. */
#include "exec.h"
#include "place.h"
#include "registry.h"
#include "seq.h"

#include "inferd/clock.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool -------------------------------------------------------------------------------- */

void *onnx_pool_get(onnx_pool *p, size_t n, size_t *cap)
{
    /* blocks are 64-byte multiples: compare in those units, or a small request could never
     * reuse a block and the pool would grow by one block per run */
    if (n == 0) n = 1;
    if (n > SIZE_MAX - 63) return NULL;
    n = (n + 63) & ~(size_t)63;
    int best = -1;
    for (int i = 0; i < p->n_free; i++) {
        size_t c = p->free[i].cap;
        /* reuse a block that fits without wasting more than half of it */
        if (c >= n && c / 2 <= n && (best < 0 || c < p->free[best].cap)) best = i;
    }
    void *ptr;
    if (best >= 0) {
        ptr = p->free[best].ptr;
        *cap = p->free[best].cap;
        p->free[best] = p->free[--p->n_free];
    } else {
        /* blocks that are too small for this size will rarely fit again: give back the
         * largest of them so the pool does not grow without bound */
        int small = -1;
        for (int i = 0; i < p->n_free; i++)
            if (p->free[i].cap < n && (small < 0 || p->free[i].cap > p->free[small].cap)) small = i;
        if (small >= 0) {
            free(p->free[small].ptr);
            p->free[small] = p->free[--p->n_free];
        }
        size_t c = n;
        ptr = aligned_alloc(64, c);
        if (!ptr) return NULL;
        *cap = c;
    }
    p->live_bytes += *cap;
    if (p->live_bytes > p->peak_bytes) p->peak_bytes = p->live_bytes;
    return ptr;
}

void onnx_pool_put(onnx_pool *p, void *ptr, size_t cap)
{
    if (!ptr) return;
    p->live_bytes -= cap;
    if (p->n_free == p->cap_free) {
        int nc = p->cap_free ? p->cap_free * 2 : 32;
        onnx_pool_block *b = realloc(p->free, (size_t)nc * sizeof *b);
        if (!b) {
            free(ptr);
            return;
        }
        p->free = b;
        p->cap_free = nc;
    }
    p->free[p->n_free].ptr = ptr;
    p->free[p->n_free].cap = cap;
    p->n_free++;
}

void onnx_pool_detach(onnx_pool *p, size_t cap)
{
    p->live_bytes -= cap;
}

void onnx_pool_clear(onnx_pool *p)
{
    for (int i = 0; i < p->n_free; i++) free(p->free[i].ptr);
    free(p->free);
    p->free = NULL;
    p->n_free = p->cap_free = 0;
}

/* ---- exec state -------------------------------------------------------------------------- */

int onnx_exec_init(onnx_exec *x, const onnx_model *m, int threads)
{
    memset(x, 0, sizeof *x);
    x->m = m;
    x->threads = threads > 0 ? threads : 1;
    x->n_values = m->n_values;
    /* past the values: one slot per Concat group owning its buffer (place.c) */
    x->n_slots = m->n_values + m->n_place_groups;
    size_t n = (size_t)x->n_slots + 1;
    x->vals = calloc(n, sizeof *x->vals);
    x->bufs = calloc(n, sizeof *x->bufs);
    x->caps = calloc(n, sizeof *x->caps);
    x->alias_root = malloc(n * sizeof *x->alias_root);
    x->alias_refs = calloc(n, sizeof *x->alias_refs);
    x->pending = calloc(n, 1);
    x->seqs = calloc(n, sizeof *x->seqs);
    x->none = calloc(n, 1);
    if (!x->vals || !x->bufs || !x->caps || !x->alias_root || !x->alias_refs || !x->pending ||
        !x->seqs || !x->none) {
        onnx_exec_destroy(x);
        return -1;
    }
    if (x->threads > 1 && !(x->tpool = onnx_tpool_create(x->threads))) {
        onnx_exec_destroy(x);
        return -1;
    }
    for (int v = x->n_values; v < x->n_slots; v++) x->alias_root[v] = -1;
    for (int v = 0; v < m->n_values; v++) {
        x->alias_root[v] = -1;
        if (m->values[v].kind == ONNX_VALUE_CONST) x->vals[v] = m->values[v].t;
    }
    return 0;
}

static void put_owned(onnx_exec *x, int v)
{
    if (x->bufs[v]) onnx_pool_put(&x->pool, x->bufs[v], x->caps[v]);
    x->bufs[v] = NULL;
    x->caps[v] = 0;
    x->pending[v] = 0;
}

void onnx_exec_release(onnx_exec *x, int v)
{
    int root = x->alias_root[v];
    if (root >= 0) { /* a view: drop its reference, free the owner if it was waiting */
        x->alias_root[v] = -1;
        if (--x->alias_refs[root] == 0 && x->pending[root]) put_owned(x, root);
    } else if (x->alias_refs[v] > 0) {
        x->pending[v] = 1; /* views still read it */
    } else {
        put_owned(x, v);
    }
    x->vals[v].data = NULL;
    if (x->seqs[v]) {
        onnx_seq_unref(x->seqs[v]);
        x->seqs[v] = NULL;
    }
    x->none[v] = 0;
}

void onnx_exec_item(const onnx_exec *x, int v, onnx_item *out)
{
    memset(out, 0, sizeof *out);
    if (x->seqs[v]) {
        out->kind = ONNX_ITEM_SEQUENCE;
        out->seq = x->seqs[v];
    } else if (x->none[v]) {
        out->kind = ONNX_ITEM_NONE;
    } else {
        out->kind = ONNX_ITEM_TENSOR;
        out->t = x->vals[v];
    }
}

void onnx_exec_bind_item(onnx_exec *x, int v, const onnx_item *it)
{
    onnx_exec_release(x, v);
    memset(&x->vals[v], 0, sizeof x->vals[v]);
    if (it->kind == ONNX_ITEM_TENSOR) {
        x->vals[v] = it->t;
    } else if (it->kind == ONNX_ITEM_SEQUENCE) {
        onnx_seq_ref(it->seq);
        x->seqs[v] = it->seq;
    } else {
        x->none[v] = 1;
    }
}

/* String tensors go only to operators that know their layout (tensor.h): the control
 * family, views, shape queries, casts and StringNormalizer. Others would read them as
 * zero-size elements. */
static int op_takes_strings(const onnx_node *node)
{
    static const char *const names[] = {"Cast",    "CastLike", "StringNormalizer", "Identity",
                                        "Reshape", "Flatten",  "Squeeze",          "Unsqueeze",
                                        "Shape",   "Size"};
    if (onnx_op_is_control(node->op)) return 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(node->op_type, names[i]) == 0) return 1;
    return 0;
}

int onnx_op_is_control(const onnx_op *op)
{
    size_t n = 0;
    const onnx_op *ops = onnx_ops_control(&n);
    return op >= ops && op < ops + n;
}

void onnx_exec_destroy(onnx_exec *x)
{
    if (x->bufs)
        for (int v = 0; v < x->n_slots; v++) free(x->bufs[v]);
    onnx_place_run_free(x);
    if (x->seqs)
        for (int v = 0; v < x->n_values; v++) onnx_seq_unref(x->seqs[v]);
    free(x->seqs);
    free(x->none);
    free(x->vals);
    free(x->bufs);
    free(x->caps);
    free(x->alias_root);
    free(x->alias_refs);
    free(x->pending);
    free(x->prof);
    onnx_pool_clear(&x->pool);
    onnx_tpool_free(x->tpool);
    memset(x, 0, sizeof *x);
}

/* ---- onnx_ctx ---------------------------------------------------------------------------- */

#define CTX_MAX_SCRATCH 32

struct onnx_ctx {
    onnx_exec *x;
    const onnx_node *node;
    char *err;
    size_t err_len;
    int err_code;
    int n_scratch;
    onnx_pool_block scratch[CTX_MAX_SCRATCH];
};

void onnx_ctx_prefetch_next(onnx_ctx *ctx, int64_t part, int64_t parts)
{
    const onnx_model *m = ctx->x->m;
    if (!m->prefetch || parts <= 0 || part < 0 || part >= parts) return;
    if (ctx->node < m->nodes || ctx->node >= m->nodes + m->n_nodes) return;
    const onnx_prefetch *p = &m->prefetch[ctx->node - m->nodes];
    for (int j = 0; j < ONNX_PREFETCH_NEXT && p->ptr[j]; j++) {
        const size_t per = p->bytes[j] / (size_t)parts + 1;
        const size_t from = per * (size_t)part,
                     to = from + per < p->bytes[j] ? from + per : p->bytes[j];
        for (size_t o = from & ~(size_t)63; o < to; o += 64)
            __builtin_prefetch((const char *)p->ptr[j] + o, 0, 1); /* to L2 */
    }
}

int onnx_ctx_num_inputs(const onnx_ctx *ctx)
{
    return ctx->node->n_inputs;
}

const onnx_tensor *onnx_ctx_input(const onnx_ctx *ctx, int i)
{
    if (i < 0 || i >= ctx->node->n_inputs) return NULL;
    int v = ctx->node->inputs[i];
    return v >= 0 ? &ctx->x->vals[v] : NULL;
}

int onnx_ctx_num_outputs(const onnx_ctx *ctx)
{
    return ctx->node->n_outputs;
}

const onnx_node *onnx_ctx_node(const onnx_ctx *ctx)
{
    return ctx->node;
}

onnx_tpool *onnx_ctx_tpool(const onnx_ctx *ctx)
{
    return ctx->x->tpool;
}

static int ctx_vfail(onnx_ctx *ctx, int code, const char *fmt, va_list ap)
{
    if (ctx->err_code) return -1; /* keep the first message */
    ctx->err_code = code;
    if (ctx->err && ctx->err_len) {
        int n =
            snprintf(ctx->err, ctx->err_len, "%s node '%s': ", ctx->node->op_type, ctx->node->name);
        if (n >= 0 && (size_t)n < ctx->err_len)
            vsnprintf(ctx->err + n, ctx->err_len - (size_t)n, fmt, ap);
    }
    return -1;
}

int onnx_ctx_fail(onnx_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(ctx, ONNX_E_INVALID, fmt, ap);
    va_end(ap);
    return -1;
}

int onnx_ctx_unsupported(onnx_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(ctx, ONNX_E_UNSUPPORTED, fmt, ap);
    va_end(ap);
    return -1;
}

int onnx_ctx_fail_code(onnx_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(ctx, code, fmt, ap);
    va_end(ap);
    return -1;
}

int onnx_ctx_output_wanted(const onnx_ctx *ctx, int i)
{
    return i >= 0 && i < ctx->node->n_outputs && ctx->node->outputs[i] >= 0;
}

/* Checks an output shape (rank, dims >= 0, at most ONNX_MAX_TENSOR_BYTES / esize elements);
 * *numel receives the element count. */
static int check_output_shape(onnx_ctx *ctx, int i, int ndim, const int64_t *dims, size_t esize,
                              size_t *numel)
{
    if (ndim < 0 || ndim > ONNX_MAX_DIMS)
        return onnx_ctx_fail_code(ctx, ONNX_E_UNSUPPORTED, "output %d: rank %d out of range", i,
                                  ndim);
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0)
            return onnx_ctx_fail(ctx, "output %d: negative dim %lld", i, (long long)dims[k]);
        if (dims[k] && n > ONNX_MAX_TENSOR_BYTES / (uint64_t)dims[k])
            return onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "output %d: shape too large", i);
        n *= (size_t)dims[k];
    }
    if (n > ONNX_MAX_TENSOR_BYTES / esize)
        return onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "output %d: shape too large", i);
    *numel = n;
    return 0;
}

/* Output i gets a pool buffer of nbytes and the given type and shape. */
static onnx_tensor *output_alloc(onnx_ctx *ctx, int i, inferd_dtype dtype, int ndim,
                                 const int64_t *dims, size_t nbytes)
{
    onnx_exec *x = ctx->x;
    int v = ctx->node->outputs[i];
    onnx_exec_release(x, v);
    void *data = NULL;
    if (nbytes && dtype != INFERD_DTYPE_BYTES &&
        (data = onnx_place_output(x, v, dtype, ndim, dims))) {
        /* a slot of its Concat group's buffer (a view of it) */
    } else if (nbytes) {
        data = onnx_pool_get(&x->pool, nbytes, &x->caps[v]);
        if (!data) {
            onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "output %d: out of memory (%zu bytes)", i,
                               nbytes);
            return NULL;
        }
        x->bufs[v] = data;
    }
    onnx_tensor *t = &x->vals[v];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++) t->dims[k] = dims[k];
    t->data = data;
    return t;
}

onnx_tensor *onnx_ctx_output(onnx_ctx *ctx, int i, inferd_dtype dtype, int ndim,
                             const int64_t *dims)
{
    if (!onnx_ctx_output_wanted(ctx, i)) return NULL;
    size_t esize = inferd_dtype_size(dtype), numel;
    if (esize == 0) {
        onnx_ctx_fail_code(ctx, ONNX_E_UNSUPPORTED, "output %d: unsupported type %s", i,
                           inferd_dtype_name(dtype));
        return NULL;
    }
    if (check_output_shape(ctx, i, ndim, dims, esize, &numel) < 0) return NULL;
    return output_alloc(ctx, i, dtype, ndim, dims, numel * esize);
}

onnx_tensor *onnx_ctx_output_strings(onnx_ctx *ctx, int i, int ndim, const int64_t *dims,
                                     size_t nbytes)
{
    if (!onnx_ctx_output_wanted(ctx, i)) return NULL;
    size_t numel;
    if (check_output_shape(ctx, i, ndim, dims, 4, &numel) < 0) return NULL;
    if (nbytes < numel * 4 || nbytes > ONNX_MAX_TENSOR_BYTES) {
        onnx_ctx_fail_code(ctx, nbytes < numel * 4 ? ONNX_E_INVALID : ONNX_E_TOO_LARGE,
                           "output %d: %zu bytes for %zu strings", i, nbytes, numel);
        return NULL;
    }
    return output_alloc(ctx, i, INFERD_DTYPE_BYTES, ndim, dims, nbytes);
}

/* Output i as a view of input in's elements first .. first + numel(dims) (all of them if whole) */
static onnx_tensor *alias_output(onnx_ctx *ctx, int i, int in, int ndim, const int64_t *dims,
                                 int64_t first, int whole)
{
    if (!onnx_ctx_output_wanted(ctx, i)) return NULL;
    const onnx_tensor *src = onnx_ctx_input(ctx, in);
    if (!src) {
        onnx_ctx_fail(ctx, "alias of missing input %d", in);
        return NULL;
    }
    if (ndim < 0 || ndim > ONNX_MAX_DIMS) {
        onnx_ctx_fail_code(ctx, ONNX_E_UNSUPPORTED, "output %d: rank %d out of range", i, ndim);
        return NULL;
    }
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0 || (dims[k] && n > INT64_MAX / dims[k])) {
            onnx_ctx_fail(ctx, "output %d: bad dim %lld", i, (long long)dims[k]);
            return NULL;
        }
        n *= dims[k];
    }
    if (whole ? n != onnx_tensor_numel(src) : first < 0 || first > onnx_tensor_numel(src) - n) {
        onnx_ctx_fail(ctx, "output %d: %lld elements from %lld cannot view input %d's %lld", i,
                      (long long)n, (long long)first, in, (long long)onnx_tensor_numel(src));
        return NULL;
    }
    onnx_exec *x = ctx->x;
    int v = ctx->node->outputs[i], u = ctx->node->inputs[in];
    onnx_exec_release(x, v);
    int root = x->alias_root[u] >= 0 ? x->alias_root[u] : u;
    if (x->bufs
            [root]) { /* an activation's buffer: reference it; inputs and constants outlive the run */
        x->alias_root[v] = root;
        x->alias_refs[root]++;
    }
    onnx_tensor *t = &x->vals[v];
    void *data =
        first ? (char *)src->data + (size_t)first * inferd_dtype_size(src->dtype) : src->data;
    memset(t, 0, sizeof *t);
    t->dtype = src->dtype;
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++) t->dims[k] = dims[k];
    t->data = data;
    return t;
}

onnx_tensor *onnx_ctx_alias_output(onnx_ctx *ctx, int i, int in, int ndim, const int64_t *dims)
{
    return alias_output(ctx, i, in, ndim, dims, 0, 1);
}

onnx_tensor *onnx_ctx_alias_output_at(onnx_ctx *ctx, int i, int in, int ndim, const int64_t *dims,
                                      int64_t first)
{
    return alias_output(ctx, i, in, ndim, dims, first, 0);
}

onnx_tensor *onnx_ctx_output_over_input(onnx_ctx *ctx, int i, int in)
{
    onnx_exec *x = ctx->x;
    const onnx_model *m = x->m;
    if (!onnx_ctx_output_wanted(ctx, i) || in < 0 || in >= ctx->node->n_inputs) return NULL;
    if (ctx->node < m->nodes || ctx->node >= m->nodes + m->n_nodes) return NULL;
    const int k = (int)(ctx->node - m->nodes), u = ctx->node->inputs[in], v = ctx->node->outputs[i];
    if (u < 0 || u >= m->n_values || v < 0 || v >= m->n_values || u == v) return NULL;
    const onnx_value *val = &m->values[u];
    /* an activation no later node (nor the caller) reads, owning a whole buffer no view
     * shares; and an output no Concat group places */
    if (val->kind != ONNX_VALUE_ACTIVATION || val->graph_output || val->last_use != k) return NULL;
    for (int j = 0; j < ctx->node->n_inputs; j++)
        if (j != in && ctx->node->inputs[j] == u) return NULL;
    if (!x->bufs[u] || x->vals[u].data != x->bufs[u] || x->alias_root[u] >= 0 ||
        x->alias_refs[u] > 0 || x->seqs[u])
        return NULL;
    if (m->place_group && m->place_group[v] >= 0) return NULL;
    onnx_exec_release(x, v);
    x->bufs[v] = x->bufs[u];
    x->caps[v] = x->caps[u];
    x->bufs[u] = NULL; /* still readable through vals[u] until this node returns */
    x->caps[u] = 0;
    x->vals[v] = x->vals[u];
    return &x->vals[v];
}

void *onnx_ctx_scratch(onnx_ctx *ctx, size_t nbytes)
{
    if (ctx->n_scratch == CTX_MAX_SCRATCH) {
        onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "too many scratch buffers");
        return NULL;
    }
    if (nbytes > ONNX_MAX_TENSOR_BYTES) {
        onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "scratch of %zu bytes is too large", nbytes);
        return NULL;
    }
    size_t cap;
    void *p = onnx_pool_get(&ctx->x->pool, nbytes, &cap);
    if (!p) {
        onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory (%zu bytes of scratch)", nbytes);
        return NULL;
    }
    ctx->scratch[ctx->n_scratch].ptr = p;
    ctx->scratch[ctx->n_scratch].cap = cap;
    ctx->n_scratch++;
    return p;
}

/* The clock of the per-node profile: wall time, or the running thread's CPU time. */
static int64_t prof_clock_ns(const onnx_exec *x)
{
    return x->prof_cpu ? clock_thread_cpu_ns() : clock_now_ns();
}

int onnx_exec_node(onnx_exec *x, const onnx_node *node, char *err, size_t err_len)
{
    onnx_ctx ctx = {.x = x, .node = node, .err = err, .err_len = err_len};
    for (int k = 0; k < node->n_outputs; k++) {
        int v = node->outputs[k];
        if (v < 0) continue;
        onnx_exec_release(x, v);
        x->vals[v].ndim = -1; /* "not produced yet" */
    }
    /* an input a previous node failed to produce would be garbage: refuse it; sequences
     * and empty optionals only go to the operators that take them */
    for (int k = 0; k < node->n_inputs; k++) {
        int v = node->inputs[k];
        if (v >= 0 && x->vals[v].ndim < 0) {
            onnx_ctx_fail_code(&ctx, ONNX_E_INVALID, "input %d ('%s') was not computed", k,
                               x->m->values[v].name);
            return ctx.err_code;
        }
        if (v >= 0 && x->vals[v].dtype == INFERD_DTYPE_BYTES && !op_takes_strings(node)) {
            onnx_ctx_fail_code(&ctx, ONNX_E_UNSUPPORTED,
                               "input %d ('%s'): string tensors are not supported here", k,
                               x->m->values[v].name);
            return ctx.err_code;
        }
        if (v >= 0 && (x->seqs[v] || x->none[v]) && !onnx_op_is_control(node->op)) {
            onnx_ctx_fail_code(&ctx, ONNX_E_INVALID, "input %d ('%s') is %s, not a tensor", k,
                               x->m->values[v].name,
                               x->seqs[v] ? "a sequence" : "an optional without a value");
            return ctx.err_code;
        }
    }
    /* profiling costs one branch per node when off */
    const int64_t t0 = x->prof ? prof_clock_ns(x) : 0;
    int rc = node->op->run(&ctx);
    if (x->prof && node >= x->m->nodes && node < x->m->nodes + x->m->n_nodes) {
        onnx_node_time *t = &x->prof[node - x->m->nodes];
        t->ns += prof_clock_ns(x) - t0;
        t->calls++;
    }
    for (int s = 0; s < ctx.n_scratch; s++)
        onnx_pool_put(&x->pool, ctx.scratch[s].ptr, ctx.scratch[s].cap);
    if (rc == 0 && !ctx.err_code) {
        for (int k = 0; k < node->n_outputs; k++) {
            int v = node->outputs[k];
            if (v >= 0 && x->vals[v].ndim < 0) {
                onnx_ctx_fail_code(&ctx, ONNX_E_INVALID, "output %d was not produced", k);
                break;
            }
        }
    }
    if (rc != 0 && !ctx.err_code) onnx_ctx_fail_code(&ctx, ONNX_E_INVALID, "failed");
    if (ctx.err_code) {
        for (int k = 0; k < node->n_outputs; k++)
            if (node->outputs[k] >= 0) onnx_exec_release(x, node->outputs[k]);
        return ctx.err_code;
    }
    return 0;
}

onnx_exec *onnx_ctx_exec(onnx_ctx *ctx)
{
    return ctx->x;
}

/* ---- items --------------------------------------------------------------------------------- */

int onnx_ctx_input_item(const onnx_ctx *ctx, int i, onnx_item *out)
{
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= ctx->node->n_inputs || ctx->node->inputs[i] < 0) return -1;
    onnx_exec_item(ctx->x, ctx->node->inputs[i], out);
    return 0;
}

int onnx_ctx_output_seq(onnx_ctx *ctx, int i, onnx_seq *s)
{
    if (!onnx_ctx_output_wanted(ctx, i)) {
        onnx_seq_unref(s);
        return 0;
    }
    int v = ctx->node->outputs[i];
    onnx_exec_release(ctx->x, v);
    memset(&ctx->x->vals[v], 0, sizeof ctx->x->vals[v]);
    ctx->x->seqs[v] = s;
    return 0;
}

int onnx_ctx_output_item(onnx_ctx *ctx, int i, const onnx_item *it)
{
    if (!onnx_ctx_output_wanted(ctx, i)) return 0;
    if (it->kind == ONNX_ITEM_SEQUENCE) {
        onnx_seq_ref(it->seq);
        return onnx_ctx_output_seq(ctx, i, it->seq);
    }
    if (it->kind == ONNX_ITEM_NONE) {
        int v = ctx->node->outputs[i];
        onnx_exec_release(ctx->x, v);
        memset(&ctx->x->vals[v], 0, sizeof ctx->x->vals[v]);
        ctx->x->none[v] = 1;
        return 0;
    }
    const size_t nb = onnx_tensor_nbytes(&it->t);
    onnx_tensor *o = it->t.dtype == INFERD_DTYPE_BYTES
                         ? onnx_ctx_output_strings(ctx, i, it->t.ndim, it->t.dims, nb)
                         : onnx_ctx_output(ctx, i, it->t.dtype, it->t.ndim, it->t.dims);
    if (!o) return -1;
    if (nb) memcpy(o->data, it->t.data, nb);
    return 0;
}
