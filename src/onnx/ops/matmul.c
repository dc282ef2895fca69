/* MatMul with numpy semantics: N-d batched with broadcast batch dims, 1-D operands promoted
 * and their dim removed. float32/float64 through BLAS (when B is one matrix and A's batches
 * stack, a single GEMM), int32/int64 by plain loops. Load-time fusions add attributes:
 *   inferd_bias = 1: input 2 (1-D, length N) is added over the last dim (written into Y
 *     before the GEMM, which then accumulates onto it: no separate pass);
 *   inferd_activation...: the fused activation (activation.h), after the bias;
 *   inferd_scale (float32 only): the product is scaled (GEMM alpha), before the bias;
 *   inferd_residual = 1 (float32 only): input 3 is added too (numpy broadcasting): when it has
 *     the result's shape it is written in with the bias, else added by the elementwise engine;
 *   inferd_perm_a / inferd_perm_b: the operand is Transpose(input, perm), read in place
 *     through strides (BLAS's transpose flag and leading dimension, per-batch offsets);
 *   inferd_split_a / inferd_split_b = [offset, width, shape...] (fuse_split.c): the operand is
 *     Reshape(input[..., offset : offset + width], shape), the input's columns read in place
 *     (attention's Q, K and V from the one projection's output; before perm_a / perm_b);
 *   inferd_perm_y: the result is Transpose(Y, perm), written in place likewise; the perm
 *     [0, r-1, 1, ..., r-2] with a constant B runs as B^T X^T per image (matmul_cfirst.c).
 * An operand or result whose layout BLAS cannot take (the input's last dim moved out of the
 * last two) goes through a contiguous scratch copy, so every permutation gives the right
 * answer; the fusion pass only folds the ones that need no copy. */
#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "ew_engine.h"
#include "matmul_cfirst.h"
#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_kernels.h"
#include "nn_ops.h"
#include "tensor_util.h"

/* A tensor seen through a permutation: logical dims and element strides. */
typedef struct mm_view {
    char *data;
    int rank;
    int64_t dims[ONNX_MAX_DIMS], str[ONNX_MAX_DIMS];
} mm_view;

/* A matrix operand as BLAS takes it: rows x cols, unit stride along one of them. */
typedef struct mm_mat {
    int trans; /* 0: element (r, c) at r * ld + c; 1: at c * ld + r */
    int64_t ld;
} mm_mat;

#define NN_MATMUL_INT_DEFINE(NAME, T)                                                              \
    /* c[i][j] += sum_p a[i][p] b[p][j] with element strides (c rows ldc apart) */                 \
    static void NAME(const T *a, int64_t ar, int64_t ac, const T *b, int64_t br, int64_t bc, T *c, \
                     int64_t ldc, int64_t m, int64_t n, int64_t k)                                 \
    {                                                                                              \
        for (int64_t i = 0; i < m; i++) {                                                          \
            T *cr = c + i * ldc;                                                                   \
            for (int64_t p = 0; p < k; p++) {                                                      \
                const T av = a[i * ar + p * ac], *bp = b + p * br;                                 \
                for (int64_t j = 0; j < n; j++)                                                    \
                    cr[j] = (T)((uint64_t)cr[j] + (uint64_t)av * (uint64_t)bp[j * bc]);            \
            }                                                                                      \
        }                                                                                          \
    }
NN_MATMUL_INT_DEFINE(matmul_i32, int32_t)
NN_MATMUL_INT_DEFINE(matmul_i64, int64_t)

/* Reads permutation attribute `name` for a rank-r tensor into perm (identity if absent).
 * Returns 1 if present, 0 if absent, -1 (failed) if it is not a permutation of r axes. */
static int read_perm(onnx_ctx *ctx, const onnx_node *node, const char *name, int r, int *perm)
{
    const int64_t *p;
    int n = onnx_attr_ints(node, name, &p);
    for (int i = 0; i < r; i++) perm[i] = i;
    if (n < 0) return 0;
    if (n != r) return onnx_ctx_fail(ctx, "%s has %d axes for rank %d", name, n, r);
    int seen[ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < r; i++) {
        if (p[i] < 0 || p[i] >= r || seen[p[i]]++)
            return onnx_ctx_fail(ctx, "%s is not a permutation", name);
        perm[i] = (int)p[i];
    }
    return 1;
}

/* t's data seen as Transpose(t, perm), with a 1-D t promoted to [1, k] (A) or [k, 1] (B). v
 * holds t's own dims and strides on entry (split_view) when `viewed`, else they come from t. */
