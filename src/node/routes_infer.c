/* POST /v2/models/{m}/infer and POST /process: decode into the arena, hand the request to
 * the scheduler, and answer when done() comes back (hopping from the scheduler's thread to
 * the connection's loop thread through http_ex_post). */
#include "inferd/clock.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inferd/http_buf.h"
#include "kserve.h"
#include "routes.h"

enum job_kind { JOB_KSERVE, JOB_PROCESS };

typedef struct infer_job {
    infer_request req;       /* first: the scheduler sees only this */
    http_exchange *ex;
    routes_ctx *ctx;
    int kind;
    char *id;
    size_t id_len;
} infer_job;

static void job_free(infer_job *job)
{
    free(job->id);
    free(job);
}

static void answer_error(http_exchange *ex, const infer_request *req)
{
    char hdr[64] = "";
    int status = req->status >= 400 && req->status <= 599 ? req->status : 500;
    if (status == 429 || status == 503)
        snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n",
                 req->retry_after_s > 0 ? req->retry_after_s : 1);
    http_ex_error(ex, status, hdr, "%s", req->error[0] ? req->error : "request failed");
}

static void answer_process(http_exchange *ex, infer_job *job)
{
    const infer_request *req = &job->req;
    char err[256];
    http_buf b;
    http_buf_init(&b);
    const shm_tensor *t = &req->outputs[0];
    const uint8_t *p;
    uint32_t len;
    if (req->n_outputs < 1 || t->dtype != INFERD_DTYPE_BYTES || t->nbytes < 4 ||
        !shm_arena_range_ok(job->ctx->region, t->offset, t->nbytes)) {
        snprintf(err, sizeof err, "the reverse model returned no text output");
        goto fail;
    }
    p = shm_arena_ptr(job->ctx->region, t->offset);
    memcpy(&len, p, 4);
    if (len > t->nbytes - 4) {
        snprintf(err, sizeof err, "the reverse model returned a truncated text output");
        goto fail;
    }
    /* byte-exact with the prior server: {"result": "WORKER_PROCESSED: ..."} */
    http_buf_puts(&b, "{\"result\": ");
    http_buf_json_string(&b, (const char *)p + 4, len);
    http_buf_puts(&b, "}");
    routes_send_buf(ex, 200, &b);
    return;
fail:
    http_buf_free(&b);
    http_ex_error(ex, 500, "", "%s", err);
}

/* On the connection's loop thread. */
static void finish_on_loop(http_exchange *ex, void *arg)
{
    infer_job *job = arg;
    routes_ctx *ctx = job->ctx;
    if (http_ex_orphaned(ex)) {
        http_ex_respond(ex, 0, NULL, NULL, 0, "");   /* frees the exchange */
    } else if (job->req.status != 0) {
        answer_error(ex, &job->req);
    } else if (job->kind == JOB_PROCESS) {
        answer_process(ex, job);
    } else {
        char err[256];
        http_buf b;
        http_buf_init(&b);
        const model_config *m = sched_model(ctx->sched, job->req.model);
        if (kserve_encode_infer(&job->req, m, ctx->region, job->id, job->id_len, &b, err,
                                sizeof err) == 0) {
            routes_send_buf(ex, 200, &b);
        } else {
            http_buf_free(&b);
            http_ex_error(ex, 500, "", "%s", err);
        }
    }
    sched_release(ctx->sched, &job->req);
    job_free(job);
}

/* On any thread (see infer_done_cb): hop to the exchange's loop. */
static void on_done(infer_request *req)
{
    infer_job *job = (infer_job *)req;
    http_ex_post(job->ex, finish_on_loop, job);
}

/* Deadline from parameters.timeout (µs), else the Inferd-Timeout-Ms header, else the model's
 * timeout_ms. Returns 0, or -1 with err when the header is malformed. */
