/* libFuzzer target: model config parsing (model_config_parse) of arbitrary config.json text.
 * Properties: a parsed config is within the limits every user of it relies on (counts, ranks,
 * NUL-terminated names, valid dtypes, workers min <= max). */
#include <string.h>

#include "fuzz_common.h"
#include "inferd/model_config.h"

static void check_ios(const model_io *ios, int n, int max_batch_size)
{
    FUZZ_CHECK(n >= 0 && n <= MODEL_MAX_IO);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(memchr(ios[i].name, '\0', MODEL_NAME_LEN) != NULL && ios[i].name[0]);
        FUZZ_CHECK(inferd_dtype_is_valid((int)ios[i].dtype));
        FUZZ_CHECK(ios[i].ndim >= 0 && ios[i].ndim <= MODEL_MAX_DIMS);
        /* batched: one rank is kept for the batch dimension */
        if (max_batch_size > 0) FUZZ_CHECK(ios[i].ndim < MODEL_MAX_DIMS);
        for (int d = 0; d < ios[i].ndim; d++) FUZZ_CHECK(ios[i].dims[d] >= -1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    model_config c;
    char err[512];
    if (model_config_parse("m", "/nonexistent/inferd-fuzz", text, &c, err, sizeof err) == 0) {
        FUZZ_CHECK(memchr(c.backend, '\0', sizeof c.backend) != NULL && c.backend[0]);
        FUZZ_CHECK(c.max_batch_size >= 0);
        check_ios(c.inputs, c.n_inputs, c.max_batch_size);
        check_ios(c.outputs, c.n_outputs, c.max_batch_size);
        FUZZ_CHECK(c.workers_min >= 0 && c.workers_min <= c.workers_max);
        FUZZ_CHECK(c.max_queue_size >= 0 && c.timeout_ms >= 0 && c.max_queue_delay_us >= 0);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0]);
    }
    free(text);
    return 0;
}
