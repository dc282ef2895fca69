/* ModelInfer and ModelStreamInfer: each request message is unpacked, decoded into the arena
 * (grpc_infer_decode.c), given the deadline of the HTTP path, and submitted; the scheduler's
 * done() hops back to the gRPC loop (grpc_call_post), where the answer is packed from the
 * arena. A unary call ends with its one answer; a stream sends each answer as it comes (out
 * of order, matched by id; failures in error_message) and ends once the client has
 * half-closed and nothing is in flight. A call that goes away cancels its queued requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_infer.h"
#include "grpc_service.h"
#include "kserve.h"

struct grpc_job {
    infer_request req; /* first: the scheduler sees only this */
    repo_model *rm;    /* a reference (config, scheduler, region), dropped by job_free */
    grpc_call *call;
    grpc_rpc *rpc;
    grpc_job *prev, *next;
    int linked; /* in rpc->jobs and counted in rpc->inflight (until job_answer) */
    char *id;
    client_shm *cshm;         /* borrowed: the registry params.shm's references are in */
    grpc_infer_params params; /* its client shared-memory references, dropped by job_free */
};

static void job_unlink(grpc_rpc *rpc, grpc_job *job)
{
    if (job->prev) job->prev->next = job->next;
    else rpc->jobs = job->next;
    if (job->next) job->next->prev = job->prev;
    job->prev = job->next = NULL;
    job->linked = 0;
    rpc->inflight--;
}

static void job_free(grpc_job *job)
{
    kserve_shm_refs_release(job->cshm, &job->params.shm);
    repository_release(job->rm);
    free(job->id);
    free(job);
}

void grpc_infer_maybe_end(grpc_call *call, grpc_rpc *rpc)
{
    if (!rpc->streaming || rpc->inflight) return;
    if (rpc->cancelled) grpc_rpc_end(call, GRPC_STATUS_CANCELLED, "cancelled");
    else if (rpc->half_closed) grpc_rpc_end(call, GRPC_STATUS_OK, NULL);
}

/* A request of a stream failed: one ModelStreamInferResponse with error_message (and the
 * request's id and model, so the client can match it). */
static void stream_error(grpc_call *call, const char *model, const char *id, const char *msg)
{
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    r.model_name = (char *)(model ? model : "");
    r.id = (char *)(id ? id : "");
    Inference__ModelStreamInferResponse s = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
    s.error_message = (char *)(msg && msg[0] ? msg : "request failed");
    s.infer_response = &r;
    grpc_rpc_send(call, &s.base);
}

/* Ends a unary call with an error, or reports it on the stream. Returns 1 if the call ended. */
static int fail(grpc_call *call, grpc_rpc *rpc, int code, const char *model, const char *id,
                const char *msg)
{
    if (rpc->streaming) {
        stream_error(call, model, id, msg);
        return 0;
    }
    grpc_rpc_end(call, code, "%s", msg);
    return 1;
}

/* The one way a job is answered, whatever the outcome (success, refusal, error, cancel,
 * timeout, shutdown): first gives back everything the client can observe (its client
 * shared-memory references, the request's arena slices, its place in rpc's in-flight count),
 * then answers, then frees the job. A client that has its answer may at once, on another
 * connection, unregister its region or send a request that needs the arena. The answer: buf
 * (a packed response message, taken) when not NULL, else the error code and msg; nothing on
 * a cancelled stream, CANCELLED on a cancelled unary call. The model reference goes last:
 * the error names the model (an unload only waits for it). Returns 1 if the call ended. */
static int job_answer(grpc_call *call, grpc_job *job, uint8_t *buf, size_t len, int code,
                      const char *msg)
{
    grpc_rpc *rpc = job->rpc;
    kserve_shm_refs_release(job->cshm, &job->params.shm);
    sched_release(repo_model_sched(job->rm), &job->req);
    if (job->linked) job_unlink(rpc, job);
    int ended = 0;
    if (rpc->cancelled || grpc_call_cancelled(call)) {
        free(buf);
        ended = !rpc->streaming;
        if (ended) grpc_rpc_end(call, GRPC_STATUS_CANCELLED, "cancelled");
    } else if (!buf) {
        ended = fail(call, rpc, code, repo_model_config(job->rm)->name, job->id, msg);
    } else {
        grpc_call_send(call, buf, len);
        if (!rpc->streaming) {
            grpc_rpc_end(call, GRPC_STATUS_OK, NULL);
            ended = 1;
        }
    }
    job_free(job);
    return ended;
}

/* On the loop thread, once the scheduler answered. */
static void finish_job(grpc_call *call, void *arg)
{
    grpc_job *job = arg;
    grpc_rpc *rpc = job->rpc;
    infer_request *req = &job->req;
    char err[256] = "";
    size_t len = 0;
    int code = GRPC_STATUS_OK;
    uint8_t *buf = NULL;
    if (req->status != 0) {
        code = grpc_status_from_http(req->status);
        snprintf(err, sizeof err, "%s", req->error[0] ? req->error : "request failed");
    } else if (!rpc->cancelled && !grpc_call_cancelled(call)) {
        buf = grpc_infer_encode(req, repo_model_config(job->rm), repo_model_region(job->rm),
                                &job->params.shm, job->id, rpc->streaming, GRPC_PREFIX_LEN, &len,
                                &code, err, sizeof err);
    }
    if (!job_answer(call, job, buf, len, code, err)) grpc_infer_maybe_end(call, rpc);
}

