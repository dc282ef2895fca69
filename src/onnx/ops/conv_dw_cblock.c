/* Depthwise Conv on small planes (7x7, 14x14: EfficientNet's and MNASNet's late stages) by
 * blocks of 16 channels side by side (AVX-512; see conv_phase.h, nn_dw_cblock): one vector holds
 * a position of 16 channels, so every tap is one full multiply-add, whatever the plane's width. */
#include <string.h>

#include "conv_phase.h"

#include "nn_kernels.h"

#if defined(__x86_64__) && !defined(NN_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NN_HAVE_DW_CBLOCK 1
#endif

/* Where the block pays for its transposes in and out (measured on EfficientNet-B0, CPU time
 * per node, alternating with the per-plane paths): 5x5 on 7x7 planes 16% faster, 3x3 on 7x7
 * even, 5x5 on 14x14 even, 3x3 on 14x14 23% slower. So: at least 25 taps, at most 64 outputs
 * per plane; the rest stays on the per-plane paths. Windows over 25 taps (7x7: ConvNeXt) have
 * no direct kernel, and their per-plane path takes 14 passes over each output; there the
 * block pays on planes up to 64x64 (4 chained 7x7 nodes, CPU time: 56x56 -25 to -35%, 28x28
 * and 14x14 -50%), its buffer then 0.5 MB at most. */
#define DW_CBLOCK_MAX_OUT      64
#define DW_CBLOCK_MAX_OUT_WIDE 4096
#define DW_CBLOCK_MIN_TAPS     25
#define DW_CBLOCK_MAX_K        7

int nn_dw_cblock_fits(const nn_geom *g, int64_t mult, nn_dw_cblock *cb)
{
#ifdef NN_HAVE_DW_CBLOCK
    if (!__builtin_cpu_supports("avx512f")) return 0;
    if (mult != 1 || g->nsp != 2 || g->k[0] != 1) return 0;
    for (int a = 1; a <= 2; a++) {
        if (g->k[a] < 1 || g->k[a] > DW_CBLOCK_MAX_K || g->s[a] < 1 || g->s[a] > 2 || g->d[a] < 1 ||
            g->d[a] > 2 || g->pb[a] < 0 || g->pe[a] < 0 || g->in[a] < 1 || g->out[a] < 1)
            return 0;
    }
    const int64_t taps = g->k[1] * g->k[2];
    if (taps < DW_CBLOCK_MIN_TAPS ||
        g->out[1] * g->out[2] >
            (taps > DW_CBLOCK_MIN_TAPS ? DW_CBLOCK_MAX_OUT_WIDE : DW_CBLOCK_MAX_OUT))
        return 0;
    if (g->in[1] * g->in[2] > (int64_t)(INT32_MAX / 16)) return 0; /* gather indices */
    cb->kh = (int)g->k[1];
    cb->kw = (int)g->k[2];
    cb->sh = (int)g->s[1];
    cb->sw = (int)g->s[2];
    cb->dh = (int)g->d[1];
    cb->dw = (int)g->d[2];
    cb->in_h = g->in[1];
    cb->in_w = g->in[2];
    cb->pt = g->pb[1];
    cb->pl = g->pb[2];
    cb->oh = g->out[1];
    cb->ow = g->out[2];
    cb->hp = (cb->oh - 1) * cb->sh + (cb->kh - 1) * cb->dh + 1;
    cb->wp = (cb->ow - 1) * cb->sw + (cb->kw - 1) * cb->dw + 1;
    /* padded input, then the block's outputs and its weights, 16 floats each */
    cb->floats = (size_t)(cb->hp * cb->wp + cb->oh * cb->ow + cb->kh * cb->kw) * 16;
    return 1;
#else
    (void)g;
    (void)mult;
    (void)cb;
    return 0;
#endif
}

#ifdef NN_HAVE_DW_CBLOCK
/* n (1..8, a constant at each call) outputs of one row, 16 channels each, into t: bias + the
 * taps in order. q: the padded input at the first output's window, ws: one vector per tap. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
cb_chunk(const int n, const nn_dw_cblock *cb, const float *q, const float *ws, __m512 b, float *t)
{
    __m512 a[8];
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) a[k] = b;
    const int64_t step = cb->sw * 16, row = cb->dh * cb->wp * 16, col = cb->dw * 16;
    for (int i = 0; i < cb->kh; i++) {
        const float *qi = q + i * row;
        for (int j = 0; j < cb->kw; j++) {
            const __m512 w = _mm512_loadu_ps(ws + (i * cb->kw + j) * 16);
            const float *qj = qi + j * col;
#pragma GCC unroll 8
            for (int k = 0; k < n; k++)
                a[k] = _mm512_fmadd_ps(_mm512_loadu_ps(qj + k * step), w, a[k]);
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < n; k++) _mm512_storeu_ps(t + k * 16, a[k]);
}

#define CB_CHUNK(n) \
    case n: cb_chunk(n, cb, q, ws, b, tc); break;

/* r[i] = column i of the 16 x 16 matrix whose row l is r[l] (4 shuffle stages) */
__attribute__((target("avx512f"), always_inline)) static inline void cb_transpose(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]),
                      c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
        t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);
    }
}

/* r[i] = element i of rows l < nrows (src + l * stride, n <= 16 floats each; zeros past
 * them), one channel per lane */
