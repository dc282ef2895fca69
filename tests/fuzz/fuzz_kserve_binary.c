/* libFuzzer target: the binary tensor extension's request splitter. The input is
 * "<Inference-Header-Content-Length value>\n<body>" (no newline: no header); the value is
 * checked against the body (kserve_binary_split), and the split body decoded for a
 * three-input model (INT32, BYTES, FP16) and a one-input FP32 model (the raw form). The
 * BYTES walk runs over the whole body too. Properties: a split never lies beyond the body;
 * the walk never counts more elements than 4-byte lengths fit; a success leaves tensors
 * inside the arena that match their dims; success or failure, freeing leaves the arena
 * empty. */
#include <string.h>

#include "fuzz_common.h"
#define FUZZ_MODELS_OWN_CONFIGS
#include "fuzz_models.h"
#include "kserve.h"
#include "kserve_binary.h"

static const char *const configs[] = {
    "{\"backend\": \"identity\", \"max_batch_size\": 4,"
    " \"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"dims\": [2]},"
    "            {\"name\": \"B\", \"datatype\": \"BYTES\", \"dims\": [-1]},"
    "            {\"name\": \"H\", \"datatype\": \"FP16\", \"dims\": [2]}],"
    " \"outputs\": [{\"name\": \"X\", \"datatype\": \"INT32\", \"dims\": [-1]},"
    "             {\"name\": \"Y\", \"datatype\": \"BYTES\", \"dims\": [-1]}]}",
    "{\"backend\": \"identity\", \"max_batch_size\": 8,"
    " \"inputs\": [{\"name\": \"INPUT0\", \"datatype\": \"FP32\", \"dims\": [2, -1]}],"
    " \"outputs\": [{\"name\": \"OUTPUT0\", \"datatype\": \"FP32\", \"dims\": [2, -1]}]}",
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static model_config models[N_CONFIGS];
static shm_arena *arena;

static void setup(void)
{
    fuzz_models_parse(configs, N_CONFIGS, models);
    arena = shm_arena_create(fuzz_region());
    FUZZ_CHECK(arena != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) setup();
    shm_region *region = fuzz_region();
    char header[32];
    const char *hv = NULL;
    const uint8_t *nl = memchr(data, '\n', size < sizeof header ? size : sizeof header);
    const char *body = (const char *)data;
    size_t len = size;
    if (nl) {
        size_t hl = (size_t)(nl - data);
        memcpy(header, data, hl);
        header[hl] = '\0';
        if (!memchr(header, '\0', hl)) hv = header;
        body = (const char *)nl + 1;
        len = size - hl - 1;
    }
    char err[512];
    int64_t elements;
    if (kserve_bytes_walk((const uint8_t *)body, len, &elements, err, sizeof err) == 0)
        FUZZ_CHECK((uint64_t)elements <= len / 4);
    size_t json_len;
    if (kserve_binary_split(hv, len, &json_len, err, sizeof err) != 0) return 0;
    FUZZ_CHECK(json_len <= len);
    for (size_t i = 0; i < N_CONFIGS; i++) {
        infer_request req;
        kserve_params params;
        memset(&req, 0, sizeof req);
        int status = kserve_decode_infer(body, len, json_len, NULL, &models[i], region, arena, &req,
                                         &params, err, sizeof err);
        if (status == 0) {
            FUZZ_CHECK(req.n_inputs == (uint32_t)models[i].n_inputs);
            for (uint32_t k = 0; k < req.n_inputs; k++) check_tensor(region, &req.inputs[k]);
            kserve_free_inputs(arena, &req);
            kserve_params_free(NULL, &params);
        } else {
            FUZZ_CHECK(status == 400 || status == 503);
            FUZZ_CHECK(params.id == NULL);
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        }
        FUZZ_CHECK(shm_arena_used(arena) == 0);
    }
    return 0;
}