static void view_of(const onnx_tensor *t, const int *perm, int is_b, int viewed, mm_view *v)
{
    int64_t st[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS];
    if (viewed) {
        memcpy(st, v->str, (size_t)v->rank * sizeof st[0]);
        memcpy(dims, v->dims, (size_t)v->rank * sizeof dims[0]);
    } else {
        onnx_tensor_strides(t, st);
        memcpy(dims, t->dims, (size_t)t->ndim * sizeof dims[0]);
        v->data = t->data;
        v->rank = t->ndim;
    }
    if (v->rank == 1) {
        const int64_t k = dims[0];
        v->rank = 2;
        v->dims[0] = is_b ? k : 1, v->dims[1] = is_b ? 1 : k;
        v->str[0] = is_b ? 1 : k, v->str[1] = 1;
        return;
    }
    for (int i = 0; i < v->rank; i++) {
        v->dims[i] = dims[perm[i]];
        v->str[i] = st[perm[i]];
    }
}

/* The operand of attribute at = [offset, width, shape...] (inferd_split_a / _b): x's columns
 * [offset, offset + width) of its last dim, reshaped to shape, where the reshape may only regroup
 * the leading dims and split the width into shape's last two (a head split), so that every
 * element has a stride: the view's dims and strides into v (rank = shape's), before any perm. */
static int split_view(onnx_ctx *ctx, const onnx_tensor *x, const onnx_attr *at, size_t esz,
                      mm_view *v)
{
    const int r = at->type == ONNX_ATTR_INTS ? (int)at->n - 2 : 0;
    if (r < 2 || r > ONNX_MAX_DIMS || x->ndim < 1)
        return onnx_ctx_fail(ctx, "bad %s for an input of rank %d", at->name, x->ndim);
    const int64_t L = x->dims[x->ndim - 1], off = at->ints[0], w = at->ints[1];
    if (off < 0 || w <= 0 || off > L || w > L - off)
        return onnx_ctx_fail(ctx, "%s: columns [%lld, +%lld) outside %lld", at->name,
                             (long long)off, (long long)w, (long long)L);
    int64_t cdims[ONNX_MAX_DIMS], rows = onnx_tu_prod(x->dims, 0, x->ndim - 1), numel;
    memcpy(cdims, x->dims, (size_t)x->ndim * sizeof cdims[0]);
    cdims[x->ndim - 1] = w;
    if (onnx_tu_mul(rows, w, &numel) < 0) return onnx_ctx_fail(ctx, "%s: too large", at->name);
    memcpy(v->dims, at->ints + 2, (size_t)r * sizeof v->dims[0]);
    if (onnx_tu_reshape_dims(ctx, cdims, x->ndim, numel, 0, v->dims, r) < 0) return -1;
    int64_t hd, s = L; /* the leading dims regroup the rows, L elements apart */
    if (onnx_tu_mul(v->dims[r - 2], v->dims[r - 1], &hd) < 0 || hd != w)
        return onnx_ctx_fail(ctx, "%s: shape does not split the %lld columns", at->name,
                             (long long)w);
    v->rank = r;
    v->data = x->data ? (char *)x->data + (size_t)off * esz : NULL; /* NULL: x is empty */
    v->str[r - 1] = 1, v->str[r - 2] = v->dims[r - 1];
    for (int i = r - 3; i >= 0; i--) { /* overflow only with an empty x and absurd dims */
        v->str[i] = s;
        if (v->dims[i] && onnx_tu_mul(s, v->dims[i], &s) < 0)
            return onnx_ctx_fail(ctx, "%s: shape too large", at->name);
    }
    return 0;
}

/* How BLAS reads a rows x cols matrix with strides (sr, sc); -1 if it cannot. Strides of
 * unit dims do not matter, so they are chosen to fit. */
static int blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, mm_mat *mat)
{
    if (cols == 1) sc = 1;
    if (rows == 1) sr = cols;
    if (sc == 1 && sr >= cols) {
        mat->trans = 0, mat->ld = sr;
    } else if (sr == 1 && sc >= rows) {
        mat->trans = 1, mat->ld = sc;
    } else {
        return -1;
    }
    return mat->ld <= INT_MAX ? 0 : -1;
}

/* Replaces v by a contiguous copy in scratch. */
static int materialize(onnx_ctx *ctx, mm_view *v, size_t esz)
{
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++) n *= v->dims[i];
    size_t bytes;
    if (nn_mul_size((size_t)n, esz, &bytes) != 0) return onnx_ctx_fail(ctx, "operand too large");
    char *copy = onnx_ctx_scratch(ctx, bytes ? bytes : esz);
    if (!copy) return -1;
    onnx_tu_copy_strided(copy, v->data, v->rank, v->dims, v->str, 0, esz);
    v->data = copy;
    int64_t s = 1;
    for (int i = v->rank - 1; i >= 0; i--) {
        v->str[i] = s;
        s *= v->dims[i];
    }
    return 0;
}

