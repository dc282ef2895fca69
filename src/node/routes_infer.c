/* POST /v2/models/{m}/infer and POST /process: decode into the arena, hand the request to
 * the scheduler, and answer when done() comes back (hopping from the scheduler's thread to
 * the connection's loop thread through http_ex_post). A large body is decoded, and a large
 * answer encoded, on the thread pool (http_ex_offload) so the loop's other connections are
 * not kept waiting; small ones stay inline. */
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/http_buf.h"
#include "json_scratch.h"
#include "kserve.h"
#include "inferd/clock.h"
#include "kserve_binary.h"
#include "kserve_json.h"
#include "req_trace.h"
#include "routes.h"
#include "routes_job_cache.h"

/* Bodies and answers above this many bytes are decoded / encoded off the loop thread: at
 * roughly 100 MB/s of JSON that is a few ms, the most one request may hold the loop. */
#define ROUTES_OFFLOAD_BYTES (256u << 10)

enum job_kind { JOB_KSERVE, JOB_PROCESS };

typedef struct infer_job {
    infer_request req; /* first: the scheduler sees only this */
    http_exchange *ex;
    routes_ctx *ctx;
    repo_model *rm; /* a reference, dropped by job_answer or job_free; NULL until /process finds
                     * its model */
    int kind;
    int loop; /* the loop whose thread made the job and frees it (its job cache) */
    /* work done off the loop: the body to decode (owned by ex), or the answer encoded */
    const model_config *model;
    const char *body;
    size_t body_len;
    size_t json_len;      /* the body's JSON header (binary tensor extension) */
    int status;           /* decode and encode: 0 or an HTTP status */
    kserve_params params; /* id, how outputs are answered, client shm held */
    json_t *root;         /* /process: the parsed body */
    http_buf out;
    http_span spans[MODEL_MAX_IO]; /* binary outputs, in the arena, sent after out */
    int n_spans, json_only;
    char err[512];
} infer_job;

/* The end of field f of type t: where the next field starts when nothing pads between them. */
#define FIELD_END(t, f) (offsetof(t, f) + sizeof(((t *)0)->f))

/* job_reset skips these arrays (each is written before it is read: outputs up to n_outputs,
 * error with a status, out_region with its bit in params.shm.outputs, spans up to n_spans, err
 * by job_fail); the fields on both sides of each gap are zeroed, nothing lies in between. */
_Static_assert(FIELD_END(infer_request, error) == offsetof(infer_request, n_outputs), "gap");
_Static_assert(FIELD_END(infer_request, outputs) == offsetof(infer_request, id), "gap");
_Static_assert(FIELD_END(kserve_shm_refs, out_region) == offsetof(kserve_shm_refs, in), "gap");
_Static_assert(FIELD_END(infer_job, spans) == offsetof(infer_job, n_spans), "gap");
_Static_assert(FIELD_END(kserve_shm_refs, in) == sizeof(kserve_shm_refs), "in is last");
_Static_assert(FIELD_END(kserve_params, shm) == sizeof(kserve_params), "shm is last");
_Static_assert(FIELD_END(infer_job, params) == offsetof(infer_job, root), "gap");
_Static_assert(FIELD_END(infer_job, err) == sizeof(infer_job), "err is last");

/* A recycled job as a new one (the job cache does not zero): every field zeroed but the
 * arrays above, which are 4.5 KiB of the job's 7. */
static void job_reset(infer_job *job)
{
    infer_request *r = &job->req;
    memset(r, 0, offsetof(infer_request, error));
    r->error[0] = '\0';
    memset(&r->n_outputs, 0, offsetof(infer_request, outputs) - offsetof(infer_request, n_outputs));
    memset(&r->id, 0, sizeof *r - offsetof(infer_request, id));
    memset(&job->ex, 0, offsetof(infer_job, params) - offsetof(infer_job, ex));
    kserve_params *p = &job->params;
    memset(p, 0, offsetof(kserve_params, shm) + offsetof(kserve_shm_refs, out_region));
    memset(p->shm.in, 0, sizeof p->shm.in);
    memset(&job->root, 0, offsetof(infer_job, spans) - offsetof(infer_job, root));
    job->n_spans = 0;
    job->json_only = 0;
    job->err[0] = '\0';
}

