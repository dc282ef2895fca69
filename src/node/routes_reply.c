/* The routes' common answer: a JSON body built in an http_buf. Below every routes_*.c file,
 * so that the dispatcher and the routes it calls all reach it. */
#include "inferd/http_buf.h"
#include "routes.h"

void routes_send_buf(http_exchange *ex, int status, http_buf *b)
{
    size_t len;
    char *body = http_buf_take(b, &len);
    if (!body) {
        http_ex_error(ex, 500, "", "out of memory");
        return;
    }
    http_ex_respond(ex, status, "application/json", body, len, "");
}
