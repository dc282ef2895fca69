/* Depthwise 3x3 and 5x5 convolution (stride 1 or 2) straight from the input plane (AVX-512; see
 * conv_phase.h, nn_dw_direct): no phase-plane gather and no row compaction, each output
 * vector sums its taps from masked loads of the unpadded input rows, so the padding is the
 * masked-off lanes and the rows outside the input are skipped; 4 output rows at a time. This
 * file decides; the kernels are in conv_dw_direct_avx512.c. */
#include "conv_phase.h"

#include "../gemm/gemm.h"
#include "nn_kernels.h" /* NN_NO_CLONES: TSan builds keep the phase planes */

/* the kernels (conv_dw_direct_avx512.c) are built for x86-64 only */
#if defined(__x86_64__) && !defined(NN_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#define NN_HAVE_DW_DIRECT 1
#endif

/* Every output width: with blocks of rows (DW_ROWS, DW_ROWS_3S1 in conv_dw_direct_avx512.c)
 * even 7- and 14-wide planes (one masked vector per row) measured faster than the phase path's
 * gather, taps and compaction (MobileNetV2's 14x14 blocks 5-10 % less CPU, 7x7 even with 4
 * rows; one row at a time they were slower, hence a 48-column limit until 2026-12-07). */
int nn_dw_direct_fits(const nn_geom *g, nn_dw_direct *d)
{
#ifdef NN_HAVE_DW_DIRECT
    if (!onnx_gemm_act_avx512_ok()) return 0;
    if (g->nsp != 2 || g->k[0] != 1 || g->k[1] != g->k[2] || (g->k[1] != 3 && g->k[1] != 5))
        return 0;
    if (g->s[1] != g->s[2] || (g->s[1] != 1 && g->s[1] != 2) || g->d[1] != 1 || g->d[2] != 1)
        return 0;
    if (g->pb[1] < 0 || g->pb[2] < 0 || g->pb[1] >= g->k[1] || g->pb[2] >= g->k[2]) return 0;
    if (g->in[1] < 1 || g->in[2] < 1) return 0;
    d->k = (int)g->k[1];
    d->s = (int)g->s[1];
    d->in_h = g->in[1];
    d->in_w = g->in[2];
    d->pt = g->pb[1];
    d->pl = g->pb[2];
    return 1;
#else
    (void)g;
    (void)d;
    return 0;
#endif
}

int nn_dw_direct_store_mode(const onnx_activation *act)
{
    return act->kind == ONNX_ACT_SILU         ? NN_DW_STORE_SILU
           : act->kind == ONNX_ACT_HARD_SWISH ? NN_DW_STORE_HARD_SWISH
                                              : 0;
}
