/* inferd's ONNX inference engine: load a model once, create a session per thread of work,
 * run it many times.
 *
 *   onnx_model *model;
 *   char err[256];
 *   if (onnx_model_load("model.onnx", &model, err, sizeof err) < 0) { puts(err); ... }
 *   onnx_session *s;
 *   onnx_session_create(model, 1, &s, err, sizeof err);
 *   onnx_input in = { .name = "x", .dtype = INFERD_DTYPE_FP32, .ndim = 2,
 *                     .dims = (int64_t[]){4, 784}, .data = buf, .nbytes = sizeof buf };
 *   if (onnx_run(s, &in, 1, err, sizeof err) < 0) { ... }
 *   onnx_output out;
 *   onnx_session_output(s, 0, &out);      // out.data valid until the next run or free
 *   onnx_session_free(s);
 *   onnx_model_free(model);
 *
 * Model: immutable after load (weights, folded constants, fused and pre-packed nodes), so
 * several sessions may use one model from different threads at once.
 * Session: the mutable state of runs (intermediate buffers, outputs, scratch); one thread at
 * a time. It keeps its buffers between runs so that steady-state runs do not allocate.
 *
 * Errors: functions return 0 or a negative ONNX_E_* code and write a one-line message into
 * the caller's buffer (err, err_len; err may be NULL). Nothing here aborts on bad input. */
#ifndef INFERD_ONNX_H
#define INFERD_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/dtype.h"

#define ONNX_E_IO          (-1) /* file missing or unreadable */
#define ONNX_E_INVALID     (-2) /* malformed model, or inputs that do not fit the model */
#define ONNX_E_UNSUPPORTED (-3) /* valid ONNX that this runtime does not implement */
#define ONNX_E_NOMEM       (-4) /* allocation failed (the runtime's own failure) */
#define ONNX_E_TOO_LARGE   (-5) /* the inputs ask for a tensor beyond ONNX_MAX_TENSOR_BYTES */
/* At run time, ONNX_E_INVALID, ONNX_E_UNSUPPORTED and ONNX_E_TOO_LARGE mean "these inputs are
 * refused" (a server answers 400); ONNX_E_NOMEM and ONNX_E_IO are internal failures (500). */
#define ONNX_E_IS_INPUT_ERROR(rc) \
    ((rc) == ONNX_E_INVALID || (rc) == ONNX_E_UNSUPPORTED || (rc) == ONNX_E_TOO_LARGE)

/* Oldest and newest opset of the default domain ("" / "ai.onnx") that loads. The product
 * targets 7..17; older models load too, and each node runs with the semantics of the operator
 * version its opset selects (e.g. Add-6's broadcast/axis attributes). An operator version
 * this runtime does not implement (Tile-1, Upsample-1, ...) is refused as unsupported. */
#define ONNX_OPSET_MIN 1
#define ONNX_OPSET_MAX 17

typedef struct onnx_model onnx_model;
typedef struct onnx_session onnx_session;

/* ---- Loading ---------------------------------------------------------------------------- */

/* Loads an .onnx file. External tensor data (data_location EXTERNAL) is read from files
 * relative to the model's directory and must stay inside it. On success *out is a new model
 * the caller frees with onnx_model_free(). On failure *out is NULL and a code is returned:
 * ONNX_E_UNSUPPORTED for an opset outside ONNX_OPSET_MIN..MAX, another domain, or an
 * operator the registry lacks (message names op type, node name and opset). */
int onnx_model_load(const char *path, onnx_model **out, char *err, size_t err_len);

/* Loads a model from memory (data is only read during the call). base_dir is where external
 * data files are looked up; NULL refuses external data. Ownership as onnx_model_load. */
int onnx_model_load_buffer(const void *data, size_t len, const char *base_dir, onnx_model **out,
                           char *err, size_t err_len);

/* Frees the model. Every session created on it must be freed first. NULL is a no-op. */
void onnx_model_free(onnx_model *model);

