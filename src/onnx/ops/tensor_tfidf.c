/* TfIdfVectorizer (9) over int32/int64 tokens (string pools are not supported): counts, per
 * row of X ([C] or [N, C]), the n-grams of pool_int64s it contains and scatters them to
 * ngram_indexes. An n-gram is n tokens taken skip_distance apart for every skip_distance in
 * 1..max_skip_count + 1, with n in min_gram_length..max_gram_length; unigrams are counted once
 * per position, not once per skip distance. mode TF outputs the counts, IDF the weight of each
 * n-gram present, TFIDF count * weight (weights default to 1). This follows onnxruntime's
 * reading of the spec, which the ONNX test data was made with.
 *
 * The pool holds the 1-grams, then the 2-grams, ...: ngram_counts[n - 1] is where the n-grams
 * start. Each length's n-grams are sorted once per run for binary search. */
#include <stdlib.h>
#include <string.h>

#include "tensor_ops.h"
#include "tensor_util.h"

typedef struct tfidf_len {
    const int64_t *grams;    /* count * n tokens */
    int64_t n, count, first; /* gram length, number, index of the first in pool order */
    int64_t *sorted;         /* local gram indices in lexicographic order */
} tfidf_len;

static int gram_cmp(const int64_t *a, const int64_t *b, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
    const tfidf_len *l = arg;
    return gram_cmp(l->grams + *(const int64_t *)pa * l->n, l->grams + *(const int64_t *)pb * l->n,
                    l->n);
}

/* Pool-order index of the gram equal to key (n tokens), or -1. */
static int64_t find_gram(const tfidf_len *l, const int64_t *key)
{
    int64_t lo = 0, hi = l->count - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = gram_cmp(key, l->grams + l->sorted[mid] * l->n, l->n);
        if (c == 0) return l->first + l->sorted[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

int onnx_run_tfidf(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (x->dtype != INFERD_DTYPE_INT32 && x->dtype != INFERD_DTYPE_INT64)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (x->ndim != 1 && x->ndim != 2) return onnx_ctx_fail(ctx, "input must be [C] or [N, C]");
    const int64_t *pool, *counts, *indexes;
    const float *weights;
    int n_pool = onnx_attr_ints(node, "pool_int64s", &pool);
    int n_counts = onnx_attr_ints(node, "ngram_counts", &counts);
    int n_idx = onnx_attr_ints(node, "ngram_indexes", &indexes);
    int n_w = onnx_attr_floats(node, "weights", &weights);
    if (n_pool < 0) return onnx_ctx_unsupported(ctx, "only pool_int64s is supported");
    const int64_t min_n = onnx_attr_int(node, "min_gram_length", 0);
    const int64_t max_n = onnx_attr_int(node, "max_gram_length", 0);
    const int64_t max_skip = onnx_attr_int(node, "max_skip_count", 0);
    const char *mode_s = onnx_attr_string(node, "mode", "");
    int mode = strcmp(mode_s, "TF") == 0      ? 0
               : strcmp(mode_s, "IDF") == 0   ? 1
               : strcmp(mode_s, "TFIDF") == 0 ? 2
                                              : -1;
    if (mode < 0) return onnx_ctx_fail(ctx, "mode must be TF, IDF or TFIDF");
    if (min_n < 1 || max_n < min_n || max_n > n_counts || max_skip < 0 || max_skip > (1 << 20))
        return onnx_ctx_fail(ctx, "bad gram lengths or max_skip_count");
    /* the pool's lengths and their pool-order positions */
    tfidf_len *lens = onnx_ctx_scratch(ctx, (size_t)(n_counts + 1) * sizeof *lens);
    if (!lens) return -1;
    int64_t total = 0;
    for (int i = 0; i < n_counts; i++) {
        int64_t start = counts[i], end = i + 1 < n_counts ? counts[i + 1] : n_pool, n = i + 1;
        if (start < 0 || end < start || end > n_pool || (end - start) % n != 0)
            return onnx_ctx_fail(ctx, "ngram_counts does not split pool_int64s into %lld-grams",
                                 (long long)n);
        tfidf_len *l = &lens[i];
        l->n = n;
        l->grams = pool + start;
        l->count = (end - start) / n;
        l->first = total;
        total += l->count;
        if (!(l->sorted = onnx_ctx_scratch(ctx, (size_t)(l->count + 1) * sizeof *l->sorted)))
            return -1;
        for (int64_t k = 0; k < l->count; k++) l->sorted[k] = k;
        qsort_r(l->sorted, (size_t)l->count, sizeof *l->sorted, sort_cmp, l);
    }
    if (n_idx != total)
        return onnx_ctx_fail(ctx, "ngram_indexes must have one entry per pool n-gram");
    if (n_w >= 0 && n_w != total)
        return onnx_ctx_fail(ctx, "weights must have one entry per pool n-gram");
    int64_t width = 0;
    for (int64_t k = 0; k < total; k++) {
        if (indexes[k] < 0 || indexes[k] > (1 << 24))
            return onnx_ctx_fail(ctx, "bad ngram_indexes value");
        if (indexes[k] + 1 > width) width = indexes[k] + 1;
    }
    const int64_t rows = x->ndim == 2 ? x->dims[0] : 1, c = x->dims[x->ndim - 1];
    int64_t dims[2] = {rows, width};
    onnx_tensor *y = x->ndim == 2 ? onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 2, dims)
                                  : onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 1, &width);
    if (!y) return -1;
    float *yd = y->data;
    if (rows * width > 0) memset(yd, 0, (size_t)(rows * width) * sizeof(float));
    int64_t *key = onnx_ctx_scratch(ctx, (size_t)(max_n + 1) * sizeof *key);
    int64_t *cnt = onnx_ctx_scratch(ctx, (size_t)(total + 1) * sizeof *cnt);
    if (!key || !cnt) return -1;
    for (int64_t r = 0; r < rows; r++) {
        memset(cnt, 0, (size_t)(total + 1) * sizeof *cnt);
        for (int64_t d = 1; d <= max_skip + 1; d++) {
            const int64_t lo_n = d == 1 ? min_n : (min_n > 2 ? min_n : 2);
            for (int64_t s = 0; s < c; s++)
                for (int64_t n = lo_n; n <= max_n; n++) {
                    if (s + (n - 1) * d >= c) break;
                    for (int64_t k = 0; k < n; k++)
                        key[k] = onnx_tensor_get_int(x, r * c + s + k * d);
                    int64_t g = find_gram(&lens[n - 1], key);
                    if (g >= 0) cnt[g]++;
                }
        }
        for (int64_t g = 0; g < total; g++) {
            if (cnt[g] == 0) continue;
            const float wt = n_w >= 0 ? weights[g] : 1.0f;
            float v = mode == 0 ? (float)cnt[g] : mode == 1 ? wt : (float)cnt[g] * wt;
            yd[r * width + indexes[g]] = v;
        }
    }
    return 0;
}
