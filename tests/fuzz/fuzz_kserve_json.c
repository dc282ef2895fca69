/* libFuzzer target: the KServe JSON tokenizer (src/node/kserve_json.c) on arbitrary bytes:
 * kj_split (the request body splitter), kj_skip over the whole input, and kj_sole_string (the
 * /process one-pass reader) against jansson, which reads the same bodies when it declines. The
 * input is not NUL-terminated, so any read past its end is caught by ASan. */
#include <jansson.h>
#include <stdlib.h>
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
    kj_cursor msg;
    size_t msg_len;
    if (kj_sole_string(body, size, "message", &msg, &msg_len) == 0) {
        /* what it takes, jansson reads as the same string */
        uint8_t *text = malloc(msg_len ? msg_len : 1);
        size_t n;
        FUZZ_CHECK(text && kj_string(&msg, text, &n) == 0 && n == msg_len);
        json_t *root = json_loadb(body, size, JSON_ALLOW_NUL, NULL);
        json_t *m = json_object_get(root, "message");
        FUZZ_CHECK(json_is_object(root) && json_object_size(root) == 1 && json_is_string(m));
        FUZZ_CHECK(json_string_length(m) == n && memcmp(json_string_value(m), text, n) == 0);
        json_decref(root);
        free(text);
    }
    kj_cursor c = {body, body + size};
    if (kj_skip(&c, 0) == 0) FUZZ_CHECK(c.p >= body && c.p <= body + size);
    return 0;
}
