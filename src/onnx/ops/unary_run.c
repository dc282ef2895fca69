/* The shared runner of the unary family (unary_kernels.h): picks the kernel for the input's
 * type, makes the output, and computes float16 through float32. */
#include "../threadpool.h"
#include "ew_engine.h"
#include "unary_kernels.h"

/* Tasks start on 64-element boundaries: no two threads write one cache line. */
#define UN_TASK_ALIGN 64

typedef struct un_job {
    un_fn fn;
    char *y;
    const char *x;
    size_t y_size, x_size;
    int64_t n, chunk;
    const un_param *p;
} un_job;

static void un_task(void *arg, int64_t i)
{
    const un_job *j = arg;
    const int64_t e0 = i * j->chunk, len = j->n - e0 < j->chunk ? j->n - e0 : j->chunk;
    j->fn(j->y + (size_t)e0 * j->y_size, j->x + (size_t)e0 * j->x_size, len, j->p);
}

/* fn over n elements, in ranges on the session's pool when n is large enough. Fixed-size
 * element types only (a string tensor's are not at fixed offsets: size 0). */
static void un_apply(onnx_ctx *ctx, un_fn fn, void *y, inferd_dtype yt, const void *x,
                     inferd_dtype xt, int64_t n, const un_param *p)
{
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    const int64_t units = (n + UN_TASK_ALIGN - 1) / UN_TASK_ALIGN;
    const size_t x_size = inferd_dtype_size(xt), y_size = inferd_dtype_size(yt);
    const int tasks = x_size && y_size ? onnx_tpool_tasks(pool, units, n) : 1;
    if (tasks <= 1) {
        fn(y, x, n, p);
        return;
    }
    un_job j = {.fn = fn,
                .y = y,
                .x = x,
                .y_size = y_size,
                .x_size = x_size,
                .n = n,
                .p = p,
                .chunk = (units + tasks - 1) / tasks * UN_TASK_ALIGN};
    onnx_tpool_parallel_for(pool, (n + j.chunk - 1) / j.chunk, un_task, &j);
}

int un_run(onnx_ctx *ctx, const un_kernel *table, inferd_dtype out_dtype, const un_param *p)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    int half = x->dtype == INFERD_DTYPE_FP16; /* computed with the float32 kernel */
    inferd_dtype want = half ? INFERD_DTYPE_FP32 : x->dtype;
    un_fn fn = NULL;
    for (; table->fn; table++)
        if (table->dtype == want) {
            fn = table->fn;
            break;
        }
    if (!fn)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (out_dtype == INFERD_DTYPE_INVALID) out_dtype = x->dtype;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, out_dtype, x->ndim, x->dims);
    if (!y) return -1;
    int64_t n = onnx_tensor_numel(x);
    if (n == 0) return 0;
    if (!half) {
        un_apply(ctx, fn, y->data, out_dtype, x->data, x->dtype, n, p);
        return 0;
    }
    onnx_tensor wide;
    if (ew_half_to_float(ctx, x, &wide) < 0) return -1;
    if (out_dtype != INFERD_DTYPE_FP16) { /* IsNaN/IsInf: bool straight out */
        un_apply(ctx, fn, y->data, out_dtype, wide.data, INFERD_DTYPE_FP32, n, p);
        return 0;
    }
    /* in place on the scratch copy */
    un_apply(ctx, fn, wide.data, INFERD_DTYPE_FP32, wide.data, INFERD_DTYPE_FP32, n, p);
    ew_float_to_half_store(y->data, wide.data, (size_t)n);
    return 0;
}
