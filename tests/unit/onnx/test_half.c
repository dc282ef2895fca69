/* Unit tests of include/inferd/half.h, the one float16/bfloat16 conversion: exact widening,
 * round-to-nearest-even narrowing with its ties, subnormals, overflow, infinities and NaN. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/half.h"

static void test_half_widens_exactly(void **state)
{
    (void)state;
    static const struct {
        uint16_t h;
        float f;
    } cases[] = {
        {0x0000, 0.0f},
        {0x3c00, 1.0f},
        {0xc000, -2.0f},
        {0x3555, 0.333251953125f},
        {0x7bff, 65504.0f},
        {0x0400, 6.103515625e-05f},
        {0x0001, 5.9604644775390625e-08f},
        {0x03ff, 6.097555160522461e-05f},
        {0x8001, -5.9604644775390625e-08f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(inferd_float_bits(inferd_half_to_float(cases[i].h)),
                         inferd_float_bits(cases[i].f));
    assert_int_equal(inferd_float_bits(inferd_half_to_float(0x8000)), 0x80000000u); /* -0 */
    assert_true(isinf(inferd_half_to_float(0x7c00)) && inferd_half_to_float(0x7c00) > 0);
    assert_true(isinf(inferd_half_to_float(0xfc00)) && inferd_half_to_float(0xfc00) < 0);
    assert_true(isnan(inferd_half_to_float(0x7e00)));
}

static void test_half_round_trips_every_value(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaNs: below */
        assert_int_equal(inferd_float_to_half(inferd_half_to_float((uint16_t)h)), h);
    }
}

static void test_half_narrows_to_nearest_even(void **state)
{
    (void)state;
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1) */
    assert_int_equal(inferd_float_to_half(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    /* 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: even is 1 + 2^-9 */
    assert_int_equal(inferd_float_to_half(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(inferd_float_to_half(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    /* subnormals: 2^-25 ties to 0, 3 * 2^-25 to 2 * 2^-24 */
    assert_int_equal(inferd_float_to_half(ldexpf(1.0f, -25)), 0x0000);
    assert_int_equal(inferd_float_to_half(3 * ldexpf(1.0f, -25)), 0x0002);
    assert_int_equal(inferd_float_to_half(-ldexpf(1.0f, -30)), 0x8000);
    /* 65520 rounds up past the largest half, 65519 down to it */
    assert_int_equal(inferd_float_to_half(65519.0f), 0x7bff);
    assert_int_equal(inferd_float_to_half(65520.0f), 0x7c00);
    assert_int_equal(inferd_float_to_half(-1e10f), 0xfc00);
    assert_int_equal(inferd_float_to_half(INFINITY), 0x7c00);
    assert_int_equal(inferd_float_to_half(NAN) & 0x7e00, 0x7e00);
}

static void test_bf16_rounds_or_truncates(void **state)
{
    (void)state;
    assert_int_equal(inferd_float_bits(inferd_bf16_to_float(0x3f80)), inferd_float_bits(1.0f));
    assert_int_equal(inferd_float_bits(inferd_bf16_to_float(0xc040)), inferd_float_bits(-3.0f));
    const float up = inferd_float_from_bits(0x3f808001u);      /* above halfway 3f80..3f81 */
    const float tie = inferd_float_from_bits(0x3f808000u);     /* halfway, even below */
    const float tie_odd = inferd_float_from_bits(0x3f818000u); /* halfway, odd below: up */
    assert_int_equal(inferd_float_to_bf16(up), 0x3f81);
    assert_int_equal(inferd_float_to_bf16(tie), 0x3f80);
    assert_int_equal(inferd_float_to_bf16(tie_odd), 0x3f82);
    assert_int_equal(inferd_float_to_bf16(NAN), 0x7fc0);
    assert_int_equal(inferd_float_to_bf16_truncate(up), 0x3f80);
    assert_int_equal(inferd_float_to_bf16_truncate(tie_odd), 0x3f81);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_widens_exactly),
        cmocka_unit_test(test_half_round_trips_every_value),
        cmocka_unit_test(test_half_narrows_to_nearest_even),
        cmocka_unit_test(test_bf16_rounds_or_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
