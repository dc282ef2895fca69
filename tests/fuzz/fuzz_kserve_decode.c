/* libFuzzer target: a KServe v2 JSON infer request body decoded (kserve_decode_infer) into a
 * real shared-memory arena for each of a few model configs covering every dtype, batched and
 * not, fixed and variable dims. Properties: success leaves tensors inside the arena that
 * match their dims; success or failure, freeing leaves the arena empty (nothing leaks in it)
 * and the JSON scratch block given back; a body the fast path (kserve_decode_fast) accepts
 * decodes to the same tensors through the full path once an "id" makes it decline. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_models.h"
#include "json_scratch.h"

/* When the fast path accepts data: the full path, given data with "id" as its first member,
 * accepts too, with the same tensors. */
static void check_fast_path(const uint8_t *data, size_t size, const model_config *m,
                            shm_region *region)
{
    infer_request fast;
    memset(&fast, 0, sizeof fast);
    if (!kserve_decode_fast((const char *)data, size, m, region, arena, &fast)) {
        FUZZ_CHECK(fast.n_inputs == 0 && shm_arena_used(arena) == 0);
        return;
    }
    const uint8_t *brace = memchr(data, '{', size);
    FUZZ_CHECK(brace != NULL);
    static const char id[] = "\"id\": \"x\", ";
    size_t head = (size_t)(brace - data) + 1;
    char *body = malloc(size + sizeof id);
    FUZZ_CHECK(body != NULL);
    memcpy(body, data, head);
    memcpy(body + head, id, sizeof id - 1);
    memcpy(body + head + sizeof id - 1, data + head, size - head);
    size_t len = size + sizeof id - 1;
    infer_request full;
    kserve_params params;
    memset(&full, 0, sizeof full);
    memset(&params, 0, sizeof params);
    char err[512];
    int status = kserve_decode_infer(body, len, len, NULL, m, region, arena, &full, &params, err,
                                     sizeof err);
    free(body);
    FUZZ_CHECK(status == 0);
    FUZZ_CHECK(full.n_inputs == fast.n_inputs && full.batch_rows == fast.batch_rows);
    for (uint32_t k = 0; k < full.n_inputs; k++) {
        const shm_tensor *a = &fast.inputs[k], *b = &full.inputs[k];
        FUZZ_CHECK(a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes);
        FUZZ_CHECK(memcmp(a->dims, b->dims, sizeof a->dims) == 0);
        FUZZ_CHECK(memcmp(shm_arena_ptr(region, a->offset), shm_arena_ptr(region, b->offset),
                          a->nbytes) == 0);
    }
    kserve_free_inputs(arena, &fast);
    kserve_free_inputs(arena, &full);
    free(params.id);
}

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
        check_fast_path(data, size, &models[i], region);
        FUZZ_CHECK(shm_arena_used(arena) == 0);
    }
    return 0;
}
