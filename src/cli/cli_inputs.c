/* A model's inputs as inferctl sees them: the metadata route's description, inputs read from
 * --input NAME=FILE.npy|JSON, and synthesized inputs for perf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_inputs.h"
#include "cli_json.h"
#include "inferd/npy.h"

int cli_model_meta_get(const char *url, const char *model, cli_model_meta *m, char *err,
                       size_t err_len)
{
    memset(m, 0, sizeof *m);
    if (strlen(model) == 0 || strlen(model) >= sizeof m->name || strpbrk(model, "/?#% ")) {
        snprintf(err, err_len, "bad model name '%s'", model);
        return -1;
    }
    snprintf(m->name, sizeof m->name, "%s", model);
    char path[300];
    snprintf(path, sizeof path, "/v2/models/%s", model);
    json_t *j = cli_json_get(url, "GET", path, NULL, err, err_len);
    if (!j)
        return -1;
    m->max_batch_size = (int)cli_json_num(j, "max_batch_size");
    json_t *ins = json_object_get(j, "inputs");
    size_t i;
    json_t *in;
    int rc = 0;
    json_array_foreach(ins, i, in) {
        if (i >= CLI_MAX_INPUTS) {
            snprintf(err, err_len, "model '%s' has more than %d inputs", model, CLI_MAX_INPUTS);
            rc = -1;
            break;
        }
        inferd_tensor *t = &m->inputs[i];
        json_t *shape = json_object_get(in, "shape");
        snprintf(t->name, sizeof t->name, "%s", cli_json_str(in, "name", ""));
        t->dtype = inferd_dtype_from_name(cli_json_str(in, "datatype", ""));
        if (!t->name[0] || t->dtype == INFERD_DTYPE_INVALID || !json_is_array(shape) ||
            json_array_size(shape) > INFERD_CLIENT_MAX_DIMS) {
            snprintf(err, err_len, "model '%s': metadata has an input I cannot read", model);
            rc = -1;
            break;
        }
        t->ndim = (int)json_array_size(shape);
        for (int d = 0; d < t->ndim; d++)
            t->dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
        m->n_inputs++;
    }
    json_decref(j);
    return rc;
}

static int shape_fits(const cli_model_meta *m, inferd_tensor *t, const inferd_tensor *want,
                      char *err, size_t err_len)
{
    if (m->max_batch_size > 0 && t->ndim == want->ndim - 1 && t->ndim < INFERD_CLIENT_MAX_DIMS) {
        memmove(t->dims + 1, t->dims, (size_t)t->ndim * sizeof t->dims[0]);
        t->dims[0] = 1;
        t->ndim++;
    }
    int ok = t->ndim == want->ndim;
    for (int d = 0; ok && d < t->ndim; d++)
        ok = want->dims[d] < 0 || want->dims[d] == t->dims[d];
    if (!ok) {
        char s[200];
        size_t o = 0;
        for (int d = 0; d < want->ndim && o < sizeof s - 24; d++)
            o += (size_t)snprintf(s + o, sizeof s - o, "%s%lld", d ? "," : "",
                                  (long long)want->dims[d]);
        s[o] = '\0';
        snprintf(err, err_len, "input '%s': shape does not fit the model's [%s]", want->name, s);
        return -1;
    }
    return 0;
}

static int load_one(const cli_model_meta *m, const char *spec, inferd_tensor *inputs,
                    char *err, size_t err_len)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
        snprintf(err, err_len, "--input '%s' is not NAME=FILE.npy or NAME=JSON", spec);
        return -1;
    }
    size_t nl = (size_t)(eq - spec);
    const inferd_tensor *want = NULL;
    size_t k;
    for (k = 0; k < m->n_inputs; k++)
        if (strlen(m->inputs[k].name) == nl && memcmp(m->inputs[k].name, spec, nl) == 0) {
            want = &m->inputs[k];
            break;
        }
    if (!want) {
        snprintf(err, err_len, "model '%s' has no input '%.*s'", m->name, (int)nl, spec);
        return -1;
    }
    inferd_tensor *t = &inputs[k];
    if (t->data) {
        snprintf(err, err_len, "input '%s' given twice", want->name);
        return -1;
    }
    const char *v = eq + 1;
    size_t vl = strlen(v);
    snprintf(t->name, sizeof t->name, "%s", want->name);
    if (vl > 4 && strcmp(v + vl - 4, ".npy") == 0) {
        npy_array a;
        char why[256];
        if (npy_read_file(v, &a, why, sizeof why) != 0) {
            snprintf(err, err_len, "input '%s': %s: %s", want->name, v, why);
            return -1;
        }
        if (a.dtype != want->dtype) {
            snprintf(err, err_len, "input '%s': %s holds %s, the model wants %s", want->name, v,
                     inferd_dtype_name(a.dtype), inferd_dtype_name(want->dtype));
            npy_array_free(&a);
            return -1;
        }
        t->dtype = a.dtype;
        t->ndim = a.ndim;
        memcpy(t->dims, a.dims, sizeof a.dims[0] * (size_t)a.ndim);
        t->data = a.data ? a.data : malloc(1);
        t->nbytes = a.nbytes;
        if (!t->data) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
    } else {
        char why[256];
        if (inferd_tensor_from_json_text(v, want->dtype, t, why, sizeof why) != 0) {
            snprintf(err, err_len, "input '%s': %s", want->name, why);
            return -1;
        }
        if (!t->data && !(t->data = malloc(1))) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
    }
    return shape_fits(m, t, want, err, err_len);
}

int cli_inputs_load(const cli_model_meta *m, const char *const *specs, size_t n_specs,
                    inferd_tensor *inputs, char *err, size_t err_len)
{
    memset(inputs, 0, sizeof *inputs * CLI_MAX_INPUTS);
    int rc = 0;
    for (size_t i = 0; i < n_specs && rc == 0; i++)
        rc = load_one(m, specs[i], inputs, err, err_len);
    for (size_t k = 0; k < m->n_inputs && rc == 0; k++)
        if (!inputs[k].data) {
            snprintf(err, err_len, "input '%s' is missing (--input %s=FILE.npy or =JSON)",
                     m->inputs[k].name, m->inputs[k].name);
            rc = -1;
        }
    if (rc != 0)
        for (size_t k = 0; k < CLI_MAX_INPUTS; k++) {
            free(inputs[k].data);
            inputs[k].data = NULL;
        }
    return rc;
}

int cli_inputs_synthesize(const cli_model_meta *m, int random, int64_t var_dim,
                          inferd_tensor *inputs, char *err, size_t err_len)
{
    memset(inputs, 0, sizeof *inputs * CLI_MAX_INPUTS);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < m->n_inputs; k++) {
        inferd_tensor *t = &inputs[k];
        *t = m->inputs[k];
        for (int d = 0; d < t->ndim; d++)
            if (t->dims[d] < 0)
                t->dims[d] = (d == 0 && m->max_batch_size > 0) ? 1 : var_dim;
        int64_t n = inferd_tensor_elements(t);
        size_t es = t->dtype == INFERD_DTYPE_BYTES ? 4 + (size_t)var_dim
                                                   : inferd_dtype_size(t->dtype);
        if (n < 0 || es == 0 || (uint64_t)n > SIZE_MAX / es) {
            snprintf(err, err_len, "input '%s': cannot synthesize this shape", t->name);
            goto fail;
        }
        t->nbytes = (size_t)n * es;
        unsigned char *p = calloc(t->nbytes ? t->nbytes : 1, 1);
        if (!p) {
            snprintf(err, err_len, "out of memory");
            goto fail;
        }
        t->data = p;
        for (int64_t i = 0; i < n; i++) {
            unsigned char *e = p + (size_t)i * es;
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            switch (t->dtype) {
            case INFERD_DTYPE_BYTES: {
                uint32_t len = (uint32_t)var_dim;
                memcpy(e, &len, 4);
                memset(e + 4, random ? 'a' + (int)(seed % 26) : 'a', (size_t)var_dim);
                break;
            }
            case INFERD_DTYPE_FP32: {
                float f = random ? (float)(seed >> 40) / (float)(1 << 24) : 0.0f;
                memcpy(e, &f, 4);
                break;
            }
            case INFERD_DTYPE_FP64: {
                double d = random ? (double)(seed >> 11) / 9007199254740992.0 : 0.0;
                memcpy(e, &d, 8);
                break;
            }
            case INFERD_DTYPE_BOOL: e[0] = random ? (unsigned char)(seed & 1) : 0; break;
            default: /* integers, FP16/BF16: small bit patterns are fine values */
                if (random)
                    e[0] = (unsigned char)(seed & 0x3f);
                break;
            }
        }
    }
    return 0;
fail:
    for (size_t k = 0; k < CLI_MAX_INPUTS; k++) {
        free(inputs[k].data);
        inputs[k].data = NULL;
    }
    return -1;
}

int cli_infer_body(const cli_args *a, const cli_model_meta *m, int64_t synth_var_dim,
                   cli_body *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    const char *specs[CLI_MAX_ARGS];
    size_t n = 0;
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, "input") == 0)
            specs[n++] = a->opt[i].value;
    inferd_tensor inputs[CLI_MAX_INPUTS];
    if ((n || synth_var_dim <= 0
             ? cli_inputs_load(m, specs, n, inputs, err, err_len)
             : cli_inputs_synthesize(m, cli_args_has(a, "random"), synth_var_dim, inputs, err,
                                     err_len)) != 0)
        return CLI_EXIT_USAGE;
    int rc = inferd_infer_request_encode(inputs, m->n_inputs, 1, &out->data, &out->len,
                                         &out->json_len, err, err_len);
    for (size_t k = 0; k < m->n_inputs; k++)
        free(inputs[k].data);
    snprintf(out->path, sizeof out->path, "/v2/models/%s/infer", m->name);
    return rc == 0 ? 0 : CLI_EXIT_FAIL;
}
