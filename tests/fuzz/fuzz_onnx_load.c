/* libFuzzer target: the ONNX loader (onnx_model_load_buffer: protobuf decode, graph checks,
 * constant folding, fusion, memory plan) on arbitrary bytes, with external data refused.
 * A model that loads has its metadata walked and a session created; when its inputs are
 * small (unknown dims taken as 1, at most 4096 elements each, fixed-size dtypes) it is also
 * run once on zeros. */
#include <string.h>

#include "fuzz_common.h"
#include "inferd/onnx.h"

static void check_info(const onnx_value_info *v)
{
    FUZZ_CHECK(v != NULL && v->name != NULL);
    FUZZ_CHECK(v->ndim >= -1);
    for (int d = 0; d < v->ndim; d++) FUZZ_CHECK(v->dims[d] >= -1);
}

#define RUN_MAX_INPUTS   16
#define RUN_MAX_ELEMENTS 4096

/* Runs the model once on zeros if every input is small; errors are fine, crashes are not. */
static void run_small(const onnx_model *model, onnx_session *session)
{
    int n = onnx_model_num_inputs(model);
    if (n > RUN_MAX_INPUTS) return;
    onnx_input in[RUN_MAX_INPUTS];
    int64_t dims[RUN_MAX_INPUTS][8];
    void *bufs[RUN_MAX_INPUTS] = {0};
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
        const onnx_value_info *v = onnx_model_input(model, i);
        size_t esize = inferd_dtype_size(v->dtype);
        uint64_t elements = 1;
        ok = v->ndim >= 0 && v->ndim <= 8 && esize > 0;
        for (int d = 0; ok && d < v->ndim; d++) {
            dims[i][d] = v->dims[d] < 0 ? 1 : v->dims[d];
            if (dims[i][d] > RUN_MAX_ELEMENTS) ok = 0;
            else elements *= (uint64_t)dims[i][d];
            if (elements > RUN_MAX_ELEMENTS) ok = 0;
        }
        if (!ok) break;
        bufs[i] = calloc(1, elements * esize + 1);
        FUZZ_CHECK(bufs[i] != NULL);
        in[i] = (onnx_input){.name = NULL,
                             .dtype = v->dtype,
                             .ndim = v->ndim,
                             .dims = dims[i],
                             .data = bufs[i],
                             .nbytes = elements * esize};
    }
    char err[512];
    if (ok && onnx_run(session, in, n, err, sizeof err) == 0) {
        for (int i = 0; i < onnx_session_num_outputs(session); i++) {
            onnx_output out;
            FUZZ_CHECK(onnx_session_output(session, i, &out) == 0);
            FUZZ_CHECK(out.ndim >= 0 && (out.data != NULL || out.nbytes == 0));
        }
    }
    for (int i = 0; i < n; i++) free(bufs[i]);
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
    for (int i = 0; i < onnx_model_num_outputs(model); i++) check_info(onnx_model_output(model, i));
    FUZZ_CHECK(onnx_model_input(model, onnx_model_num_inputs(model)) == NULL);
    for (int i = 0; i < onnx_model_num_op_types(model); i++) {
        int count = 0;
        FUZZ_CHECK(onnx_model_op_type(model, i, &count) != NULL && count > 0);
    }
    (void)onnx_model_producer(model);
    onnx_session *session = NULL;
    if (onnx_session_create(model, 1, &session, err, sizeof err) == 0) {
        run_small(model, session);
        onnx_session_free(session);
    }
    onnx_model_free(model);
    return 0;
}
