/* The elementwise operator family: broadcasting binary, variadic and ternary operators.
 * Implementations live in ew_arith.c, ew_variadic.c and ew_logic.c over ew_engine.c. */
#include "../registry.h"
#include "ew_ops.h"

static const onnx_op ew_ops[] = {
    {"Add", 1, NULL, ew_run_add, NULL},
    {"Sub", 1, NULL, ew_run_sub, NULL},
    {"Mul", 1, NULL, ew_run_mul, NULL},
    {"Div", 1, NULL, ew_run_div, NULL},
    {"Pow", 1, NULL, ew_run_pow, NULL},
    {"Mod", 10, NULL, ew_run_mod, NULL},
    {"PRelu", 1, NULL, ew_run_prelu, NULL},
    {"Min", 1, NULL, ew_run_min, NULL},
    {"Max", 1, NULL, ew_run_max, NULL},
    {"Sum", 1, NULL, ew_run_sum, NULL},
    {"Mean", 1, NULL, ew_run_mean, NULL},
    {"Equal", 1, NULL, ew_run_equal, NULL},
    {"Less", 1, NULL, ew_run_less, NULL},
    {"Greater", 1, NULL, ew_run_greater, NULL},
    {"LessOrEqual", 12, NULL, ew_run_less_equal, NULL},
    {"GreaterOrEqual", 12, NULL, ew_run_greater_equal, NULL},
    {"And", 1, NULL, ew_run_and, NULL},
    {"Or", 1, NULL, ew_run_or, NULL},
    {"Xor", 1, NULL, ew_run_xor, NULL},
    {"BitShift", 11, NULL, ew_run_bitshift, NULL},
    {"Where", 9, NULL, ew_run_where, NULL},
};

const onnx_op *onnx_ops_elementwise(size_t *count)
{
    *count = sizeof ew_ops / sizeof ew_ops[0];
    return ew_ops;
}