/* The batch walk: for output batch dims odims[0..ob), each operand's element stride per dim
 * (0 where it broadcasts). */
typedef struct mm_walk {
    int ob;
    int64_t odims[ONNX_MAX_DIMS], astr[ONNX_MAX_DIMS], bstr[ONNX_MAX_DIMS], cstr[ONNX_MAX_DIMS];
    int64_t nbatch;
} mm_walk;

/* Advances idx (odometer over odims) and the three offsets; returns 0 when it wraps. */
static int walk_next(const mm_walk *w, int64_t *idx, int64_t *ao, int64_t *bo, int64_t *co)
{
    for (int i = w->ob - 1; i >= 0; i--) {
        *ao += w->astr[i], *bo += w->bstr[i], *co += w->cstr[i];
        if (++idx[i] < w->odims[i]) return 1;
        *ao -= w->astr[i] * w->odims[i], *bo -= w->bstr[i] * w->odims[i];
        *co -= w->cstr[i] * w->odims[i];
        idx[i] = 0;
    }
    return 0;
}

/* 1 if the rows of all batches lie rs apart in one run (batch dims stride like m more rows) */
static int rows_stack(const int64_t *str, const mm_walk *w, int64_t m, int64_t rs)
{
    int64_t want = m * rs;
    for (int i = w->ob - 1; i >= 0; i--) {
        if (w->odims[i] != 1 && str[i] != want) return 0;
        want *= w->odims[i];
    }
    return 1;
}

typedef struct mm_job {
    onnx_ctx *ctx;
    const onnx_gemm_packed *pb; /* B packed at load (node->state), when this run's B is it */
    inferd_dtype t;
    size_t esz;
    int64_t m, n, k;
    float alpha;
    const mm_view *a, *b;
    mm_mat am, bm;
    char *c;
    int64_t ldc;
    /* float32 with our epilogue: the bias per column and the activation in the GEMM's store
     * (accumulate 0: no prefill pass, no read of C); else C holds the bias before (accumulate) */
    const float *col_bias;
    onnx_activation act;
    int accumulate;
} mm_job;

/* C (m x n, ldc) += alpha * A * B for one batch at element offsets ao, bo, co; C already
 * holds the bias (or zeros). float32 through nn_gemm.h, on the session's threads unless
 * `serial` (a task of a parallel loop over batches). Returns 0, or -1 (ENOMEM; with the
 * error set unless serial). */
static int gemm_one(const mm_job *j, int64_t m, int64_t ao, int64_t bo, int64_t co, int serial)
{
    /* B's data is NULL when the model keeps it only packed (j->pb) */
    const char *a = j->a->data + (size_t)ao * j->esz;
    const char *b = j->b->data ? j->b->data + (size_t)bo * j->esz : NULL;
    char *c = j->c + (size_t)co * j->esz;
    const int ra = j->a->rank, rb = j->b->rank;
    switch (j->t) {
    case INFERD_DTYPE_FP32: {
        onnx_gemm_args g = {.m = m,
                            .n = j->n,
                            .k = j->k,
                            .a = (const float *)(const void *)a,
                            .lda = j->am.ld,
                            .trans_a = j->am.trans,
                            .b = (const float *)(const void *)b,
                            .ldb = j->bm.ld,
                            .trans_b = j->bm.trans,
                            .pb = j->pb,
                            .alpha = j->alpha,
                            .c = (float *)(void *)c,
                            .ldc = j->ldc,
                            .accumulate = j->accumulate,
                            .col_bias = j->col_bias,
                            .act = j->act};
        return serial ? nn_gemm_f32_serial(&g) : nn_gemm_f32(j->ctx, &g);
    }
    case INFERD_DTYPE_FP64:
        cblas_dgemm(CblasRowMajor, j->am.trans ? CblasTrans : CblasNoTrans,
                    j->bm.trans ? CblasTrans : CblasNoTrans, (int)m, (int)j->n, (int)j->k, 1.0,
                    (const double *)(const void *)a, (int)j->am.ld, (const double *)(const void *)b,
                    (int)j->bm.ld, 1.0, (double *)(void *)c, (int)j->ldc);
        break;
    case INFERD_DTYPE_INT32:
        matmul_i32((const int32_t *)(const void *)a, j->a->str[ra - 2], j->a->str[ra - 1],
                   (const int32_t *)(const void *)b, j->b->str[rb - 2], j->b->str[rb - 1],
                   (int32_t *)(void *)c, j->ldc, m, j->n, j->k);
        break;
    default:
        matmul_i64((const int64_t *)(const void *)a, j->a->str[ra - 2], j->a->str[ra - 1],
                   (const int64_t *)(const void *)b, j->b->str[rb - 2], j->b->str[rb - 1],
                   (int64_t *)(void *)c, j->ldc, m, j->n, j->k);
        break;
    }
    return 0;
}