/* ---- Metadata (pointers owned by the model, valid until onnx_model_free) ------------------- */

typedef struct onnx_value_info {
    const char *name;
    inferd_dtype dtype;           /* INFERD_DTYPE_INVALID if the model does not say */
    int ndim;                     /* -1 if the rank is unknown */
    const int64_t *dims;          /* ndim values; -1 for an unknown or symbolic dim */
    const char *const *dim_names; /* ndim values; the symbolic name ("batch") or NULL */
    int is_sequence;              /* a sequence of tensors of dtype (dims unknown: ndim -1) */
    int is_optional;              /* may be fed or produced without a value (ONNX_KIND_NONE) */
} onnx_value_info;

/* Graph inputs the caller must feed (initializers are not listed) and graph outputs. */
int onnx_model_num_inputs(const onnx_model *model);
const onnx_value_info *onnx_model_input(const onnx_model *model, int i); /* NULL if out of range */
int onnx_model_num_outputs(const onnx_model *model);
const onnx_value_info *onnx_model_output(const onnx_model *model, int i);

int onnx_model_opset(const onnx_model *model); /* default-domain opset */
int64_t onnx_model_ir_version(const onnx_model *model);
const char *onnx_model_producer(const onnx_model *model); /* "" if absent */

/* Nodes as written in the file, before folding and fusion, grouped by op type: the number of
 * distinct types, and for type i its name and count. */
int onnx_model_num_op_types(const onnx_model *model);
const char *onnx_model_op_type(const onnx_model *model, int i, int *count);

/* Nodes left to execute per run after constant folding and fusion. */
int onnx_model_num_exec_nodes(const onnx_model *model);

/* The GEMMs in use and the kernels picked for this CPU, e.g. "inferd avx512-8x32, OpenBLAS
 * Cooperlake" (our packed GEMM, and OpenBLAS for what stays on it). OPENBLAS_CORETYPE in the
 * environment can force OpenBLAS's. A static string. */
const char *onnx_blas_info(void);

/* Bytes held by weights and folded constants. */
size_t onnx_model_weight_bytes(const onnx_model *model);

/* Samples per slice when a run's batch is larger: every node of the model treats dim 0 of its
 * inputs as independent samples, so such a batch runs through the graph a slice at a time
 * (same results, activations that stay in cache). 0: batches always run whole. */
int64_t onnx_model_batch_slice(const onnx_model *model);
/* Why batches run whole (batch slice 0), e.g. "node 12 'name' (Transpose)"; "" when they
 * slice. A string owned by the model. */
const char *onnx_model_batch_why(const onnx_model *model);

/* Groups of Concats (axis 1) whose inputs are written in place into one buffer at batch 1,
 * from a session's second run of a shape (docs/onnx-runtime.md); *concats (may be NULL)
 * receives how many Concats they hold. */
int onnx_model_concat_groups(const onnx_model *model, int *concats);

/* ---- Sessions and runs ------------------------------------------------------------------- */

/* Creates a session with `threads` compute threads (<= 0 means 1): one pool of threads - 1
 * workers plus the caller of onnx_run, on which operators split their work; OpenBLAS runs
 * on one thread. *out is freed by the caller with onnx_session_free(). */
int onnx_session_create(const onnx_model *model, int threads, onnx_session **out, char *err,
                        size_t err_len);

/* Frees the session and every output it returned. NULL is a no-op. */
void onnx_session_free(onnx_session *session);

/* What an input or output holds: a tensor (the usual case, and 0 so that zero-initialised
 * structs mean it), a sequence of tensors, or nothing (an optional without a value). */
#define ONNX_KIND_TENSOR   0
#define ONNX_KIND_SEQUENCE 1
#define ONNX_KIND_NONE     2

