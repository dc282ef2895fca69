/* 3-D convolution as 2-D slices (see conv_depth.h): per image and group, Y is prefilled with
 * the bias and residual, then for each input depth slice its 2-D im2col (phase planes) is
 * made once and one GEMM per depth tap reading it accumulates onto that tap's output slice;
 * taps that would read only depth padding are skipped; the activation runs last. The gathers,
 * prefill and activation split over output or input channels on the session's pool. */
#include "conv_depth.h"

#include <limits.h>
#include <string.h>

#include "conv_phase.h"
#include "nn_gemm.h"
#include "nn_kernels.h"

void nn_conv_depth_weights(const float *w, int64_t mg, int64_t cg, int64_t kd_n, int64_t khw,
                           int64_t kd, float *dst)
{
    for (int64_t r = 0; r < mg * cg; r++)
        memcpy(dst + r * khw, w + (r * kd_n + kd) * khw, (size_t)khw * sizeof(float));
}

/* The 2-D window of one depth slice: g without its depth dim. */
static nn_geom depth_slice_geom(const nn_geom *g)
{
    nn_geom s = *g;
    s.nsp = 2;
    s.in[0] = s.out[0] = s.k[0] = s.s[0] = s.d[0] = 1;
    s.pb[0] = s.pe[0] = 0;
    return s;
}

/* Scratch for nn_conv_depth: the slice's im2col, its phase planes (zeroed once) and, without
 * packed weights, one group's weights per depth tap. */
typedef struct depth_scratch {
    float *col, *ph, *wk;
} depth_scratch;

static int depth_scratch_get(onnx_ctx *ctx, const nn_phase_plan *pp, int64_t kdim2,
                             int64_t plane_out, int64_t cg, size_t w_group, int packed,
                             depth_scratch *s)
{
    size_t col_n, ph_n;
    if (nn_mul_size((size_t)kdim2, (size_t)plane_out, &col_n) != 0 ||
        nn_mul_size((size_t)cg, pp->total, &ph_n) != 0)
        return onnx_ctx_fail(ctx, "im2col buffer size overflows");
    if (!(s->col = nn_scratch_floats(ctx, col_n)) || !(s->ph = nn_scratch_floats(ctx, ph_n)))
        return -1;
    memset(s->ph, 0, ph_n * sizeof(float));
    s->wk = NULL;
    if (!packed && !(s->wk = nn_scratch_floats(ctx, w_group))) return -1;
    return 0;
}

/* One group's output channels [r0, r1) (rows of out_size floats at yg): prefilled with the
 * bias and the residual, or the activation applied; split over the session's pool. */
typedef struct depth_rows_job {
    const nn_conv_depth_args *a;
    float *yg;
    int64_t at0, b0, out_size;
} depth_rows_job;

static void depth_prefill_rows(void *arg, int64_t r0, int64_t r1)
{
    const depth_rows_job *j = arg;
    const int64_t os = j->out_size;
    for (int64_t mo = r0; mo < r1; mo++) {
        const float bv = j->a->bias ? j->a->bias[j->b0 + mo] : 0.0f;
        if (j->a->res) nn_k_shift(j->yg + mo * os, j->a->res + j->at0 + mo * os, bv, os);
        else nn_k_fill(j->yg + mo * os, bv, os);
    }
}

static void depth_act_rows(void *arg, int64_t r0, int64_t r1)
{
    const depth_rows_job *j = arg;
    nn_activation_run(j->a->act, j->yg + r0 * j->out_size, (r1 - r0) * j->out_size);
}

int nn_conv_depth(onnx_ctx *ctx, const nn_conv_depth_args *a)
{
    const nn_geom *g = a->g;
    if (g->nsp != 3) return 1;
    const nn_geom g2 = depth_slice_geom(g);
    nn_phase_plan pp;
    int rc = nn_phase_plan_make(&g2, &pp);
    if (rc != 0) return rc < 0 ? onnx_ctx_fail(ctx, "phase planes overflow") : 1;
    const int64_t cg = a->c / a->group, mg = a->m / a->group, kd_n = g->k[0];
    const int64_t khw = g->k[1] * g->k[2], kdim2 = cg * khw;
    const int64_t plane_in = g->in[1] * g->in[2], plane_out = g->out[1] * g->out[2];
    const int64_t in_size = nn_geom_in_size(g), out_size = nn_geom_out_size(g);
    if (mg > INT_MAX || plane_out > INT_MAX || kdim2 > INT_MAX || out_size > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    depth_scratch s = {0};
    if (depth_scratch_get(ctx, &pp, kdim2, plane_out, cg, (size_t)(mg * kdim2 * kd_n),
                          a->wp != NULL, &s) != 0)
        return -1;
    for (int64_t i = 0; i < a->n; i++) {
        for (int64_t gi = 0; gi < a->group; gi++) {
            const int64_t at0 = (i * a->m + gi * mg) * out_size; /* the group's first output */
            const float *xg = a->x + (i * a->c + gi * cg) * in_size;
            float *yg = a->y + at0;
            depth_rows_job rj = {.a = a, .yg = yg, .at0 = at0, .b0 = gi * mg, .out_size = out_size};
            nn_parallel_rows(ctx, mg, mg * out_size, depth_prefill_rows, &rj);
            if (s.wk)
                for (int64_t kd = 0; kd < kd_n; kd++)
                    nn_conv_depth_weights(a->w + gi * mg * cg * kd_n * khw, mg, cg, kd_n, khw, kd,
                                          s.wk + kd * mg * kdim2);
            for (int64_t id = 0; id < g->in[0]; id++) {
                int built = 0;
                for (int64_t kd = 0; kd < kd_n; kd++) {
                    /* output depth od reads input depth od * s - pb + kd * d */
                    const int64_t t = id + g->pb[0] - kd * g->d[0];
                    if (t < 0 || t % g->s[0] != 0 || t / g->s[0] >= g->out[0]) continue;
                    if (!built) {
                        const nn_phase_unfold_args ua = {.x = xg + id * plane_in,
                                                         .x_plane = in_size,
                                                         .ph = s.ph,
                                                         .ph_stride = pp.total,
                                                         .c_n = cg,
                                                         .r0 = 0,
                                                         .nr = pp.oh,
                                                         .col = s.col,
                                                         .ld = plane_out};
                        nn_phase_unfold(ctx, &pp, &ua);
                        built = 1;
                    }
                    onnx_gemm_args ga = {.m = mg,
                                         .n = plane_out,
                                         .k = kdim2,
                                         .b = s.col,
                                         .ldb = plane_out,
                                         .alpha = 1.0f,
                                         .c = yg + (t / g->s[0]) * plane_out,
                                         .ldc = out_size,
                                         .accumulate = 1};
                    if (a->wp) ga.pa = a->wp[gi * kd_n + kd];
                    else {
                        ga.a = s.wk + kd * mg * kdim2;
                        ga.lda = kdim2;
                    }
                    if (nn_gemm_f32(ctx, &ga) != 0) return -1;
                }
            }
            if (a->act->kind != ONNX_ACT_NONE)
                nn_parallel_rows(ctx, mg, mg * out_size, depth_act_rows, &rj);
        }
    }
    return 0;
}
