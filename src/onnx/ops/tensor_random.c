/* Random generators: RandomUniform, RandomNormal (1) and their *Like forms, Bernoulli (15),
 * Multinomial (7). Values come from xoshiro256** seeded through splitmix64: with the `seed`
 * attribute every run of the node produces the same values (the executor keeps no state
 * between runs); without it, each run draws a fresh seed from the clock and a process-wide
 * counter. The streams are not numpy's, so outputs cannot match other runtimes value for
 * value; the ONNX spec makes no such promise. These nodes are never constant-folded. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tensor_ops.h"
#include "tensor_util.h"

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform double in [0, 1) with 53 random bits. */
static double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_normal(rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2); /* Box-Muller; 1 - u1 > 0 */
}

static void rng_init(const onnx_node *node, rng *r)
{
    static atomic_uint_fast64_t counter;
    uint64_t x;
    const onnx_attr *seed = onnx_node_attr(node, "seed");
    if (seed) {
        double v = seed->type == ONNX_ATTR_FLOAT ? seed->f : (double)seed->i;
        memcpy(&x, &v, sizeof x);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
            (atomic_fetch_add(&counter, 1) << 48);
    }
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static int is_float_type(inferd_dtype t)
{
    return t == INFERD_DTYPE_FP32 || t == INFERD_DTYPE_FP64 || t == INFERD_DTYPE_FP16;
}

/* The output type: the dtype attribute, else def (INVALID: required to be given). */
static int out_dtype(onnx_ctx *ctx, inferd_dtype def, int float_only, inferd_dtype *out)
{
    int64_t v = onnx_attr_int(onnx_ctx_node(ctx), "dtype", def);
    if (v != (int)v || !inferd_dtype_is_valid((int)v) || inferd_dtype_size((inferd_dtype)v) == 0 ||
        (float_only && !is_float_type((inferd_dtype)v)))
        return onnx_ctx_unsupported(ctx, "output dtype %lld not supported", (long long)v);
    *out = (inferd_dtype)v;
    return 0;
}

/* Shape from the `shape` attribute (RandomUniform/RandomNormal) or input 0 (the Like forms). */
static int gen_shape(onnx_ctx *ctx, int like, int *ndim, int64_t *dims, inferd_dtype *def)
{
    if (like) {
        const onnx_tensor *x = onnx_ctx_input(ctx, 0);
        if (!x) return onnx_ctx_fail(ctx, "missing input");
        *ndim = x->ndim;
        memcpy(dims, x->dims, sizeof x->dims);
        *def = x->dtype;
        return 0;
    }
    const int64_t *s;
    int n = onnx_attr_ints(onnx_ctx_node(ctx), "shape", &s);
    if (n < 0) return onnx_ctx_fail(ctx, "missing attribute 'shape'");
    if (n > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "rank %d too large", n);
    for (int k = 0; k < n; k++) {
        if (s[k] < 0) return onnx_ctx_fail(ctx, "negative dim in shape");
        dims[k] = s[k];
    }
    *ndim = n;
    *def = INFERD_DTYPE_FP32;
    return 0;
}

static int random_run(onnx_ctx *ctx, int like, int normal)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    int ndim = 0;
    int64_t dims[ONNX_MAX_DIMS];
    inferd_dtype def = INFERD_DTYPE_FP32, dt = INFERD_DTYPE_FP32;
    if (gen_shape(ctx, like, &ndim, dims, &def) < 0 || out_dtype(ctx, def, 1, &dt) < 0) return -1;
    const double a = onnx_attr_float(node, normal ? "mean" : "low", 0.0f);
    const double b = onnx_attr_float(node, normal ? "scale" : "high", 1.0f);
    if (!normal && !(a <= b)) return onnx_ctx_fail(ctx, "low must not exceed high");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, ndim, dims);
    if (!y) return -1;
    rng r;
    rng_init(node, &r);
    const int64_t n = onnx_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double v = normal ? a + b * rng_normal(&r) : a + (b - a) * rng_uniform(&r);
        onnx_tu_store(y->data, dt, i, v);
    }
    return 0;
}

int onnx_run_random_uniform(onnx_ctx *ctx)
{
    return random_run(ctx, 0, 0);
}
int onnx_run_random_uniform_like(onnx_ctx *ctx)
{
    return random_run(ctx, 1, 0);
}
int onnx_run_random_normal(onnx_ctx *ctx)
{
    return random_run(ctx, 0, 1);
}
int onnx_run_random_normal_like(onnx_ctx *ctx)
{
    return random_run(ctx, 1, 1);
}

/* Bernoulli: y = 1 with probability x (which must lie in [0, 1]), else 0. */
int onnx_run_bernoulli(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (!is_float_type(x->dtype))
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    inferd_dtype dt = INFERD_DTYPE_FP32;
    if (out_dtype(ctx, x->dtype, 0, &dt) < 0) return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, x->ndim, x->dims);
    if (!y) return -1;
    rng r;
    rng_init(onnx_ctx_node(ctx), &r);
    const int64_t n = onnx_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        double p = onnx_tu_load(x->data, x->dtype, i);
        if (!(p >= 0 && p <= 1)) return onnx_ctx_fail(ctx, "probability %g outside [0, 1]", p);
        onnx_tu_store(y->data, dt, i, rng_uniform(&r) < p ? 1.0 : 0.0);
    }
    return 0;
}

/* Multinomial: sample_size draws per batch row from the distribution proportional to
 * exp(x[row]), as int32 (default) or int64 class indices. */
int onnx_run_multinomial(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (!is_float_type(x->dtype))
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (x->ndim != 2 || x->dims[1] < 1) return onnx_ctx_fail(ctx, "input must be [batch, classes]");
    const int64_t dt = onnx_attr_int(node, "dtype", INFERD_DTYPE_INT32);
    if (dt != INFERD_DTYPE_INT32 && dt != INFERD_DTYPE_INT64)
        return onnx_ctx_fail(ctx, "dtype must be int32 or int64");
    const int64_t samples = onnx_attr_int(node, "sample_size", 1);
    if (samples < 0) return onnx_ctx_fail(ctx, "sample_size must be >= 0");
    const int64_t batch = x->dims[0], classes = x->dims[1];
    int64_t dims[2] = {batch, samples};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, (inferd_dtype)dt, 2, dims);
    if (!y) return -1;
    double *cdf = onnx_ctx_scratch(ctx, (size_t)(classes + 1) * sizeof *cdf);
    if (!cdf) return -1;
    rng r;
    rng_init(node, &r);
    for (int64_t b = 0; b < batch; b++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t k = 0; k < classes; k++) {
            double v = onnx_tu_load(x->data, x->dtype, b * classes + k);
            if (isnan(v)) return onnx_ctx_fail(ctx, "NaN log-probability");
            if (v > mx) mx = v;
        }
        if (isinf(mx) && mx < 0)
            return onnx_ctx_fail(ctx, "row %lld has no possible outcome", (long long)b);
        for (int64_t k = 0; k < classes; k++) {
            sum += exp(onnx_tu_load(x->data, x->dtype, b * classes + k) - mx);
            cdf[k] = sum;
        }
        for (int64_t s = 0; s < samples; s++) {
            const double u = rng_uniform(&r) * sum;
            int64_t lo = 0, hi = classes - 1; /* first k with cdf[k] > u */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (cdf[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            onnx_tu_store(y->data, (inferd_dtype)dt, b * samples + s, (double)lo);
        }
    }
    return 0;
}