static void job_free(infer_job *job)
{
    kserve_params_free(job->ctx->cshm, &job->params);
    repository_release(job->rm);
    http_buf_free(&job->out);
    if (job->ctx->jobs) routes_job_cache_put(job->ctx->jobs, job->loop, job);
    else free(job);
}

size_t routes_infer_job_size(void)
{
    return sizeof(infer_job);
}

/* Sets the job's answer to an error: status (an HTTP status; anything else is 500) and the
 * message (see job_answer). */
__attribute__((format(printf, 3, 4))) static void job_fail(infer_job *job, int status,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->err, sizeof job->err, fmt, ap);
    va_end(ap);
    job->status = status >= 400 && status <= 599 ? status : 500;
}

static void binary_written(void *arg);

/* The answer is encoded and about to be written: the trace's last point, recorded before the
 * write so that a client that has its answer finds it counted. name: the model's, copied
 * before its reference was dropped. */
static void trace_written(infer_job *job, const char *name)
{
    if (!job->ctx->trace) return;
    job->req.trace_ns[INFER_TP_WRITTEN] = clock_now_ns();
    req_trace_record(job->ctx->trace, job->loop, name, job->req.trace_ns);
}

/* The one way an infer job is answered, whatever the outcome (success, refusal, error,
 * cancel, timeout, shutdown, client gone): first gives back everything the client can
 * observe, then writes the answer, then frees the job. A client that has read its answer may
 * at once, on another connection, unregister its shared-memory region, unload the model or
 * send a request that needs the arena or the body budget: none may still be held then.
 * Given back first: the client shared-memory references; the request's arena slices and its
 * model reference (kept only while a binary answer points into the arena: binary_written
 * gives them back once it is written); the body's share of --max-inflight-bytes (given back
 * by http_ex_respond before it writes). The answer is job->status: 0 answers job->out (as
 * JSON, or as the JSON header of a binary answer followed by job->spans unless json_only),
 * else the error job->err, with Retry-After on 429 and 503. */
static void job_answer(infer_job *job)
{
    http_exchange *ex = job->ex;
    int spans = !http_ex_orphaned(ex) && job->status == 0 && !job->json_only;
    char name[SHM_NAME_LEN] = "";
    if (job->req.trace_ns[INFER_TP_SEEN] && job->rm && req_trace_logs_slow(job->ctx->trace))
        snprintf(name, sizeof name, "%s", repo_model_config(job->rm)->name);
    kserve_shm_refs_release(job->ctx->cshm, &job->params.shm);
    if (!spans && job->rm) {
        sched_release(repo_model_sched(job->rm), &job->req);
        repository_release(job->rm);
        job->rm = NULL;
    }
    if (http_ex_orphaned(ex)) {
        http_ex_respond(ex, 0, NULL, NULL, 0, ""); /* frees ex */
    } else if (spans) {
        /* JSON header + the arena slices, one scatter write; released once it is written */
        char hdr[64];
        snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %zu\r\n", job->out.len);
        size_t head_len;
        char *head = http_buf_take(&job->out, &head_len);
        if (head) {
            trace_written(job, name);
            http_ex_respond_spans(ex, 200, "application/octet-stream", head, head_len, job->spans,
                                  job->n_spans, hdr, binary_written, job);
            return; /* binary_written frees the job */
        }
        sched_release(repo_model_sched(job->rm), &job->req);
        repository_release(job->rm);
        job->rm = NULL;
        http_ex_error(ex, 500, "", "out of memory");
    } else if (job->status == 0) {
        trace_written(job, name);
        routes_send_buf(ex, 200, &job->out);
    } else {
        char hdr[64] = "";
        int status = job->status >= 400 && job->status <= 599 ? job->status : 500;
        if (status == 429 || status == 503)
            snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n",
                     job->req.retry_after_s > 0 ? job->req.retry_after_s : 1);
        http_ex_error(ex, status, hdr, "%s", job->err[0] ? job->err : "request failed");
    }
    job_free(job);
}

