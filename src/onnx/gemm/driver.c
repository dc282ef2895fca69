/* The GEMM's loops (gemm.h): cache blocks, per-call packing, edge tiles, the epilogue, and the
 * split over the thread pool. */
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gemv.h"
#include "kernels.h"
#include "narrow.h"
#include "pack.h"

/* A block of MC rows of A (MC x KC) stays in L2 while NC columns of B stream past; a B
 * micro-panel (KC x NR) stays in L1 across the MC rows. */
#define GEMM_MC_PANELS 8
#define GEMM_NC        512
/* Up to this many rows of A (two MC blocks), B is not packed per call when the kernel can read
 * it in place (kernel_desc.ub_fn, B not transposed): each B panel would serve too few A panels
 * to repay its packing pass (DenseNet's 32-channel Winograd GEMMs 90 -> 175-200 GFLOP/s, its
 * 128-row 1x1 ones 115-128 -> 134-185, SqueezeNet's squeezes; bench/gemm/gemm_bench). */
#define GEMM_DIRECT_B_MAX_M 128
/* A packed B (a constant: from DRAM when a model runs its layers one after another) against
 * at most this many rows of A is read once (MC = all rows), each panel serving every row tile
 * from L1 while the tiles prefetch the next panel into L2 (gemm_next_b_panel); A's rows (at
 * most 256 x KC floats, 256 KiB) stay in L2. With MC = 64 rows the 128-row encoder re-read its
 * B panels per row block. NC stays 512 columns: the C block stays in L2 over the K blocks
 * (all of N at once, ViT's 50 x 3072 x 768 ran 10-15 % slower). */
#define GEMM_ONE_PASS_MAX_M 256
/* Below this many multiply-adds a GEMM runs on one thread. */
#define GEMM_MIN_PARALLEL_FLOPS (1 << 17)
/* A parallel GEMM is cut into up to this many tasks per thread, each of at least
 * GEMM_MIN_TASK_FLOPS multiply-adds: the pool hands them out one by one, so a thread that starts
 * late (woken, or preempted by another process) leaves its share to the others instead of
 * holding every thread until it finishes its half. Where the operand along the split is packed
 * per task (A for column ranges, B for row ranges) a task keeps at least GEMM_MIN_TASK_SPAN
 * columns / rows so the repacking stays small. */
#define GEMM_TASKS_PER_THREAD 4
#define GEMM_MIN_TASK_FLOPS   (1 << 18)
#define GEMM_MIN_TASK_SPAN    128

typedef struct gemm_job {
    const onnx_gemm_args *g;
    const onnx_gemm_kernel_desc *kd;
    int64_t mc, nc;
    int split_n;       /* tasks take column ranges (else row ranges) */
    int64_t per_task;  /* columns or rows per task, a multiple of NR or MR */
    onnx_gemm_epi epi; /* the kernels' fused store (full tiles), at C(0, 0) */
    int fused;         /* epi applies: a bias, Relu or Clip */
    int other_act;     /* an activation the kernels do not fuse: applied per tile after */
    int direct_b;      /* full B panels read in place (kd->ub_fn), only a last partial one packed */
    int direct_a;      /* full A panels read in place (kd->ua_fn), only a last partial one packed */
    int pf;            /* full tiles prefetch the packed B's next panel (kd->pf_fn) */
    _Atomic int failed; /* a task could not allocate its buffers */
} gemm_job;

/* bias and activation on a finished edge tile (rows x cols at C(i0, j0)), or on C when k = 0:
 * bias, Relu and Clip by the kernel's epilogue, other activations after it (tile in L1; SiLU and
 * Sigmoid with the arithmetic the AVX-512 kernel's store uses, see nn_k_silu) */
