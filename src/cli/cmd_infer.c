/* inferctl infer: one inference with inputs from .npy files or JSON; prints each output's
 * datatype, shape and first values, and writes them as .npy with --output-dir. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_inputs.h"
#include "inferd/npy.h"

static const cli_opt_spec specs[] = {
    {"input", "NAME=FILE.npy|JSON", "an input (repeat for each), from a .npy file or a JSON "
                                    "array"},
    {"output-dir", "DIR", "write each output as DIR/NAME.npy"},
    {NULL, NULL, NULL},
};

static void print_summary(const inferd_tensor *t)
{
    printf("%s %s [", t->name, inferd_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
        printf("%s%lld", d ? "," : "", (long long)t->dims[d]);
    printf("]");
    int64_t n = inferd_tensor_elements(t);
    const unsigned char *p = t->data;
    size_t off = 0;
    for (int64_t i = 0; i < n && i < 8; i++) {
        switch (t->dtype) {
        case INFERD_DTYPE_FP32: { float v; memcpy(&v, p + 4 * i, 4); printf(" %.6g", v); break; }
        case INFERD_DTYPE_FP64: { double v; memcpy(&v, p + 8 * i, 8); printf(" %.9g", v); break; }
        case INFERD_DTYPE_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); printf(" %lld", (long long)v); break; }
        case INFERD_DTYPE_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); printf(" %d", v); break; }
        case INFERD_DTYPE_UINT8:
        case INFERD_DTYPE_BOOL: printf(" %u", p[i]); break;
        case INFERD_DTYPE_BYTES: {
            uint32_t len;
            memcpy(&len, p + off, 4);
            printf(" \"%.*s\"", (int)(len > 40 ? 40 : len), (const char *)p + off + 4);
            off += 4 + (size_t)len;
            break;
        }
        default: printf(" ?"); i = n; break;
        }
    }
    printf("%s\n", n > 8 ? " ..." : "");
}

static int write_output(const char *dir, const inferd_tensor *t)
{
    char path[4096], name[sizeof t->name];
    snprintf(name, sizeof name, "%s", t->name);
    for (char *c = name; *c; c++)
        if (*c == '/' || (c == name && *c == '.'))
            *c = '_';
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    char err[256];
    if (npy_write_file(path, t->dtype, t->ndim, t->dims, t->data, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl infer: output '%s' not written: %s\n", t->name, err);
        return -1;
    }
    printf("wrote %s\n", path);
    return 0;
}

int cmd_infer(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(
        argc, argv, "MODEL --input NAME=FILE.npy|JSON ... [--output-dir DIR]",
        "Runs one inference. Each --input is a .npy file (its dtype must be the model's) or a "
        "JSON array of the model's datatype; a tensor without the batch dimension gets batch "
        "1. Prints every output; --output-dir writes them as NAME.npy.",
        specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    if (a.npos != 1) {
        fprintf(stderr, "inferctl infer: give exactly one MODEL (see inferctl infer --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *dir = cli_args_value(&a, "output-dir");
    if (dir && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "inferctl infer: cannot create %s: %s\n", dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    char err[512];
    static cli_model_meta meta;
    if (cli_model_meta_get(a.url, a.pos[0], &meta, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl infer: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    cli_body body;
    int rc = cli_infer_body(&a, &meta, 0, &body, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "inferctl infer: %s\n", err);
        return rc;
    }
    cli_answer ans;
    rc = cli_request(a.url, "POST", body.path, "application/octet-stream",
                     (long long)body.json_len, body.data, body.len, &ans, err, sizeof err);
    free(body.data);
    if (rc != 0) {
        fprintf(stderr, "inferctl infer: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    inferd_client_response resp = {.status = ans.status, .body = ans.body,
                                   .body_len = ans.body_len, .json_len = ans.json_len};
    inferd_tensor *outs;
    size_t n_outs;
    rc = inferd_infer_response_decode(&resp, &outs, &n_outs, err, sizeof err);
    free(ans.body);
    if (rc != 0) {
        fprintf(stderr, "inferctl infer: %s: %s\n", meta.name, err);
        return CLI_EXIT_FAIL;
    }
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < n_outs; i++) {
        print_summary(&outs[i]);
        if (dir && write_output(dir, &outs[i]) != 0)
            status = CLI_EXIT_FAIL;
    }
    inferd_tensors_free(outs, n_outs);
    return status;
}