/* The batches of one MatMul as tasks of the session's pool (attention's heads). */
typedef struct mm_batches {
    const mm_job *job;
    int64_t m;
    const int64_t *off; /* ao, bo, co per batch */
    _Atomic int failed;
} mm_batches;

static void mm_batch_task(void *arg, int64_t i)
{
    mm_batches *b = arg;
    if (gemm_one(b->job, b->m, b->off[3 * i], b->off[3 * i + 1], b->off[3 * i + 2], 1) != 0)
        atomic_store(&b->failed, 1);
}

/* A row of C before the GEMM: bias + residual row, either, or zeros (res: float32 only). */
static void fill_row(char *row, const void *bias, const float *res, int64_t n, size_t esz)
{
    if (res) {
        if (bias) nn_k_add2((float *)(void *)row, res, bias, n);
        else memcpy(row, res, (size_t)n * esz);
    } else if (bias) {
        memcpy(row, bias, (size_t)n * esz);
    } else {
        memset(row, 0, (size_t)n * esz);
    }
}

/* out[i] = in0[i * s0] + in1[i * s1] (the broadcast residual, float32) */
static void add_row(void *out, const void *const *in, const int64_t *step, int64_t n,
                    const void *param)
{
    (void)param;
    float *o = out;
    const float *a = in[0], *b = in[1];
    for (int64_t i = 0; i < n; i++) o[i] = a[i * step[0]] + b[i * step[1]];
}

/* One MatMul run: operands, the batch walk, the output and where C (the GEMM's result) lives.
 * Filled in order by the steps of nn_matmul_run. */
typedef struct mm_plan {
    inferd_dtype t;
    size_t esz;
    onnx_activation act;
    const onnx_tensor *bias, *res; /* fused (NULL if not) */
    int res_inline;                /* res has the result's shape: written in with the bias */
    int a1, b1;                    /* 1-D operands (their dim is removed from Y) */
    mm_view av, bv;
    int ab, bb; /* batch ranks of av and bv */
    int64_t m, n, k;
    mm_walk w;
    int yr; /* Y's rank (= Z's) */
    int64_t ydims[ONNX_MAX_DIMS], zdims[ONNX_MAX_DIMS];
    int py[ONNX_MAX_DIMS]; /* Z = Transpose(Y, py) */
    onnx_tensor zbuf, *z;  /* the output, or zbuf (scratch) when res broadcasts */
    char *c, *scratch_y;   /* C: Z in place, or a contiguous Y in scratch_y */
    int64_t c_row;         /* C's row stride */
} mm_plan;

/* Inputs, attributes and the operand views; m, n, k and the fused bias. */
static int mm_read_operands(onnx_ctx *ctx, const onnx_node *node, mm_plan *p)
{
    const onnx_tensor *a = onnx_ctx_input(ctx, 0), *b = onnx_ctx_input(ctx, 1);
    p->bias = NULL;
    if (!a || !b) return onnx_ctx_fail(ctx, "needs inputs A and B");
    const inferd_dtype t = p->t = a->dtype;
    if (b->dtype != t) return onnx_ctx_fail(ctx, "A and B element types differ");
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64 && t != INFERD_DTYPE_INT32 &&
        t != INFERD_DTYPE_INT64)
        return onnx_ctx_unsupported(ctx, "unsupported element type %s", inferd_dtype_name(t));
    if (a->ndim < 1 || b->ndim < 1) return onnx_ctx_fail(ctx, "operands must have rank >= 1");
    if (nn_activation_read(ctx, node, &p->act) != 0) return -1;
    const int scaled = onnx_node_attr(node, "inferd_scale") != NULL;
    if ((p->act.kind != ONNX_ACT_NONE || scaled) && t != INFERD_DTYPE_FP32)
        return onnx_ctx_fail(ctx, "fused activation or scale needs float32");
    const onnx_attr *sa = onnx_node_attr(node, "inferd_split_a");
    const onnx_attr *sb = onnx_node_attr(node, "inferd_split_b");
    const size_t esz = inferd_dtype_size(t);
    if ((sa && split_view(ctx, a, sa, esz, &p->av) < 0) ||
        (sb && split_view(ctx, b, sb, esz, &p->bv) < 0))
        return -1;
    const int ra = sa ? p->av.rank : a->ndim, rb = sb ? p->bv.rank : b->ndim;
    int pa[ONNX_MAX_DIMS], pb[ONNX_MAX_DIMS];
    if (read_perm(ctx, node, "inferd_perm_a", ra, pa) < 0 ||
        read_perm(ctx, node, "inferd_perm_b", rb, pb) < 0)
        return -1;
    view_of(a, pa, 0, sa != NULL, &p->av);
    view_of(b, pb, 1, sb != NULL, &p->bv);

    p->a1 = ra == 1, p->b1 = rb == 1;
    const mm_view *av = &p->av, *bv = &p->bv;
    p->m = av->dims[av->rank - 2], p->k = av->dims[av->rank - 1];
    const int64_t kb = bv->dims[bv->rank - 2];
    p->n = bv->dims[bv->rank - 1];
    if (p->k != kb)
        return onnx_ctx_fail(ctx, "inner dims differ: A has %lld, B has %lld", (long long)p->k,
                             (long long)kb);
    if (onnx_attr_int(node, "inferd_bias", 0) == 1) {
        p->bias = onnx_ctx_input(ctx, 2);
        if (!p->bias || p->bias->dtype != t || p->bias->ndim != 1 || p->bias->dims[0] != p->n)
            return onnx_ctx_fail(ctx, "fused bias must be 1-D with %lld values", (long long)p->n);
    }
    return 0;
}