/* The /process answer from the reverse model's text output, into job->out (or an error). */
static void encode_process(infer_job *job)
{
    const infer_request *req = &job->req;
    const shm_region *region = repo_model_region(job->rm);
    const shm_tensor *t = &req->outputs[0];
    uint32_t len;
    job->json_only = 1;
    if (req->n_outputs < 1 || t->dtype != INFERD_DTYPE_BYTES || t->nbytes < 4 ||
        !shm_arena_range_ok(region, t->offset, t->nbytes)) {
        job_fail(job, 500, "the reverse model returned no text output");
        return;
    }
    const uint8_t *p = shm_arena_ptr(region, t->offset);
    memcpy(&len, p, 4);
    if (len > t->nbytes - 4) {
        job_fail(job, 500, "the reverse model returned a truncated text output");
        return;
    }
    /* byte-exact with the prior server: {"result": "WORKER_PROCESSED: ..."} */
    http_buf_puts(&job->out, "{\"result\": ");
    http_buf_json_string(&job->out, (const char *)p + 4, len);
    http_buf_puts(&job->out, "}");
}

/* Runs work(job) then done(ex, job): on the thread pool when size is over the threshold
 * (so the loop's other connections are not kept waiting), else inline. */
static void run_sized(http_exchange *ex, uint64_t size, void (*work)(void *arg),
                      void (*done)(http_exchange *ex, void *arg), infer_job *job)
{
    if (size > ROUTES_OFFLOAD_BYTES && http_ex_offload(ex, work, done, job) == 0) return;
    work(job);
    done(ex, job);
}

/* Encodes the infer answer into job->out (on the loop thread or a pool thread). */
static void encode_answer(void *arg)
{
    infer_job *job = arg;
    const model_config *m = repo_model_config(job->rm);
    const shm_region *region = repo_model_region(job->rm);
    job->status = kserve_encode_infer(&job->req, m, region, &job->params, &job->out, job->spans,
                                      &job->n_spans, &job->json_only, job->err, sizeof job->err);
}

/* The binary answer is written (or dropped): the arena slices it pointed at may go. On the
 * loop thread. */
static void binary_written(void *arg)
{
    infer_job *job = arg;
    sched_release(repo_model_sched(job->rm), &job->req);
    job_free(job);
}

/* On the loop thread, once job->out holds the answer (or job->status an error). */
static void send_encoded(http_exchange *ex, void *arg)
{
    (void)ex;
    job_answer(arg);
}

/* Bytes the encoder will format as JSON (binary outputs are only pointed at) or copy into
 * client shared memory. */
static uint64_t output_bytes(const infer_job *job)
{
    const infer_request *req = &job->req;
    uint64_t n = 0;
    for (uint32_t i = 0; i < req->n_outputs && i < MODEL_MAX_IO; i++)
        if (!(job->params.binary_outputs & (1u << i))) n += req->outputs[i].nbytes;
    return n;
}

/* On the connection's loop thread. */
static void finish_on_loop(http_exchange *ex, void *arg)
{
    infer_job *job = arg;
    job->req.trace_ns[INFER_TP_ON_LOOP] = clock_now_ns();
    if (job->req.status != 0) {
        job_fail(job, job->req.status, "%s", job->req.error[0] ? job->req.error : "request failed");
    } else if (http_ex_orphaned(ex)) {
        job->status = 0;
    } else if (job->kind == JOB_PROCESS) {
        encode_process(job);
    } else {
        run_sized(ex, output_bytes(job), encode_answer, send_encoded, job);
        return; /* send_encoded answers */
    }
    job_answer(job);
}

/* On any thread (see infer_done_cb): hop to the exchange's loop. */
static void on_done(infer_request *req)
{
    infer_job *job = (infer_job *)req;
    http_ex_post(job->ex, finish_on_loop, job);
}

/* routes_infer_deadline with the Inferd-Timeout-Ms header (read only when the request has no
 * parameters.timeout) as the transport's timeout: one above max_timeout_ms is refused.
 * Returns 0, or -1 with err (answer 400). */
