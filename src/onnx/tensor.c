/* Element readers used by operators for shape and index inputs. */
#include "tensor.h"

#include "inferd/half.h"
#include "inferd/unaligned.h"

int64_t onnx_tensor_get_int(const onnx_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case INFERD_DTYPE_INT64: return ((const int64_t *)d)[i];
    case INFERD_DTYPE_INT32: return ((const int32_t *)d)[i];
    case INFERD_DTYPE_INT16: return ((const int16_t *)d)[i];
    case INFERD_DTYPE_INT8: return ((const int8_t *)d)[i];
    case INFERD_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case INFERD_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case INFERD_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case INFERD_DTYPE_UINT64: return (int64_t)((const uint64_t *)d)[i];
    case INFERD_DTYPE_BOOL: return ((const uint8_t *)d)[i] != 0;
    default: return 0;
    }
}

double onnx_tensor_get_double(const onnx_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: return ((const float *)d)[i];
    case INFERD_DTYPE_FP64: return ((const double *)d)[i];
    case INFERD_DTYPE_FP16: return inferd_half_to_float(((const uint16_t *)d)[i]);
    case INFERD_DTYPE_BF16: return inferd_bf16_to_float(((const uint16_t *)d)[i]);
    case INFERD_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    default: return (double)onnx_tensor_get_int(t, i);
    }
}

size_t onnx_strings_bytes(const onnx_tensor *t)
{
    const char *p = t->data;
    if (!p) return 0;
    const int64_t n = onnx_tensor_numel(t);
    size_t off = 0;
    for (int64_t i = 0; i < n; i++) off += 4 + inferd_load_u32(p + off, 0);
    return off;
}

int onnx_strings_check(const void *data, size_t nbytes, size_t numel)
{
    const char *p = data;
    size_t off = 0;
    for (size_t i = 0; i < numel; i++) {
        if (nbytes - off < 4) return -1;
        const size_t len = inferd_load_u32(p + off, 0);
        off += 4;
        if (nbytes - off < len) return -1;
        off += len;
    }
    return off == nbytes ? 0 : -1;
}