/* One input, owned by the caller. It is read during onnx_run only (never written and never
 * kept), so it may live in shared memory. A tensor: dims are row-major; nbytes must equal
 * product(dims) * inferd_dtype_size(dtype), except for strings (INFERD_DTYPE_BYTES): each
 * element is a little-endian u32 length and that many bytes, back to back, nbytes in all (the
 * KServe binary layout). A sequence (kind ONNX_KIND_SEQUENCE; only for inputs the model
 * declares is_sequence): n_items tensors in items (their name and kind are ignored), all of
 * dtype; the sequence's own dims/data are ignored. ONNX_KIND_NONE: only for is_optional
 * inputs. */
typedef struct onnx_input {
    const char *name; /* NULL = the model's input at the same position */
    inferd_dtype dtype;
    int ndim;
    const int64_t *dims;
    const void *data;
    size_t nbytes;
    int kind;                       /* ONNX_KIND_* (0: a tensor) */
    int n_items;                    /* ONNX_KIND_SEQUENCE */
    const struct onnx_input *items; /* ONNX_KIND_SEQUENCE */
} onnx_input;

/* Runs the model. Every model input must be given once; dtypes must match and fixed dims
 * must agree (symbolic dims such as the batch may change from run to run). On failure the
 * session stays usable and the outputs of the failed run are not available. */
int onnx_run(onnx_session *session, const onnx_input *inputs, int n_inputs, char *err,
             size_t err_len);

/* A view of one output of the last successful run, owned by the session: data, dims and
 * name stay valid until the next onnx_run or onnx_session_free on this session. Copy it if
 * you need it longer. */
typedef struct onnx_output {
    const char *name;
    inferd_dtype dtype;
    int ndim;
    const int64_t *dims;
    const void *data; /* may be NULL when nbytes == 0 */
    size_t nbytes;
    int kind; /* ONNX_KIND_*: a sequence has n_items (onnx_session_output_item), dtype the
                    items' type, no data; NONE: an optional without a value */
    int n_items;
} onnx_output;

int onnx_session_num_outputs(const onnx_session *session);
/* Fills *out for output i. Returns 0, or ONNX_E_INVALID if i is out of range or no run has
 * succeeded since the session was created. */
int onnx_session_output(const onnx_session *session, int i, onnx_output *out);
/* Item k of output i when that output is a sequence (same lifetime as onnx_session_output).
 * Returns 0, or ONNX_E_INVALID if it is not a sequence or k is out of range. */
int onnx_session_output_item(const onnx_session *session, int i, int k, onnx_output *out);

/* Largest number of bytes of intermediate buffers the session held at once (across runs). */
size_t onnx_session_peak_bytes(const onnx_session *session);

/* ---- Profiling --------------------------------------------------------------------------- */

/* Per-node run time, off by default (then it costs one branch per node). Switching it on
 * starts every node's count from zero; off (0) frees the counts. ONNX_PROFILE_WALL counts
 * wall time; ONNX_PROFILE_CPU counts the CPU time of the thread that runs the session (with
 * 1 thread, a profile that time spent waiting for a core on a loaded machine does not
 * inflate; with more threads it leaves out the pool workers' share). Returns 0 or
 * ONNX_E_NOMEM. */
#define ONNX_PROFILE_WALL 1
#define ONNX_PROFILE_CPU  2
int onnx_session_set_profiling(onnx_session *session, int on);

/* One executed node (after folding and fusion, in execution order) over the runs profiled. */
typedef struct onnx_node_profile {
    const char *op_type, *name; /* owned by the model */
    const char *activation;     /* fused activation ("Relu", "Silu" ...) or NULL */
    int64_t ns;                 /* total time in the node */
    int64_t calls;              /* times it ran (a run in batch slices runs it per slice) */
    char shapes[160];           /* its inputs' and outputs' shapes at the last run:
                                   "1x3x224x224, 32x3x3x3, 32 -> 1x32x112x112" */
} onnx_node_profile;

/* Fills *out for node k, 0 <= k < onnx_model_num_exec_nodes(). Returns 0, or ONNX_E_INVALID
 * if profiling is off or k is out of range. */
int onnx_session_node_profile(const onnx_session *session, int k, onnx_node_profile *out);

#endif