static int set_deadline(http_exchange *ex, const model_config *m, int64_t max_timeout_ms,
                        int64_t timeout_us, infer_request *req, char *err, size_t err_len)
{
    const char *h = http_ex_header(ex, "inferd-timeout-ms");
    int64_t header_ns = -1;
    if (timeout_us < 0 && h) {
        char *end;
        errno = 0;
        long long v = strtoll(h, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (errno || end == h || *end || v < 0) {
            snprintf(err, err_len,
                     "header Inferd-Timeout-Ms: must be a non-negative integer "
                     "(milliseconds)");
            return -1;
        }
        if (v > max_timeout_ms) {
            snprintf(err, err_len,
                     "header Inferd-Timeout-Ms: %lld exceeds this server's "
                     "maximum of %lld ms",
                     v, (long long)max_timeout_ms);
            return -1;
        }
        header_ns = (int64_t)v * 1000000;
    }
    return routes_infer_deadline(m, max_timeout_ms, timeout_us, header_ns, http_ex_arrival_ns(ex),
                                 req, err, err_len);
}

/* On the loop thread, when the client left before its answer: a request still queued is
 * taken out (its done() then comes at once); one already in a batch runs to the end. */
static void on_orphan(http_exchange *ex, void *arg)
{
    (void)ex;
    infer_job *job = arg;
    sched_cancel(repo_model_sched(job->rm), &job->req);
}

static void submit(http_exchange *ex, infer_job *job)
{
    scheduler *s = repo_model_sched(job->rm);
    http_ex_on_orphan(ex, on_orphan, job);
    job->req.done = on_done;
    job->req.user = job;
    job->req.n_outputs = 0;
    if (sched_submit(s, &job->req) != 0) {
        job_fail(job, job->req.status, "%s", job->req.error[0] ? job->req.error : "request failed");
        job_answer(job);
    }
    /* else: job belongs to the scheduler until on_done */
}

/* Takes over the reference to rm (NULL: none yet), also when it fails. */
static infer_job *job_new(http_exchange *ex, routes_ctx *ctx, repo_model *rm, int kind)
{
    int loop = http_ex_loop_index(ex);
    infer_job *job = ctx->jobs ? routes_job_cache_get(ctx->jobs, loop) : calloc(1, sizeof *job);
    if (!job) { /* no job to answer through: it held nothing but rm */
        repository_release(rm);
        http_ex_error(ex, 500, "", "out of memory");
        return NULL;
    }
    job_reset(job);
    job->ex = ex;
    job->ctx = ctx;
    job->rm = rm;
    job->kind = kind;
    job->loop = loop;
    job->req.model = 0; /* every model is model 0 of its own scheduler */
    job->req.delay_us = -1;
    job->req.trace_ns[INFER_TP_ARRIVED] = http_ex_arrival_ns(ex);
    http_buf_init(&job->out);
    return job;
}

/* Decodes job->body into the arena (on the loop thread or a pool thread). */
static void decode_request(void *arg)
{
    infer_job *job = arg;
    job->status =
        kserve_decode_infer(job->body, job->body_len, job->json_len, job->ctx->cshm, job->model,
                            repo_model_region(job->rm), repo_model_arena(job->rm), &job->req,
                            &job->params, job->err, sizeof job->err);
}

/* On the loop thread, once decoded: answers a refusal, or submits. */
static void submit_decoded(http_exchange *ex, void *arg)
{
    infer_job *job = arg;
    routes_ctx *ctx = job->ctx;
    scheduler *s = repo_model_sched(job->rm);
    if (job->status != 0) {
        sched_note_rejected(s, job->req.model, job->status);
        job_answer(job);
        return;
    }
    if (http_ex_orphaned(ex)) { /* the client left while its body was decoded */
        job_answer(job);
        return;
    }
    if (set_deadline(ex, job->model, ctx->max_timeout_ms, job->params.timeout_us, &job->req,
                     job->err, sizeof job->err)) {
        sched_note_rejected(s, job->req.model, 400);
        job->status = 400;
        job_answer(job);
        return;
    }
    submit(ex, job);
}

void routes_infer(http_exchange *ex, routes_ctx *ctx, repo_model *model)
{
    infer_job *job = job_new(ex, ctx, model, JOB_KSERVE);
    if (!job) return;
    job->model = repo_model_config(model);
    job->body = http_ex_body(ex, &job->body_len); /* owned by ex, valid until answered */
    if (kserve_binary_split(http_ex_header(ex, "inference-header-content-length"), job->body_len,
                            &job->json_len, job->err, sizeof job->err)) {
        sched_note_rejected(repo_model_sched(model), 0, 400);
        job->status = 400;
        job_answer(job);
        return;
    }
    run_sized(ex, job->body_len, decode_request, submit_decoded, job);
}

/* Parses a /process body (on the loop thread or a pool thread). */
static void parse_process(void *arg)
{
    infer_job *job = arg;
    json_error_t jerr;
    job->root = json_loadb(job->body, job->body_len, JSON_ALLOW_NUL, &jerr);
    if (!job->root)
        snprintf(job->err, sizeof job->err, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
}

/* Puts a /process message of n bytes in the arena as the reverse model's input: text, or
 * when NULL the JSON string at *escaped (kj_sole_string's), unescaped straight into the
 * arena. Returns 0, or -1 with the job's answer set (job_fail). */
static int process_place(infer_job *job, const char *text, size_t n, const kj_cursor *escaped)
{
    job->rm = repository_acquire(job->ctx->repo, "reverse");
    const model_config *m = job->rm ? repo_model_config(job->rm) : NULL;
    if (!m) {
        job_fail(job, 503, "model 'reverse' is not loaded");
        return -1;
    }
    if (m->n_inputs != 1 || m->inputs[0].dtype != INFERD_DTYPE_BYTES) {
        job_fail(job, 500, "model 'reverse' does not take one BYTES input");
        return -1;
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
            job_fail(job, 500, "model 'reverse' input shape does not take one string");
            return -1;
        }
        t->dims[d] = 1;
    }
    uint64_t off;
    if (n > UINT32_MAX || shm_arena_alloc(repo_model_arena(job->rm), 4 + (uint64_t)n, &off)) {
        job_fail(job, 503, "no room in the tensor arena; try again later");
        return -1;
    }
    uint8_t *p = shm_arena_ptr(repo_model_region(job->rm), off);
    uint32_t l = (uint32_t)n;
    memcpy(p, &l, 4);
    if (text) {
        if (n) memcpy(p + 4, text, n);
    } else {
        kj_cursor c = *escaped;
        size_t unescaped;
        if (kj_string(&c, p + 4, &unescaped) || unescaped != n) { /* measured: cannot happen */
            shm_arena_free(repo_model_arena(job->rm), off);
            job_fail(job, 500, "the message changed while it was read");
            return -1;
        }
    }
    t->offset = off;
    t->nbytes = 4 + (uint64_t)n;
    job->req.n_inputs = 1;
    job->req.batch_rows = 1;
    job->req.output_mask = 1;
    return 0;
}

/* On the loop thread, once the message is placed (rc 0) or refused (rc -1): submits, or
 * answers. */
static void process_submit(http_exchange *ex, infer_job *job, int rc)
{
    if (rc == 0 && set_deadline(ex, repo_model_config(job->rm), job->ctx->max_timeout_ms, -1,
                                &job->req, job->err, sizeof job->err)) {
        job->status = 400;
        rc = -1;
    }
    if (rc == 0) submit(ex, job);
    else job_answer(job); /* a refusal, or the client is gone */
}

/* On the loop thread, once parsed: checks the message, puts it in the arena, submits. */
static void process_parsed(http_exchange *ex, void *arg)
{
    infer_job *job = arg;
    json_t *root = job->root;
    job->root = NULL;
    int rc = -1;
    json_t *msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
    if (!root) job->status = 400; /* job->err says where the JSON is malformed */
    else if (http_ex_orphaned(ex)) rc = -1;
    else if (!json_is_string(msg))
        job_fail(job, 400, "expected a JSON object with a string field 'message'");
    else rc = process_place(job, json_string_value(msg), json_string_length(msg), NULL);
    json_decref(root);
    process_submit(ex, job, rc);
}

void routes_process(http_exchange *ex, routes_ctx *ctx)
{
    infer_job *job = job_new(ex, ctx, NULL, JOB_PROCESS);
    if (!job) return;
    job->body = http_ex_body(ex, &job->body_len); /* owned by ex, valid until answered */
    kj_cursor msg;
    size_t n;
    if (job->body_len <= ROUTES_OFFLOAD_BYTES &&
        kj_sole_string(job->body, job->body_len, "message", &msg, &n) == 0) {
        /* {"message": "..."} and nothing else, the request clients send: one pass, no tree
         * (anything else, and every error, goes through jansson below) */
        process_submit(ex, job, http_ex_orphaned(ex) ? -1 : process_place(job, NULL, n, &msg));
        return;
    }
    if (job->body_len <= ROUTES_OFFLOAD_BYTES) { /* parsed, read and freed here: tree in scratch */
        json_scratch_begin();
        parse_process(job);
        process_parsed(ex, job);
        json_scratch_end();
        return;
    }
    run_sized(ex, job->body_len, parse_process, process_parsed, job);
}
