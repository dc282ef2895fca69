/* Binary tensor extension framing: the JSON header / binary split of a request body and the
 * BYTES element walk (see kserve_binary.h). Every length comes from the client: checked. */
#include <stdio.h>
#include <string.h>

#include "kserve_binary.h"

int kserve_binary_split(const char *header, size_t body_len, size_t *json_len, char *err,
                        size_t err_len)
{
    *json_len = body_len;
    if (!header) return 0;
    const char *p = header;
    while (*p == ' ' || *p == '\t') p++;
    uint64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (v > (UINT64_MAX - 9) / 10) {
            snprintf(err, err_len, "header Inference-Header-Content-Length: too large");
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    while (*p == ' ' || *p == '\t') p++;
    if (!digits || *p) {
        snprintf(err, err_len,
                 "header Inference-Header-Content-Length: must be a non-negative integer");
        return -1;
    }
    if (v > body_len) {
        snprintf(err, err_len,
                 "header Inference-Header-Content-Length: %llu is beyond the body's %zu bytes",
                 (unsigned long long)v, body_len);
        return -1;
    }
    *json_len = (size_t)v;
    return 0;
}

int kserve_bytes_walk(const uint8_t *p, uint64_t len, int64_t *elements, char *err, size_t err_len)
{
    uint64_t pos = 0;
    int64_t n = 0;
    while (pos < len) {
        uint32_t l;
        if (len - pos < 4) {
            snprintf(err, err_len,
                     "BYTES element %lld: its 4-byte length is cut short (%llu bytes left)",
                     (long long)n, (unsigned long long)(len - pos));
            return -1;
        }
        memcpy(&l, p + pos, 4); /* little-endian hosts only (as the shm transport) */
        pos += 4;
        if (l > len - pos) {
            snprintf(err, err_len,
                     "BYTES element %lld: length %u runs past the end of its data "
                     "(%llu bytes left)",
                     (long long)n, l, (unsigned long long)(len - pos));
            return -1;
        }
        pos += l;
        n++;
    }
    *elements = n;
    return 0;
}
