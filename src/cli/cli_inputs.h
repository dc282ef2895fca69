/* A model's inputs as inferctl sees them: the metadata route's description, inputs read from
 * --input NAME=FILE.npy|JSON, and synthesized inputs for perf. */
#ifndef INFERD_CLI_INPUTS_H
#define INFERD_CLI_INPUTS_H

#include "cli.h"
#include "inferd/client.h"

#define CLI_MAX_INPUTS 32

typedef struct cli_model_meta {
    char name[256];
    int max_batch_size;
    size_t n_inputs;
    inferd_tensor inputs[CLI_MAX_INPUTS]; /* name, dtype, ndim, dims (-1 = any); no data */
} cli_model_meta;

/* GET /v2/models/{model}. Returns 0, or -1 with a message in err. */
int cli_model_meta_get(const char *url, const char *model, cli_model_meta *m, char *err,
                       size_t err_len);

/* Fills inputs[0..m->n_inputs) (in the model's order) from specs "NAME=FILE.npy" or
 * "NAME=JSON" (a nested array; the model's datatype). A tensor one dimension short of a
 * batched model gets a batch dimension of 1. Every input must be given once. On success the
 * caller frees each inputs[i].data; returns 0, or -1 with a message in err (nothing to free). */
int cli_inputs_load(const cli_model_meta *m, const char *const *specs, size_t n_specs,
                    inferd_tensor *inputs, char *err, size_t err_len);

/* Inputs for perf: the model's shape with batch 1 and every variable dimension `var_dim`;
 * zeros, or pseudo-random values when random (BYTES: var_dim-byte strings). Returns 0 (free
 * each data) or -1 with a message in err. */
int cli_inputs_synthesize(const cli_model_meta *m, int random, int64_t var_dim,
                          inferd_tensor *inputs, char *err, size_t err_len);

/* An infer request for m, as inferctl sends it (binary tensors in and out). */
typedef struct cli_body {
    char *data; /* malloc'd; free it */
    size_t len, json_len;
    char path[300]; /* /v2/models/{m}/infer */
} cli_body;

/* Builds the body from a's --input options, or, when there are none and synth_var_dim > 0,
 * from synthesized inputs (cli_inputs_synthesize; random with a's --random). Returns 0,
 * CLI_EXIT_USAGE (a bad or missing input) or CLI_EXIT_FAIL, with a message in err. */
int cli_infer_body(const cli_args *a, const cli_model_meta *m, int64_t synth_var_dim,
                   cli_body *out, char *err, size_t err_len);

#endif
