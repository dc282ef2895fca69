/* libFuzzer target: the KServe JSON tokenizer (src/node/kserve_json.c) on arbitrary bytes:
 * kj_split (the request body splitter) and kj_skip over the whole input. The input is not
 * NUL-terminated, so any read past its end is caught by ASan. */
#include <string.h>

#include "fuzz_common.h"
#include "kserve_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    kj_span spans[KJ_MAX_SPANS];
    char *skeleton = NULL;
    size_t skeleton_len = 0;
    char err[256];
    if (kj_split(body, size, spans, &skeleton, &skeleton_len, err, sizeof err) == 0) {
        FUZZ_CHECK(skeleton != NULL);
        FUZZ_CHECK(skeleton_len <= KJ_SKELETON_MAX);
        FUZZ_CHECK(strlen(skeleton) <= skeleton_len); /* NUL-terminated */
        for (int i = 0; i < KJ_MAX_SPANS; i++) {
            if (!spans[i].len) continue;
            FUZZ_CHECK(spans[i].off <= size && spans[i].len <= size - spans[i].off);
            /* A located data value is itself one complete JSON value. */
            kj_cursor v = {body + spans[i].off, body + spans[i].off + spans[i].len};
            FUZZ_CHECK(kj_skip(&v, 0) == 0);
        }
        free(skeleton);
    }
    kj_cursor c = {body, body + size};
    if (kj_skip(&c, 0) == 0) FUZZ_CHECK(c.p >= body && c.p <= body + size);
    return 0;
}
