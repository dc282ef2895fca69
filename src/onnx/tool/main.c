/* inferd-onnx: command dispatch and shared helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: inferd-onnx COMMAND [options]\n"
            "Commands:\n"
            "  info MODEL                         inputs, outputs, opset and operators of a model\n"
            "  run MODEL --input NAME=FILE.npy... run once and write each output as DIR/<name>.npy\n"
            "          [--output-dir DIR] [--threads T]\n"
            "  bench MODEL [--batch N] [--seconds S] [--threads T] [--dim NAME=V]...\n"
            "                                     throughput and latency on random inputs\n"
            "Run 'inferd-onnx COMMAND --help' for a command's options.\n");
}

onnx_model *tool_load(const char *path)
{
    char err[512];
    onnx_model *m;
    if (onnx_model_load(path, &m, err, sizeof err) < 0) {
        fprintf(stderr, "inferd-onnx: cannot load %s: %s\n", path, err);
        return NULL;
    }
    return m;
}

void tool_format_info(const onnx_value_info *vi, char *buf, size_t len)
{
    size_t p = (size_t)snprintf(buf, len, "%s ", vi->dtype ? inferd_dtype_name(vi->dtype) : "?");
    if (vi->ndim < 0) {
        snprintf(buf + p, len - p, "[rank unknown]");
        return;
    }
    p += (size_t)snprintf(buf + p, len - p, "[");
    for (int k = 0; k < vi->ndim && p < len; k++) {
        const char *sep = k + 1 < vi->ndim ? ", " : "";
        if (vi->dims[k] >= 0) p += (size_t)snprintf(buf + p, len - p, "%lld%s", (long long)vi->dims[k], sep);
        else if (vi->dim_names[k]) p += (size_t)snprintf(buf + p, len - p, "%s%s", vi->dim_names[k], sep);
        else p += (size_t)snprintf(buf + p, len - p, "?%s", sep);
    }
    if (p < len) snprintf(buf + p, len - p, "]");
}

long tool_parse_long(const char *s, long min, long max)
{
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < min || v > max) return -1;
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "info")) return tool_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return tool_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return tool_bench(argc - 1, argv + 1);
    fprintf(stderr, "inferd-onnx: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
