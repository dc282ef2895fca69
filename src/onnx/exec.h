/* Node execution shared by runs (session.c) and load-time constant folding (fold.c): the
 * per-value tensors of one execution, the buffer pool behind them, and onnx_ctx. */
#ifndef ONNX_EXEC_H
#define ONNX_EXEC_H

#include <stddef.h>

#include "model.h"
#include "threadpool.h"

/* Free buffers kept for reuse, best fit by capacity. Buffers are plain heap blocks, so
 * whoever holds one may also free() it. */
typedef struct onnx_pool_block {
    void *ptr;
    size_t cap;
} onnx_pool_block;

typedef struct onnx_pool {
    onnx_pool_block *free;
    int n_free, cap_free;
    size_t live_bytes; /* handed out and not yet returned */
    size_t peak_bytes;
} onnx_pool;

/* A block of at least n bytes (64-byte aligned); *cap receives its capacity. NULL on ENOMEM. */
void *onnx_pool_get(onnx_pool *p, size_t n, size_t *cap);
void onnx_pool_put(onnx_pool *p, void *ptr, size_t cap);
/* Forget a block handed out (its new owner frees it). */
void onnx_pool_detach(onnx_pool *p, size_t cap);
void onnx_pool_clear(onnx_pool *p);

/* Profiling: time spent in one node over the runs since profiling was switched on. */
typedef struct onnx_node_time {
    int64_t ns;
    int64_t calls;
} onnx_node_time;

typedef struct onnx_exec {
    const onnx_model *m;
    int n_values;
    int n_slots;       /* n_values, then one buffer owner per Concat group (place.c) */
    onnx_tensor *vals; /* current tensor of each value */
    void **bufs;       /* pool buffer owned for the value, or NULL */
    size_t *caps;
    int *alias_root;        /* value whose buffer an alias output views, or -1 */
    int *alias_refs;        /* per owner: live aliases of its buffer */
    char *pending;          /* per owner: released while aliases were live */
    struct onnx_seq **seqs; /* per value: the sequence it holds (a reference), or NULL */
    char *none;             /* per value: 1 if it is an optional without a value */
    onnx_pool pool;
    int threads;
    onnx_tpool *tpool;            /* threads > 1: the operators' compute threads (threadpool.h) */
    onnx_node_time *prof;         /* per node of m while profiling (profile.c), else NULL */
    int prof_cpu;                 /* profile counts thread CPU time, not wall time */
    struct onnx_place_run *place; /* sessions only: Concat group layouts (place.h), or NULL */
} onnx_exec;

/* Sets up vals for every value of m (constants point at the model's data) and, for
 * threads > 1, the thread pool. */
int onnx_exec_init(onnx_exec *x, const onnx_model *m, int threads);
void onnx_exec_destroy(onnx_exec *x);
/* Returns value v's buffer to the pool. */
void onnx_exec_release(onnx_exec *x, int v);

/* Runs one node. Returns 0 or ONNX_E_INVALID / ONNX_E_UNSUPPORTED / ONNX_E_NOMEM /
 * ONNX_E_TOO_LARGE, with the
 * message in err. */
int onnx_exec_node(onnx_exec *x, const onnx_node *node, char *err, size_t err_len);

/* Value v as an item (a view). */
void onnx_exec_item(const onnx_exec *x, int v, onnx_item *out);
/* Binds value v to a view of `it` (no buffer ownership; a sequence gets a reference). */
void onnx_exec_bind_item(onnx_exec *x, int v, const onnx_item *it);
/* Records an error on ctx with the given ONNX_E_* code; returns -1. */
int onnx_ctx_fail_code(onnx_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
onnx_exec *onnx_ctx_exec(onnx_ctx *ctx);

/* 1 if op belongs to the control family (takes sequences and optionals; never folded). */
int onnx_op_is_control(const onnx_op *op);

/* profile.c: switches per-node timing on (allocating and zeroing x->prof; ONNX_E_NOMEM) or
 * off (freeing it); and describes node k's time and last shapes (ONNX_E_INVALID when off or
 * k is out of range). */
int onnx_exec_profile_enable(onnx_exec *x, int on);
int onnx_exec_profile_node(const onnx_exec *x, int k, onnx_node_profile *out);

/* Largest accepted tensor or scratch (bytes). The fuzz build lowers it (CMakeLists.txt), so
 * that a model asking for gigabytes fails with ONNX_E_TOO_LARGE inside libFuzzer's memory
 * limit instead of being reported as out-of-memory. */
#ifndef ONNX_MAX_TENSOR_BYTES
#define ONNX_MAX_TENSOR_BYTES ((size_t)1 << 36)
#endif

#endif
