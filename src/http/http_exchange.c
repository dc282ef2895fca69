/* The exchange's accessors (request line, headers, body, user slot) and the JSON error
 * answer; the response itself is queued and written by http_conn.c (http_ex_respond). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inferd/http_buf.h"
#include "http_internal.h"

void http_exchange_free(http_exchange *ex)
{
    if (!ex) return;
    free(ex->url);
    free(ex->headers);
    free(ex->body);
    free(ex->resp_head);
    free(ex->resp_body);
    free(ex);
}

void http_ex_error(http_exchange *ex, int status, const char *extra_headers, const char *fmt,
                   ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"error\": ");
    http_buf_json_string(&b, msg, strlen(msg));
    http_buf_puts(&b, "}");
    size_t len;
    char *body = http_buf_take(&b, &len);
    http_ex_respond(ex, status, "application/json", body, len, extra_headers);
}

int http_ex_orphaned(const http_exchange *ex) { return ex->conn == NULL; }

void http_ex_on_orphan(http_exchange *ex, void (*fn)(http_exchange *ex, void *arg), void *arg)
{
    ex->orphan_fn = fn;
    ex->orphan_arg = arg;
}
void **http_ex_user(http_exchange *ex) { return &ex->user; }

const char *http_ex_body(const http_exchange *ex, size_t *len)
{
    if (len) *len = ex->body_len;
    return ex->body ? ex->body : "";
}

const char *http_ex_path(const http_exchange *ex) { return ex->url ? ex->url : ""; }

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
    if (!ex->headers) return NULL;   /* no headers (NULL + 0 is undefined) */
    const char *p = ex->headers, *end = ex->headers + ex->headers_len;
    while (p < end) {
        const char *value = p + strlen(p) + 1;
        if (value >= end) break;
        if (strcasecmp(p, name) == 0) return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}
