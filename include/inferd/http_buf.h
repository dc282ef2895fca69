/* A growable byte buffer for building HTTP responses and JSON text, with JSON string
 * escaping. The buffer owns its memory: free it with http_buf_free, or take it with
 * http_buf_take (then the caller frees it with free()). */
#ifndef NODE_HTTP_BUF_H
#define NODE_HTTP_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct http_buf {
    char *data;
    size_t len, cap;
    int oom; /* set once an allocation failed; later appends do nothing */
} http_buf;

void http_buf_init(http_buf *b);
void http_buf_free(http_buf *b);
/* Makes room for n more bytes. 0 or -1 (and oom set). */
int http_buf_reserve(http_buf *b, size_t n);
void http_buf_append(http_buf *b, const void *p, size_t n);
/* Inline so that a literal's length is known when compiled (the response head and the
 * encoders append dozens of literals per answer). */
static inline void http_buf_puts(http_buf *b, const char *s)
{
    http_buf_append(b, s, strlen(s));
}
void http_buf_printf(http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append v in decimal, as printf's %lld / %llu would, without printf (the hot path prints a
 * number per tensor element). */
void http_buf_put_i64(http_buf *b, long long v);
/* v's decimal digits into dst (at most HTTP_DEC_U64_MAX bytes, no NUL); returns their count. */
#define HTTP_DEC_U64_MAX 20
size_t http_dec_u64(char *dst, unsigned long long v);
void http_buf_put_u64(http_buf *b, unsigned long long v);
/* Appends s[0..n) as a quoted JSON string. Control characters are escaped; bytes that are not
 * valid UTF-8 become U+FFFD, so the output is always valid JSON. */
void http_buf_json_string(http_buf *b, const char *s, size_t n);
/* Returns the data (NUL-terminated, caller frees) and resets b; NULL if oom. */
char *http_buf_take(http_buf *b, size_t *len);

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
size_t http_utf8_seq_len(const unsigned char *s, size_t n);

#endif
