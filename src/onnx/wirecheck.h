/* A pass over protobuf wire format before decoding: protobuf-c recurses once per nested
 * message without a limit, so a hostile file of deeply nested graphs could exhaust the stack.
 * This walk checks nesting depth and every length against the bytes that remain. */
#ifndef ONNX_WIRECHECK_H
#define ONNX_WIRECHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define ONNX_WIRE_MAX_DEPTH 64

/* Returns 0 if data is well-formed wire format for desc with nesting at most
 * ONNX_WIRE_MAX_DEPTH, else -1. */
int onnx_wire_check(const uint8_t *data, size_t len, const ProtobufCMessageDescriptor *desc);

#endif
