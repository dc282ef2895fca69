/* `onnx` backend: runs <model>/<version>/model.onnx on the project's own runtime
 * (include/inferd/onnx.h). The requests of a batch whose inputs have the same per-row shape
 * are stacked along the batch dimension into one run (a lone request is read in place from
 * the arena, without a copy); each request gets back its own rows of every output. One
 * session and one compute thread per worker: the node scales with worker processes. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/log.h"
#include "inferd/onnx.h"

typedef struct onnx_backend {
    model_config cfg;
    onnx_model *model;
    onnx_session *session;
    int batched;                 /* max_batch_size > 0: dim 0 is the batch */
    int out_index[MODEL_MAX_IO]; /* config output o -> session output index */
    void *stack[MODEL_MAX_IO];   /* stacked inputs of a group, grown as needed */
    size_t stack_cap[MODEL_MAX_IO];
} onnx_backend;

static int find_info(const onnx_model *m, int outputs, const char *name)
{
    int n = outputs ? onnx_model_num_outputs(m) : onnx_model_num_inputs(m);
    for (int i = 0; i < n; i++) {
        const onnx_value_info *v = outputs ? onnx_model_output(m, i) : onnx_model_input(m, i);
        if (strcmp(v->name, name) == 0) return i;
    }
    return -1;
}

/* The config's view of a tensor (dims without the batch dim when batched) against the
 * model's declaration. 0, or -1 with err. */
static int check_io(const model_io *io, const onnx_value_info *v, int batched, const char *kind,
                    char *err, size_t err_len)
{
    if (v->is_sequence || v->is_optional) {
        snprintf(err, err_len, "%s '%s' is %s in the model; the worker serves tensors only", kind,
                 io->name, v->is_sequence ? "a sequence" : "an optional");
        return -1;
    }
    if (v->dtype != INFERD_DTYPE_INVALID && v->dtype != io->dtype) {
        snprintf(err, err_len, "%s '%s' is %s in config.json but %s in the model", kind, io->name,
                 inferd_dtype_name(io->dtype), inferd_dtype_name(v->dtype));
        return -1;
    }
    if (v->ndim < 0) return 0; /* the model does not say */
    if (v->ndim != io->ndim + batched) {
        snprintf(err, err_len, "%s '%s' has rank %d in the model; config.json gives %d dims%s",
                 kind, io->name, v->ndim, io->ndim,
                 batched ? " plus the batch dim (max_batch_size > 0)" : "");
        return -1;
    }
    if (batched && v->dims[0] >= 0 && v->dims[0] != 1) {
        snprintf(err, err_len,
                 "%s '%s' has a fixed first dim %lld in the model: it cannot "
                 "take batches (set max_batch_size 0, or export a dynamic batch dim)",
                 kind, io->name, (long long)v->dims[0]);
        return -1;
    }
    for (int d = 0; d < io->ndim; d++) {
        int64_t md = v->dims[d + batched];
        if (md >= 0 && io->dims[d] != -1 && io->dims[d] != md) {
            snprintf(err, err_len,
                     "%s '%s' dim %d is %lld in the model but %lld in "
                     "config.json",
                     kind, io->name, d, (long long)md, (long long)io->dims[d]);
            return -1;
        }
    }
    return 0;
}

static void onnx_destroy(void *state)
{
    onnx_backend *st = state;
    if (!st) return;
    onnx_session_free(st->session);
    onnx_model_free(st->model);
    for (int i = 0; i < MODEL_MAX_IO; i++) free(st->stack[i]);
    free(st);
}

