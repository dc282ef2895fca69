/* One exchange: the request as parsed (target split into path and query, headers, body),
 * its accessors, and its response (status line and headers built here; queued and written
 * by http_conn.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inferd/http_buf.h"
#include "http_internal.h"

int http_exchange_reserve(http_exchange *ex, size_t n)
{
    http_server *srv = ex->lp->srv;
    size_t max = srv->opts.max_inflight_bytes;
    size_t cur = atomic_load(&srv->inflight_bytes);
    do {
        if (max && (n > max || cur > max - n)) return -1;
    } while (!atomic_compare_exchange_weak(&srv->inflight_bytes, &cur, cur + n));
    ex->reserved += n;
    return 0;
}

void http_exchange_unreserve(http_exchange *ex)
{
    if (ex->reserved) atomic_fetch_sub(&ex->lp->srv->inflight_bytes, ex->reserved);
    ex->reserved = 0;
}

/* A buffer a reused exchange keeps: small ones only, emptied (NUL-ended, as the parser
 * leaves them). Large ones are freed, so the cache holds at most HTTP_EX_KEEP_BYTES each. */
static void keep_small(char **buf, size_t *len, size_t *cap)
{
    if (*buf && *cap <= HTTP_EX_KEEP_BYTES) {
        (*buf)[0] = '\0';
    } else {
        free(*buf);
        *buf = NULL;
        *cap = 0;
    }
    *len = 0;
}

http_exchange *http_exchange_new(http_loop *lp, http_conn *c)
{
    http_exchange *ex = lp->ex_cache;
    if (ex) {
        lp->ex_cache = ex->next;
        lp->ex_cached--;
        /* zero all but the kept buffers */
        http_exchange kept = *ex;
        memset(ex, 0, sizeof *ex);
        ex->url = kept.url;
        ex->url_cap = kept.url_cap;
        ex->headers = kept.headers;
        ex->headers_cap = kept.headers_cap;
        ex->body = kept.body;
        ex->body_cap = kept.body_cap;
        ex->resp_head.data = kept.resp_head.data;
        ex->resp_head.cap = kept.resp_head.cap;
    } else {
        ex = calloc(1, sizeof *ex);
        if (!ex) return NULL;
    }
    ex->lp = lp;
    ex->conn = c;
    ex->method = -1;
    ex->query = "";
    return ex;
}

static void exchange_destroy(http_exchange *ex)
{
    free(ex->url);
    free(ex->headers);
    free(ex->body);
    http_buf_free(&ex->resp_head);
    free(ex);
}

void http_exchange_free(http_exchange *ex)
{
    if (!ex) return;
    if (ex->resp_done) ex->resp_done(ex->resp_done_arg);
    free(ex->resp_spans);
    ex->resp_spans = NULL;
    http_exchange_unreserve(ex);
    free(ex->resp_body);
    http_loop *lp = ex->lp;
    if (lp->ex_cached >= HTTP_EX_CACHE) {
        exchange_destroy(ex);
        return;
    }
    keep_small(&ex->url, &ex->url_len, &ex->url_cap);
    keep_small(&ex->headers, &ex->headers_len, &ex->headers_cap);
    keep_small(&ex->body, &ex->body_len, &ex->body_cap);
    if (ex->resp_head.oom || ex->resp_head.cap > HTTP_EX_KEEP_BYTES) http_buf_free(&ex->resp_head);
    ex->resp_head.len = 0;
    ex->next = lp->ex_cache;
    lp->ex_cache = ex;
    lp->ex_cached++;
}

void http_exchange_cache_drop(http_loop *lp)
{
    while (lp->ex_cache) {
        http_exchange *ex = lp->ex_cache;
        lp->ex_cache = ex->next;
        exchange_destroy(ex);
    }
    lp->ex_cached = 0;
}

