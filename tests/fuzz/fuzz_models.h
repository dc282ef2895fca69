/* What the request-decoding fuzz targets share: parsing model configs, a real shared-memory
 * arena for the tensors, the checks of a decoded tensor; and the configs fuzz_kserve_decode
 * and fuzz_grpc_infer_decode decode against (every dtype, batched and not, fixed and variable
 * dims). A target with configs of its own defines FUZZ_MODELS_OWN_CONFIGS first. */
#ifndef FUZZ_MODELS_H
#define FUZZ_MODELS_H

#include <string.h>

#include "fuzz_common.h"
#include "inferd/model_config.h"
#include "kserve.h"
#include "kserve_binary.h"

/* Parses cfgs[0..n) into out (a config that does not parse is a bug of the target). */
static void fuzz_models_parse(const char *const *cfgs, size_t n, model_config *out)
{
    char err[256];
    for (size_t i = 0; i < n; i++) {
        if (model_config_parse("m", "/nonexistent/inferd-fuzz", cfgs[i], &out[i], err,
                               sizeof err) != 0) {
            fprintf(stderr, "fuzz: config %zu: %s\n", i, err);
            abort();
        }
    }
}

static void check_tensor(const shm_region *region, const shm_tensor *t)
{
    FUZZ_CHECK(t->ndim <= SHM_MAX_DIMS);
    FUZZ_CHECK(shm_arena_range_ok(region, t->offset, t->nbytes));
    int64_t n = kserve_tensor_elements(t);
    FUZZ_CHECK(n >= 0);
    size_t esize = inferd_dtype_size((inferd_dtype)t->dtype);
    if (t->dtype == INFERD_DTYPE_BYTES) {
        /* n elements, each a 4-byte length and its bytes, exactly filling nbytes */
        int64_t walked;
        char err[160];
        FUZZ_CHECK(kserve_bytes_walk(shm_arena_ptr(region, t->offset), t->nbytes, &walked, err,
                                     sizeof err) == 0);
        FUZZ_CHECK(walked == n);
    } else {
        FUZZ_CHECK(t->nbytes == (uint64_t)n * esize);
    }
}

#ifndef FUZZ_MODELS_OWN_CONFIGS
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

static void fuzz_models_setup(void)
{
    fuzz_models_parse(configs, N_CONFIGS, models);
    arena = shm_arena_create(fuzz_region());
    FUZZ_CHECK(arena != NULL);
}
#endif

#endif