/* The batch dims, broadcast and aligned from the right. */
static int mm_broadcast_batches(onnx_ctx *ctx, mm_plan *p)
{
    mm_walk *w = &p->w;
    const int ab = p->ab = p->av.rank - 2, bb = p->bb = p->bv.rank - 2;
    w->ob = ab > bb ? ab : bb;
    w->nbatch = 1;
    for (int i = w->ob - 1; i >= 0; i--) {
        int ia = i - (w->ob - ab), ib = i - (w->ob - bb);
        int64_t da = ia >= 0 ? p->av.dims[ia] : 1, db = ib >= 0 ? p->bv.dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return onnx_ctx_fail(ctx, "batch dims %lld and %lld do not broadcast", (long long)da,
                                 (long long)db);
        w->odims[i] = da == 1 ? db : da;
        w->astr[i] = da == 1 ? 0 : p->av.str[ia];
        w->bstr[i] = db == 1 ? 0 : p->bv.str[ib];
        w->nbatch *= w->odims[i];
    }
    return 0;
}

/* Y's shape (1-D operands' dims removed), the output Z = Transpose(Y, perm_y), and the fused
 * residual: one of the result's shape goes into the GEMM's starting rows; any other shape is
 * added afterwards, by the elementwise engine, into the broadcast output (Z then in scratch). */
static int mm_make_output(onnx_ctx *ctx, const onnx_node *node, mm_plan *p)
{
    const mm_walk *w = &p->w;
    p->yr = w->ob;
    memcpy(p->ydims, w->odims, (size_t)w->ob * sizeof p->ydims[0]);
    if (!p->a1) p->ydims[p->yr++] = p->m;
    if (!p->b1) p->ydims[p->yr++] = p->n;
    const int yr = p->yr;
    if (read_perm(ctx, node, "inferd_perm_y", yr, p->py) < 0) return -1;
    for (int i = 0; i < yr; i++) p->zdims[i] = p->ydims[p->py[i]];
    p->res = NULL;
    p->res_inline = 0;
    if (onnx_attr_int(node, "inferd_residual", 0) == 1) {
        p->res = onnx_ctx_input(ctx, 3);
        if (!p->res || p->res->dtype != INFERD_DTYPE_FP32 || p->t != INFERD_DTYPE_FP32)
            return onnx_ctx_fail(ctx, "fused residual needs float32 input 3");
        p->res_inline = p->res->ndim == yr;
        for (int i = 0; p->res_inline && i < yr; i++)
            p->res_inline = p->res->dims[i] == p->zdims[i];
    }
    if (!p->res || p->res_inline)
        return (p->z = onnx_ctx_output(ctx, 0, p->t, yr, p->zdims)) ? 0 : -1;
    onnx_tensor *zb = &p->zbuf;
    memset(zb, 0, sizeof *zb);
    zb->dtype = p->t, zb->ndim = yr;
    memcpy(zb->dims, p->zdims, (size_t)yr * sizeof p->zdims[0]);
    size_t bytes;
    if (nn_mul_size((size_t)onnx_tensor_numel(zb), sizeof(float), &bytes) != 0)
        return onnx_ctx_fail(ctx, "result too large");
    if (!(zb->data = onnx_ctx_scratch(ctx, bytes ? bytes : 1))) return -1;
    p->z = zb;
    return 0;
}

