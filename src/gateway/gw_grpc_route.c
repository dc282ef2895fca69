/* What the gateway reads of a gRPC call to route it, without decoding tensors: the kind of
 * method, field 1 of the request (the model name), and the grpc-timeout and grpc-message
 * texts it writes and reads. Pure functions (gw_grpc.h). */
#include <stdio.h>
#include <string.h>

#include "gw_grpc.h"

#define SVC "/inference.GRPCInferenceService/"

int gw_grpc_kind(const char *method)
{
    static const struct {
        const char *name;
        int kind;
    } tab[] = {
        {"ServerLive", GW_GRPC_LIVE},   {"ServerReady", GW_GRPC_READY},
        {"ModelInfer", GW_GRPC_INFER},  {"ModelStreamInfer", GW_GRPC_STREAM},
        {"ModelReady", GW_GRPC_MODEL},  {"ModelMetadata", GW_GRPC_MODEL},
        {"ModelConfig", GW_GRPC_MODEL}, {"ModelStatistics", GW_GRPC_MODEL},
    };
    if (strncmp(method, SVC, sizeof SVC - 1) != 0) return GW_GRPC_OTHER;
    const char *m = method + sizeof SVC - 1;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(m, tab[i].name) == 0) return tab[i].kind;
    return GW_GRPC_OTHER;
}

/* A varint at *p (< end); 0, or -1 if cut or longer than 10 bytes. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

int gw_grpc_field1(const uint8_t *msg, size_t len, char *out, size_t cap)
{
    const uint8_t *p = msg, *end = msg + len;
    while (p < end) {
        uint64_t tag, n;
        if (varint(&p, end, &tag) != 0) return -1;
        switch (tag & 7) {
        case 0: /* varint */
            if (varint(&p, end, &n) != 0) return -1;
            break;
        case 1: /* 64-bit */
            if ((size_t)(end - p) < 8) return -1;
            p += 8;
            break;
        case 5: /* 32-bit */
            if ((size_t)(end - p) < 4) return -1;
            p += 4;
            break;
        case 2: /* length-delimited */
            if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p)) return -1;
            if (tag >> 3 == 1) {
                if (n >= cap) return -1;
                memcpy(out, p, (size_t)n);
                out[n] = '\0';
                return 0;
            }
            p += n;
            break;
        default: return -1;
        }
    }
    return -1;
}

void gw_grpc_timeout_format(int64_t ns, char *out, size_t cap)
{
    static const struct {
        char unit;
        int64_t ns;
    } units[] = {{'n', 1}, {'u', 1000}, {'m', 1000000}, {'S', 1000000000}, {'M', 60000000000}};
    if (ns < 1) ns = 1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t v = ns / units[i].ns + (ns % units[i].ns != 0); /* rounded up: never 0 */
        if (v <= 99999999) {
            snprintf(out, cap, "%lld%c", (long long)v, units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "99999999H");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void gw_grpc_message_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap) return;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
            (lo = hexval(in[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}
