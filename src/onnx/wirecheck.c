/* Depth-bounded recursive walk over protobuf wire format (see wirecheck.h). */
#include "wirecheck.h"

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int check(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *desc, int depth)
{
    if (depth > ONNX_WIRE_MAX_DEPTH) return -1;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(p, len, &pos, &tag) < 0) return -1;
        uint32_t wt = (uint32_t)(tag & 7);
        uint64_t id = tag >> 3;
        if (id == 0 || id > 0x1fffffff) return -1;
        switch (wt) {
        case 0:
            if (read_varint(p, len, &pos, &v) < 0) return -1;
            break;
        case 1:
            if (len - pos < 8) return -1;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) return -1;
            pos += 4;
            break;
        case 2: {
            if (read_varint(p, len, &pos, &v) < 0 || v > len - pos) return -1;
            const ProtobufCFieldDescriptor *f =
                desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                check(p + pos, (size_t)v, f->descriptor, depth + 1) < 0)
                return -1;
            pos += (size_t)v;
            break;
        }
        default: return -1; /* groups (3, 4) and reserved types are not used by ONNX */
        }
    }
    return 0;
}

int onnx_wire_check(const uint8_t *data, size_t len, const ProtobufCMessageDescriptor *desc)
{
    return check(data, len, desc, 0);
}