static void gemm_epilogue(const onnx_gemm_args *g, const onnx_gemm_kernel_desc *kd, int64_t i0,
                          int64_t j0, int64_t rows, int64_t cols)
{
    const onnx_activation_kind ak = g->act.kind;
    float lo = -INFINITY, hi = INFINITY;
    if (ak == ONNX_ACT_RELU) lo = 0.0f;
    if (ak == ONNX_ACT_CLIP) lo = g->act.alpha, hi = g->act.beta;
    float *c = g->c + i0 * g->ldc + j0;
    if (g->res) /* the residual before the biases, as the kernel's store adds it */
        for (int64_t r = 0; r < rows; r++) {
            const float *rr = g->res + (i0 + r) * g->ldres + j0;
            for (int64_t j = 0; j < cols; j++) c[r * g->ldc + j] += rr[j];
        }
    if (g->row_bias || g->col_bias || ak == ONNX_ACT_RELU || ak == ONNX_ACT_CLIP)
        kd->epilogue(c, g->ldc, rows, cols, g->row_bias ? g->row_bias + i0 : NULL,
                     g->col_bias ? g->col_bias + j0 : NULL, lo, hi);
    if (ak != ONNX_ACT_NONE && ak != ONNX_ACT_RELU && ak != ONNX_ACT_CLIP)
        for (int64_t r = 0; r < rows; r++)
            onnx_activation_apply(&g->act, c + r * g->ldc, (size_t)cols);
}

/* An edge tile (rows < MR or cols < NR) into tmp by the kernel, then added or copied into C
 * at ct; the last rows of A by the few-rows kernel (unless a half-width one costs less), a last
 * panel of at most NR/2 columns by the half-width kernel, when the kernel has them. Kept
 * out of gemm_range's loop. A's panel in place at ad (rows lda apart) or packed at ap; B's in
 * place at bd (rows ldb_t apart) or packed at bpan. */
static __attribute__((noinline)) void gemm_edge_tile(const gemm_job *jb, int64_t kc,
                                                     const float *ad, const float *ap,
                                                     const float *bd, const float *bpan,
                                                     int64_t ldb_t, float *ct, int64_t rows,
                                                     int64_t cols, int acc, float *tmp)
{
    const onnx_gemm_args *g = jb->g;
    const int mr = jb->kd->mr, nr = jb->kd->nr;
    if (jb->kd->rows_fn && rows < mr && (cols > nr / 2 || 2 * rows < mr))
        jb->kd->rows_fn(kc, ad ? ad : ap, ad ? g->lda : 1, ad ? 1 : mr, bd ? bd : bpan, ldb_t, tmp,
                        nr, g->alpha, (int)rows);
    else if (jb->kd->half_fn && cols <= nr / 2)
        jb->kd->half_fn(kc, ad ? ad : ap, ad ? g->lda : 1, ad ? 1 : mr, bd ? bd : bpan, ldb_t, tmp,
                        nr, g->alpha);
    else if (ad) jb->kd->ua_fn(kc, ad, g->lda, bd ? bd : bpan, ldb_t, tmp, nr, g->alpha, 0, NULL);
    else if (bd) jb->kd->ub_fn(kc, ap, bd, g->ldb, tmp, nr, g->alpha, 0, NULL);
    else jb->kd->fn(kc, ap, bpan, tmp, nr, g->alpha, 0, NULL);
    for (int64_t r = 0; r < rows; r++) {
        float *cr = ct + r * g->ldc;
        const float *tr = tmp + r * nr;
        if (!acc) memcpy(cr, tr, (size_t)cols * sizeof(float));
        else
            for (int64_t j = 0; j < cols; j++) cr[j] += tr[j];
    }
}

/* The packed B's panel read after panel jr of block (jc, pc) on the first row block (jr + NR
 * in the block, else the block's first panel in the next K block, else the next column
 * block's first), and its size in 64-byte lines; NULL after the last. */
static const float *gemm_next_b_panel(const onnx_gemm_args *g, int64_t jc, int64_t nc, int64_t j1,
                                      int64_t pc, int64_t jr, int nr, int64_t *lines)
{
    const onnx_gemm_packed *pb = g->pb;
    int64_t pn = pc, jn = jc + jr + nr;
    if (jr + nr >= nc) {
        jn = jc;
        if ((pn = pc + ONNX_GEMM_KC) >= g->k) {
            pn = 0;
            jn = jc + nc;
            if (jn >= j1) return NULL;
        }
    }
    const int64_t kc = g->k - pn < ONNX_GEMM_KC ? g->k - pn : ONNX_GEMM_KC;
    *lines = ((int64_t)nr * kc * (int64_t)sizeof(float) + 63) / 64;
    return pb->data + pn * pb->padded + jn * kc;
}

/* C rows i0..i1, columns j0..j1 (i0 a multiple of MR, j0 of NR); abuf and bbuf hold one
 * A block and one B block. */
