/* Sessions: binding caller inputs, running the nodes in plan order, freeing buffers after
 * their last use, and exposing outputs as views. */
#include <cblas.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "place.h"
#include "seq.h"
#include "shape_memo.h"

/* Batches with fewer input bytes than this run whole even when the model could be sliced. */
#define SLICE_MIN_INPUT_BYTES ((size_t)64 << 10)

struct onnx_session {
    onnx_exec x;
    onnx_shape_memo *memo; /* or NULL: the model has no shape subgraph */
    int have_outputs;
};

static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

int onnx_session_create(const onnx_model *model, int threads, onnx_session **out, char *err,
                        size_t err_len)
{
    *out = NULL;
    onnx_session *s = calloc(1, sizeof *s);
    if (!s || onnx_exec_init(&s->x, model, threads) < 0) {
        free(s);
        return fail(err, err_len, ONNX_E_NOMEM, "out of memory");
    }
    if (onnx_place_run_init(&s->x) < 0) {
        onnx_session_free(s);
        return fail(err, err_len, ONNX_E_NOMEM, "out of memory");
    }
    s->memo = onnx_shape_memo_new(model); /* NULL (out of memory too): every node runs */
    *out = s;
    return 0;
}

void onnx_session_free(onnx_session *s)
{
    if (!s) return;
    onnx_exec_destroy(&s->x);
    onnx_shape_memo_free(s->memo);
    free(s);
}

/* Returns every run-time buffer (activations and last run's outputs) to the pool. */
static void release_all(onnx_session *s)
{
    const onnx_model *m = s->x.m;
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind != ONNX_VALUE_CONST) onnx_exec_release(&s->x, v);
}

/* Checks a caller tensor against the declared info (dtype, rank, fixed dims, exact byte
 * count) and fills t as a view of it. */
static int check_tensor(const onnx_value_info *info, const onnx_input *in, int check_shape,
                        onnx_tensor *t, char *err, size_t err_len)
{
    if (in->ndim < 0 || in->ndim > ONNX_MAX_DIMS || (in->ndim > 0 && !in->dims))
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': rank %d out of range", info->name,
                    in->ndim);
    const int strings = in->dtype == INFERD_DTYPE_BYTES;
    if (!inferd_dtype_is_valid(in->dtype) || (inferd_dtype_size(in->dtype) == 0 && !strings))
        return fail(err, err_len, ONNX_E_UNSUPPORTED, "input '%s': type %s is not supported",
                    info->name, inferd_dtype_name(in->dtype));
    if (info->dtype != INFERD_DTYPE_INVALID && info->dtype != in->dtype)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': type %s, model expects %s",
                    info->name, inferd_dtype_name(in->dtype), inferd_dtype_name(info->dtype));
    if (check_shape && info->ndim >= 0 && info->ndim != in->ndim)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': rank %d, model expects %d",
                    info->name, in->ndim, info->ndim);
    size_t numel = 1;
    for (int k = 0; k < in->ndim; k++) {
        int64_t d = in->dims[k];
        if (d < 0)
            return fail(err, err_len, ONNX_E_INVALID, "input '%s': negative dim", info->name);
        if (check_shape && info->ndim >= 0 && info->dims[k] >= 0 && info->dims[k] != d)
            return fail(err, err_len, ONNX_E_INVALID,
                        "input '%s': dim %d is %lld, model expects %lld", info->name, k,
                        (long long)d, (long long)info->dims[k]);
        if (d && numel > ONNX_MAX_TENSOR_BYTES / (uint64_t)d)
            return fail(err, err_len, ONNX_E_INVALID, "input '%s': shape too large", info->name);
        numel *= (size_t)d;
    }
    if (strings && (in->nbytes > ONNX_MAX_TENSOR_BYTES || (in->nbytes && !in->data) ||
                    onnx_strings_check(in->data, in->nbytes, numel) < 0))
        return fail(err, err_len, ONNX_E_INVALID,
                    "input '%s': %zu bytes are not %zu strings (u32 length + bytes each)",
                    info->name, in->nbytes, numel);
    size_t nbytes = strings ? in->nbytes : numel * inferd_dtype_size(in->dtype);
    if (nbytes != in->nbytes)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': %zu bytes given, shape needs %zu",
                    info->name, in->nbytes, nbytes);
    if (nbytes && !in->data)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': no data", info->name);
    memset(t, 0, sizeof *t);
    t->dtype = in->dtype;
    t->ndim = in->ndim;
    for (int k = 0; k < in->ndim; k++) t->dims[k] = in->dims[k];
    t->data = (void *)in->data; /* operators only read inputs */
    return 0;
}

