/* Our packed SGEMM (src/onnx/gemm) beside OpenBLAS's cblas_sgemm, in the same run, alternating,
 * on the GEMM shapes of ResNet-18, MobileNetV2 and the encoder (conv-as-GEMM: M output
 * channels, K = C x kernel, N output positions x batch) at batch 1 and 8, or on shapes read
 * from a file (--shapes: lines "M N K const" with const A, B or - for the operand that is a
 * constant of the model; INFERD_GEMM_TRACE=FILE makes the runtime write such lines). Each
 * variant's fastest single call is kept, calls alternating: the machines are shared and noisy.
 *
 *   gemm_bench [--shapes FILE] [--threads N] [--blas-threads N] [--kernel generic|avx2|avx512]
 *              [--ms T]
 *              [--cold MIB]
 * (--blas-threads: OpenBLAS's threads, default --threads; 1 keeps its idle threads, which spin
 * and sched_yield between calls, from taking the cores our pool's calls run on.
 * --cold: before every timed call, read MIB MiB of another buffer, so the operands (the packed
 * weights above all) come from DRAM as they do in a model that runs its layers one after
 * another; 0, the default, times warm calls.)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gemm/gemm.h"

typedef struct shape {
    char name[48];
    int64_t m, n, k;
    char konst; /* 'A', 'B' or '-' */
} shape;

/* name, M, N (batch 1), K, constant operand; N grows with the batch except for FC layers,
 * where M does */
static const struct {
    const char *name;
    int64_t m, n, k;
    char konst;
    int batch_on_m;
} builtin[] = {
    {"resnet18 conv1 7x7/2", 64, 12544, 147, 'A', 0},
    {"resnet18 l1 3x3", 64, 3136, 576, 'A', 0},
    {"resnet18 l2 3x3/2", 128, 784, 576, 'A', 0},
    {"resnet18 l2 3x3", 128, 784, 1152, 'A', 0},
    {"resnet18 l2 1x1/2", 128, 784, 64, 'A', 0},
    {"resnet18 l3 3x3", 256, 196, 2304, 'A', 0},
    {"resnet18 l3 1x1/2", 256, 196, 128, 'A', 0},
    {"resnet18 l4 3x3", 512, 49, 4608, 'A', 0},
    {"resnet18 l4 1x1/2", 512, 49, 256, 'A', 0},
    {"resnet18 fc", 1, 1000, 512, 'B', 1},
    {"mobilenetv2 1x1 32->16 112^2", 16, 12544, 32, 'A', 0},
    {"mobilenetv2 1x1 16->96 112^2", 96, 12544, 16, 'A', 0},
    {"mobilenetv2 1x1 96->24 56^2", 24, 3136, 96, 'A', 0},
    {"mobilenetv2 1x1 24->144 56^2", 144, 3136, 24, 'A', 0},
    {"mobilenetv2 1x1 144->32 28^2", 32, 784, 144, 'A', 0},
    {"mobilenetv2 1x1 32->192 28^2", 192, 784, 32, 'A', 0},
    {"mobilenetv2 1x1 384->64 14^2", 64, 196, 384, 'A', 0},
    {"mobilenetv2 1x1 64->384 14^2", 384, 196, 64, 'A', 0},
    {"mobilenetv2 1x1 576->160 7^2", 160, 49, 576, 'A', 0},
    {"mobilenetv2 1x1 160->960 7^2", 960, 49, 160, 'A', 0},
    {"mobilenetv2 1x1 320->1280 7^2", 1280, 49, 320, 'A', 0},
    {"mobilenetv2 fc", 1, 1000, 1280, 'B', 1},
    {"encoder qkv", 128, 768, 256, 'B', 1},
    {"encoder proj", 128, 256, 256, 'B', 1},
    {"encoder ffn in", 128, 1024, 256, 'B', 1},
    {"encoder ffn out", 128, 256, 1024, 'B', 1},
    {"encoder q.k^T (per head)", 128, 128, 64, '-', 0},
    {"encoder p.v (per head)", 128, 64, 128, '-', 0},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct bench_ops {
    const shape *s;
    float *a, *b, *c;
    onnx_gemm_packed *pk;
    onnx_tpool *pool;
} bench_ops;

static void run_blas(const bench_ops *o)
{
    const shape *s = o->s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->m, (int)s->n, (int)s->k, 1.0f,
                o->a, (int)s->k, o->b, (int)s->n, 0.0f, o->c, (int)s->n);
}