/* Where C is written: Z in place (Y's element strides inside Z: batch dims, row, column), or
 * a contiguous Y in scratch when BLAS cannot write Z's layout. */
static int mm_place_c(onnx_ctx *ctx, mm_plan *p)
{
    const int yr = p->yr;
    mm_walk *w = &p->w;
    int64_t zst[ONNX_MAX_DIMS], yst[ONNX_MAX_DIMS];
    onnx_tensor_strides(p->z, zst);
    for (int i = 0; i < yr; i++) yst[p->py[i]] = zst[i];
    for (int i = 0; i < w->ob; i++) w->cstr[i] = yst[i];
    int64_t c_row = p->a1 ? p->n : yst[w->ob], c_col = p->b1 ? 1 : yst[yr - 1];
    if (p->m == 1) c_row = p->n;
    if (p->n == 1) c_col = 1;
    p->c = p->z->data;
    p->scratch_y = NULL;
    if (c_col != 1 || c_row < p->n || c_row > INT_MAX) { /* BLAS cannot write it: contiguous Y */
        if (!(p->scratch_y = onnx_ctx_scratch(ctx, onnx_tensor_nbytes(p->z)))) return -1;
        p->c = p->scratch_y;
        int64_t s = p->n;
        c_row = p->n;
        for (int i = w->ob - 1; i >= 0; i--) {
            w->cstr[i] = s * p->m;
            s *= w->odims[i];
        }
    }
    p->c_row = c_row;
    return 0;
}

/* BLAS needs a unit stride in each operand: one it cannot read goes through a contiguous
 * copy (and the batch walk takes the copy's strides). Fills job's am and bm. */
static int mm_blas_operands(onnx_ctx *ctx, mm_plan *p, mm_job *job)
{
    mm_view *av = &p->av, *bv = &p->bv;
    mm_walk *w = &p->w;
    if (blas_layout(p->m, p->k, av->str[av->rank - 2], av->str[av->rank - 1], &job->am) < 0) {
        if (materialize(ctx, av, p->esz) < 0) return -1;
        blas_layout(p->m, p->k, av->str[av->rank - 2], av->str[av->rank - 1], &job->am);
        for (int i = 0; i < w->ob; i++) { /* batch strides of the copy */
            int ia = i - (w->ob - p->ab);
            if (w->astr[i]) w->astr[i] = av->str[ia];
        }
    }
    if (blas_layout(p->k, p->n, bv->str[bv->rank - 2], bv->str[bv->rank - 1], &job->bm) < 0) {
        if (materialize(ctx, bv, p->esz) < 0) return -1;
        blas_layout(p->k, p->n, bv->str[bv->rank - 2], bv->str[bv->rank - 1], &job->bm);
        for (int i = 0; i < w->ob; i++) {
            int ib = i - (w->ob - p->bb);
            if (w->bstr[i]) w->bstr[i] = bv->str[ib];
        }
    }
    return 0;
}

/* C = bias (+ residual) per row, then += A * B: one GEMM over all batches when B is one
 * matrix and the rows of A and of C each run on evenly across batches (as the GEMM and the
 * int loops step them), else one per batch; then the fused activation. */