void http_exchange_split_target(http_exchange *ex)
{
    if (!ex->url) return;
    char *q = ex->url + strcspn(ex->url, "?#");
    if (*q == '?') {
        *q = '\0';
        char *query = q + 1;
        query[strcspn(query, "#")] = '\0'; /* a fragment is never the server's */
        ex->query = query;
    } else {
        *q = '\0';
    }
}

void http_exchange_set_response(http_exchange *ex, int status, const char *content_type, char *body,
                                size_t len, const char *extra_headers)
{
    ex->status = status;
    ex->resp_body = body;
    ex->resp_body_len = body ? len : 0;
    size_t total = ex->has_head_length ? ex->head_length : ex->resp_body_len + ex->spans_len;
    /* HEAD: the same headers as GET, Content-Length included (RFC 9110 9.3.2); the body is
     * left out when written. No printf: this runs once per response. */
    http_buf *b = &ex->resp_head;
    b->len = 0;
    http_buf_puts(b, "HTTP/1.1 ");
    http_buf_put_i64(b, status);
    http_buf_puts(b, " ");
    http_buf_puts(b, http_status_text(status));
    http_buf_puts(b, "\r\nContent-Type: ");
    http_buf_puts(b, content_type ? content_type : "application/json");
    http_buf_puts(b, "\r\nContent-Length: ");
    http_buf_put_u64(b, total);
    http_buf_puts(b, "\r\n");
    if (extra_headers) http_buf_puts(b, extra_headers);
}

char *http_error_json(const char *msg, size_t *len)
{
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"error\": ");
    http_buf_json_string(&b, msg, strlen(msg));
    http_buf_puts(&b, "}");
    return http_buf_take(&b, len);
}

int64_t http_ex_arrival_ns(const http_exchange *ex)
{
    return ex->arrival_ns;
}

int http_ex_orphaned(const http_exchange *ex)
{
    return ex->conn == NULL;
}

void http_ex_on_orphan(http_exchange *ex, void (*fn)(http_exchange *ex, void *arg), void *arg)
{
    ex->orphan_fn = fn;
    ex->orphan_arg = arg;
}

const char *http_ex_body(const http_exchange *ex, size_t *len)
{
    if (len) *len = ex->body_len;
    return ex->body ? ex->body : "";
}

const char *http_ex_path(const http_exchange *ex)
{
    return ex->url ? ex->url : "";
}

const char *http_ex_query(const http_exchange *ex)
{
    return ex->query;
}

int http_ex_method(const http_exchange *ex)
{
    switch (ex->method) {
    case HTTP_GET: return HTTP_KIND_GET;
    case HTTP_HEAD: return HTTP_KIND_HEAD;
    case HTTP_POST: return HTTP_KIND_POST;
    default: return HTTP_KIND_OTHER;
    }
}

const char *http_ex_method_name(const http_exchange *ex)
{
    return ex->method >= 0 ? http_method_str((enum http_method)ex->method) : "?";
}

const char *http_ex_header(const http_exchange *ex, const char *name)
{
    if (!ex->headers) return NULL; /* no headers (NULL + 0 is undefined) */
    const char *p = ex->headers, *end = ex->headers + ex->headers_len;
    while (p < end) {
        const char *value = p + strlen(p) + 1;
        if (value >= end) break;
        if (strcasecmp(p, name) == 0) return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

int http_ex_header_next(const http_exchange *ex, size_t *pos, const char **name, const char **value)
{
    if (!ex->headers || *pos >= ex->headers_len) return 0;
    const char *p = ex->headers + *pos, *end = ex->headers + ex->headers_len;
    const char *v = p + strlen(p) + 1;
    if (v >= end) return 0;
    *name = p;
    *value = v;
    *pos = (size_t)(v + strlen(v) + 1 - ex->headers);
    return 1;
}

struct uv_loop_s *http_ex_loop(const http_exchange *ex)
{
    return &ex->lp->loop;
}

int http_ex_loop_index(const http_exchange *ex)
{
    return ex->lp->index;
}