/* A sequence input: the items are checked like tensors and copied into a new sequence. */
static int bind_sequence(onnx_session *s, int v, const onnx_value_info *info, const onnx_input *in,
                         char *err, size_t err_len)
{
    if (in->n_items < 0 || in->n_items > ONNX_SEQ_MAX_ITEMS || (in->n_items && !in->items))
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': bad item list", info->name);
    onnx_seq *seq = onnx_seq_new(info->dtype != INFERD_DTYPE_INVALID ? info->dtype : in->dtype);
    if (!seq) return fail(err, err_len, ONNX_E_NOMEM, "out of memory");
    for (int k = 0; k < in->n_items; k++) {
        onnx_tensor t;
        onnx_value_info item_info = *info;
        item_info.dtype = seq->elem;
        int rc = check_tensor(&item_info, &in->items[k], 0, &t, err, err_len);
        if (rc == 0 && (rc = onnx_seq_insert(seq, seq->n, &t)) < 0)
            rc = rc == -2
                     ? fail(err, err_len, ONNX_E_TOO_LARGE, "input '%s': too large", info->name)
                     : fail(err, err_len, ONNX_E_NOMEM, "out of memory");
        if (rc < 0) {
            onnx_seq_unref(seq);
            return rc;
        }
    }
    onnx_item it = {.kind = ONNX_ITEM_SEQUENCE, .seq = seq};
    onnx_exec_bind_item(&s->x, v, &it);
    onnx_seq_unref(seq); /* the value holds the one reference left */
    return 0;
}

static int bind_input(onnx_session *s, int idx, const onnx_input *in, char *err, size_t err_len)
{
    const onnx_model *m = s->x.m;
    const onnx_value_info *info = &m->input_info[idx];
    int v = m->input_values[idx];
    if (in->kind == ONNX_KIND_NONE) {
        if (!info->is_optional)
            return fail(err, err_len, ONNX_E_INVALID, "input '%s' is not optional", info->name);
        onnx_item it = {.kind = ONNX_ITEM_NONE};
        onnx_exec_bind_item(&s->x, v, &it);
        return 0;
    }
    if ((in->kind == ONNX_KIND_SEQUENCE) != info->is_sequence)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': the model expects %s", info->name,
                    info->is_sequence ? "a sequence" : "a tensor");
    if (in->kind == ONNX_KIND_SEQUENCE) return bind_sequence(s, v, info, in, err, err_len);
    if (in->kind != ONNX_KIND_TENSOR)
        return fail(err, err_len, ONNX_E_INVALID, "input '%s': unknown kind %d", info->name,
                    in->kind);
    onnx_tensor t;
    int rc = check_tensor(info, in, 1, &t, err, err_len);
    if (rc == 0) {
        onnx_exec_release(&s->x, v);
        s->x.vals[v] = t;
    }
    return rc;
}

/* Runs every node once over the bound inputs; on error all buffers go back to the pool. */
/* Runs nodes [from, to), each releasing the values that die after it. */
static int run_range(onnx_session *s, int from, int to, char *err, size_t err_len)
{
    const onnx_model *m = s->x.m;
    for (int k = from; k < to; k++) {
        if (!onnx_shape_memo_skip(s->memo, &s->x, k)) {
            int rc = onnx_exec_node(&s->x, &m->nodes[k], err, err_len);
            if (rc < 0) {
                release_all(s);
                onnx_shape_memo_reset(s->memo);
                return rc;
            }
            onnx_shape_memo_ran(s->memo, &s->x, k);
        }
        for (int f = m->free_start[k]; f < m->free_start[k + 1]; f++)
            onnx_exec_release(&s->x, m->free_after[f]);
    }
    return 0;
}

static int run_nodes(onnx_session *s, char *err, size_t err_len)
{
    int rc = run_range(s, 0, s->x.m->n_nodes, err, err_len);
    if (rc == 0) onnx_place_update(&s->x); /* the next run writes Concat inputs in place */
    return rc;
}

#define RUN_WHOLE 1 /* run_sliced: not sliced, run the whole batch */

/* When the model maps samples to samples (batch.c) and the batch is larger than its slice,
 * runs the graph once per slice of the inputs (views, no copy) and gathers each slice's
 * outputs into full-size output buffers. Returns 0 (outputs bound), a negative error, or
 * RUN_WHOLE: not applicable, or a slice's outputs were not per-sample after all (then
 * nothing is left allocated and the batch runs whole). */