/* Any thread (see infer_done_cb). */
static void on_done(infer_request *req)
{
    grpc_job *job = (grpc_job *)req;
    if (grpc_call_post(job->call, finish_job, job) != 0) {
        /* the server is gone (shutdown): nobody can be answered; give the arena back */
        sched_release(repo_model_sched(job->rm), req);
    }
}

/* routes_infer_deadline with grpc-timeout as the transport's timeout: a client's deadline is
 * its own business, so one beyond our maximum is cut to it rather than refused. */
static int set_deadline(grpc_call *call, routes_ctx *ctx, const model_config *m, int64_t timeout_us,
                        infer_request *req, char *err, size_t err_len)
{
    int64_t grpc_ns = grpc_call_timeout_ns(call);
    int64_t max_ns = ctx->max_timeout_ms * 1000000;
    if (grpc_ns >= 0) {
        if (grpc_ns > max_ns) grpc_ns = max_ns;
        if (grpc_ns == 0) grpc_ns = 1; /* already due: fails as DEADLINE_EXCEEDED */
    }
    return routes_infer_deadline(m, ctx->max_timeout_ms, timeout_us, grpc_ns,
                                 grpc_call_arrival_ns(call), req, err, err_len);
}

void grpc_infer_submit(grpc_call *call, grpc_rpc *rpc, const uint8_t *msg, size_t len)
{
    routes_ctx *ctx = rpc->ctx;
    char err[512];
    Inference__ModelInferRequest *r = inference__model_infer_request__unpack(NULL, len, msg);
    if (!r) {
        fail(call, rpc, GRPC_STATUS_INVALID_ARGUMENT, NULL, NULL,
             "the request is not a valid ModelInferRequest message");
        return;
    }
    repo_model *rm = r->model_name[0] ? repository_acquire(ctx->repo, r->model_name) : NULL;
    const model_config *m = rm ? repo_model_config(rm) : NULL;
    char version[16] = "";
    if (m) kserve_model_version(m, version, sizeof version);
    if (!m || (r->model_version[0] && strcmp(r->model_version, version))) {
        if (!m) snprintf(err, sizeof err, "unknown model '%.64s'", r->model_name);
        else
            snprintf(err, sizeof err, "model '%s' has no version '%.32s' (available: %s)", m->name,
                     r->model_version, version);
        repository_release(rm);
        fail(call, rpc, GRPC_STATUS_NOT_FOUND, r->model_name, r->id, err);
        inference__model_infer_request__free_unpacked(r, NULL);
        return;
    }
    scheduler *s = repo_model_sched(rm);
    grpc_job *job = calloc(1, sizeof *job);
    char *id = r->id && r->id[0] ? strdup(r->id) : NULL;
    if (!job || (r->id[0] && !id)) {
        free(job);
        free(id);
        repository_release(rm);
        fail(call, rpc, GRPC_STATUS_RESOURCE_EXHAUSTED, r->model_name, r->id, "out of memory");
        inference__model_infer_request__free_unpacked(r, NULL);
        return;
    }
    job->rm = rm; /* the job's from here on */
    job->id = id;
    job->call = call;
    job->rpc = rpc;
    job->req.model = 0; /* the model is index 0 of its own scheduler */
    job->cshm = ctx->cshm;
    int code = grpc_infer_decode(r, ctx->cshm, m, repo_model_region(rm), repo_model_arena(rm),
                                 &job->req, &job->params, err, sizeof err);
    inference__model_infer_request__free_unpacked(r, NULL);
    if (code == 0 && set_deadline(call, ctx, m, job->params.timeout_us, &job->req, err, sizeof err))
        code = GRPC_STATUS_INVALID_ARGUMENT; /* job_answer frees the inputs */
    if (code != 0) {
        sched_note_rejected(s, 0,
                            code == GRPC_STATUS_INVALID_ARGUMENT ? 400
                            : code == GRPC_STATUS_UNAVAILABLE    ? 503
                                                                 : 500);
        job_answer(call, job, NULL, 0, code, err);
        return;
    }
    job->req.done = on_done;
    job->req.user = job;
    job->req.n_outputs = 0;
    job->next = rpc->jobs;
    if (rpc->jobs) rpc->jobs->prev = job;
    rpc->jobs = job;
    rpc->inflight++;
    job->linked = 1;
    if (sched_submit(s, &job->req) != 0) {
        snprintf(err, sizeof err, "%s", job->req.error[0] ? job->req.error : "request refused");
        job_answer(call, job, NULL, 0, grpc_status_from_http(job->req.status), err);
    }
    /* else: the job belongs to the scheduler until on_done */
}

void grpc_infer_cancel(grpc_rpc *rpc)
{
    /* sched_cancel may run done() at once; that only posts, so the list stays intact here */
    for (grpc_job *job = rpc->jobs; job; job = job->next)
        sched_cancel(repo_model_sched(job->rm), &job->req);
}
