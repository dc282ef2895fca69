/* Inline AVX-512 helpers shared by the direct convolution kernels (conv_dw_direct_avx512.c,
 * conv_stem_avx512.c); include only from files compiled with -mavx512f -mfma. */
#ifndef INFERD_ONNX_CONV_AVX512_H
#define INFERD_ONNX_CONV_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "../gemm/act_avx512.h"
#include "conv_phase.h" /* NN_DW_STORE_* */

/* Lanes l of a 16-float load at input column base + l that fall inside [0, in_w). */
static inline __mmask16 dw_col_mask(int64_t base, int64_t in_w)
{
    const int64_t l0 = base < 0 ? -base : 0;
    int64_t l1 = in_w - base;
    if (l1 > 16) l1 = 16;
    if (l1 <= l0) return 0;
    const uint32_t hi = (uint32_t)((1u << l1) - 1u), lo = (uint32_t)((1u << l0) - 1u);
    return (__mmask16)(hi & ~lo);
}

/* mode as nn_k_gather_block_act: 0 none, 1 Relu (a NaN gives 0), 2 Clip to [lo, hi]; and in
 * the store only (NN_DW_STORE_*): 3 SiLU, 4 HardSwish, rounded as the GEMM's store and
 * nn_k_silu / nn_k_hard_swish on AVX-512 */
static inline __m512 dw_act(__m512 v, int mode, __m512 lo, __m512 hi)
{
    if (mode == 1) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (mode == 2) return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    if (mode == NN_DW_STORE_SILU) return act512_silu(v);
    if (mode == NN_DW_STORE_HARD_SWISH) return act512_hard_swish(v);
    return v;
}

#endif
