/* Einsum: parses the equation (explicit or implicit output, '...' broadcasting, repeated
 * labels = diagonals) and evaluates it directly: one odometer over output labels, one over
 * contracted labels, accumulating in double. Simple and general, not fast: models that
 * need speed use MatMul/Gemm instead. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

#define MAX_IN   8
#define ELL      52 /* label ids: a-z 0..25, A-Z 26..51, ellipsis dims 52.. */
#define NLABELS  (ELL + ONNX_MAX_DIMS)
#define MAX_LOOP 16 /* output + contracted labels */

static int label_id(char c)
{
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
    return -1;
}

/* Parses one term (up to ',' or '-' or end) into ids; ellipsis becomes -2 once. */
static int parse_term(const char **pp, int *ids, int *n, int *has_ell)
{
    const char *p = *pp;
    *n = 0;
    *has_ell = 0;
    for (; *p && *p != ',' && *p != '-'; p++) {
        if (*p == ' ') continue;
        if (*p == '.') {
            if (strncmp(p, "...", 3) || *has_ell) return -1;
            *has_ell = 1;
            ids[(*n)++] = -2;
            p += 2;
        } else {
            int id = label_id(*p);
            if (id < 0) return -1;
            ids[(*n)++] = id;
        }
        if (*n > ONNX_MAX_DIMS + 1) return -1;
    }
    *pp = p;
    return 0;
}

/* Expands a term into per-axis label ids for a tensor of rank r (ell dims = r - letters). */
static int expand_term(const int *ids, int n, int has_ell, int r, int ell_rank, int *axes)
{
    int letters = n - has_ell, e = r - letters, k = 0;
    if (e < 0 || (!has_ell && e != 0) || e > ell_rank) return -1;
    for (int i = 0; i < n; i++) {
        if (ids[i] == -2) {
            for (int j = 0; j < e; j++) axes[k++] = ELL + ell_rank - e + j;
        } else {
            axes[k++] = ids[i];
        }
    }
    return 0;
}

