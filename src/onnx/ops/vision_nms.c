/* NonMaxSuppression (10, 11): per batch and class, greedy selection of boxes in descending
 * score order (ties: lower box index first), skipping boxes whose score is not above
 * score_threshold and boxes whose IoU with an already selected box of that class exceeds
 * iou_threshold, up to max_output_boxes_per_class. Boxes are corners [y1, x1, y2, x2] in either
 * diagonal order (center_point_box 0) or [x_center, y_center, width, height] (1). Output
 * rows are [batch, class, box], grouped by batch, then class, in selection order. */
#include <stdlib.h>
#include <string.h>

#include "tensor_util.h"
#include "vision_ops.h"

typedef struct nms_box {
    float y1, x1, y2, x2; /* y1 <= y2, x1 <= x2 */
} nms_box;

typedef struct nms_cand {
    float score;
    int64_t index;
} nms_cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const nms_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static nms_box read_box(const float *p, int center)
{
    nms_box b;
    if (center) {
        b.x1 = p[0] - p[2] / 2;
        b.x2 = p[0] + p[2] / 2;
        b.y1 = p[1] - p[3] / 2;
        b.y2 = p[1] + p[3] / 2;
    } else {
        b.y1 = p[0] < p[2] ? p[0] : p[2];
        b.y2 = p[0] < p[2] ? p[2] : p[0];
        b.x1 = p[1] < p[3] ? p[1] : p[3];
        b.x2 = p[1] < p[3] ? p[3] : p[1];
    }
    return b;
}

/* IoU of two boxes; 0 when either is empty (so it never suppresses). */
static float iou(const nms_box *a, const nms_box *b)
{
    float area_a = (a->y2 - a->y1) * (a->x2 - a->x1), area_b = (b->y2 - b->y1) * (b->x2 - b->x1);
    if (!(area_a > 0) || !(area_b > 0)) return 0;
    float ih = (a->y2 < b->y2 ? a->y2 : b->y2) - (a->y1 > b->y1 ? a->y1 : b->y1);
    float iw = (a->x2 < b->x2 ? a->x2 : b->x2) - (a->x1 > b->x1 ? a->x1 : b->x1);
    if (ih <= 0 || iw <= 0) return 0;
    float inter = ih * iw;
    return inter / (area_a + area_b - inter);
}

/* One optional scalar input as double; def when absent. */
static int scalar_input(onnx_ctx *ctx, int i, double def, double *out)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, i);
    *out = def;
    if (!t) return 0;
    if (onnx_tensor_numel(t) != 1) return onnx_ctx_fail(ctx, "input %d must hold one value", i);
    *out = onnx_tu_load(t->data, t->dtype, 0);
    return 0;
}

int vision_run_nms(onnx_ctx *ctx)
{
    const onnx_tensor *boxes = onnx_ctx_input(ctx, 0), *scores = onnx_ctx_input(ctx, 1);
    if (!boxes || !scores) return onnx_ctx_fail(ctx, "needs inputs boxes and scores");
    if (boxes->dtype != INFERD_DTYPE_FP32 || scores->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 boxes and scores are supported");
    if (boxes->ndim != 3 || boxes->dims[2] != 4 || scores->ndim != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return onnx_ctx_fail(ctx, "boxes must be [batches, n, 4] and scores [batches, classes, n]");
    const int64_t center = onnx_attr_int(onnx_ctx_node(ctx), "center_point_box", 0);
    if (center != 0 && center != 1) return onnx_ctx_fail(ctx, "center_point_box must be 0 or 1");
    const onnx_tensor *mt = onnx_ctx_input(ctx, 2);
    if (mt && (mt->dtype != INFERD_DTYPE_INT64 || onnx_tensor_numel(mt) != 1))
        return onnx_ctx_fail(ctx, "max_output_boxes_per_class must be one int64");
    int64_t max_out = mt ? ((const int64_t *)mt->data)[0] : 0;
    double iou_thr, score_thr;
    if (scalar_input(ctx, 3, 0.0, &iou_thr) < 0 || scalar_input(ctx, 4, 0.0, &score_thr) < 0)
        return -1;
    const int has_score_thr = onnx_ctx_input(ctx, 4) != NULL;
    if (iou_thr < 0 || iou_thr > 1) return onnx_ctx_fail(ctx, "iou_threshold must be in [0, 1]");
    if (max_out < 0) max_out = 0;

    const int64_t nb = boxes->dims[0], nc = scores->dims[1], n = boxes->dims[1];
    if (max_out > n) max_out = n;
    size_t rows_cap;
    if (__builtin_mul_overflow((size_t)nb * (size_t)nc, (size_t)max_out, &rows_cap) ||
        rows_cap > ((size_t)1 << 40))
        return onnx_ctx_fail(ctx, "too many boxes");
    nms_cand *cand = onnx_ctx_scratch(ctx, ((size_t)n + 1) * sizeof *cand);
    nms_box *sel = onnx_ctx_scratch(ctx, ((size_t)max_out + 1) * sizeof *sel);
    int64_t *rows = onnx_ctx_scratch(ctx, (rows_cap + 1) * 3 * sizeof *rows);
    if (!cand || !sel || !rows) return -1;
    const float *bd = boxes->data, *sd = scores->data;
    int64_t n_rows = 0;
    for (int64_t b = 0; b < nb && max_out > 0; b++) {
        for (int64_t c = 0; c < nc; c++) {
            const float *sc = sd + (b * nc + c) * n;
            int64_t nk = 0;
            for (int64_t i = 0; i < n; i++)
                if (!has_score_thr || sc[i] > score_thr) cand[nk++] = (nms_cand){sc[i], i};
            qsort(cand, (size_t)nk, sizeof *cand, cand_cmp);
            int64_t ns = 0;
            for (int64_t k = 0; k < nk && ns < max_out; k++) {
                nms_box bx = read_box(bd + (b * n + cand[k].index) * 4, (int)center);
                int keep = 1;
                for (int64_t j = 0; j < ns && keep; j++)
                    if (iou(&bx, &sel[j]) > iou_thr) keep = 0;
                if (!keep) continue;
                sel[ns++] = bx;
                rows[n_rows * 3] = b;
                rows[n_rows * 3 + 1] = c;
                rows[n_rows * 3 + 2] = cand[k].index;
                n_rows++;
            }
        }
    }
    int64_t dims[2] = {n_rows, 3};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 2, dims);
    if (!y) return -1;
    if (n_rows > 0) memcpy(y->data, rows, (size_t)n_rows * 3 * sizeof *rows);
    return 0;
}