__attribute__((target("avx512f"), always_inline)) static inline void
cb_load_t(const float *src, int64_t stride, int nrows, int64_t n, __m512 r[16])
{
    const __mmask16 m = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
#pragma GCC unroll 16
    for (int l = 0; l < 16; l++)
        r[l] = l < nrows ? _mm512_maskz_loadu_ps(m, src + l * stride) : _mm512_setzero_ps();
    cb_transpose(r);
}

/* Channels c0 .. c0 + nch - 1 (nch <= 16): gather their planes into the padded block (with
 * the input activation), compute every output position, scatter back to the planes. */
__attribute__((target("avx512f,fma"))) static void
cb_block(const nn_dw_cblock *cb, const float *x, int64_t x_plane, float *y, const float *w,
         const float *bias, int nch, int in_mode, float ilo_, float ihi_, float *buf)
{
    const int64_t hp = cb->hp, wp = cb->wp, oh = cb->oh, ow = cb->ow, out = oh * ow;
    const int ntaps = cb->kh * cb->kw;
    float *p = buf, *t = p + hp * wp * 16, *ws = t + out * 16;
    __m512 r[16];
    memset(p, 0, (size_t)(hp * wp) * 16 * sizeof(float));
    for (int k = 0; k < ntaps; k += 16) {
        cb_load_t(w + k, ntaps, nch, ntaps - k, r);
        for (int i = 0; i < 16 && k + i < ntaps; i++) _mm512_storeu_ps(ws + (k + i) * 16, r[i]);
    }
    float bs[16];
    for (int l = 0; l < 16; l++) bs[l] = l < nch && bias ? bias[l] : 0.0f;

    /* in: position (r, c) of the 16 planes as one vector at p[(r + pt) * wp + c + pl], 16
     * positions of the plane at a time */
    const __m512 ilo = _mm512_set1_ps(ilo_), ihi = _mm512_set1_ps(ihi_), z = _mm512_setzero_ps();
    const int64_t r_end = cb->in_h < hp - cb->pt ? cb->in_h : hp - cb->pt;
    const int64_t c_end = cb->in_w < wp - cb->pl ? cb->in_w : wp - cb->pl;
    const int64_t in_size = r_end * cb->in_w;
    int64_t row = 0, col = 0;
    for (int64_t o = 0; o < in_size; o += 16) {
        cb_load_t(x + o, x_plane, nch, in_size - o, r);
        for (int i = 0; i < 16 && o + i < in_size; i++) {
            if (col < c_end) {
                __m512 v = r[i];
                if (in_mode == 1) v = _mm512_max_ps(v, z);
                else if (in_mode == 2) v = _mm512_min_ps(ihi, _mm512_max_ps(ilo, v));
                _mm512_storeu_ps(p + ((row + cb->pt) * wp + col + cb->pl) * 16, v);
            }
            if (++col == cb->in_w) col = 0, row++;
        }
    }

    const __m512 b = _mm512_loadu_ps(bs);
    for (int64_t rr = 0; rr < oh; rr++) {
        for (int64_t c = 0; c < ow; c += 8) {
            const float *q = p + (rr * cb->sh * wp + c * cb->sw) * 16;
            float *tc = t + (rr * ow + c) * 16;
            const int64_t left = ow - c;
            switch (left >= 8 ? 8 : (int)left) {
                CB_CHUNK(1)
                CB_CHUNK(2)
                CB_CHUNK(3)
                CB_CHUNK(4)
                CB_CHUNK(5)
                CB_CHUNK(6)
                CB_CHUNK(7)
                CB_CHUNK(8)
            default: break;
            }
        }
    }

    /* out: the block's positions o .. o + 15 transposed, channel l's into plane l */
    for (int64_t o = 0; o < out; o += 16) {
        const int64_t left = out - o;
        const int n = left >= 16 ? 16 : (int)left;
        const __mmask16 om = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
        cb_load_t(t + o * 16, 16, n, 16, r);
        for (int l = 0; l < nch; l++) _mm512_mask_storeu_ps(y + l * out + o, om, r[l]);
    }
}
#endif

void nn_dw_cblock_run(onnx_ctx *ctx, const nn_dw_cblock *cb, const nn_dw_io *io, int64_t c0,
                      int64_t c1, const float *w, const float *bias, int in_mode, float ilo,
                      float ihi, const onnx_activation *act, float *buf)
{
#ifdef NN_HAVE_DW_CBLOCK
    const int64_t out = cb->oh * cb->ow, ntaps = (int64_t)cb->kh * cb->kw;
    for (int64_t ci = c0; ci < c1; ci += 16) {
        const int nch = c1 - ci >= 16 ? 16 : (int)(c1 - ci);
        for (int l = 0; l < nch; l++) onnx_ctx_prefetch_next(ctx, io->part0 + ci + l, io->parts);
        float *yb = io->y + ci * out;
        cb_block(cb, io->x + ci * io->x_plane, io->x_plane, yb, w + ci * ntaps,
                 bias ? bias + ci : NULL, nch, in_mode, ilo, ihi, buf);
        if (io->res) nn_k_add_vec(yb, io->res + ci * out, nch * out);
        nn_activation_run(act, yb, nch * out);
    }
#else
    (void)ctx, (void)cb, (void)io, (void)c0, (void)c1, (void)w, (void)bias, (void)in_mode;
    (void)ilo, (void)ihi, (void)act, (void)buf;
#endif
}
