/* inferd-onnx bench: run a model on random inputs for a while and report throughput,
 * latency percentiles and peak RSS. */
#include "inferd/clock.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define MAX_DIM_OVERRIDES 32
#define MAX_SAMPLES       ((size_t)1 << 20) /* latency samples kept */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: inferd-onnx bench MODEL [--batch N] [--seconds S] [--threads T] [--dim NAME=V]...\n"
        "                         [--profile | --profile-cpu] [--top N]\n"
        "Feeds random inputs of the model's shapes: a symbolic or unknown dim is V if named by\n"
        "--dim, else N (default 1) for the first dim, else 1. Runs for S seconds (default 5)\n"
        "after one warm-up run and prints throughput (batch items per second), latency\n"
        "p50/p99 per run, the process's peak RSS and its CPU time per inference (user + sys\n"
        "of all threads over the timed runs). --profile then prints where the time\n"
        "went: each op type's share of the time in nodes and its nodes run per run (a shape\n"
        "subgraph's memo skips the others), and the N nodes (default 15) taking the most, with\n"
        "their shapes and runs (nodes after folding and fusion; a fused activation in brackets).\n"
        "--profile-cpu counts each node's CPU time of the running thread instead of wall time:\n"
        "at --threads 1 on a loaded machine it leaves out time spent waiting for a core (with\n"
        "more threads it leaves out the pool workers' share).\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill_random(void *data, inferd_dtype dt, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        double r = (double)((*seed >> 8) & 0xffff) / 65536.0;
        switch (dt) {
        case INFERD_DTYPE_FP32: ((float *)data)[i] = (float)r; break;
        case INFERD_DTYPE_FP64: ((double *)data)[i] = r; break;
        default: memset((char *)data + i * inferd_dtype_size(dt), 0, inferd_dtype_size(dt)); break;
        }
    }
}