static int mm_multiply(const mm_plan *p, mm_job *job)
{
    const mm_walk *w = &p->w;
    const int64_t m = p->m, n = p->n, c_row = p->c_row;
    const int blas = p->t == INFERD_DTYPE_FP32 || p->t == INFERD_DTYPE_FP64;
    const int64_t a_row = blas ? job->am.ld : p->av.str[p->av.rank - 2];
    const int c_stacks = rows_stack(w->cstr, w, m, c_row);
    const int stack_b = rows_stack(w->bstr, w, 0, 0) && !job->am.trans &&
                        rows_stack(w->astr, w, m, a_row) && c_stacks && w->nbatch * m <= INT_MAX;
    int64_t idx[ONNX_MAX_DIMS] = {0}, ao = 0, bo = 0, co = 0;
    const float *res_rows = p->res_inline && !p->scratch_y ? p->res->data : NULL; /* Z's layout */
    /* float32 without residual rows: the bias in the GEMM's store, and the activations its
     * kernels apply in registers (GELU only the AVX-512 kernel); Tanh... would run per tile row
     * (32 floats a call: slower than one pass over the result, measured on ConvNeXt and ViT) */
    const int in_store = p->t == INFERD_DTYPE_FP32 && p->k > 0 && !res_rows;
    const onnx_activation_kind ak = p->act.kind;
    const int act_in_store =
        in_store &&
        (ak == ONNX_ACT_RELU || ak == ONNX_ACT_CLIP || ak == ONNX_ACT_SILU ||
         ak == ONNX_ACT_SIGMOID || ak == ONNX_ACT_HARD_SWISH || ak == ONNX_ACT_HARD_SIGMOID ||
         (ak == ONNX_ACT_GELU && onnx_gemm_kernel() == ONNX_GEMM_AVX512));
    job->accumulate = !in_store;
    job->col_bias = in_store && p->bias ? p->bias->data : NULL;
    job->act = act_in_store ? p->act : (onnx_activation){.kind = ONNX_ACT_NONE};
    if (!in_store) {
        do {
            for (int64_t r = 0; r < m; r++) {
                int64_t off = co + r * c_row;
                fill_row(p->c + (size_t)off * p->esz, p->bias ? p->bias->data : NULL,
                         res_rows ? res_rows + off : NULL, n, p->esz);
            }
        } while (walk_next(w, idx, &ao, &bo, &co));
    }
    onnx_tpool *pool = onnx_ctx_tpool(job->ctx);
    if (p->k > 0) {
        if (stack_b) {
            if (gemm_one(job, w->nbatch * m, 0, 0, 0, 0) != 0) return -1;
        } else if (pool && p->t == INFERD_DTYPE_FP32 && w->nbatch > 1) {
            int64_t *off = onnx_ctx_scratch(job->ctx, (size_t)w->nbatch * 3 * sizeof(int64_t));
            if (!off) return -1;
            int64_t nb = 0;
            do {
                off[3 * nb] = ao, off[3 * nb + 1] = bo, off[3 * nb + 2] = co;
                nb++;
            } while (walk_next(w, idx, &ao, &bo, &co));
            mm_batches b = {.job = job, .m = m, .off = off};
            onnx_tpool_parallel_for(pool, nb, mm_batch_task, &b);
            if (atomic_load(&b.failed)) return onnx_ctx_fail(job->ctx, "GEMM: out of memory");
        } else {
            do {
                if (gemm_one(job, m, ao, bo, co, 0) != 0) return -1;
            } while (walk_next(w, idx, &ao, &bo, &co));
        }
    }
    if (p->act.kind == ONNX_ACT_NONE || act_in_store) return 0;
    if (c_stacks && c_row == n) { /* one contiguous block */
        nn_activation_run(&p->act, (float *)(void *)p->c, w->nbatch * m * n);
        return 0;
    }
    do {
        for (int64_t r = 0; r < m; r++)
            nn_activation_run(&p->act, (float *)(void *)p->c + co + r * c_row, n);
    } while (walk_next(w, idx, &ao, &bo, &co));
    return 0;
}

/* Z = Transpose(Y, perm_y) from the contiguous Y in scratch, plus an inline residual. */
static void mm_scatter_y(const mm_plan *p)
{
    const int yr = p->yr;
    int64_t ycs[ONNX_MAX_DIMS], s = 1, zs[ONNX_MAX_DIMS];
    for (int i = yr - 1; i >= 0; i--) {
        ycs[i] = s;
        s *= p->ydims[i];
    }
    for (int i = 0; i < yr; i++) zs[i] = ycs[p->py[i]];
    onnx_tu_copy_strided(p->z->data, p->scratch_y, yr, p->zdims, zs, 0, p->esz);
    if (p->res_inline) nn_k_add_vec(p->z->data, p->res->data, onnx_tensor_numel(p->z));
}

/* The channels-first route: B^T packed at load (prepare saw the perm), a float32 A of Y's
 * rank read as it is, and Z = Transpose(Y, [0, r-1, 1, ..., r-2]). */
static int cfirst_applies(const onnx_node *node, const mm_plan *p)
{
    const onnx_gemm_packed *bt = node->state;
    if (!bt || p->t != INFERD_DTYPE_FP32 || p->a1 || p->b1 || p->bv.rank != 2 ||
        p->av.rank != p->yr || !onnx_gemm_packed_fits(bt, 1, p->k, p->n))
        return 0;
    int64_t perm[ONNX_MAX_DIMS];
    for (int i = 0; i < p->yr; i++) perm[i] = p->py[i];
    return nn_matmul_is_cfirst_perm(perm, p->yr);
}

/* Whether MatMul may pack B^T for the channels-first route: perm_y moves the last axis to 1,
 * A is read as it is or channels-first through perm_a (*x_cfirst). */
static int cfirst_attrs(const onnx_node *node, int *x_cfirst)
{
    const int64_t *py, *pa;
    int ry = onnx_attr_ints(node, "inferd_perm_y", &py);
    int ra = onnx_attr_ints(node, "inferd_perm_a", &pa);
    *x_cfirst = ra > 0;
    return ry > 0 && !onnx_node_attr(node, "inferd_split_a") && nn_matmul_is_cfirst_perm(py, ry) &&
           (ra < 0 || (ra == ry && nn_matmul_is_clast_perm(pa, ra)));
}

