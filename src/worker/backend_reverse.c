/* `reverse` mock backend: BYTES INPUT0 -> BYTES OUTPUT0, per element
 * "WORKER_PROCESSED: " + the string reversed (by UTF-8 character when the string is valid
 * UTF-8, else byte by byte) with ASCII letters upper-cased; other bytes are left as they are. */
#include "backend.h"

#include <string.h>

#define PREFIX     "WORKER_PROCESSED: "
#define PREFIX_LEN (sizeof PREFIX - 1)

/* Length of the UTF-8 sequence starting at s[0] (of n bytes), or 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

static uint8_t ascii_upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

/* Writes the processed form of s (n bytes) to out (PREFIX_LEN + n bytes). */
void backend_reverse_text(const uint8_t *s, size_t n, uint8_t *out)
{
    memcpy(out, PREFIX, PREFIX_LEN);
    out += PREFIX_LEN;
    if (utf8_valid(s, n)) {
        size_t w = n;
        for (size_t i = 0; i < n;) {
            size_t l = utf8_len(s + i, n - i);
            w -= l;
            for (size_t k = 0; k < l; k++) out[w + k] = ascii_upper(s[i + k]);
            i += l;
        }
    } else {
        for (size_t i = 0; i < n; i++) out[n - 1 - i] = ascii_upper(s[i]);
    }
}

static int reverse_create(const model_config *cfg, void **state, char *err, size_t err_len)
{
    (void)cfg;
    (void)err;
    (void)err_len;
    *state = NULL;
    return 0;
}

static int reverse_run(void *state, worker_batch *b, char *err, size_t err_len)
{
    (void)state;
    (void)err;
    (void)err_len;
    for (uint32_t r = 0; r < b->n_requests; r++) {
        if (b->requests[r].status != SHM_STATUS_OK) continue;
        uint64_t count;
        const uint8_t *in = b->n_outputs ? worker_input(b, r, 0, &count) : NULL;
        const shm_tensor *t = in ? &b->inputs[(size_t)r * b->n_inputs] : NULL;
        if (!in || t->dtype != INFERD_DTYPE_BYTES) {
            b->requests[r].status = SHM_STATUS_BAD_INPUT;
            continue;
        }
        /* First pass: validate and size. */
        uint64_t pos = 0, total = 0;
        int ok = 1;
        for (uint64_t e = 0; e < count && ok; e++) {
            const uint8_t *s;
            uint32_t len;
            if (worker_bytes_next(in, t->nbytes, &pos, &s, &len) || len > UINT32_MAX - PREFIX_LEN)
                ok = 0;
            else total += 4 + PREFIX_LEN + len;
        }
        if (!ok || pos != t->nbytes) {
            b->requests[r].status = SHM_STATUS_BAD_INPUT;
            continue;
        }
        uint8_t *out = worker_output_alloc(b, r, 0, INFERD_DTYPE_BYTES, t->ndim, t->dims, total);
        if (!out) continue; /* too small: the loop reports out_needed */
        pos = 0;
        for (uint64_t e = 0; e < count; e++) {
            const uint8_t *s;
            uint32_t len;
            worker_bytes_next(in, t->nbytes, &pos, &s, &len);
            uint32_t olen = (uint32_t)(PREFIX_LEN + len);
            memcpy(out, &olen, 4);
            backend_reverse_text(s, len, out + 4);
            out += 4 + olen;
        }
    }
    return BACKEND_DONE;
}

static void reverse_destroy(void *state)
{
    (void)state;
}

const backend_ops backend_reverse = {"reverse", reverse_create, reverse_run, NULL, reverse_destroy};
