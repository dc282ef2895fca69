/* The direct stem convolution (see conv_stem.h): what it takes, and the split of its output
 * rows over the thread pool. The kernel is in conv_stem_avx512.c. */
#include "conv_stem.h"

#include "../gemm/gemm.h"
#include "../threadpool.h"
#include "conv_phase.h" /* NN_DW_STORE_* */
#include "nn_kernels.h" /* NN_NO_CLONES: TSan builds keep the GEMM path */

#if defined(__x86_64__) && !defined(NN_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#define NN_HAVE_STEM 1
#endif

int nn_conv_stem_fits(const nn_geom *g, int64_t group, int64_t c, const onnx_activation *act)
{
#ifdef NN_HAVE_STEM
    if (!onnx_gemm_act_avx512_ok()) return 0;
    if (group != 1 || c < 1 || c > NN_STEM_MAX_C) return 0;
    if (g->nsp != 2 || g->k[0] != 1 || g->k[1] != 3 || g->k[2] != 3) return 0;
    if (g->s[1] != 2 || g->s[2] != 2 || g->d[1] != 1 || g->d[2] != 1) return 0;
    if (g->pb[1] < 0 || g->pb[2] < 0 || g->pb[1] > 2 || g->pb[2] > 2) return 0;
    if (g->in[1] < 1 || g->in[2] < 1 || g->out[1] < 1 || g->out[2] < 1) return 0;
    switch (act->kind) {
    case ONNX_ACT_NONE:
    case ONNX_ACT_RELU:
    case ONNX_ACT_CLIP:
    case ONNX_ACT_SILU:
    case ONNX_ACT_HARD_SWISH: return 1;
    default: return 0;
    }
#else
    (void)g;
    (void)group;
    (void)c;
    (void)act;
    return 0;
#endif
}

typedef struct stem_job {
    const nn_stem_args *a;
    const float *x, *res;
    float *y;
    float *col;
    size_t col_n;
    int64_t rows, tasks; /* rows: n * oh */
} stem_job;

static void stem_task(void *arg, int64_t t)
{
    const stem_job *s = arg;
    const nn_stem_args *a = s->a;
    int64_t lo, hi;
    onnx_tpool_range(s->rows, s->tasks, t, &lo, &hi);
    const int64_t in_img = a->c * a->in_h * a->in_w, out_img = a->m * a->oh * a->ow;
    while (lo < hi) { /* the rows of one image at a time */
        const int64_t i = lo / a->oh, r0 = lo % a->oh;
        const int64_t r1 = hi - i * a->oh < a->oh ? hi - i * a->oh : a->oh;
        nn_stem_rows(a, s->x + i * in_img, s->y + i * out_img, s->res ? s->res + i * out_img : NULL,
                     r0, r1, s->col + (size_t)t * s->col_n);
        lo = i * a->oh + r1;
    }
}

int nn_conv_stem(onnx_ctx *ctx, const float *x, const float *w, const float *bias, const float *res,
                 float *y, int64_t n, int64_t c, int64_t m, const nn_geom *g,
                 const onnx_activation *act)
{
    nn_stem_args a = {.c = c,
                      .m = m,
                      .in_h = g->in[1],
                      .in_w = g->in[2],
                      .oh = g->out[1],
                      .ow = g->out[2],
                      .pt = g->pb[1],
                      .pl = g->pb[2],
                      .w = w,
                      .bias = bias};
    switch (act->kind) {
    case ONNX_ACT_RELU: a.mode = 1; break;
    case ONNX_ACT_CLIP:
        a.mode = 2;
        a.lo = act->alpha;
        a.hi = act->beta;
        break;
    case ONNX_ACT_SILU: a.mode = NN_DW_STORE_SILU; break;
    case ONNX_ACT_HARD_SWISH: a.mode = NN_DW_STORE_HARD_SWISH; break;
    default: a.mode = 0; break;
    }
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    const int64_t rows = n * a.oh;
    const double macs = (double)rows * (double)a.ow * (double)m * (double)(c * 9);
    const int tasks = onnx_tpool_tasks(pool, rows, macs > 1e15 ? INT64_MAX : (int64_t)macs);
    /* each task's im2col rows, 64 bytes apart */
    const size_t col_n = ((size_t)(c * 9) * (size_t)((a.ow + 15) / 16 * 16) + 15) / 16 * 16;
    size_t all_n;
    if (nn_mul_size(col_n, (size_t)tasks, &all_n) != 0)
        return onnx_ctx_fail(ctx, "stem scratch overflows");
    float *col = nn_scratch_floats(ctx, all_n);
    if (!col) return -1;
    stem_job s = {.a = &a,
                  .x = x,
                  .res = res,
                  .y = y,
                  .col = col,
                  .col_n = col_n,
                  .rows = rows,
                  .tasks = tasks};
    onnx_tpool_parallel_for(pool, tasks, stem_task, &s);
    return 0;
}
