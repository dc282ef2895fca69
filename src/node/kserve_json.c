/* JSON tokenizer and request splitter for streaming tensor data (see kserve_json.h). */
#include "kserve_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/http_buf.h"

#define KJ_MAX_DEPTH 64

static void skip_ws(kj_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

int kj_peek(kj_cursor *c)
{
    skip_ws(c);
    if (c->p >= c->end) return KJ_END;
    switch (*c->p) {
    case '"': return KJ_STRING;
    case '[': return KJ_ARRAY;
    case '{': return KJ_OBJECT;
    case 't': return KJ_TRUE;
    case 'f': return KJ_FALSE;
    case 'n': return KJ_NULL;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': return KJ_NUMBER;
    default: return KJ_BAD;
    }
}

int kj_expect(kj_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return -1;
    c->p++;
    return 0;
}

/* Shared by arrays and objects: close is ']' or '}'. */
static int seq_next(kj_cursor *c, int *first, char close)
{
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == close) {
        c->p++;
        return 0;
    }
    if (*first) {
        *first = 0;
        return 1;
    }
    if (*c->p != ',') return -1;
    c->p++;
    return 1;
}

int kj_array_next(kj_cursor *c, int *first)
{
    return seq_next(c, first, ']');
}
int kj_object_next(kj_cursor *c, int *first)
{
    return seq_next(c, first, '}');
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

int kj_number(kj_cursor *c, int *is_int, int64_t *ival, int *overflow, double *dval)
{
    skip_ws(c);
    const char *s = c->p, *p = s;
    int neg = 0;
    if (p < c->end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= c->end || !is_digit(*p)) return -1;
    uint64_t mag = 0;
    int over = 0;
    if (*p == '0') {
        p++;
    } else {
        while (p < c->end && is_digit(*p)) {
            unsigned d = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - d) / 10) over = 1;
            else mag = mag * 10 + d;
            p++;
        }
    }
    int integer = 1;
    if (p < c->end && *p == '.') {
        integer = 0;
        p++;
        if (p >= c->end || !is_digit(*p)) return -1;
        while (p < c->end && is_digit(*p)) p++;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        integer = 0;
        p++;
        if (p < c->end && (*p == '+' || *p == '-')) p++;
        if (p >= c->end || !is_digit(*p)) return -1;
        while (p < c->end && is_digit(*p)) p++;
    }
    size_t n = (size_t)(p - s);
    char buf[400];
    if (n >= sizeof buf) return -1; /* no sane number is this long */
    if (integer && !over && mag <= ((uint64_t)1 << 53)) {
        /* exact in a double: what strtod would give, without its cost ("-0" is -0.0) */
        *dval = neg ? -(double)mag : (double)mag;
    } else {
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        *dval = strtod(buf, NULL); /* ±HUGE_VAL on overflow: callers range-check */
    }
    *is_int = integer;
    *overflow = 0;
    *ival = 0;
    if (integer) {
        if (over || (!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1))
            *overflow = 1;
        else *ival = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
    c->p = p;
    return 0;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (uint32_t)(ch - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(uint8_t *dst, uint32_t cp)
{
    uint8_t tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (uint8_t)(0xC0 | cp >> 6);
        tmp[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (uint8_t)(0xE0 | cp >> 12);
        tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (uint8_t)(0xF0 | cp >> 18);
        tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (dst) memcpy(dst, tmp, n);
    return n;
}

int kj_string(kj_cursor *c, uint8_t *dst, size_t *len)
{
    skip_ws(c);
    const char *p = c->p, *end = c->end;
    if (p >= end || *p != '"') return -1;
    p++;
    size_t n = 0;
    while (p < end && *p != '"') {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            if (end - p < 2) return -1;
            char e = p[1];
            char simple = e == '"'    ? '"'
                          : e == '\\' ? '\\'
                          : e == '/'  ? '/'
                          : e == 'b'  ? '\b'
                          : e == 'f'  ? '\f'
                          : e == 'n'  ? '\n'
                          : e == 'r'  ? '\r'
                          : e == 't'  ? '\t'
                                      : 0;
            if (simple) {
                if (dst) dst[n] = (uint8_t)simple;
                n++;
                p += 2;
                continue;
            }
            if (e != 'u' || end - p < 6) return -1;
            uint32_t cp;
            if (hex4(p + 2, &cp)) return -1;
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                uint32_t lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            n += put_utf8(dst ? dst + n : NULL, cp);
            continue;
        }
        if (ch >= 0x80) { /* raw UTF-8 must be valid, as jansson requires */
            size_t l = http_utf8_seq_len((const unsigned char *)p, (size_t)(end - p));
            if (!l) return -1;
            if (dst) memcpy(dst + n, p, l);
            n += l;
            p += l;
            continue;
        }
        if (dst) dst[n] = ch;
        n++;
        p++;
    }
    if (p >= end) return -1;
    c->p = p + 1;
    *len = n;
    return 0;
}

int kj_literal(kj_cursor *c, int kind)
{
    const char *word = kind == KJ_TRUE ? "true" : kind == KJ_FALSE ? "false" : "null";
    size_t n = strlen(word);
    skip_ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return -1;
    c->p += n;
    return 0;
}

int kj_skip(kj_cursor *c, int depth)
{
    if (depth > KJ_MAX_DEPTH) return -1;
    int kind = kj_peek(c);
    int first = 1, more;
    size_t len;
    int is_int, over;
    int64_t iv;
    double dv;
    switch (kind) {
    case KJ_STRING: return kj_string(c, NULL, &len);
    case KJ_NUMBER: return kj_number(c, &is_int, &iv, &over, &dv);
    case KJ_TRUE:
    case KJ_FALSE:
    case KJ_NULL: return kj_literal(c, kind);
    case KJ_ARRAY:
        c->p++;
        while ((more = kj_array_next(c, &first)) == 1)
            if (kj_skip(c, depth + 1)) return -1;
        return more;
    case KJ_OBJECT:
        c->p++;
        while ((more = kj_object_next(c, &first)) == 1) {
            if (kj_string(c, NULL, &len) || kj_expect(c, ':') || kj_skip(c, depth + 1)) return -1;
        }
        return more;
    default: return -1;
    }
}

int kj_read_key(kj_cursor *c, char *buf, size_t buf_len)
{
    kj_cursor probe = *c;
    size_t n;
    if (kj_string(&probe, NULL, &n)) return -1;
    if (n < buf_len) {
        if (kj_string(c, (uint8_t *)buf, &n)) return -1;
        buf[n] = '\0';
        if (strlen(buf) != n) buf[0] = '\0'; /* an embedded NUL matches nothing */
    } else {
        *c = probe;
        buf[0] = '\0';
    }
    return kj_expect(c, ':');
}

int kj_sole_string(const char *body, size_t body_len, const char *key, kj_cursor *value,
                   size_t *len)
{
    kj_cursor c = {body, body + body_len};
    size_t key_len = strlen(key);
    if (kj_expect(&c, '{') || kj_peek(&c) != KJ_STRING) return -1;
    if ((size_t)(c.end - c.p) < key_len + 2 || c.p[key_len + 1] != '"' ||
        memcmp(c.p + 1, key, key_len) != 0)
        return -1;
    c.p += key_len + 2;
    if (kj_expect(&c, ':') || kj_peek(&c) != KJ_STRING) return -1;
    *value = c;
    if (kj_string(&c, NULL, len) || kj_expect(&c, '}') || kj_peek(&c) != KJ_END) return -1;
    return 0;
}

static int split_inputs(kj_cursor *c, const char *body, kj_span *spans, http_buf *skel,
                        size_t *copied)
{
    c->p++; /* '[' */
    int first = 1, more, i = 0;
    char key[16];
    while ((more = kj_array_next(c, &first)) == 1) {
        if (kj_peek(c) != KJ_OBJECT) {
            if (kj_skip(c, 2)) return -1;
            i++;
            continue;
        }
        c->p++;
        int f = 1, m;
        while ((m = kj_object_next(c, &f)) == 1) {
            if (kj_read_key(c, key, sizeof key)) return -1;
            if (strcmp(key, "data") != 0) {
                if (kj_skip(c, 3)) return -1;
                continue;
            }
            kj_peek(c); /* to the value's first byte */
            size_t start = (size_t)(c->p - body);
            if (kj_skip(c, 3)) return -1;
            size_t end = (size_t)(c->p - body);
            if (i < KJ_MAX_SPANS && spans[i].len == 0) {
                spans[i].off = start;
                spans[i].len = end - start;
            }
            http_buf_append(skel, body + *copied, start - *copied);
            http_buf_puts(skel, "null");
            *copied = end;
        }
        if (m < 0) return -1;
        i++;
    }
    return more;
}

int kj_split(const char *body, size_t len, kj_span spans[KJ_MAX_SPANS], char **skeleton,
             size_t *skeleton_len, char *err, size_t err_len)
{
    kj_cursor c = {body, body + len};
    memset(spans, 0, sizeof(kj_span) * KJ_MAX_SPANS);
    *skeleton = NULL;
    *skeleton_len = 0;
    if (kj_peek(&c) != KJ_OBJECT) {
        snprintf(err, err_len, "request body must be a JSON object");
        return -1;
    }
    c.p++;
    http_buf skel;
    http_buf_init(&skel);
    size_t copied = 0;
    int first = 1, more;
    char key[16];
    while ((more = kj_object_next(&c, &first)) == 1) {
        if (kj_read_key(&c, key, sizeof key)) goto bad;
        if (strcmp(key, "inputs") == 0 && kj_peek(&c) == KJ_ARRAY) {
            if (split_inputs(&c, body, spans, &skel, &copied)) goto bad;
        } else if (kj_skip(&c, 1)) {
            goto bad;
        }
    }
    if (more < 0) goto bad;
    skip_ws(&c);
    if (c.p != c.end) goto bad;
    http_buf_append(&skel, body + copied, len - copied);
    if (skel.oom) {
        http_buf_free(&skel);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (skel.len > KJ_SKELETON_MAX) {
        http_buf_free(&skel);
        snprintf(err, err_len, "the request's fields other than tensor data exceed %u bytes",
                 KJ_SKELETON_MAX);
        return -1;
    }
    *skeleton = http_buf_take(&skel, skeleton_len);
    return *skeleton ? 0 : -1;
bad:
    http_buf_free(&skel);
    snprintf(err, err_len, "malformed JSON at byte %zu", (size_t)(c.p - body));
    return -1;
}
