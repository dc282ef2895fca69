/* Private: decoding a model file without holding its weights twice (file bytes and decoded
 * message side by side). The graph's initializers' raw_data blocks are lifted out of the file
 * buffer one by one into blocks of their own (the buffer's pages under each returned to the
 * kernel once copied), the rest of the file is decoded as a message without them, and each
 * block is attached to its TensorProto as the raw_data protobuf-c would have allocated. */
#ifndef ONNX_RAWSPLIT_H
#define ONNX_RAWSPLIT_H

#include <stddef.h>

#include "onnx.pb-c.h"

/* raw_data blocks smaller than this stay in the message (no page to give back) */
#define ONNX_RAW_LIFT_MIN 16384

/* Decodes buf (len bytes, already checked by onnx_wire_check) as a ModelProto. The caller
 * still owns and frees buf, but its bytes under lifted blocks may read as zeros afterwards
 * (MADV_DONTNEED): decode it only once. Returns the message (free with
 * onnx__model_proto__free_unpacked(mp, NULL)), or NULL with *nomem 1 (out of memory) or
 * 0 (protobuf-c refused it). */
Onnx__ModelProto *onnx_raw_decode(unsigned char *buf, size_t len, int *nomem);

#endif