int onnx_run_einsum(onnx_ctx *ctx)
{
    const char *eq = onnx_attr_string(onnx_ctx_node(ctx), "equation", NULL);
    int nin = onnx_ctx_num_inputs(ctx);
    if (!eq) return onnx_ctx_fail(ctx, "missing equation");
    if (nin < 1 || nin > MAX_IN) return onnx_ctx_fail(ctx, "%d inputs not supported", nin);
    const onnx_tensor *in[MAX_IN];
    int terms[MAX_IN][ONNX_MAX_DIMS + 2], tn[MAX_IN], tell[MAX_IN], ell_rank = 0;
    const char *p = eq;
    for (int i = 0; i < nin; i++) {
        in[i] = onnx_ctx_input(ctx, i);
        if (!in[i]) return onnx_ctx_fail(ctx, "input %d missing", i);
        if (in[i]->dtype != in[0]->dtype) return onnx_ctx_fail(ctx, "inputs differ in type");
        while (*p == ' ') p++;
        if (parse_term(&p, terms[i], &tn[i], &tell[i]) < 0)
            return onnx_ctx_fail(ctx, "bad equation '%s'", eq);
        if (i + 1 < nin && *p++ != ',') return onnx_ctx_fail(ctx, "equation has too few terms");
        int e = in[i]->ndim - (tn[i] - tell[i]);
        if (e > ell_rank) ell_rank = e;
    }
    int out_ids[ONNX_MAX_DIMS + 2], on = 0, oell = 0, explicit_out = 0;
    while (*p == ' ') p++;
    if (*p == '-') {
        if (p[1] != '>') return onnx_ctx_fail(ctx, "bad equation '%s'", eq);
        p += 2;
        while (*p == ' ') p++;
        if (parse_term(&p, out_ids, &on, &oell) < 0 || *p)
            return onnx_ctx_fail(ctx, "bad output term in '%s'", eq);
        explicit_out = 1;
    } else if (*p) {
        return onnx_ctx_fail(ctx, "equation has too many terms");
    }
    if (ell_rank > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "ellipsis too long");

    /* Per input: label of each axis, and label sizes (ellipsis dims broadcast). */
    int axes[MAX_IN][ONNX_MAX_DIMS];
    int64_t size[NLABELS];
    int count[NLABELS] = {0};
    for (int l = 0; l < NLABELS; l++) size[l] = -1;
    for (int i = 0; i < nin; i++) {
        if (expand_term(terms[i], tn[i], tell[i], in[i]->ndim, ell_rank, axes[i]) < 0)
            return onnx_ctx_fail(ctx, "term %d does not match input rank %d", i, in[i]->ndim);
        for (int k = 0; k < in[i]->ndim; k++) {
            int l = axes[i][k];
            int64_t d = in[i]->dims[k];
            count[l]++;
            if (size[l] < 0 || size[l] == 1) size[l] = d;
            else if (d != size[l] && !(l >= ELL && d == 1))
                return onnx_ctx_fail(ctx, "label size mismatch (%lld vs %lld)", (long long)d,
                                     (long long)size[l]);
        }
    }
    /* Output labels. */
    int olab[ONNX_MAX_DIMS], onl = 0;
    if (explicit_out) {
        for (int i = 0; i < on; i++) {
            if (out_ids[i] == -2) {
                for (int j = 0; j < ell_rank; j++) olab[onl++] = ELL + j;
            } else {
                if (size[out_ids[i]] < 0) return onnx_ctx_fail(ctx, "output label not in inputs");
                for (int j = 0; j < onl; j++)
                    if (olab[j] == out_ids[i]) return onnx_ctx_fail(ctx, "output label repeated");
                olab[onl++] = out_ids[i];
            }
            if (onl > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank too large");
        }
        if (!oell && ell_rank > 0) {
            for (int j = 0; j < ell_rank; j++)
                if (size[ELL + j] > 1)
                    return onnx_ctx_fail(ctx, "ellipsis dims missing from output");
        }
    } else {
        for (int j = 0; j < ell_rank; j++) olab[onl++] = ELL + j;
        /* labels seen once, in ASCII order as numpy does: 'A'-'Z' before 'a'-'z' */
        for (int q = 0; q < ELL; q++) {
            int l = q < 26 ? 26 + q : q - 26;
            if (count[l] == 1) {
                if (onl >= ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank too large");
                olab[onl++] = l;
            }
        }
    }
    /* Loop labels: outputs first, then every other used label (contracted). */
    int loop[MAX_LOOP], nl = 0, is_out[NLABELS] = {0};
    for (int j = 0; j < onl; j++) {
        loop[nl++] = olab[j];
        is_out[olab[j]] = 1;
    }
    for (int l = 0; l < NLABELS; l++)
        if (size[l] >= 0 && !is_out[l]) {
            if (nl >= MAX_LOOP) return onnx_ctx_fail(ctx, "too many labels");
            loop[nl++] = l;
        }
    int64_t dims[ONNX_MAX_DIMS], lsize[MAX_LOOP], st[MAX_IN][MAX_LOOP];
    for (int j = 0; j < onl; j++) dims[j] = size[olab[j]] < 0 ? 1 : size[olab[j]];
    for (int j = 0; j < nl; j++) lsize[j] = size[loop[j]] < 0 ? 1 : size[loop[j]];
    for (int i = 0; i < nin; i++) {
        int64_t xs[ONNX_MAX_DIMS];
        onnx_tensor_strides(in[i], xs);
        for (int j = 0; j < nl; j++) {
            st[i][j] = 0;
            for (int k = 0; k < in[i]->ndim; k++)
                if (axes[i][k] == loop[j] && in[i]->dims[k] != 1) st[i][j] += xs[k];
        }
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, in[0]->dtype, onl, dims);
    if (!y) return -1;
    int64_t nout = onnx_tensor_numel(y), inner = 1;
    if (nout == 0) return 0;
    for (int j = onl; j < nl; j++)
        if (onnx_tu_mul(inner, lsize[j], &inner) < 0) return onnx_ctx_fail(ctx, "too large");
    int64_t work;
    /* bounded so a hostile model fails instead of spinning for minutes */
    if (onnx_tu_mul(inner, nout, &work) < 0 || work > ((int64_t)1 << 32))
        return onnx_ctx_fail(ctx, "contraction too large for the direct evaluator");
    int f32 = in[0]->dtype == INFERD_DTYPE_FP32;
    int64_t c[MAX_LOOP] = {0}, off[MAX_IN] = {0};
    for (int64_t o = 0; o < nout; o++) {
        double acc = 0;
        for (int64_t t = 0; t < inner; t++) {
            double prod = 1;
            if (f32)
                for (int i = 0; i < nin; i++) prod *= ((const float *)in[i]->data)[off[i]];
            else
                for (int i = 0; i < nin; i++)
                    prod *= onnx_tu_load(in[i]->data, in[i]->dtype, off[i]);
            acc += prod;
            /* advance contracted labels */
            for (int j = nl - 1; j >= onl; j--) {
                for (int i = 0; i < nin; i++) off[i] += st[i][j];
                if (++c[j] < lsize[j]) break;
                for (int i = 0; i < nin; i++) off[i] -= st[i][j] * lsize[j];
                c[j] = 0;
            }
        }
        onnx_tu_store(y->data, y->dtype, o, acc);
        for (int j = onl - 1; j >= 0; j--) {
            for (int i = 0; i < nin; i++) off[i] += st[i][j];
            if (++c[j] < lsize[j]) break;
            for (int i = 0; i < nin; i++) off[i] -= st[i][j] * lsize[j];
            c[j] = 0;
        }
    }
    return 0;
}
