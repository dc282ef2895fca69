/* gRPC over HTTP/2 framing details that need no session: the 5-byte message prefix, the
 * grpc-timeout header, the percent-encoding of grpc-message (PROTOCOL-HTTP2.md), and the
 * queue of framed messages a data provider pulls from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/grpc_server.h"

int grpc_timeout_parse(const char *value, size_t len, int64_t *ns)
{
    /* TimeoutValue: 1 to 8 ASCII digits; TimeoutUnit: H M S m u n */
    if (len < 2 || len > 9) return -1;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (value[i] < '0' || value[i] > '9') return -1;
        v = v * 10 + (value[i] - '0');
    }
    int64_t unit;
    switch (value[len - 1]) {
    case 'H': unit = 3600LL * 1000000000LL; break;
    case 'M': unit = 60LL * 1000000000LL; break;
    case 'S': unit = 1000000000LL; break;
    case 'm': unit = 1000000LL; break;
    case 'u': unit = 1000LL; break;
    case 'n': unit = 1; break;
    default: return -1;
    }
    *ns = v > INT64_MAX / unit ? INT64_MAX : v * unit;
    return 0;
}

void grpc_message_encode(const char *msg, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (!out_len) return;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        /* unreserved: printable ASCII except '%' */
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            if (o + 1 >= out_len) break;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= out_len) break;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

void grpc_prefix_read(const uint8_t *p, int *compressed, uint32_t *len)
{
    *compressed = p[0];
    *len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | (uint32_t)p[4];
}

void grpc_prefix_write(uint8_t *p, uint32_t len)
{
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

const char *grpc_status_name(int code)
{
    static const char *names[] = {"OK",
                                  "CANCELLED",
                                  "UNKNOWN",
                                  "INVALID_ARGUMENT",
                                  "DEADLINE_EXCEEDED",
                                  "NOT_FOUND",
                                  "ALREADY_EXISTS",
                                  "PERMISSION_DENIED",
                                  "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION",
                                  "ABORTED",
                                  "OUT_OF_RANGE",
                                  "UNIMPLEMENTED",
                                  "INTERNAL",
                                  "UNAVAILABLE",
                                  "DATA_LOSS",
                                  "UNAUTHENTICATED"};
    return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "UNKNOWN";
}

struct grpc_outq_chunk {
    struct grpc_outq_chunk *next;
    uint8_t *buf;
    size_t len, pos;
};

int grpc_outq_push(grpc_outq *q, uint8_t *buf, size_t len)
{
    struct grpc_outq_chunk *ch = calloc(1, sizeof *ch);
    if (!ch) {
        free(buf);
        return -1;
    }
    ch->buf = buf;
    ch->len = len;
    q->bytes += len;
    if (q->tail) q->tail->next = ch;
    else q->head = ch;
    q->tail = ch;
    return 0;
}

size_t grpc_outq_pull(grpc_outq *q, uint8_t *out, size_t len)
{
    size_t n = 0;
    while (n < len && q->head) {
        struct grpc_outq_chunk *ch = q->head;
        size_t take = ch->len - ch->pos < len - n ? ch->len - ch->pos : len - n;
        memcpy(out + n, ch->buf + ch->pos, take);
        ch->pos += take;
        n += take;
        q->bytes -= take;
        if (ch->pos == ch->len) {
            q->head = ch->next;
            if (!q->head) q->tail = NULL;
            free(ch->buf);
            free(ch);
        }
    }
    return n;
}

void grpc_outq_free(grpc_outq *q)
{
    for (struct grpc_outq_chunk *ch = q->head, *next; ch; ch = next) {
        next = ch->next;
        free(ch->buf);
        free(ch);
    }
    q->head = q->tail = NULL;
    q->bytes = 0;
}
