/* libFuzzer target: the ONNX loader (onnx_model_load_buffer: protobuf decode, graph checks,
 * constant folding, fusion, memory plan) on arbitrary bytes, with external data refused.
 * A model that loads has its metadata walked and a session created and freed. */
#include <string.h>

#include "fuzz_common.h"
#include "inferd/onnx.h"

static void check_info(const onnx_value_info *v)
{
    FUZZ_CHECK(v != NULL && v->name != NULL);
    FUZZ_CHECK(v->ndim >= -1);
    for (int d = 0; d < v->ndim; d++) FUZZ_CHECK(v->dims[d] >= -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    onnx_model *model = NULL;
    char err[512];
    int rc = onnx_model_load_buffer(data, size, NULL, &model, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && model == NULL);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    FUZZ_CHECK(model != NULL);
    for (int i = 0; i < onnx_model_num_inputs(model); i++) check_info(onnx_model_input(model, i));
    for (int i = 0; i < onnx_model_num_outputs(model); i++)
        check_info(onnx_model_output(model, i));
    FUZZ_CHECK(onnx_model_input(model, onnx_model_num_inputs(model)) == NULL);
    for (int i = 0; i < onnx_model_num_op_types(model); i++) {
        int count = 0;
        FUZZ_CHECK(onnx_model_op_type(model, i, &count) != NULL && count > 0);
    }
    (void)onnx_model_producer(model);
    onnx_session *session = NULL;
    if (onnx_session_create(model, 1, &session, err, sizeof err) == 0) onnx_session_free(session);
    onnx_model_free(model);
    return 0;
}
