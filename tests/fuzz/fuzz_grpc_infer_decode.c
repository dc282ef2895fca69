/* libFuzzer target: the gRPC ModelInfer decode path. The input is a serialized
 * ModelInferRequest (what a client sends after the 5-byte prefix): unpacked by protobuf-c,
 * then decoded (grpc_infer_decode) into a real shared-memory arena for each of the model
 * configs of fuzz_models.h. Properties: success leaves tensors inside the arena that match
 * their dims and datatypes; failure is INVALID_ARGUMENT or UNAVAILABLE with a message; either
 * way freeing leaves the arena empty. */
#include "fuzz_models.h"
#include "grpc_infer.h"
#include "inferd/grpc_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) fuzz_models_setup();
    shm_region *region = fuzz_region();
    Inference__ModelInferRequest *r = inference__model_infer_request__unpack(NULL, size, data);
    if (!r) return 0;
    for (size_t i = 0; i < N_CONFIGS; i++) {
        infer_request req;
        grpc_infer_params params;
        memset(&req, 0, sizeof req);
        char err[512];
        err[0] = '\0';
        int code =
            grpc_infer_decode(r, NULL, &models[i], region, arena, &req, &params, err, sizeof err);
        if (code == 0) {
            FUZZ_CHECK(req.n_inputs == (uint32_t)models[i].n_inputs);
            FUZZ_CHECK(req.batch_rows >= 1);
            for (uint32_t k = 0; k < req.n_inputs; k++) {
                check_tensor(region, &req.inputs[k]);
                FUZZ_CHECK(req.inputs[k].dtype == (uint32_t)models[i].inputs[k].dtype);
            }
            kserve_free_inputs(arena, &req);
        } else {
            FUZZ_CHECK(code == GRPC_STATUS_INVALID_ARGUMENT || code == GRPC_STATUS_UNAVAILABLE);
            FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
            FUZZ_CHECK(req.n_inputs == 0);
        }
        FUZZ_CHECK(shm_arena_used(arena) == 0);
    }
    inference__model_infer_request__free_unpacked(r, NULL);
    return 0;
}
