/* SiLU and Sigmoid in place, GELU from x to y, over n floats with AVX-512 (act_avx512.h); nn_k_silu,
 * nn_k_sigmoid and nn_k_gelu call them when the CPU has AVX-512 (onnx_gemm_act_avx512_ok). Compiled with
 * -mavx512f -mfma (CMakeLists.txt). */
#include "gemm.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include "act_avx512.h"

#define ACT512_LOOP(F)                                                                   \
    do {                                                                                 \
        int64_t i = 0;                                                                   \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(y + i))); \
        if (i < n) {                                                                     \
            const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                        \
            _mm512_mask_storeu_ps(y + i, m, F(_mm512_maskz_loadu_ps(m, y + i)));         \
        }                                                                                \
    } while (0)

void onnx_gemm_silu_avx512(float *y, int64_t n)
{
    ACT512_LOOP(act512_silu);
}

void onnx_gemm_sigmoid_avx512(float *y, int64_t n)
{
    ACT512_LOOP(act512_sigmoid);
}

void onnx_gemm_gelu_avx512(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, act512_gelu(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, act512_gelu(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
#else
void onnx_gemm_silu_avx512(float *y, int64_t n)
{
    (void)y, (void)n;
}

void onnx_gemm_sigmoid_avx512(float *y, int64_t n)
{
    (void)y, (void)n;
}

void onnx_gemm_gelu_avx512(float *y, const float *x, int64_t n)
{
    (void)y, (void)x, (void)n;
}
#endif
