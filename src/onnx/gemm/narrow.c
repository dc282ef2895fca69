/* The narrow GEMM (narrow.h): which calls take it, the epilogue it fuses, and the split of its
 * row panels over the pool; the kernel is narrow_avx512.c. */
#include "narrow.h"

#include <math.h>

#include "pack.h"

/* Below this many multiply-adds the panels run on one thread (as the driver's). */
#define NARROW_MIN_PARALLEL 131072
/* Tasks per thread: a late or preempted thread leaves its panels to the others. */
#define NARROW_TASKS_PER_THREAD 4

int onnx_gemm_narrow_fits(const onnx_gemm_args *g)
{
    if (!g->pa || g->pb || !g->b || g->trans_b || g->alpha != 1.0f || g->n <= 0 || g->k <= 0)
        return 0;
    if (g->pa->kernel != ONNX_GEMM_AVX512 || g->pa->r != 8 || !onnx_gemm_act_avx512_ok()) return 0;
    return g->n <= ONNX_GEMM_NARROW_MAX_N;
}

typedef struct narrow_job {
    const onnx_gemm_args *g;
    onnx_gemm_epi epi;
    int other_act; /* an activation the kernel does not fuse: per row after it */
    int64_t panels, per_task;
} narrow_job;

static void narrow_task(void *arg, int64_t t)
{
    const narrow_job *jb = arg;
    const int64_t p0 = t * jb->per_task;
    const int64_t p1 = p0 + jb->per_task < jb->panels ? p0 + jb->per_task : jb->panels;
    if (p0 >= p1) return;
    onnx_gemm_narrow_avx512(jb->g, &jb->epi, p0, p1);
    if (!jb->other_act) return;
    const int64_t r1 = p1 * 8 < jb->g->m ? p1 * 8 : jb->g->m;
    for (int64_t r = p0 * 8; r < r1; r++)
        onnx_activation_apply(&jb->g->act, jb->g->c + r * jb->g->ldc, (size_t)jb->g->n);
}

void onnx_gemm_narrow_run(const onnx_gemm_args *g, onnx_tpool *pool)
{
    narrow_job jb = {.g = g, .epi = {.lo = -INFINITY, .hi = INFINITY}};
    const onnx_activation_kind ak = g->act.kind;
    if (ak == ONNX_ACT_RELU) jb.epi.lo = 0.0f;
    if (ak == ONNX_ACT_CLIP) jb.epi.lo = g->act.alpha, jb.epi.hi = g->act.beta;
    jb.epi.act = ak == ONNX_ACT_SILU           ? ONNX_GEMM_EPI_SILU
                 : ak == ONNX_ACT_SIGMOID      ? ONNX_GEMM_EPI_SIGMOID
                 : ak == ONNX_ACT_HARD_SWISH   ? ONNX_GEMM_EPI_HARD_SWISH
                 : ak == ONNX_ACT_HARD_SIGMOID ? ONNX_GEMM_EPI_HARD_SIGMOID
                                               : ONNX_GEMM_EPI_NONE;
    jb.epi.alpha = g->act.alpha, jb.epi.beta = g->act.beta;
    jb.other_act = ak != ONNX_ACT_NONE && ak != ONNX_ACT_RELU && ak != ONNX_ACT_CLIP &&
                   jb.epi.act == ONNX_GEMM_EPI_NONE;
    jb.panels = (g->m + 7) / 8;
    int64_t tasks = onnx_tpool_threads(pool);
    if ((double)g->m * (double)g->n * (double)g->k < NARROW_MIN_PARALLEL) tasks = 1;
    if (tasks > 1) tasks *= NARROW_TASKS_PER_THREAD;
    if (tasks > jb.panels) tasks = jb.panels;
    jb.per_task = (jb.panels + tasks - 1) / tasks;
    onnx_tpool_parallel_for(pool, (jb.panels + jb.per_task - 1) / jb.per_task, narrow_task, &jb);
}