int tool_bench(int argc, char **argv)
{
    const char *path = NULL;
    long batch = 1, seconds = 5, threads = 1, top = 15;
    const char *dim_names[MAX_DIM_OVERRIDES];
    long dim_values[MAX_DIM_OVERRIDES];
    int n_dims = 0, profile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long *target = NULL;
        long max = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--profile")) {
            profile = ONNX_PROFILE_WALL;
            continue;
        } else if (!strcmp(a, "--profile-cpu")) {
            profile = ONNX_PROFILE_CPU;
            continue;
        } else if (!strcmp(a, "--batch")) {
            target = &batch, max = 1 << 20;
        } else if (!strcmp(a, "--seconds")) {
            target = &seconds, max = 86400;
        } else if (!strcmp(a, "--threads")) {
            target = &threads, max = 256;
        } else if (!strcmp(a, "--top")) {
            target = &top, max = 1 << 30;
        } else if (!strcmp(a, "--dim") && i + 1 < argc) {
            const char *spec = argv[++i], *eq = strchr(spec, '=');
            long v = eq ? tool_parse_long(eq + 1, 1, 1 << 20) : -1;
            if (!eq || eq == spec || v < 0 || n_dims == MAX_DIM_OVERRIDES) {
                fprintf(stderr, "inferd-onnx bench: --dim wants NAME=V (V >= 1), got '%s'\n", spec);
                return 2;
            }
            dim_names[n_dims] = strndup(spec, (size_t)(eq - spec));
            dim_values[n_dims++] = v;
            continue;
        } else if (a[0] != '-' && !path) {
            path = a;
            continue;
        } else {
            fprintf(stderr, "inferd-onnx bench: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || (*target = tool_parse_long(argv[++i], 1, max)) < 0) {
            fprintf(stderr, "inferd-onnx bench: %s needs a number 1..%ld\n", a, max);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    onnx_model *m = tool_load(path);
    if (!m) return 1;
    int n_in = onnx_model_num_inputs(m);
    onnx_input *inputs = calloc((size_t)n_in + 1, sizeof *inputs);
    int64_t(*shapes)[8] = calloc((size_t)n_in + 1, sizeof *shapes);
    void **bufs = calloc((size_t)n_in + 1, sizeof *bufs);
    int rc = 1;
    unsigned seed = 42;
    int64_t items = 1;
    printf("model: %s\ncores: %ld\nbatch: %ld threads: %ld seconds: %ld\n", path,
           sysconf(_SC_NPROCESSORS_ONLN), batch, threads, seconds);
    /* the kernels OpenBLAS picked (OPENBLAS_CORETYPE can force others): GEMM speed depends on it */
    printf("blas: %s\n", onnx_blas_info());
    for (int i = 0; i < n_in; i++) {
        const onnx_value_info *vi = onnx_model_input(m, i);
        if (vi->ndim < 0 || vi->dtype == INFERD_DTYPE_INVALID) {
            fprintf(stderr, "inferd-onnx bench: input '%s' has no declared type/rank\n", vi->name);
            goto out;
        }
        size_t n = 1;
        for (int k = 0; k < vi->ndim; k++) {
            int64_t d = vi->dims[k];
            if (d < 0) {
                d = k == 0 ? batch : 1;
                for (int o = 0; o < n_dims; o++)
                    if (vi->dim_names[k] && !strcmp(vi->dim_names[k], dim_names[o]))
                        d = dim_values[o];
            }
            shapes[i][k] = d;
            if (i == 0 && k == 0) items = d; /* what one run infers over */
            n *= (size_t)d;
        }
        size_t es = inferd_dtype_size(vi->dtype);
        if (es == 0 || n > ((size_t)1 << 34) / es) {
            fprintf(stderr, "inferd-onnx bench: input '%s' is too large or of unsupported type\n",
                    vi->name);
            goto out;
        }
        bufs[i] = malloc(n * es + 1);
        if (!bufs[i]) goto out;
        fill_random(bufs[i], vi->dtype, n, &seed);
        inputs[i] = (onnx_input){.name = vi->name,
                                 .dtype = vi->dtype,
                                 .ndim = vi->ndim,
                                 .dims = shapes[i],
                                 .data = bufs[i],
                                 .nbytes = n * es};
        char buf[256];
        tool_format_info(vi, buf, sizeof buf);
        printf("input %s: %s ->", vi->name, buf);
        for (int k = 0; k < vi->ndim; k++) printf(" %lld", (long long)shapes[i][k]);
        printf("\n");
    }
    onnx_session *s;
    char err[512];
    if (onnx_session_create(m, (int)threads, &s, err, sizeof err) < 0 ||
        onnx_run(s, inputs, n_in, err, sizeof err) < 0) {
        fprintf(stderr, "inferd-onnx bench: %s\n", err);
        goto out;
    }
    if (profile && onnx_session_set_profiling(s, profile) < 0) { /* after the warm-up run */
        fprintf(stderr, "inferd-onnx bench: out of memory\n");
        onnx_session_free(s);
        goto out;
    }
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    size_t cap = 1024, n_runs = 0, total_runs = 0;
    double *lat = malloc(cap * sizeof *lat);
    double start = clock_now_s(), end = start + (double)seconds;
    while (lat) {
        double t0 = clock_now_s();
        if (t0 >= end && n_runs > 0) break;
        if (onnx_run(s, inputs, n_in, err, sizeof err) < 0) {
            fprintf(stderr, "inferd-onnx bench: %s\n", err);
            break;
        }
        double dt = clock_now_s() - t0;
        total_runs++;
        if (n_runs == cap && cap < MAX_SAMPLES) {
            double *l = realloc(lat, cap * 2 * sizeof *lat);
            if (!l) break;
            lat = l;
            cap *= 2;
        }
        if (n_runs < cap) {
            lat[n_runs++] = dt;
        } else { /* reservoir sampling keeps percentiles unbiased at bounded memory */
            seed = seed * 1103515245u + 12345u;
            size_t j = (size_t)(((uint64_t)seed << 16 | (seed >> 16)) % total_runs);
            if (j < cap) lat[j] = dt;
        }
    }
    double elapsed = clock_now_s() - start;
    if (lat && n_runs > 0 && !err[0]) {
        qsort(lat, n_runs, sizeof *lat, cmp_double);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        /* CPU time is what a loaded machine's other jobs do not inflate, unlike elapsed time */
        const double cpu_s = (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                             (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                             (double)(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                             (double)(ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
        printf("runs: %zu in %.2f s\n", total_runs, elapsed);
        printf("throughput: %.1f inferences/s\n", (double)total_runs * (double)items / elapsed);
        printf("latency p50: %.3f ms p99: %.3f ms\n", lat[n_runs / 2] * 1e3,
               lat[(n_runs * 99) / 100] * 1e3);
        printf("peak RSS: %.1f MiB (activations: %.1f MiB, weights: %.1f MiB)\n",
               ru.ru_maxrss / 1024.0, (double)onnx_session_peak_bytes(s) / (1 << 20),
               (double)onnx_model_weight_bytes(m) / (1 << 20));
        printf("cpu: %.3f ms per inference (user + sys over the timed runs)\n",
               cpu_s * 1e3 / ((double)total_runs * (double)items));
        rc = profile ? tool_print_profile(s, m, total_runs, elapsed, profile == ONNX_PROFILE_CPU,
                                          (int)top)
                     : 0;
    }
    free(lat);
    onnx_session_free(s);
out:
    for (int i = 0; i < n_in; i++) free(bufs[i]);
    for (int o = 0; o < n_dims; o++) free((void *)dim_names[o]);
    free(bufs), free(shapes), free(inputs);
    onnx_model_free(m);
    return rc;
}
