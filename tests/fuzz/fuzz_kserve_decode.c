/* libFuzzer target: a KServe v2 JSON infer request body decoded (kserve_decode_infer) into a
 * real shared-memory arena for each of a few model configs covering every dtype, batched and
 * not, fixed and variable dims. Properties: success leaves tensors inside the arena that
 * match their dims; success or failure, freeing leaves the arena empty (nothing leaks in it). */
#include <string.h>

#include "fuzz_common.h"
#include "kserve.h"

static const char *const configs[] = {
    /* the bundled identity model */
    "{\"backend\": \"identity\", \"max_batch_size\": 64,"
    " \"inputs\": [{\"name\": \"INPUT0\", \"datatype\": \"FP32\", \"dims\": [-1]}],"
    " \"outputs\": [{\"name\": \"OUTPUT0\", \"datatype\": \"FP32\", \"dims\": [-1]}]}",
    /* the bundled reverse model (BYTES) */
    "{\"backend\": \"reverse\", \"max_batch_size\": 64,"
    " \"inputs\": [{\"name\": \"INPUT0\", \"datatype\": \"BYTES\", \"dims\": [-1]}],"
    " \"outputs\": [{\"name\": \"OUTPUT0\", \"datatype\": \"BYTES\", \"dims\": [-1]}]}",
    /* the bundled digits model's inputs (fixed dims; backend identity: no model file) */
    "{\"backend\": \"identity\", \"max_batch_size\": 64,"
    " \"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"dims\": [64]}],"
    " \"outputs\": [{\"name\": \"probabilities\", \"datatype\": \"FP32\", \"dims\": [10]}]}",
    /* not batched: full shapes, several inputs and outputs */
    "{\"backend\": \"identity\", \"max_batch_size\": 0,"
    " \"inputs\": [{\"name\": \"A\", \"datatype\": \"INT64\", \"dims\": [2, -1]},"
    "            {\"name\": \"B\", \"datatype\": \"BOOL\", \"dims\": [-1]},"
    "            {\"name\": \"C\", \"datatype\": \"FP16\", \"dims\": [3]},"
    "            {\"name\": \"D\", \"datatype\": \"BYTES\", \"dims\": [-1, 2]}],"
    " \"outputs\": [{\"name\": \"X\", \"datatype\": \"UINT8\", \"dims\": [-1]},"
    "             {\"name\": \"Y\", \"datatype\": \"FP32\", \"dims\": [1]}]}",
    /* batched, the remaining dtypes */
    "{\"backend\": \"identity\", \"max_batch_size\": 4,"
    " \"inputs\": [{\"name\": \"I8\", \"datatype\": \"INT8\", \"dims\": [2, 2]},"
    "            {\"name\": \"U16\", \"datatype\": \"UINT16\", \"dims\": [-1]},"
    "            {\"name\": \"I16\", \"datatype\": \"INT16\", \"dims\": [1]},"
    "            {\"name\": \"I32\", \"datatype\": \"INT32\", \"dims\": [-1]},"
    "            {\"name\": \"U32\", \"datatype\": \"UINT32\", \"dims\": [1]},"
    "            {\"name\": \"U64\", \"datatype\": \"UINT64\", \"dims\": [-1]},"
    "            {\"name\": \"F64\", \"datatype\": \"FP64\", \"dims\": [-1]},"
    "            {\"name\": \"BF\", \"datatype\": \"BF16\", \"dims\": [-1]}],"
    " \"outputs\": [{\"name\": \"O\", \"datatype\": \"FP32\", \"dims\": [-1]}]}",
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static model_config models[N_CONFIGS];
static shm_arena *arena;

static void setup(void)
{
    char err[256];
    for (size_t i = 0; i < N_CONFIGS; i++) {
        if (model_config_parse("m", "/nonexistent/inferd-fuzz", configs[i], &models[i], err,
                               sizeof err) != 0) {
            fprintf(stderr, "fuzz: config %zu: %s\n", i, err);
            abort();
        }
    }
    arena = shm_arena_create(fuzz_region());
    FUZZ_CHECK(arena != NULL);
}

static void check_tensor(const shm_region *region, const shm_tensor *t)
{
    FUZZ_CHECK(t->ndim <= SHM_MAX_DIMS);
    FUZZ_CHECK(shm_arena_range_ok(region, t->offset, t->nbytes));
    int64_t n = kserve_tensor_elements(t);
    FUZZ_CHECK(n >= 0);
    size_t esize = inferd_dtype_size((inferd_dtype)t->dtype);
    if (t->dtype == INFERD_DTYPE_BYTES) FUZZ_CHECK(t->nbytes >= 4 * (uint64_t)n);
    else FUZZ_CHECK(t->nbytes == (uint64_t)n * esize);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) setup();
    shm_region *region = fuzz_region();
    for (size_t i = 0; i < N_CONFIGS; i++) {
        infer_request req;
        kserve_params params;
        memset(&req, 0, sizeof req);
        memset(&params, 0, sizeof params);
        char err[512];
        int status = kserve_decode_infer((const char *)data, size, size, NULL, &models[i], region,
                                         arena, &req, &params, err, sizeof err);
        if (status == 0) {
            FUZZ_CHECK(req.n_inputs == (uint32_t)models[i].n_inputs);
            FUZZ_CHECK(req.batch_rows >= 1);
            for (uint32_t k = 0; k < req.n_inputs; k++) check_tensor(region, &req.inputs[k]);
            kserve_free_inputs(arena, &req);
            free(params.id);
        } else {
            FUZZ_CHECK(status == 400 || status == 503);
            FUZZ_CHECK(params.id == NULL);
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        }
        FUZZ_CHECK(shm_arena_used(arena) == 0);
    }
    return 0;
}