int nn_matmul_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    mm_plan p;
    if (mm_read_operands(ctx, node, &p) != 0 || mm_broadcast_batches(ctx, &p) != 0 ||
        mm_make_output(ctx, node, &p) != 0)
        return -1;
    int x_cfirst;
    if (onnx_tensor_numel(p.z) > 0 && cfirst_attrs(node, &x_cfirst) && cfirst_applies(node, &p)) {
        float *z = p.z->data;
        if (p.res_inline) memcpy(z, p.res->data, onnx_tensor_nbytes(p.z));
        if (nn_matmul_cfirst(ctx, node->state, p.n, onnx_ctx_input(ctx, 0), x_cfirst,
                             p.bias ? p.bias->data : NULL,
                             onnx_attr_float(node, "inferd_scale", 1.0f), &p.act, z,
                             p.res_inline) != 0)
            return -1;
    } else if (onnx_tensor_numel(p.z) > 0) {
        if (p.m > INT_MAX || p.n > INT_MAX || p.k > INT_MAX)
            return onnx_ctx_fail(ctx, "matrix dims too large for BLAS");
        p.esz = inferd_dtype_size(p.t);
        if (mm_place_c(ctx, &p) != 0) return -1;
        mm_job job = {.ctx = ctx,
                      .t = p.t,
                      .esz = p.esz,
                      .m = p.m,
                      .n = p.n,
                      .k = p.k,
                      .a = &p.av,
                      .b = &p.bv,
                      .c = p.c,
                      .ldc = p.c_row,
                      .alpha = onnx_attr_float(node, "inferd_scale", 1.0f),
                      .am = {0, 0},
                      .bm = {0, 0}};
        if ((p.t == INFERD_DTYPE_FP32 || p.t == INFERD_DTYPE_FP64) &&
            mm_blas_operands(ctx, &p, &job) != 0)
            return -1;
        /* B packed at load, if this run reads the constant itself as a plain k x n matrix */
        const onnx_gemm_packed *pb = node->state;
        const onnx_tensor *bt = onnx_ctx_input(ctx, 1);
        if (pb && p.t == INFERD_DTYPE_FP32 && bt && (const void *)p.bv.data == bt->data &&
            !job.bm.trans && job.bm.ld == p.n && onnx_gemm_packed_fits(pb, 0, p.k, p.n))
            job.pb = pb;
        if (pb && !job.pb && !p.bv.data) /* kept only packed, in a form this run cannot read */
            return onnx_ctx_fail(ctx, "B is packed for another layout");
        if (mm_multiply(&p, &job) != 0) return -1;
        if (p.scratch_y) mm_scatter_y(&p);
    }
    if (p.res && !p.res_inline) { /* the broadcast residual */
        const onnx_tensor *in[2] = {p.z, p.res};
        return ew_broadcast_run(ctx, 2, in, INFERD_DTYPE_FP32, add_row, NULL, NULL);
    }
    return 0;
}

int nn_matmul_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len)
{
    (void)err, (void)err_len;
    const onnx_tensor *b = node->n_inputs > 1 ? consts[1] : NULL;
    /* a constant 2-D float32 B read as it is (no fused transpose of it) */
    if (!b || b->dtype != INFERD_DTYPE_FP32 || b->ndim != 2 || onnx_tensor_numel(b) == 0 ||
        onnx_node_attr(node, "inferd_perm_b") || onnx_node_attr(node, "inferd_split_b"))
        return 0;
    int x_cfirst;
    if (cfirst_attrs(node, &x_cfirst))
        /* B^T as the GEMM's A (cfirst_applies); every float32 run of this rank takes it */
        node->state = onnx_gemm_pack_a(b->data, 1, b->dims[1], b->dims[0], b->dims[1]);
    else node->state = onnx_gemm_pack_b(b->data, 0, b->dims[0], b->dims[1], b->dims[1]);
    /* NULL state on ENOMEM: run multiplies the unpacked B; else every float32 run reads B as
     * the plain contiguous k x n matrix it packed (blas_layout: no transpose, ld n), so only
     * packed, and the model may free the plain one */
    if (node->state) {
        node->plain_unused |= 1u << 1;
        node->stream = onnx_gemm_packed_data(node->state, &node->stream_bytes);
    }
    return 0;
}

void nn_matmul_release(onnx_node *node)
{
    onnx_gemm_packed_free(node->state);
    node->state = NULL;
}