static int run_sliced(onnx_session *s, char *err, size_t err_len)
{
    const onnx_model *m = s->x.m;
    const int64_t slice = m->batch_slice;
    if (slice <= 0) return RUN_WHOLE;
    const int64_t n = s->x.vals[m->input_values[0]].dims[0];
    if (n <= slice) return RUN_WHOLE;
    size_t in_bytes = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        const onnx_tensor *t = &s->x.vals[m->input_values[i]];
        if (t->ndim < 1 || t->dims[0] != n) return RUN_WHOLE;
        in_bytes += onnx_tensor_nbytes(t);
    }
    /* A batch whose inputs are this small has activations that stay in the cache anyway
     * (digits at batch 32: 8 KB; sliced, it ran at 1.4 M instead of 9.5 M inf/s): slices
     * would only add per-run overhead. The inputs stand in for the activations, which are not
     * known before the run. */
    if (in_bytes < SLICE_MIN_INPUT_BYTES) return RUN_WHOLE;
    /* the values gathered from each slice: the outputs, or those crossing the cut */
    const int whole = m->batch_cut >= m->n_nodes;
    const int ng = whole ? m->n_outputs : m->n_batch_cross;
    const int *gv = whole ? m->output_values : m->batch_cross;
    onnx_tensor *in = calloc((size_t)m->n_inputs, sizeof *in);
    onnx_tensor *out = calloc((size_t)ng + 1, sizeof *out);
    size_t *cap = calloc((size_t)ng + 1, sizeof *cap);
    int rc = in && out && cap ? 0 : fail(err, err_len, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < m->n_inputs && rc == 0; i++) in[i] = s->x.vals[m->input_values[i]];
    /* as few slices as the slice size allows, of even sizes: 8 in slices of 5 runs 4 + 4 */
    const int64_t n_slices = (n + slice - 1) / slice, step = (n + n_slices - 1) / n_slices;
    for (int64_t i0 = 0; i0 < n && rc == 0; i0 += step) {
        const int64_t nb = n - i0 < step ? n - i0 : step;
        for (int i = 0; i < m->n_inputs; i++) {
            onnx_tensor *t = &s->x.vals[m->input_values[i]];
            *t = in[i];
            t->dims[0] = nb;
            t->data = (char *)in[i].data + (size_t)i0 * (onnx_tensor_nbytes(&in[i]) / (size_t)n);
        }
        rc = whole ? run_nodes(s, err, err_len) : run_range(s, 0, m->batch_cut, err, err_len);
        if (rc < 0) break;
        for (int i = 0; i < ng && rc == 0; i++) {
            const onnx_tensor *t = &s->x.vals[gv[i]];
            int same = t->ndim >= 1 && t->dims[0] == nb && (i0 == 0 || t->dtype == out[i].dtype);
            for (int k = 1; k < t->ndim && same && i0 > 0; k++) same = t->dims[k] == out[i].dims[k];
            if (!same || (i0 > 0 && t->ndim != out[i].ndim)) {
                rc = RUN_WHOLE; /* dim 0 was not the batch for this output */
                break;
            }
            const size_t per = onnx_tensor_nbytes(t) / (size_t)nb;
            if (i0 == 0) {
                out[i] = *t;
                out[i].dims[0] = n;
                out[i].data = per ? onnx_pool_get(&s->x.pool, per * (size_t)n, &cap[i]) : NULL;
                if (per && !out[i].data) rc = fail(err, err_len, ONNX_E_NOMEM, "out of memory");
            }
            if (rc == 0 && per)
                memcpy((char *)out[i].data + (size_t)i0 * per, t->data, per * (size_t)nb);
        }
        release_all(s);
    }
    for (int i = 0; i < m->n_inputs && in; i++) s->x.vals[m->input_values[i]] = in[i];
    for (int i = 0; i < ng && out && cap; i++) {
        const int v = gv[i];
        if (rc != 0 || s->x.bufs[v]) { /* failed, or a duplicate graph output: drop the copy */
            onnx_pool_put(&s->x.pool, out[i].data, cap[i]);
            continue;
        }
        s->x.vals[v] = out[i];
        s->x.bufs[v] = out[i].data;
        s->x.caps[v] = cap[i];
    }
    free(in);
    free(out);
    free(cap);
    if (rc == 0 && !whole) { /* the rest of the graph on the whole batch */
        rc = run_range(s, m->batch_cut, m->n_nodes, err, err_len);
        if (rc == 0) onnx_place_update(&s->x);
    }
    return rc;
}

