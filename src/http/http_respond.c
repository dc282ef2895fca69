/* The handler's answer calls: http_ex_respond and its JSON-error form http_ex_error. The
 * response is built by http_exchange.c and queued by http_conn.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_internal.h"

void http_ex_respond(http_exchange *ex, int status, const char *content_type, char *body,
                     size_t len, const char *extra_headers)
{
    if (!ex) {
        free(body);
        return;
    }
    http_exchange_unreserve(ex); /* before the answer can be written (http_internal.h) */
    http_exchange_set_response(ex, status, content_type, body, len, extra_headers);
    http_conn_respond(ex);
}

int http_ex_body_streamed(const http_exchange *ex)
{
    return ex->body_streamed;
}

void http_ex_body_reader(http_exchange *ex, http_body_fn fn, void *arg)
{
    ex->body_fn = fn;
    ex->body_arg = arg;
}

void http_ex_body_pause(http_exchange *ex, int pause)
{
    if (ex->body_paused == (pause != 0)) return;
    ex->body_paused = pause != 0;
    if (!pause) http_conn_body_resume(ex);
}

void http_ex_respond_head(http_exchange *ex, int status, const char *content_type, size_t length,
                          const char *extra_headers)
{
    if (!ex) return;
    if (ex->method != HTTP_HEAD) {
        http_ex_error(ex, 500, "", "internal error: a HEAD answer to a %s request",
                      http_ex_method_name(ex));
        return;
    }
    ex->has_head_length = 1;
    ex->head_length = length;
    http_ex_respond(ex, status, content_type, NULL, 0, extra_headers);
}

void http_ex_respond_spans(http_exchange *ex, int status, const char *content_type, char *head,
                           size_t head_len, const http_span *spans, int n,
                           const char *extra_headers, void (*done)(void *arg), void *arg)
{
    if (!ex) {
        free(head);
        if (done) done(arg);
        return;
    }
    ex->resp_done = done; /* from here on, freeing ex calls done */
    ex->resp_done_arg = arg;
    if (n < 0 || n > HTTP_MAX_SPANS) {
        free(head);
        http_ex_error(ex, 500, "", "response has too many pieces (%d)", n);
        return;
    }
    size_t total = 0;
    if (n > 0) {
        ex->resp_spans = malloc((size_t)n * sizeof *spans);
        if (!ex->resp_spans) {
            free(head);
            http_ex_error(ex, 500, "", "out of memory");
            return;
        }
        for (int i = 0; i < n; i++) {
            ex->resp_spans[i] = spans[i];
            total += spans[i].len; /* each is a piece of memory: the sum cannot wrap */
        }
    }
    ex->n_spans = n;
    ex->spans_len = total;
    http_ex_respond(ex, status, content_type, head, head_len, extra_headers);
}

void http_ex_error(http_exchange *ex, int status, const char *extra_headers, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = http_error_json(msg, &len);
    http_ex_respond(ex, status, "application/json", body, len, extra_headers);
}
