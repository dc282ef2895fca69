/* inferd-onnx run: feed .npy inputs, write each output as <dir>/<name>.npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inferd/npy.h"
#include "tool.h"

#define MAX_INPUTS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: inferd-onnx run MODEL --input NAME=FILE.npy [--input ...] [--output-dir DIR]\n"
            "                         [--threads T] [--runs N]\n"
            "Runs the model N times (default 1; the runs after the first take the steady-state\n"
            "paths, e.g. Concat inputs written in place) and writes the last run's outputs.\n"
            "Every model input must be given. Each output is written to\n"
            "DIR/<output name>.npy (DIR defaults to '.'; '/' in names becomes '_').\n"
            ".npy types: float32, float64, int64, int32, uint8, bool (little-endian, C order).\n");
}

int tool_run(int argc, char **argv)
{
    const char *path = NULL, *out_dir = ".";
    const char *specs[MAX_INPUTS];
    int n_specs = 0;
    long threads = 1, runs = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            if (n_specs == MAX_INPUTS) {
                fprintf(stderr, "inferd-onnx run: at most %d inputs\n", MAX_INPUTS);
                return 2;
            }
            specs[n_specs++] = argv[++i];
        } else if (!strcmp(argv[i], "--output-dir") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = tool_parse_long(argv[++i], 1, 256);
            if (threads < 0) {
                fprintf(stderr, "inferd-onnx run: --threads needs a number 1..256\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = tool_parse_long(argv[++i], 1, 100);
            if (runs < 0) {
                fprintf(stderr, "inferd-onnx run: --runs needs a number 1..100\n");
                return 2;
            }
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "inferd-onnx run: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    onnx_model *m = tool_load(path);
    if (!m) return 1;
    int rc = 1;
    npy_array arrays[MAX_INPUTS];
    onnx_input inputs[MAX_INPUTS];
    char names[MAX_INPUTS][256];
    int n_loaded = 0;
    char err[512];
    for (int i = 0; i < n_specs; i++) {
        const char *eq = strchr(specs[i], '=');
        if (!eq || eq == specs[i] || (size_t)(eq - specs[i]) >= sizeof names[i]) {
            fprintf(stderr, "inferd-onnx run: --input wants NAME=FILE.npy, got '%s'\n", specs[i]);
            goto out;
        }
        memcpy(names[i], specs[i], (size_t)(eq - specs[i]));
        names[i][eq - specs[i]] = 0;
        if (npy_read_file(eq + 1, &arrays[i], err, sizeof err) < 0) {
            fprintf(stderr, "inferd-onnx run: %s\n", err);
            goto out;
        }
        n_loaded++;
        inputs[i] = (onnx_input){.name = names[i],
                                 .dtype = arrays[i].dtype,
                                 .ndim = arrays[i].ndim,
                                 .dims = arrays[i].dims,
                                 .data = arrays[i].data,
                                 .nbytes = arrays[i].nbytes};
    }
    if (mkdir(out_dir, 0755) < 0) {
        struct stat st;
        if (stat(out_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "inferd-onnx run: cannot create output directory %s\n", out_dir);
            goto out;
        }
    }
    onnx_session *s;
    if (onnx_session_create(m, (int)threads, &s, err, sizeof err) < 0) {
        fprintf(stderr, "inferd-onnx run: %s\n", err);
        goto out;
    }
    for (long r = 0; r < runs; r++) {
        if (onnx_run(s, inputs, n_specs, err, sizeof err) < 0) {
            fprintf(stderr, "inferd-onnx run: %s\n", err);
            onnx_session_free(s);
            goto out;
        }
    }
    rc = 0;
    for (int i = 0; i < onnx_session_num_outputs(s); i++) {
        onnx_output o;
        onnx_session_output(s, i, &o);
        char file[4096], safe[256];
        snprintf(safe, sizeof safe, "%s", o.name);
        for (char *c = safe; *c; c++)
            if (*c == '/') *c = '_';
        snprintf(file, sizeof file, "%s/%s.npy", out_dir, safe);
        if (npy_write_file(file, o.dtype, o.ndim, o.dims, o.data, err, sizeof err) < 0) {
            fprintf(stderr, "inferd-onnx run: output '%s': %s\n", o.name, err);
            rc = 1;
            continue;
        }
        printf("%s: %s [", o.name, inferd_dtype_name(o.dtype));
        for (int k = 0; k < o.ndim; k++)
            printf("%lld%s", (long long)o.dims[k], k + 1 < o.ndim ? ", " : "");
        printf("] -> %s\n", file);
    }
    onnx_session_free(s);
out:
    for (int i = 0; i < n_loaded; i++) npy_array_free(&arrays[i]);
    onnx_model_free(m);
    return rc;
}