static void gemm_range(const gemm_job *jb, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       float *abuf, float *bbuf)
{
    const onnx_gemm_args *g = jb->g;
    const int mr = jb->kd->mr, nr = jb->kd->nr;
    const onnx_gemm_kernel_fn kern = jb->kd->fn;
    float tmp[ONNX_GEMM_MAX_MR * ONNX_GEMM_MAX_NR] __attribute__((aligned(64)));
    for (int64_t jc = j0; jc < j1; jc += jb->nc) {
        const int64_t nc = j1 - jc < jb->nc ? j1 - jc : jb->nc;
        for (int64_t pc = 0; pc < g->k; pc += ONNX_GEMM_KC) {
            const int64_t kc = g->k - pc < ONNX_GEMM_KC ? g->k - pc : ONNX_GEMM_KC;
            const int last = pc + kc >= g->k, acc = pc > 0 || g->accumulate;
            const float *bp;
            const int64_t nfull = nc / nr * nr; /* direct_b: columns read in place */
            if (g->pb) {
                bp = g->pb->data + pc * g->pb->padded + jc * kc;
            } else if (jb->direct_b) { /* only the last partial panel is packed */
                if (nfull < nc)
                    onnx_gemm_pack_panel_b(g->b, g->ldb, 0, jc + nfull, nc - nfull, pc, kc, nr,
                                           bbuf);
                bp = bbuf;
            } else {
                onnx_gemm_pack_block(g->b, g->ldb, g->trans_b, 0, jc, nc, pc, kc, nr, bbuf);
                bp = bbuf;
            }
            for (int64_t ic = i0; ic < i1; ic += jb->mc) {
                const int64_t mc = i1 - ic < jb->mc ? i1 - ic : jb->mc;
                const float *ap;
                const int64_t mfull = jb->direct_a ? mc / mr * mr : 0; /* rows read in place */
                if (g->pa) {
                    ap = g->pa->data + pc * g->pa->padded + ic * kc;
                } else if (jb->direct_a) { /* only the last partial panel is packed */
                    if (mfull < mc)
                        onnx_gemm_pack_block(g->a, g->lda, 0, 1, ic + mfull, mc - mfull, pc, kc, mr,
                                             abuf);
                    ap = abuf; /* the panel of row ir >= mfull at ap + (ir - mfull) * kc */
                } else {
                    onnx_gemm_pack_block(g->a, g->lda, g->trans_a, 1, ic, mc, pc, kc, mr, abuf);
                    ap = abuf;
                }
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    const int64_t cols = nc - jr < nr ? nc - jr : nr;
                    /* B in place (direct_b, a full panel), else its packed panel */
                    const float *bd =
                        jb->direct_b && jr < nfull ? g->b + pc * g->ldb + jc + jr : NULL;
                    const float *bpan = jb->direct_b ? bp : bp + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        const int64_t rows = mc - ir < mr ? mc - ir : mr;
                        float *ct = g->c + (ic + ir) * g->ldc + jc + jr;
                        /* A's rows in place (direct_a, a full panel), else its packed panel */
                        const float *ad = ir < mfull ? g->a + (ic + ir) * g->lda + pc : NULL;
                        const int64_t ldb_t = bd ? g->ldb : nr;
                        if (rows == mr && cols == nr) {
                            /* a full tile: bias and Relu/Clip in the kernel's store */
                            onnx_gemm_epi epi = jb->epi;
                            if (epi.row_bias) epi.row_bias += ic + ir;
                            if (epi.col_bias) epi.col_bias += jc + jr;
                            if (epi.res) epi.res += (ic + ir) * epi.ldres + jc + jr;
                            const onnx_gemm_epi *e = last && jb->fused ? &epi : NULL;
                            if (jb->pf && ic == i0) {
                                /* the first pass over a packed B block, from DRAM: a slice of
                                 * the next panel into L2 (later row blocks find it in L2) */
                                int64_t lines = 0;
                                const float *next =
                                    gemm_next_b_panel(g, jc, nc, j1, pc, jr, nr, &lines);
                                const int64_t tiles = mc / mr; /* full row tiles */
                                lines = (lines + tiles - 1) / tiles;
                                /* a hint only: the last slice may run past the buffer */
                                const void *pf =
                                    next ? (const void *)((uintptr_t)next +
                                                          (uintptr_t)(ir / mr * lines * 64))
                                         : NULL;
                                jb->kd->pf_fn(kc, ad ? ad : ap + (ir - mfull) * kc, ad ? g->lda : 1,
                                              ad ? 1 : mr, bpan, nr, ct, g->ldc, g->alpha, acc, e,
                                              pf, next ? lines : 0);
                            } else if (ad)
                                jb->kd->ua_fn(kc, ad, g->lda, bd ? bd : bpan, ldb_t, ct, g->ldc,
                                              g->alpha, acc, e);
                            else if (bd)
                                jb->kd->ub_fn(kc, ap + (ir - mfull) * kc, bd, g->ldb, ct, g->ldc,
                                              g->alpha, acc, e);
                            else
                                kern(kc, ap + (ir - mfull) * kc, bpan, ct, g->ldc, g->alpha, acc,
                                     e);
                            if (last && jb->other_act)
                                for (int64_t r = 0; r < rows; r++)
                                    onnx_activation_apply(&g->act, ct + r * g->ldc, (size_t)cols);
                        } else {
                            gemm_edge_tile(jb, kc, ad, ad ? NULL : ap + (ir - mfull) * kc, bd, bpan,
                                           ldb_t, ct, rows, cols, acc, tmp);
                            if (last) gemm_epilogue(g, jb->kd, ic + ir, jc + jr, rows, cols);
                        }
                    }
                }
            }
        }
    }
}