static void run_ours(const bench_ops *o, int packed)
{
    const shape *s = o->s;
    onnx_gemm_args g = {.m = s->m,
                        .n = s->n,
                        .k = s->k,
                        .a = o->a,
                        .lda = s->k,
                        .b = o->b,
                        .ldb = s->n,
                        .alpha = 1.0f,
                        .c = o->c,
                        .ldc = s->n};
    if (packed && s->konst == 'A') g.pa = o->pk;
    if (packed && s->konst == 'B') g.pb = o->pk;
    if (onnx_gemm_run(&g, o->pool) != 0) {
        fprintf(stderr, "gemm failed\n");
        exit(1);
    }
}

/* --cold: the buffer read before each call to push the operands out of the caches */
static unsigned char *evict_buf;
static size_t evict_bytes;
static volatile unsigned evict_sink;

static void evict_caches(void)
{
    unsigned s = 0;
    for (size_t i = 0; i < evict_bytes; i += 64) s += evict_buf[i];
    evict_sink = s;
}

/* Runs variant `which` once (0 OpenBLAS, 1 ours unpacked, 2 ours packed); seconds. */
static double time_call(const bench_ops *o, int which)
{
    if (evict_buf) evict_caches();
    const double t0 = now_s();
    if (which == 0) run_blas(o);
    else run_ours(o, which == 2);
    return now_s() - t0;
}

