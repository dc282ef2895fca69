/* Growable byte buffer and JSON string escaping (see http_buf.h): in common, below the HTTP
 * server, the node and the metrics writer that all build text in it. */
#include "inferd/http_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_buf_init(http_buf *b)
{
    memset(b, 0, sizeof *b);
}

void http_buf_free(http_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int http_buf_reserve(http_buf *b, size_t n)
{
    if (b->oom) return -1;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void http_buf_append(http_buf *b, const void *p, size_t n)
{
    if (http_buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void http_buf_printf(http_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        http_buf_append(b, small, (size_t)n);
        return;
    }
    if (http_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t http_dec_u64(char *dst, unsigned long long v)
{
    char tmp[HTTP_DEC_U64_MAX];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(dst, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

void http_buf_put_u64(http_buf *b, unsigned long long v)
{
    char tmp[HTTP_DEC_U64_MAX];
    http_buf_append(b, tmp, http_dec_u64(tmp, v));
}

void http_buf_put_i64(http_buf *b, long long v)
{
    if (v < 0) {
        http_buf_append(b, "-", 1);
        http_buf_put_u64(b, 0ull - (unsigned long long)v); /* no overflow at LLONG_MIN */
        return;
    }
    http_buf_put_u64(b, (unsigned long long)v);
}

size_t http_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void http_buf_json_string(http_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    if (http_buf_reserve(b, n + 2)) return;
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* copy a run of bytes that need no escaping in one go */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') run++;
        if (run > i) {
            http_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned c = s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            http_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n'   ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                            : NULL;
            if (named) {
                http_buf_append(b, named, 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                http_buf_append(b, esc, 6);
            }
            i++;
        } else {
            size_t l = http_utf8_seq_len(s + i, n - i);
            if (l) {
                http_buf_append(b, s + i, l);
                i += l;
            } else {
                http_buf_append(b, "\\ufffd", 6);
                i++;
            }
        }
    }
    http_buf_append(b, "\"", 1);
}

char *http_buf_take(http_buf *b, size_t *len)
{
    if (b->oom) {
        http_buf_free(b);
        if (len) *len = 0;
        return NULL;
    }
    if (!b->data) {
        if (http_buf_reserve(b, 0)) return NULL;
        b->data[0] = '\0';
    }
    char *d = b->data;
    if (len) *len = b->len;
    memset(b, 0, sizeof *b);
    return d;
}
