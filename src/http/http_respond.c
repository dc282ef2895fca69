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
    http_exchange_set_response(ex, status, content_type, body, len, extra_headers);
    http_conn_respond(ex);
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
