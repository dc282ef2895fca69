/* Element types: sizes and KServe names (see include/inferd/dtype.h). */
#include "inferd/dtype.h"

#include <string.h>

static const struct {
    inferd_dtype dtype;
    const char *name;
    size_t size;
} dtype_table[] = {
    {INFERD_DTYPE_BOOL, "BOOL", 1},     {INFERD_DTYPE_UINT8, "UINT8", 1},
    {INFERD_DTYPE_UINT16, "UINT16", 2}, {INFERD_DTYPE_UINT32, "UINT32", 4},
    {INFERD_DTYPE_UINT64, "UINT64", 8}, {INFERD_DTYPE_INT8, "INT8", 1},
    {INFERD_DTYPE_INT16, "INT16", 2},   {INFERD_DTYPE_INT32, "INT32", 4},
    {INFERD_DTYPE_INT64, "INT64", 8},   {INFERD_DTYPE_FP16, "FP16", 2},
    {INFERD_DTYPE_FP32, "FP32", 4},     {INFERD_DTYPE_FP64, "FP64", 8},
    {INFERD_DTYPE_BYTES, "BYTES", 0},   {INFERD_DTYPE_BF16, "BF16", 2},
};
#define DTYPE_COUNT (sizeof dtype_table / sizeof dtype_table[0])

size_t inferd_dtype_size(inferd_dtype dtype)
{
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].size;
    return 0;
}

const char *inferd_dtype_name(inferd_dtype dtype)
{
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].name;
    return "INVALID";
}

inferd_dtype inferd_dtype_from_name(const char *name)
{
    if (!name) return INFERD_DTYPE_INVALID;
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if (strcmp(dtype_table[i].name, name) == 0) return dtype_table[i].dtype;
    return INFERD_DTYPE_INVALID;
}

int inferd_dtype_is_valid(int value)
{
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if ((int)dtype_table[i].dtype == value) return 1;
    return 0;
}

int inferd_dtype_int_range(inferd_dtype dtype, int64_t *lo, int64_t *hi)
{
    switch (dtype) {
    case INFERD_DTYPE_INT8: *lo = INT8_MIN, *hi = INT8_MAX; return 0;
    case INFERD_DTYPE_INT16: *lo = INT16_MIN, *hi = INT16_MAX; return 0;
    case INFERD_DTYPE_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return 0;
    case INFERD_DTYPE_INT64: *lo = INT64_MIN, *hi = INT64_MAX; return 0;
    case INFERD_DTYPE_UINT8: *lo = 0, *hi = UINT8_MAX; return 0;
    case INFERD_DTYPE_UINT16: *lo = 0, *hi = UINT16_MAX; return 0;
    case INFERD_DTYPE_UINT32: *lo = 0, *hi = UINT32_MAX; return 0;
    case INFERD_DTYPE_UINT64: *lo = 0, *hi = INT64_MAX; return 0;
    default: return -1;
    }
}