static int load_shapes(const char *path, shape **out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, cap = 0;
    shape *v = NULL;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        shape s = {.konst = '-'};
        char kc = '-';
        if (sscanf(line, "%ld %ld %ld %c", &s.m, &s.n, &s.k, &kc) < 3) continue;
        if (s.m <= 0 || s.n <= 0 || s.k <= 0 || s.m > 1 << 20 || s.n > 1 << 24 || s.k > 1 << 20)
            continue;
        s.konst = kc == 'A' || kc == 'B' ? kc : '-';
        snprintf(s.name, sizeof s.name, "%s", "from file");
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= v[i].m == s.m && v[i].n == s.n && v[i].k == s.k && v[i].konst == s.konst;
        if (dup) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            shape *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n++] = s;
    }
    fclose(f);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    const char *shapes_path = NULL;
    int threads = 1, blas_threads = 0;
    double ms = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes_path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blas-threads") && i + 1 < argc) blas_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc) ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cold") && i + 1 < argc) {
            const long mib = atol(argv[++i]);
            if (mib < 0 || mib > 4096) {
                fprintf(stderr, "--cold: 0 .. 4096 MiB\n");
                return 2;
            }
            evict_bytes = (size_t)mib << 20;
        } else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) {
            const char *k = argv[++i];
            onnx_gemm_kernel_id id = !strcmp(k, "generic") ? ONNX_GEMM_GENERIC
                                     : !strcmp(k, "avx2")  ? ONNX_GEMM_AVX2
                                                           : ONNX_GEMM_AVX512;
            if (onnx_gemm_set_kernel(id) != 0) {
                fprintf(stderr, "kernel %s: not on this CPU\n", k);
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--shapes FILE] [--threads N] [--blas-threads N] [--kernel K] [--ms "
                    "T] [--cold MIB]\n",
                    argv[0]);
            return 2;
        }
    }
    shape *shapes = NULL;
    int n_shapes = 0;
    if (shapes_path) {
        if ((n_shapes = load_shapes(shapes_path, &shapes)) < 0) {
            perror(shapes_path);
            return 2;
        }
    } else {
        const int nb = (int)(sizeof builtin / sizeof *builtin);
        shapes = calloc((size_t)nb * 2, sizeof *shapes);
        if (!shapes) return 1;
        for (int batch = 1; batch <= 8; batch += 7)
            for (int i = 0; i < nb; i++) {
                shape *s = &shapes[n_shapes++];
                snprintf(s->name, sizeof s->name, "%s b%d", builtin[i].name, batch);
                s->m = builtin[i].m * (builtin[i].batch_on_m ? batch : 1);
                s->n = builtin[i].n * (builtin[i].batch_on_m ? 1 : batch);
                s->k = builtin[i].k;
                s->konst = builtin[i].konst;
            }
    }
    if (evict_bytes) { /* written once: untouched pages would all read the zero page */
        if (!(evict_buf = malloc(evict_bytes))) return 1;
        memset(evict_buf, 1, evict_bytes);
    }
    if (blas_threads <= 0) blas_threads = threads;
    openblas_set_num_threads(blas_threads);
    onnx_tpool *pool = threads > 1 ? onnx_tpool_create(threads) : NULL;
    printf("gemm_bench: %ld cores online, %d thread(s), kernel %s, OpenBLAS %s (%d threads), %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), threads, onnx_gemm_kernel_name(ONNX_GEMM_AUTO),
           openblas_get_corename(), blas_threads, evict_buf ? "cold calls" : "warm calls");
    printf("| shape | M | N | K | const | OpenBLAS GFLOP/s | ours packed | ours unpacked | "
           "packed/BLAS | unpacked/BLAS |\n|---|---|---|---|---|---|---|---|---|---|\n");
    double log_sum_p = 0, log_sum_u = 0;
    for (int i = 0; i < n_shapes; i++) {
        const shape *s = &shapes[i];
        bench_ops o = {.s = s, .pool = pool};
        o.a = malloc(sizeof(float) * (size_t)(s->m * s->k));
        o.b = malloc(sizeof(float) * (size_t)(s->k * s->n));
        o.c = malloc(sizeof(float) * (size_t)(s->m * s->n));
        if (!o.a || !o.b || !o.c) return 1;
        for (int64_t j = 0; j < s->m * s->k; j++) o.a[j] = (float)(j % 17) * 0.01f;
        for (int64_t j = 0; j < s->k * s->n; j++) o.b[j] = (float)(j % 13) * 0.01f;
        if (s->konst == 'A') o.pk = onnx_gemm_pack_a(o.a, 0, s->m, s->k, s->k);
        if (s->konst == 'B') o.pk = onnx_gemm_pack_b(o.b, 0, s->k, s->n, s->n);
        const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k * 1e-9;
        /* single calls alternating (BLAS, ours packed, ours unpacked) for about ms
         * milliseconds, the fastest call of each: the least disturbed by other load */
        double tb = 1e30, tp = 1e30, tu = 1e30, t;
        for (int w = 0; w < 3; w++) time_call(&o, w); /* warm caches and pages */
        const double t_end = now_s() + ms * 1e-3;
        for (long r = 0; r < 3 || now_s() < t_end; r++) {
            if ((t = time_call(&o, 0)) < tb) tb = t;
            if (o.pk && (t = time_call(&o, 2)) < tp) tp = t;
            if ((t = time_call(&o, 1)) < tu) tu = t;
        }
        if (!o.pk) tp = tu;
        printf("| %s | %ld | %ld | %ld | %c | %.1f | %.1f | %.1f | %.2f | %.2f |\n", s->name, s->m,
               s->n, s->k, s->konst, flop / tb, flop / tp, flop / tu, tb / tp, tb / tu);
        fflush(stdout);
        log_sum_p += __builtin_log(tb / tp);
        log_sum_u += __builtin_log(tb / tu);
        onnx_gemm_packed_free(o.pk);
        free(o.a), free(o.b), free(o.c);
    }
    if (n_shapes > 0)
        printf("\ngeometric mean over %d shapes: packed %.2fx OpenBLAS, unpacked %.2fx\n", n_shapes,
               __builtin_exp(log_sum_p / n_shapes), __builtin_exp(log_sum_u / n_shapes));
    onnx_tpool_free(pool);
    free(shapes);
    free(evict_buf);
    return 0;
}
