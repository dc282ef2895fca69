/* Helpers shared by the inferd-onnx subcommands (loading a model, formatting a value's type,
 * parsing numeric options); below main.c and the subcommand files, which all use them. */
#include <stdio.h>
#include <stdlib.h>

#include "tool.h"

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
        if (vi->dims[k] >= 0)
            p += (size_t)snprintf(buf + p, len - p, "%lld%s", (long long)vi->dims[k], sep);
        else if (vi->dim_names[k])
            p += (size_t)snprintf(buf + p, len - p, "%s%s", vi->dim_names[k], sep);
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
