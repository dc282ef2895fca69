/* The load-time error record (onnx_load_err, model.h): the first message wins. Used by the loader
 * and by every pass it calls (pbtensor, graph, fold, fuse, prepare, plan). */
#include <stdarg.h>
#include <stdio.h>

#include "model.h"

int onnx_load_fail(onnx_load_err *e, int code, const char *fmt, ...)
{
    if (e->code == 0) { /* keep the first (innermost) message */
        e->code = code;
        if (e->buf && e->len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->buf, e->len, fmt, ap);
            va_end(ap);
        }
    }
    return e->code;
}
