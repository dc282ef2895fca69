/* The one place for float16 (IEEE half) and bfloat16 conversions, bit patterns held in
 * uint16_t: the ONNX runtime's kernels and casts and the node's JSON encoder use these. */
#ifndef INFERD_HALF_H
#define INFERD_HALF_H

#include <stdint.h>
#include <string.h>

/* A float32's bit pattern, and back. */
static inline uint32_t inferd_float_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline float inferd_float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Exact; NaN keeps its payload, subnormals are normalised. */
static inline float inferd_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return inferd_float_from_bits(bits);
}

/* Round to nearest even; overflow gives infinity, NaN a quiet NaN of the same sign. */
static inline uint16_t inferd_float_to_half(float f)
{
    uint32_t x = inferd_float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t mant = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

/* Exact: bfloat16 is the upper half of a float32. */
static inline float inferd_bf16_to_float(uint16_t h)
{
    return inferd_float_from_bits((uint32_t)h << 16);
}

/* Round to nearest even; NaN gives the quiet NaN 0x7fc0. */
static inline uint16_t inferd_float_to_bf16(float f)
{
    uint32_t bits = inferd_float_bits(f);
    if (f != f) return 0x7fc0;
    return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

/* Truncation (the upper 16 bits): what ONNX's Cast to bfloat16 does in its test data. */
static inline uint16_t inferd_float_to_bf16_truncate(float f)
{
    uint32_t bits = inferd_float_bits(f);
    return (uint16_t)(bits >> 16);
}

#endif