/* One task: its range of columns or rows, with its own pack buffers. */
static void gemm_task(void *arg, int64_t t)
{
    gemm_job *jb = arg;
    const onnx_gemm_args *g = jb->g;
    int64_t i0 = 0, i1 = g->m, j0 = 0, j1 = g->n;
    if (jb->split_n) {
        j0 = t * jb->per_task;
        j1 = j0 + jb->per_task < g->n ? j0 + jb->per_task : g->n;
    } else {
        i0 = t * jb->per_task;
        i1 = i0 + jb->per_task < g->m ? i0 + jb->per_task : g->m;
    }
    if (i0 >= i1 || j0 >= j1) return;
    const int64_t kc = g->k < ONNX_GEMM_KC ? g->k : ONNX_GEMM_KC;
    /* B's pack buffer holds one NC block, or the task's columns when fewer */
    const int64_t nr = jb->kd->nr, b_cols = (j1 - j0 + nr - 1) / nr * nr;
    const size_t a_n = g->pa ? 0 : (size_t)(jb->mc * kc);
    const size_t b_n = g->pb ? 0 : (size_t)((b_cols < jb->nc ? b_cols : jb->nc) * kc);
    float *buf = NULL;
    if (a_n + b_n > 0 && !(buf = aligned_alloc(64, ((a_n + b_n) * sizeof(float) + 63) / 64 * 64))) {
        atomic_store(&jb->failed, 1);
        return;
    }
    gemm_range(jb, i0, i1, j0, j1, buf, buf + a_n);
    free(buf);
}

/* k = 0: C = act(bias + (accumulate ? C : 0)) */
static void gemm_no_k(const onnx_gemm_args *g)
{
    for (int64_t i = 0; i < g->m; i++)
        if (!g->accumulate) memset(g->c + i * g->ldc, 0, (size_t)g->n * sizeof(float));
    gemm_epilogue(g, onnx_gemm_kernel_desc_of(onnx_gemm_kernel()), 0, 0, g->m, g->n);
}

/* A few rows against a packed B (gemv.h): panel ranges per task, then the epilogue per task
 * over its columns. */
typedef struct gemv_job {
    const onnx_gemm_args *g;
    const onnx_gemm_kernel_desc *kd;
    int64_t per_task, n_panels; /* panels per task */
} gemv_job;

static void gemv_task(void *arg, int64_t t)
{
    const gemv_job *jb = arg;
    const int64_t p0 = t * jb->per_task;
    const int64_t p1 = p0 + jb->per_task < jb->n_panels ? p0 + jb->per_task : jb->n_panels;
    if (p0 >= p1) return;
    const int64_t nr = jb->g->pb->r, j0 = p0 * nr, j1 = p1 * nr < jb->g->n ? p1 * nr : jb->g->n;
    onnx_gemm_gemv_packed(jb->g, p0, p1);
    gemm_epilogue(jb->g, jb->kd, 0, j0, jb->g->m, j1 - j0);
}