static int set_deadline(http_exchange *ex, const model_config *m, int64_t timeout_us,
                        infer_request *req, char *err, size_t err_len)
{
    int64_t timeout_ns = m->timeout_ms > 0 ? m->timeout_ms * 1000000 : 0;
    const char *h = http_ex_header(ex, "inferd-timeout-ms");
    if (timeout_us >= 0) {
        timeout_ns = timeout_us * 1000;
    } else if (h) {
        char *end;
        errno = 0;
        long long v = strtoll(h, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (errno || end == h || *end || v < 0 || v > 86400000LL * 365) {
            snprintf(err, err_len, "header Inferd-Timeout-Ms: must be a non-negative integer "
                     "(milliseconds)");
            return -1;
        }
        timeout_ns = (int64_t)v * 1000000;
    }
    req->deadline_ns = timeout_ns > 0 ? clock_now_ns() + timeout_ns : 0;
    return 0;
}

/* On the loop thread, when the client left before its answer: a request still queued is
 * taken out (its done() then comes at once); one already in a batch runs to the end. */
static void on_orphan(http_exchange *ex, void *arg)
{
    (void)ex;
    infer_job *job = arg;
    sched_cancel(job->ctx->sched, &job->req);
}

static void submit(http_exchange *ex, infer_job *job)
{
    routes_ctx *ctx = job->ctx;
    http_ex_on_orphan(ex, on_orphan, job);
    job->req.done = on_done;
    job->req.user = job;
    job->req.n_outputs = 0;
    if (sched_submit(ctx->sched, &job->req) != 0) {
        answer_error(ex, &job->req);
        sched_release(ctx->sched, &job->req);
        job_free(job);
    }
    /* else: job belongs to the scheduler until on_done */
}

static infer_job *job_new(http_exchange *ex, routes_ctx *ctx, int model, int kind)
{
    infer_job *job = calloc(1, sizeof *job);
    if (!job) {
        http_ex_error(ex, 500, "", "out of memory");
        return NULL;
    }
    job->ex = ex;
    job->ctx = ctx;
    job->kind = kind;
    job->req.model = model;
    job->req.delay_us = -1;
    return job;
}

void routes_infer(http_exchange *ex, routes_ctx *ctx, int model)
{
    const model_config *m = sched_model(ctx->sched, model);
    infer_job *job = job_new(ex, ctx, model, JOB_KSERVE);
    if (!job) return;
    char err[512];
    size_t len;
    const char *body = http_ex_body(ex, &len);
    kserve_params params;
    int status = kserve_decode_infer(body, len, m, ctx->region, sched_arena(ctx->sched),
                                     &job->req, &params, err, sizeof err);
    if (status != 0) {
        sched_note_rejected(ctx->sched, model);
        http_ex_error(ex, status, status == 503 ? "Retry-After: 1\r\n" : "", "%s", err);
        job_free(job);
        return;
    }
    job->id = params.id;
    job->id_len = params.id_len;
    if (set_deadline(ex, m, params.timeout_us, &job->req, err, sizeof err)) {
        sched_note_rejected(ctx->sched, model);
        kserve_free_inputs(sched_arena(ctx->sched), &job->req);
        http_ex_error(ex, 400, "", "%s", err);
        job_free(job);
        return;
    }
    submit(ex, job);
}

void routes_process(http_exchange *ex, routes_ctx *ctx)
{
    size_t len;
    const char *body = http_ex_body(ex, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        http_ex_error(ex, 400, "", "malformed JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return;
    }
    json_t *msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
    if (!json_is_string(msg)) {
        http_ex_error(ex, 400, "", "expected a JSON object with a string field 'message'");
        json_decref(root);
        return;
    }
    int model = sched_find_model(ctx->sched, "reverse");
    const model_config *m = model >= 0 ? sched_model(ctx->sched, model) : NULL;
    if (!m) {
        http_ex_error(ex, 503, "Retry-After: 1\r\n", "model 'reverse' is not loaded");
        json_decref(root);
        return;
    }
    if (m->n_inputs != 1 || m->inputs[0].dtype != INFERD_DTYPE_BYTES) {
        http_ex_error(ex, 500, "", "model 'reverse' does not take one BYTES input");
        json_decref(root);
        return;
    }
    infer_job *job = job_new(ex, ctx, model, JOB_PROCESS);
    if (!job) {
        json_decref(root);
        return;
    }
    /* one string element: shape [1, 1, ...] (batch dim first when batched) */
    shm_tensor *t = &job->req.inputs[0];
    const model_io *io = &m->inputs[0];
    int batched = m->max_batch_size > 0;
    t->dtype = INFERD_DTYPE_BYTES;
    t->ndim = (uint32_t)(io->ndim + batched);
    for (uint32_t d = 0; d < t->ndim; d++) {
        int64_t md = batched && d == 0 ? 1 : io->dims[d - batched];
        if (md != -1 && md != 1) {
            http_ex_error(ex, 500, "", "model 'reverse' input shape does not take one string");
            json_decref(root);
            job_free(job);
            return;
        }
        t->dims[d] = 1;
    }
    size_t n = json_string_length(msg);
    uint64_t off;
    if (n > UINT32_MAX || shm_arena_alloc(sched_arena(ctx->sched), 4 + (uint64_t)n, &off)) {
        http_ex_error(ex, 503, "Retry-After: 1\r\n", "no room in the tensor arena; try again "
                      "later");
        json_decref(root);
        job_free(job);
        return;
    }
    uint8_t *p = shm_arena_ptr(ctx->region, off);
    uint32_t l = (uint32_t)n;
    memcpy(p, &l, 4);
    memcpy(p + 4, json_string_value(msg), n);
    json_decref(root);
    t->offset = off;
    t->nbytes = 4 + (uint64_t)n;
    job->req.n_inputs = 1;
    job->req.batch_rows = 1;
    job->req.output_mask = 1;
    char err[256];
    if (set_deadline(ex, m, -1, &job->req, err, sizeof err)) {
        kserve_free_inputs(sched_arena(ctx->sched), &job->req);
        http_ex_error(ex, 400, "", "%s", err);
        job_free(job);
        return;
    }
    submit(ex, job);
}
