/* Which microkernel runs: the best this CPU has (__builtin_cpu_supports), unless a test or
 * bench forced one with onnx_gemm_set_kernel. */
#include <stdatomic.h>

#include "gemm.h"
#include "kernels.h"

static const onnx_gemm_kernel_desc gemm_kernels[ONNX_GEMM_N_KERNELS] = {
    [ONNX_GEMM_GENERIC] = {"generic-4x8", 4, 8, onnx_gemm_kernel_generic,
                           onnx_gemm_epilogue_generic, 0, NULL, NULL, NULL, NULL, NULL, 0},
    [ONNX_GEMM_AVX2] = {"avx2-6x16", 6, 16, onnx_gemm_kernel_avx2, onnx_gemm_epilogue_avx2, 0, NULL,
                        NULL, NULL, NULL, NULL, 0},
    [ONNX_GEMM_AVX512] = {"avx512-8x32", 8, 32, onnx_gemm_kernel_avx512, onnx_gemm_epilogue_avx512,
                          1, onnx_gemm_kernel_avx512_ub, onnx_gemm_kernel_avx512_ua,
                          onnx_gemm_kernel_avx512_half, onnx_gemm_kernel_avx512_rows,
                          onnx_gemm_kernel_avx512_pf, 1},
};

static _Atomic int gemm_forced = ONNX_GEMM_AUTO;

int onnx_gemm_kernel_available(onnx_gemm_kernel_id id)
{
    switch (id) {
    case ONNX_GEMM_GENERIC: return 1;
#if defined(__x86_64__) || defined(__i386__)
    case ONNX_GEMM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ONNX_GEMM_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

static onnx_gemm_kernel_id gemm_best(void)
{
    static _Atomic int best = -2;
    int b = atomic_load(&best);
    if (b == -2) {
        b = onnx_gemm_kernel_available(ONNX_GEMM_AVX512) ? ONNX_GEMM_AVX512
            : onnx_gemm_kernel_available(ONNX_GEMM_AVX2) ? ONNX_GEMM_AVX2
                                                         : ONNX_GEMM_GENERIC;
        atomic_store(&best, b);
    }
    return (onnx_gemm_kernel_id)b;
}

int onnx_gemm_set_kernel(onnx_gemm_kernel_id id)
{
    if (id != ONNX_GEMM_AUTO &&
        (id < 0 || id >= ONNX_GEMM_N_KERNELS || !onnx_gemm_kernel_available(id)))
        return -1;
    atomic_store(&gemm_forced, id);
    return 0;
}

onnx_gemm_kernel_id onnx_gemm_kernel(void)
{
    int f = atomic_load(&gemm_forced);
    return f == ONNX_GEMM_AUTO ? gemm_best() : (onnx_gemm_kernel_id)f;
}

const char *onnx_gemm_kernel_name(onnx_gemm_kernel_id id)
{
    if (id == ONNX_GEMM_AUTO) id = onnx_gemm_kernel();
    return id >= 0 && id < ONNX_GEMM_N_KERNELS ? gemm_kernels[id].name : "?";
}

const onnx_gemm_kernel_desc *onnx_gemm_kernel_desc_of(int id)
{
    if (id < 0 || id >= ONNX_GEMM_N_KERNELS) id = onnx_gemm_kernel();
    return &gemm_kernels[id];
}

int onnx_gemm_act_avx512_ok(void)
{
    static _Atomic int ok = -1;
    int v = atomic_load_explicit(&ok, memory_order_relaxed);
    if (v < 0) {
        v = onnx_gemm_kernel_available(ONNX_GEMM_AVX512);
        atomic_store_explicit(&ok, v, memory_order_relaxed);
    }
    return v;
}