/* How many tasks to cut a GEMM of `flops` multiply-adds over `threads` threads into, along
 * a dimension of `span` in steps of `step` (see GEMM_TASKS_PER_THREAD); `repacked`: the other
 * operand is packed again by every task. */
static int64_t gemm_fine_tasks(int threads, double flops, int64_t span, int64_t step, int repacked)
{
    if (threads <= 1 || flops < GEMM_MIN_PARALLEL_FLOPS) return 1;
    double want = (double)threads * GEMM_TASKS_PER_THREAD;
    if (want > flops / GEMM_MIN_TASK_FLOPS) want = flops / GEMM_MIN_TASK_FLOPS;
    const int64_t min_span = repacked ? GEMM_MIN_TASK_SPAN : step;
    if (want > (double)(span / min_span)) want = (double)(span / min_span);
    return want < threads ? threads : (int64_t)want;
}

static void gemm_few_rows(const onnx_gemm_args *g, onnx_tpool *pool)
{
    gemv_job jb = {.g = g, .kd = onnx_gemm_kernel_desc_of(g->pb->kernel)};
    jb.n_panels = (g->n + g->pb->r - 1) / g->pb->r;
    const double flops = (double)g->m * (double)g->n * (double)g->k;
    int64_t tasks = gemm_fine_tasks(onnx_tpool_threads(pool), flops, g->n, jb.g->pb->r, 0);
    if (tasks > jb.n_panels) tasks = jb.n_panels;
    jb.per_task = (jb.n_panels + tasks - 1) / tasks;
    onnx_tpool_parallel_for(pool, (jb.n_panels + jb.per_task - 1) / jb.per_task, gemv_task, &jb);
}

void onnx_gemm_res_into_c(onnx_gemm_args *g)
{
    for (int64_t i = 0; i < g->m && g->res; i++) {
        float *cr = g->c + i * g->ldc;
        const float *rr = g->res + i * g->ldres;
        if (!g->accumulate) memmove(cr, rr, (size_t)g->n * sizeof(float));
        else
            for (int64_t j = 0; j < g->n; j++) cr[j] += rr[j];
    }
    g->res = NULL;
    g->accumulate = 1;
}

/* Whether g->res's rows and C's share memory (then the store cannot read it: the first K block
 * or an edge tile would overwrite it first). */
static int gemm_res_overlaps(const onnx_gemm_args *g)
{
    const uintptr_t r0 = (uintptr_t)g->res, c0 = (uintptr_t)g->c;
    const uintptr_t r1 = (uintptr_t)(g->res + (g->m - 1) * g->ldres + g->n);
    const uintptr_t c1 = (uintptr_t)(g->c + (g->m - 1) * g->ldc + g->n);
    return r0 < c1 && c0 < r1;
}

static int gemm_run(const onnx_gemm_args *g, onnx_tpool *pool);

int onnx_gemm_run(const onnx_gemm_args *g, onnx_tpool *pool)
{
    if (g->m <= 0 || g->n <= 0) return 0;
    if (!g->res) return gemm_run(g, pool);
    /* the residual at the store: the blocked path's AVX-512 tiles; else copied in first */
    const onnx_gemm_packed *pk = g->pa ? g->pa : g->pb;
    const onnx_gemm_kernel_desc *kd =
        onnx_gemm_kernel_desc_of(pk ? pk->kernel : onnx_gemm_kernel());
    if (g->k <= 0 || !kd->store_res || (g->pb && !g->pa && g->m <= ONNX_GEMM_GEMV_MAX_M) ||
        onnx_gemm_narrow_fits(g) || gemm_res_overlaps(g)) {
        onnx_gemm_args f = *g;
        onnx_gemm_res_into_c(&f);
        return gemm_run(&f, pool);
    }
    return gemm_run(g, pool);
}

