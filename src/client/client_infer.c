/* KServe v2 infer bodies: a binary-tensor request from tensors, and tensors from an answer
 * (JSON `data` or binary outputs after Inference-Header-Content-Length), every size checked
 * against the body. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_tensor.h"

int inferd_infer_request_encode(const inferd_tensor *inputs, size_t n, int binary_outputs,
                                char **body, size_t *body_len, size_t *json_len, char *err,
                                size_t err_len)
{
    *body = NULL;
    json_t *root = json_object();
    json_t *arr = json_array();
    json_object_set_new(root, "inputs", arr);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const inferd_tensor *t = &inputs[i];
        if (client_tensor_check_bytes(t, err, err_len) != 0) {
            json_decref(root);
            return INFERD_CLIENT_E_INVALID;
        }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->dims[d]));
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:o, s:{s:I}}", "name", t->name, "datatype",
                           inferd_dtype_name(t->dtype), "shape", shape, "parameters",
                           "binary_data_size", (json_int_t)t->nbytes));
        total += t->nbytes; /* each checked against its shape: no overflow in practice */
    }
    if (binary_outputs)
        json_object_set_new(root, "parameters", json_pack("{s:b}", "binary_data_output", 1));
    char *head = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!head) {
        snprintf(err, err_len, "out of memory");
        return INFERD_CLIENT_E_NOMEM;
    }
    size_t hl = strlen(head);
    char *b = total <= SIZE_MAX - hl - 1 ? malloc(hl + total + 1) : NULL;
    if (!b) {
        free(head);
        snprintf(err, err_len, "out of memory");
        return INFERD_CLIENT_E_NOMEM;
    }
    memcpy(b, head, hl);
    free(head);
    size_t off = hl;
    for (size_t i = 0; i < n; i++) {
        if (inputs[i].nbytes)
            memcpy(b + off, inputs[i].data, inputs[i].nbytes);
        off += inputs[i].nbytes;
    }
    *body = b;
    *body_len = off;
    *json_len = hl;
    return 0;
}

static int decode_output(json_t *o, const char *bin, size_t bin_len, size_t *bin_off,
                         inferd_tensor *t, char *err, size_t err_len)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *dt = json_string_value(json_object_get(o, "datatype"));
    json_t *shape = json_object_get(o, "shape");
    if (!name || !dt || !json_is_array(shape) || strlen(name) >= sizeof t->name) {
        snprintf(err, err_len, "an output lacks name, datatype or shape");
        return -1;
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = inferd_dtype_from_name(dt);
    if (t->dtype == INFERD_DTYPE_INVALID || json_array_size(shape) > INFERD_CLIENT_MAX_DIMS) {
        snprintf(err, err_len, "output '%s': bad datatype or shape", name);
        return -1;
    }
    t->ndim = (int)json_array_size(shape);
    for (int d = 0; d < t->ndim; d++) {
        json_t *v = json_array_get(shape, (size_t)d);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(err, err_len, "output '%s': bad shape", name);
            return -1;
        }
        t->dims[d] = json_integer_value(v);
    }
    if (inferd_tensor_elements(t) < 0) {
        snprintf(err, err_len, "output '%s': shape overflows", name);
        return -1;
    }
    json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
    if (size) {
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            (uint64_t)json_integer_value(size) > bin_len - *bin_off) {
            snprintf(err, err_len, "output '%s': binary_data_size runs past the body", name);
            return -1;
        }
        t->nbytes = (size_t)json_integer_value(size);
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!t->data) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        memcpy(t->data, bin + *bin_off, t->nbytes);
        *bin_off += t->nbytes;
        return client_tensor_check_bytes(t, err, err_len);
    }
    json_t *data = json_object_get(o, "data");
    if (!data) {
        snprintf(err, err_len, "output '%s' has neither data nor binary_data_size", name);
        return -1;
    }
    char why[200];
    if (client_tensor_from_json(data, t, 1, why, sizeof why) != 0) {
        snprintf(err, err_len, "output '%s': %s", name, why);
        return -1;
    }
    return 0;
}

int inferd_infer_response_decode(const inferd_client_response *resp, inferd_tensor **outs,
                                 size_t *n_outs, char *err, size_t err_len)
{
    *outs = NULL;
    *n_outs = 0;
    json_error_t jerr;
    json_t *j = json_loadb(resp->body, resp->json_len, 0, &jerr);
    if (resp->status != 200) {
        json_t *e = json_object_get(j, "error");
        snprintf(err, err_len, "HTTP %d: %s", resp->status,
                 json_is_string(e) ? json_string_value(e) : "(no error text)");
        json_decref(j);
        return INFERD_CLIENT_E_PROTOCOL;
    }
    json_t *arr = json_object_get(j, "outputs");
    if (!json_is_array(arr)) {
        snprintf(err, err_len, "the answer has no outputs array%s%s", j ? "" : ": ",
                 j ? "" : jerr.text);
        json_decref(j);
        return INFERD_CLIENT_E_PROTOCOL;
    }
    size_t n = json_array_size(arr);
    inferd_tensor *t = calloc(n ? n : 1, sizeof *t);
    if (!t) {
        json_decref(j);
        snprintf(err, err_len, "out of memory");
        return INFERD_CLIENT_E_NOMEM;
    }
    const char *bin = resp->body + resp->json_len;
    size_t bin_len = resp->body_len - resp->json_len, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (decode_output(json_array_get(arr, i), bin, bin_len, &off, &t[i], err, err_len) != 0) {
            inferd_tensors_free(t, n);
            json_decref(j);
            return INFERD_CLIENT_E_PROTOCOL;
        }
    }
    json_decref(j);
    if (off != bin_len) {
        inferd_tensors_free(t, n);
        snprintf(err, err_len, "%zu bytes after the outputs", bin_len - off);
        return INFERD_CLIENT_E_PROTOCOL;
    }
    *outs = t;
    *n_outs = n;
    return 0;
}
