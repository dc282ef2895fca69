/* StringNormalizer: drops stop words (compared byte for byte, or ASCII-case-insensitively
 * unless is_case_sensitive) from a [C] or [1, C] string tensor and changes the case of the
 * rest (LOWER / UPPER / NONE). Case changes and case-insensitive matching are ASCII only:
 * other UTF-8 bytes pass unchanged (the `locale` attribute is ignored). When every word is
 * dropped the output holds one empty string ([1] or [1, 1]), as the operator defines. */
#include <ctype.h>
#include <string.h>

#include "inferd/unaligned.h"
#include "tensor_ops.h"

static int word_equal(const char *a, size_t alen, const char *b, int case_sensitive)
{
    if (strlen(b) != alen) return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (!case_sensitive && x < 128 && y < 128)
            x = (unsigned char)tolower(x), y = (unsigned char)tolower(y);
        if (x != y) return 0;
    }
    return 1;
}

static int is_stopword(const onnx_attr *stop, const char *w, size_t len, int case_sensitive)
{
    for (size_t k = 0; stop && k < stop->n; k++)
        if (word_equal(w, len, stop->strings[k], case_sensitive)) return 1;
    return 0;
}

int onnx_run_string_normalizer(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x || x->dtype != INFERD_DTYPE_BYTES) return onnx_ctx_fail(ctx, "input must be strings");
    if (x->ndim != 1 && !(x->ndim == 2 && x->dims[0] == 1))
        return onnx_ctx_fail(ctx, "input must be [C] or [1, C]");
    const char *action = onnx_attr_string(node, "case_change_action", "NONE");
    const int upper = strcmp(action, "UPPER") == 0, lower = strcmp(action, "LOWER") == 0;
    if (!upper && !lower && strcmp(action, "NONE") != 0)
        return onnx_ctx_fail(ctx, "unknown case_change_action '%s'", action);
    const int case_sensitive = onnx_attr_int(node, "is_case_sensitive", 0) != 0;
    const onnx_attr *stop = onnx_node_attr(node, "stopwords");
    if (stop && stop->type != ONNX_ATTR_STRINGS) stop = NULL;

    const int64_t n = onnx_tensor_numel(x);
    size_t total = 0;
    int64_t kept = 0;
    const char *p = x->data;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t len = inferd_load_u32(p, 0);
        if (!is_stopword(stop, p + 4, len, case_sensitive)) {
            total += 4 + len;
            kept++;
        }
        p += 4 + len;
    }
    if (kept == 0) total = 4; /* one empty string */
    int64_t dims[2] = {1, kept ? kept : 1};
    onnx_tensor *y = x->ndim == 1 ? onnx_ctx_output_strings(ctx, 0, 1, dims + 1, total)
                                  : onnx_ctx_output_strings(ctx, 0, 2, dims, total);
    if (!y) return -1;
    char *q = y->data;
    if (kept == 0) {
        inferd_store_u32(q, 0, 0);
        return 0;
    }
    p = x->data;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t len = inferd_load_u32(p, 0);
        if (!is_stopword(stop, p + 4, len, case_sensitive)) {
            inferd_store_u32(q, 0, len);
            for (uint32_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)p[4 + k];
                if (c < 128) c = (unsigned char)(upper ? toupper(c) : lower ? tolower(c) : c);
                q[4 + k] = (char)c;
            }
            q += 4 + len;
        }
        p += 4 + len;
    }
    return 0;
}