static int gemm_run(const onnx_gemm_args *g, onnx_tpool *pool)
{
    if (g->k <= 0) {
        gemm_no_k(g);
        return 0;
    }
    const onnx_gemm_packed *pk = g->pa ? g->pa : g->pb;
    if ((g->pa && (!g->pa->is_a || g->pa->dim != g->m || g->pa->k != g->k)) ||
        (g->pb && (g->pb->is_a || g->pb->dim != g->n || g->pb->k != g->k)) ||
        (g->pa && g->pb && g->pa->kernel != g->pb->kernel))
        return -1;
    if (g->pb && !g->pa && g->m <= ONNX_GEMM_GEMV_MAX_M) {
        gemm_few_rows(g, pool);
        return 0;
    }
    if (onnx_gemm_narrow_fits(g)) { /* a short B by a packed A: narrow.h */
        onnx_gemm_narrow_run(g, pool);
        return 0;
    }
    gemm_job jb = {.g = g, .kd = onnx_gemm_kernel_desc_of(pk ? pk->kernel : onnx_gemm_kernel())};
    const int mr = jb.kd->mr, nr = jb.kd->nr;
    const onnx_activation_kind ak = g->act.kind;
    jb.epi = (onnx_gemm_epi){.row_bias = g->row_bias,
                             .col_bias = g->col_bias,
                             .lo = -INFINITY,
                             .hi = INFINITY,
                             .res = g->res,
                             .ldres = g->ldres};
    if (ak == ONNX_ACT_RELU) jb.epi.lo = 0.0f;
    if (ak == ONNX_ACT_CLIP) jb.epi.lo = g->act.alpha, jb.epi.hi = g->act.beta;
    if (jb.kd->acts) {
        jb.epi.act = ak == ONNX_ACT_SILU           ? ONNX_GEMM_EPI_SILU
                     : ak == ONNX_ACT_SIGMOID      ? ONNX_GEMM_EPI_SIGMOID
                     : ak == ONNX_ACT_HARD_SWISH   ? ONNX_GEMM_EPI_HARD_SWISH
                     : ak == ONNX_ACT_HARD_SIGMOID ? ONNX_GEMM_EPI_HARD_SIGMOID
                     : ak == ONNX_ACT_GELU         ? ONNX_GEMM_EPI_GELU
                                                   : ONNX_GEMM_EPI_NONE;
        jb.epi.alpha = g->act.alpha, jb.epi.beta = g->act.beta;
    }
    jb.fused = g->res || g->row_bias || g->col_bias || ak == ONNX_ACT_RELU || ak == ONNX_ACT_CLIP ||
               jb.epi.act != ONNX_GEMM_EPI_NONE;
    jb.other_act = ak != ONNX_ACT_NONE && ak != ONNX_ACT_RELU && ak != ONNX_ACT_CLIP &&
                   jb.epi.act == ONNX_GEMM_EPI_NONE;
    jb.direct_b = jb.kd->ub_fn && !g->pb && !g->trans_b && g->m <= GEMM_DIRECT_B_MAX_M;
    jb.direct_a = jb.kd->ua_fn && !g->pa && !g->trans_a;
    jb.mc = (int64_t)mr * GEMM_MC_PANELS;
    jb.nc = GEMM_NC / nr * nr;
    if (g->pb && g->m <= GEMM_ONE_PASS_MAX_M) /* B's panels once each */
        jb.mc = (g->m + mr - 1) / mr * mr;
    jb.pf = jb.kd->pf_fn && g->pb;
    int tasks = onnx_tpool_threads(pool);
    if ((double)g->m * (double)g->n * (double)g->k < GEMM_MIN_PARALLEL_FLOPS) tasks = 1;
    const int64_t n_panels = (g->n + nr - 1) / nr, m_panels = (g->m + mr - 1) / mr;
    jb.split_n = n_panels >= tasks || n_panels >= m_panels;
    const double flops = (double)g->m * (double)g->n * (double)g->k;
    if (jb.split_n) {
        const int64_t fine = gemm_fine_tasks(tasks, flops, g->n, nr, !g->pa && !jb.direct_a);
        jb.per_task = (n_panels + fine - 1) / fine * nr;
        tasks = (int)((g->n + jb.per_task - 1) / jb.per_task);
    } else {
        const int64_t fine = gemm_fine_tasks(tasks, flops, g->m, mr, !g->pb && !jb.direct_b);
        jb.per_task = (m_panels + fine - 1) / fine * mr;
        tasks = (int)((g->m + jb.per_task - 1) / jb.per_task);
    }
    onnx_tpool_parallel_for(pool, tasks, gemm_task, &jb);
    return atomic_load(&jb.failed) ? -1 : 0;
}

/* Our GEMM against OpenBLAS's, unpacked operands (see docs/onnx-runtime.md, "Our GEMM"). */
int onnx_gemm_prefer(int64_t m, int64_t n, int64_t k, int packed)
{
    if (packed) return 1;
    (void)m, (void)n, (void)k;
    return 1;
}