int onnx_run(onnx_session *s, const onnx_input *inputs, int n_inputs, char *err, size_t err_len)
{
    const onnx_model *m = s->x.m;
    if (err && err_len) err[0] = 0;
    s->have_outputs = 0;
    release_all(s);
    onnx_shape_memo_begin(s->memo);
    if (n_inputs < 0 || (n_inputs > 0 && !inputs))
        return fail(err, err_len, ONNX_E_INVALID, "bad input list");
    if (n_inputs != m->n_inputs)
        return fail(err, err_len, ONNX_E_INVALID, "%d inputs given, model has %d", n_inputs,
                    m->n_inputs);
    for (int i = 0; i < m->n_inputs; i++) {
        onnx_exec_release(&s->x, m->input_values[i]);
        s->x.vals[m->input_values[i]].ndim = -1;
    }
    for (int i = 0; i < n_inputs; i++) {
        int idx = i;
        if (inputs[i].name) {
            idx = -1;
            for (int k = 0; k < m->n_inputs; k++)
                if (strcmp(m->input_info[k].name, inputs[i].name) == 0) idx = k;
            if (idx < 0)
                return fail(err, err_len, ONNX_E_INVALID, "model has no input '%s'",
                            inputs[i].name);
        }
        if (s->x.vals[m->input_values[idx]].ndim >= 0)
            return fail(err, err_len, ONNX_E_INVALID, "input '%s' given twice",
                        m->input_info[idx].name);
        int rc = bind_input(s, idx, &inputs[i], err, err_len);
        if (rc < 0) return rc;
    }

    /* Threads are the session's own pool (exec.h); OpenBLAS, whose thread count is
     * process-wide, runs on the calling thread so that the two never oversubscribe. */
    static _Atomic int blas_one_thread;
    if (!atomic_exchange(&blas_one_thread, 1)) openblas_set_num_threads(1);
    int rc = run_sliced(s, err, err_len);
    if (rc == RUN_WHOLE) rc = run_nodes(s, err, err_len);
    if (rc < 0) return rc;
    /* An output that is a graph input, or a view of one or of a constant, points at memory
     * that is not the session's: copy it, since the caller's buffer is not kept. */
    for (int i = 0; i < m->n_outputs; i++) {
        int v = m->output_values[i];
        if (m->values[v].kind == ONNX_VALUE_CONST || s->x.bufs[v] || s->x.alias_root[v] >= 0)
            continue;
        onnx_tensor *t = &s->x.vals[v];
        size_t nb = onnx_tensor_nbytes(t);
        if (!nb) continue;
        void *copy = onnx_pool_get(&s->x.pool, nb, &s->x.caps[v]);
        if (!copy) {
            release_all(s);
            return fail(err, err_len, ONNX_E_NOMEM, "out of memory");
        }
        memcpy(copy, t->data, nb);
        s->x.bufs[v] = copy;
        t->data = copy;
    }
    /* inputs are not kept past the call */
    for (int i = 0; i < m->n_inputs; i++) {
        int v = m->input_values[i];
        if (!s->x.bufs[v]) s->x.vals[v].data = NULL;
    }
    s->have_outputs = 1;
    return 0;
}

int onnx_session_num_outputs(const onnx_session *s)
{
    return s->x.m->n_outputs;
}

int onnx_session_output(const onnx_session *s, int i, onnx_output *out)
{
    const onnx_model *m = s->x.m;
    memset(out, 0, sizeof *out);
    if (!s->have_outputs || i < 0 || i >= m->n_outputs) return ONNX_E_INVALID;
    int v = m->output_values[i];
    const onnx_tensor *t = &s->x.vals[v];
    out->name = m->output_info[i].name;
    if (s->x.seqs[v] || s->x.none[v]) {
        out->kind = s->x.seqs[v] ? ONNX_KIND_SEQUENCE : ONNX_KIND_NONE;
        out->dtype = s->x.seqs[v] ? s->x.seqs[v]->elem : m->output_info[i].dtype;
        out->n_items = s->x.seqs[v] ? s->x.seqs[v]->n : 0;
        return 0;
    }
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    out->dims = t->dims;
    out->data = t->data;
    out->nbytes = onnx_tensor_nbytes(t);
    return 0;
}

int onnx_session_output_item(const onnx_session *s, int i, int k, onnx_output *out)
{
    const onnx_model *m = s->x.m;
    memset(out, 0, sizeof *out);
    if (!s->have_outputs || i < 0 || i >= m->n_outputs) return ONNX_E_INVALID;
    const onnx_seq *seq = s->x.seqs[m->output_values[i]];
    if (!seq || k < 0 || k >= seq->n) return ONNX_E_INVALID;
    const onnx_tensor *t = &seq->items[k];
    out->name = m->output_info[i].name;
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    out->dims = t->dims;
    out->data = t->data;
    out->nbytes = onnx_tensor_nbytes(t);
    return 0;
}

size_t onnx_session_peak_bytes(const onnx_session *s)
{
    return s->x.pool.peak_bytes;
}

int onnx_session_set_profiling(onnx_session *s, int on)
{
    return onnx_exec_profile_enable(&s->x, on);
}

int onnx_session_node_profile(const onnx_session *s, int k, onnx_node_profile *out)
{
    return onnx_exec_profile_node(&s->x, k, out);
}