static int onnx_create(const model_config *cfg, void **state, char *err, size_t err_len)
{
    *state = NULL;
    onnx_backend *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    st->cfg = *cfg;
    st->batched = cfg->max_batch_size > 0;
    char why[384];
    if (onnx_model_load(cfg->model_file, &st->model, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s", cfg->model_file, why);
        onnx_destroy(st);
        return -1;
    }
    if (onnx_model_num_inputs(st->model) != cfg->n_inputs) {
        snprintf(err, err_len, "the model has %d inputs, config.json lists %d",
                 onnx_model_num_inputs(st->model), cfg->n_inputs);
        onnx_destroy(st);
        return -1;
    }
    for (int i = 0; i < cfg->n_inputs; i++) {
        int k = find_info(st->model, 0, cfg->inputs[i].name);
        if (k < 0) {
            snprintf(err, err_len, "input '%s' of config.json is not an input of the model",
                     cfg->inputs[i].name);
            onnx_destroy(st);
            return -1;
        }
        if (check_io(&cfg->inputs[i], onnx_model_input(st->model, k), st->batched, "input", err,
                     err_len) != 0) {
            onnx_destroy(st);
            return -1;
        }
    }
    for (int o = 0; o < cfg->n_outputs; o++) {
        int k = find_info(st->model, 1, cfg->outputs[o].name);
        if (k < 0 || check_io(&cfg->outputs[o], onnx_model_output(st->model, k), st->batched,
                              "output", err, err_len) != 0) {
            if (k < 0)
                snprintf(err, err_len,
                         "output '%s' of config.json is not an output of the "
                         "model",
                         cfg->outputs[o].name);
            onnx_destroy(st);
            return -1;
        }
        st->out_index[o] = k;
    }
    if (onnx_session_create(st->model, cfg->threads, &st->session, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s", why);
        onnx_destroy(st);
        return -1;
    }
    log_info("model %s: %s loaded, %d nodes, %zu bytes of weights, GEMM by %s, %d thread(s)",
             cfg->name, cfg->model_file, onnx_model_num_exec_nodes(st->model),
             onnx_model_weight_bytes(st->model), onnx_blas_info(), cfg->threads);
    *state = st;
    return 0;
}

static void fail_request(worker_batch *b, uint32_t r, const char *msg)
{
    b->requests[r].status = SHM_STATUS_BAD_INPUT;
    if (!b->batch->error[0]) snprintf(b->batch->error, SHM_ERROR_LEN, "%s", msg);
}

/* 1 if requests a and c may share a run: every input has the same dtype and rank and the same
 * dims after the batch dim. */
static int same_row_shape(const worker_batch *b, uint32_t a, uint32_t c)
{
    for (uint32_t i = 0; i < b->n_inputs; i++) {
        const shm_tensor *x = &b->inputs[(size_t)a * b->n_inputs + i];
        const shm_tensor *y = &b->inputs[(size_t)c * b->n_inputs + i];
        if (x->dtype != y->dtype || x->ndim != y->ndim || x->ndim < 1 || x->ndim > SHM_MAX_DIMS)
            return 0;
        for (uint32_t d = 1; d < x->ndim; d++)
            if (x->dims[d] != y->dims[d]) return 0;
    }
    return 1;
}

static int grow_stack(onnx_backend *st, uint32_t i, size_t bytes)
{
    if (bytes <= st->stack_cap[i]) return 0;
    void *p = realloc(st->stack[i], bytes);
    if (!p) return -1;
    st->stack[i] = p;
    st->stack_cap[i] = bytes;
    return 0;
}

/* Runs requests [r0, r1) (all OK, same row shape; one request when not batched). Per-request
 * problems mark those requests; returns -1 with err only when the whole batch must fail. */
static int run_group(onnx_backend *st, worker_batch *b, uint32_t r0, uint32_t r1, char *err,
                     size_t err_len)
{
    onnx_input ins[MODEL_MAX_IO];
    int64_t dims[MODEL_MAX_IO][SHM_MAX_DIMS];
    int64_t rows = 0;
    for (uint32_t i = 0; i < b->n_inputs; i++) {
        const shm_tensor *t0 = &b->inputs[(size_t)r0 * b->n_inputs + i];
        const void *src[SHM_MAX_BATCH]; /* r1 - r0 <= n_requests <= SHM_MAX_BATCH */
        const void *data = NULL;        /* a lone request's tensor, in place */
        uint64_t count, nbytes = 0;
        int64_t in_rows = 0;
        for (uint32_t r = r0; r < r1; r++) {
            if (!(data = src[r - r0] = worker_input(b, r, i, &count))) {
                for (uint32_t k = r0; k < r1; k++)
                    fail_request(b, k, "an input tensor is malformed");
                return 0;
            }
            const shm_tensor *t = &b->inputs[(size_t)r * b->n_inputs + i];
            in_rows += t->ndim ? t->dims[0] : 1;
            nbytes += t->nbytes;
        }
        if (r1 - r0 > 1) { /* stack the rows of every request, in order */
            if (grow_stack(st, i, nbytes) != 0) {
                snprintf(err, err_len, "out of memory stacking %llu bytes of inputs",
                         (unsigned long long)nbytes);
                return -1;
            }
            uint8_t *dst = st->stack[i];
            for (uint32_t r = r0; r < r1; r++) {
                uint64_t len = b->inputs[(size_t)r * b->n_inputs + i].nbytes;
                memcpy(dst, src[r - r0], len);
                dst += len;
            }
            data = st->stack[i];
        }
        for (uint32_t d = 0; d < t0->ndim; d++) dims[i][d] = t0->dims[d];
        if (st->batched) dims[i][0] = in_rows;
        if (i == 0) rows = st->batched ? in_rows : 1;
        ins[i] = (onnx_input){.name = st->cfg.inputs[i].name,
                              .dtype = (inferd_dtype)t0->dtype,
                              .ndim = (int)t0->ndim,
                              .dims = dims[i],
                              .data = data,
                              .nbytes = nbytes};
    }
    char why[SHM_ERROR_LEN];
    int rc = onnx_run(st->session, ins, (int)b->n_inputs, why, sizeof why);
    if (ONNX_E_IS_INPUT_ERROR(rc)) { /* the model refused these inputs: 400, whatever op */
        for (uint32_t r = r0; r < r1; r++) fail_request(b, r, why);
        return 0;
    }
    if (rc != 0) {
        snprintf(err, err_len, "%s", why);
        return -1;
    }
    for (uint32_t o = 0; o < b->n_outputs; o++) {
        onnx_output out;
        if (onnx_session_output(st->session, st->out_index[o], &out) != 0 || out.ndim < 0 ||
            out.ndim > SHM_MAX_DIMS || (st->batched && (out.ndim < 1 || out.dims[0] != rows))) {
            snprintf(err, err_len, "output '%s' does not have the batch's %lld rows",
                     st->cfg.outputs[o].name, (long long)rows);
            return -1;
        }
        size_t row_bytes = st->batched && rows > 0 ? out.nbytes / (size_t)rows : out.nbytes;
        const uint8_t *src = out.data;
        for (uint32_t r = r0; r < r1; r++) {
            int64_t odims[SHM_MAX_DIMS];
            for (int d = 0; d < out.ndim; d++) odims[d] = out.dims[d];
            int64_t my_rows = 1;
            if (st->batched) {
                const shm_tensor *t = &b->inputs[(size_t)r * b->n_inputs];
                my_rows = t->ndim ? t->dims[0] : 1;
                odims[0] = my_rows;
            }
            size_t bytes = st->batched ? row_bytes * (size_t)my_rows : out.nbytes;
            void *dst = worker_output_alloc(b, r, o, out.dtype, (uint32_t)out.ndim, odims, bytes);
            if (dst && bytes) memcpy(dst, src, bytes);
            src += bytes; /* too small: the loop reports out_needed and the node retries */
        }
    }
    return 0;
}

static int onnx_backend_run(void *state, worker_batch *b, char *err, size_t err_len)
{
    onnx_backend *st = state;
    if (b->n_inputs != (uint32_t)st->cfg.n_inputs || b->n_outputs != (uint32_t)st->cfg.n_outputs) {
        snprintf(err, err_len, "batch has %u inputs / %u outputs; the model %d / %d", b->n_inputs,
                 b->n_outputs, st->cfg.n_inputs, st->cfg.n_outputs);
        return -1;
    }
    uint32_t r = 0;
    while (r < b->n_requests) {
        if (b->requests[r].status != SHM_STATUS_OK) {
            r++;
            continue;
        }
        uint32_t end = r + 1;
        while (st->batched && end < b->n_requests && b->requests[end].status == SHM_STATUS_OK &&
               same_row_shape(b, r, end))
            end++;
        if (run_group(st, b, r, end, err, err_len) != 0) return -1;
        r = end;
    }
    return BACKEND_DONE;
}

const backend_ops backend_onnx = {"onnx", onnx_create, onnx_backend_run, NULL, onnx_destroy};
