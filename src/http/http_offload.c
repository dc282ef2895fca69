/* Work too heavy for a loop thread (decoding or encoding a large body), run on libuv's
 * thread pool so that the loop keeps serving its other connections meanwhile. */
#include <stdlib.h>

#include "http_internal.h"

typedef struct offload {
    uv_work_t req;
    http_exchange *ex;
    void (*work)(void *arg);
    void (*done)(http_exchange *ex, void *arg);
    void *arg;
} offload;

static void run_work(uv_work_t *req)
{
    offload *o = req->data;
    o->work(o->arg);
}

static void after_work(uv_work_t *req, int status)
{
    (void)status; /* never cancelled: uv_cancel is not used */
    offload *o = req->data;
    http_exchange *ex = o->ex;
    void (*done)(http_exchange *, void *) = o->done;
    void *arg = o->arg;
    free(o);
    done(ex, arg);
}

int http_ex_offload(http_exchange *ex, void (*work)(void *arg),
                    void (*done)(http_exchange *ex, void *arg), void *arg)
{
    offload *o = malloc(sizeof *o);
    if (!o) return -1;
    o->req.data = o;
    o->ex = ex;
    o->work = work;
    o->done = done;
    o->arg = arg;
    /* a queued request keeps the loop running until after_work, also during shutdown */
    if (uv_queue_work(&ex->lp->loop, &o->req, run_work, after_work) != 0) {
        free(o);
        return -1;
    }
    return 0;
}
