/* libFuzzer target: a KServe v2 JSON infer request body decoded (kserve_decode_infer) into a
 * real shared-memory arena for each of a few model configs covering every dtype, batched and
 * not, fixed and variable dims. Properties: success leaves tensors inside the arena that
 * match their dims; success or failure, freeing leaves the arena empty (nothing leaks in it)
 * and the JSON scratch block given back. */
#include <string.h>

#include "fuzz_models.h"
#include "json_scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) {
        json_scratch_install(); /* as the node: the request's JSON tree in the scratch block */
        fuzz_models_setup();
    }
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
        FUZZ_CHECK(json_scratch_live() == 0 && json_scratch_used() == 0);
    }
    return 0;
}
